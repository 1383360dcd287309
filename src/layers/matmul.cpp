#include "lrp/layers/matmul.hpp"

#include "kernels/gemm.hpp"
#include "lrp/core/error.hpp"

namespace lrp {

template <class T>
Shape MatMul<T>::output_shape(const std::vector<Shape>& in) const {
  const Shape& a = in.at(0);
  const Shape& b = in.at(1);
  if (a.size() < 2 || a.size() != b.size() || !std::equal(a.begin(), a.end() - 2, b.begin()) || a.back() != b[b.size() - 2])
    throw ShapeError("MatMul of " + shape_str(a) + " and " + shape_str(b) +
                     " (needs [..., M, K] and [..., K, P] with the same leading axes)");
  Shape out = a;
  out.back() = b.back();
  return out;
}

template <class T>
typename MatMul<T>::Dims MatMul<T>::dims(const Shape& a, const Shape& b) {
  const std::size_t m = a[a.size() - 2], k = a.back(), p = b.back();
  return {shape_numel(a) / (m * k), m, k, p};
}

template <class T>
void MatMul<T>::forward(const TensorRefs<T>& in, Tensor<T>& out) const {
  const Tensor<T>& a = *in[0];
  const Tensor<T>& b = *in[1];
  Shape s = a.shape();
  s.back() = b.shape().back();
  out = Tensor<T>::uninitialized(s);  // every product is written (beta 0)
  const Dims d = dims(a.shape(), b.shape());
  // Heads (and samples) in parallel: each product is too small to split well on its own.
  const long long count = static_cast<long long>(d.count);
#pragma omp parallel for schedule(static) if (d.count > 1 && d.count * d.m * d.k * d.p >= (1u << 18))
  for (long long qq = 0; qq < count; ++qq) {
    const std::size_t q = static_cast<std::size_t>(qq);
    kernels::gemm<T>(false, false, d.m, d.p, d.k, T(1), a.data() + q * d.m * d.k, d.k, b.data() + q * d.k * d.p, d.p, T(0),
                     out.data() + q * d.m * d.p, d.p);
  }
}

// dA = dC B^T, dB = A^T dC per matrix.
template <class T>
void MatMul<T>::backward(const TensorRefs<T>& in, const Tensor<T>& /*out*/, const Tensor<T>& dout,
                         std::vector<Tensor<T>>& din) const {
  const Tensor<T>& a = *in[0];
  const Tensor<T>& b = *in[1];
  const Dims d = dims(a.shape(), b.shape());
  din.assign(2, Tensor<T>());
  din[0] = Tensor<T>::uninitialized(a.shape());  // written by the products (beta 0)
  din[1] = Tensor<T>::uninitialized(b.shape());
  const long long count = static_cast<long long>(d.count);
#pragma omp parallel for schedule(static) if (d.count > 1 && d.count * d.m * d.k * d.p >= (1u << 18))
  for (long long qq = 0; qq < count; ++qq) {
    const std::size_t q = static_cast<std::size_t>(qq);
    const T* g = dout.data() + q * d.m * d.p;
    kernels::gemm<T>(false, true, d.m, d.k, d.p, T(1), g, d.p, b.data() + q * d.k * d.p, d.p, T(0), din[0].data() + q * d.m * d.k, d.k);
    kernels::gemm<T>(true, false, d.k, d.p, d.m, T(1), a.data() + q * d.m * d.k, d.k, g, d.p, T(0), din[1].data() + q * d.k * d.p, d.p);
  }
}

template class MatMul<float>;
template class MatMul<double>;

}  // namespace lrp
