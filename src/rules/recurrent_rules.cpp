// LRP through recurrent layers, backwards through each direction's time steps, with the layer's
// rule on the affine maps inside it. The gates are held constant and take no relevance; sums
// split their relevance in proportion to the summands, R(u) = u / stab(u + v) R(u + v); tanh
// passes relevance on, as activations do under LRP. Relevance reaching the initial states is
// dropped, as a bias's share.
//
// LSTM (Arras et al. 2017):
//   R(c_t) = R(h_t) + R(c_t) from step t+1      (h_t = o * tanh(c_t): the gate o takes nothing)
//   R(f * c_{t-1}), R(i * g): c_t's split; R(g) reaches x_t and h_{t-1} through the candidate's
//   map [x_t, h_{t-1}] -> W_c x_t + R_c h_{t-1} + b_c.
// GRU:
//   R(h_t) = what Y and step t+1 give it; split between (1 - z) * n and z * h_{t-1} (to h_{t-1});
//   linear_before_reset = 1: R(n) splits between a = W_h x_t + Wb_h and r * b (to b = R_h h_{t-1}
//   + Rb_h); = 0: between a and b = R_h (r * h_{t-1}) + Rb_h, whose input r * h_{t-1} passes its
//   relevance to h_{t-1}. a's and b's reach x_t and h_{t-1} through their own maps.
// RNN: h_t = f(W x_t + R h_{t-1} + b) passes R(h_t) to its pre-activation, and the map
//   [x_t, h_{t-1}] -> W x_t + R h_{t-1} + b gives x_t and h_{t-1} their shares.
#include "rules/recurrent_rules.hpp"

#include <algorithm>
#include <optional>

#include "layers/recurrent_math.hpp"
#include "lrp/core/error.hpp"
#include "rules/affine_rules.hpp"
#include "rules/tensor_ops.hpp"

namespace lrp {
namespace {

// ParamCache keys of the affine maps inside a recurrent node (W+, W^2, ... of each): node
// indices far above any model's, so they never meet another node's.
std::size_t map_cache_node(std::size_t node, std::size_t direction, std::size_t map) {
  return (std::size_t(1) << 40) + 4 * node + 2 * direction + map;
}

template <class T>
T share(T part, T whole, T eps) {
  return eps == T(0) ? safe_div(part, whole) : part / stabilize(whole, eps);
}

// The rule on one affine map for one time step: `input` [rows, in], its output z and the
// relevance r [rows, out].
template <class T>
Tensor<T> affine_step(const Rule& rule, const Linear<T>& map, std::size_t cache_node, const Tensor<T>& input, const Tensor<T>& z,
                      const Tensor<T>& r, ParamCache<T>& cache) {
  const RuleInput<T> step{map, cache_node, {&input}, z, r, cache};
  return affine_relevance(rule, map, step).at(0);
}

// Rules other than the LRP ones: gradient-type rules take the layer's gradient (deconvnet and
// guided backprop modify ReLUs only, which it has none of); DeepLIFT's rescale rule and pass are
// refused. nullopt: an LRP rule, for the caller.
template <class T>
std::optional<std::vector<Tensor<T>>> other_rule(const Rule& rule, const RecurrentLayer<T>& layer, const RuleInput<T>& in) {
  const std::string what = "an " + layer.type_name() + " layer";
  if (rule.kind == RuleKind::Rescale) throw ConfigError("DeepLIFT's rescale rule is not defined for " + what + " (its gates multiply computed values)");
  if (is_gradient_kind(rule.kind)) {
    std::vector<Tensor<T>> din;
    layer.backward_saved(*in.inputs.at(0), in.saved, in.relevance, din);
    return din;
  }
  if (rule.kind == RuleKind::Pass) throw ConfigError("rule '" + rule.text + "' cannot be applied to " + what + " (it changes the shape)");
  return std::nullopt;
}

// The sizes of one sweep, x [N, T, B, D] and relevance [N * k, T, dirs, B, H] (checked):
// rows = N * k * B sequences go through each time step together.
struct Sweep {
  std::size_t n_samples, steps, seqs, d_in, h, dirs, k, rows;
};

template <class T>
Sweep sweep_of(const RecurrentLayer<T>& layer, const RuleInput<T>& in) {
  const Tensor<T>& x = *in.inputs.at(0);
  const Sweep w{x.dim(0), x.dim(1), x.dim(2), x.dim(3), layer.hidden_size(), layer.directions(), in.repeat, x.dim(0) * in.repeat * x.dim(2)};
  if (in.relevance.shape() != Shape{w.n_samples * w.k, w.steps, w.dirs, w.seqs, w.h})
    throw ShapeError(layer.type_name() + " " + layer.describe() + ": relevance " + shape_str(in.relevance.shape()) + " for input " +
                     shape_str(x.shape()));
  return w;
}

// Row q of [x_t, h_{t-1}] (the input of an LSTM's candidate map, an RNN's map), from sample n's
// sequence b at step t.
template <class T>
void gather_step_input(const Tensor<T>& x, const T* h_before, const Sweep& w, std::size_t n, std::size_t t, std::size_t b, std::size_t q,
                       Tensor<T>& xh) {
  std::copy_n(x.data() + ((n * w.steps + t) * w.seqs + b) * w.d_in, w.d_in, xh.data() + q * (w.d_in + w.h));
  std::copy_n(h_before, w.h, xh.data() + q * (w.d_in + w.h) + w.d_in);
}

// The relevance of [x_t, h_{t-1}] per row of chain c: x_t's added to rx at step t, h_{t-1}'s kept
// in rh for the step before.
template <class T>
void scatter_step_input(const Tensor<T>& rxh, const Sweep& w, const recurrent::Chain& c, std::size_t t, Tensor<T>& rx, std::vector<T>& rh) {
  for (std::size_t q = c.begin; q < c.end; ++q) {
    const std::size_t l = q - c.begin;
    T* dst = rx.data() + (((q / w.seqs) * w.steps + t) * w.seqs + q % w.seqs) * w.d_in;
    const T* src = rxh.data() + l * (w.d_in + w.h);
    for (std::size_t e = 0; e < w.d_in; ++e) dst[e] += src[e];
    std::copy_n(src + w.d_in, w.h, rh.data() + l * w.h);
  }
}

// One row of a time step in the backward sweep: relevance row r (of sample n) for sequence b.
template <class T>
struct StepRow {
  std::size_t q, n, b;  // row in the chain's step buffers (r * B + b - the chain's first), sample, sequence
  std::size_t at;       // offset of this step in the layer's trace ([N, dirs, T, B, H])
  std::size_t before;   // offset of the step before, in the direction's order (when !first)
  bool first;           // the direction's first step: the state before it is the initial one
  const T* ry;          // the relevance reaching h_t from Y
};

// Backwards through the steps of chain c (its direction, its rows q = r * B + b of the N * k * B
// relevance rows): row(t, StepRow) for each row of a step, then step(t) once its rows are done.
template <class T, class Row, class Step>
void sweep_chain(const RecurrentLayer<T>& layer, const Sweep& w, const Tensor<T>& relevance, const recurrent::Chain& c, Row row, Step step) {
  const std::size_t d = c.d;
  for (std::size_t s = w.steps; s-- > 0;) {
    const std::size_t t = layer.reversed(d) ? w.steps - 1 - s : s;
    const std::size_t t_before = layer.reversed(d) ? t + 1 : t - 1;  // only used when s > 0
    for (std::size_t q = c.begin; q < c.end; ++q) {
      const std::size_t r = q / w.seqs, b = q % w.seqs, n = r / w.k;
      const std::size_t at = (((n * w.dirs + d) * w.steps + t) * w.seqs + b) * w.h;
      const std::size_t before = (((n * w.dirs + d) * w.steps + t_before) * w.seqs + b) * w.h;
      row(t, StepRow<T>{q - c.begin, n, b, at, before, s == 0, relevance.data() + (((r * w.steps + t) * w.dirs + d) * w.seqs + b) * w.h});
    }
    step(t);
  }
}

// x's relevance from every direction: sweep(c, rx) runs chain c backwards (recurrent::Chain: a
// direction over some of the rows), adding x_t's share into rx (zeros [N * k, T, B, D], one per
// direction) step by step. Chains run two at once where recurrent::chains_in_parallel says so
// (steps of `step_macs` multiply-adds); the chains of one direction write different rows of its
// rx, and every x_t gets one term per direction, so the sum is the same either way.
template <class T, class SweepOne>
Tensor<T> sweep_directions(const Sweep& w, std::size_t step_macs, SweepOne sweep) {
  std::vector<Tensor<T>> rx(w.dirs);
  for (Tensor<T>& r : rx) r = Tensor<T>({w.n_samples * w.k, w.steps, w.seqs, w.d_in});
  recurrent::for_each_chain(w.dirs, w.rows, step_macs, true, [&](const recurrent::Chain& c) { sweep(c, rx[c.d]); });
  for (std::size_t d = 1; d < w.dirs; ++d) ops::add_into(rx[0], rx[d]);
  return std::move(rx[0]);
}

}  // namespace

RuleNeeds recurrent_rule_needs(const Rule& rule) {
  // The forward's saved gate inputs spare the sweep every matrix product of the forward.
  if (is_gradient_kind(rule.kind)) return {true, false, false, true};
  return {true, false, true, true};  // several rows per sample handled here
}

template <class T>
std::vector<Tensor<T>> lstm_relevance(const Rule& rule, const Lstm<T>& layer, const RuleInput<T>& in) {
  if (auto r = other_rule(rule, layer, in)) return std::move(*r);
  const Tensor<T>& x = *in.inputs.at(0);
  const Sweep w = sweep_of(layer, in);
  const typename Lstm<T>::Trace tr = layer.trace(x, in.saved);
  const T eps = static_cast<T>(rule.epsilon);
  const std::size_t h = w.h;
  return ops::only(sweep_directions<T>(w, w.rows * h * (w.d_in + h), [&](const recurrent::Chain& c, Tensor<T>& rx) {
    const std::size_t d = c.d, m = c.rows();
    std::vector<T> rh(m * h), rc(m * h);
    Tensor<T> xh({m, w.d_in + h}), z({m, h}), rg({m, h});
    sweep_chain(
        layer, w, in.relevance, c,
        [&](std::size_t t, const StepRow<T>& p) {
          const T* c_before = p.first ? layer.initial_cell(d, p.b) : tr.c.data() + p.before;
          const T* h_before = p.first ? layer.initial_hidden(d, p.b) : tr.h.data() + p.before;
          for (std::size_t j = 0; j < h; ++j) {
            const std::size_t at = p.at + j, q = p.q * h + j;
            const T rcell = p.ry[j] + rh[q] + rc[q];
            rc[q] = share(tr.f[at] * c_before[j], tr.c[at], eps) * rcell;
            rg[q] = share(tr.i[at] * tr.g[at], tr.c[at], eps) * rcell;
            z[q] = tr.pre_g[at];
          }
          gather_step_input(x, h_before, w, p.n, t, p.b, p.q, xh);
        },
        [&](std::size_t t) {
          scatter_step_input(affine_step(rule, layer.candidate(d), map_cache_node(in.node, d, 0), xh, z, rg, in.cache), w, c, t, rx, rh);
        });
  }));
}

template <class T>
std::vector<Tensor<T>> gru_relevance(const Rule& rule, const Gru<T>& layer, const RuleInput<T>& in) {
  if (auto r = other_rule(rule, layer, in)) return std::move(*r);
  const Tensor<T>& x = *in.inputs.at(0);
  const Sweep w = sweep_of(layer, in);
  const typename Gru<T>::Trace tr = layer.trace(x, in.saved);
  const T eps = static_cast<T>(rule.epsilon);
  const bool lbr = layer.linear_before_reset();
  const std::size_t h = w.h;
  return ops::only(sweep_directions<T>(w, w.rows * h * (w.d_in + h), [&](const recurrent::Chain& c, Tensor<T>& rx) {
    const std::size_t d = c.d, m = c.rows();
    std::vector<T> rh(m * h), r_direct(m * h);
    Tensor<T> xt({m, w.d_in}), ht({m, h}), za({m, h}), zb({m, h}), ra({m, h}), rb({m, h});
    sweep_chain(
        layer, w, in.relevance, c,
        [&](std::size_t t, const StepRow<T>& p) {
          const T* h_before = p.first ? layer.initial_hidden(d, p.b) : tr.h.data() + p.before;
          for (std::size_t j = 0; j < h; ++j) {
            const std::size_t at = p.at + j, q = p.q * h + j;
            const T rh_t = p.ry[j] + rh[q], zg = tr.z[at];
            const T rn = share((T(1) - zg) * tr.n[at], tr.h[at], eps) * rh_t;
            r_direct[q] = share(zg * h_before[j], tr.h[at], eps) * rh_t;
            const T a = tr.a[at], gated = lbr ? tr.r[at] * tr.b[at] : tr.b[at];
            ra[q] = share(a, a + gated, eps) * rn;
            rb[q] = share(gated, a + gated, eps) * rn;
            za[q] = a;
            zb[q] = tr.b[at];
            ht[q] = lbr ? h_before[j] : tr.r[at] * h_before[j];  // the recurrent map's input
          }
          std::copy_n(x.data() + ((p.n * w.steps + t) * w.seqs + p.b) * w.d_in, w.d_in, xt.data() + p.q * w.d_in);
        },
        [&](std::size_t t) {
          const Tensor<T> rxt = affine_step(rule, layer.input_map(d), map_cache_node(in.node, d, 0), xt, za, ra, in.cache);
          const Tensor<T> rht = affine_step(rule, layer.recurrent_map(d), map_cache_node(in.node, d, 1), ht, zb, rb, in.cache);
          for (std::size_t q = c.begin; q < c.end; ++q) {
            const std::size_t l = q - c.begin;
            T* dst = rx.data() + (((q / w.seqs) * w.steps + t) * w.seqs + q % w.seqs) * w.d_in;
            for (std::size_t e = 0; e < w.d_in; ++e) dst[e] += rxt[l * w.d_in + e];
            for (std::size_t j = 0; j < h; ++j) rh[l * h + j] = r_direct[l * h + j] + rht[l * h + j];
          }
        });
  }));
}

template <class T>
std::vector<Tensor<T>> rnn_relevance(const Rule& rule, const Rnn<T>& layer, const RuleInput<T>& in) {
  if (auto r = other_rule(rule, layer, in)) return std::move(*r);
  const Tensor<T>& x = *in.inputs.at(0);
  const Sweep w = sweep_of(layer, in);
  const typename Rnn<T>::Trace tr = layer.trace(x, in.saved);
  const std::size_t h = w.h;
  return ops::only(sweep_directions<T>(w, w.rows * h * (w.d_in + h), [&](const recurrent::Chain& c, Tensor<T>& rx) {
    const std::size_t d = c.d, m = c.rows();
    std::vector<T> rh(m * h);
    Tensor<T> xh({m, w.d_in + h}), z({m, h}), rpre({m, h});
    sweep_chain(
        layer, w, in.relevance, c,
        [&](std::size_t t, const StepRow<T>& p) {
          for (std::size_t j = 0; j < h; ++j) {
            rpre[p.q * h + j] = p.ry[j] + rh[p.q * h + j];  // the activation passes h_t's relevance to its input
            z[p.q * h + j] = tr.pre[p.at + j];
          }
          gather_step_input(x, p.first ? layer.initial_hidden(d, p.b) : tr.h.data() + p.before, w, p.n, t, p.b, p.q, xh);
        },
        [&](std::size_t t) {
          scatter_step_input(affine_step(rule, layer.affine_map(d), map_cache_node(in.node, d, 0), xh, z, rpre, in.cache), w, c, t, rx, rh);
        });
  }));
}

template std::vector<Tensor<float>> lstm_relevance(const Rule&, const Lstm<float>&, const RuleInput<float>&);
template std::vector<Tensor<double>> lstm_relevance(const Rule&, const Lstm<double>&, const RuleInput<double>&);
template std::vector<Tensor<float>> gru_relevance(const Rule&, const Gru<float>&, const RuleInput<float>&);
template std::vector<Tensor<double>> gru_relevance(const Rule&, const Gru<double>&, const RuleInput<double>&);
template std::vector<Tensor<float>> rnn_relevance(const Rule&, const Rnn<float>&, const RuleInput<float>&);
template std::vector<Tensor<double>> rnn_relevance(const Rule&, const Rnn<double>&, const RuleInput<double>&);

}  // namespace lrp
