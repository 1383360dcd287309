#pragma once
// Small random networks for property tests (fixed seeds).
#include <random>

#include "lrp/graph/model.hpp"
#include "lrp/layers/activation.hpp"
#include "lrp/layers/conv2d.hpp"
#include "lrp/layers/linear.hpp"
#include "lrp/layers/pool2d.hpp"
#include "lrp/layers/reshape.hpp"

namespace lrp::test {

inline Tensor<double> random_tensor(const Shape& s, std::mt19937_64& rng, double scale = 1.0) {
  std::normal_distribution<double> n(0.0, scale);
  Tensor<double> t(s);
  for (double& v : t) v = n(rng);
  return t;
}

// Conv(3x3, pad 1, stride 2) - ReLU - SumPool(2) - Conv(2x2) - ReLU - Flatten - Linear - ReLU - Linear
inline Model<double> random_cnn(std::mt19937_64& rng, bool with_bias, std::size_t c = 2, std::size_t hw = 12) {
  Model<double> m;
  m.input_shape = {c, hw, hw};
  m.layout = DataLayout::NCHW;
  const auto bias = [&](std::size_t n) { return with_bias ? random_tensor({n}, rng, 0.1) : Tensor<double>({n}); };
  Window2d w1;
  w1.kh = w1.kw = 3;
  w1.sh = w1.sw = 2;
  w1.pt = w1.pl = w1.pb = w1.pr = 1;
  m.add("conv1", std::make_unique<Conv2d<double>>(random_tensor({4, c, 3, 3}, rng, 0.5), bias(4), w1));
  m.add("relu1", std::make_unique<Activation<double>>(ActivationSpec{}));
  PoolSpec p;
  p.mode = PoolMode::Sum;
  p.window.kh = p.window.kw = p.window.sh = p.window.sw = 2;
  p.divisor = 2.0;
  p.type_name = "SumPool";
  m.add("pool1", std::make_unique<Pool2d<double>>(p));
  Window2d w2;
  w2.kh = w2.kw = 2;
  m.add("conv2", std::make_unique<Conv2d<double>>(random_tensor({5, 4, 2, 2}, rng, 0.5), bias(5), w2));
  m.add("relu2", std::make_unique<Activation<double>>(ActivationSpec{}));
  m.add("flatten", std::make_unique<Flatten<double>>());
  const std::size_t s = ((hw + 1) / 2 / 2 - 1);
  m.add("fc1", std::make_unique<Linear<double>>(random_tensor({6, 5 * s * s}, rng, 0.5), bias(6)));
  m.add("relu3", std::make_unique<Activation<double>>(ActivationSpec{}));
  m.add("fc2", std::make_unique<Linear<double>>(random_tensor({3, 6}, rng, 0.5), bias(3)));
  return m;
}

}  // namespace lrp::test
