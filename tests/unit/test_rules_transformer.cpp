// Rules on a transformer's layers (AttnLRP) against references written here: the uniform rule on
// a product of two computed values against its explicit sum and its conservation, the SoftMax
// rule against finite differences of the linearised SoftMax, and a constant added to the tokens
// as a bias (epsilon) or passed through (other rules, and epsilon with /nobias); LayerNorm's
// epsilon rule without beta conserves each row.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "lrp/layers/activation.hpp"
#include "lrp/layers/bias.hpp"
#include "lrp/layers/layer_norm.hpp"
#include "lrp/layers/matmul.hpp"
#include "lrp/rules/apply.hpp"
#include "lrp/rules/rule.hpp"
#include "support/finite_difference.hpp"

namespace lrp {
namespace {

Tensor<double> random_tensor(const Shape& s, std::uint32_t seed, double lo = -1.0, double hi = 1.0) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(lo, hi);
  Tensor<double> t(s);
  for (double& v : t) v = u(rng);
  return t;
}

// R_A[i,k] = 1/2 sum_j A_ik B_kj R_ij / stab(C_ij), R_B[k,j] = 1/2 sum_i A_ik B_kj R_ij / stab(C_ij)
// per (sample, head); the two shares sum to the relevance (up to the stabiliser). Few small
// products take the rule's whole-tensor passes, many larger ones its pass per product.
void check_uniform_rule(std::size_t n, std::size_t h, std::size_t m, std::size_t k, std::size_t p) {
  const MatMul<double> mm;
  const Tensor<double> a = random_tensor({n, h, m, k}, 1), b = random_tensor({n, h, k, p}, 2);
  Tensor<double> c;
  mm.forward({&a, &b}, c);
  const Tensor<double> r = random_tensor(c.shape(), 3);
  ParamCache<double> cache;
  const RuleInput<double> in{mm, 0, {&a, &b}, c, r, cache};
  const double eps = 1e-9;
  const std::vector<Tensor<double>> out = apply_rule(Rule::epsilon_rule(eps), in);
  ASSERT_EQ(out.size(), 2u);
  Tensor<double> ra(a.shape()), rb(b.shape());
  for (std::size_t q = 0; q < n * h; ++q)
    for (std::size_t i = 0; i < m; ++i)
      for (std::size_t j = 0; j < p; ++j) {
        const double z = c[(q * m + i) * p + j], s = r[(q * m + i) * p + j] / (z + (z >= 0 ? eps : -eps));
        for (std::size_t l = 0; l < k; ++l) {
          const double share = 0.5 * a[(q * m + i) * k + l] * b[(q * k + l) * p + j] * s;
          ra[(q * m + i) * k + l] += share;
          rb[(q * k + l) * p + j] += share;
        }
      }
  double total_in = 0, total_out = 0;
  // Relative to the largest share: products near 0 meet the stabiliser and their ratios are large.
  double scale = 0;
  for (double v : ra) scale = std::max(scale, std::abs(v));
  for (std::size_t i = 0; i < ra.size(); ++i) ASSERT_NEAR(out[0][i], ra[i], 1e-12 * (1 + std::abs(ra[i]) + scale)) << "A " << i;
  for (std::size_t i = 0; i < rb.size(); ++i) ASSERT_NEAR(out[1][i], rb[i], 1e-12 * (1 + std::abs(rb[i]) + scale)) << "B " << i;
  for (const Tensor<double>& t : out)
    for (double v : t) total_in += v;
  for (double v : r) total_out += v;
  EXPECT_NEAR(total_in, total_out, 1e-5 * std::abs(total_out));  // measured 2.4e-6: products near 0 meet the stabiliser
  // The pass rule has no single input to pass to: a product takes the uniform rule (epsilon 1e-6) under it too.
  const std::vector<Tensor<double>> passed = apply_rule(Rule::pass(), in), eps6 = apply_rule(Rule::epsilon_rule(1e-6), in);
  for (std::size_t f = 0; f < 2; ++f)
    for (std::size_t i = 0; i < passed[f].size(); ++i) ASSERT_EQ(passed[f][i], eps6[f][i]);
}

TEST(RulesTransformer, MatMulUniformRuleMatchesItsSumAndConserves) {
  {
    SCOPED_TRACE("6 products of 4 x 5 x 6");
    check_uniform_rule(2, 3, 4, 5, 6);
  }
  SCOPED_TRACE("8 products of 32 x 40 x 30");
  check_uniform_rule(2, 4, 32, 40, 30);
}

// CP-LRP: pass on a product whose first factor is the attention weights (gate 0) holds them
// constant: they get nothing, the values the whole epsilon share R_B = B * (A^T S), which sums
// to R; without a gate pass is the uniform rule.
void check_attention_weights_held(std::size_t n, std::size_t h, std::size_t m, std::size_t k, std::size_t p) {
  const MatMul<double> mm(0);
  const Tensor<double> a = random_tensor({n, h, m, k}, 11, 0.1, 1.0), b = random_tensor({n, h, k, p}, 12);
  Tensor<double> c;
  mm.forward({&a, &b}, c);
  const Tensor<double> r = random_tensor(c.shape(), 13);
  ParamCache<double> cache;
  const RuleInput<double> in{mm, 0, {&a, &b}, c, r, cache};
  Rule pass = Rule::pass();
  pass.epsilon = 1e-12;
  const std::vector<Tensor<double>> out = apply_rule(pass, in), uniform = apply_rule(Rule::epsilon_rule(1e-12), in);
  double total_in = 0, total_out = 0;
  for (std::size_t i = 0; i < a.size(); ++i) ASSERT_EQ(out[0][i], 0.0);
  for (std::size_t i = 0; i < b.size(); ++i) {
    ASSERT_NEAR(out[1][i], 2 * uniform[1][i], 1e-12 * (1 + std::abs(uniform[1][i]))) << i;
    total_in += out[1][i];
  }
  for (double v : r) total_out += v;
  EXPECT_NEAR(total_in, total_out, 1e-9 * std::abs(total_out));
}

TEST(RulesTransformer, PassHoldsAttentionWeightsConstant) {
  {
    SCOPED_TRACE("6 products of 4 x 5 x 6");
    check_attention_weights_held(2, 3, 4, 5, 6);
  }
  SCOPED_TRACE("8 products of 32 x 40 x 30");
  check_attention_weights_held(2, 4, 32, 40, 30);
}

// R_in,i = x_i (R_i - s_i sum_j R_j) is x_i times the derivative of sum_j w_j s_j(x) with the
// weights w = R / s held at the input: checked by central differences, per row of the last axis.
TEST(RulesTransformer, SoftMaxRuleIsInputTimesTheLinearisedGradient) {
  const SoftMax<double> sm;
  const Tensor<double> x = random_tensor({2, 3, 4, 7}, 4, -3.0, 3.0);
  Tensor<double> s;
  sm.forward({&x}, s);
  const Tensor<double> r = random_tensor(s.shape(), 5);
  ParamCache<double> cache;
  const RuleInput<double> in{sm, 0, {&x}, s, r, cache};
  const std::vector<Tensor<double>> out = apply_rule(Rule::epsilon_rule(), in);
  Tensor<double> w(s.shape());
  for (std::size_t j = 0; j < s.size(); ++j) w[j] = r[j] / s[j];
  const Tensor<double> fd = test::finite_difference_vjp(sm, x, w, 1e-6);
  for (std::size_t i = 0; i < x.size(); ++i) ASSERT_NEAR(out[0][i], x[i] * fd[i], 1e-7) << i;
  // Pass passes the relevance on; the gradient methods take the SoftMax's gradient.
  const std::vector<Tensor<double>> passed = apply_rule(Rule::pass(), in);
  for (std::size_t i = 0; i < r.size(); ++i) ASSERT_EQ(passed[0][i], r[i]);
  std::vector<Tensor<double>> grad;
  sm.backward({&x}, s, r, grad);
  const std::vector<Tensor<double>> by_rule = apply_rule(Rule::gradient(), in);
  for (std::size_t i = 0; i < r.size(); ++i) ASSERT_EQ(by_rule[0][i], grad[0][i]);
}

// y = x + b: epsilon gives x the share x / stab(y), other LRP rules and gradients pass R on.
TEST(RulesTransformer, BiasTakesItsShareUnderEpsilonOnly) {
  const Bias<double> bias(random_tensor({3, 4}, 6));
  const Tensor<double> x = random_tensor({2, 3, 4}, 7);
  Tensor<double> y;
  bias.forward({&x}, y);
  const Tensor<double> r = random_tensor(y.shape(), 8);
  ParamCache<double> cache;
  const RuleInput<double> in{bias, 0, {&x}, y, r, cache};
  const std::vector<Tensor<double>> eps = apply_rule(Rule::epsilon_rule(0.01), in);
  for (std::size_t i = 0; i < x.size(); ++i) {
    ASSERT_DOUBLE_EQ(y[i], x[i] + bias.value()[i % 12]);
    ASSERT_NEAR(eps[0][i], x[i] * r[i] / (y[i] + (y[i] >= 0 ? 0.01 : -0.01)), 1e-14) << i;
  }
  for (const Rule& rule : {Rule::zplus(), Rule::gradient(), Rule::pass(), parse_rule("epsilon:0.01/nobias")}) {
    const std::vector<Tensor<double>> out = apply_rule(rule, in);
    for (std::size_t i = 0; i < r.size(); ++i) ASSERT_EQ(out[0][i], r[i]) << rule.text;
  }
}

// LayerNorm under epsilon with /nobias: s = R / stab(y - beta), so each row's relevance is
// conserved (sum_i x_i / sigma (gamma_i s_i - mean(gamma s)) = sum_i (y_i - beta_i) s_i); with
// beta in the denominator it is not.
TEST(RulesTransformer, LayerNormWithoutBiasConservesEachRow) {
  const std::size_t d = 16;
  const LayerNorm<double> ln(random_tensor({d}, 9, 0.5, 1.5), random_tensor({d}, 10, -2.0, 2.0), 1e-5);
  const Tensor<double> x = random_tensor({3, 5, d}, 11);
  Tensor<double> y;
  ln.forward({&x}, y);
  const Tensor<double> r = random_tensor(y.shape(), 12, 0.0, 1.0);
  ParamCache<double> cache;
  const RuleInput<double> in{ln, 0, {&x}, y, r, cache};
  const Tensor<double> kept = apply_rule(parse_rule("epsilon:1e-12/nobias"), in)[0];
  const Tensor<double> with_beta = apply_rule(parse_rule("epsilon:1e-12"), in)[0];
  double worst_kept = 0, worst_with_beta = 0;
  for (std::size_t row = 0; row < 15; ++row) {
    double in_sum = 0, in_sum_beta = 0, out_sum = 0;
    for (std::size_t i = 0; i < d; ++i) {
      in_sum += kept[row * d + i];
      in_sum_beta += with_beta[row * d + i];
      out_sum += r[row * d + i];
    }
    worst_kept = std::max(worst_kept, std::abs(in_sum - out_sum) / out_sum);
    worst_with_beta = std::max(worst_with_beta, std::abs(in_sum_beta - out_sum) / out_sum);
  }
  EXPECT_LT(worst_kept, 1e-9);
  EXPECT_GT(worst_with_beta, 0.05);  // beta took its share
}

}  // namespace
}  // namespace lrp
