// LRP rules for affine layers (Linear, Conv2d), written with the layer's two primitives
// z = W'x + b' and W'^T g for substituted parameters W'. Formulas: docs/RULES.md.
#include "rules/affine_rules.hpp"

#include "lrp/core/error.hpp"
#include "rules/tensor_ops.hpp"

namespace lrp {
namespace {

template <class T>
struct Affine {
  const AffineLayer<T>& layer;
  const RuleInput<T>& in;
  const Tensor<T>& x() const { return *in.inputs[0]; }

  // Cached derived parameters.
  const Tensor<T>& weight(const std::string& key) const {
    const Tensor<T>& w = layer.weight();
    return in.cache.get(in.node, "W" + key, [&] { return derive(w, key); });
  }
  const Tensor<T>& bias(const std::string& key) const {
    const Tensor<T>& b = layer.bias();
    return in.cache.get(in.node, "b" + key, [&] { return derive(b, key); });
  }
  static Tensor<T> derive(const Tensor<T>& w, const std::string& key) {
    if (key == "+") return ops::positive(w);
    if (key == "-") return ops::negative(w);
    if (key == "^2") return ops::map(w, [](T v) { return v * v; });
    if (key == "1") return Tensor<T>(w.shape(), T(1));
    // "g+<gamma>" / "g-<gamma>": W + gamma * W+ / W + gamma * W-
    const T g = static_cast<T>(std::stod(key.substr(2)));
    const bool plus = key[1] == '+';
    return ops::map(w, [&](T v) { return v + g * (plus ? (v > T(0) ? v : T(0)) : (v < T(0) ? v : T(0))); });
  }

  Tensor<T> forward(const Tensor<T>& x_mod, const Tensor<T>& w, const Tensor<T>* b) const {
    Tensor<T> z;
    layer.apply(x_mod, w, b, z);
    return z;
  }
  Tensor<T> transposed(const Tensor<T>& g, const Tensor<T>& w) const {
    Tensor<T> dx;
    layer.apply_transposed(g, w, x().shape(), dx);
    return dx;
  }
  // R / stab(z), with 0/0 → 0 when eps == 0.
  Tensor<T> ratio(const Tensor<T>& z, T eps, const Tensor<T>* mask_src = nullptr, int mask_sign = 0) const {
    const Tensor<T>& r = in.relevance;
    Tensor<T> g(z.shape());
    for (std::size_t i = 0; i < z.size(); ++i) {
      if (mask_src) {
        const T y = (*mask_src)[i];
        if ((mask_sign > 0 && !(y > T(0))) || (mask_sign < 0 && !(y < T(0)))) continue;
      }
      g[i] = eps == T(0) ? safe_div(r[i], z[i]) : r[i] / stabilize(z[i], eps);
    }
    return g;
  }
};

// ZBox bounds as a tensor of x's shape: a scalar, or one value per channel (dim 1).
template <class T>
Tensor<T> bound_tensor(const std::vector<double>& v, const Tensor<T>& x, const std::string& what) {
  Tensor<T> b(x.shape());
  if (v.size() == 1) {
    b.fill(static_cast<T>(v[0]));
    return b;
  }
  if (x.rank() < 2 || v.size() != x.dim(1))
    throw ConfigError("zbox " + what + " bounds have " + std::to_string(v.size()) + " values, the input has " +
                      std::to_string(x.rank() < 2 ? 0 : x.dim(1)) + " channels");
  const std::size_t c = x.dim(1), plane = x.sample_size() / c;
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<T>(v[(i / plane) % c]);
  return b;
}

// alpha * [x+ W+^T(R/p) + x- W-^T(R/p)] - beta * [x+ W-^T(R/q) + x- W+^T(R/q)], with
// p = W+x+ + W-x- + b+, q = W-x+ + W+x- + b-. Negative inputs are skipped when there are none.
template <class T>
Tensor<T> alpha_beta(const Affine<T>& a, T alpha, T beta, T eps) {
  const Tensor<T>& x = a.x();
  const bool signed_input = !ops::non_negative(x);
  const Tensor<T> xp = signed_input ? ops::positive(x) : x;
  const Tensor<T> xn = signed_input ? ops::negative(x) : Tensor<T>();
  const Tensor<T>& wp = a.weight("+");
  const Tensor<T>& wn = a.weight("-");
  Tensor<T> out(x.shape());
  const auto part = [&](const Tensor<T>& w_on_pos, const Tensor<T>& w_on_neg, const Tensor<T>& b, T coef) {
    Tensor<T> z = a.forward(xp, w_on_pos, &b);
    if (signed_input) ops::add_into(z, a.forward(xn, w_on_neg, nullptr));
    const Tensor<T> g = a.ratio(z, eps);
    Tensor<T> r = a.transposed(g, w_on_pos);
    ops::mul_into(r, xp);
    if (signed_input) {
      Tensor<T> rn = a.transposed(g, w_on_neg);
      ops::mul_into(rn, xn);
      ops::add_into(r, rn);
    }
    ops::add_into(out, r, coef);
  };
  if (alpha != T(0)) part(wp, wn, a.bias("+"), alpha);
  if (beta != T(0)) part(wn, wp, a.bias("-"), -beta);
  return out;
}

template <class T>
Tensor<T> gamma_rule(const Affine<T>& a, double gamma, T eps) {
  const Tensor<T>& x = a.x();
  const std::string gs = std::to_string(gamma);
  const Tensor<T>& wa = a.weight("g+" + gs);  // W + gamma W+
  const Tensor<T>& wb = a.weight("g-" + gs);  // W + gamma W-
  const Tensor<T>& ba = a.bias("g+" + gs);
  const Tensor<T>& bb = a.bias("g-" + gs);
  const bool signed_input = !ops::non_negative(x);
  const Tensor<T> xp = signed_input ? ops::positive(x) : x;
  const Tensor<T> xn = signed_input ? ops::negative(x) : Tensor<T>();
  // Outputs with z > 0 take the positive-gamma pair, outputs with z < 0 the negative one.
  Tensor<T> p = a.forward(xp, wa, &ba);
  Tensor<T> q = a.forward(xp, wb, &bb);
  if (signed_input) {
    ops::add_into(p, a.forward(xn, wb, nullptr));
    ops::add_into(q, a.forward(xn, wa, nullptr));
  }
  const Tensor<T> g1 = a.ratio(p, eps, &a.in.output, +1);
  const Tensor<T> g3 = a.ratio(q, eps, &a.in.output, -1);
  Tensor<T> rp = a.transposed(g1, wa);
  ops::add_into(rp, a.transposed(g3, wb));
  ops::mul_into(rp, xp);
  if (signed_input) {
    Tensor<T> rn = a.transposed(g1, wb);
    ops::add_into(rn, a.transposed(g3, wa));
    ops::mul_into(rn, xn);
    ops::add_into(rp, rn);
  }
  return rp;
}

template <class T>
Tensor<T> zbox(const Affine<T>& a, const Rule& rule, T eps) {
  const Tensor<T>& x = a.x();
  const Tensor<T> lo = bound_tensor(rule.low, x, "low");
  const Tensor<T> hi = bound_tensor(rule.high, x, "high");
  const Tensor<T>& w = a.layer.weight();
  const Tensor<T>& wp = a.weight("+");
  const Tensor<T>& wn = a.weight("-");
  Tensor<T> z = a.forward(x, w, nullptr);  // the bias cancels out of z - z_low - z_high
  ops::add_into(z, a.forward(lo, wp, nullptr), T(-1));
  ops::add_into(z, a.forward(hi, wn, nullptr), T(-1));
  const Tensor<T> g = a.ratio(z, eps);
  Tensor<T> r = a.transposed(g, w);
  ops::mul_into(r, x);
  Tensor<T> rl = a.transposed(g, wp);
  ops::mul_into(rl, lo);
  Tensor<T> rh = a.transposed(g, wn);
  ops::mul_into(rh, hi);
  ops::add_into(r, rl, T(-1));
  ops::add_into(r, rh, T(-1));
  return r;
}

// Flat and w^2: relevance spread by constant (ones) or squared weights, independent of x.
template <class T>
Tensor<T> weight_only(const Affine<T>& a, const std::string& key, bool with_bias, T eps) {
  const Tensor<T> ones(a.x().shape(), T(1));
  const Tensor<T>& w = a.weight(key);
  const Tensor<T>* b = with_bias ? &a.bias(key) : nullptr;
  const Tensor<T> z = a.forward(ones, w, b);
  return a.transposed(a.ratio(z, eps), w);
}

}  // namespace

template <class T>
std::vector<Tensor<T>> affine_relevance(const Rule& rule, const AffineLayer<T>& layer, const RuleInput<T>& in) {
  const Affine<T> a{layer, in};
  const T eps = static_cast<T>(rule.epsilon);
  switch (rule.kind) {
    case RuleKind::Gradient:
    case RuleKind::DeconvNet:
    case RuleKind::GuidedBackprop:
      return {a.transposed(in.relevance, layer.weight())};
    case RuleKind::Epsilon:
    case RuleKind::Norm: {
      Tensor<T> r = a.transposed(a.ratio(in.output, eps), layer.weight());
      ops::mul_into(r, a.x());
      return {std::move(r)};
    }
    case RuleKind::AlphaBeta:
      return {alpha_beta(a, static_cast<T>(rule.alpha), static_cast<T>(rule.beta), eps)};
    case RuleKind::ZPlus:
      return {alpha_beta(a, T(1), T(0), eps)};
    case RuleKind::Gamma:
      return {gamma_rule(a, rule.gamma, eps)};
    case RuleKind::ZBox:
      return {zbox(a, rule, eps)};
    case RuleKind::Flat:
      return {weight_only(a, "1", false, eps)};
    case RuleKind::WSquare:
      return {weight_only(a, "^2", rule.style == StabilizerStyle::Zennit, eps)};
    case RuleKind::Pass:
      break;
  }
  throw ConfigError("rule '" + rule.text + "' cannot be applied to a " + layer.type_name() + " layer");
}

template std::vector<Tensor<float>> affine_relevance(const Rule&, const AffineLayer<float>&, const RuleInput<float>&);
template std::vector<Tensor<double>> affine_relevance(const Rule&, const AffineLayer<double>&, const RuleInput<double>&);

}  // namespace lrp
