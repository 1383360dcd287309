// Max pooling's winner masks (layers/pool_plane.hpp): what its relevance rules keep from the
// forward pass instead of the input.
#include <algorithm>
#include <bit>
#include <cstdint>
#include <vector>

#include "kernels/elementwise.hpp"
#include "layers/pool_plane.hpp"

namespace lrp::pool {

template <class T>
void winner_masks(const Plane& g, const T* x, const T* y, T* mask) {
  const std::size_t kw = g.cols.lo.size(), stride = g.cols.stride;
  std::vector<std::uint32_t> m(g.ow);
  for (std::size_t oy = 0; oy < g.oh; ++oy) {
    // Tap by tap along the row (bit a * kw + b for row tap a, column tap b): each tap's inputs
    // are one strided run for the outputs [lo, hi) it reaches, which vectorises; one output's
    // window at a time had cost several times the max pool's own forward (a 1-D pool's rows).
    std::fill(m.begin(), m.end(), 0u);
    const T* yr = y + oy * g.ow;
    for (std::size_t a = g.rows.first[oy]; a < g.rows.last[oy]; ++a) {
      const T* row = x + g.rows.at(oy, a) * g.w;
      for (std::size_t b = 0; b < kw; ++b) {
        const std::size_t lo = g.cols.lo[b], hi = g.cols.hi[b];
        if (lo >= hi) continue;
        const T* src = row + g.cols.at(lo, b);
        const std::uint32_t bit = static_cast<std::uint32_t>(a * kw + b);
        for (std::size_t o = lo; o < hi; ++o) m[o] |= static_cast<std::uint32_t>(src[(o - lo) * stride] == yr[o]) << bit;
      }
    }
    for (std::size_t ox = 0; ox < g.ow; ++ox) mask[oy * g.ow + ox] = static_cast<T>(m[ox]);
  }
}

template <class T>
void route_by_masks(const Plane& g, const T* mask, const T* r, T* out, bool share_ties) {
  const std::size_t kw = g.cols.lo.size();
  for (std::size_t oy = 0; oy < g.oh; ++oy)
    for (std::size_t ox = 0; ox < g.ow; ++ox) {
      const std::size_t o = oy * g.ow + ox;
      std::uint32_t m = static_cast<std::uint32_t>(mask[o]);
      if (m == 0) continue;
      const auto input = [&](std::uint32_t tap) { return g.rows.at(oy, tap / kw) * g.w + g.cols.at(ox, tap % kw); };
      if (!share_ties) {
        out[input(static_cast<std::uint32_t>(std::countr_zero(m)))] += r[o];
        continue;
      }
      const T share = r[o] / static_cast<T>(std::popcount(m));
      for (; m != 0; m &= m - 1) out[input(static_cast<std::uint32_t>(std::countr_zero(m)))] += share;
    }
}

template <class T>
void route_2x2_by_masks(const Plane& g, const T* mask, const T* r, T* out) {
  for (std::size_t oy = 0; oy < g.oh; ++oy) {
    T* o0 = out + 2 * oy * g.w;
    kernels::max2x2_route_masks(mask + oy * g.ow, r + oy * g.ow, o0, o0 + g.w, g.ow);
    std::fill(o0 + 2 * g.ow, o0 + g.w, T(0));  // a last column no window covers
    std::fill(o0 + g.w + 2 * g.ow, o0 + 2 * g.w, T(0));
  }
  std::fill(out + 2 * g.oh * g.w, out + g.h * g.w, T(0));  // and a last row
}

template void winner_masks(const Plane&, const float*, const float*, float*);
template void winner_masks(const Plane&, const double*, const double*, double*);
template void route_by_masks(const Plane&, const float*, const float*, float*, bool);
template void route_by_masks(const Plane&, const double*, const double*, double*, bool);
template void route_2x2_by_masks(const Plane&, const float*, const float*, float*);
template void route_2x2_by_masks(const Plane&, const double*, const double*, double*);

}  // namespace lrp::pool
