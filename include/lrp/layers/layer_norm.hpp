#pragma once
// Layer normalisation over the last axis of [N, ..., D] (ONNX LayerNormalization with axis -1,
// PyTorch nn.LayerNorm(D)): y = (x - mean) / sqrt(var + eps) * gamma + beta per row of D. Without
// centring it is RMSNorm (Llama): y = x / sqrt(mean(x^2) + eps) * gamma + beta.
// LRP: Pass by default (as BatchNorm in the composites); epsilon (and z, norm) treat the
// normalisation as the linear map it is for a fixed standard deviation, the LN-rule of Ali et
// al. (ICML 2022): R_i = x_i / sigma * (gamma_i s_i - mean_c(gamma_c s_c)), s = R / stab(y)
// (RMSNorm: R_i = x_i / rms * gamma_i s_i, AttnLRP's rule for it).
#include "lrp/graph/layer.hpp"

namespace lrp {

template <class T>
class LayerNorm final : public Layer<T> {
 public:
  LayerNorm(Tensor<T> gamma, Tensor<T> beta, double eps, bool centered = true);
  LayerKind kind() const override { return LayerKind::LayerNorm; }
  std::string type_name() const override { return centered_ ? "LayerNorm" : "RMSNorm"; }
  std::string describe() const override;
  Shape output_shape(const std::vector<Shape>& in) const override;
  void forward(const TensorRefs<T>& in, Tensor<T>& out) const override;
  void backward(const TensorRefs<T>& in, const Tensor<T>& out, const Tensor<T>& dout,
                std::vector<Tensor<T>>& din) const override;
  std::vector<Tensor<T>*> params() override { return {&gamma_, &beta_}; }
  std::vector<const Tensor<T>*> params() const override { return {&gamma_, &beta_}; }
  std::unique_ptr<Layer<float>> to_float() const override;
  std::unique_ptr<Layer<double>> to_double() const override;
  const Tensor<T>& gamma() const { return gamma_; }
  const Tensor<T>& beta() const { return beta_; }
  double eps() const { return eps_; }
  // false: RMSNorm (no mean subtracted).
  bool centered() const { return centered_; }
  // 1 / sqrt(var + eps) (RMSNorm: 1 / sqrt(mean(x^2) + eps)) of every row of D entries of x.
  std::vector<T> inverse_std(const Tensor<T>& x) const;

 private:
  Tensor<T> gamma_, beta_;
  double eps_;
  bool centered_;
};

}  // namespace lrp
