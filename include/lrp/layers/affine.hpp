#pragma once
// Layers that are affine maps z = W x + b (Linear, Conv2d). Every LRP rule for them is built
// from two primitives that accept substituted parameters (W+, W-, W^2, ones, ...): the forward
// map and its transpose.
#include <functional>

#include "lrp/graph/layer.hpp"

namespace lrp {

// Elementwise maps of a layer's weights that LRP rules use: W, W+, W-, W^2, W + g W+, W + g W-
// (g = the map's parameter). Each maps 0 to 0, so fast kernels can apply them directly to their
// own (blocked, zero-padded) copies of the weights instead of materialising W' first.
enum class WeightMap { Identity, Positive, Negative, Square, GammaPositive, GammaNegative };

template <class T>
inline T map_weight(WeightMap m, T param, T v) {
  switch (m) {
    case WeightMap::Identity: return v;
    case WeightMap::Positive: return v > T(0) ? v : T(0);
    case WeightMap::Negative: return v < T(0) ? v : T(0);
    case WeightMap::Square: return v * v;
    case WeightMap::GammaPositive: return v + param * (v > T(0) ? v : T(0));
    case WeightMap::GammaNegative: return v + param * (v < T(0) ? v : T(0));
  }
  return v;
}

template <class T>
class AffineLayer : public Layer<T> {
 public:
  virtual const Tensor<T>& weight() const = 0;
  virtual const Tensor<T>& bias() const = 0;
  // z = w x + b for a weight tensor of the layer's weight shape; b == nullptr means no bias.
  virtual void apply(const Tensor<T>& x, const Tensor<T>& w, const Tensor<T>* b, Tensor<T>& z) const = 0;
  // dx = w^T g (for a convolution: the transposed convolution); dx gets `x_shape`.
  virtual void apply_transposed(const Tensor<T>& g, const Tensor<T>& w, const Shape& x_shape, Tensor<T>& dx) const = 0;

  // The same with w = map(weight()). `plain` returns map(weight()) as a tensor (the caller
  // caches it); layers whose kernels cannot map their own weight copies use it.
  using PlainWeights = std::function<const Tensor<T>&()>;
  virtual void apply_mapped(const Tensor<T>& x, WeightMap /*map*/, T /*param*/, const PlainWeights& plain, const Tensor<T>* b,
                            Tensor<T>& z) const {
    apply(x, plain(), b, z);
  }
  virtual void apply_transposed_mapped(const Tensor<T>& g, WeightMap /*map*/, T /*param*/, const PlainWeights& plain,
                                       const Shape& x_shape, Tensor<T>& dx) const {
    apply_transposed(g, plain(), x_shape, dx);
  }

  // dx1 = w1^T g and dx2 = w2^T g in one pass over g, where the layer has a kernel for that
  // (Conv2d with one input channel: about the cost of one pass); false, computing nothing,
  // elsewhere. w1, w2 are fetched only when it applies.
  virtual bool apply_transposed_pair(const Tensor<T>& /*g*/, const PlainWeights& /*w1*/, const PlainWeights& /*w2*/,
                                     const Shape& /*x_shape*/, Tensor<T>& /*dx1*/, Tensor<T>& /*dx2*/) const {
    return false;
  }

  // Whether the mapped passes on an input of this shape are as exact as apply() (false where
  // the fast kernels multiply bfloat16 under RulePrecision::BFloat16): rules then compute each
  // z from its own pass instead of a difference with the stored forward output.
  virtual bool mapped_passes_exact(const Shape& /*x_shape*/) const { return true; }

  void forward(const TensorRefs<T>& in, Tensor<T>& out) const override { apply(*in[0], weight(), &bias(), out); }
  void backward(const TensorRefs<T>& in, const Tensor<T>& /*out*/, const Tensor<T>& dout,
                std::vector<Tensor<T>>& din) const override {
    din.resize(1);
    apply_transposed(dout, weight(), in[0]->shape(), din[0]);
  }
};

}  // namespace lrp
