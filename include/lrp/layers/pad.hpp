#pragma once
// Constant padding of the two spatial axes of [N, C, H, W]. Relevance that would land on the
// padding is dropped (as in Zennit: the pads are constants, not inputs).
#include "lrp/graph/layer.hpp"

namespace lrp {

template <class T>
class Pad final : public Layer<T> {
 public:
  Pad(std::size_t top, std::size_t left, std::size_t bottom, std::size_t right, double value)
      : t_(top), l_(left), b_(bottom), r_(right), value_(value) {}
  LayerKind kind() const override { return LayerKind::Pad; }
  std::string type_name() const override { return "Pad"; }
  std::string describe() const override;
  Shape output_shape(const std::vector<Shape>& in) const override;
  void forward(const TensorRefs<T>& in, Tensor<T>& out) const override;
  void backward(const TensorRefs<T>& in, const Tensor<T>& out, const Tensor<T>& dout,
                std::vector<Tensor<T>>& din) const override;
  bool backward_from_shapes(const std::vector<Shape>& in_shapes, const Tensor<T>& dout, std::vector<Tensor<T>>& din) const override;
  std::unique_ptr<Layer<float>> to_float() const override { return std::make_unique<Pad<float>>(t_, l_, b_, r_, value_); }
  std::unique_ptr<Layer<double>> to_double() const override { return std::make_unique<Pad<double>>(t_, l_, b_, r_, value_); }

 private:
  std::size_t t_, l_, b_, r_;
  double value_;
};

}  // namespace lrp
