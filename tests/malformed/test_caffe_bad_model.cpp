// Broken and unsupported Caffe files: each gives a FormatError (IoError for a missing file)
// naming the file and, where there is one, the layer and its type - never a crash or a silently
// wrong model. Through the CLI: exit code 2 and "lrp: error: ...".
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "lrp/core/error.hpp"
#include "lrp/explain/executor.hpp"
#include "lrp/io/atomic_file.hpp"
#include "lrp/io/caffe.hpp"
#include "support/run_cli.hpp"
#include "support/test_paths.hpp"
#include "unit/test_io_util.hpp"

namespace lrp::test {
namespace {

std::string fixture(const std::string& file) { return source_path("tests/fixtures/caffe/" + file); }

// `content` in a scratch file named `name` under `dir`.
std::string scratch(const TempDir& dir, const std::string& name, const std::string& content) {
  write_bytes(dir.file(name), content);
  return dir.file(name);
}

const std::string kInput = R"(layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 2 dim: 4 dim: 4 } } })";

// A convolution 2 -> 1, 1x1, with its blobs in the definition itself.
std::string conv(const std::string& name, const std::string& bottom, const std::string& weights = "data: 1 data: 2") {
  return "layer { name: '" + name + "' type: 'Convolution' bottom: '" + bottom + "' top: '" + name +
         "' convolution_param { num_output: 1 kernel_size: 1 } blobs { shape { dim: 1 dim: 2 dim: 1 dim: 1 } " + weights +
         " } blobs { shape { dim: 1 } data: 0.5 } }";
}

void expect_definition_error(const std::string& text, const std::vector<std::string>& needles) {
  const TempDir dir;
  const std::string f = scratch(dir, "bad.prototxt", text);
  expect_error<FormatError>([&] { io::read_caffe_model(f); }, needles);
  expect_error<FormatError>([&] { io::read_caffe_model_float(f); }, needles);
}

TEST(CaffeBadModel, TheSmallDefinitionIsValid) {
  const TempDir dir;
  const std::string f = scratch(dir, "good.prototxt", kInput + conv("c", "data"));
  const Model<double> m = io::read_caffe_model(f);
  ASSERT_EQ(m.nodes().size(), 1u);
  EXPECT_EQ(m.nodes()[0].name, "c");
}

// Eltwise MAX (maxout) of two 1x1 convolutions, against the formula.
TEST(CaffeBadModel, EltwiseMaxIsAMaxoutUnit) {
  const TempDir dir;
  const std::string f = scratch(dir, "maxout.prototxt", kInput + conv("a", "data") + conv("b", "data", "data: -1 data: 3") +
                                                           "layer { name: 'm' type: 'Eltwise' bottom: 'a' bottom: 'b' top: 'm' "
                                                           "eltwise_param { operation: MAX } }");
  const Model<double> m = io::read_caffe_model(f);
  ASSERT_EQ(m.nodes().size(), 3u);
  EXPECT_EQ(m.nodes()[2].layer->type_name(), "Max");
  Tensor<double> x({1, 2, 4, 4});
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::sin(1.1 * static_cast<double>(i));
  Executor<double> run(m);
  const Tensor<double> y = run.forward(x);
  for (std::size_t p = 0; p < 16; ++p)
    EXPECT_NEAR(y[p], std::max(x[p] + 2 * x[16 + p], -x[p] + 3 * x[16 + p]) + 0.5, 1e-12) << p;
}

// LightCNN's max-feature-map: the input's two channels sliced apart, their maximum, flattened by
// Reshape {0, -1}; and rows cut at slice points, concatenated back in another order.
TEST(CaffeBadModel, SliceAndReshape) {
  const TempDir dir;
  Tensor<double> x({1, 2, 4, 4});
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::sin(1.7 * static_cast<double>(i));
  {
    const std::string f = scratch(dir, "mfm.prototxt", kInput +
        "layer { name: 's' type: 'Slice' bottom: 'data' top: 'lo' top: 'hi' slice_param { axis: 1 } }"
        "layer { name: 'm' type: 'Eltwise' bottom: 'lo' bottom: 'hi' top: 'm' eltwise_param { operation: MAX } }"
        "layer { name: 'r' type: 'Reshape' bottom: 'm' top: 'r' reshape_param { shape { dim: 0 dim: -1 } } }");
    const Model<double> m = io::read_caffe_model(f);
    Executor<double> run(m);
    const Tensor<double> y = run.forward(x);
    ASSERT_EQ(y.shape(), (Shape{1, 16}));
    for (std::size_t p = 0; p < 16; ++p) EXPECT_EQ(y[p], std::max(x[p], x[16 + p])) << p;
  }
  {
    const std::string f = scratch(dir, "rows.prototxt", kInput +
        "layer { name: 's' type: 'Slice' bottom: 'data' top: 'a' top: 'b' top: 'c' slice_param { axis: 2 slice_point: 1 slice_point: 3 } }"
        "layer { name: 'cat' type: 'Concat' bottom: 'c' bottom: 'b' bottom: 'a' top: 'cat' concat_param { axis: 2 } }");
    const Model<double> m = io::read_caffe_model(f);
    Executor<double> run(m);
    const Tensor<double> y = run.forward(x);
    ASSERT_EQ(y.shape(), (Shape{1, 2, 4, 4}));
    const std::size_t from[4] = {3, 1, 2, 0};  // rows c = 3, b = 1..2, a = 0
    for (std::size_t ch = 0; ch < 2; ++ch)
      for (std::size_t r = 0; r < 4; ++r)
        for (std::size_t col = 0; col < 4; ++col) EXPECT_EQ(y[(ch * 4 + r) * 4 + col], x[(ch * 4 + from[r]) * 4 + col]);
  }
}

// The same max-feature-map in a V1 definition (type SLICE, slice_param upgraded with it).
TEST(CaffeBadModel, V1SliceIsUpgraded) {
  const TempDir dir;
  const std::string f = scratch(dir, "v1.prototxt",
                                "input: 'data' input_dim: 1 input_dim: 2 input_dim: 4 input_dim: 4 "
                                "layers { name: 's' type: SLICE bottom: 'data' top: 'lo' top: 'hi' slice_param { slice_dim: 1 } } "
                                "layers { name: 'm' type: ELTWISE bottom: 'lo' bottom: 'hi' top: 'm' eltwise_param { operation: MAX } }");
  const Model<double> m = io::read_caffe_model(f);
  ASSERT_EQ(m.nodes().size(), 3u);
  EXPECT_EQ(m.nodes()[0].layer->type_name(), "Slice");
  EXPECT_EQ(m.nodes()[2].layer->type_name(), "Max");
}

TEST(CaffeBadModel, BadSlicesAndReshapesAreNamed) {
  const auto sliced = [](const std::string& tops, const std::string& param) {
    return kInput + "layer { name: 's' type: 'Slice' bottom: 'data' " + tops + " slice_param { " + param + " } }";
  };
  expect_definition_error(sliced("top: 'a' top: 'b' top: 'c'", "axis: 1"), {"'s' (Slice)", "does not split into 3 equal parts"});
  expect_definition_error(sliced("top: 'a' top: 'b'", "axis: 2 slice_point: 1 slice_point: 2"), {"'s' (Slice)", "2 slice points for 2 top blobs"});
  expect_definition_error(sliced("top: 'a' top: 'b' top: 'c'", "axis: 2 slice_point: 2 slice_point: 2"), {"'s' (Slice)", "increase strictly"});
  expect_definition_error(sliced("top: 'a' top: 'b'", "axis: 0"), {"'s' (Slice)", "not a non-batch axis"});
  const auto reshaped = [](const std::string& param) {
    return kInput + "layer { name: 'r' type: 'Reshape' bottom: 'data' top: 'r' reshape_param { " + param + " } }";
  };
  expect_definition_error(reshaped("shape { dim: 2 dim: -1 }"), {"'r' (Reshape)", "would change the batch axis"});
  expect_definition_error(reshaped("shape { dim: 0 dim: -1 dim: -1 }"), {"'r' (Reshape)", "more than one -1"});
  expect_definition_error(reshaped("shape { dim: 0 dim: 5 dim: -1 }"), {"'r' (Reshape)", "cannot infer"});
  expect_definition_error(reshaped("shape { dim: 0 dim: 7 }"), {"'r' (Reshape)", "holds 7 values per sample"});
  expect_definition_error(reshaped("shape { dim: 0 dim: 1073741824 dim: 1073741824 dim: 1073741824 }"),
                          {"'r' (Reshape)", "more values per sample than the input"});
  expect_definition_error(reshaped("shape { dim: 0 dim: -3 }"), {"'r' (Reshape)", "dimension -3"});
}

TEST(CaffeBadModel, SyntaxErrorsGiveTheLine) {
  expect_definition_error(kInput + "\nlayer { name: 'c' type: 'Convolution' bottom: 'data' top: 'c' ", {"bad.prototxt", "line 2"});
  expect_definition_error(kInput + "\nlayer { name: 'x' type: 'ReLU' bottom 'data' }", {"line 2", "column"});
}

TEST(CaffeBadModel, EveryTruncatedCaffemodelIsAFormatError) {
  const std::string bytes = io::read_file_bytes(fixture("net.caffemodel"));
  for (const std::size_t keep : {bytes.size() / 3, bytes.size() / 2, bytes.size() - 3}) {
    SCOPED_TRACE(keep);
    const TempDir dir;
    const std::string f = scratch(dir, "cut.caffemodel", bytes.substr(0, keep));
    expect_error<FormatError>([&] { io::read_caffe_model(fixture("net.prototxt"), f); }, {"cut.caffemodel"});
  }
}

TEST(CaffeBadModel, MissingFilesAreIoErrors) {
  EXPECT_THROW(io::read_caffe_model("/nonexistent/net.prototxt"), IoError);
  EXPECT_THROW(io::read_caffe_model(fixture("net.prototxt"), "/nonexistent/w.caffemodel"), IoError);
}

TEST(CaffeBadModel, UnsupportedLayersAreNamed) {
  expect_definition_error(kInput + "layer { name: 'e' type: 'Tile' bottom: 'data' top: 'e' }", {"layer 'e' (Tile)", "not supported"});
  expect_definition_error(kInput + "layer { name: 'p' type: 'Pooling' bottom: 'data' top: 'p' pooling_param { pool: STOCHASTIC kernel_size: 2 } }",
                          {"'p' (Pooling)", "STOCHASTIC"});
  expect_definition_error(kInput + conv("a", "data") + conv("b", "data") +
                              "layer { name: 's' type: 'Eltwise' bottom: 'a' bottom: 'b' top: 's' eltwise_param { coeff: 1 coeff: -1 } }",
                          {"'s' (Eltwise)", "coefficients"});
  expect_definition_error(kInput + "layer { name: 'n' type: 'LRN' bottom: 'data' top: 'n' lrn_param { norm_region: WITHIN_CHANNEL } }",
                          {"'n' (LRN)", "WITHIN_CHANNEL"});
  expect_definition_error(kInput + "layer { name: 'n' type: 'LRN' bottom: 'data' top: 'n' lrn_param { local_size: 0 } }", {"'n' (LRN)", "size"});
  expect_definition_error(kInput + "layer { name: 'bn' type: 'BatchNorm' bottom: 'data' top: 'bn' batch_norm_param { use_global_stats: false } }",
                          {"'bn' (BatchNorm)", "use_global_stats"});
  expect_definition_error("layers { name: 'x' type: BNLL bottom: 'data' top: 'x' } input: 'data' input_dim: 1 input_dim: 2 input_dim: 4 input_dim: 4",
                          {"'x' (V1 BNLL)", "not supported"});
}

TEST(CaffeBadModel, BadWeightsAreNamed) {
  // No blobs and no weights file.
  expect_definition_error(kInput + "layer { name: 'c' type: 'Convolution' bottom: 'data' top: 'c' convolution_param { num_output: 1 kernel_size: 1 } }",
                          {"'c' (Convolution)", "has no weights", "--weights"});
  // Three weights for a 2 -> 1 1x1 kernel.
  expect_definition_error(kInput + conv("c", "data", "data: 1 data: 2 data: 3"), {"'c' (Convolution)", "blob 0 (weights)", "3 values"});
  expect_definition_error(kInput + conv("c", "data", "data: 1 data: nan"), {"'c' (Convolution)", "non-finite"});
  // A kernel that needs 3 input channels on a 2-channel input.
  expect_definition_error(kInput + "layer { name: 'g' type: 'Convolution' bottom: 'data' top: 'g' convolution_param { num_output: 2 kernel_size: 1 group: 3 } }",
                          {"'g' (Convolution)", "group"});
}

TEST(CaffeBadModel, GraphErrorsAreNamed) {
  expect_definition_error(conv("c", "data"), {"declares no input"});
  expect_definition_error(kInput + conv("c", "nothing"), {"'c' (Convolution)", "blob 'nothing'"});
  expect_definition_error(kInput + conv("a", "data") + conv("b", "data"), {"2 output blobs", "a, b", "--output"});
  expect_definition_error(kInput + "layer { name: 'd' type: 'Data' top: 'data' top: 'label' }", {"'d' (Data)", "deploy"});
  expect_definition_error(kInput + "layer { name: 'p' type: 'Pooling' bottom: 'data' top: 'p' pooling_param { pool: MAX kernel_size: 9 } }",
                          {"'p' (Pooling)", "larger than the padded input"});
  expect_definition_error(kInput + "layer { name: 's' type: 'Softmax' bottom: 'data' top: 's' }", {"'s' (Softmax)", "axis 1"});
  expect_definition_error(kInput + conv("c", "data") + "layer { name: 'k' type: 'Crop' bottom: 'data' bottom: 'c' top: 'k' crop_param { offset: 1 } }",
                          {"'k' (Crop)", "does not fit"});
  expect_definition_error(kInput + "layer { name: 'k' type: 'Crop' bottom: 'data' top: 'k' }", {"'k' (Crop)", "1 bottom blobs"});
  expect_definition_error(kInput + "layer { name: 'a' type: 'PReLU' bottom: 'data' top: 'a' blobs { shape { dim: 3 } data: 1 data: 2 data: 3 } }",
                          {"'a' (PReLU)", "blob 0 (slopes)", "3 values"});
  for (const std::string power : {"0.5", "-1", "0", "65"})
    expect_definition_error(kInput + "layer { name: 'p' type: 'Power' bottom: 'data' top: 'p' power_param { power: " + power + " } }",
                            {"'p' (Power)", "power " + power + " is not supported", "integers from 1 to 64"});
}

// Shapes beyond the per-sample limit are refused at import, before a layer of that size exists.
TEST(CaffeBadModel, AbsurdSampleSizesAreRefused) {
  expect_definition_error(R"(layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 1024 dim: 1048576 dim: 1048576 } } })",
                          {"input 'data'", "[1024,1048576,1048576]", "limit per sample"});
  // A 1x1 convolution padding its 4x4 input by 40000 pixels on each side: 80004^2 values per sample.
  expect_definition_error(kInput +
                              "layer { name: 'c' type: 'Convolution' bottom: 'data' top: 'c' convolution_param { num_output: 1 kernel_size: 1 pad: 40000 } "
                              "blobs { shape { dim: 1 dim: 2 dim: 1 dim: 1 } data: 1 data: 2 } blobs { shape { dim: 1 } data: 0.5 } }",
                          {"'c' (Convolution)", "[1,80004,80004]", "limit per sample"});
}

// Two unconsumed blobs: --output picks one, and only the layers it needs stay.
TEST(CaffeBadModel, OutputPicksABlob) {
  const TempDir dir;
  const std::string f = scratch(dir, "two.prototxt", kInput + conv("a", "data") + conv("b", "data"));
  const Model<double> m = io::read_caffe_model(f, "", "b");
  ASSERT_EQ(m.nodes().size(), 1u);
  EXPECT_EQ(m.nodes()[0].name, "b");
  expect_error<FormatError>([&] { io::read_caffe_model(f, "", "zzz"); }, {"no blob 'zzz'"});
}

// Names of one value (a Split's tops, nothing reading them) are one output, not several.
TEST(CaffeBadModel, AliasesOfTheOutputAreOneOutput) {
  const TempDir dir;
  const std::string f = scratch(dir, "split.prototxt", kInput + conv("c", "data") + "layer { name: 's' type: 'Split' bottom: 'c' top: 's1' top: 's2' }");
  const Model<double> m = io::read_caffe_model(f);
  ASSERT_EQ(m.nodes().size(), 1u);
  EXPECT_EQ(m.output_value(), m.nodes()[0].output);
}

// Layers for the TRAIN phase only (a train_val net's loss) are left out, as Caffe does at test time.
TEST(CaffeBadModel, TrainOnlyLayersAreLeftOut) {
  const TempDir dir;
  const std::string f = scratch(dir, "phases.prototxt", kInput + conv("c", "data") +
                                          "layer { name: 'loss' type: 'SoftmaxWithLoss' bottom: 'c' bottom: 'label' top: 'loss' include { phase: TRAIN } }"
                                          "layer { name: 'acc' type: 'Accuracy' bottom: 'c' top: 'acc' exclude { phase: TEST } }");
  EXPECT_EQ(io::read_caffe_model(f).nodes().size(), 1u);
}

// ELU with its alpha (a float in caffe.proto; default 1): y = x above 0, alpha (exp(x) - 1) below,
// against the formula.
TEST(CaffeBadModel, EluIsImportedWithItsAlpha) {
  for (const auto& [param, alpha] : {std::pair<std::string, double>{"elu_param { alpha: 0.3 }", static_cast<double>(0.3f)}, {"", 1.0}}) {
    const TempDir dir;
    const std::string f = scratch(dir, "elu.prototxt", kInput + "layer { name: 'e' type: 'ELU' bottom: 'data' top: 'e' " + param + " }");
    const Model<double> m = io::read_caffe_model(f);
    ASSERT_EQ(m.nodes().size(), 1u);
    EXPECT_EQ(m.nodes()[0].layer->type_name(), "Elu");
    Tensor<double> x({1, 2, 4, 4});
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = -2.0 + 0.13 * static_cast<double>(i);
    Tensor<double> y;
    m.nodes()[0].layer->forward({&x}, y);
    for (std::size_t i = 0; i < x.size(); ++i)
      EXPECT_NEAR(y[i], x[i] > 0 ? x[i] : alpha * (std::exp(x[i]) - 1), 1e-15) << param << " " << i;
  }
  expect_definition_error(kInput + "layer { name: 'e' type: 'ELU' bottom: 'data' top: 'e' elu_param { alpha: nan } }",
                          {"'e' (ELU)", "alpha"});
}

TEST(CaffeBadModel, CommandLineExitsWithTwo) {
  const TempDir dir;
  const std::string f = scratch(dir, "cli.prototxt", kInput + "layer { name: 'e' type: 'Tile' bottom: 'data' top: 'e' }");
  CliResult r = run_cli("info " + f);
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("lrp: error: Caffe model"), std::string::npos) << r.output;
  r = run_cli("info " + fixture("net.onnx") + " --weights " + fixture("net.caffemodel"));
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("--weights"), std::string::npos) << r.output;
  r = run_cli("info " + fixture("net.prototxt") + " --weights " + fixture("net.prototxt"));
  EXPECT_EQ(r.code, 2) << r.output;
}

}  // namespace
}  // namespace lrp::test
