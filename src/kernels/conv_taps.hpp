#pragma once
// The vector kernels behind the single-channel and depthwise convolutions: one input plane and
// one k x k kernel at a time.
//
// Layout trick: with the input zero-padded to width wp, output row oy, column ox of tap (i, j)
// reads xp[(oy + i) * wp + ox + j]. Computing the output on the padded width too (columns
// ox >= ow are garbage and cropped), the output is one contiguous run t = oy * wp + ox and
// every tap reads the contiguous run xp[t + i * wp + j]. The kernels keep a chunk of kChunk
// outputs in registers while they go through all taps (and, backwards, all output channels).
#include <cstddef>

namespace lrp::kernels {

constexpr std::size_t kChunk = 64;
inline std::size_t round_up_to_chunk(std::size_t v) { return (v + kChunk - 1) / kChunk * kChunk; }

// acc[t] = bias + sum_ij w[i, j] * xp[t + i * wp + j] for t in [0, len), len a multiple of kChunk.
void taps_forward(const float* xp, std::size_t wp, const float* w, std::size_t kh, std::size_t kw, float bias, float* out,
                  std::size_t len);

// dxp[u] = sum_o sum_ij w[o, i, j] * gw[o][u - i * wp - j] for u in [0, len), len a multiple of
// kChunk: the transposed map in gather form; gw[o] (o < oc, gstride apart) has `front` zeros
// before its first element.
void taps_backward(const float* gw, std::size_t gstride, std::size_t front, std::size_t oc, std::size_t wp, const float* w,
                   std::size_t kh, std::size_t kw, float* dxp, std::size_t len);

}  // namespace lrp::kernels
