// kernels::permute against the definition, element by element (dst at the output index, read
// from the input at the permuted index), on fixed cases that reach each path (runs copied, 2-D
// tiles, merged axes, axes of size 1, large enough to run on the threads) and on random shapes
// and permutations of rank 1 to 6 in float and double. A permutation copies: results are exact.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>
#include <vector>

#include "kernels/permute.hpp"

namespace lrp::test {
namespace {

using Dims = std::vector<std::size_t>;

template <class T>
std::vector<T> by_definition(const std::vector<T>& src, const Dims& in, const Dims& perm) {
  const std::size_t rank = in.size();
  Dims out(rank), in_stride(rank, 1);
  for (std::size_t k = 0; k < rank; ++k) out[k] = in[perm[k]];
  for (std::size_t k = rank; k-- > 1;) in_stride[k - 1] = in_stride[k] * in[k];
  std::vector<T> dst(src.size());
  Dims idx(rank, 0);
  for (std::size_t flat = 0; flat < dst.size(); ++flat) {
    std::size_t from = 0;
    for (std::size_t k = 0; k < rank; ++k) from += idx[k] * in_stride[perm[k]];
    dst[flat] = src[from];
    for (std::size_t k = rank; k-- > 0;) {
      if (++idx[k] < out[k]) break;
      idx[k] = 0;
    }
  }
  return dst;
}

template <class T>
void expect_permutes(const Dims& in, const Dims& perm) {
  const std::size_t n = std::accumulate(in.begin(), in.end(), std::size_t{1}, std::multiplies<>());
  std::vector<T> src(n);
  std::iota(src.begin(), src.end(), T(1));  // distinct values: a wrong source shows
  std::vector<T> dst(n, T(-1));
  kernels::permute(src.data(), dst.data(), in, perm);
  const std::vector<T> want = by_definition(src, in, perm);
  std::size_t wrong = 0, first = n;
  for (std::size_t i = 0; i < n; ++i)
    if (dst[i] != want[i] && wrong++ == 0) first = i;
  EXPECT_EQ(wrong, 0u) << "first wrong element " << first;
}

TEST(KernelsPermute, FixedCases) {
  const std::vector<std::pair<Dims, Dims>> cases = {
      {{1, 64, 8, 7, 8, 7}, {0, 2, 4, 3, 5, 1}},    // MaxViT's window partition: channels last (2-D tiles)
      {{1, 8, 8, 7, 7, 64}, {0, 5, 1, 3, 2, 4}},    // and back
      {{2, 64, 2, 49, 32}, {0, 1, 2, 4, 3}},        // keys transposed per head (batched 2-D transpose)
      {{1, 4, 49, 8, 32}, {0, 1, 3, 2, 4}},         // heads split: runs of 32
      {{3, 96, 56, 56}, {0, 2, 3, 1}},              // NCHW -> NHWC: merged to one 2-D transpose per sample
      {{3, 56, 56, 96}, {0, 3, 1, 2}},              // and back
      {{2, 1, 5, 1, 3}, {0, 4, 3, 2, 1}},           // axes of size 1
      {{2, 3, 4}, {0, 1, 2}},                       // the identity: one copy
      {{1, 1, 1}, {2, 0, 1}},                       // one element
      {{5, 200, 300}, {0, 2, 1}},                   // tiles with partial edges, on the threads
      {{2, 3, 300, 7}, {3, 0, 2, 1}},               // the batch axis moved (a batch of one in the engine)
  };
  for (const auto& [in, perm] : cases) {
    SCOPED_TRACE(::testing::PrintToString(in) + " perm " + ::testing::PrintToString(perm));
    expect_permutes<float>(in, perm);
    expect_permutes<double>(in, perm);
  }
}

TEST(KernelsPermute, RandomShapesAndPermutations) {
  std::mt19937 rng(20261129);
  for (int trial = 0; trial < 400; ++trial) {
    const std::size_t rank = 1 + rng() % 6;
    Dims in(rank), perm(rank);
    for (std::size_t& d : in) d = 1 + rng() % (rank <= 3 ? 40 : 9);
    std::iota(perm.begin(), perm.end(), std::size_t{0});
    std::shuffle(perm.begin(), perm.end(), rng);
    SCOPED_TRACE(::testing::PrintToString(in) + " perm " + ::testing::PrintToString(perm));
    if (trial % 2) expect_permutes<float>(in, perm);
    else expect_permutes<double>(in, perm);
  }
}

}  // namespace
}  // namespace lrp::test
