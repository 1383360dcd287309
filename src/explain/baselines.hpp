#pragma once
// The baselines of the methods that compare an input with a reference: one per sample
// (integrated gradients, DeepLIFT) or draws of a distribution (DeepLiftShap, GradientShap).
#include <algorithm>

#include "lrp/core/error.hpp"
#include "lrp/core/tensor.hpp"
#include "lrp/explain/explain.hpp"

namespace lrp::baselines {

// The baseline of every sample of x: the input `baseline_input` (x's shape, or one sample's
// [1, ...] for all), else the constant `baseline`.
template <class T>
Tensor<T> baseline_for(const Tensor<T>& x, const MethodOptions& o) {
  const Tensor<double>& b = o.baseline_input;
  if (b.empty()) return Tensor<T>(x.shape(), static_cast<T>(o.baseline));
  const Shape per(x.shape().begin() + 1, x.shape().end());
  if (b.shape() == x.shape()) return b.cast<T>();
  if (b.rank() == x.rank() && b.dim(0) == 1 && Shape(b.shape().begin() + 1, b.shape().end()) == per) {
    Tensor<T> out = Tensor<T>::uninitialized(x.shape());
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<T>(b[i % b.size()]);
    return out;
  }
  throw ShapeError("the baseline has shape " + shape_str(b.shape()) + ", the input " + shape_str(x.shape()) +
                   " (give one sample's shape or the input's)");
}

// The baseline distribution of DeepLiftShap and GradientShap, [draws, ...one sample of x]: the
// samples of the baseline input, or the constant as the only draw.
inline Tensor<double> baseline_draws(const Shape& x_shape, const MethodOptions& o) {
  Shape one = x_shape;
  one[0] = 1;
  const Tensor<double>& b = o.baseline_input;
  if (b.empty()) return Tensor<double>(one, o.baseline);
  if (b.rank() != one.size() || b.dim(0) == 0 || !std::equal(b.shape().begin() + 1, b.shape().end(), one.begin() + 1))
    throw ShapeError("the baseline samples have shape " + shape_str(b.shape()) + ", the input " + shape_str(x_shape) +
                     " (give one or more samples of the input's shape)");
  return b;
}

}  // namespace lrp::baselines
