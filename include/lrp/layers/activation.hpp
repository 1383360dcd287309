#pragma once
// Elementwise activations. For LRP they pass relevance through unchanged (Pass rule); their
// derivative is used by gradient methods and training.
#include "lrp/graph/layer.hpp"

namespace lrp {

// HardSigmoid(x) = clamp(alpha x + beta, 0, 1); HardSwish(x) = x HardSigmoid(x) with alpha 1/6,
// beta 1/2 (MobileNetV3). Gelu(x) = x Phi(x) = x (1 + erf(x / sqrt 2)) / 2, GeluTanh its tanh
// approximation x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) / 2 (ONNX Gelu, approximate "tanh").
// Elu(x) = x for x > 0, alpha (exp(x) - 1) else; Selu = gamma Elu; Softplus(x) = log(1 + exp(x));
// Softsign(x) = x / (1 + |x|); Power(x) = x^p for an integer p >= 1 (ONNX Pow by a constant: the
// x^3 of GELU's tanh approximation written out).
enum class ActivationKind {
  ReLU, LeakyReLU, Tanh, Sigmoid, Clip, HardSigmoid, HardSwish, Erf, Gelu, GeluTanh, Elu, Selu, Softplus, Softsign, Power
};

struct ActivationSpec {
  ActivationKind kind = ActivationKind::ReLU;
  double alpha = 0.01;  // LeakyReLU slope; HardSigmoid slope; Elu, Selu: alpha
  double lo = 0.0, hi = 6.0;  // Clip bounds (ReLU6: 0, 6)
  double beta = 0.5;    // HardSigmoid offset
  double gamma = 1.0;   // Selu scale
  int exponent = 1;     // Power
};

template <class T>
class Activation final : public Layer<T> {
 public:
  explicit Activation(ActivationSpec spec) : spec_(spec) {}
  LayerKind kind() const override { return LayerKind::Activation; }
  std::string type_name() const override;
  std::string describe() const override;
  Shape output_shape(const std::vector<Shape>& in) const override { return in.at(0); }
  void forward(const TensorRefs<T>& in, Tensor<T>& out) const override;
  void backward(const TensorRefs<T>& in, const Tensor<T>& out, const Tensor<T>& dout,
                std::vector<Tensor<T>>& din) const override;
  std::unique_ptr<Layer<float>> to_float() const override { return std::make_unique<Activation<float>>(spec_); }
  std::unique_ptr<Layer<double>> to_double() const override { return std::make_unique<Activation<double>>(spec_); }
  const ActivationSpec& spec() const { return spec_; }
  bool is_relu() const { return spec_.kind == ActivationKind::ReLU; }

 private:
  ActivationSpec spec_;
};

// SoftMax over the last axis (max-subtracted, so large logits do not overflow): the features of
// [N, D], or the rows of attention scores [N, heads, queries, keys].
template <class T>
class SoftMax final : public Layer<T> {
 public:
  LayerKind kind() const override { return LayerKind::SoftMax; }
  std::string type_name() const override { return "SoftMax"; }
  std::string describe() const override { return ""; }
  Shape output_shape(const std::vector<Shape>& in) const override;
  void forward(const TensorRefs<T>& in, Tensor<T>& out) const override;
  void backward(const TensorRefs<T>& in, const Tensor<T>& out, const Tensor<T>& dout,
                std::vector<Tensor<T>>& din) const override;
  std::unique_ptr<Layer<float>> to_float() const override { return std::make_unique<SoftMax<float>>(); }
  std::unique_ptr<Layer<double>> to_double() const override { return std::make_unique<SoftMax<double>>(); }
};

}  // namespace lrp
