// Relevance mass and rank accuracy (Arras et al. 2022) and the pointing game (Zhang et al. 2018).
#include <algorithm>
#include <numeric>
#include <string>

#include "evaluate/scoring.hpp"
#include "lrp/core/error.hpp"

namespace lrp::evaluate {

template <class T>
LocalizationResult localization(const Tensor<T>& relevance, std::size_t samples, const Grid& grid, const Tensor<double>& mask) {
  const std::size_t per = grid.size(), plane = grid.height * grid.width;
  if (samples == 0 || relevance.rank() == 0 || relevance.sample_size() != per || relevance.dim(0) % samples != 0 || relevance.dim(0) == 0)
    throw ShapeError("the relevance has shape " + shape_str(relevance.shape()) + "; " + std::to_string(samples) + " samples of " +
                     std::to_string(per) + " values need [N*K, " + std::to_string(per) + " values]");
  const std::size_t maps = relevance.dim(0), k = maps / samples;
  const std::size_t mask_rows = mask.rank() ? mask.dim(0) : 0, mask_per = mask.sample_size();
  if ((mask_rows != 1 && mask_rows != samples) || (mask_per != plane && mask_per != per))
    throw ShapeError("the mask has shape " + shape_str(mask.shape()) + "; it needs one row (every sample) or " + std::to_string(samples) +
                     " of " + std::to_string(plane) + " positions (" + std::to_string(grid.height) + " x " + std::to_string(grid.width) +
                     ") or of the whole sample (" + std::to_string(per) + " values)");
  // Per sample: which positions are inside, and how many.
  std::vector<std::vector<char>> inside(mask_rows, std::vector<char>(plane, 0));
  std::vector<std::size_t> count(mask_rows, 0);
  for (std::size_t r = 0; r < mask_rows; ++r) {
    const double* m = mask.data() + r * mask_per;
    for (std::size_t e = 0; e < mask_per; ++e)
      if (m[e] != 0) inside[r][e % plane] = 1;
    count[r] = static_cast<std::size_t>(std::count(inside[r].begin(), inside[r].end(), 1));
    if (count[r] == 0) throw ShapeError("the mask of sample " + std::to_string(r) + " marks no position");
  }
  LocalizationResult res;
  std::vector<double> pooled(plane);
  std::vector<std::size_t> idx(plane);
  for (std::size_t m = 0; m < maps; ++m) {
    const std::size_t r = mask_rows == 1 ? 0 : m / k;
    const T* rel = relevance.data() + m * per;
    std::fill(pooled.begin(), pooled.end(), 0.0);
    for (std::size_t c = 0; c < grid.channels; ++c)
      for (std::size_t p = 0; p < plane; ++p) pooled[p] += static_cast<double>(rel[c * plane + p]);
    double in = 0, all = 0;
    for (std::size_t p = 0; p < plane; ++p) {
      const double positive = std::max(pooled[p], 0.0);
      all += positive;
      if (inside[r][p]) in += positive;
    }
    res.mass_accuracy.push_back(all > 0 ? in / all : 0.0);
    std::iota(idx.begin(), idx.end(), 0);
    const std::size_t top = count[r];
    std::partial_sort(idx.begin(), idx.begin() + static_cast<long>(top), idx.end(),
                      [&](std::size_t a, std::size_t b) { return pooled[a] > pooled[b] || (pooled[a] == pooled[b] && a < b); });
    std::size_t hits = 0;
    for (std::size_t i = 0; i < top; ++i) hits += inside[r][idx[i]] ? 1 : 0;
    res.rank_accuracy.push_back(static_cast<double>(hits) / static_cast<double>(top));
    res.pointing_hit.push_back(inside[r][idx[0]] ? 1.0 : 0.0);
  }
  return res;
}

template LocalizationResult localization(const Tensor<float>&, std::size_t, const Grid&, const Tensor<double>&);
template LocalizationResult localization(const Tensor<double>&, std::size_t, const Grid&, const Tensor<double>&);

}  // namespace lrp::evaluate
