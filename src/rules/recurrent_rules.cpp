// LRP through an LSTM, as Arras et al. (2017) propagate it, with the layer's rule on the
// candidate's affine map. Backwards through each direction's time steps:
//   R(c_t) = R(h_t) + R(c_t) from step t+1      (h_t = o * tanh(c_t): the gate o takes nothing)
//   R(f * c_{t-1}) = f c_{t-1} / stab(c_t) R(c_t),  R(g) = i g / stab(c_t) R(c_t)   (in proportion)
//   R(x_t), R(h_{t-1}) = the rule on [x_t, h_{t-1}] -> W_c x_t + R_c h_{t-1} + b_c with R(g)
// (g = tanh(pre_g) passes its relevance on, as activations do under LRP). The gates i, f and
// o are held constant; relevance reaching the initial states is dropped, as a bias's share.
#include "rules/recurrent_rules.hpp"

#include <algorithm>

#include "lrp/core/error.hpp"
#include "rules/affine_rules.hpp"
#include "rules/tensor_ops.hpp"

namespace lrp {
namespace {

// ParamCache keys of each direction's candidate map (W+, W^2, ... of [W_c | R_c]): node
// indices far above any model's, so they never meet another node's.
std::size_t candidate_cache_node(std::size_t node, std::size_t direction) {
  return (std::size_t(1) << 40) + 2 * node + direction;
}

template <class T>
T share(T part, T whole, T eps) {
  return eps == T(0) ? safe_div(part, whole) : part / stabilize(whole, eps);
}

}  // namespace

RuleNeeds lstm_rule_needs(const Rule& rule) {
  if (is_gradient_kind(rule.kind)) return {true, false, false};
  return {true, false, true};  // the gates are recomputed from the input; several rows per sample handled here
}

template <class T>
std::vector<Tensor<T>> lstm_relevance(const Rule& rule, const Lstm<T>& layer, const RuleInput<T>& in) {
  if (rule.kind == RuleKind::Rescale)
    throw ConfigError("DeepLIFT's rescale rule is not defined for an LSTM layer (its gates multiply computed values)");
  if (is_gradient_kind(rule.kind)) {  // deconvnet and guided backprop modify ReLUs only: an LSTM has none
    std::vector<Tensor<T>> din;
    layer.backward(in.inputs, in.output, in.relevance, din);
    return din;
  }
  if (rule.kind == RuleKind::Pass) throw ConfigError("rule '" + rule.text + "' cannot be applied to an LSTM layer (it changes the shape)");
  const Tensor<T>& x = *in.inputs.at(0);
  const typename Lstm<T>::Trace tr = layer.trace(x);
  const std::size_t n_samples = x.dim(0), steps = x.dim(1), seqs = x.dim(2), d_in = x.dim(3);
  const std::size_t h = layer.hidden_size(), dirs = layer.directions(), k = in.repeat, rows = n_samples * k * seqs;
  if (in.relevance.shape() != Shape{n_samples * k, steps, dirs, seqs, h})
    throw ShapeError("LSTM " + layer.describe() + ": relevance " + shape_str(in.relevance.shape()) + " for input " + shape_str(x.shape()));
  const T eps = static_cast<T>(rule.epsilon);
  Tensor<T> rx({n_samples * k, steps, seqs, d_in});
  std::vector<T> rh(rows * h), rc(rows * h);
  Tensor<T> xh({rows, d_in + h}), z({rows, h}), rg({rows, h});
  for (std::size_t d = 0; d < dirs; ++d) {
    std::fill(rh.begin(), rh.end(), T(0));
    std::fill(rc.begin(), rc.end(), T(0));
    for (std::size_t s = steps; s-- > 0;) {
      const std::size_t t = layer.reversed(d) ? steps - 1 - s : s;
      const std::size_t t_before = layer.reversed(d) ? t + 1 : t - 1;  // only read when s > 0
      for (std::size_t r = 0; r < n_samples * k; ++r)
        for (std::size_t b = 0; b < seqs; ++b) {
          const std::size_t q = r * seqs + b, n = r / k, at = (((n * dirs + d) * steps + t) * seqs + b) * h;
          const std::size_t before = (((n * dirs + d) * steps + t_before) * seqs + b) * h;
          const T* c_before = s == 0 ? layer.initial_cell(d, b) : tr.c.data() + before;
          const T* h_before = s == 0 ? layer.initial_hidden(d, b) : tr.h.data() + before;
          const T* ry = in.relevance.data() + (((r * steps + t) * dirs + d) * seqs + b) * h;
          for (std::size_t j = 0; j < h; ++j) {
            const T rcell = ry[j] + rh[q * h + j] + rc[q * h + j];
            const T c = tr.c[at + j];
            rc[q * h + j] = share(tr.f[at + j] * c_before[j], c, eps) * rcell;
            rg[q * h + j] = share(tr.i[at + j] * tr.g[at + j], c, eps) * rcell;
            z[q * h + j] = tr.pre_g[at + j];
          }
          std::copy_n(x.data() + ((n * steps + t) * seqs + b) * d_in, d_in, xh.data() + q * (d_in + h));
          std::copy_n(h_before, h, xh.data() + q * (d_in + h) + d_in);
        }
      const RuleInput<T> step{layer.candidate(d), candidate_cache_node(in.node, d), {&xh}, z, rg, in.cache};
      const Tensor<T> rxh = affine_relevance(rule, layer.candidate(d), step).at(0);
      for (std::size_t r = 0; r < n_samples * k; ++r)
        for (std::size_t b = 0; b < seqs; ++b) {
          const std::size_t q = r * seqs + b;
          T* dst = rx.data() + ((r * steps + t) * seqs + b) * d_in;
          const T* src = rxh.data() + q * (d_in + h);
          for (std::size_t e = 0; e < d_in; ++e) dst[e] += src[e];
          std::copy_n(src + d_in, h, rh.data() + q * h);
        }
    }
  }
  return ops::only(std::move(rx));
}

template std::vector<Tensor<float>> lstm_relevance(const Rule&, const Lstm<float>&, const RuleInput<float>&);
template std::vector<Tensor<double>> lstm_relevance(const Rule&, const Lstm<double>&, const RuleInput<double>&);

}  // namespace lrp
