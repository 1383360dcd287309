// 1-D convolutional networks (tests/fixtures/conv1d, make_fixtures.py): Conv1d with padding,
// stride, dilation and groups, BatchNorm1d, MaxPool1d, AvgPool1d with padding (Pad +
// AveragePool), ConstantPad1d, ConvTranspose1d, AdaptiveAvgPool1d. The logits and the input gradient against PyTorch's float64
// run with the same float32 weights (tolerances relative to the reference's largest value: 1e-9
// in double, the same arithmetic in another order; 1e-5 in float); LRP against the same network
// written with 2-D layers over a map of height 1 (model_2d.onnx), whose path the Zennit
// references check: the same relevance, up to rounding.
#include <gtest/gtest.h>

#include <string>
#include <type_traits>
#include <utility>

#include "lrp/graph/canonize.hpp"
#include "lrp/rules/composite.hpp"
#include "support/pytorch_reference.hpp"
#include "support/test_paths.hpp"

namespace lrp::test {
namespace {

std::string fixture(const std::string& file) { return source_path("tests/fixtures/conv1d/" + file); }

template <class T>
void check_against_pytorch(double tol) {
  expect_matches_pytorch<T>(fixture("model.onnx"), fixture("input.npy"), fixture("logits.npy"), fixture("gradient.npy"), 1, tol);
}

TEST(Conv1dPyTorch, ForwardAndGradientMatchInDouble) { check_against_pytorch<double>(1e-9); }
TEST(Conv1dPyTorch, ForwardAndGradientMatchInFloat) { check_against_pytorch<float>(1e-5); }

// Both BatchNorms merge into their convolutions through the Reshape back to [C, L] between
// them, as they do in the 2-D network; the composites then see the same layers.
Model<double> folded(const std::string& file, std::size_t& merged) {
  Model<double> m = io::read_onnx_model(fixture(file));
  merged = fold_batch_norms(m).size();
  for (const Node<double>& n : m.nodes()) EXPECT_NE(n.layer->kind(), LayerKind::BatchNorm) << file << ": " << n.name;
  return m;
}

template <class T>
Model<T> in_precision(Model<double>&& m) {
  if constexpr (std::is_same_v<T, double>) return std::move(m);
  else return m.template convert<T>();
}

template <class T>
void check_lrp_as_in_2d(double tol) {
  std::size_t merged1 = 0, merged2 = 0;
  const Model<T> m1 = in_precision<T>(folded("model.onnx", merged1));
  const Model<T> m2 = in_precision<T>(folded("model_2d.onnx", merged2));
  EXPECT_EQ(merged1, 2u);
  EXPECT_EQ(merged2, 2u);
  const Tensor<double> x = io::read_npy(fixture("input.npy"));
  Tensor<double> x2 = x;
  x2.reshape({x.dim(0), x.dim(1), 1, x.dim(2)});
  for (const std::string spec : {"epsilon_plus_flat", "epsilon_gamma_box:-3,3", "epsilon_alpha2_beta1", "epsilon_plus"}) {
    SCOPED_TRACE(spec);
    ExplainRequest req;
    req.target = parse_target("all");
    req.rules = composite_rules(m1, spec);
    const Tensor<double> r1 = explain(m1, x.template cast<T>(), req).relevance.template cast<double>();
    req.rules = composite_rules(m2, spec);
    Tensor<double> r2 = explain(m2, x2.template cast<T>(), req).relevance.template cast<double>();
    ASSERT_EQ(r1.size(), r2.size());
    ASSERT_GT(max_rel_error(r2, Tensor<double>(r2.shape())), 0.0);
    r2.reshape(r1.shape());
    EXPECT_LE(max_rel_error(r1, r2), tol);
  }
}

TEST(Conv1dPyTorch, LrpEqualsTheNetworkIn2dInDouble) { check_lrp_as_in_2d<double>(1e-12); }
TEST(Conv1dPyTorch, LrpEqualsTheNetworkIn2dInFloat) { check_lrp_as_in_2d<float>(1e-5); }

}  // namespace
}  // namespace lrp::test
