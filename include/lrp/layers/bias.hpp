#pragma once
// y = x + b with a constant b of one sample's shape, the same for every sample: a learned
// position embedding added to a transformer's tokens. Relevance rules treat b as a bias.
#include "lrp/graph/layer.hpp"

namespace lrp {

template <class T>
class Bias final : public Layer<T> {
 public:
  explicit Bias(Tensor<T> value) : value_(std::move(value)) {}
  LayerKind kind() const override { return LayerKind::Bias; }
  std::string type_name() const override { return "Bias"; }
  std::string describe() const override { return shape_str(value_.shape()); }
  Shape output_shape(const std::vector<Shape>& in) const override;
  void forward(const TensorRefs<T>& in, Tensor<T>& out) const override;
  void backward(const TensorRefs<T>& in, const Tensor<T>& out, const Tensor<T>& dout,
                std::vector<Tensor<T>>& din) const override;
  std::vector<Tensor<T>*> params() override { return {&value_}; }
  std::vector<const Tensor<T>*> params() const override { return {&value_}; }
  std::unique_ptr<Layer<float>> to_float() const override { return std::make_unique<Bias<float>>(value_.template cast<float>()); }
  std::unique_ptr<Layer<double>> to_double() const override { return std::make_unique<Bias<double>>(value_.template cast<double>()); }
  const Tensor<T>& value() const { return value_; }

 private:
  Tensor<T> value_;  // one sample's shape
};

}  // namespace lrp
