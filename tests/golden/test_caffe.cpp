// Caffe import against PyTorch (tests/fixtures/caffe, make_fixtures.py): the same random-weight
// nets written as Caffe models and run in PyTorch in float64. Forward and input gradient:
// 1e-9 in double (the files hold float32 weights; PyTorch ran on the same values), 1e-5 in
// float, relative to the reference's largest value. LRP: the Caffe import and the ONNX export of
// the same net give the same relevance (1e-6 relative, double: PyTorch's export folds the
// BatchNorm into conv1 and stores the merged weights in float32, 3e-8 off the Caffe file's
// exact merge; a wrong rule or graph is off by far more); the ONNX path is checked against
// Zennit elsewhere.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <type_traits>

#include "lrp/core/error.hpp"
#include "lrp/core/parse.hpp"
#include "lrp/explain/explain.hpp"
#include "lrp/graph/canonize.hpp"
#include "lrp/io/arrays.hpp"
#include "lrp/io/caffe.hpp"
#include "lrp/io/onnx.hpp"
#include "lrp/rules/composite.hpp"
#include "support/compare.hpp"
#include "support/pytorch_reference.hpp"
#include "support/run_cli.hpp"
#include "support/test_paths.hpp"
#include "unit/test_io_util.hpp"

namespace lrp::test {
namespace {

std::string fixture(const std::string& file) { return source_path("tests/fixtures/caffe/" + file); }

Model<double> caffe_model(const std::string& net, bool separate_weights) {
  Model<double> m = separate_weights ? io::read_caffe_model(fixture(net + ".prototxt"), fixture(net + ".caffemodel"))
                                     : io::read_caffe_model(fixture(net + ".caffemodel"));
  m.drop_trailing_softmax();  // net and v1 end in their Softmax 'prob', as deploy nets do
  return m;
}

template <class T>
void check_against_pytorch(const std::string& net, std::size_t cls, double tol) {
  for (const bool separate : {true, false}) {
    SCOPED_TRACE(separate ? "prototxt + caffemodel" : "caffemodel alone");
    expect_model_matches_pytorch<T>(caffe_model(net, separate), net, fixture(net + "_input.npy"), fixture(net + "_logits.npy"),
                                    fixture(net + "_gradient.npy"), cls, tol);
  }
}

// BatchNorm + Scale, in-place layers, ceil-rounded MAX/AVE pooling, a padded MAX pool, a grouped
// convolution with kernel_h/kernel_w and no bias, LeakyReLU, Eltwise SUM, Split, Concat, LRN,
// TanH, a transposed InnerProduct, Dropout.
TEST(CaffeImport, NetMatchesPyTorchInDouble) { check_against_pytorch<double>("net", 3, 1e-9); }
TEST(CaffeImport, NetMatchesPyTorchInFloat) { check_against_pytorch<float>("net", 3, 1e-5); }
// Power, a grouped Deconvolution cropped back to the input's size (Crop), PReLU (shared and per
// channel), global AVE pooling.
TEST(CaffeImport, FcnNetMatchesPyTorchInDouble) { check_against_pytorch<double>("fcn", 2, 1e-9); }
TEST(CaffeImport, FcnNetMatchesPyTorchInFloat) { check_against_pytorch<float>("fcn", 2, 1e-5); }
// The V1 format (Caffe before 2015): enum layer types, legacy 4-D blob shapes, input/input_dim.
TEST(CaffeImport, V1NetMatchesPyTorchInDouble) { check_against_pytorch<double>("v1", 1, 1e-9); }
TEST(CaffeImport, V1NetMatchesPyTorchInFloat) { check_against_pytorch<float>("v1", 1, 1e-5); }

// Power with an integer exponent: y = (shift + scale x)^p, its input gradient
// p (shift + scale x)^(p-1) scale, both against the closed form (1e-12 in double, 1e-5 in float,
// relative to the largest value).
template <class T>
void check_power(int power, double scale, double shift, double tol) {
  SCOPED_TRACE("power " + std::to_string(power) + (std::is_same_v<T, float> ? ", float" : ", double"));
  const TempDir dir;
  write_bytes(dir.file("power.prototxt"),
              "layer { name: 'data' type: 'Input' top: 'data' input_param { shape { dim: 1 dim: 2 dim: 3 dim: 3 } } }\n"
              "layer { name: 'p' type: 'Power' bottom: 'data' top: 'p' power_param { power: " + std::to_string(power) +
                  " scale: " + format_number(scale) + " shift: " + format_number(shift) + " } }\n");
  const Model<double> md = io::read_caffe_model(dir.file("power.prototxt"));
  const Model<T> model = md.template convert<T>();
  Tensor<double> x({1, 2, 3, 3});
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = -1.5 + 0.37 * static_cast<double>(i);
  ExplainRequest req;
  req.method = Method::Gradient;
  req.target.kind = Target::Kind::Relevance;
  req.target.relevance = Tensor<double>(x.shape(), 1.0);  // the sum of all outputs
  const Explanation<T> e = explain(model, x.cast<T>(), req);
  Tensor<double> want_y(x.shape()), want_g(x.shape());
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double a = shift + scale * x[i];
    want_y[i] = std::pow(a, power);
    want_g[i] = power * std::pow(a, power - 1) * scale;
  }
  EXPECT_LE(max_rel_error(e.output, want_y), tol);
  EXPECT_LE(max_rel_error(e.relevance, want_g), tol);
}

TEST(CaffeImport, PowerRaisesTheAffineMapToAnIntegerPower) {
  for (const int power : {1, 2, 3}) {
    check_power<double>(power, 0.5, -1.0, 1e-12);
    check_power<float>(power, 0.5, -1.0, 1e-5);
  }
  check_power<double>(2, 1.0, 0.0, 1e-12);  // x^2 alone (the defaults)
}

TEST(CaffeImport, BuildsTheExpectedLayers) {
  const Model<double> m = caffe_model("net", true);
  EXPECT_EQ(m.input_shape, (Shape{3, 20, 20}));
  EXPECT_EQ(m.layout, DataLayout::NCHW);
  const std::vector<Shape> shapes = m.infer_shapes(m.input_shape);
  // pool1 rounds up (20 -> 10; rounding down would give 9), pool2 too (10 -> 5, not 4).
  for (std::size_t i = 0; i < m.nodes().size(); ++i) {
    const Node<double>& n = m.nodes()[i];
    if (n.name == "pool1") {
      EXPECT_EQ(shapes[n.output], (Shape{8, 10, 10}));
    } else if (n.name == "pool2") {
      EXPECT_EQ(shapes[n.output], (Shape{12, 5, 5}));
    } else if (n.name == "pool3") {
      EXPECT_EQ(shapes[n.output], (Shape{12, 3, 3}));
    }
  }
  // Dropout and Split leave no layer; BatchNorm and Scale are layers until canonized.
  Model<double> folded = io::read_caffe_model(fixture("net.prototxt"), fixture("net.caffemodel"));
  const std::vector<FoldedBatchNorm> f = fold_batch_norms(folded);
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[0].into, "conv1");
  EXPECT_EQ(f[1].into, "conv1");
  for (const Node<double>& n : folded.nodes()) EXPECT_NE(n.layer->kind(), LayerKind::BatchNorm) << n.name;
}

// The composites on the Caffe import (BatchNorm + Scale folded into conv1) and on the ONNX export
// of the same PyTorch net (BatchNormalization folded) give the same relevance.
TEST(CaffeImport, SameRelevanceAsTheOnnxExport) {
  Model<double> caffe = caffe_model("net", true);
  fold_batch_norms(caffe);
  Model<double> onnx = io::read_onnx_model(fixture("net.onnx"));
  fold_batch_norms(onnx);
  const Tensor<double> x = io::read_npy(fixture("net_input.npy"));
  for (const std::string spec : {"epsilon_plus_flat", "epsilon_alpha2_beta1", "epsilon_gamma_box:-3,3"}) {
    SCOPED_TRACE(spec);
    ExplainRequest req;
    req.rules = composite_rules(caffe, spec);
    const Explanation<double> a = explain(caffe, x, req);
    req.rules = composite_rules(onnx, spec);
    const Explanation<double> b = explain(onnx, x, req);
    EXPECT_LE(max_rel_error(a.output, b.output), 1e-6);
    EXPECT_LE(max_rel_error(a.relevance, b.relevance), 1e-6);
    double largest = 0.0;
    for (std::size_t i = 0; i < b.relevance.size(); ++i) largest = std::max(largest, std::abs(b.relevance[i]));
    EXPECT_GT(largest, 0.0);
  }
}

// The contract form: MODEL.prototxt --weights W.caffemodel, and a .caffemodel alone.
TEST(CaffeImport, ExplainFromTheCommandLine) {
  const std::string out = temp_path("caffe_rel.npy");
  const CliResult r = run_cli("explain " + fixture("net.prototxt") + " --weights " + fixture("net.caffemodel") + " " +
                              fixture("net_input.npy") + " --composite epsilon_plus_flat --out " + out);
  ASSERT_EQ(r.code, 0) << r.output;
  const Tensor<double> rel = io::read_npy(out);
  EXPECT_EQ(rel.shape(), (Shape{2, 3, 20, 20}));
  std::filesystem::remove(out);
  const CliResult info = run_cli("info " + fixture("v1.caffemodel"));
  EXPECT_EQ(info.code, 0) << info.output;
  EXPECT_NE(info.output.find("Convolution"), std::string::npos) << info.output;
}

}  // namespace
}  // namespace lrp::test
