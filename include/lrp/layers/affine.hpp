#pragma once
// Layers that are affine maps z = W x + b (Linear, Conv2d). Every LRP rule for them is built
// from two primitives that accept substituted parameters (W+, W-, W^2, ones, ...): the forward
// map and its transpose.
#include "lrp/graph/layer.hpp"

namespace lrp {

template <class T>
class AffineLayer : public Layer<T> {
 public:
  virtual const Tensor<T>& weight() const = 0;
  virtual const Tensor<T>& bias() const = 0;
  // z = w x + b for a weight tensor of the layer's weight shape; b == nullptr means no bias.
  virtual void apply(const Tensor<T>& x, const Tensor<T>& w, const Tensor<T>* b, Tensor<T>& z) const = 0;
  // dx = w^T g (for a convolution: the transposed convolution); dx gets `x_shape`.
  virtual void apply_transposed(const Tensor<T>& g, const Tensor<T>& w, const Shape& x_shape, Tensor<T>& dx) const = 0;

  void forward(const TensorRefs<T>& in, Tensor<T>& out) const override { apply(*in[0], weight(), &bias(), out); }
  void backward(const TensorRefs<T>& in, const Tensor<T>& /*out*/, const Tensor<T>& dout,
                std::vector<Tensor<T>>& din) const override {
    din.resize(1);
    apply_transposed(dout, weight(), in[0]->shape(), din[0]);
  }
};

}  // namespace lrp
