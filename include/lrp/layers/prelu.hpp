#pragma once
// Parametric ReLU (He et al. 2015; PyTorch's nn.PReLU, ONNX PRelu) on [N, C, ...] or [N, D]:
// y = x for x >= 0, y = a_c x for x < 0, with one learned slope a_c per channel (axis 1) or
// one slope shared by every element. Its gradient at x == 0 is that of the x > 0 branch, as
// for LeakyReLU here (PyTorch 1.13 takes a dy at exactly 0; the two agree everywhere else).
// LRP: Pass for every LRP rule, like the ReLU family; gradient methods, deconvnet and guided
// backprop take its exact gradient (as for LeakyReLU).
#include "lrp/graph/layer.hpp"

namespace lrp {

template <class T>
class PRelu final : public Layer<T> {
 public:
  // slopes: 1 element (shared) or C (per channel), any shape; kept as a 1-D tensor. Throws
  // ConfigError when it is empty or a slope is not finite.
  explicit PRelu(Tensor<T> slopes);
  LayerKind kind() const override { return LayerKind::PRelu; }
  std::string type_name() const override { return "PRelu"; }
  std::string describe() const override;
  Shape output_shape(const std::vector<Shape>& in) const override;
  void forward(const TensorRefs<T>& in, Tensor<T>& out) const override;
  void backward(const TensorRefs<T>& in, const Tensor<T>& out, const Tensor<T>& dout,
                std::vector<Tensor<T>>& din) const override;
  // The slopes, as BatchNorm exposes its scale and shift; no parameter gradients (training keeps
  // them fixed, as it keeps a BatchNorm's).
  std::vector<Tensor<T>*> params() override { return {&slopes_}; }
  std::vector<const Tensor<T>*> params() const override { return {&slopes_}; }
  std::unique_ptr<Layer<float>> to_float() const override;
  std::unique_ptr<Layer<double>> to_double() const override;
  const Tensor<T>& slopes() const { return slopes_; }
  bool shared() const { return slopes_.size() == 1; }

 private:
  Tensor<T> slopes_;
};

}  // namespace lrp
