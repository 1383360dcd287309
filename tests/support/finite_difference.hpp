#pragma once
// The reference the layer tests check exact gradients against.
#include "lrp/graph/layer.hpp"

namespace lrp::test {

// g^T dy/dx of a one-input layer by central differences (step h), one input entry at a time:
// two forwards per entry, so for small inputs only.
inline Tensor<double> finite_difference_vjp(const Layer<double>& layer, const Tensor<double>& x, const Tensor<double>& g,
                                            double h) {
  Tensor<double> fd(x.shape());
  for (std::size_t j = 0; j < x.size(); ++j) {
    Tensor<double> xp = x, xm = x, yp, ym;
    xp[j] += h;
    xm[j] -= h;
    layer.forward({&xp}, yp);
    layer.forward({&xm}, ym);
    double d = 0;
    for (std::size_t i = 0; i < g.size(); ++i) d += g[i] * (yp[i] - ym[i]);
    fd[j] = d / (2 * h);
  }
  return fd;
}

}  // namespace lrp::test
