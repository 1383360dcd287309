#include "lrp/core/tensor.hpp"

#include <cmath>
#include <limits>

namespace lrp {

std::size_t shape_numel(const Shape& shape, std::size_t limit) {
  std::size_t n = 1;
  for (std::size_t d : shape) {
    if (d != 0 && n > limit / d) throw ShapeError("tensor shape " + shape_str(shape) + " is too large");
    n *= d;
  }
  if (n > limit) throw ShapeError("tensor shape " + shape_str(shape) + " is too large");
  return n;
}

std::size_t sample_numel(const Shape& per_sample) {
  try {
    return shape_numel(per_sample, kMaxSampleElements);
  } catch (const ShapeError&) {
    throw ShapeError("one sample of shape " + shape_str(per_sample) + " would hold more than " + std::to_string(kMaxSampleElements) +
                     " values (lrp's limit per sample)");
  }
}

std::string shape_str(const Shape& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ",";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

template <class T>
Tensor<T> nhwc_to_nchw(const Tensor<T>& x) {
  if (x.rank() != 4) throw ShapeError("expected a rank-4 NHWC tensor, got " + shape_str(x.shape()));
  const std::size_t n = x.dim(0), h = x.dim(1), w = x.dim(2), c = x.dim(3);
  Tensor<T> y({n, c, h, w});
  for (std::size_t b = 0; b < n; ++b)
    for (std::size_t i = 0; i < h; ++i)
      for (std::size_t j = 0; j < w; ++j)
        for (std::size_t k = 0; k < c; ++k) y[((b * c + k) * h + i) * w + j] = x[((b * h + i) * w + j) * c + k];
  return y;
}

template <class T>
Tensor<T> nchw_to_nhwc(const Tensor<T>& x) {
  if (x.rank() != 4) throw ShapeError("expected a rank-4 NCHW tensor, got " + shape_str(x.shape()));
  const std::size_t n = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
  Tensor<T> y({n, h, w, c});
  for (std::size_t b = 0; b < n; ++b)
    for (std::size_t k = 0; k < c; ++k)
      for (std::size_t i = 0; i < h; ++i)
        for (std::size_t j = 0; j < w; ++j) y[((b * h + i) * w + j) * c + k] = x[((b * c + k) * h + i) * w + j];
  return y;
}

template <class T>
bool all_finite(const Tensor<T>& x) {
  for (T v : x)
    if (!std::isfinite(v)) return false;
  return true;
}

template Tensor<float> nhwc_to_nchw(const Tensor<float>&);
template Tensor<double> nhwc_to_nchw(const Tensor<double>&);
template Tensor<float> nchw_to_nhwc(const Tensor<float>&);
template Tensor<double> nchw_to_nhwc(const Tensor<double>&);
template bool all_finite(const Tensor<float>&);
template bool all_finite(const Tensor<double>&);

}  // namespace lrp
