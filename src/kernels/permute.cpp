#include "kernels/permute.hpp"

#include <algorithm>
#include <cstring>

namespace lrp::kernels {
namespace {

// The permutation as output axes, each with its size and its stride in the input, after
// dropping axes of size 1 and merging output neighbours that are input neighbours in order.
struct Plan {
  std::vector<std::size_t> size, src_stride;
};

Plan plan_of(const std::vector<std::size_t>& in, const std::vector<std::size_t>& perm) {
  std::vector<std::size_t> stride(in.size(), 1);
  for (std::size_t k = in.size(); k-- > 1;) stride[k - 1] = stride[k] * in[k];
  Plan p;
  for (std::size_t k = 0; k < perm.size(); ++k) {
    const std::size_t a = perm[k];
    if (in[a] == 1) continue;
    // Output axis a follows the previous kept one, which was input axis a - j with only size-1
    // axes between: one axis (the previous one's stride is a's stride times a's size).
    if (!p.size.empty() && p.src_stride.back() == stride[a] * in[a]) {
      p.size.back() *= in[a];
      p.src_stride.back() = stride[a];
      continue;
    }
    p.size.push_back(in[a]);
    p.src_stride.push_back(stride[a]);
  }
  return p;
}

// Odometer over the output axes listed in `axes` (a subset, slowest first): the source and
// destination offsets of the current index.
struct Odometer {
  const Plan& p;
  const std::vector<std::size_t>& dst_stride;
  const std::vector<std::size_t>& axes;
  std::vector<std::size_t> idx;
  std::size_t src = 0, dst = 0;

  Odometer(const Plan& plan, const std::vector<std::size_t>& ds, const std::vector<std::size_t>& ax, std::size_t flat)
      : p(plan), dst_stride(ds), axes(ax), idx(ax.size(), 0) {
    for (std::size_t j = axes.size(); j-- > 0;) {
      const std::size_t a = axes[j];
      idx[j] = flat % p.size[a];
      flat /= p.size[a];
      src += idx[j] * p.src_stride[a];
      dst += idx[j] * dst_stride[a];
    }
  }
  void next() {
    for (std::size_t j = axes.size(); j-- > 0;) {
      const std::size_t a = axes[j];
      src += p.src_stride[a];
      dst += dst_stride[a];
      if (++idx[j] < p.size[a]) return;
      src -= idx[j] * p.src_stride[a];
      dst -= idx[j] * dst_stride[a];
      idx[j] = 0;
    }
  }
};

}  // namespace

template <class T>
void permute(const T* src, T* dst, const std::vector<std::size_t>& in, const std::vector<std::size_t>& perm) {
  std::size_t total = 1;
  for (std::size_t d : in) total *= d;
  if (total == 0) return;
  const Plan p = plan_of(in, perm);
  const std::size_t rank = p.size.size();
  if (rank <= 1) {  // nothing moves
    std::memcpy(dst, src, total * sizeof(T));
    return;
  }
  std::vector<std::size_t> dst_stride(rank, 1);
  for (std::size_t k = rank; k-- > 1;) dst_stride[k - 1] = dst_stride[k] * p.size[k];
  const std::size_t last = rank - 1;
  const bool runs = p.src_stride[last] == 1;
  // The output axis that reads the input's unit stride (some axis does: the input's last axis
  // has size > 1 once size-1 axes are dropped, or it merged into one).
  const std::size_t unit = runs ? last : static_cast<std::size_t>(std::find(p.src_stride.begin(), p.src_stride.end(), 1) - p.src_stride.begin());
  std::vector<std::size_t> outer;
  std::size_t outer_count = 1;
  for (std::size_t k = 0; k < last; ++k)
    if (k != unit) {
      outer.push_back(k);
      outer_count *= p.size[k];
    }
  // One block per outer index: a run of p.size[last] elements, or p.size[unit] x p.size[last]
  // elements; tasks take enough blocks for ~4096 elements, and a large 2-D block is split
  // into tasks of 32 rows of `unit`.
  constexpr std::size_t kTile = 32;
  const std::size_t block = runs ? p.size[last] : p.size[unit] * p.size[last];
  const std::size_t row_tiles = runs ? 1 : (p.size[unit] + kTile - 1) / kTile;
  const std::size_t per_task = std::max<std::size_t>(1, 4096 / block);
  const std::size_t chunks = (outer_count + per_task - 1) / per_task;
  const long long tasks = static_cast<long long>(chunks * row_tiles);
  const std::size_t n_last = p.size[last], s_last = p.src_stride[last], d_unit = dst_stride[unit];
#pragma omp parallel for schedule(static) if (total >= (std::size_t(1) << 15) && tasks > 1)
  for (long long t = 0; t < tasks; ++t) {
    const std::size_t chunk = static_cast<std::size_t>(t) / row_tiles, tile = static_cast<std::size_t>(t) % row_tiles;
    const std::size_t first = chunk * per_task, count = std::min(per_task, outer_count - first);
    Odometer o(p, dst_stride, outer, first);
    for (std::size_t i = 0; i < count; ++i, o.next()) {
      const T* s = src + o.src;
      T* d = dst + o.dst;
      if (runs) {
        std::memcpy(d, s, n_last * sizeof(T));
        continue;
      }
      // d[r * d_unit + c] = s[r + c * s_last] for rows r of this tile, all columns c.
      const std::size_t r0 = tile * kTile, r1 = std::min(p.size[unit], r0 + kTile);
      for (std::size_t c0 = 0; c0 < n_last; c0 += kTile) {
        const std::size_t c1 = std::min(n_last, c0 + kTile);
        for (std::size_t r = r0; r < r1; ++r)
          for (std::size_t c = c0; c < c1; ++c) d[r * d_unit + c] = s[r + c * s_last];
      }
    }
  }
}

template void permute<float>(const float*, float*, const std::vector<std::size_t>&, const std::vector<std::size_t>&);
template void permute<double>(const double*, double*, const std::vector<std::size_t>&, const std::vector<std::size_t>&);

}  // namespace lrp::kernels
