#pragma once
// A lookup table: token ids [N, L] (integers held as numbers) → their rows of `table` [V, D],
// [N, L, D]. The first layer of a text transformer (ONNX Gather on a constant table). The ids
// carry no gradient; what flows back to a token is its row's share: the relevance summed over
// the row (LRP), or the gradient times the row, summed (gradient methods; what LXT reports per
// token).
#include "lrp/graph/layer.hpp"

namespace lrp {

template <class T>
class Embedding final : public Layer<T> {
 public:
  explicit Embedding(Tensor<T> table);
  LayerKind kind() const override { return LayerKind::Embedding; }
  std::string type_name() const override { return "Embedding"; }
  std::string describe() const override;
  Shape output_shape(const std::vector<Shape>& in) const override;
  // Throws NumericError for an id that is not an integer in [0, V).
  void forward(const TensorRefs<T>& in, Tensor<T>& out) const override;
  // Per token: sum over the row of dout times the token's row (gradient times embedding).
  void backward(const TensorRefs<T>& in, const Tensor<T>& out, const Tensor<T>& dout,
                std::vector<Tensor<T>>& din) const override;
  std::vector<Tensor<T>*> params() override { return {&table_}; }
  std::vector<const Tensor<T>*> params() const override { return {&table_}; }
  std::unique_ptr<Layer<float>> to_float() const override { return std::make_unique<Embedding<float>>(table_.template cast<float>()); }
  std::unique_ptr<Layer<double>> to_double() const override { return std::make_unique<Embedding<double>>(table_.template cast<double>()); }
  const Tensor<T>& table() const { return table_; }

 private:
  Tensor<T> table_;
};

}  // namespace lrp
