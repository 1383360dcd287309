// Einsum as PyTorch 1.13 exports torch.einsum (tests/fixtures/einsum, make_fixtures.py): a
// constant weight ("nld,dhk->nlhk"), attention scores with ellipses ("...ld,...md->...lm") and
// weighted values ("nlm,nmd->nld"). The logits and the input gradient against PyTorch's float64
// run with the same float32 weights; tolerances relative to the reference's largest value, 1e-9
// in double (the same arithmetic in another order) and 1e-5 in float.
#include <gtest/gtest.h>

#include <string>

#include "support/pytorch_reference.hpp"
#include "support/test_paths.hpp"

namespace lrp::test {
namespace {

std::string fixture(const std::string& file) { return source_path("tests/fixtures/einsum/" + file); }

template <class T>
void check_against_pytorch(double tol) {
  expect_matches_pytorch<T>(fixture("model.onnx"), fixture("input.npy"), fixture("logits.npy"), fixture("gradient.npy"), 2, tol);
}

TEST(EinsumPyTorch, ForwardAndGradientMatchInDouble) { check_against_pytorch<double>(1e-9); }
TEST(EinsumPyTorch, ForwardAndGradientMatchInFloat) { check_against_pytorch<float>(1e-5); }

}  // namespace
}  // namespace lrp::test
