#pragma once
// A permutation of a tensor's axes (Transpose layers: window partitions, attention heads, the
// adjoint of each). Axes of size 1 are dropped and axes that stay neighbours in order are
// merged first; then either the input's last axis stays last (contiguous runs are copied) or
// it moves, and every output block over the two axes that hold the input's and the output's
// unit stride is copied in 32 x 32 tiles, so reads and writes both stay in cache lines.
#include <cstddef>
#include <vector>

namespace lrp::kernels {

// dst (shape out[k] = in[perm[k]], C order) = src (shape `in`, C order) with its axes permuted.
// src and dst must not overlap. On the OpenMP threads once there is enough to copy.
template <class T>
void permute(const T* src, T* dst, const std::vector<std::size_t>& in, const std::vector<std::size_t>& perm);

}  // namespace lrp::kernels
