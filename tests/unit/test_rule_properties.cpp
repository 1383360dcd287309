// LRP rules checked against independent references: explicit per-(i,j) formulas on a dense
// layer, a convolution against the same convolution unrolled into a dense matrix, relevance
// conservation where a rule conserves, and the gradient methods against finite differences.
#include <gtest/gtest.h>

#include <limits>

#include <random>

#include "lrp/explain/executor.hpp"
#include "lrp/layers/activation.hpp"
#include "lrp/explain/explain.hpp"
#include "lrp/layers/reshape.hpp"
#include "lrp/layers/resize.hpp"
#include "lrp/layers/linear.hpp"
#include "lrp/rules/composite.hpp"
#include "support/compare.hpp"
#include "support/group_contribution.hpp"
#include "support/random_model.hpp"

namespace lrp {
namespace {

double sgn(double z) { return z >= 0 ? 1.0 : -1.0; }

// Relevance of one Linear layer (y = Wx + b) under `rule`, via the engine.
Tensor<double> engine_linear(const Rule& rule, const Tensor<double>& w, const Tensor<double>& b, const Tensor<double>& x,
                             const Tensor<double>& r) {
  Model<double> m;
  m.input_shape = {x.dim(1)};
  m.add("fc", std::make_unique<Linear<double>>(w, b));
  Executor<double> ex(m);
  ex.forward(x);
  return ex.propagate(r, {rule});
}

// The same with explicit sums over contributions z_ij = x_i w_ji (Zennit's formulas).
Tensor<double> explicit_linear(const Rule& rule, const Tensor<double>& w, const Tensor<double>& b, const Tensor<double>& x,
                               const Tensor<double>& r) {
  const std::size_t n = x.dim(0), in = w.dim(1), out = w.dim(0);
  Tensor<double> res({n, in});
  const double e = rule.epsilon;
  for (std::size_t s = 0; s < n; ++s)
    for (std::size_t j = 0; j < out; ++j) {
      const double* xs = x.data() + s * in;
      const double* wj = w.data() + j * in;
      const double rj = r[s * out + j];
      double z = b[j], zp = std::max(b[j], 0.0), zn = std::min(b[j], 0.0), zl = 0, ga = b[j] + rule.gamma * std::max(b[j], 0.0),
             gb = b[j] + rule.gamma * std::min(b[j], 0.0), w2 = 0, cnt = 0;
      for (std::size_t i = 0; i < in; ++i) {
        const double c = xs[i] * wj[i];
        z += c;
        (c > 0 ? zp : zn) += c;
        zl += xs[i] * wj[i] - rule.low[0] * std::max(wj[i], 0.0) - rule.high[0] * std::min(wj[i], 0.0);
        const double wa = wj[i] + rule.gamma * std::max(wj[i], 0.0), wb = wj[i] + rule.gamma * std::min(wj[i], 0.0);
        ga += xs[i] > 0 ? xs[i] * wa : xs[i] * wb;
        gb += xs[i] > 0 ? xs[i] * wb : xs[i] * wa;
        w2 += wj[i] * wj[i];
        cnt += 1;
      }
      for (std::size_t i = 0; i < in; ++i) {
        const double c = xs[i] * wj[i];
        double v = 0;
        switch (rule.kind) {
          case RuleKind::Epsilon: v = c / (z + e * sgn(z)); break;
          case RuleKind::AlphaBeta:
            v = rule.alpha * (c > 0 ? c / (zp + e * sgn(zp)) : 0) - rule.beta * (c < 0 ? c / (zn + e * sgn(zn)) : 0);
            break;
          case RuleKind::Gamma: {
            const double wa = wj[i] + rule.gamma * std::max(wj[i], 0.0), wb = wj[i] + rule.gamma * std::min(wj[i], 0.0);
            if (z > 0) v = (xs[i] > 0 ? xs[i] * wa : xs[i] * wb) / (ga + e * sgn(ga));
            if (z < 0) v = (xs[i] > 0 ? xs[i] * wb : xs[i] * wa) / (gb + e * sgn(gb));
            break;
          }
          case RuleKind::ZBox:
            v = (xs[i] * wj[i] - rule.low[0] * std::max(wj[i], 0.0) - rule.high[0] * std::min(wj[i], 0.0)) / (zl + e * sgn(zl));
            break;
          case RuleKind::Flat: v = 1.0 / (cnt + e * sgn(cnt)); break;
          case RuleKind::WSquare: v = wj[i] * wj[i] / (w2 + e); break;
          default: ADD_FAILURE() << "no explicit formula";
        }
        res[s * in + i] += v * rj;
      }
    }
  return res;
}

TEST(RuleProperties, LinearRulesMatchExplicitFormulas) {
  std::mt19937_64 rng(11);
  const Tensor<double> w = test::random_tensor({5, 7}, rng), b = test::random_tensor({5}, rng, 0.3);
  const Tensor<double> x = test::random_tensor({3, 7}, rng);  // signed inputs exercise every term
  const Tensor<double> r = test::random_tensor({3, 5}, rng);
  std::vector<Rule> rules = {Rule::epsilon_rule(0.1), Rule::alpha_beta(2, 1), Rule::zplus(), Rule::gamma_rule(0.25),
                             Rule::zbox({-2.0}, {1.5}), Rule::flat(), parse_rule("w2"), parse_rule("alphabeta:3,2")};
  for (Rule rule : rules) {
    if (rule.kind == RuleKind::ZPlus) {
      rule.kind = RuleKind::AlphaBeta;
      rule.alpha = 1;
      rule.beta = 0;
    }
    if (rule.low.empty()) {
      rule.low = {0};
      rule.high = {0};
    }
    const Tensor<double> got = engine_linear(rule, w, b, x, r);
    const Tensor<double> want = explicit_linear(rule, w, b, x, r);
    EXPECT_LT(test::max_rel_error(got, want), 1e-12) << rule.text;
  }
}

// A convolution written out as the dense matrix it applies; every rule must agree.
TEST(RuleProperties, ConvolutionRulesMatchTheUnrolledDenseLayer) {
  std::mt19937_64 rng(5);
  for (const std::size_t groups : {1, 2}) {
    Window2d k;
    k.kh = 3;
    k.kw = 2;
    k.sh = 2;
    k.sw = 1;
    k.pt = 1;
    k.pl = 0;
    k.pb = 2;
    k.pr = 1;
    k.dh = 1;
    k.dw = 2;
    const std::size_t c = 4, h = 7, wd = 6, oc = 6;
    Conv2d<double> conv(test::random_tensor({oc, c / groups, 3, 2}, rng), test::random_tensor({oc}, rng, 0.3), k, groups);
    const Shape os = conv.output_shape({{c, h, wd}});
    const std::size_t in_n = c * h * wd, out_n = shape_numel(os);
    // Dense matrix: column i = conv applied to the unit vector e_i (without bias).
    Tensor<double> dense({out_n, in_n});
    for (std::size_t i = 0; i < in_n; ++i) {
      Tensor<double> e({1, c, h, wd});
      e[i] = 1;
      Tensor<double> z;
      conv.apply(e, conv.weight(), nullptr, z);
      for (std::size_t o = 0; o < out_n; ++o) dense[o * in_n + i] = z[o];
    }
    const Tensor<double> x = test::random_tensor({2, c, h, wd}, rng);
    const Tensor<double> r = test::random_tensor({2, os[0], os[1], os[2]}, rng);
    for (const Rule& rule : {Rule::epsilon_rule(0.01), Rule::alpha_beta(2, 1), Rule::gamma_rule(0.5), Rule::zbox({-1.0}, {2.0}),
                             parse_rule("w2")}) {
      Model<double> mc;
      mc.input_shape = {c, h, wd};
      mc.add("conv", std::unique_ptr<Layer<double>>(conv.to_double()));
      Executor<double> ec(mc);
      ec.forward(x);
      const Tensor<double> got = ec.propagate(r, {rule});
      const Tensor<double> want =
          engine_linear(rule, dense, conv.bias().vec().size() == oc ? [&] {
            Tensor<double> bb({out_n});
            for (std::size_t o = 0; o < out_n; ++o) bb[o] = conv.bias()[o / (os[1] * os[2])];
            return bb;
          }() : Tensor<double>(), x.reshaped({2, in_n}), r.reshaped({2, out_n}));
      EXPECT_LT(test::max_rel_error(got, want), 1e-10) << rule.text << " groups " << groups;
    }
  }
}

TEST(RuleProperties, ConservationWhereTheRuleConserves) {
  std::mt19937_64 rng(3);
  for (const bool bias : {false, true}) {
    const Model<double> m = test::random_cnn(rng, bias);
    const Tensor<double> x = test::random_tensor({4, 2, 12, 12}, rng);
    for (const std::string rule : {"flat", "w2", "z"}) {
      if (rule == "z" && bias) continue;  // biases absorb relevance under z
      ExplainRequest req;
      req.rules = uniform_rules(m, parse_rule(rule));
      const Explanation<double> e = explain(m, x, req);
      for (std::size_t s = 0; s < 4; ++s) {
        double in = 0, out = 0;
        for (std::size_t i = 0; i < e.relevance.sample_size(); ++i) in += e.relevance[s * e.relevance.sample_size() + i];
        out = e.output[s * 3 + e.targets[s]];
        EXPECT_NEAR(in, out, 1e-9 * std::max(1.0, std::abs(out))) << rule << " sample " << s;
      }
    }
  }
}

TEST(RuleProperties, GradientMethodIsScoreTimesFiniteDifferenceGradient) {
  std::mt19937_64 rng(9);
  const Model<double> m = test::random_cnn(rng, true);
  const Tensor<double> x = test::random_tensor({1, 2, 12, 12}, rng);
  ExplainRequest req;
  req.method = Method::Gradient;
  const Explanation<double> e = explain(m, x, req);
  const std::size_t t = e.targets[0];
  const double score = e.output[t];
  Executor<double> ex(m);
  const double h = 1e-6;
  for (std::size_t i = 0; i < x.size(); i += 7) {
    Tensor<double> xp = x, xm = x;
    xp[i] += h;
    xm[i] -= h;
    const double fd = (ex.forward(xp)[t] - ex.forward(xm)[t]) / (2 * h);
    EXPECT_NEAR(e.relevance[i], score * fd, 1e-6 * std::max(1.0, std::abs(score * fd))) << "input " << i;
  }
}

TEST(RuleProperties, AllTargetsEqualSeparateRunsAndMethodsAgree) {
  std::mt19937_64 rng(4);
  const Model<double> m = test::random_cnn(rng, true);
  const Tensor<double> x = test::random_tensor({2, 2, 12, 12}, rng);
  for (const Method method : {Method::LRP, Method::Gradient, Method::GuidedBackprop, Method::SmoothGrad}) {
    ExplainRequest all;
    all.method = method;
    all.rules = composite_rules(m, "epsilon_plus_flat");
    if (method == Method::SmoothGrad) all.rules.clear();
    all.options.samples = 3;
    all.target.kind = Target::Kind::All;
    const Explanation<double> ea = explain(m, x, all);
    ASSERT_EQ(ea.relevance.shape(), (Shape{2, 3, 2, 12, 12}));
    ExplainRequest in_passes = all;  // one target per pass
    in_passes.target_pass_bytes = 1;
    const Explanation<double> ep = explain(m, x, in_passes);
    ASSERT_EQ(ep.relevance.shape(), ea.relevance.shape());
    EXPECT_EQ(ep.targets, ea.targets);
    for (std::size_t i = 0; i < ep.relevance.size(); ++i) ASSERT_NEAR(ep.relevance[i], ea.relevance[i], 1e-12);
    for (std::size_t c = 0; c < 3; ++c) {
      ExplainRequest one = all;
      one.target.kind = Target::Kind::Classes;
      one.target.classes = {c};
      const Explanation<double> e1 = explain(m, x, one);
      const std::size_t per = 2 * 12 * 12;
      for (std::size_t s = 0; s < 2; ++s)
        for (std::size_t i = 0; i < per; ++i)
          ASSERT_NEAR(ea.relevance[(s * 3 + c) * per + i], e1.relevance[s * per + i], 1e-12);
    }
  }
}

// A PerSample target list may ask for a sample's predicted class (Target::kPredicted): those
// samples get what a Predicted target gives them, the others their listed class.
TEST(RuleProperties, PerSampleTargetsMixListedAndPredictedClasses) {
  std::mt19937_64 rng(5);
  const Model<double> m = test::random_cnn(rng, true);
  const Tensor<double> x = test::random_tensor({3, 2, 12, 12}, rng);
  ExplainRequest predicted;
  predicted.rules = composite_rules(m, "epsilon_plus_flat");
  const Explanation<double> ep = explain(m, x, predicted);
  ExplainRequest mixed = predicted;
  mixed.target.kind = Target::Kind::PerSample;
  const std::size_t other = (ep.targets[1] + 1) % 3;
  mixed.target.classes = {Target::kPredicted, other, Target::kPredicted};
  const Explanation<double> em = explain(m, x, mixed);
  EXPECT_EQ(em.targets, (std::vector<std::size_t>{ep.targets[0], other, ep.targets[2]}));
  ExplainRequest listed = predicted;
  listed.target.kind = Target::Kind::Classes;
  listed.target.classes = {other};
  const Explanation<double> el = explain(m, x, listed);
  const std::size_t per = x.sample_size();
  for (std::size_t i = 0; i < per; ++i) {
    ASSERT_EQ(em.relevance[i], ep.relevance[i]);
    ASSERT_EQ(em.relevance[per + i], el.relevance[per + i]);
    ASSERT_EQ(em.relevance[2 * per + i], ep.relevance[2 * per + i]);
  }
}

// Targets on an output with channels (a segmentation net: conv - ReLU - resize - conv to 3
// channels): channel:K and segment:K equal an explicit initial relevance built here by hand
// (channel K of the output, everywhere or where K is the largest channel), scores are the
// seeds' sums, predicted is the channel of largest score, and all = one run per channel.
TEST(RuleProperties, ChannelAndSegmentTargetsOnDenseOutputs) {
  std::mt19937_64 rng(12);
  Model<double> m;
  m.input_shape = {2, 6, 5};
  m.layout = DataLayout::NCHW;
  Window2d w;
  w.kh = w.kw = 3;
  w.pt = w.pl = w.pb = w.pr = 1;
  m.add("enc", std::make_unique<Conv2d<double>>(test::random_tensor({4, 2, 3, 3}, rng, 0.5), test::random_tensor({4}, rng, 0.1), w));
  m.add("relu", std::make_unique<Activation<double>>(ActivationSpec{}));
  m.add("up", std::make_unique<Resize2d<double>>(6, 5, resize_taps(6, 12, 2.0, ResizeCoordinates::HalfPixel, true, ResizeRounding::Floor),
                                                 resize_taps(5, 10, 2.0, ResizeCoordinates::HalfPixel, true, ResizeRounding::Floor),
                                                 "linear"));
  Window2d one;
  m.add("head", std::make_unique<Conv2d<double>>(test::random_tensor({3, 4, 1, 1}, rng), test::random_tensor({3}, rng, 0.1), one));
  const Tensor<double> x = test::random_tensor({2, 2, 6, 5}, rng);
  const std::size_t plane = 12 * 10, per_in = x.sample_size();
  ExplainRequest base;
  base.rules = composite_rules(m, "epsilon_plus");
  const Tensor<double> y = Explainer<double>(m).predict(x);
  for (const Target::Region region : {Target::Region::Channel, Target::Region::Segment}) {
    SCOPED_TRACE(region == Target::Region::Channel ? "channel" : "segment");
    // seeds and scores by hand
    std::vector<std::vector<double>> score(2, std::vector<double>(3, 0.0));
    std::vector<Tensor<double>> seed(3, Tensor<double>(y.shape()));
    for (std::size_t i = 0; i < 2; ++i)
      for (std::size_t p = 0; p < plane; ++p) {
        std::size_t best = 0;
        for (std::size_t k = 1; k < 3; ++k)
          if (y[(i * 3 + k) * plane + p] > y[(i * 3 + best) * plane + p]) best = k;
        for (std::size_t k = 0; k < 3; ++k)
          if (region == Target::Region::Channel || best == k) {
            const std::size_t at = (i * 3 + k) * plane + p;
            seed[k][at] = y[at];
            score[i][k] += y[at];
          }
      }
    ExplainRequest all = base;
    all.target.kind = Target::Kind::All;
    all.target.region = region;
    const Explanation<double> ea = explain(m, x, all);
    ASSERT_EQ(ea.relevance.shape(), (Shape{2, 3, 2, 6, 5}));
    for (std::size_t k = 0; k < 3; ++k) {
      ExplainRequest explicit_seed = base;
      explicit_seed.target.kind = Target::Kind::Relevance;
      explicit_seed.target.relevance = seed[k];
      const Explanation<double> ek = explain(m, x, explicit_seed);
      for (std::size_t i = 0; i < 2; ++i) {
        EXPECT_EQ(ea.targets[i * 3 + k], k);
        EXPECT_NEAR(ea.scores[i * 3 + k], score[i][k], 1e-12);
        for (std::size_t q = 0; q < per_in; ++q)
          ASSERT_NEAR(ea.relevance[(i * 3 + k) * per_in + q], ek.relevance[i * per_in + q], 1e-12) << "class " << k;
      }
    }
    ExplainRequest predicted = base;
    predicted.target.region = region;
    const Explanation<double> ep = explain(m, x, predicted);
    for (std::size_t i = 0; i < 2; ++i)
      EXPECT_EQ(ep.targets[i], static_cast<std::size_t>(std::max_element(score[i].begin(), score[i].end()) - score[i].begin()));
  }
  // A flat output has no channels.
  std::mt19937_64 rng2(13);
  ExplainRequest flat;
  const Model<double> cnn = test::random_cnn(rng2, true);
  flat.rules = composite_rules(cnn, "epsilon");
  flat.target = parse_target("segment:1");
  EXPECT_EQ(flat.target.region, Target::Region::Segment);
  EXPECT_THROW(explain(cnn, test::random_tensor({1, 2, 12, 12}, rng2), flat), ConfigError);
  EXPECT_THROW(parse_target("channel:segment:1"), ConfigError);
}

// The batch size for a list of inputs: what fits the pass budget, 1 to 64, fewer with more
// targets per sample.
TEST(RuleProperties, SamplesPerPassFollowsTheBudget) {
  std::mt19937_64 rng(6);
  const Model<double> m = test::random_cnn(rng, true);
  Explainer<double> ex(m);
  const Shape sample{2, 12, 12};
  double bytes = 0;
  for (const Shape& s : m.infer_shapes(sample)) bytes += static_cast<double>(shape_numel(s)) * sizeof(double);
  ExplainRequest req;
  req.target_pass_bytes = 10.5 * 2 * bytes;  // a sample holds its values and one relevance row
  EXPECT_EQ(ex.samples_per_pass(sample, req), 10u);
  req.target.kind = Target::Kind::All;  // 3 classes: values plus three relevance rows
  EXPECT_EQ(ex.samples_per_pass(sample, req), 5u);
  req.target_pass_bytes = 1;
  EXPECT_EQ(ex.samples_per_pass(sample, req), 1u);
  req.target_pass_bytes = 1e12;
  EXPECT_EQ(ex.samples_per_pass(sample, req), 64u);
}

// A batch larger than sample_pass_bytes runs in passes of as many samples as fit; every method
// and target kind gives what one pass gives. (SmoothGrad and dump_layers stay in one pass.)
TEST(RuleProperties, LargeBatchesRunInSamplePassesWithTheSameResult) {
  std::mt19937_64 rng(7);
  const Model<double> m = test::random_cnn(rng, true);
  const Tensor<double> x = test::random_tensor({5, 2, 12, 12}, rng);
  Explainer<double> ex(m);
  double two_samples = 0;  // the values of two samples and their relevance rows, plus a little
  for (const Shape& s : m.infer_shapes({2, 12, 12})) two_samples += static_cast<double>(shape_numel(s)) * sizeof(double);
  two_samples = 2 * 2 * two_samples + 1;
  struct Case {
    const char* name;
    Method method;
    Target target;
    std::size_t targets = 1;
  };
  Target per_sample{Target::Kind::PerSample, {2, Target::kPredicted, 0, 1, Target::kPredicted}, {}};
  Target classes{Target::Kind::Classes, {0, 2}, {}};
  Target relevance{Target::Kind::Relevance, {}, test::random_tensor({5, 3}, rng)};
  const std::vector<Case> cases = {{"lrp predicted", Method::LRP, Target{}},
                                   {"lrp per sample", Method::LRP, per_sample},
                                   {"lrp classes", Method::LRP, classes, 2},
                                   {"lrp relevance", Method::LRP, relevance},
                                   {"gradient", Method::Gradient, per_sample},
                                   {"integrated gradients", Method::IntegratedGradients, Target{}},
                                   {"occlusion", Method::Occlusion, classes, 2}};
  for (const Case& c : cases) {
    ExplainRequest one;
    one.method = c.method;
    if (c.method == Method::LRP) one.rules = composite_rules(m, "epsilon_alpha2_beta1");
    one.target = c.target;
    one.options.steps = 3;
    one.options.window = 4;
    one.options.stride = 4;
    ExplainRequest split = one;
    split.sample_pass_bytes = c.targets == 1 ? two_samples : two_samples * 3 / 2;  // with 2 targets a sample holds 3 rows
    const Explanation<double> a = ex.explain(x, one), b = ex.explain(x, split);
    EXPECT_EQ(a.sample_passes, 1u) << c.name;
    EXPECT_EQ(b.sample_passes, 3u) << c.name;
    ASSERT_EQ(a.relevance.shape(), b.relevance.shape()) << c.name;
    EXPECT_EQ(a.targets, b.targets) << c.name;
    EXPECT_EQ(a.targets_per_sample, b.targets_per_sample) << c.name;
    EXPECT_LT(test::max_rel_error(b.output, a.output), 1e-14) << c.name;
    EXPECT_LT(test::max_rel_error(b.relevance, a.relevance), 1e-12) << c.name;
  }
  ExplainRequest smooth;
  smooth.method = Method::SmoothGrad;
  smooth.options.samples = 2;
  smooth.sample_pass_bytes = 1;
  EXPECT_EQ(ex.explain(x, smooth).sample_passes, 1u);
}

TEST(RuleProperties, SmoothGradWithOneSampleIsTheGradient) {
  std::mt19937_64 rng(8);
  const Model<double> m = test::random_cnn(rng, true);
  const Tensor<double> x = test::random_tensor({2, 2, 12, 12}, rng);
  ExplainRequest g, s;
  g.method = Method::Gradient;
  s.method = Method::SmoothGrad;
  s.options.samples = 1;
  EXPECT_LT(test::max_rel_error(explain(m, x, s).relevance, explain(m, x, g).relevance), 1e-15);
}

// Noise parameters that are not finite numbers are refused, not turned into NaN maps (a NaN
// noise level made every noisy copy NaN).
TEST(RuleProperties, NonFiniteNoiseAndOcclusionValuesAreRefused) {
  std::mt19937_64 rng(9);
  const Model<double> m = test::random_cnn(rng, true);
  const Tensor<double> x = test::random_tensor({1, 2, 12, 12}, rng);
  ExplainRequest s;
  s.method = Method::SmoothGrad;
  s.options.samples = 3;
  for (double bad : {std::nan(""), std::numeric_limits<double>::infinity(), -0.1}) {
    s.options.noise_level = bad;
    EXPECT_THROW(explain(m, x, s), ConfigError) << bad;
  }
  ExplainRequest g;
  g.method = Method::GradientShap;
  g.options.stdevs = std::numeric_limits<double>::infinity();
  EXPECT_THROW(explain(m, x, g), ConfigError);
  ExplainRequest o;
  o.method = Method::Occlusion;
  o.options.occlusion_value = std::nan("");
  EXPECT_THROW(explain(m, x, o), ConfigError);
}

// SmoothGrad^2 and VarGrad against the per-copy gradients: the noisy copies are rebuilt here from
// the documented recipe (seeded std::mt19937_64, sigma = noise_level * (max - min) per sample,
// the last copy noise-free), each explained with the plain gradient from the clean input's seed
// (score * one-hot), then squared and averaged.
TEST(RuleProperties, SmoothGradSquaredAndVarGradAggregateThePerCopyGradients) {
  std::mt19937_64 rng(10);
  const Model<double> m = test::random_cnn(rng, true);
  const Tensor<double> x = test::random_tensor({2, 2, 12, 12}, rng);
  ExplainRequest s;
  s.method = Method::SmoothGrad;
  s.options.samples = 4;
  s.options.seed = 3;
  s.options.noise_level = 0.2;
  s.target = parse_target("1");
  std::mt19937_64 noise(s.options.seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  const std::size_t per = x.sample_size(), count = s.options.samples;
  Tensor<double> mean(x.shape()), mean_sq(x.shape());
  ExplainRequest g;
  g.method = Method::Gradient;
  const Tensor<double> y = explain(m, x, g).output;  // [2, 3]
  g.target.kind = Target::Kind::Relevance;
  g.target.relevance = Tensor<double>(y.shape());
  for (std::size_t i = 0; i < 2; ++i) g.target.relevance[i * 3 + 1] = y[i * 3 + 1];
  for (std::size_t c = 0; c < count; ++c) {
    Tensor<double> xc = x;
    if (c + 1 < count)
      for (std::size_t i = 0; i < 2; ++i) {
        const auto [lo, hi] = std::minmax_element(x.data() + i * per, x.data() + (i + 1) * per);
        for (std::size_t j = 0; j < per; ++j) xc[i * per + j] += s.options.noise_level * (*hi - *lo) * normal(noise);
      }
    const Tensor<double> gc = explain(m, xc, g).relevance;
    for (std::size_t i = 0; i < gc.size(); ++i) {
      mean[i] += gc[i] / static_cast<double>(count);
      mean_sq[i] += gc[i] * gc[i] / static_cast<double>(count);
    }
  }
  Tensor<double> var(x.shape());
  for (std::size_t i = 0; i < var.size(); ++i) var[i] = mean_sq[i] - mean[i] * mean[i];
  EXPECT_LT(test::max_rel_error(explain(m, x, s).relevance, mean), 1e-12);
  s.options.noise_type = NoiseType::SmoothGradSquared;
  EXPECT_LT(test::max_rel_error(explain(m, x, s).relevance, mean_sq), 1e-12);
  s.options.noise_type = NoiseType::VarGrad;
  const Tensor<double> v = explain(m, x, s).relevance;
  EXPECT_LT(test::max_rel_error(v, var), 1e-10);
  EXPECT_GT(test::sum(v), 0.0);  // the noise changed the gradient somewhere
  EXPECT_THROW(parse_noise_type("loud"), ConfigError);
}

// SmoothGrad and integrated gradients stack their input copies into batched passes; one copy
// per pass (a 1-byte budget) must give the same result.
TEST(RuleProperties, BatchedSmoothGradAndIntegratedGradientsEqualOneCopyPerPass) {
  std::mt19937_64 rng(9);
  const Model<double> m = test::random_cnn(rng, true);
  const Tensor<double> x = test::random_tensor({2, 2, 12, 12}, rng);
  for (const Method method : {Method::SmoothGrad, Method::IntegratedGradients}) {
    ExplainRequest batched;
    batched.method = method;
    batched.options.samples = 5;
    batched.options.steps = 7;
    batched.target.kind = Target::Kind::Classes;
    batched.target.classes = {0, 2};
    ExplainRequest single = batched;
    single.target_pass_bytes = 1;
    const Explanation<double> eb = explain(m, x, batched), es = explain(m, x, single);
    ASSERT_EQ(eb.relevance.shape(), es.relevance.shape());
    EXPECT_LT(test::max_rel_error(eb.relevance, es.relevance), 1e-12) << (method == Method::SmoothGrad ? "smoothgrad" : "integrated gradients");
  }
}

TEST(RuleProperties, IntegratedGradientsIsComplete) {
  std::mt19937_64 rng(10);
  const Model<double> m = test::random_cnn(rng, true);
  const Tensor<double> x = test::random_tensor({1, 2, 12, 12}, rng);
  ExplainRequest req;
  req.method = Method::IntegratedGradients;
  req.options.steps = 400;
  const Explanation<double> e = explain(m, x, req);
  const std::size_t t = e.targets[0];
  Executor<double> ex(m);
  const double f_x = ex.forward(x)[t];
  const double f_0 = ex.forward(Tensor<double>(x.shape()))[t];
  // The seed is the score f(x), so the attributions sum to f(x) * (f(x) - f(0)).
  EXPECT_NEAR(test::sum(e.relevance), f_x * (f_x - f_0), 2e-2 * std::abs(f_x * (f_x - f_0)) + 1e-6);
}

// Completeness from a baseline input: per sample, the attributions sum to f(x) (f(x) - f(b)),
// both for a baseline of the input's shape and for one sample's broadcast to every sample; a
// constant baseline equals the same constant given as an input; a wrong shape is refused.
TEST(RuleProperties, IntegratedGradientsFromABaselineInputIsComplete) {
  std::mt19937_64 rng(13);
  const Model<double> m = test::random_cnn(rng, true);
  const Tensor<double> x = test::random_tensor({2, 2, 12, 12}, rng);
  const Tensor<double> b = test::random_tensor({2, 2, 12, 12}, rng);
  ExplainRequest req;
  req.method = Method::IntegratedGradients;
  req.options.steps = 400;
  Executor<double> ex(m);
  const Tensor<double> fx = ex.forward(x);
  const Tensor<double> fb = ex.forward(b);
  const std::size_t per = x.sample_size(), classes = fx.dim(1);
  Tensor<double> first_only({1, 2, 12, 12});
  std::copy_n(b.data(), per, first_only.data());
  for (const bool broadcast : {false, true}) {
    req.options.baseline_input = broadcast ? first_only : b;
    const Explanation<double> e = explain(m, x, req);
    for (std::size_t s = 0; s < 2; ++s) {
      const std::size_t t = e.targets[s];
      const double f_b = broadcast ? fb[t] : fb[s * classes + t];  // sample 0's baseline for both
      const double want = fx[s * classes + t] * (fx[s * classes + t] - f_b);
      double got = 0;
      for (std::size_t i = 0; i < per; ++i) got += e.relevance[s * per + i];
      EXPECT_NEAR(got, want, 2e-2 * std::abs(want) + 1e-6) << "sample " << s << (broadcast ? ", one baseline for both" : "");
    }
  }
  req.options.steps = 5;
  req.options.baseline_input = Tensor<double>(x.shape(), 0.25);
  const Tensor<double> from_input = explain(m, x, req).relevance;
  req.options.baseline_input = Tensor<double>();
  req.options.baseline = 0.25;
  EXPECT_LT(test::max_rel_error(explain(m, x, req).relevance, from_input), 1e-14);
  req.options.baseline_input = Tensor<double>({3, 2, 12, 12});
  EXPECT_THROW(explain(m, x, req), ShapeError);
}

// DeepLIFT's Rescale rule sums to the difference from the baseline, exactly for networks of
// affine layers, elementwise nonlinearities and sum pools: per sample and target the
// attributions sum to score * (f_t(x) - f_t(b)) (the score seeds the sweep, as for the gradient
// methods). Checked with ReLU, Tanh and LeakyReLU, two targets per sample (one batched sweep),
// a baseline per sample, one for all, and a constant; in double (1e-9) and float (1e-4); and
// with the samples split into passes (the per-sample baselines split alike).
TEST(RuleProperties, DeepLiftSumsToTheDifferenceFromTheBaseline) {
  std::mt19937_64 rng(14);
  Model<double> m = test::random_cnn(rng, true);
  ActivationSpec tanh_spec, leaky_spec;
  tanh_spec.kind = ActivationKind::Tanh;
  leaky_spec.kind = ActivationKind::LeakyReLU;
  leaky_spec.alpha = 0.1;
  for (Node<double>& n : m.nodes()) {
    if (n.name == "relu2") n.layer = std::make_unique<Activation<double>>(tanh_spec);
    if (n.name == "relu3") n.layer = std::make_unique<Activation<double>>(leaky_spec);
  }
  const Tensor<double> x = test::random_tensor({3, 2, 12, 12}, rng);
  const Tensor<double> b = test::random_tensor({3, 2, 12, 12}, rng, 0.5);
  const std::size_t per = x.sample_size();
  ExplainRequest req;
  req.method = Method::DeepLift;
  req.target.kind = Target::Kind::Classes;
  req.target.classes = {0, 2};
  Executor<double> ex(m);
  const Tensor<double> fx = ex.forward(x);
  const std::size_t classes = fx.dim(1);
  Tensor<double> one({1, 2, 12, 12});
  std::copy_n(b.data(), per, one.data());
  for (const int kind : {0, 1, 2}) {  // per-sample baseline, one for all, the constant 0.3
    req.options.baseline_input = kind == 0 ? b : kind == 1 ? one : Tensor<double>();
    req.options.baseline = 0.3;
    Tensor<double> bx = kind == 0 ? b : Tensor<double>(x.shape(), 0.3);
    if (kind == 1)
      for (std::size_t i = 0; i < bx.size(); ++i) bx[i] = one[i % per];
    const Tensor<double> fb = ex.forward(bx);
    const Explanation<double> e = explain(m, x, req);
    const Explanation<float> ef = explain(m.convert<float>(), x.cast<float>(), req);
    ASSERT_EQ(e.relevance.shape(), (Shape{3, 2, 2, 12, 12}));
    for (std::size_t s = 0; s < 3; ++s)
      for (std::size_t j = 0; j < 2; ++j) {
        const std::size_t t = req.target.classes[j];
        const double want = fx[s * classes + t] * (fx[s * classes + t] - fb[s * classes + t]);
        double got = 0, got_f = 0;
        for (std::size_t i = 0; i < per; ++i) {
          got += e.relevance[(s * 2 + j) * per + i];
          got_f += ef.relevance[(s * 2 + j) * per + i];
        }
        EXPECT_NEAR(got, want, 1e-9 * (1 + std::abs(want))) << "baseline kind " << kind << " sample " << s << " class " << t;
        EXPECT_NEAR(got_f, want, 1e-4 * (1 + std::abs(want))) << "float, baseline kind " << kind << " sample " << s << " class " << t;
      }
    ExplainRequest split = req;
    split.sample_pass_bytes = 1;
    const Explanation<double> es = explain(m, x, split);
    EXPECT_GT(es.sample_passes, 1u);
    EXPECT_LT(test::max_rel_error(es.relevance, e.relevance), 1e-12) << "baseline kind " << kind;
  }
}

// Per sample: the sum of its map (one target each) and score * (f_t(x) - mean over the baseline
// draws of f_t(b)), what DeepLiftShap gives exactly and GradientShap in expectation.
std::vector<std::pair<double, double>> sums_against_mean_baseline(const Model<double>& m, const Tensor<double>& x,
                                                                  const Tensor<double>& dist, const Explanation<double>& e) {
  Executor<double> ex(m);
  const Tensor<double> fx = ex.forward(x);
  const Tensor<double> fd = ex.forward(dist);
  const std::size_t per = x.sample_size(), classes = fx.dim(1), draws = dist.dim(0);
  std::vector<std::pair<double, double>> out;
  for (std::size_t s = 0; s < x.dim(0); ++s) {
    const std::size_t t = e.targets[s];
    double mean_fb = 0, got = 0;
    for (std::size_t d = 0; d < draws; ++d) mean_fb += fd[d * classes + t] / static_cast<double>(draws);
    for (std::size_t i = 0; i < per; ++i) got += e.relevance[s * per + i];
    out.emplace_back(got, fx[s * classes + t] * (fx[s * classes + t] - mean_fb));
  }
  return out;
}

// DeepLiftShap: DeepLIFT from every sample of a baseline distribution (here 4 draws for 2
// inputs), averaged: per sample the map sums to score * (f(x) - mean over draws of f(b)); with
// one draw it is DeepLIFT itself.
TEST(RuleProperties, DeepLiftShapSumsToTheDifferenceFromTheMeanBaselineOutput) {
  std::mt19937_64 rng(15);
  const Model<double> m = test::random_cnn(rng, true);
  const Tensor<double> x = test::random_tensor({2, 2, 12, 12}, rng);
  const Tensor<double> dist = test::random_tensor({4, 2, 12, 12}, rng, 0.5);
  ExplainRequest req;
  req.method = Method::DeepLiftShap;
  req.options.baseline_input = dist;
  const Explanation<double> e = explain(m, x, req);
  for (const auto& [got, want] : sums_against_mean_baseline(m, x, dist, e)) EXPECT_NEAR(got, want, 1e-9 * (1 + std::abs(want)));
  req.options.baseline_input = dist.rows(2, 1);
  const Tensor<double> one_draw = explain(m, x, req).relevance;
  req.method = Method::DeepLift;
  EXPECT_LT(test::max_rel_error(one_draw, explain(m, x, req).relevance), 1e-14);
}

// GradientShap estimates integrated gradients from random baselines: the expected sum of its map
// is score * (f(x) - mean f(b)), here within 5% with 30000 random points per input (fixed seed;
// a Monte Carlo estimate: 3000 points were 14% off on one sample). One copy per pass gives
// the same map (the random draws do not depend on how copies are batched).
TEST(RuleProperties, GradientShapSumsToTheDifferenceInExpectation) {
  std::mt19937_64 rng(16);
  const Model<double> m = test::random_cnn(rng, true);
  const Tensor<double> x = test::random_tensor({2, 2, 12, 12}, rng);
  const Tensor<double> dist = test::random_tensor({3, 2, 12, 12}, rng, 0.5);
  ExplainRequest req;
  req.method = Method::GradientShap;
  req.options.baseline_input = dist;
  req.options.samples = 30000;
  const Explanation<double> e = explain(m, x, req);
  for (const auto& [got, want] : sums_against_mean_baseline(m, x, dist, e)) EXPECT_NEAR(got, want, 0.05 * std::abs(want) + 1e-9);
  req.options.samples = 7;
  req.options.stdevs = 0.1;
  const Tensor<double> batched = explain(m, x, req).relevance;
  req.target_pass_bytes = 1;
  EXPECT_LT(test::max_rel_error(explain(m, x, req).relevance, batched), 1e-12);
  req.options.baseline_input = Tensor<double>({3, 5});
  EXPECT_THROW(explain(m, x, req), ShapeError);
}

// Feature ablation and Shapley value sampling. On a linear model both give every group
// sum over its elements of w_t,i (x_i - b_i) (exact: a linear score has no interactions). On the
// random CNN, Shapley sampling is efficient: per sample and order the group values sum to
// f_t(x) - f_t(b) exactly, so their mean does too; ablating one group that covers everything
// gives f_t(x) - f_t(b) everywhere. Bad masks are refused.
TEST(RuleProperties, FeatureAblationAndShapleySampling) {
  std::mt19937_64 rng(17);
  const std::size_t per = 2 * 4 * 4;
  Model<double> lin;
  lin.input_shape = {2, 4, 4};
  lin.layout = DataLayout::NCHW;
  lin.add("flatten", std::make_unique<Flatten<double>>());
  const Tensor<double> w = test::random_tensor({3, per}, rng);
  lin.add("fc", std::make_unique<Linear<double>>(w, test::random_tensor({3}, rng)));
  const Tensor<double> x = test::random_tensor({2, 2, 4, 4}, rng), b = test::random_tensor({2, 2, 4, 4}, rng, 0.3);
  Tensor<double> mask({1, 2, 4, 4});  // 6 groups, ids with gaps (numbered densely inside)
  for (std::size_t i = 0; i < per; ++i) mask[i] = static_cast<double>(1000 * ((i / 4) % 3) + 3 * (i / 16));
  ExplainRequest req;
  req.options.baseline_input = b;
  req.options.feature_mask = mask;
  req.options.samples = 4;
  for (const Method method : {Method::FeatureAblation, Method::ShapleySampling}) {
    req.method = method;
    const Explanation<double> e = explain(lin, x, req);
    for (std::size_t s = 0; s < 2; ++s) {
      const std::size_t t = e.targets[s];
      for (std::size_t i = 0; i < per; ++i)
        ASSERT_NEAR(e.relevance[s * per + i], test::group_contribution(w, x, b, mask, s, t, i), 1e-12) << (method == Method::FeatureAblation ? "ablation" : "shapley") << " " << i;
    }
  }

  const Model<double> cnn = test::random_cnn(rng, true);
  const Tensor<double> xc = test::random_tensor({2, 2, 12, 12}, rng), bc = test::random_tensor({2, 2, 12, 12}, rng, 0.3);
  const std::size_t pc = xc.sample_size();
  Tensor<double> groups({1, 2, 12, 12});
  for (std::size_t i = 0; i < pc; ++i) groups[i] = static_cast<double>(((i % 144) / 12) / 4 * 3 + (i % 12) / 4);  // 3x3 blocks
  req.options.baseline_input = bc;
  req.options.feature_mask = groups;
  req.method = Method::ShapleySampling;
  const Explanation<double> e = explain(cnn, xc, req);
  Executor<double> ex(cnn);
  const Tensor<double> fx = ex.forward(xc), fb = ex.forward(bc);
  for (std::size_t s = 0; s < 2; ++s) {
    const std::size_t t = e.targets[s];
    double sum = 0;
    for (std::size_t gi = 0; gi < 9; ++gi)  // one element of each group
      for (std::size_t i = 0; i < pc; ++i)
        if (groups[i] == static_cast<double>(gi)) {
          sum += e.relevance[s * pc + i];
          break;
        }
    EXPECT_NEAR(sum, fx[s * 3 + t] - fb[s * 3 + t], 1e-10) << "sample " << s;
  }
  req.method = Method::FeatureAblation;
  req.options.feature_mask = Tensor<double>({1, 2, 12, 12});  // one group
  const Explanation<double> whole = explain(cnn, xc, req);
  for (std::size_t s = 0; s < 2; ++s)
    for (std::size_t i = 0; i < pc; ++i) ASSERT_NEAR(whole.relevance[s * pc + i], fx[s * 3 + whole.targets[s]] - fb[s * 3 + whole.targets[s]], 1e-12);

  req.options.feature_mask = Tensor<double>({1, 2, 12, 12}, 0.5);
  EXPECT_THROW(explain(cnn, xc, req), ConfigError);
  req.options.feature_mask = Tensor<double>({1, 2, 12, 12}, 1e12);  // one group, however large its id
  EXPECT_LT(test::max_rel_error(explain(cnn, xc, req).relevance, whole.relevance), 1e-15);
  req.options.feature_mask = Tensor<double>({1, 3, 12, 12});
  EXPECT_THROW(explain(cnn, xc, req), ShapeError);
  req.options.feature_mask = Tensor<double>();
  req.options.baseline_input = Tensor<double>();
  const Model<double> large = test::random_cnn(rng, true, 2, 48);
  EXPECT_THROW(explain(large, test::random_tensor({1, 2, 48, 48}, rng), req), ConfigError);  // 4608 elements, no groups
}

TEST(RuleProperties, OcclusionWithAWholeWindowGivesTheScore) {
  std::mt19937_64 rng(12);
  const Model<double> m = test::random_cnn(rng, true);
  const Tensor<double> x = test::random_tensor({2, 2, 12, 12}, rng);
  ExplainRequest req;
  req.method = Method::Occlusion;
  req.options.window = 12;
  req.options.stride = 12;
  const Explanation<double> e = explain(m, x, req);
  for (std::size_t s = 0; s < 2; ++s)
    for (std::size_t i = 0; i < 2 * 12 * 12; ++i) ASSERT_NEAR(e.relevance[s * 288 + i], e.output[s * 3 + e.targets[s]], 1e-12);
}

}  // namespace
}  // namespace lrp
