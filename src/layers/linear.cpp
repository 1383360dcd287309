#include "lrp/layers/linear.hpp"

#include <algorithm>
#include <vector>

#include "kernels/gemm.hpp"

namespace lrp {

template <class T>
Linear<T>::Linear(Tensor<T> weight, Tensor<T> bias, bool rows_of_last_axis)
    : weight_(std::move(weight)), bias_(std::move(bias)), rows_of_last_axis_(rows_of_last_axis) {
  if (weight_.rank() != 2) throw ShapeError("Linear weight must be 2-D, got " + shape_str(weight_.shape()));
  if (bias_.rank() != 1 || bias_.dim(0) != weight_.dim(0))
    throw ShapeError("Linear bias has shape " + shape_str(bias_.shape()) + ", expected [" + std::to_string(weight_.dim(0)) + "]");
}

template <class T>
std::string Linear<T>::describe() const {
  return std::to_string(in_features()) + " -> " + std::to_string(out_features()) + (rows_of_last_axis_ ? " on the last axis" : "");
}

template <class T>
Shape Linear<T>::output_shape(const std::vector<Shape>& in) const {
  if (in.at(0).empty() || in[0].back() != in_features() || (!rows_of_last_axis_ && in[0].size() != 1))
    throw ShapeError("Linear " + describe() + " expects input [" + std::to_string(in_features()) + "] per sample (or [..., " +
                     std::to_string(in_features()) + "]), got " + shape_str(in[0]));
  Shape out = in[0];
  out.back() = out_features();
  return out;
}

// Every row of the last axis is one product (x [N, ..., in] as N * ... rows).
template <class T>
void Linear<T>::apply(const Tensor<T>& x, const Tensor<T>& w, const Tensor<T>* b, Tensor<T>& z) const {
  const std::size_t m = in_features(), k = out_features();
  Shape zs;
  if (rows_of_last_axis_) {
    if (x.rank() < 2 || x.shape().back() != m)
      throw ShapeError("Linear " + describe() + ": input has shape " + shape_str(x.shape()) + ", expected [..., " + std::to_string(m) + "]");
    zs = x.shape();
    zs.back() = k;
  } else {
    if (x.sample_size() != m) throw ShapeError("Linear " + describe() + ": input has " + std::to_string(x.sample_size()) + " features");
    zs = {x.dim(0), k};
  }
  const std::size_t n = x.size() / m;
  z = Tensor<T>::uninitialized(zs);  // the bias rows or beta = 0 (C not read) cover it
  if (b)
    for (std::size_t i = 0; i < n; ++i) std::copy(b->begin(), b->end(), z.data() + i * k);
  kernels::gemm<T>(false, true, n, k, m, T(1), x.data(), m, w.data(), m, b ? T(1) : T(0), z.data(), k);
}

template <class T>
void Linear<T>::apply_transposed(const Tensor<T>& g, const Tensor<T>& w, const Shape& x_shape, Tensor<T>& dx) const {
  const std::size_t m = in_features(), k = out_features(), n = g.size() / k;
  if (n * m != shape_numel(x_shape)) throw ShapeError("Linear " + describe() + ": relevance " + shape_str(g.shape()) + " for input " + shape_str(x_shape));
  // Rows of g that are all 0 give rows of 0: when most are (a language model's relevance starts
  // at one position, and stays there until an attention mixes the positions) only the others
  // are multiplied, packed together.
  std::vector<std::size_t> live;
  for (std::size_t r = 0; r < n; ++r) {
    const T* gr = g.data() + r * k;
    if (std::any_of(gr, gr + k, [](T v) { return v != T(0); })) live.push_back(r);
  }
  if (n > 1 && 2 * live.size() <= n) {
    dx = Tensor<T>(x_shape);
    if (live.empty()) return;
    std::vector<T> packed(live.size() * k), out(live.size() * m);
    for (std::size_t q = 0; q < live.size(); ++q) std::copy_n(g.data() + live[q] * k, k, packed.data() + q * k);
    kernels::gemm<T>(false, false, live.size(), m, k, T(1), packed.data(), k, w.data(), m, T(0), out.data(), m);
    for (std::size_t q = 0; q < live.size(); ++q) std::copy_n(out.data() + q * m, m, dx.data() + live[q] * m);
    return;
  }
  dx = Tensor<T>::uninitialized(x_shape);  // beta = 0: written, not read
  kernels::gemm<T>(false, false, n, m, k, T(1), g.data(), k, w.data(), m, T(0), dx.data(), m);
}

template <class T>
void Linear<T>::param_grads(const TensorRefs<T>& in, const Tensor<T>& dout, std::vector<Tensor<T>>& grads) const {
  const Tensor<T>& x = *in[0];
  const std::size_t m = in_features(), k = out_features(), n = x.size() / m;
  grads.assign(2, Tensor<T>());
  grads[0] = Tensor<T>({k, m});
  kernels::gemm<T>(true, false, k, m, n, T(1), dout.data(), k, x.data(), m, T(0), grads[0].data(), m);
  grads[1] = Tensor<T>({k});
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < k; ++j) grads[1][j] += dout[i * k + j];
}

template <class T>
std::unique_ptr<Layer<float>> Linear<T>::to_float() const {
  return std::make_unique<Linear<float>>(weight_.template cast<float>(), bias_.template cast<float>(), rows_of_last_axis_);
}
template <class T>
std::unique_ptr<Layer<double>> Linear<T>::to_double() const {
  return std::make_unique<Linear<double>>(weight_.template cast<double>(), bias_.template cast<double>(), rows_of_last_axis_);
}

template class Linear<float>;
template class Linear<double>;

}  // namespace lrp
