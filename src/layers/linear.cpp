#include "lrp/layers/linear.hpp"

#include "kernels/gemm.hpp"

namespace lrp {

template <class T>
Linear<T>::Linear(Tensor<T> weight, Tensor<T> bias) : weight_(std::move(weight)), bias_(std::move(bias)) {
  if (weight_.rank() != 2) throw ShapeError("Linear weight must be 2-D, got " + shape_str(weight_.shape()));
  if (bias_.rank() != 1 || bias_.dim(0) != weight_.dim(0))
    throw ShapeError("Linear bias has shape " + shape_str(bias_.shape()) + ", expected [" + std::to_string(weight_.dim(0)) + "]");
}

template <class T>
std::string Linear<T>::describe() const {
  return std::to_string(in_features()) + " -> " + std::to_string(out_features());
}

template <class T>
Shape Linear<T>::output_shape(const std::vector<Shape>& in) const {
  if (in.at(0).size() != 1 || in[0][0] != in_features())
    throw ShapeError("Linear " + describe() + " expects input [" + std::to_string(in_features()) + "] per sample, got " +
                     shape_str(in[0]));
  return {out_features()};
}

template <class T>
void Linear<T>::apply(const Tensor<T>& x, const Tensor<T>& w, const Tensor<T>* b, Tensor<T>& z) const {
  const std::size_t n = x.dim(0), m = in_features(), k = out_features();
  if (x.sample_size() != m) throw ShapeError("Linear " + describe() + ": input has " + std::to_string(x.sample_size()) + " features");
  z = Tensor<T>::uninitialized({n, k});  // the bias rows or beta = 0 (C not read) cover it
  if (b)
    for (std::size_t i = 0; i < n; ++i) std::copy(b->begin(), b->end(), z.data() + i * k);
  kernels::gemm<T>(false, true, n, k, m, T(1), x.data(), m, w.data(), m, b ? T(1) : T(0), z.data(), k);
}

template <class T>
void Linear<T>::apply_transposed(const Tensor<T>& g, const Tensor<T>& w, const Shape& x_shape, Tensor<T>& dx) const {
  const std::size_t n = g.dim(0), m = in_features(), k = out_features();
  dx = Tensor<T>::uninitialized(x_shape);  // beta = 0: written, not read
  kernels::gemm<T>(false, false, n, m, k, T(1), g.data(), k, w.data(), m, T(0), dx.data(), m);
}

template <class T>
void Linear<T>::param_grads(const TensorRefs<T>& in, const Tensor<T>& dout, std::vector<Tensor<T>>& grads) const {
  const Tensor<T>& x = *in[0];
  const std::size_t n = x.dim(0), m = in_features(), k = out_features();
  grads.assign(2, Tensor<T>());
  grads[0] = Tensor<T>({k, m});
  kernels::gemm<T>(true, false, k, m, n, T(1), dout.data(), k, x.data(), m, T(0), grads[0].data(), m);
  grads[1] = Tensor<T>({k});
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < k; ++j) grads[1][j] += dout[i * k + j];
}

template <class T>
std::unique_ptr<Layer<float>> Linear<T>::to_float() const {
  return std::make_unique<Linear<float>>(weight_.template cast<float>(), bias_.template cast<float>());
}
template <class T>
std::unique_ptr<Layer<double>> Linear<T>::to_double() const {
  return std::make_unique<Linear<double>>(weight_.template cast<double>(), bias_.template cast<double>());
}

template class Linear<float>;
template class Linear<double>;

}  // namespace lrp
