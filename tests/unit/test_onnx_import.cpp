// The ONNX importer on small models built in the test: attribute handling of each converter,
// constant folding, aliases, names, layouts, tensor encodings. Forward results are compared
// with hand-computed values (double, 1e-12).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <tuple>
#include <utility>

#include "lrp/core/error.hpp"
#include "lrp/explain/explain.hpp"
#include "lrp/graph/input_parts.hpp"
#include "lrp/io/arrays.hpp"
#include "lrp/io/onnx.hpp"
#include "lrp/layers/activation.hpp"
#include "lrp/layers/conv2d.hpp"
#include "lrp/layers/linear.hpp"
#include "lrp/layers/merge.hpp"
#include "lrp/layers/pad.hpp"
#include "lrp/layers/pool2d.hpp"
#include "support/onnx_test_util.hpp"

namespace lrp::test {
namespace {

using B = OnnxBuilder;

Model<double> load(const OnnxBuilder& b, const std::map<std::string, Tensor<double>>& bound = {}) {
  return io::parse_onnx_model(b.bytes(), "test.onnx", bound);
}

std::vector<float> iota_f(std::size_t n, float start = 0.0f, float step = 1.0f) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = start + step * static_cast<float>(i);
  return v;
}

template <class F>
void expect_format_error(F&& f, const std::vector<std::string>& needles) {
  try {
    f();
    ADD_FAILURE() << "no FormatError";
  } catch (const FormatError& e) {
    const std::string msg = e.what();
    for (const std::string& n : needles) EXPECT_NE(msg.find(n), std::string::npos) << "'" << n << "' not in: " << msg;
  }
}

TEST(OnnxImport, GemmTransBAlphaBetaAndBiasShapes) {
  const std::vector<float> w = {1, 2, 3, -1, 0, 2, 0.5f, 0.5f, 0.5f, 1, 1, -3};  // [4,3] (transB) or [3,4]
  for (int trans_b : {0, 1}) {
    for (int bias_kind : {0, 1, 2, 3}) {  // none, [4], [1,4], scalar [1]
      B b;
      b.input("x", {-1, 3}).output("y");
      b.init("W", trans_b ? std::vector<std::int64_t>{4, 3} : std::vector<std::int64_t>{3, 4}, w);
      std::vector<std::string> ins = {"x", "W"};
      if (bias_kind == 1) b.init("C", {4}, {1, 2, 3, 4});
      if (bias_kind == 2) b.init("C", {1, 4}, {1, 2, 3, 4});
      if (bias_kind == 3) b.init("C", {1}, {7});
      if (bias_kind) ins.push_back("C");
      auto& n = b.node("Gemm", ins, {"y"}, "fc");
      B::attr(n, "transB", std::int64_t{trans_b});
      B::attr(n, "alpha", 0.5);
      B::attr(n, "beta", 2.0);
      const Model<double> m = load(b);
      ASSERT_EQ(m.nodes().size(), 1u);
      EXPECT_EQ(m.nodes()[0].name, "fc");
      EXPECT_EQ(m.layout, DataLayout::Features);
      const Tensor<double> x = random_tensor({2, 3}, 1);
      const Tensor<double> y = run_forward<double>(m, x);
      for (std::size_t i = 0; i < 2; ++i)
        for (std::size_t o = 0; o < 4; ++o) {
          double e = 0;
          for (std::size_t k = 0; k < 3; ++k) e += x[i * 3 + k] * static_cast<double>(trans_b ? w[o * 3 + k] : w[k * 4 + o]);
          e *= 0.5;
          if (bias_kind == 1 || bias_kind == 2) e += 2.0 * static_cast<double>(o + 1);
          if (bias_kind == 3) e += 14.0;
          EXPECT_NEAR(y[i * 4 + o], e, 1e-12) << trans_b << " " << bias_kind;
        }
    }
  }
}

TEST(OnnxImport, MatMulWithConstantAddBecomesOneLinear) {
  for (bool const_first : {false, true}) {
    B b;
    b.input("x", {-1, 3}).output("y");
    b.init("W", {3, 2}, {1, 2, 3, 4, 5, 6}).init("bias", {2}, {0.5f, -1});
    b.node("MatMul", {"x", "W"}, {"m"}, "fc");
    b.node("Add", const_first ? std::vector<std::string>{"bias", "m"} : std::vector<std::string>{"m", "bias"}, {"y"}, "fc_add");
    const Model<double> m = load(b);
    ASSERT_EQ(m.nodes().size(), 1u);
    EXPECT_EQ(m.nodes()[0].name, "fc");
    EXPECT_EQ(m.nodes()[0].layer->kind(), LayerKind::Linear);
    const Tensor<double> y = run_forward<double>(m, Tensor<double>({1, 3}, std::vector<double>{1, -1, 2}));
    EXPECT_NEAR(y[0], 1 - 3 + 10 + 0.5, 1e-12);
    EXPECT_NEAR(y[1], 2 - 4 + 12 - 1, 1e-12);
  }
}

TEST(OnnxImport, ConstantAddOnASharedValueBecomesAShiftLayer) {
  B b;
  b.input("x", {-1, 2}).output("y");
  b.init("W", {2, 2}, {1, 0, 0, 1}).init("c", {2}, {10, 20});
  b.node("MatMul", {"x", "W"}, {"m"}, "fc");
  b.node("Add", {"m", "c"}, {"a"}, "shift");
  b.node("Relu", {"m"}, {"r"}, "relu");
  b.node("Add", {"a", "r"}, {"y"}, "sum");
  const Model<double> m = load(b);
  ASSERT_EQ(m.nodes().size(), 4u);
  EXPECT_EQ(m.nodes()[1].name, "shift");
  EXPECT_EQ(m.nodes()[1].layer->kind(), LayerKind::BatchNorm);
  const Tensor<double> y = run_forward<double>(m, Tensor<double>({1, 2}, std::vector<double>{-1, 2}));
  EXPECT_NEAR(y[0], -1 + 10 + 0, 1e-12);
  EXPECT_NEAR(y[1], 2 + 20 + 2, 1e-12);
}

TEST(OnnxImport, ConvBiasFromFollowingAdd) {
  B b;
  b.input("x", {-1, 1, 3, 3}).output("y");
  b.init("W", {2, 1, 1, 1}, {2, -1}).init("c", {1, 2, 1, 1}, {1, 5});
  b.node("Conv", {"x", "W"}, {"z"}, "conv");
  b.node("Add", {"z", "c"}, {"y"}, "bias");
  const Model<double> m = load(b);
  ASSERT_EQ(m.nodes().size(), 1u);
  EXPECT_EQ(m.layout, DataLayout::NCHW);
  const auto& conv = static_cast<const Conv2d<double>&>(*m.nodes()[0].layer);
  EXPECT_EQ(conv.bias()[0], 1.0);
  EXPECT_EQ(conv.bias()[1], 5.0);
}

// Weights move into their layer when one node reads them, and are copied when several do:
// both convolutions and both Gemms below must keep the full weight.
TEST(OnnxImport, SharedAndSingleUseWeightsBothArriveWhole) {
  B b;
  b.input("x", {-1, 1, 2, 2}).output("y");
  b.init("W", {1, 1, 1, 1}, {3}).init("V", {1, 1, 1, 1}, {-2});
  b.init("G", {4, 4}, iota_f(16, 1.0f)).init("H", {2, 4}, iota_f(8, -1.0f, 0.5f));
  b.node("Conv", {"x", "W"}, {"a"}, "conv_a");
  b.node("Conv", {"a", "W"}, {"b"}, "conv_b");  // W read twice: copied
  b.node("Conv", {"b", "V"}, {"c"}, "conv_c");  // V read once: moved
  b.node("Flatten", {"c"}, {"f"}, "flat");
  auto& g1 = b.node("Gemm", {"f", "G"}, {"g"}, "gemm_1");
  B::attr(g1, "transB", std::int64_t{1});
  auto& g2 = b.node("Gemm", {"g", "G"}, {"h"}, "gemm_2");  // G read twice
  B::attr(g2, "transB", std::int64_t{1});
  auto& g3 = b.node("Gemm", {"h", "H"}, {"y"}, "gemm_3");  // H read once
  B::attr(g3, "transB", std::int64_t{1});
  const Model<double> m = load(b);
  ASSERT_EQ(m.nodes().size(), 7u);
  for (std::size_t i : {0u, 1u}) EXPECT_EQ(static_cast<const Conv2d<double>&>(*m.nodes()[i].layer).weight()[0], 3.0);
  EXPECT_EQ(static_cast<const Conv2d<double>&>(*m.nodes()[2].layer).weight()[0], -2.0);
  for (std::size_t i : {4u, 5u}) {
    const Tensor<double>& w = static_cast<const Linear<double>&>(*m.nodes()[i].layer).weight();
    ASSERT_EQ(w.size(), 16u);
    for (std::size_t k = 0; k < 16; ++k) EXPECT_EQ(w[k], 1.0 + static_cast<double>(k));
  }
  const Tensor<double>& h = static_cast<const Linear<double>&>(*m.nodes()[6].layer).weight();
  ASSERT_EQ(h.shape(), (Shape{2, 4}));
  for (std::size_t k = 0; k < 8; ++k) EXPECT_EQ(h[k], -1.0 + 0.5 * static_cast<double>(k));
}

// Float import: weights go from the file's bytes into float layers directly. Every parameter
// equals the double import converted to float, exactly (float -> double -> float is exact; the
// folded biases are summed in double and rounded once on both paths).
void expect_same_float_model(const Model<float>& direct, const Model<float>& converted) {
  ASSERT_EQ(direct.nodes().size(), converted.nodes().size());
  EXPECT_EQ(direct.input_shape, converted.input_shape);
  EXPECT_EQ(direct.layout, converted.layout);
  EXPECT_EQ(direct.output_value(), converted.output_value());
  for (std::size_t i = 0; i < direct.nodes().size(); ++i) {
    const Node<float>& a = direct.nodes()[i];
    const Node<float>& b = converted.nodes()[i];
    EXPECT_EQ(a.name, b.name);
    EXPECT_EQ(a.inputs, b.inputs);
    EXPECT_EQ(a.layer->kind(), b.layer->kind()) << a.name;
    const std::vector<const Tensor<float>*> pa = std::as_const(*a.layer).params(), pb = std::as_const(*b.layer).params();
    ASSERT_EQ(pa.size(), pb.size()) << a.name;
    for (std::size_t p = 0; p < pa.size(); ++p) {
      ASSERT_EQ(pa[p]->shape(), pb[p]->shape()) << a.name;
      for (std::size_t k = 0; k < pa[p]->size(); ++k) ASSERT_EQ((*pa[p])[k], (*pb[p])[k]) << a.name << " param " << p << " [" << k << "]";
    }
  }
}

TEST(OnnxImport, FloatImportEqualsDoubleImportConverted) {
  B b;
  b.input("x", {-1, 1, 4, 4}).output("y");
  b.init("W", {2, 1, 3, 3}, iota_f(18, -0.7f, 0.1f)).init("cb", {1, 2, 1, 1}, {0.1f, -0.3f});
  b.init("G", {32, 6}, iota_f(192, -1.0f, 0.01f)).init("M", {6, 5}, iota_f(30, 0.3f, -0.02f)).init("mb", {5}, iota_f(5, 0.7f, 0.3f));
  b.init("H", {3, 5}, iota_f(15, 0.05f, 0.11f)).init("hb", {3}, {1.0f, 2.0f, 3.0f});
  auto& conv = b.node("Conv", {"x", "W"}, {"c"}, "conv");
  B::attr(conv, "pads", std::vector<std::int64_t>{1, 1, 1, 1});
  b.node("Add", {"c", "cb"}, {"cc"}, "conv_bias");  // folded into the conv's bias
  b.node("Relu", {"cc"}, {"r"}, "relu");
  b.node("Flatten", {"r"}, {"f"}, "flat");
  auto& g = b.node("Gemm", {"f", "G"}, {"g"}, "gemm_plain");  // B is [in, out]: transposed on import
  B::attr(g, "alpha", 0.5);
  b.node("MatMul", {"g", "M"}, {"m"}, "matmul");
  b.node("Add", {"m", "mb"}, {"mm"}, "matmul_bias");
  auto& h = b.node("Gemm", {"mm", "H", "hb"}, {"y"}, "gemm_t");  // B is [out, in]: taken over
  B::attr(h, "transB", std::int64_t{1});
  const Model<float> direct = io::parse_onnx_model_float(b.bytes(), "test.onnx");
  expect_same_float_model(direct, load(b).convert<float>());
  EXPECT_EQ(direct.nodes().size(), 6u);  // conv, relu, flat, gemm_plain, matmul (+bias), gemm_t
}

TEST(OnnxImport, FloatImportOfModelFilesEqualsDoubleImportConverted) {
  for (const char* name : {"mlp", "mnist_cnn"}) {
    SCOPED_TRACE(name);
    const std::string path = shared_path(std::string("reference/zennit/") + name + "/model.onnx");
    expect_same_float_model(io::read_onnx_model_float(path), io::read_onnx_model(path).convert<float>());
  }
}

// auto_pad gives the same result as the equivalent explicit pads.
TEST(OnnxImport, ConvAutoPadEqualsExplicitPads) {
  struct Case {
    std::string auto_pad;
    std::vector<std::int64_t> pads;  // top, left, bottom, right for a 6x7 input, k3, s2
  };
  for (const Case& c : {Case{"SAME_UPPER", {0, 1, 1, 1}}, Case{"SAME_LOWER", {1, 1, 0, 1}}, Case{"VALID", {0, 0, 0, 0}}}) {
    const auto make = [&](bool automatic) {
      B b;
      b.input("x", {-1, 2, 6, 7}).output("y");
      b.init("W", {3, 2, 3, 3}, iota_f(54, -1.0f, 0.05f)).init("b", {3}, {0.1f, 0.2f, 0.3f});
      auto& n = b.node("Conv", {"x", "W", "b"}, {"y"}, "conv");
      B::attr(n, "strides", std::vector<std::int64_t>{2, 2});
      B::attr(n, "kernel_shape", std::vector<std::int64_t>{3, 3});
      if (automatic) B::attr(n, "auto_pad", c.auto_pad);
      else B::attr(n, "pads", c.pads);
      return load(b);
    };
    const Tensor<double> x = random_tensor({2, 2, 6, 7}, 3);
    const Tensor<double> ya = run_forward<double>(make(true), x), ye = run_forward<double>(make(false), x);
    ASSERT_EQ(ya.shape(), ye.shape()) << c.auto_pad;
    EXPECT_TRUE(allclose(ya, ye, 0, 1e-14)) << c.auto_pad;
  }
}

TEST(OnnxImport, ConvGroupsAndDilations) {
  B b;
  b.input("x", {-1, 4, 7, 7}).output("y");
  b.init("W", {4, 1, 3, 3}, iota_f(36, -0.5f, 0.03f));
  auto& n = b.node("Conv", {"x", "W"}, {"y"}, "dw");
  B::attr(n, "group", std::int64_t{4});
  B::attr(n, "dilations", std::vector<std::int64_t>{2, 1});
  B::attr(n, "pads", std::vector<std::int64_t>{2, 1, 2, 1});
  const Model<double> m = load(b);
  const auto& conv = static_cast<const Conv2d<double>&>(*m.nodes()[0].layer);
  EXPECT_EQ(conv.groups(), 4u);
  EXPECT_EQ(conv.window().dh, 2u);
  EXPECT_EQ(m.infer_shapes(m.input_shape)[m.output_value()], (Shape{4, 7, 7}));
}

// 1-D windows on [N, C, L] against sums written out: Conv with pads [1, 2] (begin, end) and
// stride 2, MaxPool and AveragePool with pads [2, 0], Pad of 1 before and 3 after.
TEST(OnnxImport, OneDimensionalWindowsWithUnequalPads) {
  const Tensor<double> x({1, 1, 5}, std::vector<double>{1, 2, 3, 4, 5});
  {
    B b;
    b.input("x", {-1, 1, 5}).output("y");
    b.init("W", {1, 1, 2}, {1.0f, 10.0f}).init("b", {1}, {0.5f});
    auto& n = b.node("Conv", {"x", "W", "b"}, {"y"}, "conv1d");
    B::attr(n, "pads", std::vector<std::int64_t>{1, 2});
    B::attr(n, "strides", std::vector<std::int64_t>{2});
    // [0, 1, 2, 3, 4, 5, 0, 0]: windows at 0, 2, 4, 6 of (v, w) give v + 10 w, plus the bias
    const Tensor<double> y = run_forward<double>(load(b), x);
    EXPECT_EQ(y.shape(), (Shape{1, 1, 4}));
    EXPECT_EQ(y.vec(), (std::vector<double>{10.5, 32.5, 54.5, 0.5}));
  }
  for (const bool max : {true, false}) {
    B b;
    b.input("x", {-1, 1, 5}).output("y");
    auto& n = b.node(max ? "MaxPool" : "AveragePool", {"x"}, {"y"}, "pool");
    B::attr(n, "kernel_shape", std::vector<std::int64_t>{3});
    B::attr(n, "pads", std::vector<std::int64_t>{2, 0});
    B::attr(n, "strides", std::vector<std::int64_t>{2});
    // [pad, pad, 1, 2, 3, 4, 5]: windows at 0, 2, 4 (the average over the inputs inside)
    const Tensor<double> y = run_forward<double>(load(b), x);
    EXPECT_EQ(y.shape(), (Shape{1, 1, 3}));
    EXPECT_EQ(y.vec(), max ? (std::vector<double>{1, 3, 5}) : (std::vector<double>{1, 2, 4})) << (max ? "max" : "average");
  }
  {
    B b;
    b.input("x", {-1, 1, 5}).output("y");
    b.init_i64("pads", {6}, {0, 0, 1, 0, 0, 3});
    b.node("Pad", {"x", "pads"}, {"y"}, "pad");
    const Tensor<double> y = run_forward<double>(load(b), x);
    EXPECT_EQ(y.vec(), (std::vector<double>{0, 1, 2, 3, 4, 5, 0, 0, 0}));
  }
}

// ReduceSum (axes from an input, opset 13) over an image's spatial axes, over the tokens of
// [N, T, D], and with no axes and noop_with_empty_axes: the input as it is.
TEST(OnnxImport, ReduceSumOverSpatialAxesAndTokens) {
  const Tensor<double> x = random_tensor({2, 3, 4, 5}, 7);
  const auto sum_of = [&](const Shape& s, const std::vector<std::int64_t>& axes, std::int64_t keep) {
    B b;
    b.input("x", {-1, static_cast<std::int64_t>(s[0]), static_cast<std::int64_t>(s[1]), static_cast<std::int64_t>(s[2])}).output("y");
    b.init_i64("axes", {static_cast<std::int64_t>(axes.size())}, axes);
    B::attr(b.node("ReduceSum", {"x", "axes"}, {"y"}, "sum"), "keepdims", keep);
    return run_forward<double>(load(b), x);
  };
  const Tensor<double> spatial = sum_of({3, 4, 5}, {2, 3}, 0);
  ASSERT_EQ(spatial.shape(), (Shape{2, 3}));
  for (std::size_t p = 0; p < 6; ++p) {
    double total = 0;
    for (std::size_t i = 0; i < 20; ++i) total += x[p * 20 + i];
    EXPECT_NEAR(spatial[p], total, 1e-12) << "plane " << p;
  }
  const Tensor<double> tokens = sum_of({3, 4, 5}, {1}, 1);  // x read as [N, T = 3, 4, 5]
  ASSERT_EQ(tokens.shape(), (Shape{2, 1, 4, 5}));
  for (std::size_t n = 0; n < 2; ++n)
    for (std::size_t j = 0; j < 20; ++j)
      EXPECT_NEAR(tokens[n * 20 + j], x[(n * 3 + 0) * 20 + j] + x[(n * 3 + 1) * 20 + j] + x[(n * 3 + 2) * 20 + j], 1e-12);
  for (const std::int64_t noop : {1, 0}) {
    B b;
    b.input("x", {-1, 3, 4, 5}).output("y");
    b.init_i64("axes", {0}, {});
    B::attr(b.node("ReduceSum", {"x", "axes"}, {"y"}, "sum"), "noop_with_empty_axes", noop);
    if (noop) EXPECT_EQ(run_forward<double>(load(b), x).vec(), x.vec());
    else expect_format_error([&] { load(b); }, {"'sum' (ReduceSum)", "every axis"});
  }
}

TEST(OnnxImport, ReshapeKeepsTheBatch) {
  const auto make = [](const std::vector<std::int64_t>& target, std::int64_t batch) {
    B b;
    b.input("x", {batch, 2, 3, 4}).output("y");
    b.init_i64("s", {static_cast<std::int64_t>(target.size())}, target);
    b.node("Reshape", {"x", "s"}, {"y"}, "reshape");
    return b;
  };
  EXPECT_EQ(load(make({0, -1}, -1)).nodes()[0].layer->output_shape({{2, 3, 4}}), (Shape{24}));
  EXPECT_EQ(load(make({-1, 6, 4}, -1)).nodes()[0].layer->output_shape({{2, 3, 4}}), (Shape{6, 4}));
  EXPECT_EQ(load(make({0, 0, 12}, -1)).nodes()[0].layer->output_shape({{2, 3, 4}}), (Shape{2, 12}));
  EXPECT_EQ(load(make({5, 24}, 5)).nodes()[0].layer->output_shape({{2, 3, 4}}), (Shape{24}));
  expect_format_error([&] { load(make({5, 24}, -1)); }, {"reshape", "Reshape", "batch"});
  expect_format_error([&] { load(make({2, 12, -1}, -1)); }, {"batch"});
  expect_format_error([&] { load(make({0, 7, -1}, -1)); }, {"cannot reshape"});
}

// torch's x.view(x.size(0), -1): Shape -> Gather -> Unsqueeze -> Concat -> Reshape.
TEST(OnnxImport, ShapeOfARuntimeValueFeedsReshape) {
  B b;
  b.input("x", {-1, 2, 3, 4}).output("y");
  b.init_i64("zero", {}, {0}).init_i64("minus1", {1}, {-1}).init_i64("axes", {1}, {0});
  b.node("Shape", {"x"}, {"shape"}, "shape");
  B::attr(b.node("Gather", {"shape", "zero"}, {"n"}, "gather"), "axis", std::int64_t{0});
  b.node("Unsqueeze", {"n", "axes"}, {"n1"}, "unsqueeze");
  B::attr(b.node("Concat", {"n1", "minus1"}, {"target"}, "concat"), "axis", std::int64_t{0});
  b.node("Reshape", {"x", "target"}, {"y"}, "view");
  const Model<double> m = load(b);
  ASSERT_EQ(m.nodes().size(), 1u);
  EXPECT_EQ(m.nodes()[0].name, "view");
  const Tensor<double> x = random_tensor({3, 2, 3, 4}, 4);
  const Tensor<double> y = run_forward<double>(m, x);
  EXPECT_EQ(y.shape(), (Shape{3, 24}));
  EXPECT_EQ(y.vec(), x.vec());

  // Computing with the (unknown) batch size is an error naming the node, unless the model
  // imports as a batch of one (then the batch size is 1): here it would reshape [N, 2] to
  // [2N, 1], the batch no longer first, which is refused too, so the first error is reported.
  B c;
  c.input("x", {-1, 2}).output("y");
  c.init_i64("zero", {1}, {0}).init_i64("two", {1}, {2}).init_i64("one", {1}, {1});
  c.node("Shape", {"x"}, {"shape"}, "shape");
  c.node("Gather", {"shape", "zero"}, {"n"}, "gather");
  c.node("Mul", {"n", "two"}, {"n2"}, "double_batch");
  B::attr(c.node("Concat", {"n2", "one"}, {"target"}, "target"), "axis", std::int64_t{0});
  c.node("Reshape", {"x", "target"}, {"y"}, "view");
  expect_format_error([&] { load(c); }, {"double_batch", "Mul", "batch size"});
}

TEST(OnnxImport, FoldsConstantSubgraphs) {
  // W^T via Transpose, a bias via Constant + Cast + Mul: the misc fixture's patterns.
  B b;
  b.input("x", {-1, 3}).output("y");
  b.init("W", {2, 3}, {1, 2, 3, 4, 5, 6});
  B::attr(b.node("Transpose", {"W"}, {"Wt"}, "t"), "perm", std::vector<std::int64_t>{1, 0});
  auto& k = b.node("Constant", {}, {"k"}, "k");
  B::attr(k, "value_ints", std::vector<std::int64_t>{1, 2});
  B::attr(b.node("Cast", {"k"}, {"kf"}, "cast"), "to", std::int64_t{onnx::TensorProto::FLOAT});
  auto& half = b.node("Constant", {}, {"half"}, "half");
  B::attr(half, "value_float", 0.5);
  b.node("Mul", {"kf", "half"}, {"bias"}, "scale");
  b.node("MatMul", {"x", "Wt"}, {"m"}, "fc");
  b.node("Add", {"m", "bias"}, {"y"}, "fc_bias");
  const Model<double> m = load(b);
  ASSERT_EQ(m.nodes().size(), 1u);
  const auto& lin = static_cast<const Linear<double>&>(*m.nodes()[0].layer);
  EXPECT_EQ(lin.weight().vec(), (std::vector<double>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(lin.bias().vec(), (std::vector<double>{0.5, 1.0}));
}

TEST(OnnxImport, SliceWithNegativeStepIsFolded) {
  // pads [0,0,1,2,0,0,3,4] computed by reversing a constant with Slice (step -1, end at INT64_MIN + 1).
  B b;
  b.input("x", {-1, 1, 2, 2}).output("y");
  b.init_i64("p", {8}, {4, 3, 0, 0, 2, 1, 0, 0});
  b.init_i64("start", {1}, {-1}).init_i64("end", {1}, {std::numeric_limits<std::int64_t>::min() + 1});
  b.init_i64("axis", {1}, {0}).init_i64("step", {1}, {-1});
  b.node("Slice", {"p", "start", "end", "axis", "step"}, {"pads"}, "reverse");
  b.node("Pad", {"x", "pads"}, {"y"}, "pad");
  const Model<double> m = load(b);
  ASSERT_EQ(m.nodes().size(), 1u);
  EXPECT_EQ(m.nodes()[0].layer->describe().substr(0, 7), "1,2,3,4");
  EXPECT_EQ(m.infer_shapes(m.input_shape)[m.output_value()], (Shape{1, 6, 8}));
}

TEST(OnnxImport, IdentityAndDropoutLeaveNoLayer) {
  B b;
  b.input("x", {-1, 4}).output("y");
  b.node("Relu", {"x"}, {"r"}, "");
  b.node("Identity", {"r"}, {"i"}, "id");
  b.node("Dropout", {"i"}, {"d", "mask"}, "drop");
  b.node("Softmax", {"d"}, {"y"}, "softmax");
  Model<double> m = load(b);
  ASSERT_EQ(m.nodes().size(), 2u);
  EXPECT_EQ(m.nodes()[0].name, "r");  // unnamed node: its output's name
  EXPECT_EQ(m.nodes()[1].name, "softmax");
  EXPECT_TRUE(m.drop_trailing_softmax());
  // The mask output must not be used.
  b.graph().mutable_output(0)->set_name("mask");
  expect_format_error([&] { load(b); }, {"drop", "Dropout", "mask"});
}

// ReduceMean / ReduceMax over H and W are global pools (with a Flatten for keepdims=0), the
// axes given as an attribute or (opset 18) as an input; other axes are refused by name.
TEST(OnnxImport, ReduceMeanAndMaxAreGlobalPools) {
  const Tensor<double> x = random_tensor({2, 3, 4, 5}, 11);
  for (const bool max : {false, true})
    for (const std::int64_t keep : {0, 1})
      for (const std::int64_t opset : {13, 18}) {
        B b(opset);
        b.input("x", {-1, 3, 4, 5}).output("y");
        auto& n = b.node(max ? "ReduceMax" : "ReduceMean", opset >= 18 ? std::vector<std::string>{"x", "axes"} : std::vector<std::string>{"x"},
                         {"y"}, "reduce");
        if (opset >= 18) b.init_i64("axes", {2}, {-1, 2});
        else B::attr(n, "axes", std::vector<std::int64_t>{3, -2});
        B::attr(n, "keepdims", keep);
        const Model<double> m = load(b);
        const Tensor<double> y = run_forward<double>(m, x);
        ASSERT_EQ(y.shape(), keep ? (Shape{2, 3, 1, 1}) : (Shape{2, 3})) << max << keep << opset;
        for (std::size_t p = 0; p < 6; ++p) {
          double want = max ? -1e300 : 0.0;
          for (std::size_t k = 0; k < 20; ++k) want = max ? std::max(want, x[p * 20 + k]) : want + x[p * 20 + k] / 20;
          EXPECT_NEAR(y[p], want, 1e-12) << max << keep << opset;
        }
      }
  // Other axes (the channels here; a transformer's tokens) are moved last and pooled as a plane.
  for (const bool max : {false, true})
    for (const std::int64_t keep : {0, 1}) {
      B b;
      b.input("x", {-1, 3, 4, 5}).output("y");
      auto& n = b.node(max ? "ReduceMax" : "ReduceMean", {"x"}, {"y"}, "reduce");
      B::attr(n, "axes", std::vector<std::int64_t>{1, -1});
      B::attr(n, "keepdims", keep);
      const Tensor<double> y = run_forward<double>(load(b), x);
      ASSERT_EQ(y.shape(), keep ? (Shape{2, 1, 4, 1}) : (Shape{2, 4})) << max << keep;
      for (std::size_t s = 0; s < 2; ++s)
        for (std::size_t h = 0; h < 4; ++h) {
          double want = max ? -1e300 : 0.0;
          for (std::size_t ch = 0; ch < 3; ++ch)
            for (std::size_t w = 0; w < 5; ++w) {
              const double v = x[((s * 3 + ch) * 4 + h) * 5 + w];
              want = max ? std::max(want, v) : want + v / 15;
            }
          EXPECT_NEAR(y[s * 4 + h], want, 1e-12) << max << keep;
        }
    }
  B b;
  b.input("x", {-1, 3, 4, 5}).output("y");
  B::attr(b.node("ReduceMean", {"x"}, {"y"}, "reduce"), "axes", std::vector<std::int64_t>{0, 1});
  expect_format_error([&] { load(b); }, {"reduce", "ReduceMean", "batch axis"});
}

// A product of two computed values is a Mul layer whose gate is the sigmoid-type factor
// (either position; none when neither or both are); by a constant per channel it is a scale.
TEST(OnnxImport, ProductsOfComputedValuesAndGates) {
  const auto product = [](const std::string& first, const std::string& second) {
    B b;
    b.input("x", {-1, 2, 3, 3}).output("y");
    b.node(first, {"x"}, {"a"}, "first");
    b.node(second, {"x"}, {"b"}, "second");
    b.node("Mul", {"a", "b"}, {"y"}, "product");
    return load(b);
  };
  const auto gate_of = [](const Model<double>& m) { return static_cast<const Mul<double>&>(*m.nodes().back().layer).gate(); };
  EXPECT_EQ(gate_of(product("Relu", "Sigmoid")), 1);
  EXPECT_EQ(gate_of(product("HardSigmoid", "Tanh")), 0);
  EXPECT_EQ(gate_of(product("Relu", "Tanh")), -1);
  EXPECT_EQ(gate_of(product("Sigmoid", "Sigmoid")), -1);
  // GELU written out: a shifted and scaled erf (either order of the constants), or the tanh
  // approximation's 1 + tanh(...), is a gate; an unshifted erf or tanh is not.
  const auto shifted = [](const std::string& f, bool scale_first) {
    B b(17);
    b.input("x", {-1, 2, 3, 3}).output("y").init("one", {}, {1.0f}).init("half", {}, {0.5f});
    b.node(f, {"x"}, {"e"}, "f");
    b.node(scale_first ? "Mul" : "Add", {"e", scale_first ? "half" : "one"}, {"e1"}, "c1");
    b.node(scale_first ? "Add" : "Mul", {"e1", scale_first ? "one" : "half"}, {"g"}, "c2");
    b.node("Mul", {"x", "g"}, {"y"}, "product");
    return load(b);
  };
  EXPECT_EQ(gate_of(shifted("Erf", false)), 1);
  EXPECT_EQ(gate_of(shifted("Erf", true)), 1);
  EXPECT_EQ(gate_of(shifted("Tanh", false)), 1);
  EXPECT_EQ(gate_of(product("Relu", "Erf")), -1);

  // Without a gate each factor takes half of the relevance (Pass rules elsewhere).
  const Model<double> m = product("Relu", "Tanh");
  const Tensor<double> x = random_tensor({1, 2, 3, 3}, 21);
  ExplainRequest req;
  req.rules.assign(m.nodes().size(), Rule::pass());
  req.target.kind = Target::Kind::Relevance;
  req.target.relevance = random_tensor({1, 2, 3, 3}, 22);
  req.dump_layers = true;
  const Explanation<double> e = explain(m, x, req);
  for (std::size_t i = 0; i < x.size(); ++i) {
    EXPECT_NEAR(e.layers.at("first")[i], req.target.relevance[i] / 2, 1e-15);
    EXPECT_NEAR(e.relevance[i], req.target.relevance[i], 1e-15);
  }

  // Squeeze-excitation: [C,H,W] times a per-channel gate [C,1,1].
  B se;
  se.input("x", {-1, 2, 3, 3}).output("y");
  se.node("GlobalAveragePool", {"x"}, {"g"}, "pool");
  se.node("Sigmoid", {"g"}, {"s"}, "gate");
  se.node("Mul", {"s", "x"}, {"y"}, "scale");
  const Model<double> sm = load(se);
  EXPECT_EQ(gate_of(sm), 0);
  const Tensor<double> y = run_forward<double>(sm, x);
  for (std::size_t ch = 0; ch < 2; ++ch) {
    double mean = 0;
    for (std::size_t p = 0; p < 9; ++p) mean += x[ch * 9 + p] / 9;
    for (std::size_t p = 0; p < 9; ++p) EXPECT_NEAR(y[ch * 9 + p], x[ch * 9 + p] / (1 + std::exp(-mean)), 1e-14);
  }

  // A constant per channel scales: a BatchNorm layer with no shift.
  B k;
  k.input("x", {-1, 2, 3, 3}).output("y").init("k", {1, 2, 1, 1}, {2.0f, -0.5f});
  k.node("Mul", {"x", "k"}, {"y"}, "scale");
  const Tensor<double> yk = run_forward<double>(load(k), x);
  for (std::size_t i = 0; i < x.size(); ++i) EXPECT_NEAR(yk[i], x[i] * (i < 9 ? 2.0 : -0.5), 1e-15);
}

// ShuffleNet's channel shuffle and split on computed values: Reshape to 5-D, Transpose keeping
// the batch first, Reshape back; Slice along channels with constant bounds (ONNX clamping).
TEST(OnnxImport, RuntimeTransposeAndSliceShuffleAndSplitChannels) {
  B b;
  b.input("x", {1, 4, 2, 3}).output("y");
  b.init_i64("s5", {5}, {1, 2, 2, 2, 3}).init_i64("s4", {4}, {1, -1, 2, 3});
  b.init_i64("starts", {1}, {-2}).init_i64("ends", {1}, {std::numeric_limits<std::int64_t>::max()}).init_i64("axes", {1}, {1});
  b.node("Reshape", {"x", "s5"}, {"r5"}, "split_groups");
  B::attr(b.node("Transpose", {"r5"}, {"t"}, "shuffle"), "perm", std::vector<std::int64_t>{0, 2, 1, 3, 4});
  b.node("Reshape", {"t", "s4"}, {"r4"}, "merge_groups");
  b.node("Slice", {"r4", "starts", "ends", "axes"}, {"y"}, "second_half");
  const Model<double> m = load(b);
  const Tensor<double> x = random_tensor({1, 4, 2, 3}, 31);
  const Tensor<double> y = run_forward<double>(m, x);
  ASSERT_EQ(y.shape(), (Shape{1, 2, 2, 3}));
  // Shuffled channel order 0, 2, 1, 3; its last two channels are input channels 1 and 3.
  for (std::size_t p = 0; p < 6; ++p) {
    EXPECT_EQ(y[p], x[1 * 6 + p]);
    EXPECT_EQ(y[6 + p], x[3 * 6 + p]);
  }
  // Relevance goes back to the channels it came from; the dropped channels get none.
  ExplainRequest req;
  req.rules.assign(m.nodes().size(), Rule::pass());
  req.target.kind = Target::Kind::Relevance;
  req.target.relevance = random_tensor({1, 2, 2, 3}, 32);
  const Explanation<double> e = explain(m, x, req);
  for (std::size_t p = 0; p < 6; ++p) {
    EXPECT_EQ(e.relevance[p], 0.0);
    EXPECT_EQ(e.relevance[6 + p], req.target.relevance[p]);
    EXPECT_EQ(e.relevance[12 + p], 0.0);
    EXPECT_EQ(e.relevance[18 + p], req.target.relevance[6 + p]);
  }
  // What cannot run on a computed value is refused by name.
  B bad;
  bad.input("x", {-1, 4, 2, 3}).output("y");
  B::attr(bad.node("Transpose", {"x"}, {"y"}, "swap"), "perm", std::vector<std::int64_t>{1, 0, 2, 3});
  expect_format_error([&] { load(bad); }, {"swap", "batch axis"});
}

// Swin's patch merging: Slice with steps on a computed value, x[:, 1::2, 0::2, 1:4:2] here
// (ends clamped). Each output element is the input at begin + i * step; relevance goes back
// to exactly those elements. Negative steps on computed values are refused by name.
TEST(OnnxImport, StridedSliceOfComputedValues) {
  B b;
  b.input("x", {-1, 3, 5, 4}).output("y");
  b.init_i64("starts", {3}, {1, 0, 1}).init_i64("ends", {3}, {std::numeric_limits<std::int64_t>::max(), 5, 4});
  b.init_i64("axes", {3}, {1, 2, 3}).init_i64("steps", {3}, {2, 2, 2});
  b.node("Slice", {"x", "starts", "ends", "axes", "steps"}, {"y"}, "every_other");
  const Model<double> m = load(b);
  ASSERT_EQ(m.nodes().size(), 1u);
  const Tensor<double> x = random_tensor({2, 3, 5, 4}, 41);
  const Tensor<double> y = run_forward<double>(m, x);
  ASSERT_EQ(y.shape(), (Shape{2, 1, 3, 2}));
  const auto at = [](std::size_t n, std::size_t c, std::size_t h, std::size_t w) { return ((n * 3 + c) * 5 + h) * 4 + w; };
  for (std::size_t n = 0; n < 2; ++n)
    for (std::size_t h = 0; h < 3; ++h)
      for (std::size_t w = 0; w < 2; ++w) EXPECT_EQ(y[(n * 3 + h) * 2 + w], x[at(n, 1, 2 * h, 1 + 2 * w)]) << n << h << w;
  ExplainRequest req;
  req.rules.assign(m.nodes().size(), Rule::pass());
  req.target.kind = Target::Kind::Relevance;
  req.target.relevance = random_tensor({2, 1, 3, 2}, 42);
  const Explanation<double> e = explain(m, x, req);
  Tensor<double> want(x.shape());
  for (std::size_t n = 0; n < 2; ++n)
    for (std::size_t h = 0; h < 3; ++h)
      for (std::size_t w = 0; w < 2; ++w) want[at(n, 1, 2 * h, 1 + 2 * w)] = req.target.relevance[(n * 3 + h) * 2 + w];
  EXPECT_EQ(e.relevance.vec(), want.vec());
  B back;
  back.input("x", {-1, 4, 2, 3}).output("y");
  back.init_i64("starts", {1}, {3}).init_i64("ends", {1}, {0}).init_i64("axes", {1}, {1}).init_i64("steps", {1}, {-1});
  back.node("Slice", {"x", "starts", "ends", "axes", "steps"}, {"y"}, "reversed");
  expect_format_error([&] { load(back); }, {"reversed", "positive steps"});
}

// Folders Swin's shifted-window mask needs: Mod of shape arithmetic (fmod=0: the divisor's
// sign, as Python's %; fmod=1: the dividend's, C's fmod) and ScatterND (slices replaced or,
// with a reduction, combined); and its attention Dropout, exported with training_mode=true
// and ratio 0, which is the identity. Each result feeds x + c, c checked element by element.
TEST(OnnxImport, FoldsModScatterNDAndDropoutOfRatioZero) {
  const auto added = [](B& b, const std::string& c_name, std::size_t n) {
    b.input("x", {-1, static_cast<std::int64_t>(n)}).output("y");
    B::attr(b.node("Cast", {c_name}, {"cf"}, "to_float"), "to", std::int64_t{onnx::TensorProto::FLOAT});
    b.node("Add", {"x", "cf"}, {"y"}, "add");
    return run_forward<double>(load(b), Tensor<double>({1, n}));
  };
  {
    B b;  // [7, -7, 7, -7] mod [3, 3, -3, -3]
    b.init_i64("a", {4}, {7, -7, 7, -7}).init_i64("d", {4}, {3, 3, -3, -3});
    b.node("Mod", {"a", "d"}, {"m"}, "mod");
    EXPECT_EQ(added(b, "m", 4).vec(), (std::vector<double>{1, 2, -2, -1}));
  }
  {
    B b;
    b.init("a", {4}, {7.5f, -7.5f, 7.5f, -7.5f}).init("d", {4}, {2, 2, -2, -2});
    B::attr(b.node("Mod", {"a", "d"}, {"m"}, "mod"), "fmod", std::int64_t{1});
    EXPECT_EQ(added(b, "m", 4).vec(), (std::vector<double>{1.5, -1.5, 1.5, -1.5}));
  }
  {
    B b;
    b.init("a", {1}, {7.5f}).init("d", {1}, {2});
    b.node("Mod", {"a", "d"}, {"m"}, "float_mod");
    expect_format_error([&] { added(b, "m", 1); }, {"float_mod", "fmod=1"});
  }
  {
    B b;
    b.init_i64("a", {1}, {7}).init_i64("d", {1}, {0});
    b.node("Mod", {"a", "d"}, {"m"}, "by_zero");
    expect_format_error([&] { added(b, "m", 1); }, {"by_zero", "modulo by zero"});
  }
  {
    // data [2, 3]; rows 1 and 0 (indices [[1], [0]]) replaced; then element [0, 2] += 10.
    B b;
    b.init_i64("data", {2, 3}, {1, 2, 3, 4, 5, 6}).init_i64("rows", {2, 1}, {1, 0}).init_i64("upd", {2, 3}, {7, 8, 9, 10, 11, 12});
    b.init_i64("one", {1, 2}, {0, 2}).init_i64("ten", {1}, {10});
    b.node("ScatterND", {"data", "rows", "upd"}, {"s"}, "rows_replaced");
    B::attr(b.node("ScatterND", {"s", "one", "ten"}, {"t"}, "one_added"), "reduction", std::string("add"));
    b.node("Reshape", {"t", "flat"}, {"f"}, "flat");
    b.init_i64("flat", {1}, {6});
    EXPECT_EQ(added(b, "f", 6).vec(), (std::vector<double>{10, 11, 22, 7, 8, 9}));
  }
  for (const auto& [reduction, want] : std::vector<std::pair<std::string, std::vector<double>>>{
           {"mul", {3, 2, 15, 4, 5, 6}}, {"max", {3, 2, 5, 4, 5, 6}}, {"min", {1, 1, 3, 4, 5, 6}}}) {
    B b;  // row 0 of [[1, 2, 3], [4, 5, 6]] combined with [3, 1, 5]
    b.init_i64("data", {2, 3}, {1, 2, 3, 4, 5, 6}).init_i64("row", {1, 1}, {0}).init_i64("upd", {1, 3}, {3, 1, 5});
    b.init_i64("flat", {1}, {6});
    B::attr(b.node("ScatterND", {"data", "row", "upd"}, {"s"}, "combined"), "reduction", reduction);
    b.node("Reshape", {"s", "flat"}, {"f"}, "flat");
    EXPECT_EQ(added(b, "f", 6).vec(), want) << reduction;
  }
  {
    B b;
    b.init_i64("data", {2}, {1, 2}).init_i64("idx", {1, 1}, {0}).init_i64("upd", {1}, {5});
    B::attr(b.node("ScatterND", {"data", "idx", "upd"}, {"s"}, "odd_reduction"), "reduction", std::string("xor"));
    expect_format_error([&] { added(b, "s", 2); }, {"odd_reduction", "reduction 'xor'"});
  }
  for (const auto& [indices, updates, needle] :
       std::vector<std::tuple<std::vector<std::int64_t>, std::vector<std::int64_t>, std::string>>{
           {{2}, {1, 1, 1}, "out of range"}, {{-3}, {1, 1, 1}, "out of range"}, {{0}, {1, 1}, "updates of shape"}}) {
    B b;
    b.init_i64("data", {2, 3}, {1, 2, 3, 4, 5, 6}).init_i64("idx", {1, 1}, indices);
    b.init_i64("upd", {1, static_cast<std::int64_t>(updates.size())}, updates).init_i64("flat", {1}, {6});
    b.node("ScatterND", {"data", "idx", "upd"}, {"s"}, "scatter");
    b.node("Reshape", {"s", "flat"}, {"f"}, "flat");
    expect_format_error([&] { added(b, "f", 6); }, {"scatter", needle});
  }
  for (const float ratio : {0.0f, 0.1f}) {
    B b;
    b.input("x", {-1, 4}).output("y");
    b.init("ratio", {}, {ratio});
    onnx::TensorProto* training = b.graph().add_initializer();
    training->set_name("training");
    training->set_data_type(onnx::TensorProto::BOOL);
    training->add_int32_data(1);
    b.node("Relu", {"x"}, {"r"}, "relu");
    b.node("Dropout", {"r", "ratio", "training"}, {"y"}, "attn_drop");
    if (ratio == 0.0f) {
      EXPECT_EQ(load(b).nodes().size(), 1u);
    } else {
      expect_format_error([&] { load(b); }, {"attn_drop", "training_mode=true with ratio > 0"});
    }
  }
}

// HardSigmoid (its alpha and beta) and HardSwish (opset 14) against their formulas; factors
// that do not broadcast are refused naming the node.
TEST(OnnxImport, HardSigmoidAndHardSwish) {
  const Tensor<double> x = random_tensor({2, 5}, 41, -5.0, 5.0);
  B hs(14);
  hs.input("x", {-1, 5}).output("y");
  auto& sig = hs.node("HardSigmoid", {"x"}, {"h"}, "gate");
  B::attr(sig, "alpha", 0.3f);
  B::attr(sig, "beta", 0.4f);
  hs.node("HardSwish", {"h"}, {"y"}, "swish");
  const Tensor<double> y = run_forward<double>(load(hs), x);
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double h = std::clamp(static_cast<double>(0.3f) * x[i] + static_cast<double>(0.4f), 0.0, 1.0);
    EXPECT_NEAR(y[i], h * std::clamp(h / 6 + 0.5, 0.0, 1.0), 1e-15) << i;
  }
  B bad;
  bad.input("x", {-1, 2, 3, 3}).output("y");
  bad.node("GlobalAveragePool", {"x"}, {"g"}, "pool");
  bad.node("Transpose", {"g"}, {"t"}, "move");  // [1,1,2]: not [2,1,1]
  B::attr(*bad.graph().mutable_node(1), "perm", std::vector<std::int64_t>{0, 3, 2, 1});
  bad.node("Mul", {"x", "t"}, {"y"}, "product");
  expect_format_error([&] { load(bad); }, {"'product' (Mul)", "do not broadcast"});
}

// ConvTranspose with stride 2 and a 2x2 kernel: every input pixel writes its own scaled copy
// of the kernel (no overlap), so the output is known by hand (pads, output_padding,
// output_shape, SAME_UPPER; the libonnx node tests cover the general case); bad attributes name
// the node.
TEST(OnnxImport, ConvTransposeScattersTheKernel) {
  const auto make = [](const std::function<void(onnx::NodeProto&)>& extra) {
    B b;
    b.input("x", {-1, 1, 2, 2}).output("y");
    b.init("W", {1, 1, 2, 2}, {1, 10, 100, 1000}).init("b", {1}, {0.5f});
    auto& up = b.node("ConvTranspose", {"x", "W", "b"}, {"y"}, "up");
    B::attr(up, "strides", std::vector<std::int64_t>{2, 2});
    extra(up);
    return b;
  };
  const Model<double> m = load(make([](onnx::NodeProto&) {}));
  ASSERT_EQ(m.nodes().size(), 1u);
  EXPECT_EQ(m.nodes()[0].layer->kind(), LayerKind::ConvTranspose2d);
  const Tensor<double> y = run_forward<double>(m, Tensor<double>({1, 1, 2, 2}, std::vector<double>{1, 2, 3, 4}));
  ASSERT_EQ(y.shape(), (Shape{1, 1, 4, 4}));
  const double w[2][2] = {{1, 10}, {100, 1000}}, x[2][2] = {{1, 2}, {3, 4}};
  for (std::size_t r = 0; r < 4; ++r)
    for (std::size_t c = 0; c < 4; ++c) EXPECT_EQ(y[r * 4 + c], x[r / 2][c / 2] * w[r % 2][c % 2] + 0.5) << r << "," << c;
  // pads crop the border, output_padding adds a bias-only row/column at the end
  const Model<double> cropped = load(make([](onnx::NodeProto& n) {
    B::attr(n, "pads", std::vector<std::int64_t>{1, 0, 0, 1});
    B::attr(n, "output_padding", std::vector<std::int64_t>{1, 1});
  }));
  const Tensor<double> yc = run_forward<double>(cropped, Tensor<double>({1, 1, 2, 2}, std::vector<double>{1, 2, 3, 4}));
  ASSERT_EQ(yc.shape(), (Shape{1, 1, 4, 4}));
  for (std::size_t r = 0; r < 4; ++r)
    for (std::size_t c = 0; c < 4; ++c) {
      const std::size_t fr = r + 1;  // row in the uncropped 5x5 output
      const double expect = fr < 4 && c < 4 ? x[fr / 2][c / 2] * w[fr % 2][c % 2] + 0.5 : 0.5;
      EXPECT_EQ(yc[r * 4 + c], expect) << r << "," << c;
    }
  // output_shape one larger than the full 4x4: a bias-only row and column at the end; two
  // larger would need output padding as large as the stride
  const Model<double> wider = load(make([](onnx::NodeProto& n) { B::attr(n, "output_shape", std::vector<std::int64_t>{5, 5}); }));
  const Tensor<double> yw = run_forward<double>(wider, Tensor<double>({1, 1, 2, 2}, std::vector<double>{1, 2, 3, 4}));
  ASSERT_EQ(yw.shape(), (Shape{1, 1, 5, 5}));
  for (std::size_t r = 0; r < 5; ++r)
    for (std::size_t c = 0; c < 5; ++c)
      EXPECT_EQ(yw[r * 5 + c], r < 4 && c < 4 ? x[r / 2][c / 2] * w[r % 2][c % 2] + 0.5 : 0.5) << r << "," << c;
  expect_format_error([&] { load(make([](onnx::NodeProto& n) { B::attr(n, "output_shape", std::vector<std::int64_t>{6, 6}); })); },
                      {"'up' (ConvTranspose)", "output_padding"});
  // SAME_UPPER: output = input * stride = 4, the full output already
  const Model<double> same = load(make([](onnx::NodeProto& n) { B::attr(n, "auto_pad", std::string("SAME_UPPER")); }));
  EXPECT_EQ(run_forward<double>(same, Tensor<double>({1, 1, 2, 2}, std::vector<double>{1, 2, 3, 4})).shape(), (Shape{1, 1, 4, 4}));
  expect_format_error([&] { load(make([](onnx::NodeProto& n) { B::attr(n, "output_padding", std::vector<std::int64_t>{2, 0}); })); },
                      {"'up' (ConvTranspose)", "output_padding"});
  expect_format_error([&] { load(make([](onnx::NodeProto& n) { B::attr(n, "group", std::int64_t{2}); })); },
                      {"'up' (ConvTranspose)", "group 2"});
}

// Resize from constant scales or sizes (the interpolation itself: the libonnx node tests in
// test_onnx_conformance.cpp); what is not supported names the node.
TEST(OnnxImport, ResizeScalesSizesAndRefusals) {
  const auto make = [](const std::vector<float>& scales, const std::vector<std::int64_t>& sizes, const std::string& mode) {
    B b(13);
    b.input("x", {-1, 2, 3, 4}).output("y");
    std::vector<std::string> in = {"x", ""};
    if (!scales.empty()) {
      b.init("scales", {static_cast<std::int64_t>(scales.size())}, scales);
      in.push_back("scales");
    } else {
      in.push_back("");
    }
    if (!sizes.empty()) {
      b.init_i64("sizes", {static_cast<std::int64_t>(sizes.size())}, sizes);
      in.push_back("sizes");
    }
    B::attr(b.node("Resize", in, {"y"}, "up"), "mode", mode);
    return b;
  };
  const Model<double> nearest = load(make({1, 1, 2, 2}, {}, "nearest"));
  ASSERT_EQ(nearest.nodes().size(), 1u);
  EXPECT_EQ(nearest.nodes()[0].layer->kind(), LayerKind::Resize);
  EXPECT_EQ(nearest.infer_shapes(nearest.input_shape).back(), (Shape{2, 6, 8}));
  const Model<double> sized = load(make({}, {1, 2, 5, 7}, "linear"));
  EXPECT_EQ(sized.infer_shapes(sized.input_shape).back(), (Shape{2, 5, 7}));
  expect_format_error([&] { load(make({1, 1, 2, 2}, {}, "cubic")); }, {"'up' (Resize)", "cubic"});
  expect_format_error([&] { load(make({1, 2, 2, 2}, {}, "nearest")); }, {"'up' (Resize)", "N and C"});
  expect_format_error([&] { load(make({}, {1, 3, 5, 7}, "nearest")); }, {"'up' (Resize)", "channels"});
  expect_format_error([&] { load(make({1, 1, 2, 2}, {1, 2, 5, 7}, "nearest")); }, {"'up' (Resize)", "exactly one"});
  expect_format_error([&] { load(make({1, 1, -2, 2}, {}, "nearest")); }, {"'up' (Resize)", "positive"});
}

// A graph with two outputs (a main head and an auxiliary one): without a choice the error lists
// them; with one, only the nodes it depends on are built, in float and in double.
TEST(OnnxImport, SeveralOutputsOneChosen) {
  B b;
  b.input("x", {-1, 1, 3, 3}).init("W", {2, 1, 1, 1}, {2, -1}).init("V", {1, 1, 1, 1}, {3});
  b.graph().add_output()->set_name("main");
  b.graph().add_output()->set_name("aux");
  b.node("Conv", {"x", "W"}, {"c"}, "head");
  b.node("Relu", {"c"}, {"main"}, "main_relu");
  b.node("Conv", {"x", "V"}, {"v"}, "aux_conv");
  b.node("Sigmoid", {"v"}, {"aux"}, "aux_act");
  ScratchDir tmp;
  write_file(tmp.file("two.onnx"), b.bytes());
  expect_format_error([&] { io::read_onnx_model(tmp.file("two.onnx")); }, {"2 outputs", "'main', 'aux'", "--output"});
  expect_format_error([&] { io::read_onnx_model(tmp.file("two.onnx"), "other"); }, {"no output 'other'", "'main', 'aux'"});
  const Model<double> main = io::read_onnx_model(tmp.file("two.onnx"), "main");
  ASSERT_EQ(main.nodes().size(), 2u);
  EXPECT_EQ(main.nodes()[0].name, "head");
  EXPECT_EQ(main.nodes()[1].name, "main_relu");
  const Model<float> aux = io::read_onnx_model_float(tmp.file("two.onnx"), "aux");
  ASSERT_EQ(aux.nodes().size(), 2u);
  EXPECT_EQ(aux.nodes()[0].name, "aux_conv");
  const Tensor<double> x({1, 1, 3, 3}, std::vector<double>{-1, 0, 1, 2, 3, 4, 5, 6, 7});
  Executor<float> ex(aux);
  const Tensor<float> y = ex.forward(x.cast<float>());
  for (std::size_t i = 0; i < x.size(); ++i) EXPECT_NEAR(y[i], 1.0 / (1.0 + std::exp(-3 * x[i])), 1e-6);
  // the CLI: --output on the commands that load a model
  io::write_npy(tmp.file("x.npy"), x);
  std::string out;
  EXPECT_EQ(run_cli("info " + tmp.file("two.onnx"), out), 2);
  EXPECT_NE(out.find("--output NAME"), std::string::npos) << out;
  ASSERT_EQ(run_cli("explain " + tmp.file("two.onnx") + " " + tmp.file("x.npy") + " --output main --rule epsilon:1e-9 --precision double "
                    "--target channel:0 --quiet --out " + tmp.file("r.npy"), out),
            0)
      << out;
  // main = relu(2x) on channel 0: its relevance is 2x where x > 0 (epsilon, no bias)
  const Tensor<double> r = io::read_npy(tmp.file("r.npy"));
  for (std::size_t i = 0; i < x.size(); ++i) EXPECT_NEAR(r[i], x[i] > 0 ? 2 * x[i] : 0.0, 1e-8) << i;
}

TEST(OnnxImport, DuplicateNodeNamesAreMadeUnique) {
  B b;
  b.input("x", {-1, 4}).output("y");
  b.node("Relu", {"x"}, {"a"}, "act");
  b.node("Sigmoid", {"a"}, {"b"}, "act");
  b.node("Tanh", {"b"}, {"y"}, "act");
  const Model<double> m = load(b);
  ASSERT_EQ(m.nodes().size(), 3u);
  EXPECT_EQ(m.nodes()[0].name, "act");
  EXPECT_EQ(m.nodes()[1].name, "act#2");
  EXPECT_EQ(m.nodes()[2].name, "act#3");
}

TEST(OnnxImport, AddAndConcatOfTwoBranches) {
  B b;
  b.input("x", {-1, 2, 2, 2}).output("y");
  b.init("Wa", {1, 2, 1, 1}, {1, 2}).init("Wb", {1, 2, 1, 1}, {-1, 3});
  b.node("Conv", {"x", "Wa"}, {"a"}, "a");
  b.node("Conv", {"x", "Wb"}, {"b"}, "b");
  b.node("Add", {"a", "b"}, {"s"}, "sum");
  B::attr(b.node("Concat", {"s", "a", "x"}, {"y"}, "cat"), "axis", std::int64_t{1});
  const Model<double> m = load(b);
  ASSERT_EQ(m.nodes().size(), 4u);
  EXPECT_EQ(m.nodes()[2].layer->kind(), LayerKind::Add);
  EXPECT_EQ(m.nodes()[3].layer->kind(), LayerKind::Concat);
  EXPECT_EQ(m.nodes()[3].inputs, (std::vector<std::size_t>{3, 1, 0}));
  const Tensor<double> x = random_tensor({2, 2, 2, 2}, 5);
  const Tensor<double> y = run_forward<double>(m, x);
  ASSERT_EQ(y.shape(), (Shape{2, 4, 2, 2}));
  for (std::size_t n = 0; n < 2; ++n)
    for (std::size_t p = 0; p < 4; ++p) {
      const double x0 = x[(n * 2 + 0) * 4 + p], x1 = x[(n * 2 + 1) * 4 + p];
      const double a = x0 + 2 * x1, bb = -x0 + 3 * x1;
      EXPECT_NEAR(y[(n * 4 + 0) * 4 + p], a + bb, 1e-12);
      EXPECT_NEAR(y[(n * 4 + 1) * 4 + p], a, 1e-12);
      EXPECT_NEAR(y[(n * 4 + 2) * 4 + p], x0, 1e-12);
      EXPECT_NEAR(y[(n * 4 + 3) * 4 + p], x1, 1e-12);
    }
}

TEST(OnnxImport, ClipFromInputsOrAttributes) {
  {
    B b(13);
    b.input("x", {-1, 3}).output("y");
    b.init("lo", {}, {0}).init("hi", {}, {6});
    b.node("Clip", {"x", "lo", "hi"}, {"y"}, "relu6");
    const Model<double> m = load(b);
    const auto& act = static_cast<const Activation<double>&>(*m.nodes()[0].layer);
    EXPECT_EQ(act.spec().kind, ActivationKind::Clip);
    EXPECT_EQ(act.spec().lo, 0.0);
    EXPECT_EQ(act.spec().hi, 6.0);
    EXPECT_EQ(run_forward<double>(m, Tensor<double>({1, 3}, std::vector<double>{-2, 3, 9})).vec(), (std::vector<double>{0, 3, 6}));
  }
  {
    B b(13);  // only a minimum
    b.input("x", {-1, 2}).output("y");
    b.init("lo", {}, {-1});
    b.node("Clip", {"x", "lo", ""}, {"y"}, "clip");
    EXPECT_EQ(run_forward<double>(load(b), Tensor<double>({1, 2}, std::vector<double>{-5, 1e30})).vec(), (std::vector<double>{-1, 1e30}));
  }
  {
    B b(6);
    b.input("x", {-1, 2}).output("y");
    auto& n = b.node("Clip", {"x"}, {"y"}, "clip");
    B::attr(n, "min", -0.5);
    B::attr(n, "max", 0.5);
    EXPECT_EQ(run_forward<double>(load(b), Tensor<double>({1, 2}, std::vector<double>{-5, 5})).vec(), (std::vector<double>{-0.5, 0.5}));
  }
}

TEST(OnnxImport, PadFromInputOrAttribute) {
  {
    B b(13);
    b.input("x", {-1, 1, 2, 2}).output("y");
    b.init_i64("pads", {8}, {0, 0, 1, 2, 0, 0, 3, 4}).init("v", {}, {0.5f});
    b.node("Pad", {"x", "pads", "v"}, {"y"}, "pad");
    const Model<double> m = load(b);
    EXPECT_EQ(m.infer_shapes(m.input_shape)[m.output_value()], (Shape{1, 6, 8}));
    const Tensor<double> y = run_forward<double>(m, Tensor<double>({1, 1, 2, 2}, 1.0));
    EXPECT_EQ(y[0], 0.5);
    EXPECT_EQ(y[1 * 8 + 2], 1.0);
  }
  {
    B b(2);
    b.input("x", {-1, 1, 2, 2}).output("y");
    B::attr(b.node("Pad", {"x"}, {"y"}, "pad"), "pads", std::vector<std::int64_t>{0, 0, 1, 1, 0, 0, 1, 1});
    const Model<double> m = load(b);
    EXPECT_EQ(m.infer_shapes(m.input_shape)[m.output_value()], (Shape{1, 4, 4}));
  }
  {
    B b(13);  // all-zero pads: no layer
    b.input("x", {-1, 1, 2, 2}).output("y");
    b.init_i64("pads", {8}, {0, 0, 0, 0, 0, 0, 0, 0});
    b.node("Pad", {"x", "pads"}, {"p"}, "pad");
    b.node("Relu", {"p"}, {"y"}, "relu");
    EXPECT_EQ(load(b).nodes().size(), 1u);
  }
  {
    B b(13);  // channel padding is not supported
    b.input("x", {-1, 1, 2, 2}).output("y");
    b.init_i64("pads", {8}, {0, 1, 0, 0, 0, 0, 0, 0});
    b.node("Pad", {"x", "pads"}, {"y"}, "chanpad");
    expect_format_error([&] { load(b); }, {"chanpad", "Pad", "spatial"});
  }
}

TEST(OnnxImport, PoolingCeilModeAndCountIncludePad) {
  // MaxPool 2x2 stride 2 on 5x5 with ceil_mode: 3x3 outputs, the last ones partial.
  B b;
  b.input("x", {-1, 1, 5, 5}).output("y");
  auto& n = b.node("MaxPool", {"x"}, {"y"}, "pool");
  B::attr(n, "kernel_shape", std::vector<std::int64_t>{2, 2});
  B::attr(n, "strides", std::vector<std::int64_t>{2, 2});
  B::attr(n, "ceil_mode", std::int64_t{1});
  Tensor<double> x({1, 1, 5, 5});
  for (std::size_t i = 0; i < 25; ++i) x[i] = static_cast<double>(i);
  const Tensor<double> y = run_forward<double>(load(b), x);
  EXPECT_EQ(y.vec(), (std::vector<double>{6, 8, 9, 16, 18, 19, 21, 23, 24}));

  // AveragePool: count_include_pad chooses the divisor at the border.
  for (std::int64_t cip : {0, 1}) {
    B a;
    a.input("x", {-1, 1, 2, 2}).output("y");
    auto& p = a.node("AveragePool", {"x"}, {"y"}, "avg");
    B::attr(p, "kernel_shape", std::vector<std::int64_t>{2, 2});
    B::attr(p, "pads", std::vector<std::int64_t>{1, 1, 0, 0});
    B::attr(p, "count_include_pad", cip);
    const Tensor<double> ya = run_forward<double>(load(a), Tensor<double>({1, 1, 2, 2}, std::vector<double>{1, 2, 3, 4}));
    EXPECT_EQ(ya[0], cip ? 0.25 : 1.0);
    EXPECT_EQ(ya[3], 2.5);
    B::attr(p, "ceil_mode", std::int64_t{1});
    B::attr(p, "strides", std::vector<std::int64_t>{2, 2});
    if (cip) expect_format_error([&] { load(a); }, {"avg", "ceil_mode", "count_include_pad"});
    else EXPECT_NO_THROW(load(a));
  }
}

TEST(OnnxImport, TensorEncodings) {
  // typed float_data, double raw_data, double_data, int32_data, float16 raw: one Conv each.
  const auto make = [](const std::function<void(onnx::TensorProto&)>& fill) {
    B b;
    b.input("x", {-1, 1, 1, 2}).output("y");
    onnx::TensorProto* t = b.graph().add_initializer();
    t->set_name("W");
    t->add_dims(2);
    t->add_dims(1);
    t->add_dims(1);
    t->add_dims(1);
    fill(*t);
    b.node("Conv", {"x", "W"}, {"y"}, "conv");
    const Model<double> m = load(b);
    return static_cast<const Conv2d<double>&>(*m.nodes()[0].layer).weight().vec();
  };
  EXPECT_EQ(make([](onnx::TensorProto& t) {
              t.set_data_type(onnx::TensorProto::FLOAT);
              t.add_float_data(1.5f);
              t.add_float_data(-2.0f);
            }),
            (std::vector<double>{1.5, -2.0}));
  EXPECT_EQ(make([](onnx::TensorProto& t) {
              t.set_data_type(onnx::TensorProto::DOUBLE);
              const double v[2] = {0.1, -0.2};
              t.set_raw_data(std::string(reinterpret_cast<const char*>(v), sizeof v));
            }),
            (std::vector<double>{0.1, -0.2}));
  EXPECT_EQ(make([](onnx::TensorProto& t) {
              t.set_data_type(onnx::TensorProto::DOUBLE);
              t.add_double_data(0.25);
              t.add_double_data(4);
            }),
            (std::vector<double>{0.25, 4}));
  EXPECT_EQ(make([](onnx::TensorProto& t) {
              t.set_data_type(onnx::TensorProto::INT32);
              t.add_int32_data(-3);
              t.add_int32_data(7);
            }),
            (std::vector<double>{-3, 7}));
  EXPECT_EQ(make([](onnx::TensorProto& t) {
              t.set_data_type(onnx::TensorProto::FLOAT16);
              const std::uint16_t v[2] = {0x3c00, 0xc100};  // 1.0, -2.5
              t.set_raw_data(std::string(reinterpret_cast<const char*>(v), sizeof v));
            }),
            (std::vector<double>{1.0, -2.5}));
}

TEST(OnnxImport, ReadsTensorProtoFiles) {
  ScratchDir dir;
  onnx::TensorProto t;
  t.set_data_type(onnx::TensorProto::INT64);
  t.add_dims(3);
  for (std::int64_t v : {4, -5, 6}) t.add_int64_data(v);
  write_file(dir.file("t.pb"), t.SerializeAsString());
  const Tensor<double> r = io::read_onnx_tensor(dir.file("t.pb"));
  EXPECT_EQ(r.shape(), (Shape{3}));
  EXPECT_EQ(r.vec(), (std::vector<double>{4, -5, 6}));
}

TEST(OnnxImport, UnsortedGraphIsSorted) {
  B b;
  b.input("x", {-1, 3}).output("y");
  b.node("Tanh", {"r"}, {"y"}, "tanh");
  b.node("Relu", {"s"}, {"r"}, "relu");
  b.node("Sigmoid", {"x"}, {"s"}, "sigmoid");
  const Model<double> m = load(b);
  ASSERT_EQ(m.nodes().size(), 3u);
  EXPECT_EQ(m.nodes()[0].name, "sigmoid");
  EXPECT_EQ(m.nodes()[1].name, "relu");
  EXPECT_EQ(m.nodes()[2].name, "tanh");
}

TEST(OnnxImport, InputShapesAndBinding) {
  B b;
  b.input("x", {4, 3, 5, 6}).input("W", {2, 3, 1, 1}).output("y");
  b.node("Conv", {"x", "W"}, {"y"}, "conv");
  // unbound, W is a second data input, which a Conv cannot take as its weight
  expect_format_error([&] { load(b); }, {"weight W ('W')", "a data input of the graph", "--bind W=FILE"});
  const Model<double> m = load(b, {{"W", Tensor<double>({2, 3, 1, 1}, 1.0)}});
  EXPECT_EQ(m.input_shape, (Shape{3, 5, 6}));
  EXPECT_EQ(m.layout, DataLayout::NCHW);
  expect_format_error([&] { load(b, {{"W", Tensor<double>({2, 3, 1, 1}, 1.0)}, {"nope", Tensor<double>({1})}}); },
                      {"'nope'", "not a graph input"});
}

// Two data inputs: packed [N, 6 + 6] in graph order, cut apart by a Slice and a Reshape named as
// each; pack_input_parts / split_input_parts move named arrays in and out of that form.
TEST(OnnxImport, SeveralDataInputsArePackedInGraphOrder) {
  B b;
  b.input("x", {-1, 2, 3}).input("y2", {-1, 2, 3}).output("y");
  b.node("Add", {"x", "y2"}, {"y"}, "add");
  const Model<double> m = load(b);
  ASSERT_EQ(m.input_parts.size(), 2u);
  EXPECT_EQ(m.input_parts[0].name, "x");
  EXPECT_EQ(m.input_parts[1].shape, (Shape{2, 3}));
  EXPECT_EQ(m.input_shape, (Shape{12}));
  EXPECT_EQ(m.layout, DataLayout::Features);
  Tensor<double> x({2, 2, 3}), y2({2, 2, 3});
  for (std::size_t i = 0; i < x.size(); ++i) {
    x[i] = static_cast<double>(i);
    y2[i] = 100.0 * static_cast<double>(i);
  }
  const Tensor<double> packed = pack_input_parts(m, {{"y2", y2}, {"x", x}}, "in.npz");
  ASSERT_EQ(packed.shape(), (Shape{2, 12}));
  EXPECT_EQ(packed[6], 0.0);    // sample 0: x then y2
  EXPECT_EQ(packed[12], 6.0);   // sample 1 starts with its x
  EXPECT_EQ(packed[18], 600.0);
  const Tensor<double> out = run_forward<double>(m, packed);
  ASSERT_EQ(out.shape(), (Shape{2, 2, 3}));
  for (std::size_t i = 0; i < out.size(); ++i) EXPECT_DOUBLE_EQ(out[i], 101.0 * static_cast<double>(i));
  const std::map<std::string, Tensor<double>> parts = split_input_parts(m, packed);
  EXPECT_EQ(parts.at("x").shape(), x.shape());
  for (std::size_t i = 0; i < x.size(); ++i) EXPECT_EQ(parts.at("y2")[i], y2[i]);
  // Two targets per sample: [N, K, total] splits into [N, K, shape...]
  EXPECT_EQ(split_input_parts(m, Tensor<double>({2, 3, 12})).at("x").shape(), (Shape{2, 3, 2, 3}));
  // a float model imports the same way
  const Model<float> mf = io::parse_onnx_model_float(b.bytes(), "two.onnx");
  EXPECT_EQ(mf.input_parts.size(), 2u);
  EXPECT_THROW(pack_input_parts(m, {{"x", x}}, "in.npz"), ShapeError);
  EXPECT_THROW(pack_input_parts(m, {{"x", x}, {"y2", y2}, {"z", x}}, "in.npz"), ShapeError);
}

TEST(OnnxImport, SupportedOperatorLists) {
  const std::vector<std::string> ops = io::onnx_supported_ops();
  for (const char* op : {"Conv", "Gemm", "MatMul", "Relu", "LeakyRelu", "Sigmoid", "Tanh", "Clip", "MaxPool", "AveragePool",
                         "GlobalAveragePool", "Flatten", "Reshape", "BatchNormalization", "Add", "Concat", "Dropout",
                         "Identity", "Softmax", "Pad", "Constant"})
    EXPECT_NE(std::find(ops.begin(), ops.end(), op), ops.end()) << op;
  const std::vector<std::string> folds = io::onnx_foldable_ops();
  for (const char* op : {"Shape", "Gather", "Unsqueeze", "Concat", "Slice", "Transpose", "Cast", "ConstantOfShape", "Mod", "ScatterND"})
    EXPECT_NE(std::find(folds.begin(), folds.end(), op), folds.end()) << op;
}

}  // namespace
}  // namespace lrp::test
