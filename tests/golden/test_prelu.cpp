// PRelu (ONNX's operator, exported from nn.PReLU) against PyTorch in float64
// (tests/fixtures/prelu, make_fixtures.py: 6 per-channel slopes on a [N, 6, 9, 8] map, one
// shared slope on [N, 5, 5, 4], 8 slopes on [N, 8]; slopes negative, 0 and above 1): the forward
// and the input gradient. Tolerances relative to the reference's largest value: 1e-12 in double
// (every parameter is exact in float32, so only the order of the sums differs; measured 4.6e-16),
// 1e-5 in float (measured 3.2e-7).
// The composites' Pass rule leaves the relevance at each PRelu's input equal to that at its output.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <utility>

#include "lrp/explain/explain.hpp"
#include "lrp/io/arrays.hpp"
#include "lrp/io/onnx.hpp"
#include "lrp/layers/prelu.hpp"
#include "lrp/rules/composite.hpp"
#include "support/compare.hpp"
#include "support/pytorch_reference.hpp"
#include "support/test_paths.hpp"

namespace lrp::test {
namespace {

std::string fixture(const std::string& file) { return source_path("tests/fixtures/prelu/" + file); }

template <class T>
void check_against_pytorch(double tol) {
  expect_matches_pytorch<T>(fixture("model.onnx"), fixture("input.npy"), fixture("logits.npy"), fixture("gradient.npy"), 1, tol);
}

TEST(PReluPyTorch, ForwardAndGradientMatchInDouble) { check_against_pytorch<double>(1e-12); }
TEST(PReluPyTorch, ForwardAndGradientMatchInFloat) { check_against_pytorch<float>(1e-5); }

TEST(PReluPyTorch, ImportsEachSlopeLayout) {
  const Model<double> model = io::read_onnx_model(fixture("model.onnx"));
  std::size_t seen = 0;
  for (const auto& n : model.nodes()) {
    if (n.layer->kind() != LayerKind::PRelu) continue;
    const auto& p = static_cast<const PRelu<double>&>(*n.layer);
    const std::string want = n.name == "/1/PRelu" ? "6 slopes" : n.name == "/3/PRelu" ? "shared slope -0.375" : "8 slopes";
    EXPECT_EQ(p.describe(), want) << n.name;
    ++seen;
  }
  EXPECT_EQ(seen, 3u);
}

TEST(PReluPyTorch, CompositePassesRelevanceThroughEachPRelu) {
  const Model<double> model = io::read_onnx_model(fixture("model.onnx"));
  ExplainRequest req;
  req.rules = composite_rules(model, "epsilon_plus");
  req.dump_layers = true;
  const Explanation<double> e = explain(model, io::read_npy(fixture("input.npy")), req);
  for (const auto& [in, out] : {std::pair{"/0/Conv", "/1/PRelu"}, std::pair{"/2/Conv", "/3/PRelu"}, std::pair{"/5/Gemm", "/6/PRelu"}}) {
    SCOPED_TRACE(out);
    EXPECT_LE(max_rel_error(e.layers.at(in), e.layers.at(out)), 0.0);
    EXPECT_GT(std::abs(sum(e.layers.at(out))), 1e-3);
  }
}

}  // namespace
}  // namespace lrp::test
