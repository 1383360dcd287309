#include "kernels/gemm.hpp"

#include <algorithm>
#include <cstdint>
#include <vector>

#include "kernels/elementwise.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

#ifdef LRP_WITH_DNNL
#include <oneapi/dnnl/dnnl.h>
#endif

namespace lrp::kernels {
namespace {

// C[m,n] = alpha * A[m,k] * B[k,n] + beta * C, all row-major, A and B already untransposed.
template <class T>
void gemm_nn(std::size_t m, std::size_t n, std::size_t k, T alpha, const T* a, std::size_t lda, const T* b,
             std::size_t ldb, T beta, T* c, std::size_t ldc) {
  const long long rows = static_cast<long long>(m);
// Below ~1M multiply-adds a thread team costs more than it saves (and spins on busy machines).
#pragma omp parallel for schedule(static) if (m * n * k > (1u << 20))
  for (long long ii = 0; ii < rows; ++ii) {
    const std::size_t i = static_cast<std::size_t>(ii);
    T* ci = c + i * ldc;
    if (beta == T(0)) {
      std::fill(ci, ci + n, T(0));
    } else if (beta != T(1)) {
      for (std::size_t j = 0; j < n; ++j) ci[j] *= beta;
    }
    const T* ai = a + i * lda;
    for (std::size_t p = 0; p < k; ++p) {
      const T s = alpha * ai[p];
      if (s == T(0)) continue;
      const T* bp = b + p * ldb;
      for (std::size_t j = 0; j < n; ++j) ci[j] += s * bp[j];
    }
  }
}

template <class T>
std::vector<T> transposed_copy(const T* x, std::size_t rows, std::size_t cols, std::size_t ld) {
  std::vector<T> t(rows * cols);
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t c = 0; c < cols; ++c) t[c * rows + r] = x[r * ld + c];
  return t;
}

template <class T>
void gemm_generic(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, T alpha, const T* a,
                  std::size_t lda, const T* b, std::size_t ldb, T beta, T* c, std::size_t ldc) {
  std::vector<T> at, bt;
  if (trans_a) {  // A is stored [k, m]
    at = transposed_copy(a, k, m, lda);
    a = at.data();
    lda = k;
  }
  if (trans_b) {  // B is stored [n, k]
    bt = transposed_copy(b, n, k, ldb);
    b = bt.data();
    ldb = n;
  }
  gemm_nn(m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

}  // namespace

template <>
void gemm<double>(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, double alpha,
                  const double* a, std::size_t lda, const double* b, std::size_t ldb, double beta, double* c,
                  std::size_t ldc) {
  if (m == 0 || n == 0) return;
  gemm_generic(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

#ifdef LRP_WITH_DNNL
namespace {
std::size_t max_threads() {
#ifdef _OPENMP
  return static_cast<std::size_t>(std::max(1, omp_get_max_threads()));
#else
  return 1;
#endif
}

// A dense layer's forward, C[m,n] = A[m,k] B[n,k]^T with a few rows m (the batch) and a large
// weight B: oneDNN's sgemm packs B on every call in this orientation, and runs 2-8x slower
// than for the transposed product (B A^T)^T, which streams B once (measured with Debian's
// oneDNN 2.7 on AVX-512: VGG16's first dense layer at batch 16, 49 ms against 16 ms). Below 8
// rows, and beyond 128, the direct orientation is as fast or faster; so it is when the rows are
// short (k below about 12 m), where transposing the m x n result costs more than the packing
// saves (a language model's head over 128 tokens, k = 512, n = 32000: 19 ms direct, 39 ms
// transposed; with k = 4096 the transposed product wins up to 128 rows).
bool prefers_transposed_product(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k) {
  if (trans_a || !trans_b || m > 128 || 12 * m > k) return false;
  return m >= 16 || (m >= 8 && n * k >= (std::size_t(1) << 22));
}

bool sgemm_as_transposed_product(std::size_t m, std::size_t n, std::size_t k, float alpha, const float* a, std::size_t lda,
                                 const float* b, std::size_t ldb, float beta, float* c, std::size_t ldc) {
  const auto d = [](std::size_t v) { return static_cast<dnnl_dim_t>(v); };
  thread_local std::vector<float> t;
  t.resize(n * m);
  if (dnnl_sgemm('N', 'T', d(n), d(m), d(k), alpha, b, d(ldb), a, d(lda), 0.0f, t.data(), d(m)) != dnnl_success) return false;
  for (std::size_t i = 0; i < m; ++i) {
    float* ci = c + i * ldc;
    if (beta == 0.0f) {
      for (std::size_t j = 0; j < n; ++j) ci[j] = t[j * m + i];
    } else {
      for (std::size_t j = 0; j < n; ++j) ci[j] = t[j * m + i] + beta * ci[j];
    }
  }
  return true;
}

// c[n] = alpha a[k] B[k,n] + beta c for one row a with many zeros: the relevance or gradient
// of one sample through a dense layer whose outputs went through a ReLU. A zero a[p] means row
// p of B (one output's weights) need not be read at all, and reading B is the whole cost of
// this product (VGG16's first dense layer is 411 MiB). Returns false (and computes nothing)
// when fewer than a quarter of a's entries are zero: then oneDNN's sgemm is as fast. With two
// or more rows the union of their nonzeros leaves little to skip and B would be read per row.
bool sgemv_skipping_zero_rows(std::size_t n, std::size_t k, float alpha, const float* a, const float* b, std::size_t ldb,
                              float beta, float* c) {
  thread_local std::vector<std::uint32_t> live;  // p with a[p] != 0
  thread_local std::vector<float> scale;         // alpha * a[p] at those p
  live.clear();
  scale.clear();
  for (std::size_t p = 0; p < k; ++p)
    if (a[p] != 0.0f) {
      live.push_back(static_cast<std::uint32_t>(p));
      scale.push_back(alpha * a[p]);
    }
  const std::size_t count = live.size();
  if (4 * count > 3 * k) return false;
  const std::uint32_t* rows = live.data();  // the team reads the caller's lists, not its own
  const float* s = scale.data();
  // Tasks of about 1024 entries of c (4 KiB, stays in L1), as many as a multiple of the threads.
  const std::size_t threads = max_threads();
  const std::size_t tasks = ((n + 1023) / 1024 + threads - 1) / threads * threads;
  const std::size_t block = ((n + tasks - 1) / tasks + 15) / 16 * 16;
  const long long blocks = static_cast<long long>((n + block - 1) / block);
#pragma omp parallel for schedule(static) if (count * n > (1u << 18))
  for (long long bb = 0; bb < blocks; ++bb) {
    const std::size_t j0 = static_cast<std::size_t>(bb) * block, len = std::min(block, n - j0);
    float* cj = c + j0;
    if (beta == 0.0f)
      std::fill(cj, cj + len, 0.0f);
    else if (beta != 1.0f)
      for (std::size_t j = 0; j < len; ++j) cj[j] *= beta;
    axpy_rows(cj, len, b + j0, ldb, rows, s, count);
  }
  return true;
}

}  // namespace
#endif

template <>
void gemm<float>(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, float alpha,
                 const float* a, std::size_t lda, const float* b, std::size_t ldb, float beta, float* c,
                 std::size_t ldc) {
  if (m == 0 || n == 0) return;
#ifdef LRP_WITH_DNNL
  if (m == 1 && !trans_a && !trans_b && k >= 64 && k <= UINT32_MAX && n * k >= (std::size_t(1) << 16) &&
      sgemv_skipping_zero_rows(n, k, alpha, a, b, ldb, beta, c))
    return;
  if (k > 0 && prefers_transposed_product(trans_a, trans_b, m, n, k) &&
      sgemm_as_transposed_product(m, n, k, alpha, a, lda, b, ldb, beta, c, ldc))
    return;
  if (k > 0) {
    const auto d = [](std::size_t v) { return static_cast<dnnl_dim_t>(v); };
    if (dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', d(m), d(n), d(k), alpha, a, d(lda), b, d(ldb), beta, c,
                   d(ldc)) == dnnl_success)
      return;
  }
#endif
  gemm_generic(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

}  // namespace lrp::kernels
