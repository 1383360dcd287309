// Broken and unsupported ONNX files: every one must give a FormatError (IoError for a missing
// file) that names the file and, where there is one, the node and its operator - never a crash,
// never a silently wrong model. Through the CLI: exit code 2 and "lrp: error: ...".
#include <gtest/gtest.h>

#include <cmath>

#include <filesystem>
#include <functional>
#include <limits>
#include <numeric>
#include <random>
#include <tuple>

#include "lrp/core/error.hpp"
#include "lrp/io/onnx.hpp"
#include "support/onnx_test_util.hpp"

namespace lrp::test {
namespace {

using B = OnnxBuilder;

Model<double> load(const std::string& bytes) { return io::parse_onnx_model(bytes, "bad.onnx"); }
// The float importer (the CLI's fast path) shares the checks; the tests below run both.
Model<float> load_float(const std::string& bytes) { return io::parse_onnx_model_float(bytes, "bad.onnx"); }

B small_model() { return small_onnx_model(); }

// Runs f and expects a FormatError whose message contains every needle.
template <class F>
void expect_format_error(F&& f, const std::vector<std::string>& needles, const std::string& context = "") {
  try {
    f();
    ADD_FAILURE() << "no exception " << context;
  } catch (const FormatError& e) {
    const std::string msg = e.what();
    for (const std::string& n : needles) EXPECT_NE(msg.find(n), std::string::npos) << "'" << n << "' not in: " << msg << " " << context;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "not a FormatError: " << e.what() << " " << context;
  }
}

TEST(OnnxBadModel, TheSmallModelIsValid) { EXPECT_EQ(load(small_model().bytes()).nodes().size(), 5u); }

TEST(OnnxBadModel, EveryTruncatedPrefixIsAFormatError) {
  const std::string bytes = small_model().bytes();
  ASSERT_GT(bytes.size(), 200u);
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    expect_format_error([&] { load(bytes.substr(0, n)); }, {"bad.onnx"}, "prefix " + std::to_string(n));
    expect_format_error([&] { load_float(bytes.substr(0, n)); }, {"bad.onnx"}, "float, prefix " + std::to_string(n));
  }
}

TEST(OnnxBadModel, TruncatedFixtureModel) {
  const std::string path = source_path("tests/fixtures/zennit_modern/misc/model.onnx");
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "no fixture";
  const std::string bytes = read_file(path);
  for (std::size_t n = 0; n < bytes.size(); n += (n + 64 >= bytes.size() ? 1 : 61))
    expect_format_error([&] { load(bytes.substr(0, n)); }, {"bad.onnx"}, "prefix " + std::to_string(n));
}

TEST(OnnxBadModel, GarbageBytesAreAFormatError) {
  std::mt19937 rng(42);
  for (int trial = 0; trial < 300; ++trial) {
    std::string bytes(static_cast<std::size_t>(rng() % 4096), '\0');
    for (char& c : bytes) c = static_cast<char>(rng() & 0xff);
    expect_format_error([&] { load(bytes); }, {"bad.onnx"}, "trial " + std::to_string(trial));
  }
  expect_format_error([&] { load("this is not an ONNX model\n"); }, {"bad.onnx"});
}

// Flipping any byte gives either a loadable model or a clean error (under ASan: no bad access).
TEST(OnnxBadModel, FlippedBytesNeverCrash) {
  const std::string bytes = small_model().bytes();
  for (std::size_t i = 0; i < bytes.size(); ++i)
    for (unsigned char mask : {0xffu, 0x80u, 0x01u}) {
      std::string m = bytes;
      m[i] = static_cast<char>(static_cast<unsigned char>(m[i]) ^ mask);
      try {
        const Model<double> model = load(m);
        model.validate();
        Tensor<double> x({1});
        Shape s = model.input_shape;
        s.insert(s.begin(), 1);
        if (shape_numel(s) < 100000) run_forward<double>(model, Tensor<double>(s, 0.5));
      } catch (const Error&) {
      }
      try {
        const Model<float> model = load_float(m);
        model.validate();
        Shape s = model.input_shape;
        s.insert(s.begin(), 1);
        if (shape_numel(s) < 100000) Executor<float>(model).forward(Tensor<float>(s, 0.5f));
      } catch (const Error&) {
      }
    }
}

TEST(OnnxBadModel, UnsupportedOperatorNamesNodeAndOp) {
  B b;
  b.input("x", {-1, 4}).output("y");
  b.node("Relu", {"x"}, {"r"}, "relu");
  b.node("LpNormalization", {"r"}, {"y"}, "my_norm");
  expect_format_error([&] { load(b.bytes()); }, {"bad.onnx", "node 1 'my_norm' (LpNormalization)", "unsupported operator", "supported:"});
  B d;
  d.input("x", {-1, 4}).output("y");
  d.node("FusedGemm", {"x"}, {"y"}, "fused").set_domain("com.microsoft");
  expect_format_error([&] { load(d.bytes()); }, {"'fused'", "com.microsoft.FusedGemm", "domain"});
  B t;  // an operator that is only folded, on a runtime value
  t.input("x", {-1, 2, 3}).output("y");
  t.node("Equal", {"x", "x"}, {"y"}, "compare");
  expect_format_error([&] { load(t.bytes()); }, {"'compare'", "Equal", "only supported on constants"});
}

TEST(OnnxBadModel, UnsupportedAttributesAndShapes) {
  {
    B b = small_model();
    B::attr(*b.graph().mutable_node(0), "auto_pad", std::string("WEIRD"));
    expect_format_error([&] { load(b.bytes()); }, {"'conv' (Conv)", "auto_pad", "WEIRD"});
  }
  {
    B b = small_model();
    B::attr(*b.graph().mutable_node(1), "fancy", std::int64_t{1});
    expect_format_error([&] { load(b.bytes()); }, {"'relu' (Relu)", "attribute 'fancy' is not supported"});
  }
  {  // a 2-D weight on a 1-D input, and the other way round
    B b;
    b.input("x", {-1, 3, 8}).output("y");
    b.init("W", {2, 3, 3, 3}, std::vector<float>(54, 1.0f));
    b.node("Conv", {"x", "W"}, {"y"}, "conv");
    expect_format_error([&] { load(b.bytes()); }, {"'conv' (Conv)", "2-D", "[N,3,8]"});
    B d;
    d.input("x", {-1, 3, 8, 8}).output("y");
    d.init("W", {2, 3, 3}, std::vector<float>(18, 1.0f));
    d.node("Conv", {"x", "W"}, {"y"}, "conv1d");
    expect_format_error([&] { load(d.bytes()); }, {"'conv1d' (Conv)", "1-D", "[N,3,8,8]"});
  }
  {  // 1-D attributes: one value per axis, two pads
    for (const auto& [name, values, why] : {std::tuple<const char*, std::vector<std::int64_t>, const char*>{"strides", {1, 1}, "'strides' needs 1 value (1-D)"},
                                            {"pads", {1, 1, 1, 1}, "'pads' needs 2 values [begin, end] (1-D)"},
                                            {"kernel_shape", {1, 3}, "'kernel_shape' [1,3] does not match the weight [2,3,3]"}}) {
      B b;
      b.input("x", {-1, 3, 8}).output("y");
      b.init("W", {2, 3, 3}, std::vector<float>(18, 1.0f));
      B::attr(b.node("Conv", {"x", "W"}, {"y"}, "conv1d"), name, values);
      expect_format_error([&] { load(b.bytes()); }, {"'conv1d' (Conv)", why});
    }
    B p;  // pooling of three axes
    p.input("x", {-1, 3, 8}).output("y");
    B::attr(p.node("MaxPool", {"x"}, {"y"}, "pool"), "kernel_shape", std::vector<std::int64_t>{2, 2, 2});
    expect_format_error([&] { load(p.bytes()); }, {"'pool' (MaxPool)", "2 values (2-D pooling) or 1 (1-D)"});
    B t;  // a transposed 1-D convolution with 2-D output padding
    t.input("x", {-1, 3, 8}).output("y");
    t.init("W", {3, 2, 3}, std::vector<float>(18, 1.0f));
    B::attr(t.node("ConvTranspose", {"x", "W"}, {"y"}, "up"), "output_padding", std::vector<std::int64_t>{0, 1});
    expect_format_error([&] { load(t.bytes()); }, {"'up' (ConvTranspose)", "'output_padding' needs 1 value (1-D)"});
  }
  {
    B b = small_model();
    B::attr(*b.graph().mutable_node(4), "transA", std::int64_t{1});
    expect_format_error([&] { load(b.bytes()); }, {"'fc' (Gemm)", "transA"});
  }
  {  // a NaN alpha gave NaN weights, found only as NaN relevance when explaining
    B b = small_model();
    B::attr(*b.graph().mutable_node(4), "alpha", std::nanf(""));
    expect_format_error([&] { load(b.bytes()); }, {"'fc' (Gemm)", "'alpha' and 'beta' must be finite"});
  }
  {
    B b;
    // several data inputs need fixed sizes (the packed input cannot size them)
    b.input("x", {-1, 2, 3}).input("y2", {-1, -1, 3}).output("y");
    b.node("Add", {"x", "y2"}, {"y"}, "add");
    expect_format_error([&] { load(b.bytes()); }, {"graph input 'y2' has a dynamic dimension besides the batch", "several data inputs"});
    expect_format_error([&] { load_float(b.bytes()); }, {"graph input 'y2' has a dynamic dimension besides the batch"});
  }
}

// The operators this session's ConvNeXt support added: each refusal names the node and what is wrong.
TEST(OnnxBadModel, DivLayerNormalizationAndChannelsLastMatMul) {
  {
    B b;
    b.input("x", {-1, 4}).output("y");
    b.init("k", {1}, {0.0f});
    b.node("Div", {"x", "k"}, {"y"}, "div");
    expect_format_error([&] { load(b.bytes()); }, {"'div' (Div)", "divides by zero"});
  }
  {
    B b(17);
    b.input("x", {-1, 3, 6}).output("y");
    b.init("g", {5}, std::vector<float>(5, 1.0f));
    b.node("LayerNormalization", {"x", "g"}, {"y"}, "ln");
    expect_format_error([&] { load(b.bytes()); }, {"'ln' (LayerNormalization)", "Scale and B must have 6 values"});
    expect_format_error([&] { load_float(b.bytes()); }, {"'ln' (LayerNormalization)", "6 values"});
  }
  for (const auto& [axis, dims, message] :
       {std::tuple<std::int64_t, std::vector<std::int64_t>, std::string>{1, {5}, "does not broadcast onto"},
        {1, {2, 3, 6}, "more axes than the normalised [3,6]"},
        {0, {6}, "normalising over the batch axis"}}) {
    // Over several axes Scale must broadcast onto them; the batch axis is never normalised.
    B b(17);
    b.input("x", {-1, 3, 6}).output("y");
    b.init("g", dims, std::vector<float>(static_cast<std::size_t>(std::accumulate(dims.begin(), dims.end(), std::int64_t{1},
                                                                                  std::multiplies<>())),
                                         1.0f));
    B::attr(b.node("LayerNormalization", {"x", "g"}, {"y"}, "ln"), "axis", axis);
    expect_format_error([&] { load(b.bytes()); }, {"'ln' (LayerNormalization)", message});
  }
  {
    // [N, 3, 6] x [6, 4] is a Linear over the last axis; a constant of [2, 1] is not its bias and
    // does not broadcast onto [3, 4] either (a [3, 1] one would: a Bias layer).
    B b;
    b.input("x", {-1, 3, 6}).output("y");
    b.init("W", {6, 4}, std::vector<float>(24, 0.5f)).init("c", {2, 1}, {1, 2});
    b.node("MatMul", {"x", "W"}, {"m"}, "pw");
    b.node("Add", {"m", "c"}, {"y"}, "bias");
    expect_format_error([&] { load(b.bytes()); }, {"'bias' (Add)", "[2,1] does not broadcast onto [N,3,4]"});
  }
}

// Transformer graphs: what the importer cannot represent is refused by node and reason - a
// Gather of several indices, a product of computed values of different ranks, a SoftMax over
// another axis than the last, a constant that is not the same for every sample concatenated with
// computed values, arithmetic on a constant expanded to the batch, and comparing the batch size
// with a positive number.
TEST(OnnxBadModel, TransformerOperatorsOutsideWhatIsSupported) {
  const auto check = [](B& b, const std::vector<std::string>& needles) {
    expect_format_error([&] { load(b.bytes()); }, needles);
    expect_format_error([&] { load_float(b.bytes()); }, needles);
  };
  {
    B b(17);
    b.input("x", {-1, 3, 4}).output("y").init_i64("i", {2}, {0, 1});
    B::attr(b.node("Gather", {"x", "i"}, {"y"}, "cls"), "axis", std::int64_t{1});
    check(b, {"'cls' (Gather)", "only one index"});
  }
  {
    B b(17);
    b.input("x", {-1, 3, 4}).output("y").init_i64("s", {4}, {0, 1, 3, 4});
    b.node("Reshape", {"x", "s"}, {"x4"}, "r");
    b.node("MatMul", {"x", "x4"}, {"y"}, "scores");
    check(b, {"'scores' (MatMul)", "of one rank"});
  }
  {
    B b(17);
    b.input("x", {-1, 3, 4}).output("y");
    B::attr(b.node("Softmax", {"x"}, {"y"}, "sm"), "axis", std::int64_t{1});
    check(b, {"'sm' (Softmax)", "only Softmax over the last axis"});
  }
  {
    B b(17);
    b.input("x", {-1, 3, 4}).output("y").init("t", {2, 1, 4}, std::vector<float>(8, 0.5f));
    B::attr(b.node("Concat", {"t", "x"}, {"y"}, "cat"), "axis", std::int64_t{1});
    check(b, {"'cat' (Concat)", "only constants repeated for every sample"});
  }
  {
    B b(17);
    b.input("x", {-1, 4}).output("y").init("t", {1, 4}, std::vector<float>(4, 0.5f));
    b.node("Shape", {"x"}, {"s"}, "shape");
    b.node("Expand", {"t", "s"}, {"e"}, "expand");
    b.node("Add", {"e", "e"}, {"y"}, "twice");
    check(b, {"'twice' (Add)", "expanded to the batch size"});
  }
  {
    // Token ids (an integer input) may only index a table; a table indexed by computed values is
    // not an embedding.
    B b(17);
    b.input("ids", {-1, 5}, onnx::TensorProto::INT64).output("y");
    b.node("Relu", {"ids"}, {"y"}, "relu");
    check(b, {"'relu' (Relu)", "token ids"});
    B t(17);
    t.input("x", {-1, 5}).output("y").init("table", {7, 3}, std::vector<float>(21, 0.5f));
    t.node("Relu", {"x"}, {"r"}, "relu");
    t.node("Gather", {"table", "r"}, {"y"}, "lookup");
    check(t, {"'lookup' (Gather)", "computed indices"});
  }
  {
    B b(17);
    b.input("x", {-1, 6, 4}).output("y").init_i64("sizes", {2}, {2, 3});
    B::attr(b.node("Split", {"x", "sizes"}, {"y", "z"}, "qkv"), "axis", std::int64_t{1});
    check(b, {"'qkv' (Split)", "do not add up"});
  }
  {
    B b(17);
    b.input("x", {-1, 6, 4}).output("y").init_i64("axes", {1}, {1});
    b.node("Squeeze", {"x", "axes"}, {"y"}, "squeeze");
    check(b, {"'squeeze' (Squeeze)", "cannot squeeze axis 1"});
  }
  {
    B b(17);
    b.input("x", {-1, 6, 4}).output("y");
    B::attr(b.node("ReduceMean", {"x"}, {"y"}, "mean"), "axes", std::vector<std::int64_t>{0});
    check(b, {"'mean' (ReduceMean)", "batch axis"});
  }
  {
    // A batch of one whose batch axis a Transpose moved cannot go into a convolution (it needs
    // [N, C, H, W]), nor be the output.
    B b(17);
    b.input("x", {1, 2, 3, 3}).output("y").init("w", {2, 3, 1, 1}, std::vector<float>(6, 0.5f));
    B::attr(b.node("Transpose", {"x"}, {"t"}, "tokens_first"), "perm", std::vector<std::int64_t>{1, 0, 2, 3});
    b.node("Conv", {"t", "w"}, {"y"}, "conv");
    check(b, {"'conv' (Conv)", "needs the batch axis first", "[2,1,3,3]"});
    B o(17);
    o.input("x", {1, 2, 3, 3}).output("y");
    B::attr(o.node("Transpose", {"x"}, {"y"}, "tokens_first"), "perm", std::vector<std::int64_t>{1, 0, 2, 3});
    check(o, {"graph output 'y'", "batch axis first"});
  }
  {
    B b(17);
    b.input("x", {-1, 4}).output("y").init_i64("k", {2}, {2, 4}).init("t", {1, 4}, std::vector<float>(4, 0.5f));
    b.node("Shape", {"x"}, {"s"}, "shape");
    b.node("Equal", {"s", "k"}, {"eq"}, "same");
    b.node("Where", {"eq", "k", "s"}, {"w"}, "pick");
    b.node("Expand", {"t", "w"}, {"y"}, "expand");
    check(b, {"'same' (Equal)", "compares the batch size"});
  }
}

// LRN: a size below 1, none, or not an INT; a base that could reach 0 or below; an unknown
// attribute. Each refusal names the node and the attribute, in both importers.
TEST(OnnxBadModel, LrnAttributes) {
  const auto lrn = [](const std::function<void(onnx::NodeProto&)>& set) {
    B b;
    b.input("x", {-1, 4, 3, 3}).output("y");
    set(b.node("LRN", {"x"}, {"y"}, "norm1"));
    return b.bytes();
  };
  const std::vector<std::pair<std::string, std::vector<std::string>>> bad = {
      {lrn([](onnx::NodeProto& n) { B::attr(n, "size", std::int64_t{0}); }), {"'size' must be at least 1"}},
      {lrn([](onnx::NodeProto& n) { B::attr(n, "size", std::int64_t{-3}); }), {"'size'", "-3"}},
      {lrn([](onnx::NodeProto& n) { B::attr(n, "alpha", 0.1); }), {"missing attribute 'size'"}},
      {lrn([](onnx::NodeProto& n) { B::attr(n, "size", 0.5); }), {"'size' must be of type INT"}},
      {lrn([](onnx::NodeProto& n) { B::attr(n, "size", std::int64_t{3}), B::attr(n, "bias", -1.0); }), {"'bias'", "positive"}},
      {lrn([](onnx::NodeProto& n) { B::attr(n, "size", std::int64_t{3}), B::attr(n, "bias", 0.0); }), {"'bias'"}},
      {lrn([](onnx::NodeProto& n) { B::attr(n, "size", std::int64_t{3}), B::attr(n, "alpha", -1e-4); }), {"'alpha'"}},
      {lrn([](onnx::NodeProto& n) { B::attr(n, "size", std::int64_t{3}), B::attr(n, "mode", std::string("x")); }),
       {"attribute 'mode' is not supported"}},
  };
  for (const auto& [bytes, needles] : bad) {
    std::vector<std::string> all = needles;
    all.insert(all.end(), {"bad.onnx", "'norm1' (LRN)"});
    expect_format_error([&] { load(bytes); }, all, needles[0]);
    expect_format_error([&] { load_float(bytes); }, all, "float: " + needles[0]);
  }
}

// PRelu: a slope that does not broadcast per channel (a [C] slope on [N, C, H, W] would run along
// W; a count other than C; a wrong axis), a non-finite slope and a computed slope are refused
// naming the node, in both importers.
TEST(OnnxBadModel, PReluSlopeShapes) {
  const auto prelu = [](const std::vector<std::int64_t>& x_dims, const std::vector<std::int64_t>& dims, std::vector<float> v) {
    B b;
    b.input("x", x_dims).output("y");
    b.init("slope", dims, v);
    b.node("PRelu", {"x", "slope"}, {"y"}, "act1");
    return b.bytes();
  };
  const std::vector<std::pair<std::string, std::vector<std::string>>> bad = {
      {prelu({-1, 4, 3, 3}, {4}, {0.1f, 0.2f, 0.3f, 0.4f}), {"slope of shape [4]", "[N,4,3,3]"}},
      {prelu({-1, 4, 3, 3}, {3, 1, 1}, {0.1f, 0.2f, 0.3f}), {"slope of shape [3,1,1]", "per channel"}},
      {prelu({-1, 4, 3, 3}, {1, 1, 4, 1}, {0.1f, 0.2f, 0.3f, 0.4f}), {"slope of shape [1,1,4,1]"}},
      {prelu({-1, 4, 3, 3}, {2, 4, 1, 1}, std::vector<float>(8, 0.1f)), {"slope of shape [2,4,1,1]"}},
      {prelu({-1, 4}, {4, 1}, {0.1f, 0.2f, 0.3f, 0.4f}), {"slope of shape [4,1]"}},
      {prelu({-1, 4}, {1, 1, 1}, {0.1f}), {"slope of shape [1,1,1]"}},
      {prelu({-1, 4, 3, 3}, {4, 1, 1}, {0.1f, std::numeric_limits<float>::infinity(), 0.3f, 0.4f}), {"slope"}},
  };
  for (const auto& [bytes, needles] : bad) {
    std::vector<std::string> all = needles;
    all.insert(all.end(), {"bad.onnx", "'act1' (PRelu)"});
    expect_format_error([&] { load(bytes); }, all, needles[0]);
    expect_format_error([&] { load_float(bytes); }, all, "float: " + needles[0]);
  }
  B b;  // a computed slope
  b.input("x", {-1, 4, 3, 3}).output("y");
  b.node("Relu", {"x"}, {"r"}, "relu");
  b.node("PRelu", {"x", "r"}, {"y"}, "act1");
  expect_format_error([&] { load(b.bytes()); }, {"bad.onnx", "'act1' (PRelu)", "slope"});
}

TEST(OnnxBadModel, CycleIsAFormatError) {
  B b;
  b.input("x", {-1, 4}).output("y");
  b.node("Relu", {"x"}, {"a"}, "start");
  b.node("Add", {"a", "c"}, {"b"}, "loop_add");
  b.node("Sigmoid", {"b"}, {"c"}, "loop_sigmoid");
  b.node("Tanh", {"c"}, {"y"}, "end");
  expect_format_error([&] { load(b.bytes()); }, {"cycle", "'loop_add' (Add)", "'loop_sigmoid' (Sigmoid)"});
  B self;
  self.input("x", {-1, 4}).output("y");
  self.node("Add", {"x", "y"}, {"y"}, "self");
  expect_format_error([&] { load(self.bytes()); }, {"cycle", "'self'"});
}

TEST(OnnxBadModel, MissingInitializerIsAFormatError) {
  B b = small_model();
  b.graph().mutable_initializer()->DeleteSubrange(0, 1);  // W
  expect_format_error([&] { load(b.bytes()); }, {"'conv' (Conv)", "reads 'W'", "missing initializer"});
}

TEST(OnnxBadModel, DynamicNonBatchDimension) {
  B b;
  b.input("x", {-1, 3, -1, 8}).output("y");
  b.node("Relu", {"x"}, {"y"}, "relu");
  expect_format_error([&] { load(b.bytes()); }, {"graph input 'x'", "dimension 2 is dynamic", "'dyn3'"});
  B u;
  u.input("x", {-1, 3}).output("y");
  u.graph().mutable_input(0)->mutable_type()->mutable_tensor_type()->clear_shape();
  u.node("Relu", {"x"}, {"y"}, "relu");
  expect_format_error([&] { load(u.bytes()); }, {"graph input 'x'", "no shape"});
  // An integer input holds token ids: only an embedding may read it.
  B i;
  i.input("x", {-1, 3}, onnx::TensorProto::INT64).output("y");
  i.node("Relu", {"x"}, {"y"}, "relu");
  expect_format_error([&] { load(i.bytes()); }, {"'relu' (Relu)", "token ids"});
  B u8;
  u8.input("x", {-1, 3}, onnx::TensorProto::UINT8).output("y");
  u8.node("Relu", {"x"}, {"y"}, "relu");
  expect_format_error([&] { load(u8.bytes()); }, {"graph input 'x'", "UINT8"});
}

TEST(OnnxBadModel, AbsurdTensorSizesAreCaughtBeforeAllocating) {
  const auto with_w = [](const std::function<void(onnx::TensorProto&)>& edit) {
    B b = small_model();
    edit(*b.graph().mutable_initializer(0));
    return b.bytes();
  };
  expect_format_error([&] { load(with_w([](onnx::TensorProto& t) { t.set_dims(0, std::int64_t{1} << 16); t.set_dims(1, std::int64_t{1} << 16); })); },
                      {"initializer 'W'", "raw_data has 72 bytes"});
  expect_format_error([&] { load(with_w([](onnx::TensorProto& t) { t.set_dims(0, std::int64_t{1} << 40); t.set_dims(1, std::int64_t{1} << 40); })); },
                      {"initializer 'W'", "too large"});
  expect_format_error([&] { load(with_w([](onnx::TensorProto& t) { t.set_dims(0, -2); })); }, {"initializer 'W'", "negative dimension"});
  expect_format_error([&] {
    load(with_w([](onnx::TensorProto& t) {
      t.clear_raw_data();
      t.add_float_data(1.0f);
    }));
  }, {"initializer 'W'", "float_data has 1 values", "needs 18"});
  expect_format_error([&] { load(with_w([](onnx::TensorProto& t) { t.set_data_type(onnx::TensorProto::STRING); })); },
                      {"initializer 'W'", "STRING"});
  expect_format_error([&] { load(with_w([](onnx::TensorProto& t) { t.set_data_location(onnx::TensorProto::EXTERNAL); })); },
                      {"initializer 'W'", "external"});
  // A folded constant that asks for an absurd size.
  B b;
  b.input("x", {-1, 2}).output("y");
  b.init_i64("shape", {2}, {std::int64_t{1} << 30, std::int64_t{1} << 30});
  b.node("ConstantOfShape", {"shape"}, {"big"}, "huge");
  b.node("Relu", {"x"}, {"y"}, "relu");
  expect_format_error([&] { load(b.bytes()); }, {"'huge' (ConstantOfShape)", "too large"});
}

// A sample beyond kMaxSampleElements, declared by the input or made by a layer, is refused at
// import (both importers), before any constant or layer of that size is built.
TEST(OnnxBadModel, AbsurdSampleSizesAreRefused) {
  // A model declaring 2^31 values per sample that adds a constant to them (built per sample).
  B in;
  in.input("x", {-1, std::int64_t{1} << 31}).output("y");
  in.init("c", {1, 8}, std::vector<float>(8, 1.0f));
  in.node("Add", {"x", "c"}, {"y"}, "add");
  for (const auto& f : {std::function<void()>([&] { load(in.bytes()); }), std::function<void()>([&] { load_float(in.bytes()); })})
    expect_format_error(f, {"graph input 'x'", "[2147483648]", "limit per sample"});
  // Padding a 4x4 image by 40000 pixels on each side: 80004^2 values per sample.
  B pad;
  pad.input("x", {-1, 1, 4, 4}).output("y");
  pad.init_i64("pads", {8}, {0, 0, 40000, 40000, 0, 0, 40000, 40000});
  pad.node("Pad", {"x", "pads"}, {"y"}, "bigpad");
  for (const auto& f : {std::function<void()>([&] { load(pad.bytes()); }), std::function<void()>([&] { load_float(pad.bytes()); })})
    expect_format_error(f, {"'bigpad' (Pad)", "[1,80004,80004]", "limit per sample"});
}

TEST(OnnxBadModel, GraphLevelProblems) {
  {
    B b = small_model();
    b.output("y2");
    expect_format_error([&] { load(b.bytes()); }, {"2 outputs"});
  }
  {
    B b;
    b.input("x", {-1, 2}).output("y");
    b.init("k", {2}, {1, 2});
    b.node("Relu", {"x"}, {"r"}, "relu");
    b.node("Identity", {"k"}, {"y"}, "const_out");
    expect_format_error([&] { load(b.bytes()); }, {"output 'y'", "constant"});
  }
  {
    B b;
    b.input("x", {-1, 2}).output("y");
    b.node("Relu", {"x"}, {"r"}, "relu");
    expect_format_error([&] { load(b.bytes()); }, {"output 'y'", "not produced"});
  }
  {
    B b;
    b.input("x", {-1, 2}).output("y");
    b.node("Relu", {"x"}, {"y"}, "one");
    b.node("Sigmoid", {"x"}, {"y"}, "two");
    expect_format_error([&] { load(b.bytes()); }, {"'y'", "'one'", "'two'"});
  }
  {
    B b = small_model();
    b.proto().clear_opset_import();
    expect_format_error([&] { load(b.bytes()); }, {"opset"});
  }
  expect_format_error([&] { load(""); }, {"no graph"});
  EXPECT_THROW(io::read_onnx_model("/nonexistent/model.onnx"), IoError);
  // A folder is not read as a (huge) file: the message says what it is.
  try {
    io::read_onnx_model_float(std::filesystem::temp_directory_path().string());
    ADD_FAILURE() << "a folder was read as a model";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("not a regular file"), std::string::npos) << e.what();
  }
}

// The CLI turns every one of these into exit code 2 with the message on stderr.
TEST(OnnxBadModel, CliExitsWithCode2AndTheMessage) {
  ScratchDir dir;
  B b;
  b.input("x", {-1, 4}).output("y");
  b.node("Relu", {"x"}, {"r"}, "relu");
  b.node("LpNormalization", {"r"}, {"y"}, "my_norm");
  write_file(dir.file("unsupported.onnx"), b.bytes());
  write_file(dir.file("truncated.onnx"), small_model().bytes().substr(0, 100));
  std::string out;
  EXPECT_EQ(run_cli("info " + dir.file("unsupported.onnx"), out), 2);
  EXPECT_NE(out.find("lrp: error:"), std::string::npos) << out;
  EXPECT_NE(out.find("'my_norm' (LpNormalization)"), std::string::npos) << out;
  write_file(dir.file("x.npy"), "");
  EXPECT_EQ(run_cli("explain " + dir.file("unsupported.onnx") + " " + dir.file("x.npy") + " --composite epsilon --out " + dir.file("r.npy"), out), 2);
  EXPECT_NE(out.find("LpNormalization"), std::string::npos) << out;
  EXPECT_EQ(run_cli("predict " + dir.file("truncated.onnx") + " " + dir.file("x.npy"), out), 2);
  EXPECT_NE(out.find("truncated.onnx"), std::string::npos) << out;
  EXPECT_NE(out.find("lrp: error:"), std::string::npos) << out;
}

}  // namespace
}  // namespace lrp::test
