// Elementwise maximum / minimum (maxout): relevance goes whole to the input holding the
// extremum; ONNX Max / Min import as the layer (or as a Clip against a constant).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "lrp/core/error.hpp"
#include "lrp/explain/explain.hpp"
#include "lrp/io/onnx.hpp"
#include "lrp/layers/activation.hpp"
#include "lrp/layers/linear.hpp"
#include "lrp/layers/merge.hpp"
#include "lrp/rules/rule.hpp"
#include "support/onnx_test_util.hpp"

namespace lrp {
namespace {

Tensor<double> filled(const Shape& s, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  Tensor<double> t(s);
  for (double& v : t) v = u(rng);
  return t;
}

// x -> two bias-free Linear branches -> Max -> Linear: with the z rule (no stabiliser, no bias)
// relevance is conserved layer by layer, and at the Max each position's relevance lands on the
// branch that won it, none on the other.
TEST(Extremum, MaxoutRoutesAllRelevanceToTheWinner) {
  std::mt19937_64 rng(3);
  const Tensor<double> wa = filled({5, 6}, rng), wb = filled({5, 6}, rng);
  Model<double> m;
  const std::size_t a = m.add("a", std::make_unique<Linear<double>>(wa, Tensor<double>({5})), {0});
  const std::size_t b = m.add("b", std::make_unique<Linear<double>>(wb, Tensor<double>({5})), {0});
  m.add("max", std::make_unique<Extremum<double>>(2, false), {a, b});
  m.add("out", std::make_unique<Linear<double>>(filled({3, 5}, rng), Tensor<double>({3})));
  m.input_shape = {6};
  const Tensor<double> x = filled({4, 6}, rng);
  ExplainRequest req;
  req.rules.assign(m.nodes().size(), parse_rule("z"));
  req.dump_layers = true;
  const Explanation<double> e = explain(m, x, req);
  const Tensor<double>& ra = e.layers.at("a");
  const Tensor<double>& rb = e.layers.at("b");
  const Tensor<double>& rmax = e.layers.at("max");
  std::size_t won_by_b = 0;
  for (std::size_t n = 0; n < 4; ++n) {
    double in = 0;
    for (std::size_t i = 0; i < 6; ++i) in += e.relevance[n * 6 + i];
    EXPECT_NEAR(in, e.scores[n], 1e-10) << "sample " << n;
    for (std::size_t j = 0; j < 5; ++j) {
      double za = 0, zb = 0;
      for (std::size_t i = 0; i < 6; ++i) {
        za += wa[j * 6 + i] * x[n * 6 + i];
        zb += wb[j * 6 + i] * x[n * 6 + i];
      }
      const std::size_t k = n * 5 + j;
      EXPECT_NEAR(ra[k], za >= zb ? rmax[k] : 0.0, 1e-12);
      EXPECT_NEAR(rb[k], za >= zb ? 0.0 : rmax[k], 1e-12);
      won_by_b += za < zb;
    }
  }
  EXPECT_GT(won_by_b, 0u);  // both branches win somewhere
  EXPECT_LT(won_by_b, 20u);
}

// ONNX: Max of two computed values, then Min against a constant (a Clip from above); the
// forward against the formula, and the operators refused by name where they cannot be imported.
TEST(Extremum, OnnxMaxAndMin) {
  test::OnnxBuilder g;
  g.input("x", {-1, 3}).output("y");
  const std::vector<float> w1 = {1, -2, 0.5f, 0, 1, 1, -1, 0, 2}, w2 = {0, 1, 1, 2, -1, 0, 1, 1, -1};
  g.init("W1", {3, 3}, w1).init("W2", {3, 3}, w2).init("c", {}, {0.75f});
  g.node("MatMul", {"x", "W1"}, {"a"}, "a");
  g.node("MatMul", {"x", "W2"}, {"b"}, "b");
  g.node("Max", {"a", "b"}, {"m"}, "max");
  g.node("Min", {"m", "c"}, {"y"}, "min");
  const Model<double> model = io::parse_onnx_model(g.bytes(), "maxmin.onnx");
  bool clip = false, max = false;
  for (const Node<double>& n : model.nodes()) {
    clip = clip || n.layer->kind() == LayerKind::Activation;
    max = max || (n.layer->kind() == LayerKind::Extremum && n.layer->type_name() == "Max");
  }
  EXPECT_TRUE(clip && max);
  std::mt19937_64 rng(5);
  const Tensor<double> x = filled({5, 3}, rng);
  ExplainRequest req;
  req.method = Method::Gradient;
  const Tensor<double> y = explain(model, x, req).output;
  for (std::size_t n = 0; n < 5; ++n)
    for (std::size_t j = 0; j < 3; ++j) {
      double a = 0, b = 0;
      for (std::size_t i = 0; i < 3; ++i) {
        a += x[n * 3 + i] * w1[i * 3 + j];
        b += x[n * 3 + i] * w2[i * 3 + j];
      }
      EXPECT_NEAR(y[n * 3 + j], std::min(std::max(a, b), 0.75), 1e-6);
    }
  test::OnnxBuilder bad;
  bad.input("x", {-1, 3}).output("y");
  bad.init("W1", {3, 3}, w1).init("c", {}, {1.0f});
  bad.node("MatMul", {"x", "W1"}, {"a"}, "a");
  bad.node("Max", {"x", "a", "c"}, {"y"}, "max3");  // a constant beside two computed values
  EXPECT_THROW(
      {
        try {
          io::parse_onnx_model(bad.bytes(), "bad.onnx");
        } catch (const FormatError& e) {
          EXPECT_NE(std::string(e.what()).find("'max3' (Max)"), std::string::npos) << e.what();
          throw;
        }
      },
      FormatError);
}

}  // namespace
}  // namespace lrp
