#pragma once
// Elementwise helpers shared by the rule implementations.
#include <algorithm>

#include "lrp/core/tensor.hpp"

namespace lrp::ops {

template <class T>
Tensor<T> positive(const Tensor<T>& x) {
  Tensor<T> y(x.shape());
  for (std::size_t i = 0; i < x.size(); ++i) y[i] = x[i] > T(0) ? x[i] : T(0);
  return y;
}
template <class T>
Tensor<T> negative(const Tensor<T>& x) {
  Tensor<T> y(x.shape());
  for (std::size_t i = 0; i < x.size(); ++i) y[i] = x[i] < T(0) ? x[i] : T(0);
  return y;
}
template <class T>
bool non_negative(const Tensor<T>& x) {
  return std::all_of(x.begin(), x.end(), [](T v) { return v >= T(0); });
}
template <class T>
void add_into(Tensor<T>& a, const Tensor<T>& b, T scale = T(1)) {
  for (std::size_t i = 0; i < a.size(); ++i) a[i] += scale * b[i];
}
template <class T>
void mul_into(Tensor<T>& a, const Tensor<T>& b) {
  for (std::size_t i = 0; i < a.size(); ++i) a[i] *= b[i];
}
template <class T, class F>
Tensor<T> map(const Tensor<T>& x, F&& f) {
  Tensor<T> y(x.shape());
  for (std::size_t i = 0; i < x.size(); ++i) y[i] = f(x[i]);
  return y;
}

}  // namespace lrp::ops
