#pragma once
// What the evaluation measures share: scoring batches of perturbed inputs, and the per-sample
// statistics their noise is scaled by.
#include <cstddef>
#include <random>
#include <vector>

#include "lrp/evaluate/evaluate.hpp"

namespace lrp::evaluate {

// The score of every row of `inputs` [R, sample...]: the sum of the model output over
// masks[mask_of_row[r]] (score_masks). The rows run through `explainer.predict` in passes sized
// like an explanation's (at most 64 rows).
template <class T>
std::vector<double> masked_scores(Explainer<T>& explainer, const Tensor<T>& inputs, const Tensor<T>& masks,
                                  const std::vector<std::size_t>& mask_of_row);

// Rows of `sample_shape` to hold and run at once: `asked`, or (0) what one explanation pass of
// the model takes (1 to 64).
template <class T>
std::size_t rows_per_pass(const Explainer<T>& explainer, const Shape& sample_shape, std::size_t asked);

// A generator for one map's draws, from the seed and the map's (and the part's) index alone, so
// that the figures do not depend on how the maps are split into passes.
std::mt19937_64 map_rng(std::uint64_t seed, std::size_t map, std::size_t part = 0);

// The smallest and largest value of one sample (`count` values at `p`).
template <class T>
std::pair<double, double> value_range(const T* p, std::size_t count);

// Checks that `relevance` holds K = relevance.dim(0) / x.dim(0) maps of x's sample shape per
// sample and that `masks` has one row per map; returns K.
template <class T>
std::size_t maps_per_sample(const Tensor<T>& x, const Tensor<T>& relevance, const Tensor<T>& masks);

// The same for maps that re-explanations compare with: one class per map in `classes`.
template <class T>
std::size_t maps_per_sample(const Tensor<T>& x, const Tensor<T>& relevance, const std::vector<std::size_t>& classes);

}  // namespace lrp::evaluate
