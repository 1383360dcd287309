// MaskedFill (ONNX Where with a constant condition: a decoder's causal mask) and the constant
// folding a decoder's export needs (Range for the positions, Equal on a float mask buffer). The
// whole decoder is checked against PyTorch in tests/golden/test_transformers.cpp.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "lrp/core/error.hpp"
#include "lrp/explain/explain.hpp"
#include "lrp/io/onnx.hpp"
#include "lrp/layers/masked_fill.hpp"
#include "lrp/rules/composite.hpp"
#include "lrp/rules/rule.hpp"
#include "support/onnx_test_util.hpp"

namespace lrp {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

TEST(MaskedFill, KeepsXOrWritesTheFillAndPassesOnlyKeptGradient) {
  const MaskedFill<double> layer(Tensor<double>({2, 2}, {1, 0, 1, 1}), Tensor<double>({2, 2}, {-kInf, -kInf, 7, -kInf}));
  const Tensor<double> x({2, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8});
  Tensor<double> y;
  layer.forward({&x}, y);
  const std::vector<double> want = {1, -kInf, 3, 4, 5, -kInf, 7, 8};
  for (std::size_t i = 0; i < 8; ++i) EXPECT_EQ(y[i], want[i]) << i;
  // A NaN arriving for a filled entry (a SoftMax rule's x (r - s sum r) at x = -inf) is dropped.
  Tensor<double> dout({2, 2, 2}, {1, std::nan(""), 1, 1, 2, std::nan(""), 2, 2});
  std::vector<Tensor<double>> din;
  layer.backward({&x}, y, dout, din);
  const std::vector<double> dwant = {1, 0, 1, 1, 2, 0, 2, 2};
  for (std::size_t i = 0; i < 8; ++i) EXPECT_EQ(din[0][i], dwant[i]) << i;
  EXPECT_THROW(MaskedFill<double>(Tensor<double>({2}, {1, 0.5}), Tensor<double>({2})), ConfigError);
  EXPECT_THROW(MaskedFill<double>(Tensor<double>({2}, {1, 0}), Tensor<double>({2}, {0, std::nan("")})), ConfigError);
  EXPECT_THROW(MaskedFill<double>(Tensor<double>({2}, {1, 0}), Tensor<double>({3})), ShapeError);
  EXPECT_THROW(layer.output_shape({{2, 3}}), ShapeError);
}

// x [N, 2, 3] -> MatMul -> scores masked causally (Where(Equal(tril, 0), -inf, scores), the mask
// a float buffer, as nanoGPT's) -> SoftMax. The forward against the formula; under every rule
// relevance reaches only kept scores, finite, and with epsilon everywhere (the SoftMax rule) the
// masked keys get none.
test::OnnxBuilder causal_scores(bool fill_first) {
  test::OnnxBuilder g;
  g.input("x", {-1, 3, 3}).output("p");
  g.init("W", {3, 3}, {1, -0.5f, 0.25f, 0.5f, 1, -1, -0.75f, 0.5f, 1});
  g.init("tril", {1, 3, 3}, {1, 0, 0, 1, 1, 0, 1, 1, 1}).init("zero", {}, {0.0f});
  g.init("fill", {}, {-std::numeric_limits<float>::infinity()});
  g.node("MatMul", {"x", "W"}, {"s"}, "scores");
  if (fill_first) {  // Where(tril == 0, -inf, scores)
    g.node("Equal", {"tril", "zero"}, {"future"}, "future");
    g.node("Where", {"future", "fill", "s"}, {"m"}, "mask");
  } else {  // Where(tril, scores, -inf)
    g.node("Where", {"tril", "s", "fill"}, {"m"}, "mask");
  }
  test::OnnxBuilder::attr(g.node("Softmax", {"m"}, {"p"}, "softmax"), "axis", std::int64_t{-1});
  return g;
}

TEST(MaskedFill, OnnxCausalMaskBeforeASoftMax) {
  for (const bool fill_first : {true, false}) {
    test::OnnxBuilder g = causal_scores(fill_first);
    const Model<double> m = io::parse_onnx_model(g.bytes(), "causal.onnx");
    std::mt19937_64 rng(11);
    std::normal_distribution<double> normal;
    Tensor<double> x({2, 3, 3});
    for (double& v : x) v = normal(rng);
    ExplainRequest grad;
    grad.method = Method::Gradient;
    grad.target.kind = Target::Kind::Classes;
    grad.target.classes = {2};
    const Explanation<double> e = explain(m, x, grad);
    const std::vector<double> w = {1, -0.5, 0.25, 0.5, 1, -1, -0.75, 0.5, 1};
    for (std::size_t n = 0; n < 2; ++n)
      for (std::size_t q = 0; q < 3; ++q) {
        double s[3], total = 0;
        for (std::size_t k = 0; k <= q; ++k) {
          s[k] = 0;
          for (std::size_t i = 0; i < 3; ++i) s[k] += x[(n * 3 + q) * 3 + i] * w[i * 3 + k];
          total += std::exp(s[k]);
        }
        for (std::size_t k = 0; k < 3; ++k)
          EXPECT_NEAR(e.output[(n * 3 + q) * 3 + k], k <= q ? std::exp(s[k]) / total : 0.0, 1e-12) << fill_first;
      }
    for (const char* composite : {"attnlrp", "epsilon_plus", "cp_lrp"}) {
      ExplainRequest req;
      req.rules = composite_rules(m, composite);
      req.dump_layers = true;
      const Explanation<double> r = explain(m, x, req);
      const Tensor<double>& at_scores = r.layers.at("scores");
      for (std::size_t i = 0; i < at_scores.size(); ++i) {
        ASSERT_TRUE(std::isfinite(at_scores[i])) << composite << " at " << i;
        const std::size_t q = (i / 3) % 3, k = i % 3;
        if (k > q) {
          EXPECT_EQ(at_scores[i], 0.0) << composite << " masked key " << i;
        }
      }
      for (double v : r.relevance) EXPECT_TRUE(std::isfinite(v)) << composite;
    }
  }
}

// Range folds (torch.arange of the positions): x + Cast(Range(1, 7, 2)) is x + [1, 3, 5].
TEST(MaskedFill, RangeFoldsToAConstant) {
  test::OnnxBuilder g;
  g.input("x", {-1, 3}).output("y");
  g.init_i64("start", {}, {1}).init_i64("limit", {}, {7}).init_i64("delta", {}, {2});
  g.node("Range", {"start", "limit", "delta"}, {"r"}, "range");
  test::OnnxBuilder::attr(g.node("Cast", {"r"}, {"rf"}, "cast"), "to", std::int64_t{onnx::TensorProto::FLOAT});
  g.node("Add", {"x", "rf"}, {"y"}, "add");
  const Model<double> m = io::parse_onnx_model(g.bytes(), "range.onnx");
  ExplainRequest grad;
  grad.method = Method::Gradient;
  const Tensor<double> y = explain(m, Tensor<double>({1, 3}, {0.5, 0.25, -1}), grad).output;
  EXPECT_EQ(y[0], 1.5);
  EXPECT_EQ(y[1], 3.25);
  EXPECT_EQ(y[2], 4.0);
}

// The folders a Hugging Face export's constant subgraphs need (rotary tables, causal masks):
// x + c with c = 1 / (sqrt(r^2) + 1) + max(cos r, sin r) + (r < 2) + exp(log(|-r| + 1)) - floor(r / 2)
// - ceil(r / 4) for r = Range(0, 4), and Where(Trilu(ones) and not(r > r), x, -inf) on [3, 3].
TEST(MaskedFill, FoldersForRotaryTablesAndMasks) {
  test::OnnxBuilder g;
  g.input("x", {-1, 4}).output("y");
  g.init_i64("start", {}, {0}).init_i64("limit", {}, {4}).init_i64("delta", {}, {1});
  g.init("two", {}, {2.0f}).init("one", {}, {1.0f}).init("four", {}, {4.0f});
  g.node("Range", {"start", "limit", "delta"}, {"ri"}, "range");
  test::OnnxBuilder::attr(g.node("Cast", {"ri"}, {"r"}, "cast"), "to", std::int64_t{onnx::TensorProto::FLOAT});
  g.node("Pow", {"r", "two"}, {"sq"}, "square");
  g.node("Sqrt", {"sq"}, {"root"}, "root");
  g.node("Add", {"root", "one"}, {"root1"}, "root1");
  g.node("Reciprocal", {"root1"}, {"a"}, "a");
  g.node("Cos", {"r"}, {"cos"}, "cos");
  g.node("Sin", {"r"}, {"sin"}, "sin");
  g.node("Max", {"cos", "sin"}, {"b"}, "b");
  g.node("Less", {"r", "two"}, {"lt"}, "lt");
  test::OnnxBuilder::attr(g.node("Cast", {"lt"}, {"c"}, "c"), "to", std::int64_t{onnx::TensorProto::FLOAT});
  g.node("Neg", {"r"}, {"nr"}, "nr");
  g.node("Abs", {"nr"}, {"ar"}, "ar");
  g.node("Add", {"ar", "one"}, {"ar1"}, "ar1");
  g.node("Log", {"ar1"}, {"lg"}, "lg");
  g.node("Exp", {"lg"}, {"d"}, "d");
  g.node("Div", {"r", "two"}, {"h"}, "h");
  g.node("Floor", {"h"}, {"fl"}, "fl");
  g.node("Div", {"r", "four"}, {"q"}, "q");
  g.node("Ceil", {"q"}, {"ce"}, "ce");
  g.node("Add", {"a", "b"}, {"s1"}, "s1");
  g.node("Add", {"s1", "c"}, {"s2"}, "s2");
  g.node("Add", {"s2", "d"}, {"s3"}, "s3");
  g.node("Sub", {"s3", "fl"}, {"s4"}, "s4");
  g.node("Sub", {"s4", "ce"}, {"k"}, "k");
  g.node("Add", {"x", "k"}, {"y"}, "y");
  ExplainRequest grad;
  grad.method = Method::Gradient;
  const Tensor<double> y = explain(io::parse_onnx_model(g.bytes(), "folders.onnx"), Tensor<double>({1, 4}), grad).output;
  for (std::size_t i = 0; i < 4; ++i) {
    const double r = static_cast<double>(i);
    const double want = 1.0 / (r + 1.0) + std::max(std::cos(r), std::sin(r)) + (r < 2 ? 1.0 : 0.0) + (r + 1.0) - std::floor(r / 2) -
                        std::ceil(r / 4);
    EXPECT_NEAR(y[i], want, 1e-6) << i;  // float32 constants in between
  }
  test::OnnxBuilder m;
  m.input("x", {-1, 3, 3}).output("y");
  m.init("ones", {3, 3}, std::vector<float>(9, 1.0f)).init("fill", {}, {-std::numeric_limits<float>::infinity()});
  test::OnnxBuilder::attr(m.node("Trilu", {"ones"}, {"lower"}, "tril"), "upper", std::int64_t{0});
  m.node("Greater", {"ones", "ones"}, {"never"}, "never");
  m.node("Not", {"never"}, {"always"}, "always");
  m.node("And", {"lower", "always"}, {"keep"}, "keep");
  m.node("Or", {"keep", "never"}, {"keep2"}, "keep2");
  m.node("Where", {"keep2", "x", "fill"}, {"y"}, "mask");
  const Tensor<double> x = Tensor<double>({1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  const Tensor<double> masked = explain(io::parse_onnx_model(m.bytes(), "trilu.onnx"), x, grad).output;
  for (std::size_t i = 0; i < 9; ++i) EXPECT_EQ(masked[i], i % 3 <= i / 3 ? x[i] : -kInf) << i;
}

// MatMul of constants (a rotary table: [1, 3, 1] @ [1, 1, 4], an outer product; a vector times a
// matrix) and Expand of a computed value (repeat_kv: [N, 2, 1, 3] to [N, 2, 4, 3], copies whose
// relevance adds up at x: with the z rule every copy of x_i returns its own relevance).
TEST(MaskedFill, MatMulOfConstantsAndExpandOfComputedValues) {
  test::OnnxBuilder g;
  g.input("x", {-1, 2, 1, 3}).output("y");
  g.init("f", {1, 3, 1}, {1, 2, 3}).init("p", {1, 1, 4}, {0, 1, 2, 3}).init("v", {3}, {1, -1, 2}).init("m", {3, 4}, std::vector<float>(12, 0.5f));
  g.init_i64("shape", {5}, {1, 2, 4, 3, 1});
  g.node("MatMul", {"f", "p"}, {"outer"}, "outer");     // [1, 3, 4]
  g.node("MatMul", {"v", "m"}, {"row"}, "row");         // [4]: 1
  g.node("Add", {"outer", "row"}, {"table"}, "table");  // [1, 3, 4]
  test::OnnxBuilder::attr(g.node("Transpose", {"table"}, {"t"}, "t"), "perm", std::vector<std::int64_t>{0, 2, 1});  // [1, 4, 3]
  g.node("Shape", {"x"}, {"xs"}, "xs");
  g.init_i64("zero", {1}, {0});
  g.node("Gather", {"xs", "zero"}, {"batch"}, "batch");
  g.init_i64("rest", {3}, {2, 4, 3});
  test::OnnxBuilder::attr(g.node("Concat", {"batch", "rest"}, {"target"}, "target"), "axis", std::int64_t{0});
  g.node("Expand", {"x", "target"}, {"e"}, "repeat");
  g.node("Add", {"e", "t"}, {"y"}, "add");
  const Model<double> m = io::parse_onnx_model(g.bytes(), "expand.onnx");
  std::mt19937_64 rng(4);
  std::normal_distribution<double> normal;
  Tensor<double> x({2, 2, 1, 3});
  for (double& v : x) v = normal(rng);
  ExplainRequest grad;
  grad.method = Method::Gradient;
  const Tensor<double> y = explain(m, x, grad).output;
  ASSERT_EQ(y.shape(), (Shape{2, 2, 4, 3}));
  for (std::size_t n = 0; n < 2; ++n)
    for (std::size_t h = 0; h < 2; ++h)
      for (std::size_t r = 0; r < 4; ++r)
        for (std::size_t j = 0; j < 3; ++j)
          EXPECT_NEAR(y[((n * 2 + h) * 4 + r) * 3 + j], x[(n * 2 + h) * 3 + j] + static_cast<double>((j + 1) * r) + 1.0, 1e-12);
  ExplainRequest all;
  all.rules.assign(m.nodes().size(), parse_rule("z"));
  all.target.kind = Target::Kind::Relevance;
  all.target.relevance = Tensor<double>(y.shape(), 1.0);  // every output's relevance 1
  const Tensor<double> r = explain(m, x, all).relevance;
  // Output (h, r, j) = x_j + b: x_j's share x_j / y, four copies.
  for (std::size_t n = 0; n < 2; ++n)
    for (std::size_t h = 0; h < 2; ++h)
      for (std::size_t j = 0; j < 3; ++j) {
        double want = 0;
        for (std::size_t q = 0; q < 4; ++q) want += x[(n * 2 + h) * 3 + j] / y[((n * 2 + h) * 4 + q) * 3 + j];
        EXPECT_NEAR(r[(n * 2 + h) * 3 + j], want, 1e-9);
      }
}

void expect_refused(test::OnnxBuilder& g, const std::string& what) {
  try {
    io::parse_onnx_model(g.bytes(), "bad.onnx");
    ADD_FAILURE() << "accepted: " << what;
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
  }
}

TEST(MaskedFill, BadWhereAndRangeAreRefusedByName) {
  {
    test::OnnxBuilder g;  // the condition computed from the input
    g.input("x", {-1, 3}).output("y");
    g.init("zero", {}, {0.0f});
    g.node("Relu", {"x"}, {"c"}, "relu");
    g.node("Where", {"c", "x", "zero"}, {"y"}, "where");
    expect_refused(g, "'where' (Where): a condition computed from the model input is not supported");
  }
  {
    test::OnnxBuilder g;  // two computed operands
    g.input("x", {-1, 3}).output("y");
    g.init("keep", {3}, {1, 0, 1});
    g.node("Relu", {"x"}, {"r"}, "relu");
    g.node("Where", {"keep", "x", "r"}, {"y"}, "where");
    expect_refused(g, "two computed operands are not supported");
  }
  {
    test::OnnxBuilder g;  // a NaN fill
    g.input("x", {-1, 3}).output("y");
    g.init("keep", {3}, {1, 0, 1}).init("fill", {}, {std::nanf("")});
    g.node("Where", {"keep", "x", "fill"}, {"y"}, "where");
    expect_refused(g, "the fill value Y holds NaN");
  }
  {
    test::OnnxBuilder g;  // a mask that does not broadcast onto the sample
    g.input("x", {-1, 3}).output("y");
    g.init("keep", {2}, {1, 0}).init("fill", {}, {0.0f});
    g.node("Where", {"keep", "x", "fill"}, {"y"}, "where");
    expect_refused(g, "does not broadcast");
  }
  for (const auto& [target, what] : {std::pair{std::vector<std::int64_t>{1, 2, 4, 3, 1}, "to 5 axes is not supported"},
                                     std::pair{std::vector<std::int64_t>{3, 2, 4, 3}, "along the batch axis"},
                                     std::pair{std::vector<std::int64_t>{1, 4, 1, 3}, "cannot expand"}}) {
    test::OnnxBuilder g;  // Expand of a computed value: more axes, the batch, an axis that is not 1
    g.input("x", {-1, 2, 1, 3}).output("y");
    g.init_i64("shape", {static_cast<std::int64_t>(target.size())}, target);
    g.node("Expand", {"x", "shape"}, {"y"}, "expand");
    expect_refused(g, what);
  }
  for (const std::int64_t delta : {std::int64_t{0}, std::int64_t{1}}) {
    test::OnnxBuilder g;  // delta 0 never ends; 2^40 elements are too many
    g.input("x", {-1, 3}).output("y");
    g.init_i64("start", {}, {0}).init_i64("limit", {}, {std::int64_t{1} << 40}).init_i64("delta", {}, {delta});
    g.node("Range", {"start", "limit", "delta"}, {"r"}, "range");
    g.node("Add", {"x", "r"}, {"y"}, "add");
    expect_refused(g, delta == 0 ? "'range' (Range): start, limit and delta must be finite and delta nonzero" : "'range' (Range): would hold");
  }
}

}  // namespace
}  // namespace lrp
