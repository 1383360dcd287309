#pragma once
// 2-D transposed convolution (ONNX ConvTranspose, PyTorch ConvTranspose2d) on NCHW tensors
// with weights [in, out/groups, kh, kw]: the adjoint of the Conv2d that maps the output back
// to the input with the same window. Forward is that convolution's backward-data pass plus
// the bias, and the transposed map every LRP rule needs is its forward pass, so both run on
// the convolution kernels. Output size per axis: stride (in - 1) + dilation (k - 1) + 1 -
// pad_begin - pad_end + output_padding (the extra rows/columns at the end get the bias only).
#include "lrp/layers/affine.hpp"
#include "lrp/layers/conv_geometry.hpp"

namespace lrp {

template <class T>
class ConvTranspose2d final : public AffineLayer<T> {
 public:
  ConvTranspose2d(Tensor<T> weight, Tensor<T> bias, Window2d window, std::size_t groups = 1, std::size_t output_pad_h = 0,
                  std::size_t output_pad_w = 0);
  // Drops the fast kernels' cached copies of the weights (see src/kernels/dnnl_conv.hpp).
  ~ConvTranspose2d() override;
  LayerKind kind() const override { return LayerKind::ConvTranspose2d; }
  std::string type_name() const override { return "ConvTranspose"; }
  std::string describe() const override;
  Shape output_shape(const std::vector<Shape>& in) const override;

  const Window2d& window() const { return window_; }
  std::size_t groups() const { return groups_; }
  std::size_t in_channels() const { return weight_.dim(0); }
  std::size_t out_channels() const { return weight_.dim(1) * groups_; }

  const Tensor<T>& weight() const override { return weight_; }
  const Tensor<T>& bias() const override { return bias_; }
  void apply(const Tensor<T>& x, const Tensor<T>& w, const Tensor<T>* b, Tensor<T>& z) const override;
  void apply_transposed(const Tensor<T>& g, const Tensor<T>& w, const Shape& x_shape, Tensor<T>& dx) const override;
  // float: oneDNN maps its own cached copy of the weights, as for Conv2d.
  void apply_mapped(const Tensor<T>& x, WeightMap map, T param, const typename AffineLayer<T>::PlainWeights& plain,
                    const Tensor<T>* b, Tensor<T>& z) const override;
  void apply_transposed_mapped(const Tensor<T>& g, WeightMap map, T param, const typename AffineLayer<T>::PlainWeights& plain,
                               const Shape& x_shape, Tensor<T>& dx) const override;
  bool mapped_passes_exact(const Shape& x_shape) const override;

  std::vector<Tensor<T>*> params() override { return {&weight_, &bias_}; }
  std::vector<const Tensor<T>*> params() const override { return {&weight_, &bias_}; }
  void param_grads(const TensorRefs<T>& in, const Tensor<T>& dout, std::vector<Tensor<T>>& grads) const override;

  std::unique_ptr<Layer<float>> to_float() const override;
  std::unique_ptr<Layer<double>> to_double() const override;

 private:
  Tensor<T> weight_;  // [in, out/groups, kh, kw]
  Tensor<T> bias_;    // [out]
  Window2d window_;
  std::size_t groups_;
  std::size_t output_pad_h_, output_pad_w_;
};

}  // namespace lrp
