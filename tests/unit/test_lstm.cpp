// LSTM layer: the forward against a per-step loop written from the ONNX equations, the backward
// against central differences (every direction, several sequences, initial states), and its LRP
// (rules/recurrent_rules.cpp): relevance conserved where nothing absorbs it (no biases, zero
// initial states, no stabiliser), several relevance rows per sample equal to one row at a time,
// float against double, and the rules it refuses.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "lrp/core/error.hpp"
#include "lrp/layers/lstm.hpp"
#include "lrp/rules/apply.hpp"
#include "support/compare.hpp"
#include "support/finite_difference.hpp"

namespace lrp::test {
namespace {

constexpr std::size_t kN = 2, kT = 4, kB = 2, kD = 3, kH = 5;

Tensor<double> random_tensor(const Shape& s, unsigned seed, double scale = 1.0) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> nd(0.0, scale);
  Tensor<double> t(s);
  for (double& v : t) v = nd(rng);
  return t;
}

std::size_t dirs_of(LstmDirection d) { return d == LstmDirection::Bidirectional ? 2 : 1; }

Lstm<double> make_lstm(LstmDirection dir, bool biases, bool states, unsigned seed) {
  const std::size_t dirs = dirs_of(dir);
  Tensor<double> b({dirs, 8 * kH});
  if (biases) b = random_tensor({dirs, 8 * kH}, seed + 2, 0.5);
  return Lstm<double>(random_tensor({dirs, 4 * kH, kD}, seed, 0.8), random_tensor({dirs, 4 * kH, kH}, seed + 1, 0.8), b,
                      states ? random_tensor({dirs, kB, kH}, seed + 3) : Tensor<double>(),
                      states ? random_tensor({dirs, kB, kH}, seed + 4) : Tensor<double>(), dir);
}

double sig(double v) { return 1 / (1 + std::exp(-v)); }

// Y [N, T, dirs, B, H] from the equations, one scalar at a time.
Tensor<double> naive_forward(const Lstm<double>& l, const Tensor<double>& w, const Tensor<double>& r, const Tensor<double>& b,
                             const Tensor<double>& x) {
  const std::size_t dirs = l.directions();
  Tensor<double> y({kN, kT, dirs, kB, kH});
  for (std::size_t d = 0; d < dirs; ++d)
    for (std::size_t n = 0; n < kN; ++n)
      for (std::size_t s = 0; s < kB; ++s) {
        std::vector<double> h(l.initial_hidden(d, s), l.initial_hidden(d, s) + kH), c(l.initial_cell(d, s), l.initial_cell(d, s) + kH);
        for (std::size_t step = 0; step < kT; ++step) {
          const std::size_t t = l.reversed(d) ? kT - 1 - step : step;
          std::vector<double> pre(4 * kH);
          for (std::size_t k = 0; k < 4 * kH; ++k) {
            double v = b[d * 8 * kH + k] + b[d * 8 * kH + 4 * kH + k];
            for (std::size_t e = 0; e < kD; ++e) v += w[(d * 4 * kH + k) * kD + e] * x[((n * kT + t) * kB + s) * kD + e];
            for (std::size_t e = 0; e < kH; ++e) v += r[(d * 4 * kH + k) * kH + e] * h[e];
            pre[k] = v;
          }
          for (std::size_t j = 0; j < kH; ++j) {  // ONNX order: i, o, f, c
            c[j] = sig(pre[2 * kH + j]) * c[j] + sig(pre[j]) * std::tanh(pre[3 * kH + j]);
            h[j] = sig(pre[kH + j]) * std::tanh(c[j]);
            y[(((n * kT + t) * dirs + d) * kB + s) * kH + j] = h[j];
          }
        }
      }
  return y;
}

const LstmDirection kDirections[] = {LstmDirection::Forward, LstmDirection::Reverse, LstmDirection::Bidirectional};

TEST(Lstm, ForwardFollowsTheEquations) {
  for (LstmDirection dir : kDirections) {
    SCOPED_TRACE(lstm_direction_name(dir));
    const Lstm<double> l = make_lstm(dir, true, true, 10);
    const Tensor<double> x = random_tensor({kN, kT, kB, kD}, 20);
    Tensor<double> y;
    l.forward({&x}, y);
    const auto p = l.params();
    EXPECT_EQ(l.output_shape({{kT, kB, kD}}), (Shape{kT, dirs_of(dir), kB, kH}));
    EXPECT_LE(max_rel_error(y, naive_forward(l, *p[0], *p[1], *p[2], x)), 1e-13);
  }
}

TEST(Lstm, BackwardMatchesCentralDifferences) {
  for (LstmDirection dir : kDirections) {
    SCOPED_TRACE(lstm_direction_name(dir));
    const Lstm<double> l = make_lstm(dir, true, true, 30);
    const Tensor<double> x = random_tensor({kN, kT, kB, kD}, 40);
    const Tensor<double> g = random_tensor({kN, kT, dirs_of(dir), kB, kH}, 50);
    std::vector<Tensor<double>> din;
    l.backward({&x}, Tensor<double>(), g, din);
    ASSERT_EQ(din.size(), 1u);
    EXPECT_LE(max_rel_error(din[0], finite_difference_vjp(l, x, g, 1e-6)), 1e-8);
  }
}

std::vector<Tensor<double>> relevance(const Rule& rule, const Lstm<double>& l, const Tensor<double>& x, const Tensor<double>& r,
                                      std::size_t repeat = 1) {
  ParamCache<double> cache;
  const Tensor<double> none;
  RuleInput<double> in{l, 0, {&x}, none, r, cache};
  in.repeat = repeat;
  return apply_rule(rule, in);
}

// Without biases and initial states the z-rule keeps the relevance: the cell splits c_t exactly
// into its two terms, and the candidate's map has no bias to absorb any. (Rules that drop an
// output's relevance when its positive part is 0, or give some to the zero initial state, as
// w2 and flat do, need not.)
TEST(Lstm, ZRuleConservesRelevanceWithoutBiases) {
  for (LstmDirection dir : kDirections) {
    SCOPED_TRACE(lstm_direction_name(dir));
    const Lstm<double> l = make_lstm(dir, false, false, 60);
    const Tensor<double> x = random_tensor({kN, kT, kB, kD}, 70);
    const Tensor<double> r = random_tensor({kN, kT, dirs_of(dir), kB, kH}, 80);
    const Tensor<double> rx = relevance(Rule::epsilon_rule(0.0), l, x, r).at(0);
    ASSERT_EQ(rx.shape(), x.shape());
    for (std::size_t n = 0; n < kN; ++n) {
      double in_sum = 0, out_sum = 0;
      for (std::size_t i = 0; i < x.sample_size(); ++i) in_sum += rx[n * x.sample_size() + i];
      for (std::size_t i = 0; i < r.sample_size(); ++i) out_sum += r[n * r.sample_size() + i];
      EXPECT_NEAR(in_sum, out_sum, 1e-9 * std::abs(out_sum) + 1e-12);
    }
  }
}

// With biases the map must differ from the conserving one (the test above could not tell a rule
// that ignores the bias from one that drops the relevance it takes).
TEST(Lstm, EpsilonLrpLetsBiasesAbsorbRelevance) {
  const Lstm<double> l = make_lstm(LstmDirection::Forward, true, false, 90);
  const Tensor<double> x = random_tensor({kN, kT, kB, kD}, 91);
  const Tensor<double> r = random_tensor({kN, kT, 1, kB, kH}, 92);
  EXPECT_GT(std::abs(sum(relevance(Rule::epsilon_rule(1e-6), l, x, r).at(0)) - sum(r)), 1e-3);
}

TEST(Lstm, SeveralRowsPerSampleEqualOneRowAtATime) {
  const std::size_t k = 3;
  const Lstm<double> l = make_lstm(LstmDirection::Bidirectional, true, true, 100);
  const Tensor<double> x = random_tensor({kN, kT, kB, kD}, 101);
  const Tensor<double> r = random_tensor({kN * k, kT, 2, kB, kH}, 102);
  for (const Rule& rule : {Rule::epsilon_rule(1e-6), Rule::alpha_beta(2, 1), Rule::flat()}) {
    SCOPED_TRACE(rule.text);
    const Tensor<double> all = relevance(rule, l, x, r, k).at(0);
    ASSERT_EQ(all.shape(), (Shape{kN * k, kT, kB, kD}));
    for (std::size_t row = 0; row < kN * k; ++row) {
      const Tensor<double> one = relevance(rule, l, x.rows(row / k, 1), r.rows(row, 1)).at(0);
      EXPECT_LE(max_rel_error(all.rows(row, 1), one), 1e-14) << "row " << row;
    }
  }
}

// The cell's proportional split divides by c_t, which comes near 0 in random data (|c_t| down to
// 2e-4 here): float rounding of its two terms then grows by 1/|c_t|. A stabiliser of 1e-2 bounds
// that growth, so float stays within 1e-5 of double (the PyTorch fixtures, tests/golden/test_lstm.cpp,
// check the default epsilon's float path on the models' own states).
TEST(Lstm, FloatMatchesDouble) {
  const Lstm<double> l = make_lstm(LstmDirection::Bidirectional, true, true, 110);
  const auto lf = l.to_float();
  const Tensor<double> x = random_tensor({kN, kT, kB, kD}, 111);
  const Tensor<double> r = random_tensor({kN, kT, 2, kB, kH}, 112);
  const Tensor<float> xf = x.cast<float>(), rf = r.cast<float>();
  for (const Rule& rule : {Rule::epsilon_rule(1e-2), Rule::gamma_rule(0.25, 1e-2), Rule::alpha_beta(2, 1, 1e-2), Rule::gradient()}) {
    SCOPED_TRACE(rule.text);
    ParamCache<float> cache;
    const Tensor<float> none;
    const RuleInput<float> in{*lf, 0, {&xf}, none, rf, cache};
    EXPECT_LE(max_rel_error(apply_rule(rule, in).at(0), relevance(rule, l, x, r).at(0)), 1e-5);
  }
}

TEST(Lstm, RefusesWhatItCannotDo) {
  const Lstm<double> l = make_lstm(LstmDirection::Forward, true, false, 120);
  const Tensor<double> x = random_tensor({kN, kT, kB, kD}, 121);
  const Tensor<double> r = random_tensor({kN, kT, 1, kB, kH}, 122);
  EXPECT_THROW(relevance(Rule::rescale(), l, x, r), ConfigError);  // DeepLIFT: gates multiply computed values
  EXPECT_THROW(relevance(Rule::pass(), l, x, r), ConfigError);     // the shape changes
  EXPECT_THROW(relevance(Rule::epsilon_rule(), l, x, random_tensor({kN, kT, 1, kB, kH + 1}, 123)), ShapeError);
  EXPECT_THROW(l.output_shape({{kT, kB, kD + 1}}), ShapeError);
  EXPECT_THROW(l.output_shape({{kT, kD}}), ShapeError);
  EXPECT_THROW(Lstm<double>(Tensor<double>({1, 4 * kH, kD}), Tensor<double>({1, 4 * kH, kH + 1}), Tensor<double>({1, 8 * kH}), {}, {},
                            LstmDirection::Forward),
               ShapeError);
  EXPECT_THROW(Lstm<double>(Tensor<double>({1, 4 * kH, kD}), Tensor<double>({1, 4 * kH, kH}), Tensor<double>({1, 8 * kH}), {}, {},
                            LstmDirection::Bidirectional),
               ShapeError);
}

}  // namespace
}  // namespace lrp::test
