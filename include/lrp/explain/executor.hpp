#pragma once
// Runs a model forward, keeping every activation, and sweeps relevance (or gradients) back
// through the graph with one rule per node. Fan-out values sum the relevance of their
// consumers; multi-input nodes hand each input its share.
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "lrp/graph/model.hpp"
#include "lrp/rules/apply.hpp"

namespace lrp {

template <class T>
class Executor {
 public:
  explicit Executor(const Model<T>& model) : model_(model) {}

  // Forward pass on an engine-layout batch [N, ...]; returns the model output.
  const Tensor<T>& forward(const Tensor<T>& input);
  const Tensor<T>& output() const { return values_.at(model_.output_value()); }
  const Tensor<T>& value(std::size_t v) const { return values_.at(v); }
  std::size_t batch() const { return values_.empty() ? 0 : values_[0].dim(0); }

  // Repeats every stored activation k times along the batch (sample n becomes rows n*k..n*k+k-1)
  // so that k relevance seeds per sample run through one batched backward pass.
  void repeat_samples(std::size_t k);

  // Backward sweep from `seed` (shape of the output) with rules[i] for node i. When
  // `layer_relevance` is given, it receives the relevance arriving at each node's output,
  // keyed by node name. Returns the relevance at the model input.
  Tensor<T> propagate(const Tensor<T>& seed, const std::vector<Rule>& rules,
                      std::map<std::string, Tensor<T>>* layer_relevance = nullptr);

  ParamCache<T>& cache() { return cache_; }

 private:
  const Model<T>& model_;
  std::vector<Tensor<T>> values_;
  ParamCache<T> cache_;
};

}  // namespace lrp
