// Region perturbation (Samek et al. 2017): each map's regions ranked by their mean relevance,
// replaced in that order, the target's score followed after every step.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <string>

#include "evaluate/scoring.hpp"
#include "lrp/core/error.hpp"

namespace lrp::evaluate {
namespace {

// The tiles of `side` x `side` (1 x side on grids of one row) covering the grid, row-major;
// the last row and column of tiles may be cut by the border.
struct Tiling {
  std::size_t tile_h, tile_w, rows, cols;
  Tiling(const Grid& g, std::size_t side)
      : tile_h(std::min(side, g.height)), tile_w(std::min(side, g.width)), rows((g.height + tile_h - 1) / tile_h),
        cols((g.width + tile_w - 1) / tile_w) {}
  std::size_t count() const { return rows * cols; }
  // Calls f(h * width + w) for every grid position of tile t.
  template <class F>
  void for_each(const Grid& g, std::size_t t, F&& f) const {
    const std::size_t h0 = (t / cols) * tile_h, w0 = (t % cols) * tile_w;
    for (std::size_t h = h0; h < std::min(h0 + tile_h, g.height); ++h)
      for (std::size_t w = w0; w < std::min(w0 + tile_w, g.width); ++w) f(h * g.width + w);
  }
};

// Mean relevance of every tile, summed over channels.
template <class T>
std::vector<double> tile_relevance(const T* r, const Grid& g, const Tiling& tiles) {
  const std::size_t plane = g.height * g.width;
  std::vector<double> out(tiles.count());
  for (std::size_t t = 0; t < tiles.count(); ++t) {
    double sum = 0;
    std::size_t cells = 0;
    tiles.for_each(g, t, [&](std::size_t p) {
      for (std::size_t c = 0; c < g.channels; ++c) sum += static_cast<double>(r[c * plane + p]);
      ++cells;
    });
    out[t] = sum / static_cast<double>(cells);
  }
  return out;
}

// Tile indices in the order they are perturbed; ties keep the grid order.
std::vector<std::size_t> tile_order(const std::vector<double>& relevance, Order order, std::mt19937_64& rng) {
  std::vector<std::size_t> idx(relevance.size());
  std::iota(idx.begin(), idx.end(), 0);
  if (order == Order::Random) std::shuffle(idx.begin(), idx.end(), rng);
  else if (order == Order::MostRelevantFirst)
    std::stable_sort(idx.begin(), idx.end(), [&](std::size_t a, std::size_t b) { return relevance[a] > relevance[b]; });
  else
    std::stable_sort(idx.begin(), idx.end(), [&](std::size_t a, std::size_t b) { return relevance[a] < relevance[b]; });
  return idx;
}

// The values a sample's perturbed elements take (its whole shape), drawn once so that every
// step perturbs the same regions the same way as the step before it.
template <class T>
std::vector<T> fill_values(const T* x, const Grid& g, const Tiling& tiles, const Fill& fill, std::mt19937_64& rng) {
  std::vector<T> v(g.size(), static_cast<T>(fill.value));
  const std::size_t plane = g.height * g.width;
  if (fill.kind == Fill::Kind::Uniform) {
    const auto [lo, hi] = value_range(x, g.size());
    std::uniform_real_distribution<double> u(lo, std::nextafter(hi, hi + 1.0));
    for (T& e : v) e = static_cast<T>(lo == hi ? lo : u(rng));
  } else if (fill.kind == Fill::Kind::RegionMean) {
    for (std::size_t t = 0; t < tiles.count(); ++t)
      for (std::size_t c = 0; c < g.channels; ++c) {
        double sum = 0;
        std::size_t cells = 0;
        tiles.for_each(g, t, [&](std::size_t p) { sum += static_cast<double>(x[c * plane + p]), ++cells; });
        tiles.for_each(g, t, [&](std::size_t p) { v[c * plane + p] = static_cast<T>(sum / static_cast<double>(cells)); });
      }
  }
  return v;
}

}  // namespace

template <class T>
PerturbationResult perturbation_curves(Explainer<T>& explainer, const Tensor<T>& x, const Tensor<T>& relevance,
                                       const Tensor<T>& masks, const Grid& grid, const PerturbationOptions& o) {
  const std::size_t k = maps_per_sample(x, relevance, masks), maps = relevance.dim(0), per = x.sample_size();
  if (grid.size() != per) throw ShapeError("the perturbation grid has " + std::to_string(grid.size()) + " values, a sample " + std::to_string(per));
  if (o.region == 0) throw ConfigError("the region size must be at least 1");
  if (o.steps == 0) throw ConfigError("the number of steps must be at least 1");
  if (!(o.fraction > 0.0 && o.fraction <= 1.0)) throw ConfigError("the perturbed fraction must be in (0, 1]");
  if (o.orders.empty()) throw ConfigError("no order of perturbation was asked for");
  const Tiling tiles(grid, o.region);
  const auto last = std::max<std::size_t>(1, static_cast<std::size_t>(std::llround(o.fraction * static_cast<double>(tiles.count()))));
  const std::size_t steps = std::min(o.steps, last), points = steps + 1, orders = o.orders.size();
  std::vector<std::size_t> done(points);  // tiles perturbed at each point
  for (std::size_t s = 0; s < points; ++s) done[s] = (s * last + steps / 2) / steps;

  PerturbationResult res;
  res.maps = maps;
  for (std::size_t s = 0; s < points; ++s)
    res.perturbed_fraction.push_back(static_cast<double>(done[s]) / static_cast<double>(tiles.count()));
  res.curves.assign(orders, std::vector<double>(maps * points));
  res.aopc.assign(orders, std::vector<double>(maps));

  // Rows (order, map), `pass` of them at a time: their inputs being perturbed, tile orders and
  // fill values (part 0 of a map's draws: its fill; part 1 + order: the random order).
  const std::size_t rows = orders * maps, plane = grid.height * grid.width;
  const std::size_t pass = std::min(rows, rows_per_pass(explainer, Shape(x.shape().begin() + 1, x.shape().end()), o.rows_per_pass));
  for (std::size_t first = 0; first < rows; first += pass) {
    const std::size_t count = std::min(pass, rows - first);
    Shape shape = x.shape();
    shape[0] = count;
    Tensor<T> current = Tensor<T>::uninitialized(shape);
    std::vector<std::vector<std::size_t>> order_of(count);
    std::vector<std::vector<T>> fills(count);
    std::vector<std::size_t> mask_of_row(count);
    for (std::size_t i = 0; i < count; ++i) {
      const std::size_t oi = (first + i) / maps, m = (first + i) % maps;
      const T* xs = x.data() + (m / k) * per;
      std::copy_n(xs, per, current.data() + i * per);
      std::mt19937_64 fill_rng = map_rng(o.seed, m), order_rng = map_rng(o.seed, m, 1 + oi);
      fills[i] = fill_values(xs, grid, tiles, o.fill, fill_rng);
      order_of[i] = tile_order(tile_relevance(relevance.data() + m * per, grid, tiles), o.orders[oi], order_rng);
      mask_of_row[i] = m;
    }
    for (std::size_t s = 0; s < points; ++s) {
      if (s > 0)
        for (std::size_t i = 0; i < count; ++i) {
          T* cur = current.data() + i * per;
          for (std::size_t t = done[s - 1]; t < done[s]; ++t)
            tiles.for_each(grid, order_of[i][t], [&](std::size_t p) {
              for (std::size_t c = 0; c < grid.channels; ++c) cur[c * plane + p] = fills[i][c * plane + p];
            });
        }
      const std::vector<double> scores = masked_scores(explainer, current, masks, mask_of_row);
      for (std::size_t i = 0; i < count; ++i) {
        if (!std::isfinite(scores[i]))
          throw NumericError("the model's score on a perturbed input is NaN or Inf (step " + std::to_string(s) + ")");
        res.curves[(first + i) / maps][((first + i) % maps) * points + s] = scores[i];
      }
    }
  }
  for (std::size_t oi = 0; oi < orders; ++oi)
    for (std::size_t m = 0; m < maps; ++m) {
      const double* c = res.curves[oi].data() + m * points;
      double area = 0;
      for (std::size_t s = 0; s < points; ++s) area += c[0] - c[s];
      res.aopc[oi][m] = area / static_cast<double>(points);
    }
  return res;
}

template PerturbationResult perturbation_curves(Explainer<float>&, const Tensor<float>&, const Tensor<float>&, const Tensor<float>&,
                                                const Grid&, const PerturbationOptions&);
template PerturbationResult perturbation_curves(Explainer<double>&, const Tensor<double>&, const Tensor<double>&,
                                                const Tensor<double>&, const Grid&, const PerturbationOptions&);

}  // namespace lrp::evaluate
