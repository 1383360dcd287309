// The float GEMM (oneDNN sgemm, in either orientation of the product) against the double
// reference loops: every transpose combination, alpha/beta, leading dimensions wider than the
// rows, and row counts on both sides of the switch to the transposed product (8, 16, 128);
// one row with many zeros (the relevance of one sample through a dense layer after a ReLU),
// where the rows of B under the zeros are skipped.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/gemm.hpp"

namespace lrp::kernels {
namespace {

struct GemmCase {
  bool ta, tb;
  std::size_t m, n, k;
  float alpha, beta;
  double zero_fraction = 0.0;  // of A's entries (per column of op(A), shared by its rows)
};

void check(const GemmCase& g) {
  SCOPED_TRACE(testing::Message() << "ta " << g.ta << " tb " << g.tb << " m " << g.m << " n " << g.n << " k " << g.k
                                  << " alpha " << g.alpha << " beta " << g.beta << " zeros " << g.zero_fraction);
  // Stored shapes: A is [m,k] or [k,m] when transposed, B is [k,n] or [n,k]; 3 extra columns of padding.
  const std::size_t a_rows = g.ta ? g.k : g.m, a_cols = g.ta ? g.m : g.k;
  const std::size_t b_rows = g.tb ? g.n : g.k, b_cols = g.tb ? g.k : g.n;
  const std::size_t lda = a_cols + 3, ldb = b_cols + 3, ldc = g.n + 3;
  std::mt19937 rng(static_cast<unsigned>(g.m * 131 + g.n * 7 + g.k));
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> a(a_rows * lda), b(b_rows * ldb), c(g.m * ldc);
  for (float& v : a) v = u(rng);
  std::bernoulli_distribution zero(g.zero_fraction);
  for (std::size_t p = 0; p < g.k; ++p)
    if (zero(rng))
      for (std::size_t i = 0; i < g.m; ++i) a[g.ta ? p * lda + i : i * lda + p] = 0.0f;
  for (float& v : b) v = u(rng);
  for (float& v : c) v = u(rng);
  std::vector<double> ad(a.begin(), a.end()), bd(b.begin(), b.end()), cd(c.begin(), c.end());
  gemm<float>(g.ta, g.tb, g.m, g.n, g.k, g.alpha, a.data(), lda, b.data(), ldb, g.beta, c.data(), ldc);
  gemm<double>(g.ta, g.tb, g.m, g.n, g.k, g.alpha, ad.data(), lda, bd.data(), ldb, g.beta, cd.data(), ldc);
  // Float accumulation of k products of magnitude <= 1: error ~ k * 2^-24 relative to sqrt(k).
  const double tol = 1e-5 * std::sqrt(static_cast<double>(g.k)) + 1e-6;
  for (std::size_t i = 0; i < g.m; ++i) {
    for (std::size_t j = 0; j < ldc; ++j) {
      const std::size_t p = i * ldc + j;
      if (j < g.n) {
        ASSERT_NEAR(c[p], cd[p], tol) << "C[" << i << "," << j << "]";
      } else {
        ASSERT_EQ(static_cast<double>(c[p]), cd[p]) << "padding C[" << i << "," << j << "] was written";
      }
    }
  }
}

TEST(KernelsGemm, FloatMatchesDoubleInEveryOrientation) {
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      for (std::size_t m : {1u, 7u, 8u, 16u, 33u, 128u, 129u})
        for (std::size_t n : {1u, 5u, 300u})
          check({ta, tb, m, n, 67, 1.0f, 0.0f});
}

TEST(KernelsGemm, AlphaAndBetaOnTheTransposedProduct) {
  for (std::size_t m : {8u, 16u, 64u})
    for (float beta : {0.0f, 1.0f, 0.5f}) check({false, true, m, 1100, 3900, 0.75f, beta});  // n*k over 4M at m = 8
}

TEST(KernelsGemm, OneRowWithManyZerosSkipsTheirRowsOfB) {
  // Zero fractions on both sides of the switch (a quarter), all zero (C = beta C), columns that
  // are and are not multiples of the vector width, sums of rows not a multiple of four.
  for (double zeros : {0.1, 0.3, 0.5, 0.97, 1.0})
    for (std::size_t n : {300u, 1000u, 4099u})
      for (std::size_t k : {300u, 1027u})
        for (float beta : {0.0f, 1.0f, 0.5f}) {
          GemmCase g{false, false, 1, n, k, 0.75f, beta};
          g.zero_fraction = zeros;
          check(g);
        }
  // More than one row never takes the sparse path, and still matches.
  GemmCase two{false, false, 2, 1000, 1027, 1.0f, 0.0f};
  two.zero_fraction = 0.5;
  check(two);
}

}  // namespace
}  // namespace lrp::kernels
