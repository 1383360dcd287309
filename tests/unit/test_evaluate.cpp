// The evaluation measures (lrp/evaluate) on a linear model, whose scores under any perturbation
// are known in closed form: f(x) = b_t + w_t . x. The curves are checked against that sum, computed
// here directly (double, 1e-12); infidelity and max-sensitivity against properties that hold
// exactly for a linear model (the gradient predicts every change; a map proportional to x moves
// with the noise, so twice the radius gives twice the sensitivity).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <numeric>
#include <random>
#include <vector>

#include "lrp/core/error.hpp"
#include "lrp/evaluate/evaluate.hpp"
#include "lrp/explain/explain.hpp"
#include "lrp/layers/linear.hpp"
#include "lrp/layers/reshape.hpp"
#include "lrp/rules/rule.hpp"
#include "support/random_model.hpp"

namespace lrp {
namespace {

constexpr std::size_t kC = 2, kH = 3, kW = 5, kIn = kC * kH * kW, kOut = 3;

struct LinearCase {
  Model<double> model;
  Tensor<double> w, b, x;  // w [kOut, kIn], b [kOut], x [2, kC, kH, kW]
};

LinearCase linear_case() {
  std::mt19937_64 rng(11);
  LinearCase c;
  c.w = test::random_tensor({kOut, kIn}, rng);
  c.b = test::random_tensor({kOut}, rng, 0.5);
  c.x = test::random_tensor({2, kC, kH, kW}, rng);
  c.model.input_shape = {kC, kH, kW};
  c.model.layout = DataLayout::NCHW;
  c.model.add("flatten", std::make_unique<Flatten<double>>());
  c.model.add("fc", std::make_unique<Linear<double>>(c.w, c.b));
  return c;
}

double linear_score(const LinearCase& c, std::size_t t, const double* x) {
  double s = c.b[t];
  for (std::size_t i = 0; i < kIn; ++i) s += c.w[t * kIn + i] * x[i];
  return s;
}

// Maps [N*K, ...] of w_t * x (K = classes 0 and 2 per sample) and their masks.
struct Maps {
  Tensor<double> relevance, masks;
  std::vector<std::size_t> classes;
  std::size_t k = 0;
};
Maps gradient_x_input(Explainer<double>& ex, const LinearCase& c) {
  Maps m;
  Target t;
  t.kind = Target::Kind::Classes;
  t.classes = {0, 2};
  m.masks = evaluate::score_masks(ex.predict(c.x), t, m.classes, m.k);
  m.relevance = Tensor<double>({4, kC, kH, kW});
  for (std::size_t r = 0; r < 4; ++r)
    for (std::size_t i = 0; i < kIn; ++i) m.relevance[r * kIn + i] = c.w[m.classes[r] * kIn + i] * c.x[(r / 2) * kIn + i];
  return m;
}

// The curve of one map, by hand: tiles of side x side (cut at the border), ranked by their mean
// relevance summed over channels, filled with `fill` in that order.
std::vector<double> expected_curve(const LinearCase& c, const Maps& m, std::size_t map, std::size_t side, double fill, bool most_first,
                                   const std::vector<std::size_t>& done) {
  struct Tile {
    std::vector<std::size_t> cells;  // h * kW + w
    double mean = 0;
  };
  std::vector<Tile> tiles;
  for (std::size_t h0 = 0; h0 < kH; h0 += side)
    for (std::size_t w0 = 0; w0 < kW; w0 += side) {
      Tile t;
      double sum = 0;
      for (std::size_t h = h0; h < std::min(kH, h0 + side); ++h)
        for (std::size_t w = w0; w < std::min(kW, w0 + side); ++w) {
          t.cells.push_back(h * kW + w);
          for (std::size_t ch = 0; ch < kC; ++ch) sum += m.relevance[map * kIn + ch * kH * kW + h * kW + w];
        }
      t.mean = sum / static_cast<double>(t.cells.size());
      tiles.push_back(t);
    }
  std::vector<std::size_t> order(tiles.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return most_first ? tiles[a].mean > tiles[b].mean : tiles[a].mean < tiles[b].mean;
  });
  std::vector<double> curve;
  for (std::size_t n : done) {
    std::vector<double> x(c.x.data() + (map / m.k) * kIn, c.x.data() + (map / m.k + 1) * kIn);
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t cell : tiles[order[i]].cells)
        for (std::size_t ch = 0; ch < kC; ++ch) x[ch * kH * kW + cell] = fill;
    curve.push_back(linear_score(c, m.classes[map], x.data()));
  }
  return curve;
}

TEST(EvaluatePerturbation, CurvesOfALinearModelEqualItsScoreOnTheFilledInput) {
  const LinearCase c = linear_case();
  Explainer<double> ex(c.model);
  const Maps m = gradient_x_input(ex, c);
  const evaluate::Grid grid = evaluate::grid_of({kC, kH, kW}, false);
  // Pixels (15 of them, every one a step), then 2x2 tiles (2 x 3 of them, cut at the border)
  // over the first 5 of 6 in 3 steps: 0, 2, 3, 5 tiles (rounded to the nearest).
  struct Case {
    std::size_t region, steps;
    double fraction;
    std::vector<std::size_t> done;
  };
  for (const Case& cs : {Case{1, 100, 1.0, {}}, Case{2, 3, 5.0 / 6.0, {0, 2, 3, 5}}}) {
    evaluate::PerturbationOptions o;
    o.region = cs.region, o.steps = cs.steps, o.fraction = cs.fraction;
    o.fill = evaluate::parse_fill("0.75");
    o.orders = {evaluate::Order::LeastRelevantFirst, evaluate::Order::MostRelevantFirst};
    const evaluate::PerturbationResult r = evaluate::perturbation_curves(ex, c.x, m.relevance, m.masks, grid, o);
    std::vector<std::size_t> done = cs.done;
    if (done.empty())
      for (std::size_t s = 0; s <= kH * kW; ++s) done.push_back(s);
    ASSERT_EQ(r.perturbed_fraction.size(), done.size());
    const double tiles = cs.region == 1 ? kH * kW : 6;
    for (std::size_t s = 0; s < done.size(); ++s) EXPECT_DOUBLE_EQ(r.perturbed_fraction[s], static_cast<double>(done[s]) / tiles);
    for (std::size_t oi = 0; oi < 2; ++oi)
      for (std::size_t map = 0; map < 4; ++map) {
        const std::vector<double> want = expected_curve(c, m, map, cs.region, 0.75, oi == 1, done);
        double aopc = 0;
        for (std::size_t s = 0; s < done.size(); ++s) {
          EXPECT_NEAR(r.curves[oi][map * done.size() + s], want[s], 1e-12) << "region " << cs.region << " order " << oi << " map " << map << " step " << s;
          aopc += want[0] - want[s];
        }
        EXPECT_NEAR(r.aopc[oi][map], aopc / static_cast<double>(done.size()), 1e-12);
      }
    // Relevance w_t * x ranks by each pixel's contribution: the most relevant first must lower
    // the score at least as fast as the least relevant first, here strictly on average.
    for (std::size_t map = 0; map < 4; ++map) EXPECT_GT(r.aopc[1][map], r.aopc[0][map]) << map;
  }
}

TEST(EvaluatePerturbation, FillsAndTheRandomOrderAreReproducible) {
  const LinearCase c = linear_case();
  Explainer<double> ex(c.model);
  const Maps m = gradient_x_input(ex, c);
  const evaluate::Grid grid = evaluate::grid_of({kC, kH, kW}, false);
  evaluate::PerturbationOptions o;
  o.orders = {evaluate::Order::Random};
  o.fill = evaluate::parse_fill("uniform");
  o.seed = 5;
  const evaluate::PerturbationResult a = evaluate::perturbation_curves(ex, c.x, m.relevance, m.masks, grid, o);
  const evaluate::PerturbationResult b = evaluate::perturbation_curves(ex, c.x, m.relevance, m.masks, grid, o);
  EXPECT_EQ(a.curves, b.curves);
  o.seed = 6;
  EXPECT_NE(evaluate::perturbation_curves(ex, c.x, m.relevance, m.masks, grid, o).curves, a.curves);
  // A region covering the whole grid filled with its own mean: the linear score becomes
  // b + sum over channels of (sum of w) * mean, in one step.
  o.region = 8;
  o.fill = evaluate::parse_fill("mean");
  const evaluate::PerturbationResult r = evaluate::perturbation_curves(ex, c.x, m.relevance, m.masks, grid, o);
  ASSERT_EQ(r.perturbed_fraction.size(), 2u);
  for (std::size_t map = 0; map < 4; ++map) {
    const std::size_t t = m.classes[map], n = map / 2;
    double want = c.b[t];
    for (std::size_t ch = 0; ch < kC; ++ch) {
      double wsum = 0, xsum = 0;
      for (std::size_t p = 0; p < kH * kW; ++p) wsum += c.w[t * kIn + ch * kH * kW + p], xsum += c.x[n * kIn + ch * kH * kW + p];
      want += wsum * xsum / (kH * kW);
    }
    EXPECT_NEAR(r.curves[0][map * 2 + 1], want, 1e-12);
  }
}

// Maps run a few at a time hold less memory and give the same figures: every draw depends on
// the seed and the map alone.
TEST(EvaluatePasses, FiguresDoNotDependOnHowManyRowsRunAtOnce) {
  const LinearCase c = linear_case();
  Explainer<double> ex(c.model);
  const Maps m = gradient_x_input(ex, c);
  const evaluate::Grid grid = evaluate::grid_of({kC, kH, kW}, false);
  evaluate::PerturbationOptions p;
  p.orders = {evaluate::Order::MostRelevantFirst, evaluate::Order::Random, evaluate::Order::LeastRelevantFirst};
  p.fill = evaluate::parse_fill("uniform");
  p.region = 2;
  evaluate::InfidelityOptions f;
  evaluate::SensitivityOptions s;
  ExplainRequest req;
  req.rules.assign(2, parse_rule("epsilon:0.01"));
  req.target.kind = Target::Kind::Classes;
  req.target.classes = {0, 2};
  const Tensor<double> r = ex.explain(c.x, req).relevance.reshaped({4, kC, kH, kW});
  const auto all = ex.explain(c.x, req).targets;
  std::vector<std::vector<double>> first;
  for (std::size_t rows : {0, 1, 3}) {
    p.rows_per_pass = f.rows_per_pass = s.rows_per_pass = rows;
    const evaluate::PerturbationResult curves = evaluate::perturbation_curves(ex, c.x, m.relevance, m.masks, grid, p);
    const evaluate::InfidelityResult inf = evaluate::infidelity(ex, c.x, m.relevance, m.masks, f);
    const std::vector<double> sens = evaluate::max_sensitivity(ex, c.x, r, req, all, s);
    std::vector<std::vector<double>> got = curves.curves;
    got.push_back(inf.infidelity);
    got.push_back(sens);
    if (first.empty()) first = got;
    ASSERT_EQ(got.size(), first.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
      ASSERT_EQ(got[i].size(), first[i].size());
      for (std::size_t j = 0; j < got[i].size(); ++j)  // batch sizes may change the sums' rounding only
        EXPECT_NEAR(got[i][j], first[i][j], 1e-12 * (1 + std::abs(first[i][j]))) << rows << " rows at a time, figure " << i << "," << j;
    }
  }
}

TEST(EvaluatePerturbation, BadArgumentsAreRefused) {
  const LinearCase c = linear_case();
  Explainer<double> ex(c.model);
  const Maps m = gradient_x_input(ex, c);
  const evaluate::Grid grid = evaluate::grid_of({kC, kH, kW}, false);
  evaluate::PerturbationOptions o;
  EXPECT_THROW(evaluate::perturbation_curves(ex, c.x, m.relevance.rows(0, 3), m.masks, grid, o), ShapeError);
  EXPECT_THROW(evaluate::perturbation_curves(ex, c.x, m.relevance, m.masks.rows(0, 2), grid, o), ShapeError);
  EXPECT_THROW(evaluate::perturbation_curves(ex, c.x, m.relevance, m.masks, evaluate::Grid{1, kH, kW}, o), ShapeError);
  o.region = 0;
  EXPECT_THROW(evaluate::perturbation_curves(ex, c.x, m.relevance, m.masks, grid, o), ConfigError);
  for (const char* bad : {"", "nan", "inf", "1x", "median"}) EXPECT_THROW(evaluate::parse_fill(bad), ConfigError) << bad;
  Target relevance_target;
  relevance_target.kind = Target::Kind::Relevance;
  std::vector<std::size_t> classes;
  std::size_t k = 0;
  EXPECT_THROW(evaluate::score_masks(ex.predict(c.x), relevance_target, classes, k), ConfigError);
}

TEST(EvaluateGrid, ShapesMapToChannelsOfAPlane) {
  const auto eq = [](const evaluate::Grid& g, std::size_t c, std::size_t h, std::size_t w) {
    return g.channels == c && g.height == h && g.width == w;
  };
  EXPECT_TRUE(eq(evaluate::grid_of({3, 4, 5}, false), 3, 4, 5));
  EXPECT_TRUE(eq(evaluate::grid_of({3, 40}, true), 3, 1, 40));   // a 1-D network's signals
  EXPECT_TRUE(eq(evaluate::grid_of({7, 40}, false), 1, 7, 40));  // a sequence [T, D]
  EXPECT_TRUE(eq(evaluate::grid_of({784}, false), 1, 28, 28));
  EXPECT_TRUE(eq(evaluate::grid_of({10}, false), 1, 1, 10));
  EXPECT_TRUE(eq(evaluate::grid_of({2, 3, 4, 5}, false), 1, 1, 120));
}

TEST(EvaluateInfidelity, TheGradientOfALinearModelPredictsEveryChange) {
  const LinearCase c = linear_case();
  Explainer<double> ex(c.model);
  Maps m = gradient_x_input(ex, c);
  for (std::size_t r = 0; r < 4; ++r)
    for (std::size_t i = 0; i < kIn; ++i) m.relevance[r * kIn + i] = c.w[m.classes[r] * kIn + i];  // the gradient w_t
  evaluate::InfidelityOptions o;
  o.samples = 7;
  const evaluate::InfidelityResult exact = evaluate::infidelity(ex, c.x, m.relevance, m.masks, o);
  for (std::size_t r = 0; r < 4; ++r) EXPECT_LT(exact.infidelity[r], 1e-20) << r;
  // Twice the gradient: R . I = 2 w.I against a change of w.I, so the mean of (w.I)^2 > 0 is left;
  // scaled by its best factor (1/2) it is exact again.
  for (double& v : m.relevance) v *= 2;
  const evaluate::InfidelityResult twice = evaluate::infidelity(ex, c.x, m.relevance, m.masks, o);
  for (std::size_t r = 0; r < 4; ++r) {
    EXPECT_GT(twice.infidelity[r], 1e-3) << r;
    EXPECT_LT(twice.normalized_infidelity[r], 1e-18) << r;
  }
  o.samples = 0;
  EXPECT_THROW(evaluate::infidelity(ex, c.x, m.relevance, m.masks, o), ConfigError);
}

TEST(EvaluateSensitivity, ALinearMapMovesWithTheNoise) {
  const LinearCase c = linear_case();
  Explainer<double> ex(c.model);
  // LRP-z on a linear layer without bias is w_t * x: its change under noise d is w_t * d.
  LinearCase nobias = c;
  nobias.model = Model<double>();
  nobias.model.input_shape = c.model.input_shape;
  nobias.model.layout = DataLayout::NCHW;
  nobias.model.add("flatten", std::make_unique<Flatten<double>>());
  nobias.model.add("fc", std::make_unique<Linear<double>>(c.w, Tensor<double>({kOut})));
  Explainer<double> ez(nobias.model);
  ExplainRequest req;
  req.rules.assign(2, parse_rule("z"));
  req.target.kind = Target::Kind::Classes;
  req.target.classes = {0, 2};
  const Explanation<double> e = ez.explain(c.x, req);
  const Tensor<double> r0 = e.relevance.reshaped({4, kC, kH, kW});
  evaluate::SensitivityOptions o;
  o.samples = 5;
  o.radius = 0.01;
  const std::vector<double> s1 = evaluate::max_sensitivity(ez, c.x, r0, req, e.targets, o);
  o.radius = 0.02;
  const std::vector<double> s2 = evaluate::max_sensitivity(ez, c.x, r0, req, e.targets, o);
  for (std::size_t m = 0; m < 4; ++m) {
    double wnorm = 0, rnorm = 0;
    for (std::size_t i = 0; i < kIn; ++i) wnorm += std::pow(c.w[e.targets[m] * kIn + i], 2), rnorm += std::pow(r0[m * kIn + i], 2);
    EXPECT_GT(s1[m], 0.0);
    EXPECT_LE(s1[m], 0.01 * std::sqrt(wnorm / rnorm) * (1 + 1e-12));  // |d_i| <= radius
    EXPECT_NEAR(s2[m], 2 * s1[m], 1e-9 * s1[m]) << m;                   // the same draws, twice as wide
  }
}

// Two maps of 2 channels x 2 x 3 positions, pooled by hand:
//   map 0: channel sums (2, -2, 3, 0, 4, -1), positive relevance 9; map 1: (0, 5, 0, 0, 0, 0).
TEST(EvaluateLocalization, MassRankAndPointingByHand) {
  const evaluate::Grid grid{2, 2, 3};
  Tensor<double> r({2, 2, 2, 3});
  const double map0[] = {1, -2, 3, 0, 0, 0, /* channel 1 */ 1, 0, 0, 0, 4, -1};
  std::copy(std::begin(map0), std::end(map0), r.data());
  r[6 + 6 + 1] = 5;  // map 1, channel 1, position 1
  Tensor<double> mask({2, 6});
  mask[0] = mask[2] = 1;  // sample 0: positions 0 and 2
  mask[6 + 1] = 7;        // sample 1: position 1 (any nonzero value)
  evaluate::LocalizationResult got = evaluate::localization(r, 2, grid, mask);
  EXPECT_NEAR(got.mass_accuracy[0], 5.0 / 9.0, 1e-15);
  EXPECT_EQ(got.rank_accuracy[0], 0.5);  // the two most relevant: positions 4 (4) and 2 (3)
  EXPECT_EQ(got.pointing_hit[0], 0.0);   // the most relevant, position 4, is outside
  EXPECT_EQ(got.mass_accuracy[1], 1.0);
  EXPECT_EQ(got.rank_accuracy[1], 1.0);
  EXPECT_EQ(got.pointing_hit[1], 1.0);
  // The same masks in the sample's shape, marked in one channel each.
  Tensor<double> full({2, 2, 2, 3});
  full[6 + 0] = 1, full[2] = 1, full[12 + 1] = 1;
  const evaluate::LocalizationResult same = evaluate::localization(r, 2, grid, full);
  EXPECT_EQ(same.mass_accuracy, got.mass_accuracy);
  EXPECT_EQ(same.rank_accuracy, got.rank_accuracy);
  EXPECT_EQ(same.pointing_hit, got.pointing_hit);
  // One mask for every sample: position 4.
  Tensor<double> one({1, 6});
  one[4] = 1;
  got = evaluate::localization(r, 2, grid, one);
  EXPECT_NEAR(got.mass_accuracy[0], 4.0 / 9.0, 1e-15);
  EXPECT_EQ(got.rank_accuracy[0], 1.0);
  EXPECT_EQ(got.pointing_hit[0], 1.0);
  EXPECT_EQ(got.mass_accuracy[1], 0.0);
  EXPECT_EQ(got.pointing_hit[1], 0.0);
  // No positive relevance: mass 0; ties rank by position, so the first positions are "top".
  Tensor<double> zero({1, 2, 2, 3});
  Tensor<double> first({1, 6});
  first[0] = 1;
  got = evaluate::localization(zero, 1, grid, first);
  EXPECT_EQ(got.mass_accuracy[0], 0.0);
  EXPECT_EQ(got.rank_accuracy[0], 1.0);
  EXPECT_EQ(got.pointing_hit[0], 1.0);
  EXPECT_THROW(evaluate::localization(zero, 1, grid, Tensor<double>({1, 6})), ShapeError);  // an empty mask
  EXPECT_THROW(evaluate::localization(r, 2, grid, Tensor<double>({2, 5})), ShapeError);
  EXPECT_THROW(evaluate::localization(r, 2, grid, Tensor<double>({3, 6})), ShapeError);
}

TEST(EvaluateRandomization, SpearmanOfHandRankedSeries) {
  EXPECT_DOUBLE_EQ(evaluate::spearman({1, 5, 2, 8}, {10, 50, 20, 80}), 1.0);
  EXPECT_DOUBLE_EQ(evaluate::spearman({1, 5, 2, 8}, {-1, -5, -2, -8}), -1.0);
  // Ties share their average rank: ranks (1, 2.5, 2.5, 4) against (1, 2, 3, 4) give 4.5 / sqrt(4.5 * 5).
  EXPECT_NEAR(evaluate::spearman({1, 2, 2, 3}, {1, 2, 3, 4}), 4.5 / std::sqrt(22.5), 1e-15);
  EXPECT_EQ(evaluate::spearman({3, 3, 3}, {1, 2, 3}), 0.0);  // a constant series
  EXPECT_THROW(evaluate::spearman({1, 2}, {1, 2, 3}), ShapeError);
}

// On a small CNN: one step per weighted layer, from the output down; LRP-z maps lose most of
// their resemblance once every layer is random (a map that ignored the weights would keep 1);
// the same seed draws the same weights.
TEST(EvaluateRandomization, CascadeFromTheTopChangesTheMaps) {
  std::mt19937_64 rng(3);
  const Model<double> model = test::random_cnn(rng, true);
  const Tensor<double> x = test::random_tensor({3, 2, 12, 12}, rng);
  ExplainRequest req;
  req.rules.assign(model.nodes().size(), parse_rule("epsilon:1e-9"));
  const Explanation<double> e = explain(model, x, req);
  evaluate::RandomizationOptions o;
  const auto steps = evaluate::parameter_randomization(model, x, e.relevance, req, e.targets, o);
  ASSERT_EQ(steps.size(), 4u);
  const char* names[] = {"fc2", "fc1", "conv2", "conv1"};
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(steps[i].layer, names[i]);
    ASSERT_EQ(steps[i].spearman.size(), 3u);
    for (std::size_t m = 0; m < 3; ++m) {
      EXPECT_LE(std::abs(steps[i].spearman[m]), 1.0 + 1e-12);
      EXPECT_LE(std::abs(steps[i].spearman_abs[m]), 1.0 + 1e-12);
    }
  }
  double last = 0;
  for (double v : steps.back().spearman) last += v / 3;
  EXPECT_LT(last, 0.8);
  const auto again = evaluate::parameter_randomization(model, x, e.relevance, req, e.targets, o);
  EXPECT_EQ(again.back().spearman, steps.back().spearman);
  o.seed = 1;
  EXPECT_NE(evaluate::parameter_randomization(model, x, e.relevance, req, e.targets, o).back().spearman, steps.back().spearman);
  // The original model itself is left as it was: its map is unchanged.
  const Explanation<double> after = explain(model, x, req);
  for (std::size_t i = 0; i < after.relevance.size(); ++i) ASSERT_EQ(after.relevance[i], e.relevance[i]);
}

}  // namespace
}  // namespace lrp
