#pragma once
// Applying a rule to one node during the backward sweep.
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "lrp/graph/layer.hpp"
#include "lrp/rules/rule.hpp"

namespace lrp {

// Parameters derived from a layer's weights for a rule (W+, W-, W^2, ones, W + gamma W+ ...),
// computed once per model and reused for every call, batch and target.
template <class T>
class ParamCache {
 public:
  // Returns the cached tensor for (node, key), computing it with make() the first time.
  template <class F>
  const Tensor<T>& get(std::size_t node, const std::string& key, F&& make) {
    auto it = cache_.find({node, key});
    if (it == cache_.end()) it = cache_.emplace(std::make_pair(node, key), make()).first;
    return it->second;
  }
  void clear() { cache_.clear(); }

 private:
  std::map<std::pair<std::size_t, std::string>, Tensor<T>> cache_;
};

template <class T>
struct RuleInput {
  const Layer<T>& layer;
  std::size_t node;          // index, for the cache
  TensorRefs<T> inputs;      // forward inputs [N, ...]
  const Tensor<T>& output;   // forward output [N, ...]
  const Tensor<T>& relevance;  // relevance (or gradient) at the output, shape of `output`
  ParamCache<T>& cache;
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
