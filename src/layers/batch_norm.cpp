#include "lrp/layers/batch_norm.hpp"

#include <cmath>

namespace lrp {

template <class T>
BatchNorm<T>::BatchNorm(Tensor<T> scale, Tensor<T> shift) : scale_(std::move(scale)), shift_(std::move(shift)) {
  if (scale_.rank() != 1 || shift_.shape() != scale_.shape())
    throw ShapeError("BatchNorm scale/shift must be equal 1-D tensors, got " + shape_str(scale_.shape()) + " and " +
                     shape_str(shift_.shape()));
}

template <class T>
BatchNorm<T> BatchNorm<T>::from_statistics(const Tensor<T>& gamma, const Tensor<T>& beta, const Tensor<T>& mean,
                                           const Tensor<T>& var, double eps) {
  const std::size_t c = gamma.size();
  if (beta.size() != c || mean.size() != c || var.size() != c)
    throw ShapeError("BatchNorm statistics have different lengths");
  Tensor<T> scale({c}), shift({c});
  for (std::size_t i = 0; i < c; ++i) {
    if (!(var[i] + eps > 0)) throw NumericError("BatchNorm variance + eps is not positive in channel " + std::to_string(i));
    scale[i] = static_cast<T>(static_cast<double>(gamma[i]) / std::sqrt(static_cast<double>(var[i]) + eps));
    shift[i] = static_cast<T>(static_cast<double>(beta[i]) - static_cast<double>(mean[i]) * static_cast<double>(scale[i]));
  }
  return BatchNorm(std::move(scale), std::move(shift));
}

template <class T>
Shape BatchNorm<T>::output_shape(const std::vector<Shape>& in) const {
  const Shape& x = in.at(0);
  if (x.empty() || x[0] != scale_.size())
    throw ShapeError("BatchNorm over " + std::to_string(scale_.size()) + " channels cannot take " + shape_str(x));
  return x;
}

template <class T>
void BatchNorm<T>::forward(const TensorRefs<T>& in, Tensor<T>& out) const {
  const Tensor<T>& x = *in[0];
  out = Tensor<T>::uninitialized(x.shape());
  const std::size_t c = scale_.size(), plane = x.sample_size() / c;
  const long long planes = static_cast<long long>(x.dim(0) * c);
  // One (sample, channel) plane per iteration: the channel's scale and shift stay in registers.
#pragma omp parallel for schedule(static) if (x.size() >= 65536)
  for (long long q = 0; q < planes; ++q) {
    const std::size_t ch = static_cast<std::size_t>(q) % c, o = static_cast<std::size_t>(q) * plane;
    const T a = scale_[ch], b = shift_[ch];
    const T* xp = x.data() + o;
    T* yp = out.data() + o;
    for (std::size_t i = 0; i < plane; ++i) yp[i] = xp[i] * a + b;
  }
}

template <class T>
void BatchNorm<T>::backward(const TensorRefs<T>& in, const Tensor<T>& /*out*/, const Tensor<T>& dout,
                            std::vector<Tensor<T>>& din) const {
  const Tensor<T>& x = *in[0];
  din.assign(1, Tensor<T>::uninitialized(x.shape()));
  const std::size_t c = scale_.size(), plane = x.sample_size() / c;
  const long long planes = static_cast<long long>(x.size() / plane);
#pragma omp parallel for schedule(static) if (x.size() >= 65536)
  for (long long q = 0; q < planes; ++q) {
    const T a = scale_[static_cast<std::size_t>(q) % c];
    const std::size_t o = static_cast<std::size_t>(q) * plane;
    const T* g = dout.data() + o;
    T* d = din[0].data() + o;
    for (std::size_t i = 0; i < plane; ++i) d[i] = g[i] * a;
  }
}

template <class T>
std::unique_ptr<Layer<float>> BatchNorm<T>::to_float() const {
  return std::make_unique<BatchNorm<float>>(scale_.template cast<float>(), shift_.template cast<float>());
}
template <class T>
std::unique_ptr<Layer<double>> BatchNorm<T>::to_double() const {
  return std::make_unique<BatchNorm<double>>(scale_.template cast<double>(), shift_.template cast<double>());
}

template class BatchNorm<float>;
template class BatchNorm<double>;

}  // namespace lrp
