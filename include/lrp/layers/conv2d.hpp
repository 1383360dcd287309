#pragma once
// 2-D convolution (cross-correlation) on NCHW tensors with OIHW weights [out, in/groups, kh, kw],
// strides, padding, dilation and groups (depthwise when groups == in channels).
#include "lrp/layers/affine.hpp"
#include "lrp/layers/conv_geometry.hpp"

namespace lrp {

template <class T>
class Conv2d final : public AffineLayer<T> {
 public:
  Conv2d(Tensor<T> weight, Tensor<T> bias, Window2d window, std::size_t groups = 1);
  // Drops the fast kernels' cached copies of the weights (see src/kernels/dnnl_conv.hpp).
  ~Conv2d() override;
  LayerKind kind() const override { return LayerKind::Conv2d; }
  std::string type_name() const override { return "Convolution"; }
  std::string describe() const override;
  Shape output_shape(const std::vector<Shape>& in) const override;

  const Window2d& window() const { return window_; }
  std::size_t groups() const { return groups_; }
  std::size_t in_channels() const { return weight_.dim(1) * groups_; }
  std::size_t out_channels() const { return weight_.dim(0); }

  const Tensor<T>& weight() const override { return weight_; }
  const Tensor<T>& bias() const override { return bias_; }
  void apply(const Tensor<T>& x, const Tensor<T>& w, const Tensor<T>* b, Tensor<T>& z) const override;
  // forward() followed by a ReLU, in one pass where the fast kernel runs it (the Executor fuses
  // a convolution whose output nothing but a ReLU reads).
  void forward_relu(const Tensor<T>& x, Tensor<T>& out) const;
  void apply_transposed(const Tensor<T>& g, const Tensor<T>& w, const Shape& x_shape, Tensor<T>& dx) const override;
  // float: oneDNN maps its own cached copy of the weights (no W' tensor is materialised).
  void apply_mapped(const Tensor<T>& x, WeightMap map, T param, const typename AffineLayer<T>::PlainWeights& plain,
                    const Tensor<T>* b, Tensor<T>& z) const override;
  void apply_transposed_mapped(const Tensor<T>& g, WeightMap map, T param, const typename AffineLayer<T>::PlainWeights& plain,
                               const Shape& x_shape, Tensor<T>& dx) const override;
  // float: the single-channel kernels' pair pass (kernels/conv_single_channel.hpp).
  bool apply_transposed_pair(const Tensor<T>& g, const typename AffineLayer<T>::PlainWeights& w1,
                             const typename AffineLayer<T>::PlainWeights& w2, const Shape& x_shape, Tensor<T>& dx1,
                             Tensor<T>& dx2) const override;
  bool mapped_passes_exact(const Shape& x_shape) const override;

  std::vector<Tensor<T>*> params() override { return {&weight_, &bias_}; }
  std::vector<const Tensor<T>*> params() const override { return {&weight_, &bias_}; }
  void param_grads(const TensorRefs<T>& in, const Tensor<T>& dout, std::vector<Tensor<T>>& grads) const override;

  std::unique_ptr<Layer<float>> to_float() const override;
  std::unique_ptr<Layer<double>> to_double() const override;

 private:
  Tensor<T> weight_;  // [out, in/groups, kh, kw]
  Tensor<T> bias_;    // [out]
  Window2d window_;
  std::size_t groups_;
};

}  // namespace lrp
