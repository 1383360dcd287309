// LRP rules for affine layers (Linear, Conv2d), written with the layer's two primitives
// z = W'x + b' and W'^T g for substituted parameters W'. Formulas: docs/RULES.md.
//
// Speed (docs/PERFORMANCE.md): derived parameters and input-independent terms live in the
// ParamCache; the stored forward output y = Wx + b is reused wherever a rule's z can be written
// with it (epsilon: z = y; gamma: Wx = y - b; zbox: Wx = y - b); the x- terms are skipped when
// the input is known to be non-negative (a ReLU output); sign masks, stabilised divisions and
// coefficients are fused into one pass that writes into the relevance tensor itself when the
// executor lets the rule consume it; k relevance rows per sample (several targets) share one
// set of forward-type convolutions.
#include "rules/affine_rules.hpp"

#include <atomic>
#include <utility>
#include <string>

#include "kernels/conv.hpp"
#include "kernels/elementwise.hpp"
#include "lrp/core/error.hpp"
#include "lrp/layers/conv2d.hpp"
#include "lrp/layers/linear.hpp"
#include "rules/tensor_ops.hpp"

namespace lrp {
namespace {

template <class T>
inline T divide(T r, T z, T eps) {
  return eps == T(0) ? safe_div(r, z) : r / stabilize(z, eps);
}

template <class T>
struct Affine {
  const AffineLayer<T>& layer;
  const RuleInput<T>& in;
  std::size_t k = in.repeat;
  // Taken before a fused pass may consume the relevance tensor.
  std::size_t rows = in.relevance.dim(0);
  std::size_t per = in.relevance.sample_size();

  const Tensor<T>& x() const { return *in.inputs[0]; }
  const Tensor<T>& y() const { return in.output; }
  const Tensor<T>& r() const { return in.relevance; }
  std::size_t per_out() const { return per; }
  // Output channels and positions per channel (Linear: positions = 1).
  std::size_t channels() const { return layer.bias().size(); }
  std::size_t plane() const { return per / channels(); }

  // A map of the layer's weights (W+, W-, W^2, W + g W+, ...). Convolutions on the fast path
  // derive it inside their own cached weight copies; other paths get the tensor from the cache.
  struct Mapped {
    WeightMap map;
    T param;
    std::string key;  // of the materialised tensor in the ParamCache
  };
  static Mapped mapped(WeightMap m, double gamma = 0.0) {
    switch (m) {
      case WeightMap::Identity: return {m, T(0), ""};
      case WeightMap::Positive: return {m, T(0), "+"};
      case WeightMap::Negative: return {m, T(0), "-"};
      case WeightMap::Square: return {m, T(0), "^2"};
      case WeightMap::GammaPositive: return {m, static_cast<T>(gamma), "g+" + std::to_string(gamma)};
      case WeightMap::GammaNegative: return {m, static_cast<T>(gamma), "g-" + std::to_string(gamma)};
    }
    return {WeightMap::Identity, T(0), ""};
  }
  // Cached materialised parameters.
  const Tensor<T>& weight(const Mapped& w) const {
    if (w.map == WeightMap::Identity) return layer.weight();
    return in.cache.get(in.node, "W" + w.key, [&] { return ops::map(layer.weight(), [&](T v) { return map_weight(w.map, w.param, v); }); });
  }
  const Tensor<T>& bias(const Mapped& w) const {
    if (w.map == WeightMap::Identity) return layer.bias();
    return in.cache.get(in.node, "b" + w.key, [&] { return ops::map(layer.bias(), [&](T v) { return map_weight(w.map, w.param, v); }); });
  }
  const Tensor<T>& ones() const {
    return in.cache.get(in.node, "W1", [&] { return Tensor<T>(layer.weight().shape(), T(1)); });
  }

  Tensor<T> forward(const Tensor<T>& x_mod, const Tensor<T>& w, const Tensor<T>* b) const {
    Tensor<T> z;
    layer.apply(x_mod, w, b, z);
    return z;
  }
  // The rule's own passes go through the layer's mapped entry points, Identity included: there
  // the fast kernels apply rule_precision() (lrp/core/kernels.hpp).
  Tensor<T> forward(const Tensor<T>& x_mod, const Mapped& w, const Tensor<T>* b) const {
    Tensor<T> z;
    layer.apply_mapped(x_mod, w.map, w.param, [&]() -> const Tensor<T>& { return weight(w); }, b, z);
    return z;
  }
  Tensor<T> transposed(const Tensor<T>& g, const Mapped& w) const {
    Tensor<T> dx;
    layer.apply_transposed_mapped(g, w.map, w.param, [&]() -> const Tensor<T>& { return weight(w); }, in.relevance_shape(0), dx);
    return dx;
  }
  // W1^T g and W2^T g for one g (a rule's pair of transposed maps on one ratio): one pass where
  // the layer has a kernel for the pair, else two.
  std::pair<Tensor<T>, Tensor<T>> transposed_pair(const Tensor<T>& g, const Mapped& w1, const Mapped& w2) const {
    std::pair<Tensor<T>, Tensor<T>> d;
    if (layer.apply_transposed_pair(g, [&]() -> const Tensor<T>& { return weight(w1); },
                                    [&]() -> const Tensor<T>& { return weight(w2); }, in.relevance_shape(0), d.first, d.second))
      return d;
    return {transposed(g, w1), transposed(g, w2)};
  }
  // W^T g for g of the relevance's shape; the result has the input's shape times k rows.
  Tensor<T> transposed(const Tensor<T>& g, const Tensor<T>& w) const {
    Tensor<T> dx;
    layer.apply_transposed(g, w, in.relevance_shape(0), dx);
    return dx;
  }
  // An input-independent z for one sample, [1, out...], cached per input shape.
  template <class F>
  const Tensor<T>& constant(const std::string& key, F&& make) const {
    const Shape& xs = in.input_shape(0);
    return in.cache.get(in.node, key + "@" + shape_str(Shape(xs.begin() + 1, xs.end())), std::forward<F>(make));
  }
  // A [1, ...] tensor of the input's per-sample shape filled by f(channel).
  template <class F>
  Tensor<T> sample_like_input(F&& f) const {
    Shape s = in.input_shape(0);
    s[0] = 1;
    Tensor<T> t(s);
    const std::size_t c = s.size() > 1 ? s[1] : 1, p = t.size() / c;
    for (std::size_t i = 0; i < t.size(); ++i) t[i] = f(i / p);
    return t;
  }

  // The tensor the fused ratio writes into: the relevance itself when the rule may consume it.
  Tensor<T> ratio_target(bool consume) const {
    if (consume && in.relevance_scratch) return std::move(*in.relevance_scratch);
    return Tensor<T>::uninitialized(in.relevance.shape());  // the ratio writes every element
  }
  // g[r, j] = coef * R[r, j] / stab(z[r / k, j]), z with N rows, or 1 row (shared by all).
  // With `minus`, z = z - *minus (the same shape), formed in the same pass.
  Tensor<T> ratio(const Tensor<T>& z, T eps, T coef, bool consume, const Tensor<T>* minus = nullptr) const {
    const T* rp = in.relevance.data();
    const std::size_t zdiv = z.dim(0) == 1 ? rows : k;
    Tensor<T> g = ratio_target(consume);
    T* gp = g.data();
    const T* zp = z.data();
    const T* cp = minus ? minus->data() : nullptr;
    ops::for_chunks(rows, per, [&](std::size_t row, std::size_t b, std::size_t e) {
      const std::size_t zoff = (row / zdiv) * per + b;
      if (cp) kernels::ratio_of_difference(rp + row * per + b, zp + zoff, cp + zoff, gp + row * per + b, e - b, eps, coef);
      else kernels::ratio(rp + row * per + b, zp + zoff, gp + row * per + b, e - b, eps, coef);
    });
    return g;
  }
  // A dense layer applied to every row of a channels-last map ([N, H, W, C], ConvNeXt): its
  // output channels are the innermost axis, not planes.
  // The input's shape, not x(): rules that do not keep the input (flat, w2) have no x.
  bool rows_of_last_axis() const {
    return layer.kind() == LayerKind::Linear && static_cast<const Linear<T>&>(layer).rows_of_last_axis() && in.input_shape(0).size() > 2;
  }
  // t += sign * b, b the layer's bias over t's channels (planes; a channels-last dense layer's
  // innermost axis). For rules that leave the bias out of z (/nobias): y - b, z+ + b.
  void add_bias(Tensor<T>& t, T sign) const {
    const Tensor<T>& b = layer.bias();
    const std::size_t c = b.size();
    const bool last = rows_of_last_axis();
    const std::size_t run = last ? c : t.sample_size() / c;
    ops::for_chunks(t.size() / run, run, [&](std::size_t q, std::size_t s, std::size_t e) {
      T* p = t.data() + q * run;
      if (last) {
        for (std::size_t j = s; j < e; ++j) p[j] += sign * b[j];
        return;
      }
      const T v = sign * b[q % c];
      for (std::size_t j = s; j < e; ++j) p[j] += v;
    });
  }
  // The bias of a rule's modified parameters, or none where the rule leaves it out.
  const Tensor<T>* rule_bias(const Mapped& w, bool zero_bias) const { return zero_bias ? nullptr : &bias(w); }

  // f(row, sample, channel, begin, end) over the relevance's rows, channels and positions.
  template <class F>
  void for_planes(F&& f) const {
    if (rows_of_last_axis())
      throw ConfigError("this rule needs the output channels as planes; on a dense layer over a channels-last map use epsilon, z, "
                        "zplus, alphabeta, gamma, flat or w2");
    const std::size_t c = channels(), p = plane();
    ops::for_chunks(rows * c, p, [&](std::size_t rc, std::size_t b, std::size_t e) { f(rc / c, rc / c / k, rc % c, b, e); });
  }
};

// Whether a rule may take a z from the difference of the stored forward output and another z
// (z- = y - z+), or combine rule passes in differences that cancel (zbox). Only when the
// layer's rule passes are as exact as its forward: bfloat16 passes (RulePrecision::BFloat16)
// leave errors of ~2^-8 of z+ in it, which the difference turns into large relative errors of
// a small z- (MobileNet, alpha2-beta1: 0.25 of max|R| against 2e-3 with z- from its own
// convolution).
template <class T>
bool may_derive_z(const Affine<T>& a) {
  return a.layer.mapped_passes_exact(a.x().shape());
}

// x- and x+ of a signed input in one pass.
template <class T>
void split_signs(const Tensor<T>& x, Tensor<T>& xp, Tensor<T>& xn) {
  xp = Tensor<T>::uninitialized(x.shape());
  xn = Tensor<T>::uninitialized(x.shape());
  const T* a = x.data();
  T* p = xp.data();
  T* n = xn.data();
  ops::for_range(x.size(), [&](std::size_t b, std::size_t e) {
    for (std::size_t i = b; i < e; ++i) {
      p[i] = a[i] > T(0) ? a[i] : T(0);
      n[i] = a[i] < T(0) ? a[i] : T(0);
    }
  });
}

// out[r] = a[r] * u[r / k] + b[r] * v[r / k]  (written into a)
template <class T>
void combine2(Tensor<T>& a, const Tensor<T>& u, const Tensor<T>& b, const Tensor<T>& v, std::size_t k) {
  const std::size_t per = u.sample_size();
  T* ap = a.data();
  const T *bp = b.data(), *up = u.data(), *vp = v.data();
  ops::for_chunks(a.size() / per, per, [&](std::size_t r, std::size_t s, std::size_t e) {
    kernels::combine2(ap + r * per + s, up + (r / k) * per + s, bp + r * per + s, vp + (r / k) * per + s, e - s);
  });
}

// ZBox bounds as a per-channel function: a scalar, or one value per channel (dim 1).
template <class T>
std::vector<T> channel_bounds(const std::vector<double>& v, const Shape& xs, const std::string& what) {
  const std::size_t c = xs.size() < 2 ? 1 : xs[1];
  if (v.size() == 1) return std::vector<T>(c, static_cast<T>(v[0]));
  if (xs.size() < 2 || v.size() != c)
    throw ConfigError("zbox " + what + " bounds have " + std::to_string(v.size()) + " values, the input has " +
                      std::to_string(xs.size() < 2 ? 0 : c) + " channels");
  std::vector<T> out(c);
  for (std::size_t i = 0; i < c; ++i) out[i] = static_cast<T>(v[i]);
  return out;
}

template <class T>
Tensor<T> epsilon(const Affine<T>& a, T eps, bool zero_bias) {
  Tensor<T> g;
  if (zero_bias) {
    Tensor<T> wx = a.y();  // y - b = Wx
    a.add_bias(wx, T(-1));
    g = a.ratio(wx, eps, T(1), true);
  } else {
    g = a.ratio(a.y(), eps, T(1), true);
  }
  Tensor<T> r = a.transposed(g, Affine<T>::mapped(WeightMap::Identity));
  ops::mul_bcast(r, a.x(), a.k);
  return r;
}

// alpha * [x+ W+^T(R/p) + x- W-^T(R/p)] - beta * [x+ W-^T(R/q) + x- W+^T(R/q)], with
// p = W+x+ + W-x- + b+, q = W-x+ + W+x- + b- (without b+ and b- under /nobias). Negative inputs
// are skipped when there are none.
template <class T>
Tensor<T> alpha_beta(const Affine<T>& a, T alpha, T beta, T eps, bool zero_bias) {
  using A = Affine<T>;
  const Tensor<T>& x = a.x();
  const typename A::Mapped wp = A::mapped(WeightMap::Positive), wn = A::mapped(WeightMap::Negative);
  const bool derive = may_derive_z(a);
  if (a.in.input_non_negative(0)) {
    Tensor<T> r, zp;
    if (alpha != T(0)) {
      zp = a.forward(x, wp, a.rule_bias(wp, zero_bias));
      r = a.transposed(a.ratio(zp, eps, alpha, beta == T(0)), wp);
      if (zero_bias && beta != T(0) && derive) a.add_bias(zp, T(1));  // y - (z+ + b) = W-x
    }
    if (beta != T(0)) {
      // x >= 0: y = z+ + z-, so z- = y - z+ (formed inside the ratio) without a convolution with
      // W- (its float32 error stays at the level of the direct computation, docs/PERFORMANCE.md).
      const Tensor<T> g = !zp.empty() && derive ? a.ratio(a.y(), eps, -beta, true, &zp)
                                                : a.ratio(a.forward(x, wn, a.rule_bias(wn, zero_bias)), eps, -beta, true);
      zp = Tensor<T>();  // not needed any more
      Tensor<T> rn = a.transposed(g, wn);
      if (r.empty()) {
        r = std::move(rn);
      } else {
        ops::add_mul_bcast(r, rn, x, a.k);
        return r;
      }
    }
    if (r.empty()) return Tensor<T>(a.in.relevance_shape(0));
    ops::mul_bcast(r, x, a.k);
    return r;
  }
  Tensor<T> xp, xn;
  split_signs(x, xp, xn);
  Tensor<T> out;
  // p + q = W x + b = y (b = b+ + b-): the second part's z comes from the first without two
  // more convolutions, as in the non-negative case above.
  Tensor<T> first_z;
  const auto part = [&](const typename A::Mapped& w_on_pos, const typename A::Mapped& w_on_neg, T coef, bool last) {
    Tensor<T> g;
    if (first_z.empty()) {
      Tensor<T> z = a.forward(xp, w_on_pos, a.rule_bias(w_on_pos, zero_bias));
      ops::add_into(z, a.forward(xn, w_on_neg, nullptr));
      g = a.ratio(z, eps, coef, last);
      if (!last && derive) {
        if (zero_bias) a.add_bias(z, T(1));  // so that y - z is the other part without its bias
        first_z = std::move(z);
      }
    } else {
      g = a.ratio(a.y(), eps, coef, last, &first_z);  // z = y - first z
      first_z = Tensor<T>();
    }
    auto [r, rn] = a.transposed_pair(g, w_on_pos, w_on_neg);
    combine2(r, xp, rn, xn, a.k);
    if (out.empty()) out = std::move(r);
    else ops::add_into(out, r);
  };
  if (alpha != T(0)) part(wp, wn, alpha, beta == T(0));
  if (beta != T(0)) part(wn, wp, -beta, true);
  if (out.empty()) return Tensor<T>(a.in.relevance_shape(0));
  return out;
}

// Generalised gamma rule (Zennit): outputs with y > 0 take p = (W + gW+) x+ + (W + gW-) x- +
// b + g b+, outputs with y < 0 take q = (W + gW-) x+ + (W + gW+) x- + b + g b-. /nobias leaves
// the bias terms out of p and q; y (with the bias) still picks which one, as in Zennit.
template <class T>
Tensor<T> gamma_rule(const Affine<T>& a, double gamma, T eps, bool zero_bias) {
  using A = Affine<T>;
  const Tensor<T>& x = a.x();
  const typename A::Mapped wa = A::mapped(WeightMap::GammaPositive, gamma);  // W + gamma W+
  const typename A::Mapped wb = A::mapped(WeightMap::GammaNegative, gamma);  // W + gamma W-
  const T g = static_cast<T>(gamma);
  // Without the bias, q = Wx + g W-x may come near 0 where y < 0 (a negative bias), where its
  // ratio magnifies any error of q: its forward-type passes then run float32, not bfloat16
  // (Zennit's own float32 maps are 1e-4 from its float64 ones there; with bfloat16 passes 0.2).
  const bool exact_z = zero_bias && !may_derive_z(a);
  const auto z_pass = [&](const Tensor<T>& xin, const typename A::Mapped& w, const Tensor<T>* b) {
    return exact_z ? a.forward(xin, a.weight(w), b) : a.forward(xin, w, b);
  };
  const std::size_t per = a.per_out(), pl = a.plane();
  const Tensor<T>& y = a.y();
  const Tensor<T>& rel = a.r();
  // (A dense layer over a channels-last map takes the general path below: the fused pass
  // here works on channel planes.)
  if (a.in.input_non_negative(0) && !a.rows_of_last_axis()) {
    // x >= 0: W x = y - b, so with c = W+ x: p = y + g (c + b+), q = y + g (y - b - c + b-).
    // One convolution instead of two, and no x- terms.
    const Tensor<T> c = z_pass(x, A::mapped(WeightMap::Positive), nullptr);
    const Tensor<T>& b = a.layer.bias();
    Tensor<T> g3(rel.shape());
    const T* rp = rel.data();
    Tensor<T> g1 = a.ratio_target(true);
    T *g1p = g1.data(), *g3p = g3.data();
    std::atomic<bool> any_g3{false};
    a.for_planes([&](std::size_t row, std::size_t n, std::size_t ch, std::size_t s, std::size_t e) {
      const std::size_t ro = row * per + ch * pl + s, so = n * per + ch * pl + s;
      if (kernels::gamma_ratio(rp + ro, y.data() + so, c.data() + so, g1p + ro, g3p + ro, e - s, g, eps, b[ch], !zero_bias))
        any_g3.store(true, std::memory_order_relaxed);
    });
    Tensor<T> r = a.transposed(g1, wa);
    // Under a ReLU no relevance reaches the outputs with y < 0 (the rules above multiply by the
    // ReLU's zero output there), so g3 is all zero and its transposed pass, a quarter to a third
    // of the rule's work, adds exactly nothing.
    if (any_g3.load()) ops::add_into(r, a.transposed(g3, wb));
    ops::mul_bcast(r, x, a.k);
    return r;
  }
  Tensor<T> xp, xn;
  split_signs(x, xp, xn);
  Tensor<T> p = z_pass(xp, wa, a.rule_bias(wa, zero_bias));
  Tensor<T> q = z_pass(xp, wb, a.rule_bias(wb, zero_bias));
  ops::add_into(p, z_pass(xn, wb, nullptr));
  ops::add_into(q, z_pass(xn, wa, nullptr));
  Tensor<T> g1(rel.shape()), g3(rel.shape());
  std::atomic<bool> any_g3{false};
  ops::for_chunks(a.rows, per, [&](std::size_t row, std::size_t s, std::size_t e) {
    const std::size_t ro = row * per, so = (row / a.k) * per;
    bool any = false;
    for (std::size_t j = s; j < e; ++j) {
      const T yv = y[so + j];
      g1[ro + j] = yv > T(0) ? divide(rel[ro + j], p[so + j], eps) : T(0);
      g3[ro + j] = yv < T(0) ? divide(rel[ro + j], q[so + j], eps) : T(0);
      any |= g3[ro + j] != T(0);
    }
    if (any) any_g3.store(true, std::memory_order_relaxed);
  });
  auto [rp, rn] = a.transposed_pair(g1, wa, wb);
  if (any_g3.load()) {  // all zero under a ReLU, as above
    auto [rp3, rn3] = a.transposed_pair(g3, wb, wa);
    ops::add_into(rp, rp3);
    ops::add_into(rn, rn3);
  }
  combine2(rp, xp, rn, xn, a.k);
  return rp;
}

// z = Wx - W+ lo - W- hi (the bias cancels); Wx = y - b from the forward, the bound terms are
// input-independent and cached. R = x (W^T g) - lo (W+^T g) - hi (W-^T g)
//                                 = (x - hi) A + (hi - lo) B with A = W^T g, B = W+^T g.
// Both differences cancel where x is near a bound, so where the layer's mapped passes would run
// bfloat16 the bound terms and B take the float32 passes on materialised W+, W- instead.
template <class T>
Tensor<T> zbox(const Affine<T>& a, const Rule& rule, T eps) {
  const Tensor<T>& x = a.x();
  const Shape& xs = a.in.input_shape(0);
  const std::vector<T> lo = channel_bounds<T>(rule.low, xs, "low");
  const std::vector<T> hi = channel_bounds<T>(rule.high, xs, "high");
  using A = Affine<T>;
  const Tensor<T>& w = a.layer.weight();
  const typename A::Mapped wp = A::mapped(WeightMap::Positive), wn = A::mapped(WeightMap::Negative);
  std::string key = "zbox";
  for (T v : lo) key += "," + std::to_string(v);
  key += ";";
  for (T v : hi) key += "," + std::to_string(v);
  const bool exact = may_derive_z(a);
  const auto bound_term = [&](const std::vector<T>& bound, const typename A::Mapped& m) {
    const Tensor<T> t = a.sample_like_input([&](std::size_t c) { return bound[c]; });
    // (one sample: its own shape decides, the batch may have run another algorithm)
    return exact && a.layer.mapped_passes_exact(t.shape()) ? a.forward(t, m, nullptr) : a.forward(t, a.weight(m), nullptr);
  };
  const Tensor<T>& zlh = a.constant(key, [&] {
    Tensor<T> z = bound_term(lo, wp);
    ops::add_into(z, bound_term(hi, wn));
    return z;
  });
  const Tensor<T>& y = a.y();
  const Tensor<T>& b = a.layer.bias();
  const std::size_t per = a.per_out(), pl = a.plane();
  const T* rp = a.r().data();
  Tensor<T> g = a.ratio_target(true);
  T* gp = g.data();
  a.for_planes([&](std::size_t row, std::size_t n, std::size_t ch, std::size_t s, std::size_t e) {
    const std::size_t ro = row * per + ch * pl + s, so = n * per + ch * pl + s, co = ch * pl + s;
    kernels::ratio_of_difference(rp + ro, y.data() + so, zlh.data() + co, gp + ro, e - s, eps, T(1), b[ch]);
  });
  Tensor<T> r, bq;
  if (!a.layer.apply_transposed_pair(g, [&]() -> const Tensor<T>& { return w; }, [&]() -> const Tensor<T>& { return a.weight(wp); },
                                     a.in.relevance_shape(0), r, bq)) {
    r = a.transposed(g, w);
    bq = exact ? a.transposed(g, wp) : a.transposed(g, a.weight(wp));
  }
  const std::size_t rows = r.dim(0), per_in = r.sample_size();
  const std::size_t c = xs.size() > 1 ? xs[1] : 1, pin = per_in / c;
  T* out = r.data();
  ops::for_chunks(rows * c, pin, [&](std::size_t rc, std::size_t s, std::size_t e) {
    const std::size_t row = rc / c, ch = rc % c;
    const std::size_t ro = row * per_in + ch * pin, so = (row / a.k) * per_in + ch * pin;
    kernels::zbox_combine(out + ro + s, x.data() + so + s, bq.data() + ro + s, e - s, lo[ch], hi[ch]);
  });
  return r;
}

// Flat on a dense layer in closed form: with all-ones weights z_j = (number of inputs) for every
// output j, and W1^T g gives every input the same value, the row's sum of g. O(in + out) per row
// instead of a product with a materialised ones matrix (on a 784x1296 layer at batch 1 that
// product was half of the whole LRP call). Sums run in double, in the order j = 0, 1, ...
template <class T>
Tensor<T> flat_dense(const Affine<T>& a, T eps) {
  const std::size_t outs = a.layer.weight().dim(0), ins = a.layer.weight().dim(1);
  const Tensor<T>& z = a.constant("z1", [&] { return Tensor<T>({1, outs}, static_cast<T>(ins)); });
  const Tensor<T> g = a.ratio(z, eps, T(1), true);
  Tensor<T> r = Tensor<T>::uninitialized(a.in.relevance_shape(0));
  const std::size_t rows = g.dim(0);
  const T* gp = g.data();
  T* rp = r.data();
  for (std::size_t row = 0; row < rows; ++row) {
    double sum = 0;
    for (std::size_t j = 0; j < outs; ++j) sum += static_cast<double>(gp[row * outs + j]);
    std::fill(rp + row * ins, rp + (row + 1) * ins, static_cast<T>(sum));
  }
  return r;
}

// Flat on a convolution in closed form: with all-ones weights, W1^T g gives every input channel
// of a group the same map, the transposed convolution of the group's channel sum of g with a
// single ones kernel. One single-channel transposed convolution per group instead of one over
// all out x in channels (a network's first layer, 64 -> 3 channels at 224x224: 2.2 -> 0.8 ms).
// `z` is W1 1, as in weight_only.
template <class T>
Tensor<T> flat_conv(const Affine<T>& a, const Conv2d<T>& conv, const Tensor<T>& z, T eps) {
  const Tensor<T> g = a.ratio(z, eps, T(1), true);  // [rows, oc, oh, ow]
  const Shape xs = a.in.relevance_shape(0);         // [rows, c, h, w]
  const std::size_t rows = g.dim(0), groups = conv.groups(), per_out = g.dim(1) / groups, per_in = xs[1] / groups;
  const std::size_t plane = g.dim(2) * g.dim(3), in_plane = xs[2] * xs[3];
  Tensor<T> sums({rows, groups, g.dim(2), g.dim(3)});
  ops::for_chunks(rows * groups, plane, [&](std::size_t rg, std::size_t b, std::size_t e) {
    T* dst = sums.data() + rg * plane;
    const T* src = g.data() + rg * per_out * plane;  // the group's first output channel
    for (std::size_t o = 0; o < per_out; ++o)
      for (std::size_t p = b; p < e; ++p) dst[p] += src[o * plane + p];
  });
  const Window2d& win = conv.window();
  const Tensor<T>& ones = a.in.cache.get(a.in.node, "W1g", [&] { return Tensor<T>({groups, 1, win.kh, win.kw}, T(1)); });
  kernels::ConvShape s;
  s.n = rows;
  s.c = s.oc = s.groups = groups;
  s.h = xs[2];
  s.w = xs[3];
  s.oh = g.dim(2);
  s.ow = g.dim(3);
  s.win = win;
  Tensor<T> spread = Tensor<T>::uninitialized({rows, groups, xs[2], xs[3]});
  kernels::conv2d_backward_data<T>(s, sums.data(), ones.data(), spread.data());
  Tensor<T> r = Tensor<T>::uninitialized(xs);
  ops::for_chunks(rows * xs[1], in_plane, [&](std::size_t rc, std::size_t b, std::size_t e) {
    const std::size_t row = rc / xs[1], group = (rc % xs[1]) / per_in;
    std::copy(spread.data() + (row * groups + group) * in_plane + b, spread.data() + (row * groups + group) * in_plane + e,
              r.data() + rc * in_plane + b);
  });
  return r;
}

// Flat and w^2: relevance spread by constant (ones) or squared weights, independent of x; the
// denominator z = W' 1 (+ b') is computed once per input shape and cached.
template <class T>
Tensor<T> weight_only(const Affine<T>& a, bool square, bool with_bias, T eps) {
  using A = Affine<T>;
  if (!square && a.layer.kind() == LayerKind::Linear && !a.rows_of_last_axis()) return flat_dense(a, eps);
  const typename A::Mapped sq = A::mapped(WeightMap::Square);
  const Tensor<T>* b = with_bias ? &a.bias(sq) : nullptr;
  const std::string key = square ? (with_bias ? "z^2b" : "z^2") : "z1";
  const Tensor<T>& z = a.constant(key, [&] {
    const Tensor<T> ones = a.sample_like_input([](std::size_t) { return T(1); });
    return square ? a.forward(ones, sq, b) : a.forward(ones, a.ones(), nullptr);
  });
  if (!square && a.layer.kind() == LayerKind::Conv2d) return flat_conv(a, static_cast<const Conv2d<T>&>(a.layer), z, eps);
  Tensor<T> g = a.ratio(z, eps, T(1), true);
  return square ? a.transposed(g, sq) : a.transposed(g, a.ones());
}

}  // namespace

RuleNeeds affine_rule_needs(const Rule& rule) {
  RuleNeeds n;
  n.repeat = true;
  switch (rule.kind) {
    case RuleKind::Gradient:
    case RuleKind::DeconvNet:
    case RuleKind::GuidedBackprop:
    case RuleKind::BetaSmooth:
    case RuleKind::Rescale:
    case RuleKind::Flat:
    case RuleKind::WSquare:
      n.inputs = false;
      n.output = false;
      break;
    case RuleKind::AlphaBeta:
      n.output = rule.beta != 0.0 && rule.alpha != 0.0;  // z- = y - z+ (x >= 0)
      break;
    case RuleKind::ZPlus:
      n.output = false;
      break;
    case RuleKind::Pass:
      n.repeat = false;
      break;
    default:
      break;
  }
  return n;
}

template <class T>
std::vector<Tensor<T>> affine_relevance(const Rule& rule, const AffineLayer<T>& layer, const RuleInput<T>& in) {
  const Affine<T> a{layer, in};
  const T eps = static_cast<T>(rule.epsilon);
  switch (rule.kind) {
    case RuleKind::Gradient:
    case RuleKind::DeconvNet:
    case RuleKind::GuidedBackprop:
    case RuleKind::BetaSmooth:
    case RuleKind::Rescale:
      return ops::only(a.transposed(in.relevance, layer.weight()));
    case RuleKind::Epsilon:
    case RuleKind::Norm:
      return ops::only(epsilon(a, eps, rule.zero_bias));
    case RuleKind::AlphaBeta:
      return ops::only(alpha_beta(a, static_cast<T>(rule.alpha), static_cast<T>(rule.beta), eps, rule.zero_bias));
    case RuleKind::ZPlus:
      return ops::only(alpha_beta(a, T(1), T(0), eps, rule.zero_bias));
    case RuleKind::Gamma:
      return ops::only(gamma_rule(a, rule.gamma, eps, rule.zero_bias));
    case RuleKind::ZBox:
      return ops::only(zbox(a, rule, eps));
    case RuleKind::Flat:
      return ops::only(weight_only(a, false, false, eps));
    case RuleKind::WSquare:
      return ops::only(weight_only(a, true, rule.style == StabilizerStyle::Zennit && !rule.zero_bias, eps));
    case RuleKind::Pass:
      break;
  }
  throw ConfigError("rule '" + rule.text + "' cannot be applied to a " + layer.type_name() + " layer");
}

template std::vector<Tensor<float>> affine_relevance(const Rule&, const AffineLayer<float>&, const RuleInput<float>&);
template std::vector<Tensor<double>> affine_relevance(const Rule&, const AffineLayer<double>&, const RuleInput<double>&);

}  // namespace lrp
