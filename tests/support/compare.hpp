#pragma once
// Comparison helpers: errors relative to the reference's largest magnitude, as the shared
// references' READMEs state their tolerances.
#include <algorithm>
#include <cmath>
#include <string>

#include <gtest/gtest.h>

#include "lrp/core/tensor.hpp"

namespace lrp::test {

// max |a - b| / max |b| (absolute error when b is all zero). Shapes must have equal sizes.
template <class A, class B>
double max_rel_error(const Tensor<A>& a, const Tensor<B>& b) {
  EXPECT_EQ(a.size(), b.size());
  double err = 0, scale = 0;
  for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    err = std::max(err, std::abs(static_cast<double>(a[i]) - static_cast<double>(b[i])));
    scale = std::max(scale, std::abs(static_cast<double>(b[i])));
  }
  return scale > 0 ? err / scale : err;
}

template <class T>
double sum(const Tensor<T>& t) {
  double s = 0;
  for (T v : t) s += static_cast<double>(v);
  return s;
}

}  // namespace lrp::test
