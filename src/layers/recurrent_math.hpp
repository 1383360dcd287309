#pragma once
// The recurrent layers' nonlinearities on a row: float through the vectorised kernels (per-element
// std::exp and std::tanh were most of an LSTM's time), double (the reference path) through the
// standard library.
#include <cmath>
#include <cstddef>
#include <type_traits>

#include "kernels/elementwise.hpp"

namespace lrp::recurrent {

template <class T>
void sigmoid_row(const T* x, T* y, std::size_t n) {
  if constexpr (std::is_same_v<T, float>) {
    kernels::sigmoid(x, y, n);
  } else {
    for (std::size_t i = 0; i < n; ++i) y[i] = T(1) / (T(1) + std::exp(-x[i]));
  }
}

template <class T>
void tanh_row(const T* x, T* y, std::size_t n) {
  if constexpr (std::is_same_v<T, float>) {
    kernels::tanh(x, y, n);
  } else {
    for (std::size_t i = 0; i < n; ++i) y[i] = std::tanh(x[i]);
  }
}

}  // namespace lrp::recurrent
