// LayerNorm (ONNX LayerNormalization, opset 17) and GELU as PyTorch 1.13 exports it at opset 13 (x * (1 + erf(x / sqrt 2)) * 0.5): the forward and
// the input gradient against PyTorch in float64 (tests/fixtures/gelu, make_fixtures.py), and the
// relevance through it: the shifted erf is the Mul's gate, so (BatchNorm-type scales passing
// relevance on) the relevance at the activation's input equals that at its output, as for any
// activation. Tolerances relative to the reference's largest value: 1e-7 in double (the file holds
// sqrt 2 as a float32 constant, 1.4142135381..., where PyTorch's float64 run used the exact
// value: 1e-8 apart in the gradient), 1e-5 in float.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "lrp/core/error.hpp"
#include "lrp/explain/explain.hpp"
#include "lrp/io/arrays.hpp"
#include "lrp/io/onnx.hpp"
#include "lrp/layers/activation.hpp"
#include "lrp/layers/layer_norm.hpp"
#include "lrp/rules/composite.hpp"
#include "support/compare.hpp"
#include "support/onnx_test_util.hpp"
#include "support/pytorch_reference.hpp"
#include "support/test_paths.hpp"

namespace lrp::test {
namespace {

std::string fixture(const std::string& file) { return source_path("tests/fixtures/gelu/" + file); }

template <class T>
void check_against_pytorch(double tol) {
  expect_matches_pytorch<T>(fixture("model.onnx"), fixture("input.npy"), fixture("logits.npy"), fixture("gradient.npy"), 1, tol);
}

TEST(Gelu, ForwardAndGradientMatchPyTorchInDouble) { check_against_pytorch<double>(1e-7); }
TEST(Gelu, ForwardAndGradientMatchPyTorchInFloat) { check_against_pytorch<float>(1e-5); }

// An MLP with two LayerNorms (random gamma, beta) and a GELU, exported at opset 17.
template <class T>
void check_layer_norm_mlp(double tol) {
  expect_matches_pytorch<T>(fixture("mlp_ln.onnx"), fixture("mlp_input.npy"), fixture("mlp_logits.npy"), fixture("mlp_gradient.npy"),
                            2, tol);
}

TEST(LayerNorm, MlpMatchesPyTorchInDouble) { check_layer_norm_mlp<double>(1e-7); }
TEST(LayerNorm, MlpMatchesPyTorchInFloat) { check_layer_norm_mlp<float>(1e-5); }

// The LN-rule (epsilon on the map x -> gamma (x - mean) / sigma + beta with sigma held fixed)
// against that map written out as a matrix per row, W[c][i] = gamma_c / sigma (delta_ci - 1/D):
// R_i = sum_c x_i W[c][i] R_c / (y_c + eps sign(y_c)). Pass and gradient are checked as such.
TEST(LayerNorm, EpsilonRuleMatchesTheExplicitLinearMap) {
  const std::size_t d = 6;
  Tensor<double> gamma({d}), beta({d}), x({2, 3, d}), r({2, 3, d});
  for (std::size_t i = 0; i < d; ++i) gamma[i] = 0.5 + 0.2 * static_cast<double>(i), beta[i] = 0.1 * static_cast<double>(i) - 0.2;
  for (std::size_t i = 0; i < x.size(); ++i) {
    x[i] = std::sin(1.3 * static_cast<double>(i)) * 2.0;
    r[i] = std::cos(0.7 * static_cast<double>(i));
  }
  const LayerNorm<double> ln(gamma, beta, 1e-5);
  Model<double> m;
  m.add("ln", std::make_unique<LayerNorm<double>>(gamma, beta, 1e-5));
  m.input_shape = {3, d};
  ExplainRequest req;
  req.target.kind = Target::Kind::Relevance;
  req.target.relevance = r;
  for (const std::string rule : {"epsilon:0.01", "pass", "gradient"}) {
    SCOPED_TRACE(rule);
    req.rules = {parse_rule(rule)};
    const Tensor<double> got = explain(m, x, req).relevance;
    Tensor<double> y;
    ln.forward({&x}, y);
    for (std::size_t row = 0; row < 6; ++row) {
      const double* xr = x.data() + row * d;
      double mean = 0, var = 0;
      for (std::size_t i = 0; i < d; ++i) mean += xr[i] / static_cast<double>(d);
      for (std::size_t i = 0; i < d; ++i) var += (xr[i] - mean) * (xr[i] - mean) / static_cast<double>(d);
      const double sigma = std::sqrt(var + 1e-5);
      for (std::size_t i = 0; i < d; ++i) {
        double want = r[row * d + i];  // pass
        if (rule == "epsilon:0.01") {
          want = 0;
          for (std::size_t c = 0; c < d; ++c) {
            const double w = gamma[c] / sigma * ((c == i ? 1.0 : 0.0) - 1.0 / static_cast<double>(d));
            const double yc = y[row * d + c];
            want += xr[i] * w * r[row * d + c] / (yc + (yc >= 0 ? 0.01 : -0.01));
          }
        } else if (rule == "gradient") {  // d/dx_i sum_c R_c y_c by central differences
          const double h = 1e-6;
          Tensor<double> xp = x, xm = x, yp, ym;
          xp[row * d + i] += h;
          xm[row * d + i] -= h;
          ln.forward({&xp}, yp);
          ln.forward({&xm}, ym);
          want = 0;
          for (std::size_t c = 0; c < d; ++c) want += r[row * d + c] * (yp[row * d + c] - ym[row * d + c]) / (2 * h);
        }
        EXPECT_NEAR(got[row * d + i], want, rule == "gradient" ? 1e-7 : 1e-12) << "row " << row << " i " << i;
      }
    }
  }
  // The last axis must match.
  EXPECT_THROW(ln.output_shape({Shape{3, 5}}), ShapeError);
}

// LayerNormalization over several trailing axes (axis 1 of [N, 4, 6]: nn.LayerNorm([4, 6])), with
// Scale [6] and B [4, 1] broadcast onto them: the forward against the formula written out, and the
// relevance against one LayerNorm over the 24 values of each sample flattened.
TEST(LayerNorm, OverSeveralTrailingAxes) {
  OnnxBuilder b(17);
  b.input("x", {-1, 4, 6}).output("y");
  const std::vector<float> g = {0.5f, 1.5f, -1.0f, 2.0f, 0.25f, 1.0f}, bias = {0.1f, -0.2f, 0.3f, 0.0f};
  b.init("g", {6}, g).init("b", {4, 1}, bias);
  onnx::NodeProto& node = b.node("LayerNormalization", {"x", "g", "b"}, {"y"}, "ln");
  OnnxBuilder::attr(node, "axis", std::int64_t{1});
  OnnxBuilder::attr(node, "epsilon", 1e-3);
  const Model<double> model = io::parse_onnx_model(b.bytes(), "ln.onnx");
  Tensor<double> x({2, 4, 6});
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.9 * static_cast<double>(i)) * 3.0 + 0.1 * static_cast<double>(i % 5);
  ExplainRequest req;
  req.rules.assign(model.nodes().size(), parse_rule("epsilon:0.01"));  // Reshape, LayerNorm, Reshape
  req.target.kind = Target::Kind::Relevance;
  req.target.relevance = Tensor<double>({2, 4, 6}, 0.0);
  for (std::size_t i = 0; i < x.size(); ++i) req.target.relevance[i] = std::cos(1.7 * static_cast<double>(i));
  const Explanation<double> e = explain(model, x, req);
  ASSERT_EQ(e.output.shape(), (Shape{2, 4, 6}));
  Tensor<double> gamma({24}), beta({24});
  for (std::size_t i = 0; i < 24; ++i) gamma[i] = g[i % 6], beta[i] = bias[i / 6];
  for (std::size_t n = 0; n < 2; ++n) {
    double mean = 0, var = 0;
    for (std::size_t i = 0; i < 24; ++i) mean += x[n * 24 + i] / 24.0;
    for (std::size_t i = 0; i < 24; ++i) var += (x[n * 24 + i] - mean) * (x[n * 24 + i] - mean) / 24.0;
    for (std::size_t i = 0; i < 24; ++i)
      EXPECT_NEAR(e.output[n * 24 + i], (x[n * 24 + i] - mean) / std::sqrt(var + static_cast<double>(1e-3f)) * gamma[i] + beta[i], 1e-6);
  }
  Model<double> flat;
  flat.add("ln", std::make_unique<LayerNorm<double>>(gamma, beta, static_cast<double>(1e-3f)));
  flat.input_shape = {24};
  Tensor<double> x24 = x, r24 = req.target.relevance;
  x24.reshape({2, 24});
  r24.reshape({2, 24});
  req.target.relevance = r24;
  req.rules = {parse_rule("epsilon:0.01")};
  const Explanation<double> want = explain(flat, x24, req);
  ASSERT_EQ(want.relevance.size(), e.relevance.size());
  for (std::size_t i = 0; i < e.relevance.size(); ++i) EXPECT_NEAR(e.relevance[i], want.relevance[i], 1e-12) << i;
  double largest = 0;
  for (std::size_t i = 0; i < want.relevance.size(); ++i) largest = std::max(largest, std::abs(want.relevance[i]));
  EXPECT_GT(largest, 1e-3);  // not a vacuous comparison
}

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

// The float path's vectorised erf and GELU against std::erf in double over [-6, 6]: absolute
// error below 4e-7 (erf) and 4e-7 (1 + |x|) (GELU), a few float32 roundings of values near 1.
TEST(Gelu, FloatErfAndGeluAgainstStdErf) {
  std::vector<float> x;
  for (int i = -60000; i <= 60000; ++i) x.push_back(static_cast<float>(i) * 1e-4f);
  Tensor<float> xt({1, x.size()}, x), e, g;
  Activation<float>(ActivationSpec{ActivationKind::Erf}).forward({&xt}, e);
  Activation<float>(ActivationSpec{ActivationKind::Gelu}).forward({&xt}, g);
  double worst_erf = 0, worst_gelu = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double v = x[i];
    worst_erf = std::max(worst_erf, std::abs(e[i] - std::erf(v)));
    worst_gelu = std::max(worst_gelu, std::abs(g[i] - 0.5 * v * (1 + std::erf(v / std::sqrt(2.0)))) / (1 + std::abs(v)));
  }
  EXPECT_LE(worst_erf, 4e-7);
  EXPECT_LE(worst_gelu, 4e-7);
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
