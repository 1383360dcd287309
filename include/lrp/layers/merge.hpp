#pragma once
// Layers with several inputs: the elementwise sum of residual connections and channel
// concatenation (DenseNet).
#include "lrp/graph/layer.hpp"

namespace lrp {

template <class T>
class Add final : public Layer<T> {
 public:
  explicit Add(std::size_t inputs = 2) : inputs_(inputs) {}
  LayerKind kind() const override { return LayerKind::Add; }
  std::string type_name() const override { return "Add"; }
  std::string describe() const override { return std::to_string(inputs_) + " inputs"; }
  std::size_t num_inputs() const override { return inputs_; }
  Shape output_shape(const std::vector<Shape>& in) const override;
  void forward(const TensorRefs<T>& in, Tensor<T>& out) const override;
  void backward(const TensorRefs<T>& in, const Tensor<T>& out, const Tensor<T>& dout,
                std::vector<Tensor<T>>& din) const override;
  std::unique_ptr<Layer<float>> to_float() const override { return std::make_unique<Add<float>>(inputs_); }
  std::unique_ptr<Layer<double>> to_double() const override { return std::make_unique<Add<double>>(inputs_); }

 private:
  std::size_t inputs_;
};

// Concatenation along a per-sample axis (0 = channels of [C,H,W]).
template <class T>
class Concat final : public Layer<T> {
 public:
  Concat(std::size_t inputs, std::size_t axis) : inputs_(inputs), axis_(axis) {}
  LayerKind kind() const override { return LayerKind::Concat; }
  std::string type_name() const override { return "Concat"; }
  std::string describe() const override { return std::to_string(inputs_) + " inputs, axis " + std::to_string(axis_ + 1); }
  std::size_t num_inputs() const override { return inputs_; }
  Shape output_shape(const std::vector<Shape>& in) const override;
  void forward(const TensorRefs<T>& in, Tensor<T>& out) const override;
  // Routes slices of dout back to the inputs (also the relevance rule of Concat).
  void backward(const TensorRefs<T>& in, const Tensor<T>& out, const Tensor<T>& dout,
                std::vector<Tensor<T>>& din) const override;
  std::unique_ptr<Layer<float>> to_float() const override { return std::make_unique<Concat<float>>(inputs_, axis_); }
  std::unique_ptr<Layer<double>> to_double() const override { return std::make_unique<Concat<double>>(inputs_, axis_); }

 private:
  std::size_t inputs_, axis_;
};

}  // namespace lrp
