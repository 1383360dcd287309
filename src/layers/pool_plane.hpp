#pragma once
// Pooling over one H x W plane with the valid taps of every window worked out once per call,
// per axis, instead of once per output position (and instead of a call per tap): shared by
// Pool2d (forward, gradient) and the pooling relevance rules for windows that overlap, are
// padded or dilated. The disjoint-window fast paths stay where they are.
//
// Every kernel keeps the order of the plain loop "outputs in row-major order, each window's
// inputs in row-major order": a window's taps are visited in row-major order (so sums round the
// same way and the first maximum stays the first), and every input receives its contributions
// in row-major output order (so scattered sums round the same way). That makes the results
// bit-identical to that loop; tests/unit/test_pool_fast_paths.cpp checks it.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "lrp/layers/conv_geometry.hpp"

namespace lrp::pool {

// One axis of a window: input index = o * stride + t * dil - pad for output o and tap t.
struct Axis {
  std::size_t stride = 1, dil = 1, pad = 0;
  std::vector<std::size_t> lo, hi;       // per tap t: outputs [lo, hi) see tap t inside the input
  std::vector<std::size_t> first, last;  // per output o: taps [first, last) lie inside the input
  Axis(std::size_t k, std::size_t stride, std::size_t dil, std::size_t pad, std::size_t n, std::size_t out);
  // Input index of tap t of output o (unsigned wrap-around cancels: only used for valid pairs).
  std::size_t at(std::size_t o, std::size_t t) const { return o * stride + t * dil - pad; }
};

// The geometry of one plane (the same for every sample and channel).
struct Plane {
  std::size_t h, w, oh, ow;
  Axis rows, cols;
  Plane(const Window2d& k, std::size_t h, std::size_t w, std::size_t oh, std::size_t ow);
  // Windows tile the plane without overlap, padding or dilation.
  bool disjoint() const;
  // Disjoint 2x2 windows with stride 2 (most CNNs' max pools): first_max_route_2x2 applies.
  bool disjoint_2x2() const { return disjoint() && rows.lo.size() == 2 && cols.lo.size() == 2; }
  // Number of non-padding inputs in the window of output o.
  std::size_t count(std::size_t o) const {
    const std::size_t oy = o / ow, ox = o % ow;
    return (rows.last[oy] - rows.first[oy]) * (cols.last[ox] - cols.first[ox]);
  }

  // Calls f(i) for the inputs of the window of output (oy, ox) in row-major order, padding skipped.
  template <class F>
  void window(std::size_t oy, std::size_t ox, F&& f) const {
    for (std::size_t i = rows.first[oy]; i < rows.last[oy]; ++i) {
      const std::size_t row = rows.at(oy, i) * w;
      for (std::size_t j = cols.first[ox]; j < cols.last[ox]; ++j) f(row + cols.at(ox, j));
    }
  }
  // Calls f(o, i) for every (output, input) pair: outputs in row-major order, each window's
  // inputs in row-major order. For the rules without a kernel below.
  template <class F>
  void for_each_pair(F&& f) const {
    for (std::size_t oy = 0; oy < oh; ++oy)
      for (std::size_t ox = 0; ox < ow; ++ox) window(oy, ox, [&](std::size_t i) { f(oy * ow + ox, i); });
  }
};

// y = maximum of each window (strict >, so NaN inputs are skipped and the first of equal values
// wins); -inf where a window holds no input.
void max_forward(const Plane& g, const float* x, float* y);
void max_forward(const Plane& g, const double* x, double* y);
// y = sum of each window (not yet divided).
void sum_forward(const Plane& g, const float* x, float* y);
void sum_forward(const Plane& g, const double* x, double* y);
// out[i] += r[o] for the first input i of window o (row-major) with x[i] == y[o]: the gradient
// of max pooling (PyTorch's choice among ties); nothing where no input equals y[o].
void first_max_add(const Plane& g, const float* x, const float* y, const float* r, float* out);
void first_max_add(const Plane& g, const double* x, const double* y, const double* r, double* out);
// For disjoint_2x2 planes: out[i] = r[o] at the first maximum of window o, as first_max_add,
// and 0 everywhere else; the whole plane is written (rows and columns no window covers too).
template <class T>
void first_max_route_2x2(const Plane& g, const T* x, const T* y, const T* r, T* out);
// out[i] += x[i] * c[o] (x given) or c[o] (x null) over every pair (o, i).
template <class T>
void spread(const Plane& g, const T* x, const T* c, T* out);

// Max pooling's winners without its input: mask[o] has bit a * kw + b set where tap (a, b) of
// window o lies inside the plane and equals y[o] (0 where y[o] is NaN), stored as an exact
// integer in T. A max pool's rules need only these (an output-sized tensor), not the input the
// sweep would otherwise keep (kernel-sized windows of it). Windows of at most kMaxMaskTaps taps.
inline constexpr std::size_t kMaxMaskTaps = 24;  // every mask below 2^24: exact in float
template <class T>
void winner_masks(const Plane& g, const T* x, const T* y, T* mask);
// From the masks, in the pair order of the plain loop (so bit for bit what the rules compute
// from x and y): out[i] += r[o] at each window's first winner (the gradient; share_ties false),
// or out[i] += r[o] / (number of winners) at every winner (the toolbox's rule).
template <class T>
void route_by_masks(const Plane& g, const T* mask, const T* r, T* out, bool share_ties);
// disjoint_2x2 planes: out = r[o] at each window's first winner and 0 everywhere else, as
// first_max_route_2x2; the whole plane is written. (Their masks: kernels::max2x2_masks.)
template <class T>
void route_2x2_by_masks(const Plane& g, const T* mask, const T* r, T* out);

}  // namespace lrp::pool
