#pragma once
// The matrix product of two computed values, C = A B per sample: A [..., M, K], B [..., K, P]
// with the same leading axes (attention: queries times keys, attention weights times values).
// LRP splits the relevance of C equally between the two factors (AttnLRP's uniform rule for
// bilinear products), each share by the epsilon rule. `gate` (0, 1, or -1 for none) names a
// factor that is a SoftMax output (the attention weights), which CP-LRP holds constant.
#include "lrp/graph/layer.hpp"

namespace lrp {

template <class T>
class MatMul final : public Layer<T> {
 public:
  explicit MatMul(int gate = -1) : gate_(gate) {}
  LayerKind kind() const override { return LayerKind::MatMul; }
  std::string type_name() const override { return "MatMul"; }
  std::string describe() const override {
    return gate_ < 0 ? "two computed factors" : "two computed factors, attention weights: input " + std::to_string(gate_ + 1);
  }
  int gate() const { return gate_; }
  std::size_t num_inputs() const override { return 2; }
  Shape output_shape(const std::vector<Shape>& in) const override;
  void forward(const TensorRefs<T>& in, Tensor<T>& out) const override;
  void backward(const TensorRefs<T>& in, const Tensor<T>& out, const Tensor<T>& dout,
                std::vector<Tensor<T>>& din) const override;
  std::unique_ptr<Layer<float>> to_float() const override { return std::make_unique<MatMul<float>>(gate_); }
  std::unique_ptr<Layer<double>> to_double() const override { return std::make_unique<MatMul<double>>(gate_); }

  // The matrices of a batch with full shapes a, b: their count and M, K, P.
  struct Dims {
    std::size_t count, m, k, p;
  };
  static Dims dims(const Shape& a, const Shape& b);

 private:
  int gate_;
};

}  // namespace lrp
