#pragma once
// What the recurrent layers' loops share: the nonlinearities on a row (float through the
// vectorised kernels: per-element std::exp and std::tanh were most of an LSTM's time; double, the
// reference path, through the standard library), and the chains a sweep runs on two threads.
#include <cmath>
#include <cstddef>
#include <exception>
#include <type_traits>
#include <vector>

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

// One thread's share of a recurrent sweep: direction d over rows [begin, end) of a step's rows
// (the sequences of every sample, each an independent chain of steps).
struct Chain {
  std::size_t d, begin, end;
  std::size_t rows() const { return end - begin; }
};

// Whether a sweep's chains run two at once, one thread each, for steps of `step_macs`
// multiply-adds (the largest matrix product of one step). Each step's products are small and the
// elementwise work between them is serial, so with two threads a chain per thread beats both
// threads on each product (LSTM 2x256 over 100 steps, 2 threads: docs/PERFORMANCE.md). With more
// threads only small steps split that way: a big product keeps its team.
inline bool chains_in_parallel(std::size_t step_macs) {
#ifdef _OPENMP
  if (omp_in_parallel()) return false;
  const int threads = omp_get_max_threads();
  return threads >= 2 && (threads <= 3 || step_macs < (std::size_t(1) << 20));
#else
  (void)step_macs;
  return false;
#endif
}

// The chains of a sweep over `dirs` directions and `rows` rows per step: a direction each, with
// all rows; where chains_in_parallel says so, the two chains of a bidirectional layer run at
// once, and so do the two halves of a one-direction sweep's rows where `split_rows` allows
// (f must then write only its chain's data; an exception thrown in either is rethrown here).
// Not for the forward's per-step products with the weights: both halves would read all of R,
// where now each thread reads half (uni-directional LSTM 1x256 at batch 16: 20.5 -> 21.5 ms).
template <class F>
void for_each_chain(std::size_t dirs, std::size_t rows, std::size_t step_macs, bool split_rows, F&& f) {
  std::vector<Chain> chains;
  for (std::size_t d = 0; d < dirs; ++d) chains.push_back({d, 0, rows});
  const bool parallel = chains_in_parallel(step_macs) && (dirs == 2 || (dirs == 1 && split_rows && rows >= 2));
  if (!parallel) {
    for (const Chain& c : chains) f(c);
    return;
  }
  if (dirs == 1) chains = {{0, 0, rows / 2}, {0, rows / 2, rows}};
  std::exception_ptr error[2];
#pragma omp parallel for num_threads(2) schedule(static, 1)
  for (int i = 0; i < 2; ++i) {
    try {
      f(chains[static_cast<std::size_t>(i)]);
    } catch (...) {
      error[i] = std::current_exception();
    }
  }
  for (const std::exception_ptr& e : error)
    if (e) std::rethrow_exception(e);
}

}  // namespace lrp::recurrent
