// Local response normalisation (LRN): forward against a naive loop over the ONNX definition,
// the backward against central differences, relevance passed through unchanged by every LRP
// rule, gradient methods on the exact backward, parameter checks and the ONNX LRN operator.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "lrp/core/error.hpp"
#include "lrp/explain/explain.hpp"
#include "lrp/io/onnx.hpp"
#include "lrp/layers/linear.hpp"
#include "lrp/layers/lrn.hpp"
#include "lrp/layers/reshape.hpp"
#include "lrp/rules/rule.hpp"
#include "support/compare.hpp"
#include "support/finite_difference.hpp"
#include "support/pass_through.hpp"
#include "support/onnx_test_util.hpp"

namespace lrp::test {
namespace {

struct Params {
  std::size_t size;
  double alpha, beta, k;
};

Tensor<double> random_tensor(const Shape& s, unsigned seed, double scale = 2.0) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> nd(0.0, scale);
  Tensor<double> t(s);
  for (double& v : t) v = nd(rng);
  return t;
}

// y[n,c,p] = x[n,c,p] / (k + alpha/size * sum_{c' in [c - floor((size-1)/2), c + ceil((size-1)/2)] ∩ [0,C)} x[n,c',p]^2)^beta
Tensor<double> naive_lrn(const Tensor<double>& x, const Params& p) {
  const std::size_t N = x.dim(0), C = x.dim(1), S = x.sample_size() / C;
  const long lo = static_cast<long>((p.size - 1) / 2), hi = static_cast<long>(p.size / 2);  // floor, ceil of (size-1)/2
  Tensor<double> y(x.shape());
  for (std::size_t n = 0; n < N; ++n)
    for (long c = 0; c < static_cast<long>(C); ++c)
      for (std::size_t s = 0; s < S; ++s) {
        double sq = 0;
        for (long q = c - lo; q <= c + hi; ++q)
          if (q >= 0 && q < static_cast<long>(C)) {
            const double v = x[(n * C + static_cast<std::size_t>(q)) * S + s];
            sq += v * v;
          }
        const std::size_t i = (n * C + static_cast<std::size_t>(c)) * S + s;
        y[i] = x[i] / std::pow(p.k + p.alpha / static_cast<double>(p.size) * sq, p.beta);
      }
  return y;
}

// Shapes (rank 2 to 4, batch 1 and 3, C below the size, maps over one 256-position chunk and
// large enough for the OpenMP threads) with even and odd sizes and every float power path
// (beta 0.75 and 0.5: square roots; 1: a division; otherwise pow).
const std::vector<std::pair<Shape, Params>>& cases() {
  static const std::vector<std::pair<Shape, Params>> c = {
      {{1, 3, 4, 4}, {5, 0.8, 0.75, 1.0}},     {{3, 6, 2, 3}, {4, 1.5, 0.75, 2.0}}, {{2, 7}, {3, 0.5, 0.5, 1.0}},
      {{3, 5, 7}, {2, 2.0, 1.0, 0.5}},         {{1, 10, 5, 5}, {1, 1.0, 0.6, 1.0}}, {{3, 12, 17, 19}, {5, 1e-4, 0.75, 1.0}},
      {{2, 20, 40, 45}, {6, 0.3, 0.75, 1.5}},  {{1, 9, 30, 31}, {7, 3.0, 0.9, 2.0}}, {{3, 4, 3, 3}, {9, 1.0, 0.75, 1.0}},
  };
  return c;
}

std::string label(const Shape& s, const Params& p) {
  return shape_str(s) + " size " + std::to_string(p.size) + " beta " + std::to_string(p.beta);
}

// Double: the same sums in another order, 1e-13 of the largest output (measured 1.3e-15).
// Float: rounding of the running sums and the power, 5e-6 of the largest output (measured 1e-6).
TEST(Lrn, ForwardMatchesNaiveLoop) {
  unsigned seed = 1;
  for (const auto& [shape, p] : cases()) {
    SCOPED_TRACE(label(shape, p));
    const Tensor<double> x = random_tensor(shape, seed++);
    const Tensor<double> want = naive_lrn(x, p);
    Tensor<double> y;
    LocalResponseNorm<double>(p.size, p.alpha, p.beta, p.k).forward({&x}, y);
    EXPECT_EQ(y.shape(), shape);
    EXPECT_LE(max_rel_error(y, want), 1e-13);
    const Tensor<float> xf = x.cast<float>();
    Tensor<float> yf;
    LocalResponseNorm<float>(p.size, p.alpha, p.beta, p.k).forward({&xf}, yf);
    EXPECT_LE(max_rel_error(yf, naive_lrn(xf.cast<double>(), p)), 5e-6);
  }
}

// d/dx of sum(g * y) by central differences (h = 1e-5; truncation ~h^2, rounding ~1e-16 / h):
// within 1e-8 of the largest gradient entry (measured 1.7e-10). The float backward within 1e-5
// of the double one (measured 7.6e-7).
TEST(Lrn, BackwardMatchesFiniteDifferences) {
  unsigned seed = 100;
  for (const auto& [shape, p] : cases()) {
    if (Tensor<double>(shape).size() > 2000) continue;  // 2 forwards per input element
    SCOPED_TRACE(label(shape, p));
    const Tensor<double> x = random_tensor(shape, seed++), g = random_tensor(shape, seed++, 1.0);
    const LocalResponseNorm<double> lrn(p.size, p.alpha, p.beta, p.k);
    Tensor<double> y;
    lrn.forward({&x}, y);
    std::vector<Tensor<double>> din;
    lrn.backward({&x}, y, g, din);
    ASSERT_EQ(din.size(), 1u);
    const Tensor<double> fd = finite_difference_vjp(lrn, x, g, 1e-5);
    EXPECT_LE(max_rel_error(din[0], fd), 1e-8);
    const Tensor<float> xf = x.cast<float>(), gf = g.cast<float>();
    Tensor<float> yf;
    std::vector<Tensor<float>> dinf;
    const LocalResponseNorm<float> lrnf(p.size, p.alpha, p.beta, p.k);
    lrnf.forward({&xf}, yf);
    lrnf.backward({&xf}, yf, gf, dinf);
    EXPECT_LE(max_rel_error(dinf[0], din[0]), 1e-5);
  }
}

// LRN -> Flatten -> Linear: a model with a class output.
Model<double> lrn_model(const Params& p) {
  Model<double> m;
  m.input_shape = {6, 3, 2};
  m.add("lrn", std::make_unique<LocalResponseNorm<double>>(p.size, p.alpha, p.beta, p.k));
  m.add("flat", std::make_unique<Flatten<double>>());
  m.add("fc", std::make_unique<Linear<double>>(random_tensor({4, 36}, 7, 0.5), random_tensor({4}, 8, 0.1)));
  return m;
}

// Every LRP rule passes the relevance through unchanged (the sum is conserved because nothing
// changes), in double and float, for one target and several at once.
TEST(Lrn, LrpPassesRelevanceThroughUnchanged) {
  const Params p{5, 1.5, 0.75, 1.0};
  Model<double> single;
  single.input_shape = {6, 3, 2};
  single.add("lrn", std::make_unique<LocalResponseNorm<double>>(p.size, p.alpha, p.beta, p.k));
  const Tensor<double> x = random_tensor({2, 6, 3, 2}, 3), r = random_tensor({2, 6, 3, 2}, 4);
  expect_every_lrp_rule_passes_through(single, x, r);
  // Through a classifier, two classes at once.
  expect_input_relevance_equals_node(lrn_model(p), {Rule::epsilon_rule(0.01), Rule::pass(), Rule::epsilon_rule(0.01)}, x, "lrn");
}

// Gradient, gradient x input, deconvnet and guided backprop use the layer's exact backward (no
// ReLU here, so all four are the gradient), for two targets at once (the seed is the logit).
TEST(Lrn, GradientMethodsUseTheExactBackward) {
  const Params p{4, 2.0, 0.75, 1.0};
  const Model<double> m = lrn_model(p);
  const Tensor<double> x = random_tensor({2, 6, 3, 2}, 5);
  // d logit[c] / dx by the layers' own pieces: Linear row c reshaped, then the LRN backward.
  const auto grad_of = [&](std::size_t cls) {
    const auto& fc = static_cast<const Linear<double>&>(*m.nodes()[2].layer);
    Tensor<double> g({2, 6, 3, 2});
    for (std::size_t n = 0; n < 2; ++n)
      for (std::size_t i = 0; i < 36; ++i) g[n * 36 + i] = fc.weight()[cls * 36 + i];
    Tensor<double> y;
    std::vector<Tensor<double>> din;
    m.nodes()[0].layer->forward({&x}, y);
    m.nodes()[0].layer->backward({&x}, y, g, din);
    return din[0];
  };
  for (Method method : {Method::Gradient, Method::GradientXInput, Method::DeconvNet, Method::GuidedBackprop}) {
    SCOPED_TRACE(static_cast<int>(method));
    ExplainRequest req;
    req.method = method;
    req.target.kind = Target::Kind::Classes;
    req.target.classes = {1, 2};
    const Explanation<double> e = explain(m, x, req);
    ASSERT_EQ(e.relevance.shape(), (Shape{2, 2, 6, 3, 2}));
    for (std::size_t t = 0; t < 2; ++t) {
      Tensor<double> want = grad_of(t + 1);
      if (method == Method::GradientXInput)
        for (std::size_t i = 0; i < want.size(); ++i) want[i] *= x[i];
      for (std::size_t n = 0; n < 2; ++n)
        for (std::size_t i = 0; i < 36; ++i)
          EXPECT_NEAR(e.relevance[(n * 2 + t) * 36 + i], e.output[n * 4 + t + 1] * want[n * 36 + i], 1e-13);
    }
  }
}

TEST(Lrn, RejectsBadParametersNamingTheField) {
  const auto expect_config_error = [](auto make, const std::string& field) {
    try {
      make();
      ADD_FAILURE() << "accepted bad " << field;
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(field), std::string::npos) << e.what();
    }
  };
  expect_config_error([] { LocalResponseNorm<double>(0, 1e-4, 0.75, 1.0); }, "size");
  expect_config_error([] { LocalResponseNorm<double>(5, -1.0, 0.75, 1.0); }, "alpha");
  expect_config_error([] { LocalResponseNorm<float>(5, NAN, 0.75, 1.0); }, "alpha");
  expect_config_error([] { LocalResponseNorm<double>(5, 1e-4, INFINITY, 1.0); }, "beta");
  expect_config_error([] { LocalResponseNorm<double>(5, 1e-4, 0.75, 0.0); }, "k");
  expect_config_error([] { LocalResponseNorm<double>(5, 1e-4, 0.75, -2.0); }, "k");
  const LocalResponseNorm<double> lrn(5, 1e-4, 0.75, 1.0);
  EXPECT_THROW(lrn.output_shape({Shape{}}), ShapeError);
  const Tensor<double> x1({3});
  Tensor<double> y;
  EXPECT_THROW(lrn.forward({&x1}, y), ShapeError);
  EXPECT_EQ(lrn.output_shape({Shape{4, 2, 2}}), (Shape{4, 2, 2}));
}

TEST(Lrn, DescriptionAndPrecisionConversion) {
  const LocalResponseNorm<double> lrn(5, 1e-4, 0.75, 1.0);
  EXPECT_EQ(lrn.describe(), "size 5 alpha 0.0001 beta 0.75 k 1");
  EXPECT_EQ(lrn.type_name(), "LRN");
  EXPECT_STREQ(layer_kind_name(LayerKind::LRN), "LRN");
  const auto f = lrn.to_float();
  const auto d = f->to_double();  // the parameters stay doubles in both precisions
  ASSERT_EQ(d->kind(), LayerKind::LRN);
  const auto& back = static_cast<const LocalResponseNorm<double>&>(*d);
  EXPECT_EQ(back.size(), 5u);
  EXPECT_EQ(back.alpha(), 1e-4);
  EXPECT_EQ(back.beta(), 0.75);
  EXPECT_EQ(back.k(), 1.0);
  EXPECT_EQ(f->describe(), lrn.describe());
}

// The ONNX operator at opsets 1 and 13: attributes (ONNX's defaults alpha 1e-4, beta 0.75,
// bias 1 when absent) become the layer's, in the double and float importers.
TEST(Lrn, OnnxOperatorImports) {
  for (std::int64_t opset : {1, 13}) {
    for (bool defaults : {false, true}) {
      SCOPED_TRACE("opset " + std::to_string(opset) + (defaults ? " defaults" : ""));
      OnnxBuilder b(opset);
      b.input("x", {-1, 6, 3, 4}).output("y");
      onnx::NodeProto& n = b.node("LRN", {"x"}, {"y"}, "norm1");
      OnnxBuilder::attr(n, "size", std::int64_t{3});
      if (!defaults) {
        OnnxBuilder::attr(n, "alpha", 0.5);
        OnnxBuilder::attr(n, "beta", 0.625);
        OnnxBuilder::attr(n, "bias", 2.0);
      }
      const Model<double> m = io::parse_onnx_model(b.bytes(), "lrn.onnx");
      ASSERT_EQ(m.nodes().size(), 1u);
      EXPECT_EQ(m.nodes()[0].name, "norm1");
      const auto& l = static_cast<const LocalResponseNorm<double>&>(*m.nodes()[0].layer);
      ASSERT_EQ(l.kind(), LayerKind::LRN);
      const Params p = defaults ? Params{3, 1e-4, 0.75, 1.0} : Params{3, 0.5, 0.625, 2.0};
      EXPECT_EQ(l.size(), p.size);
      EXPECT_EQ(l.alpha(), p.alpha);
      EXPECT_EQ(l.beta(), p.beta);
      EXPECT_EQ(l.k(), p.k);
      const Tensor<double> x = random_tensor({2, 6, 3, 4}, 11);
      Tensor<double> y;
      l.forward({&x}, y);
      EXPECT_LE(max_rel_error(y, naive_lrn(x, p)), 1e-13);
      const Model<float> mf = io::parse_onnx_model_float(b.bytes(), "lrn.onnx");
      EXPECT_EQ(mf.nodes()[0].layer->describe(), l.describe());
    }
  }
}

}  // namespace
}  // namespace lrp::test
