// Keras import against PyTorch (tests/fixtures/keras, make_fixtures.py): small random-weight
// PyTorch nets written as Keras 2 .h5 model files (and one as Keras 3 writes its config), run in
// PyTorch in float64. Forward and input gradient: 1e-9 in double (the files hold float32
// weights, PyTorch ran on the same values), 1e-5 in float, relative to the reference's largest
// value. LRP: the Keras import and the ONNX export of the same net give the same relevance
// (1e-9 relative in double; both read the same float32 weights, and a wrong layout, rule or
// graph is off by far more); the ONNX path is checked against Zennit elsewhere.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "lrp/explain/explain.hpp"
#include "lrp/graph/canonize.hpp"
#include "lrp/io/arrays.hpp"
#include "lrp/io/keras.hpp"
#include "lrp/io/onnx.hpp"
#include "lrp/layers/reshape.hpp"
#include "lrp/rules/composite.hpp"
#include "support/compare.hpp"
#include "support/pytorch_reference.hpp"
#include "support/run_cli.hpp"
#include "support/test_paths.hpp"

namespace lrp::test {
namespace {

std::string fixture(const std::string& file) { return source_path("tests/fixtures/keras/" + file); }

Model<double> keras_model(const std::string& file) {
  Model<double> m = io::read_keras_model(fixture(file));
  m.drop_trailing_softmax();  // cnn.h5 ends in Dense(activation="softmax"), as Keras classifiers do
  return m;
}

// The library's relevance for fixture `file` (BatchNorm folded, as on the command line) under
// `composite` for class `cls`, on the NCHW input of `ref`.
Tensor<double> library_relevance(const std::string& file, const std::string& ref, const std::string& composite, std::size_t cls) {
  Model<double> m = keras_model(file);
  fold_batch_norms(m);
  ExplainRequest req;
  req.rules = composite_rules(m, composite);
  req.target.kind = Target::Kind::Classes;
  req.target.classes = {cls};
  return explain(m, io::read_npy(fixture(ref + "_input.npy")), req).relevance;
}

template <class T>
void check_against_pytorch(const std::string& file, const std::string& ref, std::size_t cls, double tol) {
  expect_model_matches_pytorch<T>(keras_model(file), file, fixture(ref + "_input.npy"), fixture(ref + "_logits.npy"),
                                  fixture(ref + "_gradient.npy"), cls, tol);
}

// Sequential: Conv2D "same", BatchNormalization, MaxPooling2D, a strided "same" Conv2D (the odd
// padding row and column at the end, as TensorFlow pads), LeakyReLU, ZeroPadding2D,
// AveragePooling2D "same" (padding not counted), Flatten in Keras's H, W, C order, Dense.
TEST(KerasImport, SequentialCnnMatchesPyTorchInDouble) { check_against_pytorch<double>("cnn.h5", "cnn", 2, 1e-9); }
TEST(KerasImport, SequentialCnnMatchesPyTorchInFloat) { check_against_pytorch<float>("cnn.h5", "cnn", 2, 1e-5); }
// Functional: a residual Add, DepthwiseConv2D with a depth multiplier, SeparableConv2D,
// Cropping2D, Concatenate on the channels, MaxPooling2D "same", GlobalAveragePooling2D.
TEST(KerasImport, FunctionalResnetMatchesPyTorchInDouble) { check_against_pytorch<double>("resnet.h5", "resnet", 4, 1e-9); }
TEST(KerasImport, FunctionalResnetMatchesPyTorchInFloat) { check_against_pytorch<float>("resnet.h5", "resnet", 4, 1e-5); }
// The same net as Keras 3 writes its config (batch_shape, keras_history, activation objects).
TEST(KerasImport, Keras3ConfigMatchesPyTorch) { check_against_pytorch<double>("resnet_k3.h5", "resnet", 4, 1e-9); }
// Keras before 2.2.3: the config is the layer list; Dense on features, BatchNormalization and
// PReLU per feature, softplus, Rescaling.
TEST(KerasImport, OldSequentialMlpMatchesPyTorchInDouble) { check_against_pytorch<double>("mlp.h5", "mlp", 1, 1e-9); }
TEST(KerasImport, OldSequentialMlpMatchesPyTorchInFloat) { check_against_pytorch<float>("mlp.h5", "mlp", 1, 1e-5); }

// An input size left None is taken from the data: the same net as cnn.h5 for 12 x 12 inputs,
// and a clear error for sizes its Dense layer cannot take.
TEST(KerasImport, UnsizedInputTakesTheDataSize) {
  Model<double> m = io::read_keras_model(fixture("cnn_unsized.h5"), "", Shape{2, 12, 12, 3});
  EXPECT_TRUE(m.sized_by_data);
  EXPECT_EQ(m.input_shape, (Shape{3, 12, 12}));
  m.drop_trailing_softmax();
  expect_model_matches_pytorch<double>(m, "cnn_unsized.h5", fixture("cnn_input.npy"), fixture("cnn_logits.npy"),
                                       fixture("cnn_gradient.npy"), 2, 1e-9);
  const std::string out = temp_path("keras_unsized.npy"), other = temp_path("keras_unsized_in.npy");
  const CliResult a = run_cli("predict " + fixture("cnn_unsized.h5") + " " + fixture("cnn_input_nhwc.npy") + " --out " + out);
  ASSERT_EQ(a.code, 0) << a.output;
  const CliResult b = run_cli("predict " + fixture("cnn.h5") + " " + fixture("cnn_input_nhwc.npy") + " --out " + other);
  ASSERT_EQ(b.code, 0) << b.output;
  EXPECT_LE(max_rel_error(io::read_npy(out), io::read_npy(other)), 1e-12);
  io::write_npy(other, Tensor<double>({1, 16, 16, 3}, 0.5));  // 200 features reach the Dense of 128
  const CliResult c = run_cli("predict " + fixture("cnn_unsized.h5") + " " + other);
  EXPECT_EQ(c.code, 2) << c.output;
  EXPECT_NE(c.output.find("layer 'dense' (Dense)"), std::string::npos) << c.output;
  std::filesystem::remove(out);
  std::filesystem::remove(other);
}

// A Sequential starting with a nested Functional model (its weights in the nested model's
// group): Normalization, a squeeze-excitation block (Reshape to [1, 1, C], Multiply by the
// sigmoid gate), a Reshape of an image in Keras's H, W, C order.
TEST(KerasImport, NestedModelMatchesPyTorchInDouble) { check_against_pytorch<double>("nested.h5", "nested", 3, 1e-9); }
TEST(KerasImport, NestedModelMatchesPyTorchInFloat) { check_against_pytorch<float>("nested.h5", "nested", 3, 1e-5); }

// Functional, name lists split into numbered attributes, gzip-compressed weight chunks: dilated
// and grouped Conv2D; selu, elu, gelu, softsign, hard_sigmoid and swish; Maximum, Minimum; the
// ELU, LeakyReLU and Softmax layers; GlobalMaxPooling2D and GlobalAveragePooling2D(keepdims).
TEST(KerasImport, LayerZooMatchesPyTorchInDouble) { check_against_pytorch<double>("zoo.h5", "zoo", 1, 1e-9); }
TEST(KerasImport, LayerZooMatchesPyTorchInFloat) { check_against_pytorch<float>("zoo.h5", "zoo", 1, 1e-5); }
// Keras 3's form of it: LeakyReLU's negative_slope, and hard_sigmoid's Keras 3 slope 1/6.
TEST(KerasImport, Keras3LayerZooMatchesPyTorch) { check_against_pytorch<double>("zoo_k3.h5", "zoo_k3", 1, 1e-9); }
// The command line's import (a dry run in a child process first, which reads chunked weights
// whole) gives the library's outputs.
TEST(KerasImport, LayerZooPredictsFromTheCommandLine) {
  const std::string out = temp_path("keras_zoo_logits.npy");
  const CliResult r = run_cli("predict " + fixture("zoo.h5") + " " + fixture("zoo_input_nhwc.npy") + " --out " + out);
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_LE(max_rel_error(io::read_npy(out), io::read_npy(fixture("zoo_logits.npy"))), 1e-5);
  std::filesystem::remove(out);
}

// Conv2DTranspose ("same" cropping TensorFlow's odd row at the end, "valid", a kernel smaller than
// the stride, dilation) and UpSampling2D (bilinear with half-pixel centres, nearest), in both formats.
TEST(KerasImport, TransposedConvolutionsAndUpsamplingMatchPyTorch) {
  check_against_pytorch<double>("updown.h5", "updown", 2, 1e-9);
  check_against_pytorch<float>("updown.h5", "updown", 2, 1e-5);
  check_against_pytorch<double>("updown.keras", "updown", 2, 1e-9);
}

// Keras 3's .keras archives of three of the nets above (a zip of config.json and
// model.weights.h5, each layer's variables in a group named after its class, in creation order):
// BatchNormalization, depthwise and separable kernels; a nested model's own numbering; the zoo.
TEST(KerasImport, KerasArchivesMatchPyTorch) {
  check_against_pytorch<double>("resnet.keras", "resnet", 4, 1e-9);
  check_against_pytorch<float>("resnet.keras", "resnet", 4, 1e-5);
  check_against_pytorch<double>("nested.keras", "nested", 3, 1e-9);
  check_against_pytorch<float>("nested.keras", "nested", 3, 1e-5);
  check_against_pytorch<double>("nested_deflated.keras", "nested", 3, 1e-9);  // members compressed: read from a copy
  check_against_pytorch<double>("zoo.keras", "zoo_k3", 1, 1e-9);
}
// The command line takes .keras files like .h5 ones: the same relevance as the Keras 3 .h5 file
// of the same net.
TEST(KerasImport, KerasArchiveExplainsFromTheCommandLine) {
  const std::string a = temp_path("keras_archive_rel.npy"), b = temp_path("keras_h5_rel.npy");
  for (const auto& [model, out] : {std::pair{"resnet.keras", a}, std::pair{"resnet_k3.h5", b}}) {
    const CliResult r = run_cli("explain " + fixture(model) + " " + fixture("resnet_input_nhwc.npy") +
                                " --composite epsilon_gamma_box:-3,3 --target 2 --out " + out);
    ASSERT_EQ(r.code, 0) << r.output;
  }
  const Tensor<double> ra = io::read_npy(a), rb = io::read_npy(b);
  ASSERT_EQ(ra.shape(), (Shape{2, 10, 10, 4}));
  EXPECT_LE(max_rel_error(ra, rb), 1e-12);
  std::filesystem::remove(a);
  std::filesystem::remove(b);
}

// iNNvestigate's analyzer names for its presets work as composites on Keras models.
TEST(KerasImport, InnvestigatePresetFromTheCommandLine) {
  const std::string out = temp_path("keras_preset_rel.npy");
  const CliResult r = run_cli("explain " + fixture("cnn.h5") + " " + fixture("cnn_input_nhwc.npy") +
                              " --composite lrp.sequential_preset_a_flat --target 2 --out " + out);
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_LE(max_rel_error(nhwc_to_nchw(io::read_npy(out)), library_relevance("cnn.h5", "cnn", "sequential_preset_a_flat", 2)), 1e-5);
  std::filesystem::remove(out);
}

// The float reader (weights straight into float layers) gives the double reader's model.
TEST(KerasImport, FloatReaderMatchesTheDoubleReader) {
  for (const std::string file : {"cnn.h5", "resnet.h5", "nested.h5", "mlp.h5", "zoo.h5", "nested.keras", "updown.h5"}) {
    SCOPED_TRACE(file);
    const Model<double> d = io::read_keras_model(fixture(file));
    const Model<float> f = io::read_keras_model_float(fixture(file));
    ASSERT_EQ(d.nodes().size(), f.nodes().size());
    EXPECT_EQ(d.input_shape, f.input_shape);
    EXPECT_EQ(d.layout, f.layout);
    const Tensor<double> x = io::read_npy(fixture(file.substr(0, file.find('.')) + "_input.npy"));
    ExplainRequest req;
    req.method = Method::Gradient;
    const Explanation<float> a = explain(f, x.cast<float>(), req);
    const Explanation<double> b = explain(d, x, req);
    EXPECT_LE(max_rel_error(a.output.cast<double>(), b.output), 1e-5);  // float rounding, as against PyTorch
    EXPECT_LE(max_rel_error(a.relevance.cast<double>(), b.relevance), 1e-5);
  }
}

TEST(KerasImport, BuildsTheExpectedLayers) {
  const Model<double> cnn = io::read_keras_model(fixture("cnn.h5"));
  EXPECT_EQ(cnn.input_shape, (Shape{3, 12, 12}));  // NHWC [12, 12, 3] in the file
  EXPECT_EQ(cnn.layout, DataLayout::NHWC);
  bool flatten_seen = false;
  for (const Node<double>& n : cnn.nodes()) {
    EXPECT_NE(n.name, "dropout");  // identities at test time leave no layer
    if (const auto* f = dynamic_cast<const Flatten<double>*>(n.layer.get())) {
      EXPECT_TRUE(f->channels_last());
      flatten_seen = true;
    }
  }
  EXPECT_TRUE(flatten_seen);
  // SeparableConv2D is a depthwise and a pointwise convolution; an activation argument a node.
  const Model<double> res = io::read_keras_model(fixture("resnet.h5"));
  std::vector<std::string> names;
  for (const Node<double>& n : res.nodes()) names.push_back(n.name);
  for (const std::string want : {"sep/depthwise", "sep", "sep/relu", "dw/relu6", "gap/pool", "gap"})
    EXPECT_NE(std::find(names.begin(), names.end(), want), names.end()) << want;
  const std::vector<Shape> shapes = res.infer_shapes(res.input_shape);
  for (const Node<double>& n : res.nodes()) {
    if (n.name == "concat") {
      EXPECT_EQ(shapes[n.output], (Shape{14, 8, 8}));
    } else if (n.name == "pool") {
      EXPECT_EQ(shapes[n.output], (Shape{14, 4, 4}));  // "same", stride 2: ceil(8 / 2)
    }
  }
  // The squeeze-excitation product takes the sigmoid as its gate (all relevance to the features).
  const Model<double> nested = io::read_keras_model(fixture("nested.h5"));
  bool excite_seen = false;
  for (const Node<double>& n : nested.nodes()) {
    if (n.name != "excite") continue;
    EXPECT_EQ(n.layer->describe(), "gate: input 2");
    excite_seen = true;
  }
  EXPECT_TRUE(excite_seen);
  // --output picks a layer; what only the others need is left out.
  const Model<double> cut = io::read_keras_model(fixture("resnet.h5"), "concat");
  EXPECT_EQ(cut.infer_shapes(cut.input_shape)[cut.output_value()], (Shape{14, 8, 8}));
  EXPECT_LT(cut.nodes().size(), res.nodes().size());
}

// The composites on the Keras import and on the ONNX export of the same PyTorch net.
TEST(KerasImport, SameRelevanceAsTheOnnxExport) {
  Model<double> keras = keras_model("cnn.h5");
  fold_batch_norms(keras);
  Model<double> onnx = io::read_onnx_model(fixture("cnn.onnx"));
  fold_batch_norms(onnx);
  const Tensor<double> x = io::read_npy(fixture("cnn_input.npy"));
  for (const std::string spec : {"epsilon_plus_flat", "epsilon_alpha2_beta1", "epsilon_gamma_box:-3,3"}) {
    SCOPED_TRACE(spec);
    ExplainRequest req;
    req.rules = composite_rules(keras, spec);
    const Explanation<double> a = explain(keras, x, req);
    req.rules = composite_rules(onnx, spec);
    const Explanation<double> b = explain(onnx, x, req);
    EXPECT_LE(max_rel_error(a.output, b.output), 1e-9);
    EXPECT_LE(max_rel_error(a.relevance, b.relevance), 1e-9);
    EXPECT_GT(max_rel_error(b.relevance, Tensor<double>(b.relevance.shape())), 0.0);  // not all zero
  }
}

// The command line reads Keras's NHWC inputs and writes relevance in the same layout.
TEST(KerasImport, ExplainFromTheCommandLine) {
  const std::string out = temp_path("keras_rel.npy"), logits = temp_path("keras_logits.npy");
  const CliResult r = run_cli("explain " + fixture("resnet.h5") + " " + fixture("resnet_input_nhwc.npy") +
                              " --composite epsilon_plus_flat --target 4 --out " + out);
  ASSERT_EQ(r.code, 0) << r.output;
  const Tensor<double> rel = io::read_npy(out);
  ASSERT_EQ(rel.shape(), (Shape{2, 10, 10, 4}));
  EXPECT_LE(max_rel_error(nhwc_to_nchw(rel), library_relevance("resnet.h5", "resnet", "epsilon_plus_flat", 4)), 1e-5);
  // predict gives the model's output, Dense(activation="softmax")'s probabilities.
  const CliResult p = run_cli("predict " + fixture("cnn.h5") + " " + fixture("cnn_input_nhwc.npy") + " --out " + logits);
  ASSERT_EQ(p.code, 0) << p.output;
  Tensor<double> probs = io::read_npy(fixture("cnn_logits.npy"));
  for (std::size_t n = 0; n < probs.dim(0); ++n) {
    double* row = probs.data() + n * probs.dim(1);
    double sum = 0.0;
    for (std::size_t k = 0; k < probs.dim(1); ++k) sum += std::exp(row[k]);
    for (std::size_t k = 0; k < probs.dim(1); ++k) row[k] = std::exp(row[k]) / sum;
  }
  EXPECT_LE(max_rel_error(io::read_npy(logits), probs), 1e-5);
  // --output names a Keras layer: its output, activation included (tanh: within [-1, 1]).
  const CliResult hidden = run_cli("predict " + fixture("cnn.h5") + " " + fixture("cnn_input_nhwc.npy") + " --output dense --out " + logits);
  ASSERT_EQ(hidden.code, 0) << hidden.output;
  const Tensor<double> h = io::read_npy(logits);
  ASSERT_EQ(h.shape(), (Shape{2, 16}));
  for (std::size_t i = 0; i < h.size(); ++i) EXPECT_LE(std::abs(h[i]), 1.0);
  std::filesystem::remove(out);
  std::filesystem::remove(logits);
  const CliResult info = run_cli("info " + fixture("mlp.h5"));
  EXPECT_EQ(info.code, 0) << info.output;
  EXPECT_NE(info.output.find("PRelu"), std::string::npos) << info.output;
}

}  // namespace
}  // namespace lrp::test
