#pragma once
// y = x where a constant mask keeps it, a constant fill value elsewhere (ONNX Where with a
// constant condition: a decoder's causal mask, `scores.masked_fill(mask == 0, -inf)`). The mask
// and the fill have one sample's shape and are the same for every sample. Relevance and
// gradient reach x only where it is kept; a filled entry is a constant, whose share (as a
// bias's) is not passed on. Fill values may be infinite (-inf before a SoftMax), not NaN.
#include "lrp/graph/layer.hpp"

namespace lrp {

template <class T>
class MaskedFill final : public Layer<T> {
 public:
  // keep: 1 where x passes, 0 where fill is written; both of one sample's shape.
  MaskedFill(Tensor<T> keep, Tensor<T> fill);
  LayerKind kind() const override { return LayerKind::MaskedFill; }
  std::string type_name() const override { return "MaskedFill"; }
  std::string describe() const override;
  Shape output_shape(const std::vector<Shape>& in) const override;
  void forward(const TensorRefs<T>& in, Tensor<T>& out) const override;
  void backward(const TensorRefs<T>& in, const Tensor<T>& out, const Tensor<T>& dout,
                std::vector<Tensor<T>>& din) const override;
  std::unique_ptr<Layer<float>> to_float() const override {
    return std::make_unique<MaskedFill<float>>(keep_.template cast<float>(), fill_.template cast<float>());
  }
  std::unique_ptr<Layer<double>> to_double() const override {
    return std::make_unique<MaskedFill<double>>(keep_.template cast<double>(), fill_.template cast<double>());
  }
  const Tensor<T>& keep() const { return keep_; }
  const Tensor<T>& fill() const { return fill_; }
  // t[i] = 0 wherever the mask fills, for t of any number of samples (rows of the sample size).
  void zero_filled(Tensor<T>& t) const;

 private:
  Tensor<T> keep_, fill_;
};

}  // namespace lrp
