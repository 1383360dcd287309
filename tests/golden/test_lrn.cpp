// LRN (ONNX's operator) between two convolutions against PyTorch's LocalResponseNorm in float64
// (tests/fixtures/lrn, make_fixtures.py: sizes 5 and 3, beta 0.75 and 0.625, large alpha so the
// normalisation matters): the forward and the input gradient. Tolerances relative to the
// reference's largest value: 1e-13 in double (every parameter is exact in float32, so only the
// order of the sums differs; measured 8e-16), 1e-5 in float (measured 1.5e-7). The composites'
// Pass rule leaves the relevance at each LRN's input equal to that at its output.
#include <gtest/gtest.h>

#include <cmath>
#include <utility>

#include "lrp/explain/explain.hpp"
#include "lrp/io/arrays.hpp"
#include "lrp/io/onnx.hpp"
#include "lrp/rules/composite.hpp"
#include "support/compare.hpp"
#include "support/pytorch_reference.hpp"
#include "support/test_paths.hpp"

namespace lrp::test {
namespace {

std::string fixture(const std::string& file) { return source_path("tests/fixtures/lrn/" + file); }

template <class T>
void check_against_pytorch(double tol) {
  expect_matches_pytorch<T>(fixture("model.onnx"), fixture("input.npy"), fixture("logits.npy"), fixture("gradient.npy"), 1, tol);
}

TEST(LrnPyTorch, ForwardAndGradientMatchInDouble) { check_against_pytorch<double>(1e-13); }
TEST(LrnPyTorch, ForwardAndGradientMatchInFloat) { check_against_pytorch<float>(1e-5); }

TEST(LrnPyTorch, CompositePassesRelevanceThroughEachLrn) {
  const Model<double> model = io::read_onnx_model(fixture("model.onnx"));
  ExplainRequest req;
  req.rules = composite_rules(model, "epsilon_plus");
  req.dump_layers = true;
  const Explanation<double> e = explain(model, io::read_npy(fixture("input.npy")), req);
  for (const auto& [in, out] : {std::pair{"/1/Relu", "/2/LRN"}, std::pair{"/3/Conv", "/4/LRN"}}) {
    SCOPED_TRACE(out);
    EXPECT_LE(max_rel_error(e.layers.at(in), e.layers.at(out)), 0.0);
    EXPECT_GT(std::abs(sum(e.layers.at(out))), 1e-3);
  }
}

}  // namespace
}  // namespace lrp::test
