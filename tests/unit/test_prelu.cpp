// PRelu (parametric ReLU): forward against a naive loop (per-channel and shared slopes, rank 2
// to 4, double and float, the vector, per-plane, per-sample and OpenMP paths), the backward
// against central differences (and dy at x == 0), relevance passed through unchanged by every
// LRP rule, every method exactly as for a LeakyReLU of the same slope, parameter and shape
// checks, and the ONNX PRelu operator with each slope layout it accepts.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "lrp/core/error.hpp"
#include "lrp/explain/explain.hpp"
#include "lrp/io/onnx.hpp"
#include "lrp/layers/activation.hpp"
#include "lrp/layers/linear.hpp"
#include "lrp/layers/prelu.hpp"
#include "lrp/layers/reshape.hpp"
#include "lrp/rules/rule.hpp"
#include "support/compare.hpp"
#include "support/finite_difference.hpp"
#include "support/pass_through.hpp"
#include "support/onnx_test_util.hpp"

namespace lrp::test {
namespace {

// Normal values, every 7th exactly 0 (the x >= 0 branch), none closer to 0 than 1e-3 otherwise
// (central differences stay on one side of the kink).
Tensor<double> random_tensor(const Shape& s, unsigned seed, double scale = 2.0) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> nd(0.0, scale);
  Tensor<double> t(s);
  for (std::size_t i = 0; i < t.size(); ++i) {
    double v = nd(rng);
    if (std::abs(v) < 1e-3) v = v < 0 ? -1e-3 : 1e-3;
    t[i] = i % 7 == 3 ? 0.0 : v;
  }
  return t;
}

Tensor<double> slopes_of(std::size_t c, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> ud(-1.5, 2.5);  // negative, in (0, 1) and above 1
  Tensor<double> a({c});
  for (double& v : a) v = ud(rng);
  return a;
}

// y[n, c, ...] = x >= 0 ? x : a[c] x (a[0] for every c when shared).
template <class T>
Tensor<T> naive_prelu(const Tensor<T>& x, const Tensor<T>& a) {
  Tensor<T> y(x.shape());
  const std::size_t C = a.size() == 1 ? 1 : x.dim(1), S = x.sample_size() / C;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const T s = a[a.size() == 1 ? 0 : (i / S) % C];
    y[i] = x[i] >= T(0) ? x[i] : s * x[i];
  }
  return y;
}

// Per-channel cases: rank 2 (one element per plane), rank 3 with short planes, rank 4 with
// planes of 64 and more, and one large enough for the OpenMP threads; each also with a shared slope.
const std::vector<Shape>& shapes() {
  static const std::vector<Shape> s = {{2, 5}, {3, 6, 5}, {1, 3, 4, 4}, {2, 4, 9, 8}, {3, 16, 40, 41}, {4, 1}};
  return s;
}

TEST(PRelu, ForwardMatchesNaiveLoop) {
  unsigned seed = 1;
  for (const Shape& shape : shapes()) {
    for (bool shared : {false, true}) {
      SCOPED_TRACE(shape_str(shape) + (shared ? " shared" : " per channel"));
      const Tensor<double> x = random_tensor(shape, seed++), a = slopes_of(shared ? 1 : shape[1], seed++);
      Tensor<double> y;
      PRelu<double>(a).forward({&x}, y);
      EXPECT_EQ(y.shape(), shape);
      EXPECT_LE(max_rel_error(y, naive_prelu(x, a)), 0.0);  // one product or none: exact
      const Tensor<float> xf = x.cast<float>(), af = a.cast<float>();
      Tensor<float> yf;
      PRelu<float>(af).forward({&xf}, yf);
      const Tensor<float> want = naive_prelu(xf, af);
      ASSERT_EQ(yf.shape(), want.shape());
      for (std::size_t i = 0; i < yf.size(); ++i) ASSERT_EQ(yf[i], want[i]) << i;
    }
  }
}

// d/dx of sum(g * y) by central differences (h = 1e-6; no input within 1e-3 of the kink except
// exact zeros, where the layer takes dy, the x > 0 branch): piecewise linear, so within 1e-9 of
// the largest entry. The float backward equals the double one rounded.
TEST(PRelu, BackwardMatchesFiniteDifferences) {
  unsigned seed = 100;
  for (const Shape& shape : shapes()) {
    if (Tensor<double>(shape).size() > 2000) continue;  // 2 forwards per input element
    for (bool shared : {false, true}) {
      SCOPED_TRACE(shape_str(shape) + (shared ? " shared" : " per channel"));
      const Tensor<double> x = random_tensor(shape, seed++), g = random_tensor(shape, seed++, 1.0);
      const Tensor<double> a = slopes_of(shared ? 1 : shape[1], seed++);
      const PRelu<double> layer(a);
      Tensor<double> y;
      layer.forward({&x}, y);
      std::vector<Tensor<double>> din;
      layer.backward({&x}, y, g, din);
      ASSERT_EQ(din.size(), 1u);
      ASSERT_EQ(din[0].shape(), shape);
      Tensor<double> fd = finite_difference_vjp(layer, x, g, 1e-6);
      const std::size_t C = shared ? 1 : shape[1], S = x.sample_size() / C;
      for (std::size_t j = 0; j < x.size(); ++j) {
        if (x[j] == 0.0) fd[j] = g[j];  // the kink: dy (as for x > 0)
        else EXPECT_EQ(din[0][j], x[j] > 0 ? g[j] : a[shared ? 0 : (j / S) % C] * g[j]);
      }
      EXPECT_LE(max_rel_error(din[0], fd), 1e-9);
      const Tensor<float> xf = x.cast<float>(), gf = g.cast<float>();
      Tensor<float> yf;
      std::vector<Tensor<float>> dinf;
      const PRelu<float> layerf(a.cast<float>());
      layerf.forward({&xf}, yf);
      layerf.backward({&xf}, yf, gf, dinf);
      EXPECT_LE(max_rel_error(dinf[0], din[0]), 1e-7);
    }
  }
  // The large per-channel map (OpenMP, planes of 1640): the backward against its formula.
  const Shape big = shapes()[4];
  const Tensor<double> x = random_tensor(big, 7), g = random_tensor(big, 8), a = slopes_of(big[1], 9);
  const Tensor<float> xf = x.cast<float>(), gf = g.cast<float>(), af = a.cast<float>();
  Tensor<float> yf;
  std::vector<Tensor<float>> dinf;
  PRelu<float>(af).backward({&xf}, yf, gf, dinf);
  const std::size_t S = x.sample_size() / big[1];
  for (std::size_t j = 0; j < x.size(); ++j)
    ASSERT_EQ(dinf[0][j], xf[j] >= 0.0f ? gf[j] : af[(j / S) % big[1]] * gf[j]) << j;
}

// PRelu -> Flatten -> Linear: a model with a class output.
Model<double> prelu_model(const Tensor<double>& slopes) {
  Model<double> m;
  m.input_shape = {6, 3, 2};
  m.add("prelu", std::make_unique<PRelu<double>>(slopes));
  m.add("flat", std::make_unique<Flatten<double>>());
  m.add("fc", std::make_unique<Linear<double>>(random_tensor({4, 36}, 7, 0.5), random_tensor({4}, 8, 0.1)));
  return m;
}

// Every LRP rule passes the relevance through unchanged, in double and float, per channel and
// shared; through a classifier, two classes at once, the map at the PRelu's input equals the one
// at its output.
TEST(PRelu, LrpPassesRelevanceThroughUnchanged) {
  const Tensor<double> x = random_tensor({2, 6, 3, 2}, 3), r = random_tensor({2, 6, 3, 2}, 4);
  for (const Tensor<double>& a : {slopes_of(6, 5), slopes_of(1, 6)}) {
    Model<double> single;
    single.input_shape = {6, 3, 2};
    single.add("prelu", std::make_unique<PRelu<double>>(a));
    SCOPED_TRACE(std::to_string(a.size()) + " slopes");
    expect_every_lrp_rule_passes_through(single, x, r);
    expect_input_relevance_equals_node(prelu_model(a), {Rule::epsilon_rule(0.01), Rule::pass(), Rule::epsilon_rule(0.01)}, x, "prelu");
  }
}

// With one shared slope a PRelu is a LeakyReLU: every method and rule gives the same maps as
// the LeakyReLU model (deconvnet and guided backprop included: both take the exact gradient).
TEST(PRelu, EveryMethodAsForLeakyRelu) {
  const Tensor<double> x = random_tensor({2, 6, 3, 2}, 12);
  for (double slope : {0.2, -0.7, 1.6}) {
    const Model<double> pm = prelu_model(Tensor<double>({1}, slope));
    Model<double> lm;
    lm.input_shape = {6, 3, 2};
    ActivationSpec spec{ActivationKind::LeakyReLU};
    spec.alpha = slope;
    lm.add("prelu", std::make_unique<Activation<double>>(spec));
    lm.add("flat", std::make_unique<Flatten<double>>());
    lm.add("fc", std::make_unique<Linear<double>>(random_tensor({4, 36}, 7, 0.5), random_tensor({4}, 8, 0.1)));
    for (Method method : {Method::LRP, Method::Gradient, Method::GradientXInput, Method::DeconvNet, Method::GuidedBackprop}) {
      for (const std::string rule : {"epsilon:0.01", "alphabeta:2"}) {
        SCOPED_TRACE(std::to_string(slope) + " method " + std::to_string(static_cast<int>(method)) + " " + rule);
        ExplainRequest req;
        req.method = method;
        if (method == Method::LRP) req.rules = std::vector<Rule>(3, parse_rule(rule));
        req.target.kind = Target::Kind::Classes;
        req.target.classes = {1, 2};
        const Explanation<double> want = explain(lm, x, req), got = explain(pm, x, req);
        EXPECT_LE(max_rel_error(got.output, want.output), 0.0);
        EXPECT_LE(max_rel_error(got.relevance, want.relevance), 0.0);
        const Explanation<float> gotf = explain(pm.convert<float>(), x.cast<float>(), req);
        EXPECT_LE(max_rel_error(gotf.relevance, want.relevance), 1e-5);
      }
    }
  }
}

// Gradient methods on a per-channel PRelu: the seed times the layer's exact backward.
TEST(PRelu, GradientMethodsUseTheExactBackward) {
  const Tensor<double> a = slopes_of(6, 21);
  const Model<double> m = prelu_model(a);
  const Tensor<double> x = random_tensor({2, 6, 3, 2}, 22);
  const auto& fc = static_cast<const Linear<double>&>(*m.nodes()[2].layer);
  for (Method method : {Method::Gradient, Method::GradientXInput, Method::DeconvNet, Method::GuidedBackprop}) {
    SCOPED_TRACE(static_cast<int>(method));
    ExplainRequest req;
    req.method = method;
    req.target.kind = Target::Kind::Classes;
    req.target.classes = {1, 2};
    const Explanation<double> e = explain(m, x, req);
    ASSERT_EQ(e.relevance.shape(), (Shape{2, 2, 6, 3, 2}));
    for (std::size_t t = 0; t < 2; ++t)
      for (std::size_t n = 0; n < 2; ++n)
        for (std::size_t i = 0; i < 36; ++i) {
          const double xi = x[n * 36 + i];
          double want = fc.weight()[(t + 1) * 36 + i] * (xi >= 0 ? 1.0 : a[i / 6]);
          if (method == Method::GradientXInput) want *= xi;
          EXPECT_NEAR(e.relevance[(n * 2 + t) * 36 + i], e.output[n * 4 + t + 1] * want, 1e-13);
        }
  }
}

TEST(PRelu, RejectsBadSlopesAndShapes) {
  const auto expect_config_error = [](auto make, const std::string& needle) {
    try {
      make();
      ADD_FAILURE() << "accepted " << needle;
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_config_error([] { PRelu<double>(Tensor<double>({3}, std::vector<double>{0.1, NAN, 0.2})); }, "slope 1");
  expect_config_error([] { PRelu<float>(Tensor<float>({1}, std::vector<float>{INFINITY})); }, "slope 0");
  expect_config_error([] { PRelu<double>(Tensor<double>({0})); }, "at least one slope");
  const PRelu<double> per(slopes_of(4, 1));
  try {
    (void)per.output_shape({Shape{3, 5, 5}});
    ADD_FAILURE() << "accepted 3 channels";
  } catch (const ShapeError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("4 slopes"), std::string::npos) << msg;
    EXPECT_NE(msg.find("3 channels"), std::string::npos) << msg;
  }
  EXPECT_THROW((void)per.output_shape({Shape{}}), ShapeError);
  EXPECT_EQ(per.output_shape({Shape{4, 2, 2}}), (Shape{4, 2, 2}));
  EXPECT_EQ(per.output_shape({Shape{4}}), (Shape{4}));
  const Tensor<double> x1({3}), x3({2, 3, 2});
  Tensor<double> y;
  std::vector<Tensor<double>> din;
  EXPECT_THROW(per.forward({&x1}, y), ShapeError);
  EXPECT_THROW(per.forward({&x3}, y), ShapeError);
  EXPECT_THROW(per.backward({&x3}, x3, x3, din), ShapeError);
  // A shared slope takes any input, with or without a channel axis.
  const PRelu<double> one(Tensor<double>({1}, 0.5));
  EXPECT_EQ(one.output_shape({Shape{}}), Shape{});
  EXPECT_NO_THROW(one.forward({&x1}, y));
  // A model with a mismatched PRelu fails when its shapes are inferred.
  Model<double> m;
  m.input_shape = {3, 2, 2};
  m.add("prelu", std::make_unique<PRelu<double>>(slopes_of(4, 1)));
  EXPECT_THROW((void)m.infer_shapes(m.input_shape), ShapeError);
}

TEST(PRelu, DescriptionParamsAndPrecisionConversion) {
  const PRelu<double> per(slopes_of(64, 3));
  EXPECT_EQ(per.describe(), "64 slopes");
  EXPECT_EQ(PRelu<double>(Tensor<double>({1}, 0.25)).describe(), "shared slope 0.25");
  EXPECT_EQ(PRelu<float>(Tensor<float>({1, 1, 1}, -0.375f)).describe(), "shared slope -0.375");
  EXPECT_EQ(per.type_name(), "PRelu");
  EXPECT_STREQ(layer_kind_name(LayerKind::PRelu), "PRelu");
  EXPECT_EQ(per.kind(), LayerKind::PRelu);
  ASSERT_EQ(per.params().size(), 1u);
  EXPECT_EQ(per.params()[0], &per.slopes());
  EXPECT_EQ(per.param_count(), 64u);
  // Slopes given as [C, 1, 1] (ONNX's layout) are kept as [C].
  const PRelu<double> chw(Tensor<double>({3, 1, 1}, std::vector<double>{1, 2, 3}));
  EXPECT_EQ(chw.slopes().shape(), Shape{3});
  const auto f = per.to_float();
  ASSERT_EQ(f->kind(), LayerKind::PRelu);
  EXPECT_EQ(f->describe(), "64 slopes");
  const auto d = f->to_double();
  const auto& back = static_cast<const PRelu<double>&>(*d);
  for (std::size_t c = 0; c < 64; ++c) EXPECT_EQ(back.slopes()[c], static_cast<double>(static_cast<float>(per.slopes()[c])));
  const auto same = per.to_double();
  EXPECT_LE(max_rel_error(static_cast<const PRelu<double>&>(*same).slopes(), per.slopes()), 0.0);
}

// The ONNX operator at opsets 6, 7, 9 and 16 with each slope layout it accepts: [C,1,1] and
// [1,C,1,1] on [N,C,H,W], [C] on [N,C], and one value ([1], [1,1,1], a scalar) on either; the
// double and float importers.
TEST(PRelu, OnnxOperatorImports) {
  struct Case {
    std::vector<std::int64_t> x, slope;
  };
  const std::vector<Case> cases = {{{-1, 3, 2, 4}, {3, 1, 1}}, {{-1, 3, 2, 4}, {1, 3, 1, 1}}, {{-1, 3}, {3}},
                                   {{-1, 3, 2, 4}, {1}},       {{-1, 3, 2, 4}, {1, 1, 1}},    {{-1, 3, 2, 4}, {}},
                                   {{-1, 3}, {1}},             {{-1, 1, 2, 2}, {1}}};
  for (std::int64_t opset : {6, 7, 9, 16}) {
    for (const Case& k : cases) {
      std::vector<float> values;
      std::size_t count = 1;
      for (std::int64_t d : k.slope) count *= static_cast<std::size_t>(d);
      for (std::size_t q = 0; q < count; ++q) values.push_back(static_cast<float>(q) * 0.75f - 0.5f);
      SCOPED_TRACE("opset " + std::to_string(opset) + " slope " + std::to_string(k.slope.size()) + "-D, " + std::to_string(count));
      OnnxBuilder b(opset);
      b.input("x", k.x).output("y");
      b.init("slope", k.slope, values);
      b.node("PRelu", {"x", "slope"}, {"y"}, "act1");
      const Model<double> m = io::parse_onnx_model(b.bytes(), "prelu.onnx");
      ASSERT_EQ(m.nodes().size(), 1u);
      EXPECT_EQ(m.nodes()[0].name, "act1");
      ASSERT_EQ(m.nodes()[0].layer->kind(), LayerKind::PRelu);
      const auto& l = static_cast<const PRelu<double>&>(*m.nodes()[0].layer);
      ASSERT_EQ(l.slopes().size(), count);
      for (std::size_t q = 0; q < count; ++q) EXPECT_EQ(l.slopes()[q], static_cast<double>(values[q]));
      Shape xs{2};
      for (std::size_t j = 1; j < k.x.size(); ++j) xs.push_back(static_cast<std::size_t>(k.x[j]));
      const Tensor<double> x = random_tensor(xs, 11);
      Tensor<double> y;
      l.forward({&x}, y);
      EXPECT_LE(max_rel_error(y, naive_prelu(x, l.slopes())), 0.0);
      const Model<float> mf = io::parse_onnx_model_float(b.bytes(), "prelu.onnx");
      EXPECT_EQ(mf.nodes()[0].layer->describe(), l.describe());
    }
  }
  const std::vector<std::string> ops = io::onnx_supported_ops();
  EXPECT_NE(std::find(ops.begin(), ops.end(), "PRelu"), ops.end());
}

}  // namespace
}  // namespace lrp::test
