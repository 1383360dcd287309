// Dispatch of a rule to the layer kind it is applied to. Layers that only move data (Flatten,
// Reshape, Concat, Pad) route relevance like their gradient whatever the rule; elementwise
// layers pass it through for LRP rules.
#include "lrp/rules/apply.hpp"

#include "lrp/core/error.hpp"
#include "lrp/layers/activation.hpp"
#include "lrp/layers/batch_norm.hpp"
#include "rules/affine_rules.hpp"
#include "rules/pool_rules.hpp"
#include "rules/tensor_ops.hpp"

namespace lrp {
namespace {

template <class T>
std::vector<Tensor<T>> gradient(const RuleInput<T>& in) {
  std::vector<Tensor<T>> din;
  in.layer.backward(in.inputs, in.output, in.relevance, din);
  return din;
}

bool is_lrp(RuleKind k) {
  return k != RuleKind::Gradient && k != RuleKind::DeconvNet && k != RuleKind::GuidedBackprop;
}

template <class T>
std::vector<Tensor<T>> activation_relevance(const Rule& rule, const Activation<T>& act, const RuleInput<T>& in) {
  const Tensor<T>& r = in.relevance;
  if (rule.kind == RuleKind::DeconvNet && act.is_relu()) return {ops::positive(r)};
  if (rule.kind == RuleKind::GuidedBackprop && act.is_relu()) {
    std::vector<Tensor<T>> din = gradient(in);
    for (std::size_t i = 0; i < r.size(); ++i)
      if (!(r[i] > T(0))) din[0][i] = T(0);
    return din;
  }
  if (is_lrp(rule.kind)) return {r};
  return gradient(in);
}

// Epsilon/z on a per-channel affine map: R_in = scale * x * R / stab(y).
template <class T>
std::vector<Tensor<T>> batch_norm_relevance(const Rule& rule, const BatchNorm<T>& bn, const RuleInput<T>& in) {
  if (rule.kind == RuleKind::Epsilon || rule.kind == RuleKind::Norm) {
    const Tensor<T>& x = *in.inputs[0];
    const std::size_t c = bn.scale().size(), plane = x.sample_size() / c;
    Tensor<T> out(x.shape());
    const T eps = static_cast<T>(rule.epsilon);
    for (std::size_t i = 0; i < x.size(); ++i)
      out[i] = bn.scale()[(i / plane) % c] * x[i] * in.relevance[i] / stabilize(in.output[i], eps);
    return {std::move(out)};
  }
  if (is_lrp(rule.kind)) return {in.relevance};
  return gradient(in);
}

// Sums (residual connections): relevance split in proportion to the summands (Zennit's Norm
// rule on its Sum module); the gradient copies it to every input.
template <class T>
std::vector<Tensor<T>> add_relevance(const Rule& rule, const RuleInput<T>& in) {
  if (!is_lrp(rule.kind) || rule.kind == RuleKind::Pass) return gradient(in);
  const T eps = static_cast<T>(rule.kind == RuleKind::Epsilon || rule.kind == RuleKind::Norm ? rule.epsilon : 1e-6);
  const Tensor<T>& y = in.output;
  Tensor<T> g(y.shape());
  for (std::size_t i = 0; i < y.size(); ++i) g[i] = in.relevance[i] / stabilize(y[i], eps);
  std::vector<Tensor<T>> out;
  for (const Tensor<T>* x : in.inputs) {
    Tensor<T> r = g;
    ops::mul_into(r, *x);
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace

template <class T>
std::vector<Tensor<T>> apply_rule(const Rule& rule, const RuleInput<T>& in) {
  const Layer<T>& layer = in.layer;
  switch (layer.kind()) {
    case LayerKind::Linear:
    case LayerKind::Conv2d:
      if (rule.kind == RuleKind::Pass) break;
      return affine_relevance(rule, static_cast<const AffineLayer<T>&>(layer), in);
    case LayerKind::Pool2d:
      return pool_relevance(rule, static_cast<const Pool2d<T>&>(layer), in);
    case LayerKind::Activation:
      return activation_relevance(rule, static_cast<const Activation<T>&>(layer), in);
    case LayerKind::SoftMax:
      if (is_lrp(rule.kind)) return {in.relevance};
      return gradient(in);
    case LayerKind::BatchNorm:
      return batch_norm_relevance(rule, static_cast<const BatchNorm<T>&>(layer), in);
    case LayerKind::Add:
      return add_relevance(rule, in);
    case LayerKind::Flatten:
    case LayerKind::Reshape:
    case LayerKind::Concat:
    case LayerKind::Pad:
      return gradient(in);
  }
  throw ConfigError("rule '" + rule.text + "' cannot be applied to a " + layer.type_name() + " layer");
}

template std::vector<Tensor<float>> apply_rule(const Rule&, const RuleInput<float>&);
template std::vector<Tensor<double>> apply_rule(const Rule&, const RuleInput<double>&);

}  // namespace lrp
