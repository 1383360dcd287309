#include "evaluate/scoring.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "explain/seeds.hpp"
#include "lrp/core/error.hpp"

namespace lrp::evaluate {

Grid grid_of(const Shape& s, bool signals) {
  if (s.size() == 3) return {s[0], s[1], s[2]};
  if (s.size() == 2) return signals ? Grid{s[0], 1, s[1]} : Grid{1, s[0], s[1]};
  const std::size_t n = shape_numel(s);
  if (s.size() == 1) {
    const auto side = static_cast<std::size_t>(std::llround(std::sqrt(static_cast<double>(n))));
    if (side * side == n) return {1, side, side};
  }
  return {1, 1, n};
}

Fill parse_fill(const std::string& text) {
  if (text == "mean") return {Fill::Kind::RegionMean, 0.0};
  if (text == "uniform") return {Fill::Kind::Uniform, 0.0};
  std::size_t used = 0;
  double v = 0;
  try {
    v = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (text.empty() || used != text.size() || !std::isfinite(v))
    throw ConfigError("fill '" + text + "': expected mean, uniform or a finite number");
  return {Fill::Kind::Constant, v};
}

template <class T>
Tensor<T> score_masks(const Tensor<T>& y, const Target& target, std::vector<std::size_t>& classes, std::size_t& k) {
  if (target.kind == Target::Kind::Relevance)
    throw ConfigError("an explicit initial relevance (relevance:FILE) has no score to follow; give classes as the target");
  std::vector<double> scores;
  return make_seeds(y, target, classes, scores, k, true);
}

template <class T>
std::vector<double> masked_scores(Explainer<T>& explainer, const Tensor<T>& inputs, const Tensor<T>& masks,
                                  const std::vector<std::size_t>& mask_of_row) {
  const std::size_t rows = inputs.dim(0), per = masks.sample_size();
  const std::size_t chunk = rows_per_pass(explainer, Shape(inputs.shape().begin() + 1, inputs.shape().end()), 0);
  std::vector<double> out(rows);
  for (std::size_t first = 0; first < rows; first += chunk) {
    const std::size_t count = std::min(chunk, rows - first);
    const Tensor<T> y = explainer.predict(inputs.rows(first, count));
    if (y.size() != count * per)
      throw ShapeError("the model's output has " + std::to_string(y.sample_size()) + " values per sample, the target masks " +
                       std::to_string(per));
    for (std::size_t r = 0; r < count; ++r) {
      const T* yr = y.data() + r * per;
      const T* mr = masks.data() + mask_of_row[first + r] * per;
      double s = 0;
      for (std::size_t j = 0; j < per; ++j) s += static_cast<double>(mr[j]) * static_cast<double>(yr[j]);
      out[first + r] = s;
    }
  }
  return out;
}

template <class T>
std::size_t rows_per_pass(const Explainer<T>& explainer, const Shape& sample_shape, std::size_t asked) {
  return asked ? asked : explainer.samples_per_pass(sample_shape, ExplainRequest{});
}

std::mt19937_64 map_rng(std::uint64_t seed, std::size_t map, std::size_t part) {
  std::seed_seq seq{static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32), static_cast<std::uint32_t>(map),
                    static_cast<std::uint32_t>(static_cast<std::uint64_t>(map) >> 32), static_cast<std::uint32_t>(part)};
  return std::mt19937_64(seq);
}

template <class T>
std::pair<double, double> value_range(const T* p, std::size_t count) {
  if (count == 0) return {0.0, 0.0};
  const auto [lo, hi] = std::minmax_element(p, p + count);
  return {static_cast<double>(*lo), static_cast<double>(*hi)};
}

template <class T>
std::size_t maps_per_sample(const Tensor<T>& x, const Tensor<T>& relevance, const Tensor<T>& masks) {
  const std::size_t n = x.dim(0), per = x.sample_size();
  if (n == 0) throw ShapeError("the input holds no samples");
  if (per == 0) throw ShapeError("the input's samples hold no values (shape " + shape_str(x.shape()) + ")");
  if (relevance.rank() == 0 || relevance.sample_size() != per || relevance.dim(0) % n != 0 || relevance.dim(0) == 0)
    throw ShapeError("the relevance has shape " + shape_str(relevance.shape()) + "; the input " + shape_str(x.shape()) +
                     " needs [N*K, " + std::to_string(per) + " values] (K maps per sample)");
  if (masks.rank() == 0 || masks.dim(0) != relevance.dim(0))
    throw ShapeError("the relevance holds " + std::to_string(relevance.dim(0)) + " maps, the targets " +
                     std::to_string(masks.rank() ? masks.dim(0) : 0));
  return relevance.dim(0) / n;
}

template <class T>
std::size_t maps_per_sample(const Tensor<T>& x, const Tensor<T>& relevance, const std::vector<std::size_t>& classes) {
  const std::size_t n = x.dim(0), per = x.sample_size();
  if (n == 0 || per == 0 || relevance.rank() == 0 || relevance.sample_size() != per || relevance.dim(0) % n != 0 ||
      classes.size() != relevance.dim(0))
    throw ShapeError("the relevance has shape " + shape_str(relevance.shape()) + " for " + std::to_string(classes.size()) +
                     " targets of an input " + shape_str(x.shape()));
  return relevance.dim(0) / n;
}

#define LRP_INSTANTIATE(T)                                                                                           \
  template Tensor<T> score_masks(const Tensor<T>&, const Target&, std::vector<std::size_t>&, std::size_t&);          \
  template std::vector<double> masked_scores(Explainer<T>&, const Tensor<T>&, const Tensor<T>&,                      \
                                             const std::vector<std::size_t>&);                                       \
  template std::pair<double, double> value_range(const T*, std::size_t);                                             \
  template std::size_t rows_per_pass(const Explainer<T>&, const Shape&, std::size_t);                                \
  template std::size_t maps_per_sample(const Tensor<T>&, const Tensor<T>&, const Tensor<T>&);                        \
  template std::size_t maps_per_sample(const Tensor<T>&, const Tensor<T>&, const std::vector<std::size_t>&);
LRP_INSTANTIATE(float)
LRP_INSTANTIATE(double)
#undef LRP_INSTANTIATE

}  // namespace lrp::evaluate
