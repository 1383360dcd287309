#pragma once
// Layers with several inputs: the elementwise sum of residual connections, channel
// concatenation (DenseNet), the elementwise product of a gate and a signal, and the elementwise
// maximum or minimum (maxout).
#include "lrp/graph/layer.hpp"

namespace lrp {

template <class T>
class Add final : public Layer<T> {
 public:
  explicit Add(std::size_t inputs = 2) : inputs_(inputs) {}
  LayerKind kind() const override { return LayerKind::Add; }
  std::string type_name() const override { return "Add"; }
  std::string describe() const override { return std::to_string(inputs_) + " inputs"; }
  std::size_t num_inputs() const override { return inputs_; }
  Shape output_shape(const std::vector<Shape>& in) const override;
  void forward(const TensorRefs<T>& in, Tensor<T>& out) const override;
  // max(sum, 0) in the same pass(es): the sum followed by a ReLU, bit for bit. `out` may be
  // *in[0] itself (a summand nothing reads later), then the sum is formed in place.
  void forward_relu(const TensorRefs<T>& in, Tensor<T>& out) const;
  void backward(const TensorRefs<T>& in, const Tensor<T>& out, const Tensor<T>& dout,
                std::vector<Tensor<T>>& din) const override;
  std::unique_ptr<Layer<float>> to_float() const override { return std::make_unique<Add<float>>(inputs_); }
  std::unique_ptr<Layer<double>> to_double() const override { return std::make_unique<Add<double>>(inputs_); }

 private:
  void sum(const TensorRefs<T>& in, Tensor<T>& out, bool relu) const;
  std::size_t inputs_;
};

// Concatenation along a per-sample axis (0 = channels of [C,H,W]). Constant parts (one sample's
// shape, the same for every sample: a transformer's class token) may sit between the computed
// inputs; their relevance is not passed on, like a bias's.
template <class T>
class Concat final : public Layer<T> {
 public:
  struct Constant {
    std::size_t position;  // among all parts, computed and constant
    Tensor<T> value;
  };
  Concat(std::size_t inputs, std::size_t axis, std::vector<Constant> constants = {})
      : inputs_(inputs), axis_(axis), constants_(std::move(constants)) {}
  LayerKind kind() const override { return LayerKind::Concat; }
  std::string type_name() const override { return "Concat"; }
  std::string describe() const override {
    return std::to_string(inputs_) + " inputs" + (constants_.empty() ? "" : " and " + std::to_string(constants_.size()) + " constants") +
           ", axis " + std::to_string(axis_ + 1);
  }
  std::size_t num_inputs() const override { return inputs_; }
  Shape output_shape(const std::vector<Shape>& in) const override;
  void forward(const TensorRefs<T>& in, Tensor<T>& out) const override;
  // Routes slices of dout back to the inputs (also the relevance rule of Concat).
  void backward(const TensorRefs<T>& in, const Tensor<T>& out, const Tensor<T>& dout,
                std::vector<Tensor<T>>& din) const override;
  bool backward_from_shapes(const std::vector<Shape>& in_shapes, const Tensor<T>& dout, std::vector<Tensor<T>>& din) const override;
  std::vector<Tensor<T>*> params() override;
  std::vector<const Tensor<T>*> params() const override;
  std::unique_ptr<Layer<float>> to_float() const override { return converted<float>(); }
  std::unique_ptr<Layer<double>> to_double() const override { return converted<double>(); }

 private:
  template <class U>
  std::unique_ptr<Layer<U>> converted() const {
    std::vector<typename Concat<U>::Constant> c;
    for (const Constant& k : constants_) c.push_back({k.position, k.value.template cast<U>()});
    return std::make_unique<Concat<U>>(inputs_, axis_, std::move(c));
  }
  // Per part in order, the computed input's index or -1 for a constant (then `constant`).
  struct Part {
    long input;
    const Tensor<T>* constant;
  };
  std::vector<Part> parts() const;
  std::size_t inputs_, axis_;
  std::vector<Constant> constants_;
};

// The elementwise product of two computed values, one of which may be broadcast: its per-sample
// shape equals the other's on the leading axes and is 1 on the rest ([C,1,1] against [C,H,W]:
// squeeze-excitation; [1,1,1]: a scalar per sample). `gate` (0, 1, or -1 for none) names the
// factor that only scales the other, such as a sigmoid output: LRP treats it as a constant
// and gives all relevance to the other factor (x * sigmoid(x), SiLU, then passes relevance
// through like any activation); without a gate each factor gets half (docs/RULES.md).
template <class T>
class Mul final : public Layer<T> {
 public:
  explicit Mul(int gate = -1) : gate_(gate) {}
  LayerKind kind() const override { return LayerKind::Mul; }
  std::string type_name() const override { return "Mul"; }
  std::string describe() const override { return gate_ < 0 ? "no gate" : "gate: input " + std::to_string(gate_ + 1); }
  std::size_t num_inputs() const override { return 2; }
  Shape output_shape(const std::vector<Shape>& in) const override;
  void forward(const TensorRefs<T>& in, Tensor<T>& out) const override;
  void backward(const TensorRefs<T>& in, const Tensor<T>& out, const Tensor<T>& dout,
                std::vector<Tensor<T>>& din) const override;
  std::unique_ptr<Layer<float>> to_float() const override { return std::make_unique<Mul<float>>(gate_); }
  std::unique_ptr<Layer<double>> to_double() const override { return std::make_unique<Mul<double>>(gate_); }
  int gate() const { return gate_; }

 private:
  int gate_;
};

// Elementwise maximum (or minimum) of several computed values of one shape: ONNX Max / Min,
// Caffe's Eltwise MAX (maxout units). The gradient, and with it every rule's relevance, goes to
// the first input holding the extremum at each position, as max pooling routes it.
template <class T>
class Extremum final : public Layer<T> {
 public:
  Extremum(std::size_t inputs, bool minimum) : inputs_(inputs), minimum_(minimum) {}
  LayerKind kind() const override { return LayerKind::Extremum; }
  std::string type_name() const override { return minimum_ ? "Min" : "Max"; }
  std::string describe() const override { return std::to_string(inputs_) + " inputs"; }
  std::size_t num_inputs() const override { return inputs_; }
  Shape output_shape(const std::vector<Shape>& in) const override;
  void forward(const TensorRefs<T>& in, Tensor<T>& out) const override;
  void backward(const TensorRefs<T>& in, const Tensor<T>& out, const Tensor<T>& dout,
                std::vector<Tensor<T>>& din) const override;
  std::unique_ptr<Layer<float>> to_float() const override { return std::make_unique<Extremum<float>>(inputs_, minimum_); }
  std::unique_ptr<Layer<double>> to_double() const override { return std::make_unique<Extremum<double>>(inputs_, minimum_); }
  bool minimum() const { return minimum_; }

 private:
  std::size_t inputs_;
  bool minimum_;
};

}  // namespace lrp
