// Relevance rules for pooling layers. Sum/average pools are parameter-free linear maps: the
// epsilon family becomes Zennit's Norm rule (or the toolbox's rule on the window sum), alpha-beta
// splits positive and negative inputs, flat and w^2 spread uniformly. Max pools route relevance
// to the maximum (toolbox: split among ties; Zennit: the gradient, i.e. the first maximum).
#include "rules/pool_rules.hpp"

#include <vector>

#include "lrp/core/error.hpp"

namespace lrp {
namespace {

template <class T>
struct PoolGeometry {
  std::size_t planes, h, w, oh, ow;
  Window2d k;
};

template <class T>
PoolGeometry<T> geometry(const Pool2d<T>& pool, const Tensor<T>& x, const Tensor<T>& y) {
  return {x.dim(0) * x.dim(1), x.dim(2), x.dim(3), y.dim(2), y.dim(3), pool.window_for(x.dim(2), x.dim(3))};
}

// out_i = sum over windows j containing i of (x_i or 1) * per_output_j
template <class T>
Tensor<T> spread(const PoolGeometry<T>& g, const Tensor<T>& x, const std::vector<T>& per_output, bool times_x) {
  Tensor<T> out(x.shape());
  for (std::size_t p = 0; p < g.planes; ++p)
    Pool2d<T>::for_each_pair(g.k, g.h, g.w, g.oh, g.ow, p, [&](std::size_t o, std::size_t i) {
      out[i] += (times_x ? x[i] : T(1)) * per_output[o];
    });
  return out;
}

// Window sums S_j and counts n_j of non-padding inputs.
template <class T>
void window_stats(const PoolGeometry<T>& g, const Tensor<T>& x, std::vector<T>& sum, std::vector<T>& pos,
                  std::vector<T>& count, std::size_t outputs) {
  sum.assign(outputs, T(0));
  pos.assign(outputs, T(0));
  count.assign(outputs, T(0));
  for (std::size_t p = 0; p < g.planes; ++p)
    Pool2d<T>::for_each_pair(g.k, g.h, g.w, g.oh, g.ow, p, [&](std::size_t o, std::size_t i) {
      sum[o] += x[i];
      if (x[i] > T(0)) pos[o] += x[i];
      count[o] += T(1);
    });
}

template <class T>
Tensor<T> sum_pool_relevance(const Rule& rule, const Pool2d<T>& pool, const RuleInput<T>& in) {
  const Tensor<T>& x = *in.inputs[0];
  const Tensor<T>& y = in.output;
  const Tensor<T>& r = in.relevance;
  const PoolGeometry<T> g = geometry(pool, x, y);
  std::vector<T> sum, pos, count;
  window_stats(g, x, sum, pos, count, y.size());
  std::vector<T> c(y.size());
  switch (rule.kind) {
    case RuleKind::Flat:
    case RuleKind::WSquare: {
      const T eps = static_cast<T>(rule.epsilon);
      for (std::size_t o = 0; o < y.size(); ++o) c[o] = eps == T(0) ? safe_div(r[o], count[o]) : r[o] / stabilize(count[o], eps);
      return spread(g, x, c, false);
    }
    case RuleKind::AlphaBeta:
    case RuleKind::ZPlus: {
      const T alpha = rule.kind == RuleKind::ZPlus ? T(1) : static_cast<T>(rule.alpha);
      const T beta = rule.kind == RuleKind::ZPlus ? T(0) : static_cast<T>(rule.beta);
      const T eps = static_cast<T>(rule.epsilon);
      std::vector<T> cp(y.size()), cn(y.size());
      for (std::size_t o = 0; o < y.size(); ++o) {
        const T neg = sum[o] - pos[o];
        cp[o] = alpha * r[o] / stabilize(pos[o], eps);
        cn[o] = beta * r[o] / stabilize(neg, eps);
      }
      // R_i = alpha x+_i R_j / stab(S+_j) - beta x-_i R_j / stab(S-_j)
      Tensor<T> out(x.shape());
      for (std::size_t p = 0; p < g.planes; ++p)
        Pool2d<T>::for_each_pair(g.k, g.h, g.w, g.oh, g.ow, p, [&](std::size_t o, std::size_t i) {
          if (x[i] > T(0)) out[i] += x[i] * cp[o];
          else if (x[i] < T(0)) out[i] -= x[i] * cn[o];
        });
      return out;
    }
    default:
      break;
  }
  // Epsilon family. Toolbox: R_i = x_i R_j / (S_j + eps sign(S_j)) on the window sum;
  // Zennit Norm: R_i = x_i (1/d_j) R_j / stab(y_j).
  if (rule.style == StabilizerStyle::Toolbox && (rule.kind == RuleKind::Epsilon)) {
    const T eps = static_cast<T>(rule.pool_epsilon);
    for (std::size_t o = 0; o < y.size(); ++o) c[o] = r[o] / stabilize(sum[o], eps);
  } else {
    const T eps = static_cast<T>(rule.kind == RuleKind::Epsilon || rule.kind == RuleKind::Norm ? rule.epsilon : 1e-6);
    for (std::size_t o = 0; o < y.size(); ++o) {
      const std::size_t rr = o % (g.oh * g.ow);
      const T d = static_cast<T>(pool.divisor_at(g.k, g.h, g.w, rr / g.ow, rr % g.ow));
      c[o] = r[o] / (d * stabilize(y[o], eps));
    }
  }
  return spread(g, x, c, true);
}

template <class T>
Tensor<T> max_pool_relevance(const Rule& rule, const Pool2d<T>& pool, const RuleInput<T>& in) {
  const Tensor<T>& x = *in.inputs[0];
  const Tensor<T>& y = in.output;
  const Tensor<T>& r = in.relevance;
  const PoolGeometry<T> g = geometry(pool, x, y);
  if (rule.kind == RuleKind::Flat || rule.kind == RuleKind::WSquare) {
    std::vector<T> sum, pos, count, c(y.size());
    window_stats(g, x, sum, pos, count, y.size());
    for (std::size_t o = 0; o < y.size(); ++o) c[o] = safe_div(r[o], count[o]);
    return spread(g, x, c, false);
  }
  if (rule.style == StabilizerStyle::Toolbox && rule.kind != RuleKind::Gradient) {
    // All window positions equal to the maximum share its relevance equally.
    std::vector<T> ties(y.size(), T(0));
    for (std::size_t p = 0; p < g.planes; ++p)
      Pool2d<T>::for_each_pair(g.k, g.h, g.w, g.oh, g.ow, p, [&](std::size_t o, std::size_t i) { ties[o] += x[i] == y[o]; });
    Tensor<T> out(x.shape());
    for (std::size_t p = 0; p < g.planes; ++p)
      Pool2d<T>::for_each_pair(g.k, g.h, g.w, g.oh, g.ow, p, [&](std::size_t o, std::size_t i) {
        if (x[i] == y[o]) out[i] += r[o] / ties[o];
      });
    return out;
  }
  std::vector<Tensor<T>> din;
  pool.backward(in.inputs, y, r, din);
  return std::move(din[0]);
}

}  // namespace

template <class T>
std::vector<Tensor<T>> pool_relevance(const Rule& rule, const Pool2d<T>& pool, const RuleInput<T>& in) {
  if (rule.kind == RuleKind::Pass)
    throw ConfigError("rule 'pass' cannot be applied to the " + pool.type_name() + " layer (it changes the shape)");
  if (pool.is_max()) return {max_pool_relevance(rule, pool, in)};
  if (rule.kind == RuleKind::Gradient || rule.kind == RuleKind::DeconvNet || rule.kind == RuleKind::GuidedBackprop) {
    std::vector<Tensor<T>> din;
    pool.backward(in.inputs, in.output, in.relevance, din);
    return din;
  }
  return {sum_pool_relevance(rule, pool, in)};
}

template std::vector<Tensor<float>> pool_relevance(const Rule&, const Pool2d<float>&, const RuleInput<float>&);
template std::vector<Tensor<double>> pool_relevance(const Rule&, const Pool2d<double>&, const RuleInput<double>&);

}  // namespace lrp
