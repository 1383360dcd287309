#pragma once
// Inference-time BatchNorm as a per-channel affine map y = x * scale[c] + shift[c] on [N, C, ...].
// Canonizers fold it into a preceding Conv/Linear; one that cannot be folded (BN after a
// concatenation) stays as this layer, with the Pass rule by default.
#include "lrp/graph/layer.hpp"

namespace lrp {

template <class T>
class BatchNorm final : public Layer<T> {
 public:
  BatchNorm(Tensor<T> scale, Tensor<T> shift);
  // From the stored statistics: scale = gamma / sqrt(var + eps), shift = beta - mean * scale.
  static BatchNorm from_statistics(const Tensor<T>& gamma, const Tensor<T>& beta, const Tensor<T>& mean,
                                   const Tensor<T>& var, double eps);
  LayerKind kind() const override { return LayerKind::BatchNorm; }
  std::string type_name() const override { return "BatchNorm"; }
  std::string describe() const override { return std::to_string(scale_.size()) + " channels"; }
  Shape output_shape(const std::vector<Shape>& in) const override;
  void forward(const TensorRefs<T>& in, Tensor<T>& out) const override;
  void backward(const TensorRefs<T>& in, const Tensor<T>& out, const Tensor<T>& dout,
                std::vector<Tensor<T>>& din) const override;
  std::vector<Tensor<T>*> params() override { return {&scale_, &shift_}; }
  std::vector<const Tensor<T>*> params() const override { return {&scale_, &shift_}; }
  std::unique_ptr<Layer<float>> to_float() const override;
  std::unique_ptr<Layer<double>> to_double() const override;
  const Tensor<T>& scale() const { return scale_; }
  const Tensor<T>& shift() const { return shift_; }

 private:
  Tensor<T> scale_, shift_;
};

}  // namespace lrp
