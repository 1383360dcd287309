#pragma once
// Standard-normal inputs and weights for the micro benchmarks (fixed seeds: the same data on
// every run; the timings do not depend on the values).
#include <cstddef>
#include <random>
#include <vector>

namespace lrp::bench {

inline std::vector<float> random_vector(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = nd(rng);
  return v;
}

}  // namespace lrp::bench
