// Recurrent layers (LSTM, GRU with linear_before_reset 1 and 0, simple RNN with tanh or ReLU): the forward against a per-step loop written from the ONNX
// equations, the backward against central differences (every direction, several sequences,
// initial states), and their LRP (rules/recurrent_rules.cpp): relevance conserved where nothing
// absorbs it (no biases, zero initial states, the z-rule), several relevance rows per sample
// equal to one row at a time, float against double, two threads (each a direction, or half the
// rows) against one, and the rules they refuse.
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "lrp/core/error.hpp"
#include "lrp/explain/executor.hpp"
#include "lrp/explain/explain.hpp"
#include "lrp/graph/model.hpp"
#include "lrp/layers/gru.hpp"
#include "lrp/layers/lstm.hpp"
#include "layers/recurrent_math.hpp"
#include "lrp/layers/rnn.hpp"
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

double sig(double v) { return 1 / (1 + std::exp(-v)); }

// `candidate(v)`: the candidate's recurrent map R_h v + Rb_h of the step's direction (what linear_before_reset 0 applies to r * h).
using CandidateMap = std::function<std::vector<double>(const std::vector<double>&)>;

// Per layer type: its gate count, a random layer, and one step of its equations on scalars.
struct LstmCase {
  using Layer = Lstm<double>;
  static constexpr std::size_t kGates = 4;
  static Layer make(RecurrentDirection dir, const Tensor<double>& w, const Tensor<double>& r, const Tensor<double>& b, bool states,
                    unsigned seed) {
    const std::size_t dirs = direction_count(dir);
    return Layer(w, r, b, states ? random_tensor({dirs, kB, kH}, seed) : Tensor<double>(),
                 states ? random_tensor({dirs, kB, kH}, seed + 1) : Tensor<double>(), dir);
  }
  static std::vector<double> initial_cell(const Layer& l, std::size_t d, std::size_t s) {
    return {l.initial_cell(d, s), l.initial_cell(d, s) + kH};
  }
  // xw: W x + Wb, hr: R h + Rb per gate row (ONNX order i, o, f, c).
  static void step(const std::vector<double>& xw, const std::vector<double>& hr, std::vector<double>& h, std::vector<double>& c,
                   const CandidateMap&) {
    for (std::size_t j = 0; j < kH; ++j) {
      const auto pre = [&](std::size_t g) { return xw[g * kH + j] + hr[g * kH + j]; };
      c[j] = sig(pre(2)) * c[j] + sig(pre(0)) * std::tanh(pre(3));
      h[j] = sig(pre(1)) * std::tanh(c[j]);
    }
  }
};

template <bool kLinearBeforeReset>
struct GruCase {
  using Layer = Gru<double>;
  static constexpr std::size_t kGates = 3;
  static Layer make(RecurrentDirection dir, const Tensor<double>& w, const Tensor<double>& r, const Tensor<double>& b, bool states,
                    unsigned seed) {
    return Layer(w, r, b, states ? random_tensor({direction_count(dir), kB, kH}, seed) : Tensor<double>(), dir, kLinearBeforeReset);
  }
  static std::vector<double> initial_cell(const Layer&, std::size_t, std::size_t) { return std::vector<double>(kH); }
  // ONNX order z, r, h; linear_before_reset = 1: r multiplies R_h h + Rb_h; 0: R_h (r * h) + Rb_h.
  static void step(const std::vector<double>& xw, const std::vector<double>& hr, std::vector<double>& h, std::vector<double>&,
                   const CandidateMap& candidate) {
    std::vector<double> next(kH), reset_h(kH), r(kH);
    for (std::size_t j = 0; j < kH; ++j) r[j] = sig(xw[kH + j] + hr[kH + j]), reset_h[j] = r[j] * h[j];
    const std::vector<double> before = kLinearBeforeReset ? std::vector<double>() : candidate(reset_h);
    for (std::size_t j = 0; j < kH; ++j) {
      const double z = sig(xw[j] + hr[j]);
      const double n = std::tanh(xw[2 * kH + j] + (kLinearBeforeReset ? r[j] * hr[2 * kH + j] : before[j]));
      next[j] = (1 - z) * n + z * h[j];
    }
    h = next;
  }
};

template <RnnActivation F>
struct RnnCase {
  using Layer = Rnn<double>;
  static constexpr std::size_t kGates = 1;
  static Layer make(RecurrentDirection dir, const Tensor<double>& w, const Tensor<double>& r, const Tensor<double>& b, bool states,
                    unsigned seed) {
    return Layer(w, r, b, states ? random_tensor({direction_count(dir), kB, kH}, seed) : Tensor<double>(), dir, F);
  }
  static std::vector<double> initial_cell(const Layer&, std::size_t, std::size_t) { return std::vector<double>(kH); }
  static void step(const std::vector<double>& xw, const std::vector<double>& hr, std::vector<double>& h, std::vector<double>&,
                   const CandidateMap&) {
    for (std::size_t j = 0; j < kH; ++j) h[j] = F == RnnActivation::Tanh ? std::tanh(xw[j] + hr[j]) : std::max(xw[j] + hr[j], 0.0);
  }
};

template <class C>
class Recurrent : public ::testing::Test {
 protected:
  using Layer = typename C::Layer;
  static constexpr std::size_t G = C::kGates;

  static Layer make(RecurrentDirection dir, bool biases, bool states, unsigned seed) {
    const std::size_t dirs = direction_count(dir);
    const Tensor<double> b = biases ? random_tensor({dirs, 2 * G * kH}, seed + 2, 0.5) : Tensor<double>({dirs, 2 * G * kH});
    return C::make(dir, random_tensor({dirs, G * kH, kD}, seed, 0.8), random_tensor({dirs, G * kH, kH}, seed + 1, 0.8), b, states, seed + 3);
  }

  // Y [N, T, dirs, B, H] from the equations, one scalar at a time.
  static Tensor<double> naive_forward(const Layer& l, const Tensor<double>& x) {
    const auto p = l.params();
    const Tensor<double>&w = *p[0], &r = *p[1], &b = *p[2];
    const std::size_t dirs = l.directions();
    Tensor<double> y({kN, kT, dirs, kB, kH});
    for (std::size_t d = 0; d < dirs; ++d)
      for (std::size_t n = 0; n < kN; ++n)
        for (std::size_t s = 0; s < kB; ++s) {
          std::vector<double> h(l.initial_hidden(d, s), l.initial_hidden(d, s) + kH), c = C::initial_cell(l, d, s);
          for (std::size_t step = 0; step < kT; ++step) {
            const std::size_t t = l.reversed(d) ? kT - 1 - step : step;
            std::vector<double> xw(G * kH), hr(G * kH);
            for (std::size_t k = 0; k < G * kH; ++k) {
              xw[k] = b[d * 2 * G * kH + k];
              hr[k] = b[d * 2 * G * kH + G * kH + k];
              for (std::size_t e = 0; e < kD; ++e) xw[k] += w[(d * G * kH + k) * kD + e] * x[((n * kT + t) * kB + s) * kD + e];
              for (std::size_t e = 0; e < kH; ++e) hr[k] += r[(d * G * kH + k) * kH + e] * h[e];
            }
            const CandidateMap candidate = [&](const std::vector<double>& v) {  // gate block G-1 of R: the candidate's
              std::vector<double> out(kH);
              for (std::size_t j = 0; j < kH; ++j) {
                const std::size_t k = (G - 1) * kH + j;
                out[j] = b[d * 2 * G * kH + G * kH + k];
                for (std::size_t e = 0; e < kH; ++e) out[j] += r[(d * G * kH + k) * kH + e] * v[e];
              }
              return out;
            };
            C::step(xw, hr, h, c, candidate);
            for (std::size_t j = 0; j < kH; ++j) y[(((n * kT + t) * dirs + d) * kB + s) * kH + j] = h[j];
          }
        }
    return y;
  }

  // `saved`: what the layer's forward_saving saved for x, as the executor passes it, or nullptr
  // (the rule recomputes it).
  static std::vector<Tensor<double>> relevance(const Rule& rule, const Layer& l, const Tensor<double>& x, const Tensor<double>& r,
                                               std::size_t repeat = 1, const Tensor<double>* saved = nullptr) {
    ParamCache<double> cache;
    const Tensor<double> none;
    RuleInput<double> in{l, 0, {&x}, none, r, cache};
    in.saved = saved;
    in.repeat = repeat;
    return apply_rule(rule, in);
  }
};

using Cases = ::testing::Types<LstmCase, GruCase<true>, GruCase<false>, RnnCase<RnnActivation::Tanh>, RnnCase<RnnActivation::Relu>>;
struct CaseNames {
  template <class C>
  static std::string GetName(int) {
    if (std::is_same_v<C, LstmCase>) return "Lstm";
    if (std::is_same_v<C, GruCase<true>>) return "Gru";
    if (std::is_same_v<C, GruCase<false>>) return "GruResetBeforeR";
    return std::is_same_v<C, RnnCase<RnnActivation::Tanh>> ? "RnnTanh" : "RnnRelu";
  }
};
TYPED_TEST_SUITE(Recurrent, Cases, CaseNames);

const RecurrentDirection kDirections[] = {RecurrentDirection::Forward, RecurrentDirection::Reverse, RecurrentDirection::Bidirectional};

TYPED_TEST(Recurrent, ForwardFollowsTheEquations) {
  for (RecurrentDirection dir : kDirections) {
    SCOPED_TRACE(recurrent_direction_name(dir));
    const auto l = TestFixture::make(dir, true, true, 10);
    const Tensor<double> x = random_tensor({kN, kT, kB, kD}, 20);
    Tensor<double> y;
    l.forward({&x}, y);
    EXPECT_EQ(l.output_shape({{kT, kB, kD}}), (Shape{kT, direction_count(dir), kB, kH}));
    EXPECT_LE(max_rel_error(y, TestFixture::naive_forward(l, x)), 1e-13);
  }
}

TYPED_TEST(Recurrent, BackwardMatchesCentralDifferences) {
  for (RecurrentDirection dir : kDirections) {
    SCOPED_TRACE(recurrent_direction_name(dir));
    const auto l = TestFixture::make(dir, true, true, 30);
    const Tensor<double> x = random_tensor({kN, kT, kB, kD}, 40);
    const Tensor<double> g = random_tensor({kN, kT, direction_count(dir), kB, kH}, 50);
    std::vector<Tensor<double>> din;
    l.backward({&x}, Tensor<double>(), g, din);
    ASSERT_EQ(din.size(), 1u);
    EXPECT_LE(max_rel_error(din[0], finite_difference_vjp(l, x, g, 1e-6)), 1e-8);
  }
}

// The executor keeps the gate inputs that the layer's forward_saving saves (every step's matrix
// products) for the rules and the backward, which recompute them when not given: both must give
// the same (1e-12; the forward's own numbers, so measured 0).
TYPED_TEST(Recurrent, SavedGateInputsGiveWhatRecomputingGives) {
  for (RecurrentDirection dir : kDirections) {
    SCOPED_TRACE(recurrent_direction_name(dir));
    const auto l = TestFixture::make(dir, true, true, 130);
    const Tensor<double> x = random_tensor({kN, kT, kB, kD}, 131);
    const Tensor<double> r = random_tensor({kN * 2, kT, direction_count(dir), kB, kH}, 132);
    Tensor<double> y, y_plain, saved;
    l.forward_saving({&x}, y, saved);
    l.forward({&x}, y_plain);
    EXPECT_EQ(max_rel_error(y, y_plain), 0.0);
    ASSERT_EQ(saved.shape(), l.gate_inputs_shape(x));
    for (const Rule& rule : {Rule::epsilon_rule(1e-6), Rule::alpha_beta(2, 1), Rule::flat()}) {
      SCOPED_TRACE(rule.text);
      EXPECT_LE(max_rel_error(TestFixture::relevance(rule, l, x, r, 2, &saved).at(0), TestFixture::relevance(rule, l, x, r, 2).at(0)), 1e-12);
    }
    std::vector<Tensor<double>> kept, recomputed;  // the gradient, through the backward
    const Tensor<double> g = r.rows(0, kN);
    l.backward_saved(x, &saved, g, kept);
    l.backward({&x}, y, g, recomputed);
    EXPECT_LE(max_rel_error(kept.at(0), recomputed.at(0)), 1e-12);
    EXPECT_LE(max_rel_error(TestFixture::relevance(Rule::gradient(), l, x, g, 1, &saved).at(0), recomputed.at(0)), 1e-12);
    // Gate inputs of another shape are not this input's: refused, not read out of bounds.
    const Tensor<double> other({saved.dim(0), saved.dim(1), saved.dim(2) - 1, saved.dim(3)});
    EXPECT_THROW(l.backward_saved(x, &other, g, kept), ShapeError);
    EXPECT_THROW(TestFixture::relevance(Rule::epsilon_rule(), l, x, r, 2, &other), ShapeError);
  }
}

// The executor keeps what the layer saves for a backward plan whose rule asks for it until the
// layer's rule has run (the relevance unchanged), then frees it; a forward-only plan saves nothing.
TYPED_TEST(Recurrent, ExecutorKeepsTheSavedGateInputsForTheSweepOnly) {
  Model<double> m;
  m.input_shape = {kT, kB, kD};
  m.add("rnn", std::make_unique<typename TestFixture::Layer>(TestFixture::make(RecurrentDirection::Bidirectional, true, true, 140)));
  const Tensor<double> x = random_tensor({kN, kT, kB, kD}, 141);
  const auto& layer = static_cast<const typename TestFixture::Layer&>(*m.nodes()[0].layer);
  Executor<double> ex(m);
  ex.plan_forward_only();
  ex.forward(x);
  EXPECT_TRUE(ex.saved(0).empty());
  const std::vector<Rule> rules{Rule::epsilon_rule(1e-6)};
  ex.plan_backward(rules);
  ex.forward(x);
  EXPECT_EQ(ex.saved(0).shape(), layer.gate_inputs_shape(x));
  const Tensor<double> r = random_tensor({kN, kT, 2, kB, kH}, 142);
  EXPECT_LE(max_rel_error(ex.propagate(r, rules), TestFixture::relevance(rules[0], layer, x, r).at(0)), 1e-12);
  EXPECT_TRUE(ex.saved(0).empty());
}

// Without biases and initial states the z-rule keeps the relevance: every sum splits exactly
// into its terms, and the affine maps have no bias to absorb any. (Rules that drop an output's
// relevance when its positive part is 0, or give some to the zero initial state, as w2 and flat
// do, need not.)
TYPED_TEST(Recurrent, ZRuleConservesRelevanceWithoutBiases) {
  for (RecurrentDirection dir : kDirections) {
    SCOPED_TRACE(recurrent_direction_name(dir));
    const auto l = TestFixture::make(dir, false, false, 60);
    const Tensor<double> x = random_tensor({kN, kT, kB, kD}, 70);
    const Tensor<double> r = random_tensor({kN, kT, direction_count(dir), kB, kH}, 80);
    const Tensor<double> rx = TestFixture::relevance(Rule::epsilon_rule(0.0), l, x, r).at(0);
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
TYPED_TEST(Recurrent, EpsilonLrpLetsBiasesAbsorbRelevance) {
  const auto l = TestFixture::make(RecurrentDirection::Forward, true, false, 90);
  const Tensor<double> x = random_tensor({kN, kT, kB, kD}, 91);
  const Tensor<double> r = random_tensor({kN, kT, 1, kB, kH}, 92);
  EXPECT_GT(std::abs(sum(TestFixture::relevance(Rule::epsilon_rule(1e-6), l, x, r).at(0)) - sum(r)), 1e-3);
}

TYPED_TEST(Recurrent, SeveralRowsPerSampleEqualOneRowAtATime) {
  const std::size_t k = 3;
  const auto l = TestFixture::make(RecurrentDirection::Bidirectional, true, true, 100);
  const Tensor<double> x = random_tensor({kN, kT, kB, kD}, 101);
  const Tensor<double> r = random_tensor({kN * k, kT, 2, kB, kH}, 102);
  for (const Rule& rule : {Rule::epsilon_rule(1e-6), Rule::alpha_beta(2, 1), Rule::flat()}) {
    SCOPED_TRACE(rule.text);
    const Tensor<double> all = TestFixture::relevance(rule, l, x, r, k).at(0);
    ASSERT_EQ(all.shape(), (Shape{kN * k, kT, kB, kD}));
    for (std::size_t row = 0; row < kN * k; ++row) {
      const Tensor<double> one = TestFixture::relevance(rule, l, x.rows(row / k, 1), r.rows(row, 1)).at(0);
      EXPECT_LE(max_rel_error(all.rows(row, 1), one), 1e-14) << "row " << row;
    }
  }
}

// The proportional splits divide by sums that come near 0 in random data (an LSTM's |c_t| down
// to 2e-4 here): float rounding of their terms then grows by |term| / |sum|. A stabiliser of 1e-2
// bounds that growth to about 1e3 for terms of order 10 (a ReLU RNN's states grow that large), so
// float stays within 1e-4 of double; measured 1.5e-5 (ReLU RNN), below 1e-5 for the others. The
// PyTorch fixtures (tests/golden/test_recurrent.cpp) check the default epsilon's float path on the
// models' own states at 1e-5.
TYPED_TEST(Recurrent, FloatMatchesDouble) {
  const auto l = TestFixture::make(RecurrentDirection::Bidirectional, true, true, 110);
  const auto lf = l.to_float();
  const Tensor<double> x = random_tensor({kN, kT, kB, kD}, 111);
  const Tensor<double> r = random_tensor({kN, kT, 2, kB, kH}, 112);
  const Tensor<float> xf = x.cast<float>(), rf = r.cast<float>();
  for (const Rule& rule : {Rule::epsilon_rule(1e-2), Rule::gamma_rule(0.25, 1e-2), Rule::alpha_beta(2, 1, 1e-2), Rule::gradient()}) {
    SCOPED_TRACE(rule.text);
    ParamCache<float> cache;
    const Tensor<float> none;
    const RuleInput<float> in{*lf, 0, {&xf}, none, rf, cache};
    EXPECT_LE(max_rel_error(apply_rule(rule, in).at(0), TestFixture::relevance(rule, l, x, r).at(0)), 1e-4);
  }
}

// With two threads a layer's sweep runs as two chains at once, one thread each
// (recurrent::for_each_chain): a bidirectional layer's directions, a one-direction layer's rows
// in two halves (here 4 rows: 2 samples of 2 sequences). Each chain keeps its own state and
// writes only its own data, so forward, backward and every rule give, in double, bit for bit
// what one thread gives. An error in either chain reaches the caller.
TYPED_TEST(Recurrent, ChainsOnTwoThreadsGiveWhatOneThreadGives) {
  {
    const int before = omp_get_max_threads();
    omp_set_num_threads(2);
    EXPECT_TRUE(recurrent::chains_in_parallel(1));  // so the runs with 2 threads below split
    omp_set_num_threads(1);
    EXPECT_FALSE(recurrent::chains_in_parallel(1));
    omp_set_num_threads(4);  // more threads: only steps too small for a team split into chains
    EXPECT_TRUE(recurrent::chains_in_parallel((std::size_t(1) << 20) - 1));
    EXPECT_FALSE(recurrent::chains_in_parallel(std::size_t(1) << 20));
    omp_set_num_threads(before);
  }
  const std::vector<Rule> rules{Rule::epsilon_rule(1e-6), Rule::alpha_beta(2, 1), Rule::zplus(), Rule::flat(), Rule::gradient()};
  for (RecurrentDirection dir : kDirections) {
    SCOPED_TRACE(recurrent_direction_name(dir));
    const auto l = TestFixture::make(dir, true, true, 150);
    const Tensor<double> x = random_tensor({kN, kT, kB, kD}, 151);
    const Tensor<double> r = random_tensor({kN * 2, kT, direction_count(dir), kB, kH}, 152);
    struct Results {
      Tensor<double> y, saved, dx;
      std::vector<Tensor<double>> rx;
    };
    const auto run = [&](int threads) {
      const int before = omp_get_max_threads();
      omp_set_num_threads(threads);
      Results out;
      l.forward_saving({&x}, out.y, out.saved);
      std::vector<Tensor<double>> din;
      l.backward_saved(x, &out.saved, r.rows(0, kN), din);
      out.dx = din.at(0);
      for (const Rule& rule : rules) {
        const bool gradient = rule.kind == RuleKind::Gradient;
        out.rx.push_back(TestFixture::relevance(rule, l, x, gradient ? r.rows(0, kN) : r, gradient ? 1 : 2, &out.saved).at(0));
      }
      omp_set_num_threads(before);
      return out;
    };
    const Results one = run(1), two = run(2);
    EXPECT_EQ(max_rel_error(two.y, one.y), 0.0);
    EXPECT_EQ(max_rel_error(two.saved, one.saved), 0.0);
    EXPECT_EQ(max_rel_error(two.dx, one.dx), 0.0);
    ASSERT_EQ(two.rx.size(), rules.size());
    for (std::size_t i = 0; i < rules.size(); ++i) EXPECT_EQ(max_rel_error(two.rx[i], one.rx[i]), 0.0) << rules[i].text;
    // zbox bounds for 2 channels on maps of more inputs: refused from the chains' threads.
    const int before = omp_get_max_threads();
    omp_set_num_threads(2);
    EXPECT_THROW(TestFixture::relevance(Rule::zbox({-1, -1}, {1, 1}), l, x, r, 2), ConfigError);
    omp_set_num_threads(before);
  }
}

// The pass budget of a list of inputs counts what a recurrent layer holds beside its output in
// the sweep: its saved gate inputs (gate_input_width per unit and step) and its trace while its
// rule runs (LSTM 8, GRU 6, RNN 2 values per unit and step), several times its output.
TYPED_TEST(Recurrent, PassBudgetCountsTheSavedGateInputsAndTheTrace) {
  Model<double> m;
  m.input_shape = {kT, kB, kD};
  m.add("rnn", std::make_unique<typename TestFixture::Layer>(TestFixture::make(RecurrentDirection::Bidirectional, true, true, 160)));
  const auto& layer = static_cast<const typename TestFixture::Layer&>(*m.nodes()[0].layer);
  const std::size_t traced = std::is_same_v<TypeParam, LstmCase> ? 8 : (TypeParam::kGates == 3 ? 6 : 2);
  EXPECT_EQ(layer.traced_per_unit(), traced);
  const double values = kT * kB * kD + kT * 2 * kB * kH;  // input and output per sample
  const double held = kT * kB * 2 * (layer.gate_input_width() + traced * kH);
  const double bytes = (values + held) * sizeof(double);
  Explainer<double> ex(m);
  ExplainRequest req;
  req.target_pass_bytes = 3.5 * 2 * bytes;  // a sample holds all that and one relevance row
  EXPECT_EQ(ex.samples_per_pass({kT, kB, kD}, req), 3u);  // counting the values alone: 10 or more
}

TYPED_TEST(Recurrent, RefusesWhatItCannotDo) {
  constexpr std::size_t gates = TypeParam::kGates;
  const auto l = TestFixture::make(RecurrentDirection::Forward, true, false, 120);
  const Tensor<double> x = random_tensor({kN, kT, kB, kD}, 121);
  const Tensor<double> r = random_tensor({kN, kT, 1, kB, kH}, 122);
  EXPECT_THROW(TestFixture::relevance(Rule::rescale(), l, x, r), ConfigError);  // DeepLIFT: gates multiply computed values
  EXPECT_THROW(TestFixture::relevance(Rule::pass(), l, x, r), ConfigError);     // the shape changes
  EXPECT_THROW(TestFixture::relevance(Rule::epsilon_rule(), l, x, random_tensor({kN, kT, 1, kB, kH + 1}, 123)), ShapeError);
  EXPECT_THROW(l.output_shape({{kT, kB, kD + 1}}), ShapeError);
  EXPECT_THROW(l.output_shape({{kT, kD}}), ShapeError);
  const Tensor<double> w({1, gates * kH, kD}), b({1, 2 * gates * kH});
  EXPECT_THROW(TypeParam::make(RecurrentDirection::Forward, w, Tensor<double>({1, gates * kH, kH + 1}), b, false, 0), ShapeError);  // R not [1, GH, H]
  EXPECT_THROW(TypeParam::make(RecurrentDirection::Bidirectional, w, Tensor<double>({1, gates * kH, kH}), b, false, 0), ShapeError);  // one direction for two
  EXPECT_THROW(TypeParam::make(RecurrentDirection::Forward, w, Tensor<double>({1, gates * kH, kH}), Tensor<double>({1, gates * kH}), false, 0), ShapeError);  // bias
}

}  // namespace
}  // namespace lrp::test
