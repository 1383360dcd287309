#include "lrp/layers/layer_norm.hpp"

#include <cmath>

namespace lrp {

template <class T>
LayerNorm<T>::LayerNorm(Tensor<T> gamma, Tensor<T> beta, double eps, bool centered)
    : gamma_(std::move(gamma)), beta_(std::move(beta)), eps_(eps), centered_(centered) {
  if (gamma_.rank() != 1 || beta_.shape() != gamma_.shape() || gamma_.size() == 0)
    throw ShapeError("LayerNorm scale/bias must be equal non-empty 1-D tensors, got " + shape_str(gamma_.shape()) + " and " +
                     shape_str(beta_.shape()));
  if (!(eps_ >= 0.0) || !std::isfinite(eps_)) throw ShapeError("LayerNorm epsilon must be finite and >= 0");
}

template <class T>
std::string LayerNorm<T>::describe() const {
  return (centered_ ? "last axis of " : "root mean square over the last axis of ") + std::to_string(gamma_.size()) + ", eps " +
         std::to_string(eps_);
}

template <class T>
Shape LayerNorm<T>::output_shape(const std::vector<Shape>& in) const {
  const Shape& x = in.at(0);
  if (x.empty() || x.back() != gamma_.size())
    throw ShapeError("LayerNorm over " + std::to_string(gamma_.size()) + " features cannot take " + shape_str(x));
  return x;
}

namespace {
// Mean and 1 / sqrt(var + eps) of one row of d entries, summed in double; not centred (RMSNorm),
// mean 0 and 1 / sqrt(mean(x^2) + eps).
template <class T>
void row_stats(const T* xr, std::size_t d, double eps, bool centered, T& mean, T& rstd) {
  double m = 0, v = 0;
  if (centered) {
    for (std::size_t i = 0; i < d; ++i) m += static_cast<double>(xr[i]);
    m /= static_cast<double>(d);
  }
  for (std::size_t i = 0; i < d; ++i) v += (static_cast<double>(xr[i]) - m) * (static_cast<double>(xr[i]) - m);
  mean = static_cast<T>(m);
  rstd = static_cast<T>(1.0 / std::sqrt(v / static_cast<double>(d) + eps));
}

// Rows on the OpenMP threads once there is enough to do.
bool many(std::size_t elements) { return elements >= 65536; }
}  // namespace

template <class T>
std::vector<T> LayerNorm<T>::inverse_std(const Tensor<T>& x) const {
  const std::size_t d = gamma_.size();
  const long long rows = static_cast<long long>(x.size() / d);
  std::vector<T> rstd(static_cast<std::size_t>(rows));
#pragma omp parallel for schedule(static) if (many(x.size()))
  for (long long r = 0; r < rows; ++r) {
    T mean;
    row_stats(x.data() + static_cast<std::size_t>(r) * d, d, eps_, centered_, mean, rstd[static_cast<std::size_t>(r)]);
  }
  return rstd;
}

template <class T>
void LayerNorm<T>::forward(const TensorRefs<T>& in, Tensor<T>& out) const {
  const Tensor<T>& x = *in[0];
  out = Tensor<T>::uninitialized(x.shape());
  const std::size_t d = gamma_.size();
  const long long rows = static_cast<long long>(x.size() / d);
  const T* g = gamma_.data();
  const T* b = beta_.data();
#pragma omp parallel for schedule(static) if (many(x.size()))
  for (long long rr = 0; rr < rows; ++rr) {
    const std::size_t r = static_cast<std::size_t>(rr);
    const T* xr = x.data() + r * d;
    T mean, rstd;
    row_stats(xr, d, eps_, centered_, mean, rstd);
    T* yr = out.data() + r * d;
    for (std::size_t i = 0; i < d; ++i) yr[i] = (xr[i] - mean) * rstd * g[i] + b[i];
  }
}

// With xh = (x - mean) * rstd and h = g * gamma: dx = rstd * (h - mean(h) - xh * mean(h * xh));
// RMSNorm: dx = rstd * (h - xh * mean(h * xh)).
template <class T>
void LayerNorm<T>::backward(const TensorRefs<T>& in, const Tensor<T>& /*out*/, const Tensor<T>& dout,
                            std::vector<Tensor<T>>& din) const {
  const Tensor<T>& x = *in[0];
  if (dout.size() != x.size()) throw ShapeError("LayerNorm: gradient of " + shape_str(dout.shape()) + " for " + shape_str(x.shape()));
  const std::size_t d = gamma_.size();
  const long long rows = static_cast<long long>(x.size() / d);
  din.assign(1, Tensor<T>::uninitialized(x.shape()));
  T* dx = din[0].data();
#pragma omp parallel if (many(x.size()))
  {
    std::vector<T> xh(d), h(d);
#pragma omp for schedule(static)
    for (long long rr = 0; rr < rows; ++rr) {
      const std::size_t r = static_cast<std::size_t>(rr);
      const T* xr = x.data() + r * d;
      T mean, rstd;
      row_stats(xr, d, eps_, centered_, mean, rstd);
      T mh = 0, mhx = 0;
      for (std::size_t i = 0; i < d; ++i) {
        xh[i] = (xr[i] - mean) * rstd;
        h[i] = dout[r * d + i] * gamma_[i];
        mh += h[i];
        mhx += h[i] * xh[i];
      }
      mh = centered_ ? mh / static_cast<T>(d) : T(0);
      mhx /= static_cast<T>(d);
      for (std::size_t i = 0; i < d; ++i) dx[r * d + i] = rstd * (h[i] - mh - xh[i] * mhx);
    }
  }
}

template <class T>
std::unique_ptr<Layer<float>> LayerNorm<T>::to_float() const {
  return std::make_unique<LayerNorm<float>>(gamma_.template cast<float>(), beta_.template cast<float>(), eps_, centered_);
}
template <class T>
std::unique_ptr<Layer<double>> LayerNorm<T>::to_double() const {
  return std::make_unique<LayerNorm<double>>(gamma_.template cast<double>(), beta_.template cast<double>(), eps_, centered_);
}

template class LayerNorm<float>;
template class LayerNorm<double>;

}  // namespace lrp
