#include "lrp/layers/prelu.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "lrp/core/error.hpp"

namespace lrp {

template <class T>
PRelu<T>::PRelu(Tensor<T> slopes) : slopes_(std::move(slopes)) {
  if (slopes_.size() == 0) throw ConfigError("PRelu needs at least one slope");
  for (std::size_t c = 0; c < slopes_.size(); ++c)
    if (!std::isfinite(static_cast<double>(slopes_[c])))
      throw ConfigError("PRelu slope " + std::to_string(c) + " is not finite");
  slopes_.reshape({slopes_.size()});
}

template <class T>
std::string PRelu<T>::describe() const {
  if (!shared()) return std::to_string(slopes_.size()) + " slopes";
  std::ostringstream s;  // 6 significant digits: "shared slope 0.25"
  s << "shared slope " << static_cast<double>(slopes_[0]);
  return s.str();
}

template <class T>
Shape PRelu<T>::output_shape(const std::vector<Shape>& in) const {
  const Shape& x = in.at(0);
  if (shared()) return x;
  const std::size_t c = slopes_.size();
  if (x.empty())
    throw ShapeError("PRelu with " + std::to_string(c) + " slopes needs a channel axis ([N, C, ...]), got the input " + shape_str(x));
  if (x[0] != c)
    throw ShapeError("PRelu has " + std::to_string(c) + " slopes, the input " + shape_str(x) + " has " + std::to_string(x[0]) +
                     " channels");
  return x;
}

namespace {

// Planes of at least this many elements are one task each; shorter ones (rank 2: one element)
// are handled a sample at a time.
constexpr std::size_t kMinPlane = 64;

// Calls f(first, len, a) for every run of elements sharing the slope a, on the OpenMP threads for
// large tensors. f's loop is a select over contiguous data, which vectorises.
template <class T, class F>
void each_run(const Tensor<T>& x, const Tensor<T>& slopes, F f) {
  const std::size_t n = x.size();
  if (n == 0) return;
  const bool big = n >= 65536;
  if (slopes.size() == 1) {
    const std::size_t chunk = 4096;
    const long long chunks = static_cast<long long>((n + chunk - 1) / chunk);
    const T a = slopes[0];
#pragma omp parallel for schedule(static) if (big)
    for (long long q = 0; q < chunks; ++q) {
      const std::size_t first = static_cast<std::size_t>(q) * chunk;
      f(first, std::min(chunk, n - first), a);
    }
    return;
  }
  const std::size_t C = slopes.size(), plane = x.sample_size() / C;
  const T* ap = slopes.data();
  if (plane >= kMinPlane) {
    const long long planes = static_cast<long long>(x.dim(0) * C);
#pragma omp parallel for schedule(static) if (big)
    for (long long q = 0; q < planes; ++q) f(static_cast<std::size_t>(q) * plane, plane, ap[static_cast<std::size_t>(q) % C]);
    return;
  }
  const long long samples = static_cast<long long>(x.dim(0));
#pragma omp parallel for schedule(static) if (big)
  for (long long s = 0; s < samples; ++s)
    for (std::size_t c = 0; c < C; ++c) f((static_cast<std::size_t>(s) * C + c) * plane, plane, ap[c]);
}

template <class T>
void check_input(const PRelu<T>& layer, const Tensor<T>& x) {
  if (layer.shared()) return;
  if (x.rank() < 2 || x.dim(1) != layer.slopes().size())
    throw ShapeError("PRelu has " + std::to_string(layer.slopes().size()) + " slopes, it cannot take the input " + shape_str(x.shape()));
}

}  // namespace

template <class T>
void PRelu<T>::forward(const TensorRefs<T>& in, Tensor<T>& out) const {
  const Tensor<T>& x = *in[0];
  check_input(*this, x);
  out = Tensor<T>::uninitialized(x.shape());  // every element is written below
  const T* xp = x.data();
  T* yp = out.data();
  each_run(x, slopes_, [xp, yp](std::size_t first, std::size_t len, T a) {
    const T* xs = xp + first;
    T* ys = yp + first;
#pragma omp simd
    for (std::size_t i = 0; i < len; ++i) ys[i] = xs[i] >= T(0) ? xs[i] : a * xs[i];
  });
}

// dx = dy where x >= 0 (the x > 0 branch at 0), a dy where x < 0.
template <class T>
void PRelu<T>::backward(const TensorRefs<T>& in, const Tensor<T>& /*out*/, const Tensor<T>& dout,
                        std::vector<Tensor<T>>& din) const {
  const Tensor<T>& x = *in[0];
  check_input(*this, x);
  if (dout.shape() != x.shape()) throw ShapeError("PRelu: gradient of " + shape_str(dout.shape()) + " for " + shape_str(x.shape()));
  din.assign(1, Tensor<T>::uninitialized(x.shape()));
  const T* xp = x.data();
  const T* gp = dout.data();
  T* dp = din[0].data();
  each_run(x, slopes_, [xp, gp, dp](std::size_t first, std::size_t len, T a) {
    const T* xs = xp + first;
    const T* gs = gp + first;
    T* ds = dp + first;
#pragma omp simd
    for (std::size_t i = 0; i < len; ++i) ds[i] = xs[i] >= T(0) ? gs[i] : a * gs[i];
  });
}

template <class T>
std::unique_ptr<Layer<float>> PRelu<T>::to_float() const {
  return std::make_unique<PRelu<float>>(slopes_.template cast<float>());
}
template <class T>
std::unique_ptr<Layer<double>> PRelu<T>::to_double() const {
  return std::make_unique<PRelu<double>>(slopes_.template cast<double>());
}

template class PRelu<float>;
template class PRelu<double>;

}  // namespace lrp
