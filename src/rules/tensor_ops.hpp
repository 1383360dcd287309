#pragma once
// Elementwise helpers shared by the rule implementations. The loops are split into chunks
// that OpenMP spreads over the threads when a tensor is large enough to pay for it.
//
// "Broadcast" helpers take a [N * k, per] tensor (k relevance rows per sample, row r belongs
// to sample r / k) together with [N, per] forward data.
#include <algorithm>
#include <cstddef>
#include <utility>
#include <vector>

#include "kernels/elementwise.hpp"
#include "lrp/core/tensor.hpp"

namespace lrp::ops {

constexpr std::size_t kChunk = 16384;          // elements per task
constexpr std::size_t kParallelMin = 1 << 15;  // below this, one thread

// A one-element vector holding t without copying it (a braced list would copy: the elements
// of an initializer_list are const).
template <class T>
std::vector<Tensor<T>> only(Tensor<T>&& t) {
  std::vector<Tensor<T>> v;
  v.push_back(std::move(t));
  return v;
}

// x repeated k times along the batch (sample n becomes rows n*k .. n*k+k-1): forward data
// lined up with k relevance rows per sample.
template <class T>
Tensor<T> repeat_rows(const Tensor<T>& x, std::size_t k) {
  if (k == 1) return x;
  Shape s = x.shape();
  const std::size_t n = s[0], per = x.sample_size();
  s[0] = n * k;
  Tensor<T> r = Tensor<T>::uninitialized(s);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < k; ++j) std::copy_n(x.data() + i * per, per, r.data() + (i * k + j) * per);
  return r;
}

// f(row, begin, end) over [rows, per], in chunks of at most kChunk elements of one row.
template <class F>
void for_chunks(std::size_t rows, std::size_t per, F&& f) {
  if (rows == 0 || per == 0) return;
  const std::size_t cpr = (per + kChunk - 1) / kChunk;
  const long long tasks = static_cast<long long>(rows * cpr);
#pragma omp parallel for schedule(static) if (rows * per >= kParallelMin)
  for (long long t = 0; t < tasks; ++t) {
    const std::size_t row = static_cast<std::size_t>(t) / cpr, c = static_cast<std::size_t>(t) % cpr;
    f(row, c * kChunk, std::min(per, (c + 1) * kChunk));
  }
}

// f(begin, end) over a flat range.
template <class F>
void for_range(std::size_t n, F&& f) {
  for_chunks(1, n, [&](std::size_t, std::size_t b, std::size_t e) { f(b, e); });
}

template <class T>
Tensor<T> positive(const Tensor<T>& x) {
  Tensor<T> y(x.shape());
  const T* a = x.data();
  T* o = y.data();
  for_range(x.size(), [&](std::size_t b, std::size_t e) {
    for (std::size_t i = b; i < e; ++i) o[i] = a[i] > T(0) ? a[i] : T(0);
  });
  return y;
}
template <class T>
Tensor<T> negative(const Tensor<T>& x) {
  Tensor<T> y(x.shape());
  const T* a = x.data();
  T* o = y.data();
  for_range(x.size(), [&](std::size_t b, std::size_t e) {
    for (std::size_t i = b; i < e; ++i) o[i] = a[i] < T(0) ? a[i] : T(0);
  });
  return y;
}
template <class T>
bool non_negative(const Tensor<T>& x) {
  return std::all_of(x.begin(), x.end(), [](T v) { return v >= T(0); });
}
template <class T>
void add_into(Tensor<T>& a, const Tensor<T>& b, T scale = T(1)) {
  T* o = a.data();
  const T* p = b.data();
  for_range(a.size(), [&](std::size_t s, std::size_t e) { kernels::axpy(o + s, p + s, e - s, scale); });
}
template <class T>
void mul_into(Tensor<T>& a, const Tensor<T>& b) {
  T* o = a.data();
  const T* p = b.data();
  for_range(a.size(), [&](std::size_t s, std::size_t e) { kernels::mul(o + s, p + s, e - s); });
}
template <class T, class F>
Tensor<T> map(const Tensor<T>& x, F&& f) {
  Tensor<T> y(x.shape());
  const T* a = x.data();
  T* o = y.data();
  for_range(x.size(), [&](std::size_t s, std::size_t e) {
    for (std::size_t i = s; i < e; ++i) o[i] = f(a[i]);
  });
  return y;
}

// a[r, i] *= x[r / k, i]
template <class T>
void mul_bcast(Tensor<T>& a, const Tensor<T>& x, std::size_t k) {
  const std::size_t per = x.sample_size();
  T* o = a.data();
  const T* p = x.data();
  for_chunks(a.size() / per, per, [&](std::size_t r, std::size_t b, std::size_t e) {
    kernels::mul(o + r * per + b, p + (r / k) * per + b, e - b);
  });
}
// a[r, i] = (a[r, i] + b[r, i]) * x[r / k, i]: add_into(a, b) then mul_bcast(a, x, k) in one pass
template <class T>
void add_mul_bcast(Tensor<T>& a, const Tensor<T>& b, const Tensor<T>& x, std::size_t k) {
  const std::size_t per = x.sample_size();
  T* o = a.data();
  const T* q = b.data();
  const T* p = x.data();
  for_chunks(a.size() / per, per, [&](std::size_t r, std::size_t s, std::size_t e) {
    kernels::add_mul(o + r * per + s, q + r * per + s, p + (r / k) * per + s, e - s);
  });
}

}  // namespace lrp::ops
