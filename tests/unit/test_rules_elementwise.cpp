// Rules on the elementwise layers (BatchNorm, ReLU) against loops written here from their
// formulas, in float and double, batch 2 and two targets per sample (rows repeated): the
// relevance of BatchNorm under epsilon (R_in = scale_c * x * R / stab(y)), the ReLU gradient
// (R where x > 0) and guided backprop (R where x > 0 and R > 0), the latter two also when the
// rule may overwrite the incoming tensor. Exact for the masks; 1e-6 (float) / 1e-14 (double)
// relative for BatchNorm; the same for BetaSmooth's sigmoid(beta x). Also the fast path's float32 sigmoid against the formula in double.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <limits>
#include <random>
#include <vector>

#include "kernels/elementwise.hpp"
#include "lrp/layers/activation.hpp"
#include "lrp/layers/batch_norm.hpp"
#include "lrp/rules/apply.hpp"
#include "lrp/rules/rule.hpp"

namespace lrp {
namespace {

template <class T>
Tensor<T> random_tensor(const Shape& s, std::uint32_t seed, double lo, double hi) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(lo, hi);
  Tensor<T> t(s);
  for (T& v : t) v = static_cast<T>(u(rng));
  return t;
}

template <class T>
class RulesElementwise : public testing::Test {};
using Scalars = testing::Types<float, double>;
TYPED_TEST_SUITE(RulesElementwise, Scalars);

TYPED_TEST(RulesElementwise, BatchNormEpsilonMatchesItsFormula) {
  using T = TypeParam;
  const std::size_t c = 3, h = 70, w = 50;  // planes large enough for the parallel chunks
  BatchNorm<T> bn(random_tensor<T>({c}, 1, 0.5, 2.0), random_tensor<T>({c}, 2, -1.0, 1.0));
  const Tensor<T> x = random_tensor<T>({2, c, h, w}, 3, -1.0, 1.0);
  Tensor<T> y;
  bn.forward({&x}, y);
  const Tensor<T> r = random_tensor<T>({2, c, h, w}, 4, -1.0, 1.0);
  ParamCache<T> cache;
  RuleInput<T> in{bn, 0, {&x}, y, r, cache};
  const double tol = std::is_same_v<T, float> ? 1e-6 : 1e-14;
  // /nobias: the shift is left out of the denominator, stab(scale * x).
  for (const bool zero_bias : {false, true}) {
    Rule rule = Rule::epsilon_rule(0.25);
    rule.zero_bias = zero_bias;
    const std::vector<Tensor<T>> out = apply_rule(rule, in);
    ASSERT_EQ(out.size(), 1u);
    ASSERT_EQ(out[0].shape(), x.shape());
    for (std::size_t i = 0; i < x.size(); ++i) {
      const std::size_t ch = (i / (h * w)) % c;
      const double wx = static_cast<double>(x[i]) * bn.scale()[ch], yi = wx + bn.shift()[ch];
      ASSERT_NEAR(yi, y[i], 1e-6 * (1 + std::abs(yi))) << "forward " << i;
      const double z = zero_bias ? wx : yi, stab = z + (z >= 0 ? 0.25 : -0.25);
      const double want = wx * static_cast<double>(r[i]) / stab;
      ASSERT_NEAR(out[0][i], want, tol * (1 + std::abs(want))) << i << (zero_bias ? " /nobias" : "");
    }
  }
}

TYPED_TEST(RulesElementwise, ReluGradientAndGuidedBackpropMasks) {
  using T = TypeParam;
  Activation<T> relu(ActivationSpec{});
  ASSERT_TRUE(relu.is_relu());
  const Tensor<T> x = random_tensor<T>({2, 4, 60, 60}, 5, -1.0, 1.0);
  Tensor<T> y;
  relu.forward({&x}, y);
  const Tensor<T> r = random_tensor<T>({2, 4, 60, 60}, 6, -1.0, 1.0);
  ParamCache<T> cache;
  for (const bool guided : {false, true}) {
    for (const bool scratch : {false, true}) {
      SCOPED_TRACE(testing::Message() << (guided ? "guided backprop" : "gradient") << (scratch ? ", in place" : ""));
      Tensor<T> incoming = r;
      RuleInput<T> in{relu, 0, {&x}, y, incoming, cache};
      if (scratch) in.relevance_scratch = &incoming;
      const std::vector<Tensor<T>> out = apply_rule(guided ? Rule::guided_backprop() : Rule::gradient(), in);
      ASSERT_EQ(out.size(), 1u);
      ASSERT_EQ(out[0].shape(), x.shape());
      for (std::size_t i = 0; i < x.size(); ++i) {
        const bool pass = x[i] > T(0) && (!guided || r[i] > T(0));
        ASSERT_EQ(out[0][i], pass ? r[i] : T(0)) << i;
      }
    }
  }
}

// Zennit's BetaSmooth: the ReLU's step replaced by the softplus's derivative sigmoid(beta x);
// other activations keep their gradient (a Tanh: 1 - tanh^2).
TYPED_TEST(RulesElementwise, BetaSmoothTakesTheSoftplusDerivativeOnReLUs) {
  using T = TypeParam;
  const Tensor<T> x = random_tensor<T>({2, 3, 40, 40}, 7, -2.0, 2.0);
  const Tensor<T> r = random_tensor<T>({2, 3, 40, 40}, 8, -1.0, 1.0);
  ParamCache<T> cache;
  const double tol = std::is_same_v<T, float> ? 1e-6 : 1e-14;
  for (const double beta : {10.0, 0.5}) {
    Activation<T> relu(ActivationSpec{});
    Tensor<T> y;
    relu.forward({&x}, y);
    RuleInput<T> in{relu, 0, {&x}, y, r, cache};
    const std::vector<Tensor<T>> out = apply_rule(Rule::beta_smooth(beta), in);
    ASSERT_EQ(out.size(), 1u);
    for (std::size_t i = 0; i < x.size(); ++i) {
      const double want = static_cast<double>(r[i]) / (1.0 + std::exp(-beta * static_cast<double>(x[i])));
      ASSERT_NEAR(out[0][i], want, tol * (1 + std::abs(want))) << "beta " << beta << " at " << i;
    }
  }
  ActivationSpec tanh_spec;
  tanh_spec.kind = ActivationKind::Tanh;
  Activation<T> tanh_layer(tanh_spec);
  Tensor<T> y;
  tanh_layer.forward({&x}, y);
  RuleInput<T> in{tanh_layer, 0, {&x}, y, r, cache};
  const std::vector<Tensor<T>> out = apply_rule(parse_rule("beta-smooth:3"), in);
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double t = std::tanh(static_cast<double>(x[i]));
    const double want = static_cast<double>(r[i]) * (1 - t * t);
    ASSERT_NEAR(out[0][i], want, 10 * tol * (1 + std::abs(want))) << "tanh at " << i;
  }
}

}  // namespace
}  // namespace lrp

namespace lrp {
namespace {

// The float32 sigmoid of the fast path (its own vectorised exp) against the formula in double:
// within 4 ulp of float everywhere, including where exp over- or underflows in float.
TEST(RulesElementwise, FastSigmoidIsWithinFourUlpOfTheFormula) {
  std::vector<float> x;
  for (float v = -120.0f; v <= 120.0f; v += 0.013f) x.push_back(v);
  for (float v : {0.0f, -0.0f, 1e-30f, -1e-30f, 87.0f, -87.0f, 88.7f, -88.7f, 1e30f, -1e30f}) x.push_back(v);
  std::vector<float> y(x.size());
  kernels::sigmoid(x.data(), y.data(), x.size());
  double worst = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double want = 1.0 / (1.0 + std::exp(-static_cast<double>(x[i])));
    const double ulp = std::max(std::abs(want), 1e-38) * std::numeric_limits<float>::epsilon();
    const double err = std::abs(static_cast<double>(y[i]) - want);
    if (want < 1e-37) {  // exp(-x) clamped: the float result is tiny or 0
      EXPECT_LT(y[i], 1e-37f) << x[i];
      continue;
    }
    worst = std::max(worst, err / ulp);
    ASSERT_LE(err, 4 * ulp) << "x = " << x[i] << ": " << y[i] << " against " << want;
  }
  std::cout << "[ sigmoid ] worst error " << worst << " ulp\n";
}

}  // namespace
}  // namespace lrp

namespace lrp {
namespace {

// The float32 tanh of the recurrent layers (a polynomial near 0, exp_approx beyond) against
// std::tanh in double: within 4 ulp of float everywhere, near 0 (where 1 - 2 / (e^2x + 1) alone
// would lose the relative precision), across the switch at |x| = 0.625 and where it saturates.
TEST(RulesElementwise, FastTanhIsWithinFourUlpOfTheFormula) {
  std::vector<float> x;
  for (float v = -30.0f; v <= 30.0f; v += 0.0037f) x.push_back(v);
  for (float v : {0.0f, -0.0f, 1e-30f, -1e-30f, 1e-5f, -1e-5f, 0.6249999f, 0.625f, -0.625f, 44.0f, -44.0f, 1e30f, -1e30f}) x.push_back(v);
  std::vector<float> y(x.size());
  kernels::tanh(x.data(), y.data(), x.size());
  double worst = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double want = std::tanh(static_cast<double>(x[i]));
    const double ulp = std::max(std::abs(want), 1e-38) * std::numeric_limits<float>::epsilon();
    const double err = std::abs(static_cast<double>(y[i]) - want);
    worst = std::max(worst, err / ulp);
    ASSERT_LE(err, 4 * ulp) << "x = " << x[i] << ": " << y[i] << " against " << want;
  }
  std::cout << "[ tanh ] worst error " << worst << " ulp\n";
}

}  // namespace
}  // namespace lrp

namespace lrp {
namespace {

// The float32 softmax rows of the fast path (exp_approx) against the formula in double: each
// probability within 8 + |x - max| ulp of float (the exp, the sum's rounding and the division,
// and x - max rounded to float, which std::exp in float pays as well), rows from 1
// to 300 entries with spreads up to 200 (probabilities down to underflow), masked entries
// (-inf) exactly 0, and each row summing to 1 within 1e-6.
TEST(RulesElementwise, FastSoftmaxRowsMatchTheFormula) {
  std::mt19937 rng(7);
  for (std::size_t n : {1u, 2u, 7u, 16u, 49u, 197u, 300u})
    for (float spread : {0.1f, 5.0f, 60.0f, 200.0f}) {
      std::uniform_real_distribution<float> u(-spread / 2, spread / 2);
      std::vector<float> x(n), y(n);
      for (float& v : x) v = u(rng) + 30.0f;  // off zero: the max is subtracted
      if (n > 2) x[1] = -std::numeric_limits<float>::infinity();
      kernels::softmax_row(x.data(), y.data(), n);
      const double m = *std::max_element(x.begin(), x.end());
      double s = 0, total = 0;
      for (float v : x) s += std::exp(static_cast<double>(v) - m);
      for (std::size_t i = 0; i < n; ++i) {
        const double want = std::exp(static_cast<double>(x[i]) - m) / s;
        total += y[i];
        if (std::isinf(x[i])) {
          EXPECT_EQ(y[i], 0.0f);
          continue;
        }
        if (want < 1e-36) {  // exp clamped at -87.3: the float result is tiny
          EXPECT_LT(y[i], 1e-36f) << "n " << n << " spread " << spread;
          continue;
        }
        // x - max rounded to float moves exp's argument by up to |x - max| ulp of 1.
        const double ulp = want * std::numeric_limits<float>::epsilon();
        ASSERT_LE(std::abs(y[i] - want), (8 + std::abs(x[i] - m)) * ulp) << "n " << n << " spread " << spread << " entry " << i << ": " << y[i] << " against " << want;
      }
      EXPECT_NEAR(total, 1.0, 1e-6) << "n " << n << " spread " << spread;
    }
}

}  // namespace
}  // namespace lrp
