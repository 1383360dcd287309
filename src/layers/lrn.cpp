#include "lrp/layers/lrn.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <type_traits>
#include <vector>

#include "lrp/core/error.hpp"

#if defined(__SSE2__)
#include <immintrin.h>
#endif

namespace lrp {

template <class T>
LocalResponseNorm<T>::LocalResponseNorm(std::size_t size, double alpha, double beta, double k)
    : size_(size), alpha_(alpha), beta_(beta), k_(k) {
  if (size_ == 0) throw ConfigError("LRN size must be at least 1");
  if (!std::isfinite(alpha_) || alpha_ < 0) throw ConfigError("LRN alpha must be finite and >= 0");
  if (!std::isfinite(beta_)) throw ConfigError("LRN beta must be finite");
  // k > 0 keeps k + alpha/size * sum(x^2) positive: its power is then defined and never 0.
  if (!std::isfinite(k_) || k_ <= 0) throw ConfigError("LRN k (ONNX 'bias') must be finite and > 0");
}

template <class T>
std::string LocalResponseNorm<T>::describe() const {
  std::ostringstream s;  // 6 significant digits: alpha read from a float file shows as 0.0001
  s << "size " << size_ << " alpha " << alpha_ << " beta " << beta_ << " k " << k_;
  return s.str();
}

template <class T>
Shape LocalResponseNorm<T>::output_shape(const std::vector<Shape>& in) const {
  if (in.at(0).empty()) throw ShapeError("LRN needs a channel axis: [N, C, ...]");
  return in.at(0);
}

namespace {

// Positions per task: long enough for vector loops, short enough that one VGG-size map
// (55 x 55) gives every thread work.
constexpr std::size_t kChunk = 256;

// One task's view of [N, C, S]: channel c of the task's positions starts at c * stride.
template <class T>
struct Block {
  std::size_t channels, stride, len, pre, post;
  T a;  // alpha / size
  T k;
};

// b[i] <- b[i]^-0.75 (three_quarters) or b[i]^-0.5 in float, four at a time where SSE2 is
// there: std::sqrt does not vectorise while it may set errno.
inline void inverse_root(float* b, std::size_t n, bool three_quarters) {
  std::size_t i = 0;
#if defined(__SSE2__)
  const __m128 one = _mm_set1_ps(1.0f);
  for (; i + 4 <= n; i += 4) {
    const __m128 s = _mm_sqrt_ps(_mm_loadu_ps(b + i));
    _mm_storeu_ps(b + i, _mm_div_ps(one, three_quarters ? _mm_mul_ps(s, _mm_sqrt_ps(s)) : s));
  }
#endif
  for (; i < n; ++i) {
    const float s = std::sqrt(b[i]);
    b[i] = 1.0f / (three_quarters ? s * std::sqrt(s) : s);
  }
}

// b[i] <- b[i]^-beta. The float path avoids std::pow for the usual exponents (0.75: AlexNet,
// GoogLeNet, ONNX's default; 0.5: TensorFlow's default): 3x faster, square roots correctly rounded.
template <class T>
void inverse_power(T* b, std::size_t n, double beta) {
  if constexpr (std::is_same_v<T, float>) {
    if (beta == 0.75 || beta == 0.5) return inverse_root(b, n, beta == 0.75);
    if (beta == 1.0) {
      for (std::size_t i = 0; i < n; ++i) b[i] = 1.0f / b[i];
      return;
    }
  }
  const T e = static_cast<T>(-beta);
  for (std::size_t i = 0; i < n; ++i) b[i] = std::pow(b[i], e);
}

// For channel c = 0, 1, ...: base[i] = k + a * sum over the window [c - pre, c + post] of x^2
// (a running sum: the entering channel added, the leaving one subtracted), then f(c, base).
template <class T, class F>
void each_base(const Block<T>& blk, const T* x, T* sum, T* base, F f) {
  const std::size_t C = blk.channels, S = blk.stride, len = blk.len;
  std::fill(sum, sum + len, T(0));
  for (std::size_t c = 0; c < std::min(blk.post, C); ++c)
    for (std::size_t i = 0; i < len; ++i) sum[i] += x[c * S + i] * x[c * S + i];
  for (std::size_t c = 0; c < C; ++c) {
    if (c + blk.post < C) {
      const T* xe = x + (c + blk.post) * S;
      for (std::size_t i = 0; i < len; ++i) sum[i] += xe[i] * xe[i];
    }
    // max: the subtractions may leave a rounding error below 0 where the window holds zeros.
    for (std::size_t i = 0; i < len; ++i) base[i] = blk.k + blk.a * std::max(sum[i], T(0));
    f(c, base);
    if (c >= blk.pre) {
      const T* xl = x + (c - blk.pre) * S;
      for (std::size_t i = 0; i < len; ++i) sum[i] -= xl[i] * xl[i];
    }
  }
}

// Calls task(n, first, len, scratch) for every sample n and chunk of positions, on the OpenMP
// threads for large tensors; scratch holds `per_position` values per position of a chunk.
template <class T, class F>
void each_chunk(std::size_t samples, std::size_t positions, std::size_t elements, std::size_t per_position, F task) {
  const std::size_t chunks = (positions + kChunk - 1) / kChunk;
  const long long tasks = static_cast<long long>(samples * chunks);
#pragma omp parallel if (elements >= 65536)
  {
    std::vector<T> scratch(per_position * std::min(kChunk, positions));
#pragma omp for schedule(static)
    for (long long t = 0; t < tasks; ++t) {
      const std::size_t n = static_cast<std::size_t>(t) / chunks, first = (static_cast<std::size_t>(t) % chunks) * kChunk;
      task(n, first, std::min(kChunk, positions - first), scratch.data());
    }
  }
}

}  // namespace

template <class T>
void LocalResponseNorm<T>::forward(const TensorRefs<T>& in, Tensor<T>& out) const {
  const Tensor<T>& x = *in[0];
  if (x.rank() < 2) throw ShapeError("LRN needs [N, C, ...], got " + shape_str(x.shape()));
  out = Tensor<T>::uninitialized(x.shape());
  const std::size_t N = x.dim(0), C = x.dim(1), S = C == 0 ? 0 : x.sample_size() / C;
  if (x.size() == 0) return;
  const std::size_t pre = (size_ - 1) / 2, post = size_ - 1 - pre;
  const T a = static_cast<T>(alpha_ / static_cast<double>(size_)), k = static_cast<T>(k_);
  const double beta = beta_;
  T* y = out.data();
  each_chunk<T>(N, S, x.size(), 2, [&](std::size_t n, std::size_t first, std::size_t len, T* scratch) {
    const Block<T> blk{C, S, len, pre, post, a, k};
    const std::size_t o = n * C * S + first;
    const T* xs = x.data() + o;
    each_base(blk, xs, scratch, scratch + len, [&](std::size_t c, T* base) {
      inverse_power(base, len, beta);
      const T* xc = xs + c * S;
      T* yc = y + o + c * S;
      for (std::size_t i = 0; i < len; ++i) yc[i] = xc[i] * base[i];
    });
  });
}

// With B_c = k + a sum_{W(c)} x^2 and y_c = x_c B_c^-beta:
// dx_j = g_j B_j^-beta - 2 a beta x_j sum_{c : j in W(c)} g_c x_c B_c^(-beta-1), where
// j in W(c) <=> c in [j - post, j + pre] (the mirrored window), again a running sum.
template <class T>
void LocalResponseNorm<T>::backward(const TensorRefs<T>& in, const Tensor<T>& /*out*/, const Tensor<T>& dout,
                                    std::vector<Tensor<T>>& din) const {
  const Tensor<T>& x = *in[0];
  if (x.rank() < 2 || dout.shape() != x.shape())
    throw ShapeError("LRN: gradient of " + shape_str(dout.shape()) + " for " + shape_str(x.shape()));
  din.assign(1, Tensor<T>::uninitialized(x.shape()));
  const std::size_t N = x.dim(0), C = x.dim(1), S = C == 0 ? 0 : x.sample_size() / C;
  if (x.size() == 0) return;
  const std::size_t pre = (size_ - 1) / 2, post = size_ - 1 - pre;
  const T a = static_cast<T>(alpha_ / static_cast<double>(size_)), k = static_cast<T>(k_);
  const T coef = static_cast<T>(2.0 * alpha_ / static_cast<double>(size_) * beta_);
  const double beta = beta_;
  T* dx = din[0].data();
  // Scratch per position: the running sums, the base, and per channel B^-beta and g x B^(-beta-1).
  each_chunk<T>(N, S, x.size(), 2 + 2 * C, [&](std::size_t n, std::size_t first, std::size_t len, T* scratch) {
    const Block<T> blk{C, S, len, pre, post, a, k};
    const std::size_t o = n * C * S + first;
    const T* xs = x.data() + o;
    const T* gs = dout.data() + o;
    T* sum = scratch;
    T* scale = scratch + 2 * len;  // [C][len]
    T* t = scale + C * len;        // [C][len]
    each_base(blk, xs, sum, scratch + len, [&](std::size_t c, T* base) {
      T* sc = scale + c * len;
      std::copy(base, base + len, sc);
      inverse_power(sc, len, beta);
      const T* xc = xs + c * S;
      const T* gc = gs + c * S;
      T* tc = t + c * len;
      for (std::size_t i = 0; i < len; ++i) tc[i] = gc[i] * xc[i] * sc[i] / base[i];
    });
    std::fill(sum, sum + len, T(0));
    for (std::size_t c = 0; c < std::min(pre, C); ++c)
      for (std::size_t i = 0; i < len; ++i) sum[i] += t[c * len + i];
    for (std::size_t j = 0; j < C; ++j) {
      if (j + pre < C)
        for (std::size_t i = 0; i < len; ++i) sum[i] += t[(j + pre) * len + i];
      const T* xj = xs + j * S;
      const T* gj = gs + j * S;
      const T* sc = scale + j * len;
      T* d = dx + o + j * S;
      for (std::size_t i = 0; i < len; ++i) d[i] = gj[i] * sc[i] - coef * xj[i] * sum[i];
      if (j >= post)
        for (std::size_t i = 0; i < len; ++i) sum[i] -= t[(j - post) * len + i];
    }
  });
}

template <class T>
std::unique_ptr<Layer<float>> LocalResponseNorm<T>::to_float() const {
  return std::make_unique<LocalResponseNorm<float>>(size_, alpha_, beta_, k_);
}
template <class T>
std::unique_ptr<Layer<double>> LocalResponseNorm<T>::to_double() const {
  return std::make_unique<LocalResponseNorm<double>>(size_, alpha_, beta_, k_);
}

template class LocalResponseNorm<float>;
template class LocalResponseNorm<double>;

}  // namespace lrp
