// GELU as PyTorch 1.13 exports it at opset 13 (x * (1 + erf(x / sqrt 2)) * 0.5): the forward and
// the input gradient against PyTorch in float64 (tests/fixtures/gelu, make_fixtures.py), and the
// relevance through it: the shifted erf is the Mul's gate, so (BatchNorm-type scales passing
// relevance on) the relevance at the activation's input equals that at its output, as for any
// activation. Tolerances relative to the reference's largest value: 1e-7 in double (the file holds
// sqrt 2 as a float32 constant, 1.4142135381..., where PyTorch's float64 run used the exact
// value: 1e-8 apart in the gradient), 1e-5 in float.
#include <gtest/gtest.h>

#include "lrp/core/error.hpp"
#include "lrp/explain/explain.hpp"
#include "lrp/io/arrays.hpp"
#include "lrp/io/onnx.hpp"
#include "lrp/layers/activation.hpp"
#include "lrp/rules/composite.hpp"
#include "support/compare.hpp"
#include "support/onnx_test_util.hpp"
#include "support/test_paths.hpp"

namespace lrp::test {
namespace {

std::string fixture(const std::string& file) { return source_path("tests/fixtures/gelu/" + file); }

template <class T>
void check_against_pytorch(double tol) {
  const Model<double> md = io::read_onnx_model(fixture("model.onnx"));
  const Model<T> model = md.template convert<T>();
  const Tensor<T> x = io::read_npy(fixture("input.npy")).template cast<T>();
  ExplainRequest req;
  req.method = Method::Gradient;
  req.target.kind = Target::Kind::Relevance;
  req.target.relevance = Tensor<double>({2, 4});
  req.target.relevance[1] = req.target.relevance[5] = 1.0;  // d logit[:, 1] / dx
  const Explanation<T> e = explain(model, x, req);
  EXPECT_LE(max_rel_error(e.output, io::read_npy(fixture("logits.npy"))), tol);
  EXPECT_LE(max_rel_error(e.relevance, io::read_npy(fixture("gradient.npy"))), tol);
}

TEST(Gelu, ForwardAndGradientMatchPyTorchInDouble) { check_against_pytorch<double>(1e-7); }
TEST(Gelu, ForwardAndGradientMatchPyTorchInFloat) { check_against_pytorch<float>(1e-5); }

TEST(Gelu, RelevancePassesThroughTheWrittenOutActivation) {
  const Model<double> model = io::read_onnx_model(fixture("model.onnx"));
  ExplainRequest req;
  req.rules = composite_rules(model, "epsilon_plus");
  req.dump_layers = true;
  const Explanation<double> e = explain(model, io::read_npy(fixture("input.npy")), req);
  // '/1/...' is the first GELU: its input is the output of '/0/Conv', its output that of '/1/Mul_1'.
  const Tensor<double>& in = e.layers.at("/0/Conv");
  const Tensor<double>& out = e.layers.at("/1/Mul_1");
  EXPECT_LE(max_rel_error(in, out), 1e-12);
  EXPECT_GT(sum(in) * sum(in), 0.0);
}

// ONNX's own Gelu operator (opset 20), exact and tanh-approximated, against the activation layer;
// an unknown approximation is refused by name.
TEST(Gelu, OnnxGeluOperator) {
  const Tensor<double> x({1, 5}, std::vector<double>{-2.0, -0.5, 0.0, 0.7, 3.0});
  for (const std::string approx : {"none", "tanh", "cubic"}) {
    OnnxBuilder b(20);
    b.input("x", {-1, 5}).output("y");
    OnnxBuilder::attr(b.node("Gelu", {"x"}, {"y"}, "gelu"), "approximate", approx);
    if (approx == "cubic") {
      try {
        io::parse_onnx_model(b.bytes(), "gelu.onnx");
        ADD_FAILURE() << "approximate 'cubic' was accepted";
      } catch (const FormatError& e) {
        EXPECT_NE(std::string(e.what()).find("approximate"), std::string::npos) << e.what();
      }
      continue;
    }
    const Model<double> m = io::parse_onnx_model(b.bytes(), "gelu.onnx");
    Tensor<double> y, want;
    m.nodes()[0].layer->forward({&x}, y);
    Activation<double>(ActivationSpec{approx == "tanh" ? ActivationKind::GeluTanh : ActivationKind::Gelu}).forward({&x}, want);
    EXPECT_EQ(m.nodes()[0].layer->type_name(), approx == "tanh" ? "GeluTanh" : "Gelu");
    EXPECT_LE(max_rel_error(y, want), 0.0);
  }
}

// The activation functions themselves, at points with known values (Phi from tables).
TEST(Gelu, ActivationValues) {
  const Tensor<double> x({1, 3}, std::vector<double>{-1.0, 0.5, 2.0});
  const auto run = [&](ActivationKind k) {
    Tensor<double> y;
    Activation<double>(ActivationSpec{k}).forward({&x}, y);
    return y;
  };
  const Tensor<double> gelu = run(ActivationKind::Gelu), tanh_gelu = run(ActivationKind::GeluTanh), erf = run(ActivationKind::Erf);
  // x Phi(x): Phi(-1) = 0.158655253931457, Phi(0.5) = 0.691462461274013, Phi(2) = 0.977249868051821
  EXPECT_NEAR(gelu[0], -0.158655253931457, 1e-14);
  EXPECT_NEAR(gelu[1], 0.5 * 0.691462461274013, 1e-14);
  EXPECT_NEAR(gelu[2], 2.0 * 0.977249868051821, 1e-14);
  // the tanh form differs from the exact one by less than 1e-3 (it is 0.841192 against 0.841345 at 1)
  for (std::size_t i = 0; i < 3; ++i) EXPECT_NEAR(tanh_gelu[i], gelu[i], 1e-3);
  EXPECT_NE(tanh_gelu[2], gelu[2]);
  EXPECT_NEAR(erf[1], 0.520499877813047, 1e-14);
}

}  // namespace
}  // namespace lrp::test
