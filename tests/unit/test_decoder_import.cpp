// The pieces of a decoder language model as PyTorch exports them (Llama, written by hand or as
// Hugging Face writes it): RMSNorm written out (Pow, ReduceMean, Add, Sqrt, Reciprocal or Div,
// Mul, and its weight), rotary embeddings (Neg of a computed value, products with constant
// cosines and sines), an additive causal mask holding -inf. Their import against the formulas
// and their LRP rules against properties; the whole decoder against PyTorch in
// tests/golden/test_transformers.cpp.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "lrp/core/error.hpp"
#include "lrp/explain/explain.hpp"
#include "lrp/io/onnx.hpp"
#include "lrp/layers/activation.hpp"
#include "lrp/layers/layer_norm.hpp"
#include "lrp/rules/composite.hpp"
#include "lrp/rules/rule.hpp"
#include "support/onnx_test_util.hpp"

namespace lrp {
namespace {

Tensor<double> normal(const Shape& s, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> n;
  Tensor<double> t(s);
  for (double& v : t) v = n(rng);
  return t;
}

Tensor<double> forward(const Model<double>& m, const Tensor<double>& x) {
  ExplainRequest req;
  req.method = Method::Gradient;
  return explain(m, x, req).output;
}

// y = w * (x * 1 / sqrt(mean(x^2) + eps)) on [N, 3, 4], in the three forms exporters write.
enum class RmsForm { Reciprocal, DivideOne, DivideX };

test::OnnxBuilder rms_norm_graph(RmsForm form, const std::vector<float>& weight) {
  test::OnnxBuilder g(17);
  g.input("x", {-1, 3, 4}).output("y");
  g.init("two", {}, {2.0f}).init("eps", {}, {1e-5f}).init("one", {}, {1.0f}).init("w", {4}, weight);
  g.node("Pow", {"x", "two"}, {"sq"}, "pow");
  test::OnnxBuilder::attr(g.node("ReduceMean", {"sq"}, {"ms"}, "mean"), "axes", std::vector<std::int64_t>{-1});
  g.node("Add", {"ms", "eps"}, {"shifted"}, "add_eps");
  g.node("Sqrt", {"shifted"}, {"root"}, "sqrt");
  if (form == RmsForm::DivideX) {
    g.node("Div", {"x", "root"}, {"normed"}, "div");
  } else {
    if (form == RmsForm::Reciprocal) g.node("Reciprocal", {"root"}, {"inverse"}, "reciprocal");
    else g.node("Div", {"one", "root"}, {"inverse"}, "div");
    g.node("Mul", {"x", "inverse"}, {"normed"}, "mul");
  }
  g.node("Mul", {"w", "normed"}, {"y"}, "weight");
  return g;
}

TEST(DecoderImport, RmsNormWrittenOutIsOneLayer) {
  const std::vector<float> w = {1.5f, -0.5f, 1.0f, 0.25f};
  const Tensor<double> x = normal({2, 3, 4}, 1);
  for (const RmsForm form : {RmsForm::Reciprocal, RmsForm::DivideOne, RmsForm::DivideX}) {
    test::OnnxBuilder g = rms_norm_graph(form, w);
    const Model<double> m = io::parse_onnx_model(g.bytes(), "rms.onnx");
    ASSERT_EQ(m.nodes().size(), 1u);  // the weight folded in
    const auto& ln = dynamic_cast<const LayerNorm<double>&>(*m.nodes()[0].layer);
    EXPECT_FALSE(ln.centered());
    EXPECT_EQ(ln.type_name(), "RMSNorm");
    const Tensor<double> y = forward(m, x);
    for (std::size_t r = 0; r < 6; ++r) {
      double ms = 0;
      for (std::size_t i = 0; i < 4; ++i) ms += x[r * 4 + i] * x[r * 4 + i] / 4;
      for (std::size_t i = 0; i < 4; ++i)
        EXPECT_NEAR(y[r * 4 + i], w[i] * x[r * 4 + i] / std::sqrt(ms + static_cast<double>(1e-5f)), 1e-12);
    }
  }
}

// LayerNorm written out, as PyTorch exports it before opset 17: one centred LayerNorm layer with
// the weight and shift that follow folded in; against the formula.
TEST(DecoderImport, LayerNormWrittenOutIsOneLayer) {
  test::OnnxBuilder g(14);
  g.input("x", {-1, 3, 4}).output("y");
  const std::vector<float> w = {1.5f, -0.5f, 1.0f, 0.25f}, b = {0.1f, 0.2f, -0.3f, 0.0f};
  g.init("two", {}, {2.0f}).init("eps", {}, {1e-5f}).init("w", {4}, w).init("b", {4}, b);
  test::OnnxBuilder::attr(g.node("ReduceMean", {"x"}, {"mean"}, "mean"), "axes", std::vector<std::int64_t>{-1});
  g.node("Sub", {"x", "mean"}, {"d"}, "centre");
  g.node("Pow", {"d", "two"}, {"sq"}, "square");
  test::OnnxBuilder::attr(g.node("ReduceMean", {"sq"}, {"var"}, "variance"), "axes", std::vector<std::int64_t>{-1});
  g.node("Add", {"var", "eps"}, {"shifted"}, "add_eps");
  g.node("Sqrt", {"shifted"}, {"root"}, "sqrt");
  g.node("Div", {"d", "root"}, {"normed"}, "divide");
  g.node("Mul", {"normed", "w"}, {"scaled"}, "weight");
  g.node("Add", {"scaled", "b"}, {"y"}, "shift");
  const Model<double> m = io::parse_onnx_model(g.bytes(), "layer_norm.onnx");
  ASSERT_EQ(m.nodes().size(), 1u);
  EXPECT_TRUE(dynamic_cast<const LayerNorm<double>&>(*m.nodes()[0].layer).centered());
  const Tensor<double> x = normal({2, 3, 4}, 5);
  const Tensor<double> y = forward(m, x);
  for (std::size_t r = 0; r < 6; ++r) {
    double mean = 0, var = 0;
    for (std::size_t i = 0; i < 4; ++i) mean += x[r * 4 + i] / 4;
    for (std::size_t i = 0; i < 4; ++i) var += (x[r * 4 + i] - mean) * (x[r * 4 + i] - mean) / 4;
    for (std::size_t i = 0; i < 4; ++i)
      EXPECT_NEAR(y[r * 4 + i], (x[r * 4 + i] - mean) / std::sqrt(var + static_cast<double>(1e-5f)) * w[i] + b[i], 1e-12);
  }
  // A mean over the last axis read by something else than a Sub is a mean pool, as before.
  test::OnnxBuilder pool(14);
  pool.input("x", {-1, 3, 4}).output("y");
  test::OnnxBuilder::attr(pool.node("ReduceMean", {"x"}, {"y"}, "mean"), "axes", std::vector<std::int64_t>{-1});
  const Tensor<double> p = forward(io::parse_onnx_model(pool.bytes(), "pool.onnx"), x);
  for (std::size_t r = 0; r < 6; ++r) EXPECT_NEAR(p[r], (x[r * 4] + x[r * 4 + 1] + x[r * 4 + 2] + x[r * 4 + 3]) / 4, 1e-12);
  // The centred value divided by another value's root: refused by name.
  test::OnnxBuilder bad(14);
  bad.input("x", {-1, 4}).output("y").init("two", {}, {2.0f});
  test::OnnxBuilder::attr(bad.node("ReduceMean", {"x"}, {"mean"}, "mean"), "axes", std::vector<std::int64_t>{-1});
  bad.node("Sub", {"mean", "x"}, {"y"}, "reversed");
  try {
    io::parse_onnx_model(bad.bytes(), "bad.onnx");
    ADD_FAILURE() << "mean - x accepted";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("'reversed' (Sub): reads a step of a normalisation written out"), std::string::npos) << e.what();
  }
}

// AttnLRP's rule for RMSNorm (its root mean square held fixed) is the z rule of the linear map
// y = x * (w / rms): without a bias it conserves relevance exactly, entry by entry.
TEST(DecoderImport, RmsNormRelevanceIsConservedEntryByEntry) {
  test::OnnxBuilder g = rms_norm_graph(RmsForm::Reciprocal, {1.5f, -0.5f, 1.0f, 0.25f});
  const Model<double> m = io::parse_onnx_model(g.bytes(), "rms.onnx");
  const Tensor<double> x = normal({2, 3, 4}, 2);
  ExplainRequest req;
  req.rules.assign(1, parse_rule("epsilon:1e-12"));
  req.target.kind = Target::Kind::Classes;
  req.dump_layers = true;
  const Tensor<double> y = forward(m, x);
  for (std::size_t cls : {0u, 5u, 11u}) {
    req.target.classes = {cls};
    const Explanation<double> e = explain(m, x, req);
    for (std::size_t n = 0; n < 2; ++n)
      for (std::size_t i = 0; i < 12; ++i)  // the seed is the target's output, all else 0
        EXPECT_NEAR(e.relevance[n * 12 + i], i == cls ? y[n * 12 + i] : 0.0, 1e-9) << cls << " " << i;
  }
}

TEST(DecoderImport, RmsNormStepsAnywhereElseAreRefusedByName) {
  const auto refused = [](test::OnnxBuilder& g, const std::string& what) {
    try {
      io::parse_onnx_model(g.bytes(), "bad.onnx");
      ADD_FAILURE() << "accepted: " << what;
    } catch (const FormatError& e) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
  };
  {
    test::OnnxBuilder g(17);  // x^0.5
    g.input("x", {-1, 4}).output("y").init("half", {}, {0.5f});
    g.node("Pow", {"x", "half"}, {"y"}, "root");
    refused(g, "'root' (Pow): only a constant integer exponent from 1 to 64");
  }
  {
    test::OnnxBuilder g(17);  // a computed exponent
    g.input("x", {-1, 4}).output("y");
    g.node("Pow", {"x", "x"}, {"y"}, "power");
    refused(g, "'power' (Pow): a computed exponent");
  }
  {
    test::OnnxBuilder g(17);  // the mean of x^2, read by a Relu
    g.input("x", {-1, 4}).output("y").init("two", {}, {2.0f});
    g.node("Pow", {"x", "two"}, {"sq"}, "square");
    test::OnnxBuilder::attr(g.node("ReduceMean", {"sq"}, {"ms"}, "mean"), "axes", std::vector<std::int64_t>{-1});
    g.node("Relu", {"ms"}, {"y"}, "relu");
    refused(g, "'relu' (Relu): reads a step of a normalisation written out");
  }
  {
    test::OnnxBuilder g(17);  // the mean over the wrong axis
    g.input("x", {-1, 3, 4}).output("y").init("two", {}, {2.0f});
    g.node("Pow", {"x", "two"}, {"sq"}, "square");
    test::OnnxBuilder::attr(g.node("ReduceMean", {"sq"}, {"y"}, "mean"), "axes", std::vector<std::int64_t>{1});
    refused(g, "'mean' (ReduceMean): the mean of the squares must be over the last axis only");
  }
  {
    test::OnnxBuilder g(17);  // a step as the graph output
    g.input("x", {-1, 4}).output("y").init("two", {}, {2.0f});
    g.node("Pow", {"x", "two"}, {"sq"}, "square");
    test::OnnxBuilder::attr(g.node("ReduceMean", {"sq"}, {"y"}, "mean"), "axes", std::vector<std::int64_t>{-1});
    refused(g, "is a step of a normalisation written out");
  }
  {
    test::OnnxBuilder g(17);  // a negative epsilon
    g.input("x", {-1, 4}).output("y").init("two", {}, {2.0f}).init("eps", {}, {-1.0f});
    g.node("Pow", {"x", "two"}, {"sq"}, "square");
    test::OnnxBuilder::attr(g.node("ReduceMean", {"sq"}, {"ms"}, "mean"), "axes", std::vector<std::int64_t>{-1});
    g.node("Add", {"ms", "eps"}, {"y"}, "add_eps");
    refused(g, "'add_eps' (Add): only a finite, non-negative scalar epsilon");
  }
  {
    test::OnnxBuilder g(17);  // the normaliser applied to another value than x
    g.input("x", {-1, 4}).output("y").init("two", {}, {2.0f});
    g.node("Relu", {"x"}, {"r"}, "relu");
    g.node("Pow", {"x", "two"}, {"sq"}, "square");
    test::OnnxBuilder::attr(g.node("ReduceMean", {"sq"}, {"ms"}, "mean"), "axes", std::vector<std::int64_t>{-1});
    g.node("Sqrt", {"ms"}, {"root"}, "sqrt");
    g.node("Div", {"r", "root"}, {"y"}, "div");
    refused(g, "'div' (Div): reads a step of a normalisation written out");
  }
  {
    test::OnnxBuilder g(17);  // Sqrt of a computed value
    g.input("x", {-1, 4}).output("y");
    g.node("Sqrt", {"x"}, {"y"}, "sqrt");
    refused(g, "'sqrt' (Sqrt): is supported only as a step of a normalisation written out");
  }
}

// GPT-2's gelu_new written out: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). x^3 is a Power
// activation; the tanh branch is the gate of the final product. Forward and gradient against the
// GeluTanh activation (the float32 constants: 1e-7); LRP passes everything to x (the gate gets
// none), so with epsilon the relevance of a single output is that output.
TEST(DecoderImport, GeluTanhWrittenOutWithPow) {
  test::OnnxBuilder g(17);
  g.input("x", {-1, 6}).output("y");
  g.init("three", {}, {3.0f}).init("c", {}, {0.044715f}).init("k", {}, {0.7978845608f}).init("one", {}, {1.0f}).init("half", {}, {0.5f});
  g.node("Pow", {"x", "three"}, {"cube"}, "cube");
  g.node("Mul", {"c", "cube"}, {"t1"}, "t1");
  g.node("Add", {"x", "t1"}, {"t2"}, "t2");
  g.node("Mul", {"k", "t2"}, {"t3"}, "t3");
  g.node("Tanh", {"t3"}, {"t4"}, "tanh");
  g.node("Add", {"one", "t4"}, {"t5"}, "t5");
  g.node("Mul", {"half", "x"}, {"hx"}, "hx");
  g.node("Mul", {"hx", "t5"}, {"y"}, "gelu");
  const Model<double> m = io::parse_onnx_model(g.bytes(), "gelu_new.onnx");
  EXPECT_EQ(m.nodes().back().layer->describe().find("gate"), 0u) << m.nodes().back().layer->describe();
  const Tensor<double> x = normal({3, 6}, 4);
  ActivationSpec spec{ActivationKind::GeluTanh};
  const Activation<double> gelu(spec);
  Tensor<double> want;
  gelu.forward({&x}, want);
  ExplainRequest grad;
  grad.method = Method::Gradient;
  grad.target.kind = Target::Kind::Classes;
  grad.target.classes = {4};
  const Explanation<double> e = explain(m, x, grad);
  Tensor<double> seed(x.shape());  // explanations start from the target's score
  for (std::size_t n = 0; n < 3; ++n) seed[n * 6 + 4] = want[n * 6 + 4];
  std::vector<Tensor<double>> dwant;
  gelu.backward({&x}, want, seed, dwant);
  for (std::size_t i = 0; i < x.size(); ++i) {
    EXPECT_NEAR(e.output[i], want[i], 1e-7) << i;  // the constants are float32
    EXPECT_NEAR(e.relevance[i], dwant[0][i], 1e-7) << i;
  }
  ExplainRequest lrp;
  lrp.rules.assign(m.nodes().size(), parse_rule("epsilon:1e-12"));
  lrp.target = grad.target;
  const Tensor<double> r = explain(m, x, lrp).relevance;
  for (std::size_t i = 0; i < x.size(); ++i) EXPECT_NEAR(r[i], i % 6 == 4 ? e.output[i] : 0.0, 1e-9) << i;
}

// Cast of a computed value (`x.to(x.dtype)`): to a floating type it is the value itself (no
// layer); to an integer type it would round activations and is refused by name.
TEST(DecoderImport, CastOfComputedValues) {
  for (const std::int64_t to : {std::int64_t{onnx::TensorProto::FLOAT}, std::int64_t{onnx::TensorProto::INT64}}) {
    test::OnnxBuilder g(17);
    g.input("x", {-1, 3}).output("y");
    g.node("Relu", {"x"}, {"r"}, "relu");
    test::OnnxBuilder::attr(g.node("Cast", {"r"}, {"y"}, "cast"), "to", to);
    if (to == onnx::TensorProto::FLOAT) {
      const Model<double> m = io::parse_onnx_model(g.bytes(), "cast.onnx");
      EXPECT_EQ(m.nodes().size(), 1u);  // the Relu only
      const Tensor<double> y = forward(m, Tensor<double>({1, 3}, {-1, 0.5, 2}));
      EXPECT_EQ((std::vector<double>(y.begin(), y.end())), (std::vector<double>{0, 0.5, 2}));
    } else {
      try {
        io::parse_onnx_model(g.bytes(), "cast.onnx");
        ADD_FAILURE() << "a cast to int64 was accepted";
      } catch (const FormatError& e) {
        EXPECT_NE(std::string(e.what()).find("'cast' (Cast): a cast of a computed value to INT64"), std::string::npos) << e.what();
      }
    }
  }
}

// Rotary embeddings: q * cos + rotate_half(q) * sin with constant cos, sin of one sample's shape
// (Scale layers; Neg a per-channel scale by -1). Against the formula, and LRP with epsilon
// everywhere against input times gradient (the map is linear, so they agree).
TEST(DecoderImport, RotaryEmbeddingsAndAnAdditiveMinusInfinityMask) {
  test::OnnxBuilder g(17);
  g.input("x", {-1, 2, 3, 4}).output("y");
  std::vector<float> cos(12), sin(12), mask(9);
  for (std::size_t t = 0; t < 3; ++t)
    for (std::size_t i = 0; i < 4; ++i) {
      cos[t * 4 + i] = static_cast<float>(std::cos(0.7 * static_cast<double>(t * (i % 2 + 1))));
      sin[t * 4 + i] = static_cast<float>(std::sin(0.7 * static_cast<double>(t * (i % 2 + 1))));
    }
  for (std::size_t q = 0; q < 3; ++q)
    for (std::size_t k = 0; k < 3; ++k) mask[q * 3 + k] = k > q ? -std::numeric_limits<float>::infinity() : (k == 0 ? 0.5f : 0.0f);
  g.init("cos", {1, 1, 3, 4}, cos).init("sin", {1, 1, 3, 4}, sin).init("mask", {1, 1, 3, 3}, mask);
  g.init_i64("s0", {1}, {0}).init_i64("s2", {1}, {2}).init_i64("s4", {1}, {4}).init_i64("ax", {1}, {-1});
  g.node("Slice", {"x", "s0", "s2", "ax"}, {"x1"}, "first_half");
  g.node("Slice", {"x", "s2", "s4", "ax"}, {"x2"}, "second_half");
  g.node("Neg", {"x2"}, {"nx2"}, "neg");
  test::OnnxBuilder::attr(g.node("Concat", {"nx2", "x1"}, {"rot"}, "rotate_half"), "axis", std::int64_t{-1});
  g.node("Mul", {"x", "cos"}, {"a"}, "times_cos");
  g.node("Mul", {"rot", "sin"}, {"b"}, "times_sin");
  g.node("Add", {"a", "b"}, {"q"}, "rotary");
  test::OnnxBuilder::attr(g.node("Transpose", {"q"}, {"kt"}, "keys"), "perm", std::vector<std::int64_t>{0, 1, 3, 2});
  g.node("MatMul", {"q", "kt"}, {"s"}, "scores");
  g.node("Add", {"s", "mask"}, {"y"}, "mask");
  const Model<double> m = io::parse_onnx_model(g.bytes(), "rotary.onnx");
  std::size_t scales = 0, fills = 0, biases = 0;
  for (const Node<double>& n : m.nodes()) {
    scales += n.layer->kind() == LayerKind::Scale;
    fills += n.layer->kind() == LayerKind::MaskedFill;
    biases += n.layer->kind() == LayerKind::Bias;
  }
  EXPECT_EQ(scales, 2u);
  EXPECT_EQ(fills, 1u);
  EXPECT_EQ(biases, 1u);  // the finite entries of the mask that are not 0
  const Tensor<double> x = normal({2, 2, 3, 4}, 3);
  const Tensor<double> y = forward(m, x);
  for (std::size_t n = 0; n < 2; ++n)
    for (std::size_t h = 0; h < 2; ++h) {
      double q[3][4];
      for (std::size_t t = 0; t < 3; ++t)
        for (std::size_t i = 0; i < 4; ++i) {
          const double* xr = x.data() + ((n * 2 + h) * 3 + t) * 4;
          const double rot = i < 2 ? -xr[i + 2] : xr[i - 2];
          q[t][i] = xr[i] * static_cast<double>(cos[t * 4 + i]) + rot * static_cast<double>(sin[t * 4 + i]);
        }
      for (std::size_t a = 0; a < 3; ++a)
        for (std::size_t b = 0; b < 3; ++b) {
          double s = static_cast<double>(mask[a * 3 + b]);
          for (std::size_t i = 0; i < 4 && std::isfinite(s); ++i) s += q[a][i] * q[b][i];
          const double got = y[((n * 2 + h) * 3 + a) * 3 + b];
          if (std::isinf(s)) EXPECT_EQ(got, s);
          else EXPECT_NEAR(got, s, 1e-12);
        }
    }
  ExplainRequest req;
  req.rules = composite_rules(m, "attnlrp:1e-12");
  req.target.kind = Target::Kind::Classes;
  req.target.classes = {3};  // query 1, key 0: finite, shifted by 0.5
  const Tensor<double> r = explain(m, x, req).relevance;
  for (double v : r) EXPECT_TRUE(std::isfinite(v));
  double total = 0;
  for (std::size_t i = 0; i < 24; ++i) total += r[i];
  // The product q1 . q0 is split in half between its factors, each passed back unchanged by the
  // linear rotary map; the mask's 0.5 is a bias's share: the input keeps y - 0.5.
  EXPECT_NEAR(total, y[3] - 0.5, 1e-8);
}

}  // namespace
}  // namespace lrp
