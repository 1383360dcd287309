#pragma once
// Applying a rule to one node during the backward sweep.
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "lrp/graph/layer.hpp"
#include "lrp/rules/rule.hpp"

namespace lrp {

// Parameters derived from a layer's weights for a rule (W+, W-, W^2, ones, W + gamma W+ ...)
// and input-independent terms (the z of the flat rule, the bound terms of zbox), computed once
// per model and reused for every call, batch and target while the cache lives (an Explainer
// keeps one for its model). Tensors handed out stay at the same address until clear() or
// destruction, which also drops the fast kernels' reordered copies of them. get() may be called
// from several threads at once (a bidirectional recurrent layer's two directions).
template <class T>
class ParamCache {
 public:
  ParamCache() = default;
  ParamCache(const ParamCache&) = delete;
  ParamCache& operator=(const ParamCache&) = delete;
  ~ParamCache();
  // Returns the cached tensor for (node, key), computing it with make() the first time.
  template <class F>
  const Tensor<T>& get(std::size_t node, const std::string& key, F&& make) {
    const std::lock_guard<std::recursive_mutex> lock(mutex_);  // make() may ask for another entry
    auto it = cache_.find({node, key});
    if (it == cache_.end()) it = cache_.emplace(std::make_pair(node, key), make()).first;
    return it->second;
  }
  void clear();
  std::size_t size() const { return cache_.size(); }
  std::size_t bytes() const;

 private:
  std::map<std::pair<std::size_t, std::string>, Tensor<T>> cache_;
  std::recursive_mutex mutex_;
};

// What the backward sweep keeps for a node: its forward inputs and output are needed unless
// the rule says otherwise (then the executor may release them early), and whether the rule
// handles several relevance rows per sample itself (RuleInput::repeat > 1).
struct RuleNeeds {
  bool inputs = true;
  bool output = true;
  bool repeat = false;
  bool saved = false;  // what Layer::forward_saving saves (RuleInput::saved)
};
template <class T>
RuleNeeds rule_needs(const Rule& rule, const Layer<T>& layer);

template <class T>
struct RuleInput {
  const Layer<T>& layer;
  std::size_t node;            // index, for the cache
  TensorRefs<T> inputs;        // forward inputs [N, ...] (empty tensors where rule_needs().inputs is false)
  const Tensor<T>& output;     // forward output [N, ...] (empty where rule_needs().output is false)
  const Tensor<T>& relevance;  // relevance (or gradient) at the output, [N * repeat, ...]
  ParamCache<T>& cache;
  // Relevance rows per sample: row n * repeat + j belongs to sample n (several targets).
  std::size_t repeat = 1;
  // [N, ...] shapes of the inputs; empty: taken from `inputs`.
  std::vector<Shape> input_shapes = {};
  // Per input: 1 when known to be >= 0 everywhere (e.g. a ReLU output), 0 when unknown.
  std::vector<signed char> non_negative = {};
  // When set (== &relevance), the rule may overwrite or steal the relevance tensor.
  Tensor<T>* relevance_scratch = nullptr;
  // What the layer's forward_saving saved for these N samples, when the rule asked for it and
  // the executor has it (not for repeated rows); otherwise the rule recomputes it.
  const Tensor<T>* saved = nullptr;

  const Shape& input_shape(std::size_t k) const {
    return k < input_shapes.size() && !input_shapes[k].empty() ? input_shapes[k] : inputs[k]->shape();
  }
  // Input k with the batch dimension multiplied by `repeat` (the shape its relevance has).
  Shape relevance_shape(std::size_t k) const {
    Shape s = input_shape(k);
    if (!s.empty()) s[0] *= repeat;
    return s;
  }
  bool input_non_negative(std::size_t k) const;
};

// Relevance at each input of the node. Throws ConfigError when the rule makes no sense for the
// layer (naming both).
template <class T>
std::vector<Tensor<T>> apply_rule(const Rule& rule, const RuleInput<T>& in);

// Stabilised denominator: z + eps * sign(z) with sign(0) = +1.
template <class T>
inline T stabilize(T z, T eps) {
  return z + (z >= T(0) ? eps : -eps);
}
// a / b, and 0 where b == 0 (toolbox rules with no stabiliser; 0/0 means "no contribution").
template <class T>
inline T safe_div(T a, T b) {
  return b == T(0) ? T(0) : a / b;
}

}  // namespace lrp
