#pragma once
// Input features perturbed in groups (feature ablation, Shapley sampling, LIME, KernelSHAP): the
// group of every input element, inputs mixed from x and the baseline group by group, and the
// target's score of a perturbed row.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include "lrp/core/error.hpp"
#include "lrp/core/tensor.hpp"

namespace lrp::feature_groups {

// The target's score of sample i in row i * k + j: the outputs where the row's seed is nonzero.
template <class T>
T target_score(const Tensor<T>& y, const Tensor<T>& seeds, std::size_t i, std::size_t row) {
  const std::size_t outs = seeds.sample_size();
  T score = 0;
  for (std::size_t q = 0; q < outs; ++q)
    if (seeds[row * outs + q] != T(0)) score += y[i * outs + q];
  return score;
}

// Group id of every element of one sample ([per]) or of every sample ([n * per]), and the count.
struct Groups {
  std::vector<std::size_t> id;
  std::size_t count = 0;
  bool per_sample = false;
};

template <class T>
Groups groups_of(const Tensor<T>& x, const Tensor<double>& mask) {
  const std::size_t per = x.sample_size();
  Groups g;
  // One forward pass per group (per order, for Shapley sampling): elements of an image by the
  // hundred thousand would run for hours where grouped pixels take seconds.
  if (mask.empty() && per > 4096)
    throw ConfigError("the input has " + std::to_string(per) +
                      " elements, one forward pass each without groups; give a feature mask (--feature-mask FILE)");
  if (mask.empty()) {
    g.id.resize(per);
    std::iota(g.id.begin(), g.id.end(), std::size_t{0});
    g.count = per;
    return g;
  }
  const bool one = mask.rank() == x.rank() && mask.dim(0) == 1 && mask.sample_size() == per;
  g.per_sample = mask.shape() == x.shape() && x.dim(0) > 1;
  if (!one && !g.per_sample)
    throw ShapeError("the feature mask has shape " + shape_str(mask.shape()) + ", the input " + shape_str(x.shape()) +
                     " (give one sample's shape or the input's)");
  // Ids are numbered densely in increasing order: ids 0, 7 and 1000 are three groups, not 1001.
  std::vector<double> ids(mask.begin(), mask.end());
  for (const double v : ids)
    if (!(v >= 0) || v != std::floor(v)) throw ConfigError("the feature mask holds " + std::to_string(v) + ": group ids must be integers >= 0");
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  g.id.resize(mask.size());
  for (std::size_t i = 0; i < mask.size(); ++i)
    g.id[i] = static_cast<std::size_t>(std::lower_bound(ids.begin(), ids.end(), mask[i]) - ids.begin());
  g.count = ids.size();
  return g;
}

// x with the elements of the groups where `from_base[g]` taken from base.
template <class T>
void mix(const Tensor<T>& x, const Tensor<T>& base, const Groups& g, const std::vector<char>& from_base, T* out) {
  const std::size_t per = x.sample_size();
  for (std::size_t i = 0; i < x.size(); ++i) {
    const std::size_t group = g.id[g.per_sample ? i : i % per];
    out[i] = from_base[group] ? base[i] : x[i];
  }
}

// Adds value(i, row) to every element of group `group` in every row of the result.
template <class T, class Value>
void credit(Tensor<T>& result, const Groups& g, std::size_t group, std::size_t n, std::size_t k, std::size_t per, Value&& value) {
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < k; ++j) {
      const std::size_t row = i * k + j;
      const T v = value(i, row);
      T* r = result.data() + row * per;
      for (std::size_t e = 0; e < per; ++e)
        if (g.id[g.per_sample ? i * per + e : e] == group) r[e] += v;
    }
}

}  // namespace lrp::feature_groups
