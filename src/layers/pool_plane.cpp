#include "layers/pool_plane.hpp"

#include <algorithm>
#include <limits>
#include <tuple>
#include <utility>

#include "kernels/elementwise.hpp"

// The forward loops are compiled for AVX-512, AVX2 and the baseline ISA (chosen at run time),
// like kernels/elementwise.cpp; flatten inlines the loops into each clone. Not the others: the
// pick loop measured slower so (rows of ~56 outputs leave AVX-512 long scalar tails), and in
// spread x * c + out could become a fused multiply-add and round differently.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(LRP_NO_SIMD_CLONES)
#define LRP_SIMD_CLONES __attribute__((target_clones("avx512f", "avx2", "default"), flatten))
#else
#define LRP_SIMD_CLONES
#endif

namespace lrp::pool {

namespace {
// [a, b) of the j in [0, count) with 0 <= off + j * step < len.
std::pair<std::size_t, std::size_t> inside(long long off, long long step, long long len, long long count) {
  long long a = off >= 0 ? 0 : (-off + step - 1) / step;
  const long long b = off >= len ? 0 : std::min(count, (len - 1 - off) / step + 1);
  if (a > b) a = b;
  return {static_cast<std::size_t>(a), static_cast<std::size_t>(b)};
}
}  // namespace

Axis::Axis(std::size_t k, std::size_t stride_, std::size_t dil_, std::size_t pad_, std::size_t n, std::size_t out)
    : stride(stride_), dil(dil_), pad(pad_), lo(k), hi(k), first(out), last(out) {
  const long long s = static_cast<long long>(stride), d = static_cast<long long>(dil), len = static_cast<long long>(n);
  const long long p = static_cast<long long>(pad), no = static_cast<long long>(out), nk = static_cast<long long>(k);
  // Both ranges solve 0 <= o * s + t * d - p < n, once for o given t and once for t given o.
  for (std::size_t t = 0; t < k; ++t)
    std::tie(lo[t], hi[t]) = inside(static_cast<long long>(t) * d - p, s, len, no);  // offset: input index of output 0
  for (std::size_t o = 0; o < out; ++o)
    std::tie(first[o], last[o]) = inside(static_cast<long long>(o) * s - p, d, len, nk);  // offset: input index of tap 0
}

Plane::Plane(const Window2d& k, std::size_t h_, std::size_t w_, std::size_t oh_, std::size_t ow_)
    : h(h_), w(w_), oh(oh_), ow(ow_), rows(k.kh, k.sh, k.dh, k.pt, h_, oh_), cols(k.kw, k.sw, k.dw, k.pl, w_, ow_) {}

bool Plane::disjoint() const {
  const std::size_t kh = rows.lo.size(), kw = cols.lo.size();
  return rows.stride == kh && cols.stride == kw && rows.dil == 1 && cols.dil == 1 && rows.pad == 0 && cols.pad == 0 &&
         oh * kh <= h && ow * kw <= w;
}

namespace {

// For output row oy, calls f(in, lo, n) for every tap (i, j) of the window that lies inside the
// input for some outputs of the row: outputs [lo, lo + n) read input in + (ox - lo) * stride.
// Taps come in row-major order, or in reverse with Reverse. Both orders keep the promise of the
// header: a gather over the taps of one output sees them in order (reversed: last one wins a
// select, i.e. the first in order); in a scatter, an input is reached from one row tap per
// output row (dilation >= 1), and from row outputs ox in increasing order when the column taps
// run backwards, since ox * stride = input + pad - j * dil falls as j rises.
template <bool Reverse, class F>
inline void row_taps(const Plane& g, std::size_t oy, F&& f) {
  const std::size_t i0 = g.rows.first[oy], i1 = g.rows.last[oy], kw = g.cols.lo.size();
  for (std::size_t a = i0; a < i1; ++a) {
    const std::size_t i = Reverse ? i1 - 1 - (a - i0) : a;
    const std::size_t row = g.rows.at(oy, i) * g.w;
    for (std::size_t b = 0; b < kw; ++b) {
      const std::size_t j = Reverse ? kw - 1 - b : b;
      const std::size_t lo = g.cols.lo[j], hi = g.cols.hi[j];
      if (lo < hi) f(row + g.cols.at(lo, j), lo, hi - lo);
    }
  }
}

// The row loops: outputs [0, n) of a row against inputs src[o * stride]. The stride is a template
// argument for the common strides 1 and 2 (ResNet's stem) so that the compiler vectorises those
// loops knowing it (S = 0: the run-time stride s). __restrict: src is the input, y/c/pick
// buffers of outputs and out the relevance, all distinct, so no run-time overlap checks.
struct MaxRow {
  // `v > m ? v : m` is exactly the old `if (v > m) m = v` (a NaN v and -0 vs +0 keep m) and maps
  // to one max instruction.
  template <std::size_t S, class T>
  static void run(std::size_t s, const T* __restrict src, T* __restrict y, std::size_t n) {
    const std::size_t st = S ? S : s;
    for (std::size_t o = 0; o < n; ++o) {
      const T v = src[o * st];
      y[o] = v > y[o] ? v : y[o];
    }
  }
};
struct SumRow {
  template <std::size_t S, class T>
  static void run(std::size_t s, const T* __restrict src, T* __restrict y, std::size_t n) {
    const std::size_t st = S ? S : s;
    for (std::size_t o = 0; o < n; ++o) y[o] += src[o * st];
  }
};
struct PickRow {  // pick[o] = base + o * stride where src matches y[o]
  template <std::size_t S, class T, class Index>
  static void run(std::size_t s, const T* __restrict src, const T* __restrict y, Index* __restrict pick, std::size_t n,
                  Index base) {
    const std::size_t st = S ? S : s;
    for (std::size_t o = 0; o < n; ++o) pick[o] = src[o * st] == y[o] ? base + static_cast<Index>(o * st) : pick[o];
  }
};
struct SpreadRow {  // out[o * stride] += x[o * stride] * c[o], or c[o] without x
  template <std::size_t S, class T>
  static void run(std::size_t s, const T* __restrict x, const T* __restrict c, T* __restrict out, std::size_t n) {
    const std::size_t st = S ? S : s;
    if (x) {
      for (std::size_t o = 0; o < n; ++o) out[o * st] += x[o * st] * c[o];
    } else {
      for (std::size_t o = 0; o < n; ++o) out[o * st] += c[o];
    }
  }
};
template <class Op, class... A>
inline void by_stride(std::size_t s, A... a) {
  if (s == 1) Op::template run<1>(s, a...);
  else if (s == 2) Op::template run<2>(s, a...);
  else Op::template run<0>(s, a...);
}

// Rows narrower than this go one output at a time: a call per tap and row would cost more than
// vectorising over a few outputs saves (global average pooling has rows of one output).
constexpr std::size_t kNarrow = 8;

// Index: as wide as T where the plane allows it, so that the selects vectorise in step with T.
template <class T, class Index>
void first_max_add_impl(const Plane& g, const T* x, const T* y, const T* r, T* out) {
  const Index none = std::numeric_limits<Index>::max();
  std::vector<Index> pick(g.ow);
  for (std::size_t oy = 0; oy < g.oh; ++oy) {
    const T* yr = y + oy * g.ow;
    const T* rr = r + oy * g.ow;
    std::fill(pick.begin(), pick.end(), none);
    if (g.ow < kNarrow) {
      for (std::size_t ox = 0; ox < g.ow; ++ox)
        g.window(oy, ox, [&](std::size_t i) {
          pick[ox] = pick[ox] == none && x[i] == yr[ox] ? static_cast<Index>(i) : pick[ox];
        });
    } else {
      // Taps backwards with a select, not forwards with an early exit: the last match written
      // is the first maximum, and the loop has no data-dependent branch to mispredict.
      row_taps<true>(g, oy, [&](std::size_t in, std::size_t lo, std::size_t n) {
        by_stride<PickRow>(g.cols.stride, x + in, yr + lo, pick.data() + lo, n, static_cast<Index>(in));
      });
    }
    // In output order, as an input may be the maximum of several windows.
    for (std::size_t ox = 0; ox < g.ow; ++ox)
      if (pick[ox] != none) out[pick[ox]] += rr[ox];
  }
}

template <class T>
void max_forward_impl(const Plane& g, const T* x, T* y) {
  for (std::size_t oy = 0; oy < g.oh; ++oy) {
    T* yr = y + oy * g.ow;
    if (g.ow < kNarrow) {
      for (std::size_t ox = 0; ox < g.ow; ++ox) {
        T m = -std::numeric_limits<T>::infinity();
        g.window(oy, ox, [&](std::size_t i) { m = x[i] > m ? x[i] : m; });
        yr[ox] = m;
      }
      continue;
    }
    std::fill(yr, yr + g.ow, -std::numeric_limits<T>::infinity());
    row_taps<false>(g, oy, [&](std::size_t in, std::size_t lo, std::size_t n) {
      by_stride<MaxRow>(g.cols.stride, x + in, yr + lo, n);
    });
  }
}

template <class T>
void sum_forward_impl(const Plane& g, const T* x, T* y) {
  for (std::size_t oy = 0; oy < g.oh; ++oy) {
    T* yr = y + oy * g.ow;
    if (g.ow < kNarrow) {
      for (std::size_t ox = 0; ox < g.ow; ++ox) {
        T s = T(0);
        g.window(oy, ox, [&](std::size_t i) { s += x[i]; });
        yr[ox] = s;
      }
      continue;
    }
    std::fill(yr, yr + g.ow, T(0));
    row_taps<false>(g, oy, [&](std::size_t in, std::size_t lo, std::size_t n) {
      by_stride<SumRow>(g.cols.stride, x + in, yr + lo, n);
    });
  }
}

}  // namespace

LRP_SIMD_CLONES void max_forward(const Plane& g, const float* x, float* y) { max_forward_impl(g, x, y); }
LRP_SIMD_CLONES void max_forward(const Plane& g, const double* x, double* y) { max_forward_impl(g, x, y); }
LRP_SIMD_CLONES void sum_forward(const Plane& g, const float* x, float* y) { sum_forward_impl(g, x, y); }
LRP_SIMD_CLONES void sum_forward(const Plane& g, const double* x, double* y) { sum_forward_impl(g, x, y); }
void first_max_add(const Plane& g, const float* x, const float* y, const float* r, float* out) {
  if (g.h * g.w < std::numeric_limits<std::uint32_t>::max()) first_max_add_impl<float, std::uint32_t>(g, x, y, r, out);
  else first_max_add_impl<float, std::uint64_t>(g, x, y, r, out);
}
void first_max_add(const Plane& g, const double* x, const double* y, const double* r, double* out) {
  first_max_add_impl<double, std::uint64_t>(g, x, y, r, out);  // 64-bit indices keep step with doubles
}

template <class T>
void first_max_route_2x2(const Plane& g, const T* x, const T* y, const T* r, T* out) {
  for (std::size_t oy = 0; oy < g.oh; ++oy) {
    T* o0 = out + 2 * oy * g.w;
    kernels::max2x2_route(x + 2 * oy * g.w, x + (2 * oy + 1) * g.w, y + oy * g.ow, r + oy * g.ow, o0, o0 + g.w, g.ow);
    std::fill(o0 + 2 * g.ow, o0 + g.w, T(0));
    std::fill(o0 + g.w + 2 * g.ow, o0 + 2 * g.w, T(0));
  }
  std::fill(out + 2 * g.oh * g.w, out + g.h * g.w, T(0));
}
template void first_max_route_2x2(const Plane&, const float*, const float*, const float*, float*);
template void first_max_route_2x2(const Plane&, const double*, const double*, const double*, double*);

template <class T>
void spread(const Plane& g, const T* x, const T* c, T* out) {
  for (std::size_t oy = 0; oy < g.oh; ++oy) {
    const T* cr = c + oy * g.ow;
    if (g.ow < kNarrow) {
      for (std::size_t ox = 0; ox < g.ow; ++ox) {
        if (x) g.window(oy, ox, [&](std::size_t i) { out[i] += x[i] * cr[ox]; });
        else g.window(oy, ox, [&](std::size_t i) { out[i] += cr[ox]; });
      }
      continue;
    }
    row_taps<true>(g, oy, [&](std::size_t in, std::size_t lo, std::size_t n) {
      by_stride<SpreadRow>(g.cols.stride, x ? x + in : nullptr, cr + lo, out + in, n);
    });
  }
}

template void spread<float>(const Plane&, const float*, const float*, float*);
template void spread<double>(const Plane&, const double*, const double*, double*);

}  // namespace lrp::pool
