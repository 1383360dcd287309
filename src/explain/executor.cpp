#include "lrp/explain/executor.hpp"

#include "lrp/core/error.hpp"

namespace lrp {

template <class T>
const Tensor<T>& Executor<T>::forward(const Tensor<T>& input) {
  values_.assign(model_.num_values(), Tensor<T>());
  values_[0] = input;
  const auto& nodes = model_.nodes();
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    const Node<T>& n = nodes[i];
    TensorRefs<T> in;
    for (std::size_t v : n.inputs) in.push_back(&values_[v]);
    try {
      n.layer->forward(in, values_[n.output]);
    } catch (const ShapeError& e) {
      throw ShapeError((model_.source.empty() ? std::string() : model_.source + ": ") + model_.node_label(i) + ": " + e.what());
    }
  }
  return output();
}

template <class T>
void Executor<T>::repeat_samples(std::size_t k) {
  if (k == 1) return;
  for (Tensor<T>& v : values_) {
    if (v.empty() && v.rank() == 0) continue;
    Shape s = v.shape();
    const std::size_t n = s[0], per = v.sample_size();
    Tensor<T> r({n * k, per});
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = 0; j < k; ++j) std::copy_n(v.data() + i * per, per, r.data() + (i * k + j) * per);
    s[0] = n * k;
    r.reshape(s);
    v = std::move(r);
  }
}

template <class T>
Tensor<T> Executor<T>::propagate(const Tensor<T>& seed, const std::vector<Rule>& rules,
                                 std::map<std::string, Tensor<T>>* layer_relevance) {
  const auto& nodes = model_.nodes();
  if (rules.size() != nodes.size()) throw ConfigError("internal: one rule per node expected");
  if (seed.shape() != output().shape())
    throw ShapeError("initial relevance has shape " + shape_str(seed.shape()) + ", the model output has " +
                     shape_str(output().shape()));
  std::vector<Tensor<T>> rel(model_.num_values());
  rel[model_.output_value()] = seed;
  for (std::size_t ii = nodes.size(); ii-- > 0;) {
    const Node<T>& n = nodes[ii];
    Tensor<T>& r_out = rel[n.output];
    if (r_out.empty()) continue;  // nothing reaches this node (not on a path to the output)
    if (layer_relevance) (*layer_relevance)[n.name.empty() ? std::to_string(ii) : n.name] = r_out;
    TensorRefs<T> in;
    for (std::size_t v : n.inputs) in.push_back(&values_[v]);
    RuleInput<T> ri{*n.layer, ii, in, values_[n.output], r_out, cache_};
    std::vector<Tensor<T>> r_in;
    try {
      r_in = apply_rule(rules[ii], ri);
    } catch (const ConfigError& e) {
      throw ConfigError(model_.node_label(ii) + ": " + e.what());
    }
    for (std::size_t k = 0; k < n.inputs.size(); ++k) {
      Tensor<T>& dst = rel[n.inputs[k]];
      if (dst.empty()) {
        dst = std::move(r_in[k]);
      } else {
        for (std::size_t i = 0; i < dst.size(); ++i) dst[i] += r_in[k][i];
      }
    }
    r_out = Tensor<T>();  // no longer needed
  }
  if (rel[0].empty()) return Tensor<T>(values_[0].shape());
  return std::move(rel[0]);
}

template class Executor<float>;
template class Executor<double>;

}  // namespace lrp
