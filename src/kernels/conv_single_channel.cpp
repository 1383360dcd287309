#include "kernels/conv_single_channel.hpp"

#include <algorithm>
#include <vector>

#include "kernels/conv_taps.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(LRP_NO_SIMD_CLONES)
#define LRP_SIMD_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define LRP_SIMD_CLONES
#endif

// The layout of the padded planes: kernels/conv_taps.hpp.
namespace lrp::kernels {

// Four 16-float vectors hold a chunk in registers (GCC vector extension; lowered to whatever
// the clone's ISA has).
// (Loads and stores are spelled out: functions passing these types trip -Wpsabi.)
typedef float v16 __attribute__((vector_size(64)));

LRP_SIMD_CLONES void taps_forward(const float* xp, std::size_t wp, const float* w, std::size_t kh, std::size_t kw, float bias,
                                  float* out, std::size_t len) {
  for (std::size_t t0 = 0; t0 < len; t0 += kChunk) {
    v16 a0 = v16{} + bias, a1 = a0, a2 = a0, a3 = a0;
    for (std::size_t i = 0; i < kh; ++i)
      for (std::size_t j = 0; j < kw; ++j) {
        const float wv = w[i * kw + j];
        const float* src = xp + t0 + i * wp + j;
        v16 x0, x1, x2, x3;
        __builtin_memcpy(&x0, src, sizeof x0);
        __builtin_memcpy(&x1, src + 16, sizeof x1);
        __builtin_memcpy(&x2, src + 32, sizeof x2);
        __builtin_memcpy(&x3, src + 48, sizeof x3);
        a0 += wv * x0;
        a1 += wv * x1;
        a2 += wv * x2;
        a3 += wv * x3;
      }
    __builtin_memcpy(out + t0, &a0, sizeof a0);
    __builtin_memcpy(out + t0 + 16, &a1, sizeof a1);
    __builtin_memcpy(out + t0 + 32, &a2, sizeof a2);
    __builtin_memcpy(out + t0 + 48, &a3, sizeof a3);
  }
}

// dx1 (and with Pair dx2) = the transposed taps of w1 (and w2) over the same g: each load of g
// feeds both kernels (the single kernel is load-bound, its unaligned loads straddling cache
// lines), so two transposed maps cost little more than one. Always inlined into the clones
// below, so each is compiled for its clone's ISA; named accumulators (an array of vectors would
// be spilled to the stack).
template <bool Pair>
[[gnu::always_inline]] inline void taps_backward_impl(const float* gw, std::size_t gstride, std::size_t front, std::size_t oc,
                                                      std::size_t wp, const float* w1, const float* w2, std::size_t kh,
                                                      std::size_t kw, float* dx1, float* dx2, std::size_t len) {
  for (std::size_t u0 = 0; u0 < len; u0 += kChunk) {
    v16 a0 = {}, a1 = {}, a2 = {}, a3 = {}, b0 = {}, b1 = {}, b2 = {}, b3 = {};
    for (std::size_t o = 0; o < oc; ++o) {
      const float* go = gw + o * gstride + front + u0;
      const float* wo1 = w1 + o * kh * kw;
      const float* wo2 = Pair ? w2 + o * kh * kw : nullptr;
      for (std::size_t i = 0; i < kh; ++i)
        for (std::size_t j = 0; j < kw; ++j) {
          const float v1 = wo1[i * kw + j];
          const float* src = go - i * wp - j;
          v16 x0, x1, x2, x3;
          __builtin_memcpy(&x0, src, sizeof x0);
          __builtin_memcpy(&x1, src + 16, sizeof x1);
          __builtin_memcpy(&x2, src + 32, sizeof x2);
          __builtin_memcpy(&x3, src + 48, sizeof x3);
          a0 += v1 * x0;
          a1 += v1 * x1;
          a2 += v1 * x2;
          a3 += v1 * x3;
          if constexpr (Pair) {
            const float v2 = wo2[i * kw + j];
            b0 += v2 * x0;
            b1 += v2 * x1;
            b2 += v2 * x2;
            b3 += v2 * x3;
          }
        }
    }
    __builtin_memcpy(dx1 + u0, &a0, sizeof a0);
    __builtin_memcpy(dx1 + u0 + 16, &a1, sizeof a1);
    __builtin_memcpy(dx1 + u0 + 32, &a2, sizeof a2);
    __builtin_memcpy(dx1 + u0 + 48, &a3, sizeof a3);
    if constexpr (Pair) {
      __builtin_memcpy(dx2 + u0, &b0, sizeof b0);
      __builtin_memcpy(dx2 + u0 + 16, &b1, sizeof b1);
      __builtin_memcpy(dx2 + u0 + 32, &b2, sizeof b2);
      __builtin_memcpy(dx2 + u0 + 48, &b3, sizeof b3);
    }
  }
}

LRP_SIMD_CLONES void taps_backward(const float* gw, std::size_t gstride, std::size_t front, std::size_t oc, std::size_t wp,
                                   const float* w, std::size_t kh, std::size_t kw, float* dxp, std::size_t len) {
  taps_backward_impl<false>(gw, gstride, front, oc, wp, w, nullptr, kh, kw, dxp, nullptr, len);
}

LRP_SIMD_CLONES void taps_backward_pair(const float* gw, std::size_t gstride, std::size_t front, std::size_t oc, std::size_t wp,
                                        const float* w1, const float* w2, std::size_t kh, std::size_t kw, float* dx1,
                                        float* dx2, std::size_t len) {
  taps_backward_impl<true>(gw, gstride, front, oc, wp, w1, w2, kh, kw, dx1, dx2, len);
}

bool single_channel_conv_applies(const ConvShape& s) {
  const Window2d& k = s.win;
  return s.c == 1 && s.groups == 1 && k.sh == 1 && k.sw == 1 && k.dh == 1 && k.dw == 1 && s.ow >= 8 && s.n > 0;
}

bool single_channel_conv_forward(const ConvShape& s, const float* x, const float* w, const float* b, float* y) {
  if (!single_channel_conv_applies(s)) return false;
  const Window2d& k = s.win;
  const std::size_t hp = s.h + k.pt + k.pb, wp = s.w + k.pl + k.pr, len = round_up_to_chunk(s.oh * wp), plane = s.oh * s.ow;
  // One task per (sample, output channel), so a single sample still uses every thread; a
  // thread pads a sample's input when its tasks reach the next sample.
  const long long tasks = static_cast<long long>(s.n * s.oc);
#pragma omp parallel if (s.n * s.oc * plane * k.kh * k.kw >= 200000)
  {
    // Padded input plus slack for the garbage columns and the last chunk.
    std::vector<float> xp(std::max(hp * wp, len + (k.kh - 1) * wp + k.kw), 0.0f), acc(len);
    std::size_t padded = s.n;  // the sample in xp (none yet)
#pragma omp for schedule(static)
    for (long long t = 0; t < tasks; ++t) {
      const std::size_t i = static_cast<std::size_t>(t) / s.oc, o = static_cast<std::size_t>(t) % s.oc;
      if (i != padded) {
        const float* xi = x + i * s.h * s.w;
        for (std::size_t r = 0; r < s.h; ++r) std::copy_n(xi + r * s.w, s.w, xp.data() + (r + k.pt) * wp + k.pl);
        padded = i;
      }
      taps_forward(xp.data(), wp, w + o * k.kh * k.kw, k.kh, k.kw, b ? b[o] : 0.0f, acc.data(), len);
      float* yo = y + (i * s.oc + o) * plane;
      for (std::size_t r = 0; r < s.oh; ++r) std::copy_n(acc.data() + r * wp, s.ow, yo + r * s.ow);
    }
  }
  return true;
}

namespace {
// dx1 = conv^T(g, w1) and, when w2 is not null, dx2 = conv^T(g, w2).
void backward_data(const ConvShape& s, const float* g, const float* w1, const float* w2, float* dx1, float* dx2) {
  const Window2d& k = s.win;
  const std::size_t hp = s.h + k.pt + k.pb, wp = s.w + k.pl + k.pr, plane = s.oh * s.ow;
  // dxp covers the padded input rows [0, hp); gw[o] holds g[o] on the padded width with `front`
  // leading zeros and zeros after, so every gathered index is in range.
  const std::size_t len = round_up_to_chunk(hp * wp), front = (k.kh - 1) * wp + (k.kw - 1);
  const std::size_t gstride = front + len;
  const bool big = s.n * s.oc * plane * k.kh * k.kw >= 200000;
  // Channels [o0, o1) of g[i] on the padded width (other columns stay 0), and dxp cropped into dx[i].
  const auto spread = [&](std::size_t i, std::size_t o0, std::size_t o1, std::vector<float>& gw) {
    for (std::size_t o = o0; o < o1; ++o) {
      const float* go = g + (i * s.oc + o) * plane;
      float* dst = gw.data() + (o - o0) * gstride + front;
      for (std::size_t r = 0; r < s.oh; ++r) std::copy_n(go + r * s.ow, s.ow, dst + r * wp);
    }
  };
  const auto crop = [&](std::size_t i, const std::vector<float>& dxp, float* dx) {
    float* dxi = dx + i * s.h * s.w;
    for (std::size_t r = 0; r < s.h; ++r) std::copy_n(dxp.data() + (r + k.pt) * wp + k.pl, s.w, dxi + r * s.w);
  };
  // Output channels [o0, o1) into out1 (and out2).
  const auto taps = [&](const float* gw, std::size_t o0, std::size_t o1, float* out1, float* out2) {
    const std::size_t taps_per_channel = k.kh * k.kw;
    if (w2)
      taps_backward_pair(gw, gstride, front, o1 - o0, wp, w1 + o0 * taps_per_channel, w2 + o0 * taps_per_channel, k.kh, k.kw,
                         out1, out2, len);
    else
      taps_backward(gw, gstride, front, o1 - o0, wp, w1 + o0 * taps_per_channel, k.kh, k.kw, out1, len);
  };
  if (s.n == 1) {
    // One sample: each thread takes a share of the output channels, spreads only those (so
    // they stay in its own cache; a shared spread made the second core fetch them from the
    // first, slower than one thread alone) and sums them into its own planes, added at the end.
#ifdef _OPENMP
    const int team = big ? omp_get_max_threads() : 1;
#else
    const int team = 1;
#endif
    // Thread t's planes at [t * len, +len); a thread the team did not get leaves its zeros.
    const std::size_t slots = static_cast<std::size_t>(team);
    std::vector<float> part(slots * len, 0.0f), part2(w2 ? slots * len : 0, 0.0f);
#pragma omp parallel num_threads(team)
    {
#ifdef _OPENMP
      const std::size_t t = static_cast<std::size_t>(omp_get_thread_num()), size = static_cast<std::size_t>(omp_get_num_threads());
#else
      const std::size_t t = 0, size = 1;
#endif
      const std::size_t o0 = s.oc * t / size, o1 = s.oc * (t + 1) / size;
      std::vector<float> gw((o1 - o0) * gstride, 0.0f);
      spread(0, o0, o1, gw);
      taps(gw.data(), o0, o1, part.data() + t * len, w2 ? part2.data() + t * len : nullptr);
    }
    const auto add_up_and_crop = [&](std::vector<float>& parts, float* dx) {
      for (std::size_t t = 1; t < slots; ++t)
        for (std::size_t u = 0; u < len; ++u) parts[u] += parts[t * len + u];
      crop(0, parts, dx);
    };
    add_up_and_crop(part, dx1);
    if (w2) add_up_and_crop(part2, dx2);
    return;
  }
  const long long n = static_cast<long long>(s.n);
#pragma omp parallel if (big)
  {
    std::vector<float> dxp(len), dxp2(w2 ? len : 0), gw(s.oc * gstride, 0.0f);
#pragma omp for schedule(static)
    for (long long ii = 0; ii < n; ++ii) {
      const std::size_t i = static_cast<std::size_t>(ii);
      spread(i, 0, s.oc, gw);
      taps(gw.data(), 0, s.oc, dxp.data(), dxp2.data());
      crop(i, dxp, dx1);
      if (w2) crop(i, dxp2, dx2);
    }
  }
}
}  // namespace

bool single_channel_conv_backward_data(const ConvShape& s, const float* g, const float* w, float* dx) {
  if (!single_channel_conv_applies(s)) return false;
  backward_data(s, g, w, nullptr, dx, nullptr);
  return true;
}

bool single_channel_conv_backward_data_pair(const ConvShape& s, const float* g, const float* w1, const float* w2, float* dx1,
                                            float* dx2) {
  if (!single_channel_conv_applies(s)) return false;
  backward_data(s, g, w1, w2, dx1, dx2);
  return true;
}

}  // namespace lrp::kernels
