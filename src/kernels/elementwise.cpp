#include "kernels/elementwise.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(LRP_NO_SIMD_CLONES)
#define LRP_SIMD_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define LRP_SIMD_CLONES
#endif

namespace lrp::kernels {
namespace {

// 16 floats, unaligned; GCC lowers it to one AVX-512 register, or two AVX2 or four SSE ones.
typedef float Float16 __attribute__((vector_size(64), aligned(4)));

// Branch-free sign with sign(0) = sign(-0) = +1, so the loops vectorise.
template <class T>
inline T stab(T z, T eps) {
  return z + eps * (T(1) - T(2) * static_cast<T>(z < T(0)));
}

// z = y (Diff false; c and shift unused) or z = y - shift - c.
template <bool Diff, class T>
inline void ratio_impl(const T* r, const T* y, const T* c, T* g, std::size_t n, T eps, T coef, T shift) {
  const auto z_at = [y, c, shift](std::size_t i) {
    if constexpr (Diff) return y[i] - shift - c[i];
    else return y[i];
  };
  if (eps == T(0)) {
    for (std::size_t i = 0; i < n; ++i) {
      const T z = z_at(i);
      const bool zero = z == T(0);
      const T d = zero ? T(1) : z;
      g[i] = zero ? T(0) : coef * r[i] / d;
    }
  } else {
    for (std::size_t i = 0; i < n; ++i) g[i] = coef * r[i] / stab(z_at(i), eps);
  }
}

// exp(x) = 2^k e^r with k = round(x / ln 2), r = x - k ln 2 (ln 2 in two parts, so r is exact
// to float precision), e^r by Cephes' degree-6 expf polynomial; branch-free and without library
// calls, so it vectorises (the rounding adds and subtracts 1.5 * 2^23 instead of calling floor).
inline float exp_approx(float x) {
  x = x < -87.3f ? -87.3f : x;
  x = x > 88.3f ? 88.3f : x;
  const float k = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;  // round to nearest via 1.5 * 2^23
  const float r = (x - k * 0.693359375f) + k * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float er = p * r * r + r + 1.0f;
  const std::int32_t bits = (static_cast<std::int32_t>(k) + 127) << 23;  // 2^k, k in [-126, 128)
  return er * std::bit_cast<float>(bits);
}

template <class T>
inline T divide(T r, T z, T eps) {
  if (eps == T(0)) return z == T(0) ? T(0) : r / z;
  return r / stab(z, eps);
}

}  // namespace

LRP_SIMD_CLONES void ratio(const float* r, const float* z, float* g, std::size_t n, float eps, float coef) {
  ratio_impl<false>(r, z, static_cast<const float*>(nullptr), g, n, eps, coef, 0.0f);
}
LRP_SIMD_CLONES void ratio(const double* r, const double* z, double* g, std::size_t n, double eps, double coef) {
  ratio_impl<false>(r, z, static_cast<const double*>(nullptr), g, n, eps, coef, 0.0);
}
LRP_SIMD_CLONES void ratio_of_difference(const float* r, const float* y, const float* c, float* g, std::size_t n, float eps,
                                         float coef, float shift) {
  ratio_impl<true>(r, y, c, g, n, eps, coef, shift);
}
LRP_SIMD_CLONES void ratio_of_difference(const double* r, const double* y, const double* c, double* g, std::size_t n,
                                         double eps, double coef, double shift) {
  ratio_impl<true>(r, y, c, g, n, eps, coef, shift);
}

template <class T>
inline void sum_shares_impl(const T* r, const T* x0, const T* x1, T* o0, T* o1, std::size_t n, T eps) {
  for (std::size_t i = 0; i < n; ++i) {
    const T g = r[i] / stab(x0[i] + x1[i], eps);
    o0[i] = g * x0[i];
    o1[i] = g * x1[i];
  }
}
LRP_SIMD_CLONES void sum_shares(const float* r, const float* x0, const float* x1, float* o0, float* o1, std::size_t n, float eps) {
  sum_shares_impl(r, x0, x1, o0, o1, n, eps);
}
LRP_SIMD_CLONES void sum_shares(const double* r, const double* x0, const double* x1, double* o0, double* o1, std::size_t n,
                                double eps) {
  sum_shares_impl(r, x0, x1, o0, o1, n, eps);
}

template <class T>
inline bool gamma_impl(const T* r, const T* y, const T* c, T* g1, T* g3, std::size_t n, T gamma, T eps, T b, bool bias_in_z) {
  // Without the bias in z: y - b in place of y, no b+ or b- terms (y - 0 is y, bit for bit).
  const T shift = bias_in_z ? T(0) : b, bz = bias_in_z ? b : T(0);
  const T bp = bz > T(0) ? bz : T(0), bn = bz < T(0) ? bz : T(0);
  unsigned any_g3 = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const T yv = y[i], cv = c[i], rv = r[i];
    const T p = divide(rv, (yv - shift) + gamma * (cv + bp), eps);
    const T q = divide(rv, (yv - shift) + gamma * (yv - b - cv + bn), eps);
    g1[i] = yv > T(0) ? p : T(0);
    g3[i] = yv < T(0) ? q : T(0);
  }
  // A second pass over the chunk (in L1): in the loop above the reduction stops GCC vectorising.
  for (std::size_t i = 0; i < n; ++i) any_g3 |= g3[i] != T(0);  // NaN counts
  return any_g3 != 0;
}

LRP_SIMD_CLONES bool gamma_ratio(const float* r, const float* y, const float* c, float* g1, float* g3, std::size_t n, float gamma,
                                 float eps, float b, bool bias_in_z) {
  return gamma_impl(r, y, c, g1, g3, n, gamma, eps, b, bias_in_z);
}
LRP_SIMD_CLONES bool gamma_ratio(const double* r, const double* y, const double* c, double* g1, double* g3, std::size_t n,
                                 double gamma, double eps, double b, bool bias_in_z) {
  return gamma_impl(r, y, c, g1, g3, n, gamma, eps, b, bias_in_z);
}

// tanh(x): Cephes' tanhf polynomial below |x| = 0.625, where 1 - 2 / (exp(2|x|) + 1) would lose
// the relative precision of small values, and that expression with exp_approx above it; both
// computed and one selected, so the loop vectorises.
inline float tanh_approx(float x) {
  const float a = x < 0.0f ? -x : x, z = x * x;
  float p = -5.70498872745e-3f;
  p = p * z + 2.06390887954e-2f;
  p = p * z - 5.37397155531e-2f;
  p = p * z + 1.33314422036e-1f;
  p = p * z - 3.33332819422e-1f;
  const float small = p * z * x + x;
  const float big = 1.0f - 2.0f / (exp_approx(2.0f * a) + 1.0f);
  return a < 0.625f ? small : (x < 0.0f ? -big : big);
}

LRP_SIMD_CLONES void tanh(const float* x, float* y, std::size_t n) {
#pragma omp simd
  for (std::size_t i = 0; i < n; ++i) y[i] = tanh_approx(x[i]);
}

LRP_SIMD_CLONES void sigmoid(const float* x, float* y, std::size_t n) {
#pragma omp simd
  for (std::size_t i = 0; i < n; ++i) y[i] = 1.0f / (1.0f + exp_approx(-x[i]));
}

LRP_SIMD_CLONES void softmax_row(const float* x, float* y, std::size_t n) {
  float m = -std::numeric_limits<float>::infinity();
#pragma omp simd reduction(max : m)
  for (std::size_t i = 0; i < n; ++i) m = x[i] > m ? x[i] : m;
  float s = 0.0f;
#pragma omp simd reduction(+ : s)
  for (std::size_t i = 0; i < n; ++i) {
    const float e = x[i] == -std::numeric_limits<float>::infinity() ? 0.0f : exp_approx(x[i] - m);
    y[i] = e;
    s += e;
  }
#pragma omp simd
  for (std::size_t i = 0; i < n; ++i) y[i] /= s;
}

// erfc(|x|) = t exp(-x^2 + P(t)), t = 1 / (1 + |x| / 2), with the degree-9 polynomial of
// Numerical Recipes' erfcc (fractional error below 1.2e-7 everywhere); computed in float
// with exp_approx, so the loop vectorises.
inline float erf_approx(float x) {
  const float z = x < 0.0f ? -x : x;
  const float t = 1.0f / (1.0f + 0.5f * z);
  float p = 0.17087277f;
  p = p * t - 0.82215223f;
  p = p * t + 1.48851587f;
  p = p * t - 1.13520398f;
  p = p * t + 0.27886807f;
  p = p * t - 0.18628806f;
  p = p * t + 0.09678418f;
  p = p * t + 0.37409196f;
  p = p * t + 1.00002368f;
  p = p * t - 1.26551223f;
  const float erfc = t * exp_approx(-z * z + p);
  const float r = 1.0f - erfc;
  return x < 0.0f ? -r : r;
}

LRP_SIMD_CLONES void erf(const float* x, float* y, std::size_t n) {
#pragma omp simd
  for (std::size_t i = 0; i < n; ++i) y[i] = erf_approx(x[i]);
}

LRP_SIMD_CLONES void erf_gradient(const float* x, const float* g, float* d, std::size_t n) {
#pragma omp simd
  for (std::size_t i = 0; i < n; ++i) d[i] = g[i] * 1.12837917f * exp_approx(-x[i] * x[i]);
}

LRP_SIMD_CLONES void gelu(const float* x, float* y, std::size_t n) {
#pragma omp simd
  for (std::size_t i = 0; i < n; ++i) y[i] = 0.5f * x[i] * (1.0f + erf_approx(x[i] * 0.70710678f));
}

namespace {
template <class T>
inline void relu_impl(const T* x, T* y, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) y[i] = x[i] > T(0) ? x[i] : T(0);
}
template <class T>
inline void add_relu_impl(const T* a, const T* b, T* y, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    const T s = a[i] + b[i];
    y[i] = s > T(0) ? s : T(0);
  }
}
}  // namespace

LRP_SIMD_CLONES void relu(const float* x, float* y, std::size_t n) { relu_impl(x, y, n); }
LRP_SIMD_CLONES void relu(const double* x, double* y, std::size_t n) { relu_impl(x, y, n); }
LRP_SIMD_CLONES void add_relu(const float* a, const float* b, float* y, std::size_t n) { add_relu_impl(a, b, y, n); }
LRP_SIMD_CLONES void add_relu(const double* a, const double* b, double* y, std::size_t n) { add_relu_impl(a, b, y, n); }

LRP_SIMD_CLONES void mul(float* a, const float* x, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) a[i] *= x[i];
}
LRP_SIMD_CLONES void mul(double* a, const double* x, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) a[i] *= x[i];
}

LRP_SIMD_CLONES void add_mul(float* a, const float* b, const float* x, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) a[i] = (a[i] + b[i]) * x[i];
}
LRP_SIMD_CLONES void add_mul(double* a, const double* b, const double* x, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) a[i] = (a[i] + b[i]) * x[i];
}

LRP_SIMD_CLONES void axpy(float* a, const float* b, std::size_t n, float s) {
  for (std::size_t i = 0; i < n; ++i) a[i] += s * b[i];
}
LRP_SIMD_CLONES void axpy(double* a, const double* b, std::size_t n, double s) {
  for (std::size_t i = 0; i < n; ++i) a[i] += s * b[i];
}

LRP_SIMD_CLONES void axpy_rows(float* c, std::size_t n, const float* b, std::size_t ldb, const std::uint32_t* rows,
                                const float* s, std::size_t count) {
  // Four rows of B per sweep over C: each row streams contiguously (what the prefetchers
  // follow), and C is loaded and stored once per four rows instead of once per row.
  std::size_t q = 0;
  for (; q + 4 <= count; q += 4) {
    const float* b0 = b + rows[q] * ldb;
    const float* b1 = b + rows[q + 1] * ldb;
    const float* b2 = b + rows[q + 2] * ldb;
    const float* b3 = b + rows[q + 3] * ldb;
    const float s0 = s[q], s1 = s[q + 1], s2 = s[q + 2], s3 = s[q + 3];
    std::size_t j = 0;
    for (; j + 16 <= n; j += 16) {
      Float16 acc, v0, v1, v2, v3;
      std::memcpy(&acc, c + j, sizeof acc);
      std::memcpy(&v0, b0 + j, sizeof v0);
      std::memcpy(&v1, b1 + j, sizeof v1);
      std::memcpy(&v2, b2 + j, sizeof v2);
      std::memcpy(&v3, b3 + j, sizeof v3);
      acc += s0 * v0 + s1 * v1 + s2 * v2 + s3 * v3;
      std::memcpy(c + j, &acc, sizeof acc);
    }
    for (; j < n; ++j) c[j] += s0 * b0[j] + s1 * b1[j] + s2 * b2[j] + s3 * b3[j];
  }
  for (; q < count; ++q) {
    const float* bq = b + rows[q] * ldb;
    for (std::size_t j = 0; j < n; ++j) c[j] += s[q] * bq[j];
  }
}

LRP_SIMD_CLONES void combine2(float* a, const float* u, const float* b, const float* v, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) a[i] = a[i] * u[i] + b[i] * v[i];
}
LRP_SIMD_CLONES void combine2(double* a, const double* u, const double* b, const double* v, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) a[i] = a[i] * u[i] + b[i] * v[i];
}

LRP_SIMD_CLONES void zbox_combine(float* a, const float* x, const float* b, std::size_t n, float l, float h) {
  for (std::size_t i = 0; i < n; ++i) a[i] = (x[i] - h) * a[i] + (h - l) * b[i];
}
LRP_SIMD_CLONES void zbox_combine(double* a, const double* x, const double* b, std::size_t n, double l, double h) {
  for (std::size_t i = 0; i < n; ++i) a[i] = (x[i] - h) * a[i] + (h - l) * b[i];
}

namespace {
template <class T>
inline void window_row_sum_impl(const T* row, T* s, std::size_t n, std::size_t kw) {
  if (kw == 2) {
    for (std::size_t o = 0; o < n; ++o) s[o] += row[2 * o] + row[2 * o + 1];
  } else {
    for (std::size_t o = 0; o < n; ++o)
      for (std::size_t j = 0; j < kw; ++j) s[o] += row[o * kw + j];
  }
}
template <class T>
inline void window_row_spread_impl(const T* x, const T* c, T* out, std::size_t n, std::size_t kw) {
  // 0 + v, not v: the sum the other pooling paths start from, which turns -0 into +0.
  if (kw == 2) {
    if (x) {
      for (std::size_t o = 0; o < n; ++o) {
        out[2 * o] = T(0) + x[2 * o] * c[o];
        out[2 * o + 1] = T(0) + x[2 * o + 1] * c[o];
      }
    } else {
      for (std::size_t o = 0; o < n; ++o) out[2 * o] = out[2 * o + 1] = T(0) + c[o];
    }
    return;
  }
  for (std::size_t o = 0; o < n; ++o)
    for (std::size_t j = 0; j < kw; ++j) out[o * kw + j] = T(0) + (x ? x[o * kw + j] : T(1)) * c[o];
}
// Four 2x2 stride-2 windows side by side: their two input rows are 8 values each.
template <class T>
struct Route4 {
  using Bits = std::conditional_t<sizeof(T) == 4, std::int32_t, std::int64_t>;
  typedef T Row __attribute__((vector_size(8 * sizeof(T)), aligned(sizeof(T))));
  typedef T Quad __attribute__((vector_size(4 * sizeof(T)), aligned(sizeof(T))));
  typedef Bits Mask __attribute__((vector_size(8 * sizeof(T))));

  // Windows [o, o + 4): r[o] to the first maximum, 0 elsewhere; comparisons give all-ones
  // lanes, and a lane's "an earlier tap matched" is its left neighbour within the window.
  static void at(const T* x0, const T* x1, const T* m, const T* r, T* o0, T* o1, std::size_t o) {
    const Quad mq = *reinterpret_cast<const Quad*>(m + o), rq = *reinterpret_cast<const Quad*>(r + o);
    const Row mm = __builtin_shufflevector(mq, mq, 0, 0, 1, 1, 2, 2, 3, 3);
    const Mask rb = reinterpret_cast<Mask>(__builtin_shufflevector(rq, rq, 0, 0, 1, 1, 2, 2, 3, 3));
    const Mask zero = {};
    const Mask ea = *reinterpret_cast<const Row*>(x0 + 2 * o) == mm;
    const Mask eb = *reinterpret_cast<const Row*>(x1 + 2 * o) == mm;
    const Mask left_a = __builtin_shufflevector(ea, zero, 8, 0, 8, 2, 8, 4, 8, 6);
    const Mask left_b = __builtin_shufflevector(eb, zero, 8, 0, 8, 2, 8, 4, 8, 6);
    const Mask any_a = ea | __builtin_shufflevector(ea, ea, 1, 0, 3, 2, 5, 4, 7, 6);
    *reinterpret_cast<Row*>(o0 + 2 * o) = reinterpret_cast<Row>(rb & ea & ~left_a);
    *reinterpret_cast<Row*>(o1 + 2 * o) = reinterpret_cast<Row>(rb & eb & ~left_b & ~any_a);
  }

  // y[o, o + 4) = the windows' maxima: taps in row-major order from -inf with a strict >, as
  // the general loop (a NaN is skipped).
  static void max(const T* x0, const T* x1, T* y, std::size_t o) {
    const Row a = *reinterpret_cast<const Row*>(x0 + 2 * o), b = *reinterpret_cast<const Row*>(x1 + 2 * o);
    Quad m = {};
    m -= std::numeric_limits<T>::infinity();
    for (const Quad t : {__builtin_shufflevector(a, a, 0, 2, 4, 6), __builtin_shufflevector(a, a, 1, 3, 5, 7),
                         __builtin_shufflevector(b, b, 0, 2, 4, 6), __builtin_shufflevector(b, b, 1, 3, 5, 7)})
      m = t > m ? t : m;
    *reinterpret_cast<Quad*>(y + o) = m;
  }

  // Windows [o, o + 4): r[o] to the lowest set bit of mask[o], 0 to the other three taps.
  static void by_mask(const T* mask, const T* r, T* o0, T* o1, std::size_t o) {
    typedef Bits IntQuad __attribute__((vector_size(4 * sizeof(Bits))));
    const IntQuad m = __builtin_convertvector(*reinterpret_cast<const Quad*>(mask + o), IntQuad);
    const IntQuad first = m & -m;
    const Mask f = __builtin_shufflevector(first, first, 0, 0, 1, 1, 2, 2, 3, 3);
    const Quad rq = *reinterpret_cast<const Quad*>(r + o);
    const Mask rb = reinterpret_cast<Mask>(__builtin_shufflevector(rq, rq, 0, 0, 1, 1, 2, 2, 3, 3));
    const Mask top = {1, 2, 1, 2, 1, 2, 1, 2}, bottom = {4, 8, 4, 8, 4, 8, 4, 8};
    *reinterpret_cast<Row*>(o0 + 2 * o) = reinterpret_cast<Row>(rb & (f == top));
    *reinterpret_cast<Row*>(o1 + 2 * o) = reinterpret_cast<Row>(rb & (f == bottom));
  }
};

template <class T>
inline void max2x2_masks_impl(const T* x0, const T* x1, const T* m, T* mask, std::size_t n) {
  for (std::size_t o = 0; o < n; ++o)
    mask[o] = (x0[2 * o] == m[o] ? T(1) : T(0)) + (x0[2 * o + 1] == m[o] ? T(2) : T(0)) + (x1[2 * o] == m[o] ? T(4) : T(0)) +
              (x1[2 * o + 1] == m[o] ? T(8) : T(0));
}

template <class T>
inline void max2x2_route_masks_impl(const T* mask, const T* r, T* o0, T* o1, std::size_t n) {
  if (n >= 4) {  // blocks of four, the last one overlapping, as max2x2_route
    for (std::size_t o = 0; o + 4 <= n; o += 4) Route4<T>::by_mask(mask, r, o0, o1, o);
    if (n % 4 != 0) Route4<T>::by_mask(mask, r, o0, o1, n - 4);
    return;
  }
  for (std::size_t o = 0; o < n; ++o) {
    const std::int32_t m = static_cast<std::int32_t>(mask[o]), first = m & -m;
    o0[2 * o] = first == 1 ? r[o] : T(0);
    o0[2 * o + 1] = first == 2 ? r[o] : T(0);
    o1[2 * o] = first == 4 ? r[o] : T(0);
    o1[2 * o + 1] = first == 8 ? r[o] : T(0);
  }
}

template <class T>
inline void max2x2_impl(const T* x0, const T* x1, T* y, std::size_t n) {
  if (n >= 4) {
    for (std::size_t o = 0; o + 4 <= n; o += 4) Route4<T>::max(x0, x1, y, o);
    if (n % 4 != 0) Route4<T>::max(x0, x1, y, n - 4);
    return;
  }
  for (std::size_t o = 0; o < n; ++o) {
    T m = -std::numeric_limits<T>::infinity();
    for (const T t : {x0[2 * o], x0[2 * o + 1], x1[2 * o], x1[2 * o + 1]}) m = t > m ? t : m;
    y[o] = m;
  }
}

template <class T>
inline void max2x2_route_impl(const T* x0, const T* x1, const T* m, const T* r, T* o0, T* o1, std::size_t n) {
  // Branch-free: the maxima sit at random, so a branch per window mispredicts. Blocks of four
  // windows, the last one overlapping its neighbour (each output is written, never added to),
  // since rows are short (MNIST: 14 and 7 windows) and GCC's own loop would leave them scalar.
  if (n >= 4) {
    for (std::size_t o = 0; o + 4 <= n; o += 4) Route4<T>::at(x0, x1, m, r, o0, o1, o);
    if (n % 4 != 0) Route4<T>::at(x0, x1, m, r, o0, o1, n - 4);
    return;
  }
  using Bits = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;
  for (std::size_t o = 0; o < n; ++o) {
    const Bits e00 = x0[2 * o] == m[o];
    const Bits e01 = (x0[2 * o + 1] == m[o]) & (e00 ^ 1);
    const Bits e10 = (x1[2 * o] == m[o]) & ((e00 | e01) ^ 1);
    const Bits e11 = (x1[2 * o + 1] == m[o]) & ((e00 | e01 | e10) ^ 1);
    const Bits rb = std::bit_cast<Bits>(r[o]);
    o0[2 * o] = std::bit_cast<T>(rb & (Bits(0) - e00));
    o0[2 * o + 1] = std::bit_cast<T>(rb & (Bits(0) - e01));
    o1[2 * o] = std::bit_cast<T>(rb & (Bits(0) - e10));
    o1[2 * o + 1] = std::bit_cast<T>(rb & (Bits(0) - e11));
  }
}
}  // namespace

LRP_SIMD_CLONES void max2x2(const float* x0, const float* x1, float* y, std::size_t n) { max2x2_impl(x0, x1, y, n); }
LRP_SIMD_CLONES void max2x2(const double* x0, const double* x1, double* y, std::size_t n) { max2x2_impl(x0, x1, y, n); }
LRP_SIMD_CLONES void max2x2_route(const float* x0, const float* x1, const float* m, const float* r, float* o0, float* o1,
                                  std::size_t n) {
  max2x2_route_impl(x0, x1, m, r, o0, o1, n);
}
LRP_SIMD_CLONES void max2x2_route(const double* x0, const double* x1, const double* m, const double* r, double* o0,
                                  double* o1, std::size_t n) {
  max2x2_route_impl(x0, x1, m, r, o0, o1, n);
}

LRP_SIMD_CLONES void max2x2_masks(const float* x0, const float* x1, const float* m, float* mask, std::size_t n) {
  max2x2_masks_impl(x0, x1, m, mask, n);
}
LRP_SIMD_CLONES void max2x2_masks(const double* x0, const double* x1, const double* m, double* mask, std::size_t n) {
  max2x2_masks_impl(x0, x1, m, mask, n);
}
LRP_SIMD_CLONES void max2x2_route_masks(const float* mask, const float* r, float* o0, float* o1, std::size_t n) {
  max2x2_route_masks_impl(mask, r, o0, o1, n);
}
LRP_SIMD_CLONES void max2x2_route_masks(const double* mask, const double* r, double* o0, double* o1, std::size_t n) {
  max2x2_route_masks_impl(mask, r, o0, o1, n);
}
LRP_SIMD_CLONES void window_row_sum(const float* row, float* s, std::size_t n, std::size_t kw) { window_row_sum_impl(row, s, n, kw); }
LRP_SIMD_CLONES void window_row_sum(const double* row, double* s, std::size_t n, std::size_t kw) {
  window_row_sum_impl(row, s, n, kw);
}
LRP_SIMD_CLONES void window_row_spread(const float* x, const float* c, float* out, std::size_t n, std::size_t kw) {
  window_row_spread_impl(x, c, out, n, kw);
}
LRP_SIMD_CLONES void window_row_spread(const double* x, const double* c, double* out, std::size_t n, std::size_t kw) {
  window_row_spread_impl(x, c, out, n, kw);
}

}  // namespace lrp::kernels
