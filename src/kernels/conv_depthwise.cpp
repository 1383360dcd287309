#include "kernels/conv_depthwise.hpp"

#include <algorithm>
#include <vector>

#include "kernels/conv_taps.hpp"

namespace lrp::kernels {
namespace {

bool big(const ConvShape& s) { return s.n * s.c * s.oh * s.ow * s.win.kh * s.win.kw >= 100000; }

}  // namespace

bool depthwise_conv_applies(const ConvShape& s) {
  const Window2d& k = s.win;
  return s.groups == s.c && s.c == s.oc && s.c > 1 && k.sh == 1 && k.sw == 1 && k.dh == 1 && k.dw == 1 && s.ow >= 8 && s.n > 0;
}

bool depthwise_conv_forward(const ConvShape& s, const float* x, const float* w, const float* b, float* y) {
  if (!depthwise_conv_applies(s)) return false;
  const Window2d& k = s.win;
  const std::size_t hp = s.h + k.pt + k.pb, wp = s.w + k.pl + k.pr, len = round_up_to_chunk(s.oh * wp);
  const long long tasks = static_cast<long long>(s.n * s.c);  // one (sample, channel) plane each
#pragma omp parallel if (big(s))
  {
    // Padded plane plus slack for the garbage columns and the last chunk; the padding stays 0.
    std::vector<float> xp(std::max(hp * wp, len + (k.kh - 1) * wp + k.kw), 0.0f), acc(len);
#pragma omp for schedule(static)
    for (long long t = 0; t < tasks; ++t) {
      const std::size_t plane = static_cast<std::size_t>(t), ch = plane % s.c;
      const float* xc = x + plane * s.h * s.w;
      for (std::size_t r = 0; r < s.h; ++r) std::copy_n(xc + r * s.w, s.w, xp.data() + (r + k.pt) * wp + k.pl);
      taps_forward(xp.data(), wp, w + ch * k.kh * k.kw, k.kh, k.kw, b ? b[ch] : 0.0f, acc.data(), len);
      float* yc = y + plane * s.oh * s.ow;
      for (std::size_t r = 0; r < s.oh; ++r) std::copy_n(acc.data() + r * wp, s.ow, yc + r * s.ow);
    }
  }
  return true;
}

bool depthwise_conv_backward_data(const ConvShape& s, const float* g, const float* w, float* dx) {
  if (!depthwise_conv_applies(s)) return false;
  const Window2d& k = s.win;
  const std::size_t hp = s.h + k.pt + k.pb, wp = s.w + k.pl + k.pr;
  // dxp covers the padded rows [0, hp); gw holds g's plane on the padded width after `front`
  // zeros, zeros after it, so every gathered index is in range.
  const std::size_t len = round_up_to_chunk(hp * wp), front = (k.kh - 1) * wp + (k.kw - 1);
  const long long tasks = static_cast<long long>(s.n * s.c);
#pragma omp parallel if (big(s))
  {
    std::vector<float> dxp(len), gw(front + len, 0.0f);
#pragma omp for schedule(static)
    for (long long t = 0; t < tasks; ++t) {
      const std::size_t plane = static_cast<std::size_t>(t), ch = plane % s.c;
      const float* gc = g + plane * s.oh * s.ow;
      for (std::size_t r = 0; r < s.oh; ++r) std::copy_n(gc + r * s.ow, s.ow, gw.data() + front + r * wp);
      taps_backward(gw.data(), front + len, front, 1, wp, w + ch * k.kh * k.kw, k.kh, k.kw, dxp.data(), len);
      float* dxc = dx + plane * s.h * s.w;
      for (std::size_t r = 0; r < s.h; ++r) std::copy_n(dxp.data() + (r + k.pt) * wp + k.pl, s.w, dxc + r * s.w);
    }
  }
  return true;
}

}  // namespace lrp::kernels
