// Every affine LRP rule (Linear and Conv2d, float and double, signed and non-negative inputs)
// against an independent dense-matrix oracle in double: the layer's map is materialised as a
// matrix M (out x in per sample) and each rule is evaluated from its textbook formula on M.
// Tolerances: double 1e-10 relative to max|R|; float 2e-4 relative to max|R| (stabilised
// divisions amplify float rounding where a denominator is small).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "lrp/layers/conv2d.hpp"
#include "lrp/layers/linear.hpp"
#include "lrp/rules/apply.hpp"
#include "lrp/rules/rule.hpp"

namespace lrp {
namespace {

using Dense = std::vector<std::vector<double>>;  // [out][in]

struct LayerCase {
  std::string name;
  std::unique_ptr<AffineLayer<double>> layer;
  Shape in_shape;  // per sample
};

Tensor<double> random_tensor(const Shape& s, std::uint32_t seed, double lo, double hi) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(lo, hi);
  Tensor<double> t(s);
  for (double& v : t) v = static_cast<double>(static_cast<float>(u(rng)));
  return t;
}

std::vector<LayerCase> setups() {
  std::vector<LayerCase> v;
  v.push_back({"linear", std::make_unique<Linear<double>>(random_tensor({7, 11}, 1, -1, 1), random_tensor({7}, 2, -0.5, 0.5)), {11}});
  // The same weights on each of 4 rows (a token model's projection, ConvNeXt's channels-last MLP).
  v.push_back({"linear_last_axis", std::make_unique<Linear<double>>(random_tensor({7, 11}, 1, -1, 1), random_tensor({7}, 2, -0.5, 0.5), true), {4, 11}});
  {
    Window2d k;
    k.kh = 3;
    k.kw = 3;
    k.pt = k.pl = k.pb = k.pr = 1;
    v.push_back({"conv3x3pad", std::make_unique<Conv2d<double>>(random_tensor({4, 3, 3, 3}, 3, -1, 1), random_tensor({4}, 4, -0.5, 0.5), k, 1), {3, 6, 5}});
  }
  {
    Window2d k;
    k.kh = 3;
    k.kw = 2;
    k.sh = 2;
    k.sw = 1;
    k.pt = 1;
    k.pb = 0;
    k.pl = 0;
    k.pr = 1;
    k.dh = 2;
    v.push_back({"conv_strided_dilated", std::make_unique<Conv2d<double>>(random_tensor({6, 2, 3, 2}, 5, -1, 1), random_tensor({6}, 6, -0.5, 0.5), k, 2), {4, 9, 6}});
  }
  {
    Window2d k;
    k.kh = 3;
    k.kw = 3;
    k.pt = k.pl = k.pb = k.pr = 1;
    v.push_back({"depthwise", std::make_unique<Conv2d<double>>(random_tensor({5, 1, 3, 3}, 7, -1, 1), random_tensor({5}, 8, -0.5, 0.5), k, 5), {5, 4, 4}});
  }
  {
    // One input channel, stride 1, output width >= 8: the float path's single-channel kernels
    // (the W+ / W- pairs of transposed maps in one sweep).
    Window2d k;
    k.kh = 5;
    k.kw = 5;
    k.pt = k.pl = k.pb = k.pr = 2;
    v.push_back({"single_channel", std::make_unique<Conv2d<double>>(random_tensor({4, 1, 5, 5}, 47, -1, 1), random_tensor({4}, 10, -0.5, 0.5), k, 1), {1, 7, 9}});
  }
  return v;
}

// Dense matrix of x -> apply(x, w, no bias) for one sample.
Dense dense_of(const AffineLayer<double>& layer, const Tensor<double>& w, const Shape& in_shape) {
  Shape s = in_shape;
  s.insert(s.begin(), 1);
  const std::size_t m = shape_numel(in_shape);
  Dense d;
  for (std::size_t i = 0; i < m; ++i) {
    Tensor<double> e(s);
    e[i] = 1.0;
    Tensor<double> z;
    layer.apply(e, w, nullptr, z);
    if (d.empty()) d.assign(z.size(), std::vector<double>(m));
    for (std::size_t j = 0; j < z.size(); ++j) d[j][i] = z[j];
  }
  return d;
}

double stab(double z, double eps) { return z + (z >= 0 ? eps : -eps); }
double pos(double v) { return v > 0 ? v : 0; }
double neg(double v) { return v < 0 ? v : 0; }

// R_in for one sample from the rule's formula on dense matrices.
std::vector<double> oracle(const Rule& rule, const AffineLayer<double>& layer, const Shape& in_shape, const double* x,
                           const double* r) {
  const Dense m = dense_of(layer, layer.weight(), in_shape);
  const std::size_t no = m.size(), ni = m[0].size();
  const Tensor<double>& bt = layer.bias();
  std::vector<double> b(bt.begin(), bt.end());
  if (b.size() != no) {  // conv: bias per channel, expand to every output position; rows of a dense layer: per row
    const bool rows = layer.kind() == LayerKind::Linear && static_cast<const Linear<double>&>(layer).rows_of_last_axis();
    std::vector<double> e(no);
    const std::size_t plane = no / b.size();
    for (std::size_t j = 0; j < no; ++j) e[j] = rows ? b[j % b.size()] : b[j / plane];
    b = e;
  }
  const double eps = rule.epsilon;
  const auto div = [&](double a, double z) { return eps == 0 ? (z == 0 ? 0 : a / z) : a / stab(z, eps); };
  std::vector<double> out(ni, 0.0), y(no, 0.0);
  for (std::size_t j = 0; j < no; ++j) {
    y[j] = b[j];
    for (std::size_t i = 0; i < ni; ++i) y[j] += m[j][i] * x[i];
  }
  const auto map = [&](const std::function<double(double)>& f) {
    Dense d = m;
    for (auto& row : d)
      for (double& v : row) v = f(v);
    return d;
  };
  const auto matvec = [&](const Dense& a, const std::vector<double>& v, const std::vector<double>& bias) {
    std::vector<double> z(no);
    for (std::size_t j = 0; j < no; ++j) {
      z[j] = bias.empty() ? 0 : bias[j];
      for (std::size_t i = 0; i < ni; ++i) z[j] += a[j][i] * v[i];
    }
    return z;
  };
  const auto tmatvec = [&](const Dense& a, const std::vector<double>& g) {
    std::vector<double> s(ni, 0.0);
    for (std::size_t j = 0; j < no; ++j)
      for (std::size_t i = 0; i < ni; ++i) s[i] += a[j][i] * g[j];
    return s;
  };
  std::vector<double> xv(x, x + ni), xp(ni), xn(ni), bp(no), bn(no);
  for (std::size_t i = 0; i < ni; ++i) {
    xp[i] = pos(x[i]);
    xn[i] = neg(x[i]);
  }
  // /nobias: the rule's z without the bias (gamma still picks p or q by the sign of y with it).
  const std::vector<double> bz = rule.zero_bias ? std::vector<double>(no, 0.0) : b;
  for (std::size_t j = 0; j < no; ++j) {
    bp[j] = pos(bz[j]);
    bn[j] = neg(bz[j]);
  }
  switch (rule.kind) {
    case RuleKind::Epsilon:
    case RuleKind::Norm: {
      std::vector<double> g(no);
      for (std::size_t j = 0; j < no; ++j) g[j] = div(r[j], rule.zero_bias ? y[j] - b[j] : y[j]);
      const auto s = tmatvec(m, g);
      for (std::size_t i = 0; i < ni; ++i) out[i] = x[i] * s[i];
      break;
    }
    case RuleKind::AlphaBeta:
    case RuleKind::ZPlus: {
      const double alpha = rule.kind == RuleKind::ZPlus ? 1 : rule.alpha, beta = rule.kind == RuleKind::ZPlus ? 0 : rule.beta;
      const Dense mp = map(pos), mn = map(neg);
      auto p = matvec(mp, xp, bp), pn = matvec(mn, xn, {});
      auto q = matvec(mn, xp, bn), qn = matvec(mp, xn, {});
      std::vector<double> gp(no), gq(no);
      for (std::size_t j = 0; j < no; ++j) {
        gp[j] = div(r[j], p[j] + pn[j]);
        gq[j] = div(r[j], q[j] + qn[j]);
      }
      const auto a1 = tmatvec(mp, gp), a2 = tmatvec(mn, gp), b1 = tmatvec(mn, gq), b2 = tmatvec(mp, gq);
      for (std::size_t i = 0; i < ni; ++i)
        out[i] = alpha * (xp[i] * a1[i] + xn[i] * a2[i]) - beta * (xp[i] * b1[i] + xn[i] * b2[i]);
      break;
    }
    case RuleKind::Gamma: {
      const double gm = rule.gamma;
      const Dense wa = map([&](double v) { return v + gm * pos(v); }), wb = map([&](double v) { return v + gm * neg(v); });
      std::vector<double> ba(no), bb(no);
      for (std::size_t j = 0; j < no; ++j) {
        ba[j] = bz[j] + gm * bp[j];
        bb[j] = bz[j] + gm * bn[j];
      }
      auto p = matvec(wa, xp, ba), p2 = matvec(wb, xn, {});
      auto q = matvec(wb, xp, bb), q2 = matvec(wa, xn, {});
      std::vector<double> g1(no, 0.0), g3(no, 0.0);
      for (std::size_t j = 0; j < no; ++j) {
        if (y[j] > 0) g1[j] = div(r[j], p[j] + p2[j]);
        if (y[j] < 0) g3[j] = div(r[j], q[j] + q2[j]);
      }
      const auto s1 = tmatvec(wa, g1), s2 = tmatvec(wb, g3), s3 = tmatvec(wb, g1), s4 = tmatvec(wa, g3);
      for (std::size_t i = 0; i < ni; ++i) out[i] = xp[i] * (s1[i] + s2[i]) + xn[i] * (s3[i] + s4[i]);
      break;
    }
    case RuleKind::ZBox: {
      const Dense mp = map(pos), mn = map(neg);
      const std::vector<double> lo(ni, rule.low[0]), hi(ni, rule.high[0]);
      const auto z0 = matvec(m, xv, {}), zl = matvec(mp, lo, {}), zh = matvec(mn, hi, {});
      std::vector<double> g(no);
      for (std::size_t j = 0; j < no; ++j) g[j] = div(r[j], z0[j] - zl[j] - zh[j]);
      const auto s0 = tmatvec(m, g), sl = tmatvec(mp, g), sh = tmatvec(mn, g);
      for (std::size_t i = 0; i < ni; ++i) out[i] = x[i] * s0[i] - lo[i] * sl[i] - hi[i] * sh[i];
      break;
    }
    case RuleKind::Flat:
    case RuleKind::WSquare: {
      Dense a;
      std::vector<double> bias;
      if (rule.kind == RuleKind::Flat) {
        Tensor<double> ones(layer.weight().shape(), 1.0);
        a = dense_of(layer, ones, in_shape);
      } else {
        a = map([](double v) { return v * v; });
        if (rule.style == StabilizerStyle::Zennit && !rule.zero_bias) {
          bias.resize(no);
          for (std::size_t j = 0; j < no; ++j) bias[j] = b[j] * b[j];
        }
      }
      const auto z = matvec(a, std::vector<double>(ni, 1.0), bias);
      std::vector<double> g(no);
      for (std::size_t j = 0; j < no; ++j) g[j] = div(r[j], z[j]);
      out = tmatvec(a, g);
      break;
    }
    default:
      ADD_FAILURE() << "no oracle for rule " << rule.text;
  }
  return out;
}

Rule without_bias(Rule r) {
  r.zero_bias = true;
  r.text += "/nobias";
  return r;
}

std::vector<Rule> rules_under_test() {
  return {Rule::epsilon_rule(1e-6), parse_rule("epsilon:0.01"), parse_rule("z"), Rule::zplus(), Rule::alpha_beta(2, 1),
          parse_rule("alphabeta:2"), parse_rule("alphabeta:1"), Rule::gamma_rule(0.25), Rule::gamma_rule(1.0),
          Rule::zbox({-1.5}, {2.0}), Rule::flat(), parse_rule("flat"), Rule::wsquare(), parse_rule("w2"), Rule::norm(),
          // the bias taken as zero (/nobias)
          parse_rule("epsilon:0.01/nobias"), parse_rule("z/nobias"), without_bias(Rule::epsilon_rule(1e-6)),
          without_bias(Rule::zplus()), without_bias(Rule::alpha_beta(2, 1)), parse_rule("alphabeta:1/nobias"),
          without_bias(Rule::gamma_rule(0.25)), without_bias(Rule::gamma_rule(1.0)), without_bias(Rule::wsquare()),
          parse_rule("zbox:-1.5,2/nobias")};
}

// Runs the rule with `repeat` relevance rows per sample; `consume` lets it reuse the relevance
// tensor (as the executor does); `known_non_negative` is the executor's sign flag.
template <class T>
Tensor<T> run_rule(const Rule& rule, const AffineLayer<T>& layer, const Tensor<T>& x, const Tensor<T>& r, ParamCache<T>& cache,
                   std::size_t repeat = 1, bool consume = false, bool known_non_negative = false) {
  Tensor<T> y;
  layer.forward({&x}, y);
  Tensor<T> scratch = r;
  // As the executor: a rule that does not keep the input (flat, w2) gets an empty tensor and its shape.
  const Tensor<T> none;
  const Tensor<T>* xin = rule_needs(rule, layer).inputs ? &x : &none;
  const RuleInput<T> in{layer, 0, {xin}, y, scratch, cache, repeat, {x.shape()}, {static_cast<signed char>(known_non_negative ? 1 : 0)}, consume ? &scratch : nullptr};
  std::vector<Tensor<T>> out = apply_rule(rule, in);
  return std::move(out.at(0));
}

double max_abs(const std::vector<double>& v) {
  double m = 0;
  for (double a : v) m = std::max(m, std::abs(a));
  return m;
}

// "/nobias" after a rule: parsed onto the rule it follows, kept in its text, refused where the
// rule has no z of the layer's map (a gradient-type rule, pass, norm).
TEST(RulesDense, NoBiasSuffixParsesOntoTheRule) {
  const Rule e = parse_rule("epsilon:0.25/nobias");
  EXPECT_EQ(e.kind, RuleKind::Epsilon);
  EXPECT_DOUBLE_EQ(e.epsilon, 0.25);
  EXPECT_TRUE(e.zero_bias);
  EXPECT_EQ(e.text, "epsilon:0.25/nobias");
  EXPECT_FALSE(parse_rule("epsilon:0.25").zero_bias);
  const Rule ab = parse_rule("alphabeta:2,1/nobias");
  EXPECT_EQ(ab.kind, RuleKind::AlphaBeta);
  EXPECT_DOUBLE_EQ(ab.beta, 1.0);
  EXPECT_TRUE(ab.zero_bias);
  for (const char* t : {"z/nobias", "zplus/nobias", "gamma/nobias", "gamma:0.5/nobias", "zbox:0,1/nobias", "flat/nobias", "w2/nobias"})
    EXPECT_TRUE(parse_rule(t).zero_bias) << t;
  for (const char* t : {"gradient/nobias", "pass/nobias", "norm/nobias", "deconvnet/nobias"}) {
    try {
      parse_rule(t);
      ADD_FAILURE() << t << " was accepted";
    } catch (const ConfigError& err) {
      EXPECT_NE(std::string(err.what()).find("'/nobias' applies to"), std::string::npos) << err.what();
    }
  }
  EXPECT_THROW(parse_rule("zplus/bias"), ConfigError);
  EXPECT_THROW(parse_rule("epsilon:/nobias"), ConfigError);
}

TEST(RulesDense, AffineRulesMatchTheDenseOracle) {
  for (const LayerCase& su : setups()) {
    for (const bool non_negative : {false, true}) {
      Shape bs = su.in_shape;
      bs.insert(bs.begin(), 2);
      Tensor<double> x = random_tensor(bs, 11, non_negative ? 0.0 : -1.0, 1.0);
      if (non_negative)
        for (std::size_t i = 0; i < x.size(); i += 3) x[i] = 0.0;  // ReLU-like zeros
      Tensor<double> y;
      su.layer->forward({&x}, y);
      const Tensor<double> r = random_tensor(y.shape(), 12, -1.0, 1.0);
      const std::unique_ptr<Layer<float>> lf = su.layer->to_float();
      const auto& layer_f = static_cast<const AffineLayer<float>&>(*lf);
      const Tensor<float> xf = x.cast<float>(), rf = r.cast<float>();
      ParamCache<double> cache_d;
      ParamCache<float> cache_f;
      for (const Rule& rule : rules_under_test()) {
        SCOPED_TRACE(su.name + (non_negative ? " x>=0 " : " signed x ") + rule.text);
        if (su.name == "linear_last_axis" && rule.kind == RuleKind::ZBox) {  // needs channel planes: refused, saying so
          EXPECT_THROW(run_rule(rule, *su.layer, x, r, cache_d), ConfigError);
          continue;
        }
        const Tensor<double> got = run_rule(rule, *su.layer, x, r, cache_d);
        const Tensor<float> got_f = run_rule(rule, layer_f, xf, rf, cache_f);
        ASSERT_EQ(got.shape(), x.shape());
        ASSERT_EQ(got_f.shape(), x.shape());
        const std::size_t per = x.sample_size(), per_out = y.sample_size();
        std::vector<double> want_all;
        for (std::size_t n = 0; n < 2; ++n) {
          const std::vector<double> want = oracle(rule, *su.layer, su.in_shape, x.data() + n * per, r.data() + n * per_out);
          want_all.insert(want_all.end(), want.begin(), want.end());
        }
        const double scale = std::max(max_abs(want_all), 1e-30);
        double err_d = 0, err_f = 0;
        for (std::size_t i = 0; i < want_all.size(); ++i) {
          err_d = std::max(err_d, std::abs(got[i] - want_all[i]));
          err_f = std::max(err_f, std::abs(static_cast<double>(got_f[i]) - want_all[i]));
        }
        // Without the bias some of these random layers' Wx come close to 0, where a tiny
        // stabiliser lets float rounding of z show in R (measured 1.2e-3 of max|R|, the same
        // when Wx had its own convolution instead of y - b).
        const double tol_f = rule.zero_bias && rule.kind == RuleKind::Epsilon && rule.epsilon <= 1e-6 ? 2e-3 : 2e-4;
        EXPECT_LE(err_d / scale, 1e-10);
        EXPECT_LE(err_f / scale, tol_f);

        // Three relevance rows per sample (several targets), consuming the relevance tensor.
        Shape rs = y.shape();
        rs[0] = 6;
        const Tensor<double> r3 = random_tensor(rs, 13, -1.0, 1.0);
        const Tensor<double> got3 = run_rule(rule, *su.layer, x, r3, cache_d, 3, true, non_negative);
        const Tensor<float> got3f = run_rule(rule, layer_f, xf, r3.cast<float>(), cache_f, 3, true, non_negative);
        ASSERT_EQ(got3.dim(0), 6u);
        ASSERT_EQ(got3f.dim(0), 6u);
        double e3 = 0, e3f = 0, m3 = 1e-30;
        for (std::size_t row = 0; row < 6; ++row) {
          const std::vector<double> want = oracle(rule, *su.layer, su.in_shape, x.data() + (row / 3) * per, r3.data() + row * per_out);
          m3 = std::max(m3, max_abs(want));
          for (std::size_t i = 0; i < per; ++i) {
            e3 = std::max(e3, std::abs(got3[row * per + i] - want[i]));
            e3f = std::max(e3f, std::abs(static_cast<double>(got3f[row * per + i]) - want[i]));
          }
        }
        EXPECT_LE(e3 / m3, 1e-10);
        EXPECT_LE(e3f / m3, tol_f);
      }
    }
  }
}

// Under a ReLU no relevance reaches the outputs with y <= 0, so the gamma rule's second
// ratio (outputs with y < 0) is all zero and its transposed passes are skipped: the result must
// still be the oracle's, with and without the executor's non-negative flag, one row or three.
TEST(RulesDense, GammaWithRelevanceOnlyWherePositiveMatchesTheOracle) {
  for (const LayerCase& su : setups()) {
    for (const bool non_negative : {false, true}) {
      Shape bs = su.in_shape;
      bs.insert(bs.begin(), 2);
      const Tensor<double> x = random_tensor(bs, 21, non_negative ? 0.0 : -1.0, 1.0);
      Tensor<double> y;
      su.layer->forward({&x}, y);
      Tensor<double> r = random_tensor(y.shape(), 22, -1.0, 1.0);
      std::size_t cut = 0;
      for (std::size_t i = 0; i < r.size(); ++i)
        if (y[i] <= 0) {
          r[i] = 0.0;
          ++cut;
        }
      ASSERT_GT(cut, 0u) << su.name;  // some outputs are negative, or nothing is tested
      const std::unique_ptr<Layer<float>> lf = su.layer->to_float();
      const auto& layer_f = static_cast<const AffineLayer<float>&>(*lf);
      for (const double gm : {0.25, 1.0}) {
        const Rule rule = Rule::gamma_rule(gm);
        SCOPED_TRACE(su.name + (non_negative ? " x>=0 " : " signed x ") + rule.text);
        ParamCache<double> cache_d;
        ParamCache<float> cache_f;
        const Tensor<double> got = run_rule(rule, *su.layer, x, r, cache_d, 1, true, non_negative);
        const Tensor<float> got_f = run_rule(rule, layer_f, x.cast<float>(), r.cast<float>(), cache_f, 1, true, non_negative);
        const std::size_t per = x.sample_size(), per_out = y.sample_size();
        double err_d = 0, err_f = 0, scale = 1e-30;
        for (std::size_t n = 0; n < 2; ++n) {
          const std::vector<double> want = oracle(rule, *su.layer, su.in_shape, x.data() + n * per, r.data() + n * per_out);
          scale = std::max(scale, max_abs(want));
          for (std::size_t i = 0; i < per; ++i) {
            err_d = std::max(err_d, std::abs(got[n * per + i] - want[i]));
            err_f = std::max(err_f, std::abs(static_cast<double>(got_f[n * per + i]) - want[i]));
          }
        }
        EXPECT_GT(scale, 1e-6);
        // Without the bias some of these random layers' Wx come close to 0, where a tiny
        // stabiliser lets float rounding of z show in R (measured 1.2e-3 of max|R|, the same
        // when Wx had its own convolution instead of y - b).
        const double tol_f = rule.zero_bias && rule.kind == RuleKind::Epsilon && rule.epsilon <= 1e-6 ? 2e-3 : 2e-4;
        EXPECT_LE(err_d / scale, 1e-10);
        EXPECT_LE(err_f / scale, tol_f);
      }
    }
  }
}

}  // namespace
}  // namespace lrp
