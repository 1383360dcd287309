#pragma once
// Fully connected layer: y = x W^T + b with W [out, in] (PyTorch/ONNX Gemm order; the
// toolbox's W[in, out] is transposed by its importer).
#include "lrp/layers/affine.hpp"

namespace lrp {

template <class T>
class Linear final : public AffineLayer<T> {
 public:
  // rows_of_last_axis: the layer takes [..., in] per sample and maps every row of the last axis
  // (ONNX MatMul on a channels-last map, ConvNeXt's pointwise layers); otherwise exactly [in].
  Linear(Tensor<T> weight, Tensor<T> bias, bool rows_of_last_axis = false);
  bool rows_of_last_axis() const { return rows_of_last_axis_; }
  LayerKind kind() const override { return LayerKind::Linear; }
  std::string type_name() const override { return "Linear"; }
  std::string describe() const override;
  Shape output_shape(const std::vector<Shape>& in) const override;
  std::size_t in_features() const { return weight_.dim(1); }
  std::size_t out_features() const { return weight_.dim(0); }

  const Tensor<T>& weight() const override { return weight_; }
  const Tensor<T>& bias() const override { return bias_; }
  void apply(const Tensor<T>& x, const Tensor<T>& w, const Tensor<T>* b, Tensor<T>& z) const override;
  void apply_transposed(const Tensor<T>& g, const Tensor<T>& w, const Shape& x_shape, Tensor<T>& dx) const override;

  std::vector<Tensor<T>*> params() override { return {&weight_, &bias_}; }
  std::vector<const Tensor<T>*> params() const override { return {&weight_, &bias_}; }
  void param_grads(const TensorRefs<T>& in, const Tensor<T>& dout, std::vector<Tensor<T>>& grads) const override;

  std::unique_ptr<Layer<float>> to_float() const override;
  std::unique_ptr<Layer<double>> to_double() const override;

 private:
  Tensor<T> weight_;  // [out, in]
  Tensor<T> bias_;    // [out]
  bool rows_of_last_axis_ = false;
};

}  // namespace lrp
