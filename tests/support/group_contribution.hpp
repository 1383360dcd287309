#pragma once
// The exact attribution of a feature group on a linear model y = W x + b (what every
// perturbation method must give there): for sample s, target t and element i, the sum over the
// elements j of i's group of W[t, j] (x_j - baseline_j).
#include <cstddef>

#include "lrp/core/tensor.hpp"

namespace lrp::test {

inline double group_contribution(const Tensor<double>& w, const Tensor<double>& x, const Tensor<double>& base,
                                 const Tensor<double>& mask, std::size_t s, std::size_t t, std::size_t i) {
  const std::size_t per = mask.size();
  double sum = 0;
  for (std::size_t j = 0; j < per; ++j)
    if (mask[j] == mask[i]) sum += w[t * per + j] * (x[s * per + j] - base[s * per + j]);
  return sum;
}

}  // namespace lrp::test
