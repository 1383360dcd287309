// Relevance rules for pooling layers. Sum/average pools are parameter-free linear maps: the
// epsilon family becomes Zennit's Norm rule (or the toolbox's rule on the window sum), alpha-beta
// splits positive and negative inputs, flat and w^2 spread uniformly. Max pools route relevance
// to the maximum (toolbox: split among ties; Zennit: the gradient, i.e. the first maximum).
//
// Every rule works plane by plane (one sample-channel at a time, planes spread over the OpenMP
// threads) and takes k relevance rows per sample (several targets) without copying the input.
// Windows that tile the plane get plain nested loops; overlapping, padded or dilated ones the
// kernels of layers/pool_plane.hpp, whose tap ranges are worked out once per call.
#include "rules/pool_rules.hpp"

#include <algorithm>
#include <vector>

#include "kernels/elementwise.hpp"
#include "layers/pool_plane.hpp"
#include "lrp/core/error.hpp"
#include "rules/tensor_ops.hpp"

namespace lrp {
namespace {

template <class T>
struct PoolPlanes {
  const Pool2d<T>& pool;
  const RuleInput<T>& in;
  std::size_t c, h, w, oh, ow, k, rel_planes;
  Window2d win;
  pool::Plane geo;
  std::vector<T> divisor, count;  // per output position (same for every plane)

  PoolPlanes(const Pool2d<T>& p, const RuleInput<T>& ri)
      : pool(p),
        in(ri),
        c(in.input_shape(0)[1]),
        h(in.input_shape(0)[2]),
        w(in.input_shape(0)[3]),
        oh(in.relevance.dim(2)),
        ow(in.relevance.dim(3)),
        k(in.repeat),
        rel_planes(in.relevance.dim(0) * c),
        win(pool.window_for(h, w)),
        geo(win, h, w, oh, ow) {
    count.resize(oh * ow);
    for (std::size_t o = 0; o < oh * ow; ++o) count[o] = static_cast<T>(geo.count(o));
    if (!pool.is_max()) {
      divisor.resize(oh * ow);
      for (std::size_t oy = 0; oy < oh; ++oy)
        for (std::size_t ox = 0; ox < ow; ++ox) divisor[oy * ow + ox] = static_cast<T>(pool.divisor_at(win, h, w, oy, ox));
    }
  }
  // Calls f(x plane, y plane, relevance plane, output plane, coefficient buffer) for every
  // relevance plane; the output tensor has the relevance's batch and the input's plane size.
  // writes_all: f writes every entry of its output plane (no zeroing first). A plane of x or y
  // is null where the rule did not ask for it (rule_needs).
  template <class F>
  Tensor<T> run(F&& f, bool writes_all = false) const {
    const Tensor<T>& x = *in.inputs[0];
    return run_on(x.empty() ? nullptr : x.data(), in.output.empty() ? nullptr : in.output.data(), f, writes_all);
  }
  // The same with other per-sample data in place of x and y (input-sized x, output-sized y).
  template <class F>
  Tensor<T> run_on(const T* x, const T* y, F&& f, bool writes_all = false) const {
    // Zeroed plane by plane on the worker threads (rules scatter or add into their plane).
    Tensor<T> out = Tensor<T>::uninitialized(in.relevance_shape(0));
    const T* r = in.relevance.data();
    T* o = out.data();
    const long long planes = static_cast<long long>(rel_planes);
    const std::size_t hw = h * w, ohw = oh * ow;
#pragma omp parallel if (rel_planes * hw >= 32768)
    {
      std::vector<T> buf(ohw);
#pragma omp for schedule(static)
      for (long long pp = 0; pp < planes; ++pp) {
        const std::size_t p = static_cast<std::size_t>(pp);
        const std::size_t data_plane = (p / c / k) * c + p % c;
        if (!writes_all) std::fill(o + p * hw, o + (p + 1) * hw, T(0));
        f(x ? x + data_plane * hw : nullptr, y ? y + data_plane * ohw : nullptr, r + p * ohw, o + p * hw, buf.data());
      }
    }
    return out;
  }
  template <class F>
  void pairs(F&& f) const {
    if (!disjoint()) {
      geo.for_each_pair(f);
      return;
    }
    // Windows tile the plane without overlap or padding: plain nested loops.
    const std::size_t kh = win.kh, kw = win.kw;
    for (std::size_t oy = 0; oy < oh; ++oy)
      for (std::size_t ox = 0; ox < ow; ++ox) {
        const std::size_t o = oy * ow + ox, base = oy * kh * w + ox * kw;
        for (std::size_t i = 0; i < kh; ++i)
          for (std::size_t j = 0; j < kw; ++j) f(o, base + i * w + j);
      }
  }
  bool disjoint() const { return geo.disjoint(); }
  // out[i] += (x ? x[i] : 1) * c[o] over every (o, i) pair.
  void spread(const T* x, const T* coef, T* out) const {
    if (!disjoint()) {
      pool::spread(geo, x, coef, out);
      return;
    }
    const std::size_t kh = win.kh, kw = win.kw;
    for (std::size_t oy = 0; oy < oh; ++oy)
      for (std::size_t i = 0; i < kh; ++i) {
        const std::size_t row = (oy * kh + i) * w;
        kernels::window_row_spread(x ? x + row : nullptr, coef + oy * ow, out + row, ow, kw);
      }
  }
};

template <class T>
Tensor<T> sum_pool_relevance(const Rule& rule, const PoolPlanes<T>& g) {
  const std::size_t ohw = g.oh * g.ow;
  switch (rule.kind) {
    case RuleKind::Flat:
    case RuleKind::WSquare: {
      const T eps = static_cast<T>(rule.epsilon);
      return g.run([&](const T*, const T*, const T* r, T* out, T* c) {
        for (std::size_t o = 0; o < ohw; ++o) c[o] = eps == T(0) ? safe_div(r[o], g.count[o]) : r[o] / stabilize(g.count[o], eps);
        g.spread(nullptr, c, out);
      });
    }
    case RuleKind::AlphaBeta:
    case RuleKind::ZPlus: {
      const T alpha = rule.kind == RuleKind::ZPlus ? T(1) : static_cast<T>(rule.alpha);
      const T beta = rule.kind == RuleKind::ZPlus ? T(0) : static_cast<T>(rule.beta);
      const T eps = static_cast<T>(rule.epsilon);
      // R_i = alpha x+_i R_j / stab(S+_j) - beta x-_i R_j / stab(S-_j)
      return g.run([&](const T* x, const T*, const T* r, T* out, T*) {
        std::vector<T> pos(ohw, T(0)), neg(ohw, T(0));
        g.pairs([&](std::size_t o, std::size_t i) {
          if (x[i] > T(0)) pos[o] += x[i];
          else neg[o] += x[i];
        });
        for (std::size_t o = 0; o < ohw; ++o) {
          pos[o] = alpha * r[o] / stabilize(pos[o], eps);
          neg[o] = beta * r[o] / stabilize(neg[o], eps);
        }
        g.pairs([&](std::size_t o, std::size_t i) {
          if (x[i] > T(0)) out[i] += x[i] * pos[o];
          else if (x[i] < T(0)) out[i] -= x[i] * neg[o];
        });
      });
    }
    default:
      break;
  }
  // Epsilon family. Toolbox: R_i = x_i R_j / (S_j + eps sign(S_j)) on the window sum;
  // Zennit Norm: R_i = x_i (1/d_j) R_j / stab(y_j).
  if (rule.style == StabilizerStyle::Toolbox && rule.kind == RuleKind::Epsilon) {
    const T eps = static_cast<T>(rule.pool_epsilon);
    // The window sum is the forward output times its divisor (no second pass over x).
    return g.run([&](const T* x, const T* y, const T* r, T* out, T* c) {
      for (std::size_t o = 0; o < ohw; ++o) c[o] = r[o] / stabilize(y[o] * g.divisor[o], eps);
      g.spread(x, c, out);
    });
  }
  const T eps = static_cast<T>(rule.kind == RuleKind::Epsilon || rule.kind == RuleKind::Norm ? rule.epsilon : 1e-6);
  return g.run([&](const T* x, const T* y, const T* r, T* out, T* c) {
    for (std::size_t o = 0; o < ohw; ++o) c[o] = r[o] / (g.divisor[o] * stabilize(y[o], eps));
    g.spread(x, c, out);
  });
}

template <class T>
Tensor<T> max_pool_relevance(const Rule& rule, const PoolPlanes<T>& g) {
  const std::size_t ohw = g.oh * g.ow;
  if (rule.kind == RuleKind::Flat || rule.kind == RuleKind::WSquare) {
    return g.run([&](const T*, const T*, const T* r, T* out, T* c) {
      for (std::size_t o = 0; o < ohw; ++o) c[o] = safe_div(r[o], g.count[o]);
      g.spread(nullptr, c, out);
    });
  }
  const bool share_ties = rule.style == StabilizerStyle::Toolbox && rule.kind != RuleKind::Gradient;
  if (g.in.saved) {  // the winner masks the forward saved (Pool2d::forward_saving)
    const T* masks = g.in.saved->data();
    if (g.geo.disjoint_2x2() && !share_ties)
      return g.run_on(nullptr, masks, [&](const T*, const T* m, const T* r, T* out, T*) { pool::route_2x2_by_masks(g.geo, m, r, out); },
                      true);
    return g.run_on(nullptr, masks, [&](const T*, const T* m, const T* r, T* out, T*) { pool::route_by_masks(g.geo, m, r, out, share_ties); });
  }
  if (g.in.inputs[0]->empty() || g.in.output.empty())
    throw ConfigError("internal: the " + g.pool.type_name() + " rule has neither the layer's input and output nor its winner masks");
  if (share_ties) {
    // All window positions equal to the maximum share its relevance equally.
    return g.run([&](const T* x, const T* y, const T* r, T* out, T* ties) {
      std::fill(ties, ties + ohw, T(0));
      g.pairs([&](std::size_t o, std::size_t i) { ties[o] += x[i] == y[o]; });
      g.pairs([&](std::size_t o, std::size_t i) {
        if (x[i] == y[o]) out[i] += r[o] / ties[o];
      });
    });
  }
  // The gradient: each output's relevance to the first maximum of its window (PyTorch's choice).
  if (g.geo.disjoint_2x2())
    return g.run([&](const T* x, const T* y, const T* r, T* out, T*) { pool::first_max_route_2x2(g.geo, x, y, r, out); },
                 true);
  if (g.disjoint()) {
    const std::size_t kh = g.win.kh, kw = g.win.kw, w = g.w;
    // The first maximum is found scanning the window backwards with a select instead of an
    // early exit: where the maximum sits is random, and mispredicted exits cost 4x the time.
    return g.run([&](const T* x, const T* y, const T* r, T* out, T*) {
      for (std::size_t oy = 0; oy < g.oh; ++oy)
        for (std::size_t ox = 0; ox < g.ow; ++ox) {
          const std::size_t o = oy * g.ow + ox, base = oy * kh * w + ox * kw;
          const T m = y[o];
          std::size_t pick = kh * w;  // none (y is not in the window: a NaN)
          for (std::size_t i = kh; i-- > 0;)
            for (std::size_t j = kw; j-- > 0;) pick = x[base + i * w + j] == m ? i * w + j : pick;
          if (pick < kh * w) out[base + pick] = r[o];
        }
    });
  }
  return g.run([&](const T* x, const T* y, const T* r, T* out, T*) { pool::first_max_add(g.geo, x, y, r, out); });
}

}  // namespace

template <class T>
RuleNeeds pool_rule_needs(const Rule& rule, const Pool2d<T>& pool) {
  RuleNeeds n;
  n.repeat = rule.kind != RuleKind::Pass;
  if (!pool.is_max() || rule.kind == RuleKind::Pass) return n;
  // Flat and w^2 spread over the window's geometry; the others route by the winners alone.
  const bool geometry_only = rule.kind == RuleKind::Flat || rule.kind == RuleKind::WSquare;
  if (geometry_only || pool.winner_masks()) {
    n.inputs = n.output = false;
    n.saved = !geometry_only;
  }
  return n;
}
template RuleNeeds pool_rule_needs(const Rule&, const Pool2d<float>&);
template RuleNeeds pool_rule_needs(const Rule&, const Pool2d<double>&);

template <class T>
std::vector<Tensor<T>> pool_relevance(const Rule& rule, const Pool2d<T>& pool, const RuleInput<T>& in) {
  if (rule.kind == RuleKind::Pass)
    throw ConfigError("rule 'pass' cannot be applied to the " + pool.type_name() + " layer (it changes the shape)");
  const PoolPlanes<T> g(pool, in);
  if (pool.is_max()) return ops::only(max_pool_relevance(rule, g));
  if (is_gradient_kind(rule.kind)) {
    // dy / divisor to every input of the window.
    return ops::only(g.run([&](const T*, const T*, const T* r, T* out, T* c) {
      for (std::size_t o = 0; o < g.oh * g.ow; ++o) c[o] = r[o] / g.divisor[o];
      g.spread(nullptr, c, out);
    }));
  }
  return ops::only(sum_pool_relevance(rule, g));
}

template std::vector<Tensor<float>> pool_relevance(const Rule&, const Pool2d<float>&, const RuleInput<float>&);
template std::vector<Tensor<double>> pool_relevance(const Rule&, const Pool2d<double>&, const RuleInput<double>&);

}  // namespace lrp
