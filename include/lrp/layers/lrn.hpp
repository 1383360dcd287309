#pragma once
// Local response normalisation across channels (AlexNet, CaffeNet, GoogLeNet; ONNX LRN, Caffe's
// ACROSS_CHANNELS LRN) on [N, C, ...]: y_c = x_c / (k + alpha / size * sum_{c' in W(c)} x_c'^2)^beta
// with W(c) = [c - floor((size-1)/2), c + ceil((size-1)/2)] clipped to [0, C), at every other
// position. PyTorch's LocalResponseNorm centres even windows one channel lower.
// LRP: Pass for every LRP rule (Binder et al. 2016, the LRP Toolbox's Caffe code); gradient
// methods take the exact gradient, cross-channel terms included.
#include "lrp/graph/layer.hpp"

namespace lrp {

template <class T>
class LocalResponseNorm final : public Layer<T> {
 public:
  // Throws ConfigError unless size >= 1, alpha >= 0, k > 0 (so the base is positive) and all finite.
  LocalResponseNorm(std::size_t size, double alpha, double beta, double k);
  LayerKind kind() const override { return LayerKind::LRN; }
  std::string type_name() const override { return "LRN"; }
  std::string describe() const override;
  Shape output_shape(const std::vector<Shape>& in) const override;
  void forward(const TensorRefs<T>& in, Tensor<T>& out) const override;
  void backward(const TensorRefs<T>& in, const Tensor<T>& out, const Tensor<T>& dout,
                std::vector<Tensor<T>>& din) const override;
  std::unique_ptr<Layer<float>> to_float() const override;
  std::unique_ptr<Layer<double>> to_double() const override;
  std::size_t size() const { return size_; }
  double alpha() const { return alpha_; }
  double beta() const { return beta_; }
  double k() const { return k_; }

 private:
  std::size_t size_;
  double alpha_, beta_, k_;
};

}  // namespace lrp
