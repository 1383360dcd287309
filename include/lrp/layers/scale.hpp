#pragma once
// y = x * k elementwise, with a constant k of one sample's shape, the same for every sample: the
// cosines and sines of rotary position embeddings (Llama). A linear map without bias: LRP rules
// pass the relevance on unchanged (where k is not 0), gradients are scaled by k.
#include "lrp/graph/layer.hpp"

namespace lrp {

template <class T>
class Scale final : public Layer<T> {
 public:
  explicit Scale(Tensor<T> factor);
  LayerKind kind() const override { return LayerKind::Scale; }
  std::string type_name() const override { return "Scale"; }
  std::string describe() const override { return shape_str(factor_.shape()); }
  Shape output_shape(const std::vector<Shape>& in) const override;
  void forward(const TensorRefs<T>& in, Tensor<T>& out) const override;
  void backward(const TensorRefs<T>& in, const Tensor<T>& out, const Tensor<T>& dout,
                std::vector<Tensor<T>>& din) const override;
  std::unique_ptr<Layer<float>> to_float() const override { return std::make_unique<Scale<float>>(factor_.template cast<float>()); }
  std::unique_ptr<Layer<double>> to_double() const override { return std::make_unique<Scale<double>>(factor_.template cast<double>()); }
  const Tensor<T>& factor() const { return factor_; }
  // LRP's relevance: r where k != 0, 0 where k == 0 (r of any number of samples), in place.
  void pass_relevance(Tensor<T>& r) const;

 private:
  Tensor<T> factor_;  // one sample's shape
};

}  // namespace lrp
