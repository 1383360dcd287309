// A small ConvNeXt as PyTorch 1.13 exports it at opset 17 (tests/fixtures/convnext, make_fixtures.py):
// LayerNorm2d as Transpose + LayerNormalization + Transpose, the pointwise layers as MatMul + Add
// on the channels-last map (a Linear over the last axis), GELU written out, layer scale, residual
// Adds. The forward and the input gradient against PyTorch in float64 (1e-7 relative in double:
// the file holds sqrt 2 as float32; 1e-5 in float); Zennit's composites run on it in float and
// double alike (1e-4; 2e-4 for epsilon 1e-6 alone), and z^B, which needs channel planes, is
// refused on the channels-last Linear layers by name.
#include <gtest/gtest.h>

#include "lrp/core/error.hpp"
#include "lrp/explain/explain.hpp"
#include "lrp/io/arrays.hpp"
#include "lrp/io/onnx.hpp"
#include "lrp/rules/composite.hpp"
#include "support/compare.hpp"
#include "support/pytorch_reference.hpp"
#include "support/test_paths.hpp"

namespace lrp::test {
namespace {

std::string fixture(const std::string& file) { return source_path("tests/fixtures/convnext/" + file); }

template <class T>
void check_against_pytorch(double tol) {
  expect_matches_pytorch<T>(fixture("model.onnx"), fixture("input.npy"), fixture("logits.npy"), fixture("gradient.npy"), 3, tol);
}

TEST(ConvNeXt, ForwardAndGradientMatchPyTorchInDouble) { check_against_pytorch<double>(1e-7); }
TEST(ConvNeXt, ForwardAndGradientMatchPyTorchInFloat) { check_against_pytorch<float>(1e-5); }

TEST(ConvNeXt, CompositesRunAlikeInFloatAndDouble) {
  const Model<double> md = io::read_onnx_model(fixture("model.onnx"));
  const Model<float> mf = md.convert<float>();
  const Tensor<double> x = io::read_npy(fixture("input.npy"));
  for (const std::string spec : {"epsilon_plus_flat", "epsilon_gamma_box:-3,3", "epsilon_alpha2_beta1", "epsilon"}) {
    SCOPED_TRACE(spec);
    ExplainRequest req;
    req.rules = composite_rules(md, spec);
    const Tensor<double> rd = explain(md, x, req).relevance;
    const Tensor<float> rf = explain(mf, x.cast<float>(), req).relevance;
    EXPECT_LE(max_rel_error(rf, rd), spec == "epsilon" ? 2e-4 : 1e-4);  // epsilon 1e-6 alone: ill-conditioned sums
    EXPECT_GT(max_rel_error(rd, Tensor<double>(rd.shape())), 0.0);  // not all zero
  }
  // Gamma on every layer runs (its general form needs no channel planes) and agrees too; z^B
  // (per-channel bounds) is refused on the channels-last Linear layers, by name.
  ExplainRequest req;
  req.rules = uniform_rules(md, parse_rule("gamma"));
  EXPECT_LE(max_rel_error(explain(mf, x.cast<float>(), req).relevance, explain(md, x, req).relevance), 1e-4);
  req.rules = uniform_rules(md, parse_rule("zbox:-3,3"));
  try {
    explain(md, x, req);
    ADD_FAILURE() << "zbox on a channels-last Linear was accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("/pw2/MatMul"), std::string::npos) << e.what();  // the sweep meets it first
    EXPECT_NE(std::string(e.what()).find("channels-last"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace lrp::test
