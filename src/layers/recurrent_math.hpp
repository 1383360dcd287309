#pragma once
// The recurrent layers' nonlinearities on a row: float through the vectorised kernels (per-element
// std::exp and std::tanh were most of an LSTM's time), double (the reference path) through the
// standard library.
#include <cmath>
#include <cstddef>
#include <exception>
#include <type_traits>

#ifdef _OPENMP
#include <omp.h>
#endif

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

// Whether the two directions of a bidirectional layer run at once, one thread each, for steps of
// `step_macs` multiply-adds (the largest matrix product of one step). Each step's products are
// small and the elementwise work between them is serial, so with two threads one direction per
// thread beats both threads on each product (LSTM 2x256 over 100 steps, 2 threads:
// docs/PERFORMANCE.md). With more threads only small steps split that way: a big product keeps
// its team.
inline bool directions_in_parallel(std::size_t step_macs) {
#ifdef _OPENMP
  if (omp_in_parallel()) return false;
  const int threads = omp_get_max_threads();
  return threads >= 2 && (threads <= 3 || step_macs < (std::size_t(1) << 20));
#else
  (void)step_macs;
  return false;
#endif
}

// f(d) for every direction d; the two of a bidirectional layer at once where
// directions_in_parallel says so. f must then write only its own direction's data; an
// exception thrown in either is rethrown here.
template <class F>
void for_each_direction(std::size_t dirs, std::size_t step_macs, F&& f) {
  if (dirs == 2 && directions_in_parallel(step_macs)) {
    std::exception_ptr error[2];
#pragma omp parallel for num_threads(2) schedule(static, 1)
    for (int d = 0; d < 2; ++d) {
      try {
        f(static_cast<std::size_t>(d));
      } catch (...) {
        error[d] = std::current_exception();
      }
    }
    for (const std::exception_ptr& e : error)
      if (e) std::rethrow_exception(e);
    return;
  }
  for (std::size_t d = 0; d < dirs; ++d) f(d);
}

}  // namespace lrp::recurrent
