#pragma once
// Row-major GEMM: C = alpha * op(A) * op(B) + beta * C, op(X) = X or X^T.
// float goes to oneDNN's sgemm when available; double uses our own blocked loops (the
// reference path, where exactness matters more than speed).
#include <cstddef>

namespace lrp::kernels {

template <class T>
void gemm(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, T alpha, const T* a,
          std::size_t lda, const T* b, std::size_t ldb, T beta, T* c, std::size_t ldc);

}  // namespace lrp::kernels
