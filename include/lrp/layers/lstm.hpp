#pragma once
// Long short-term memory (ONNX LSTM, PyTorch nn.LSTM) over x [T, B, D] per sample (shapes and
// directions: lrp/layers/recurrent.hpp). Per direction, with the gates in ONNX's order i, o, f, c:
//   i = sigmoid(W_i x_t + R_i h_{t-1} + b_i), o and f likewise, g = tanh(W_c x_t + R_c h_{t-1} + b_c),
//   c_t = f * c_{t-1} + i * g,  h_t = o * tanh(c_t)
// (b = the input bias plus the recurrent one). Output Y [T, dirs, B, H]: every h_t.
// LRP (rules/recurrent_rules.cpp, Arras et al. 2017): the gates i, f, o are held constant and
// take no relevance; h_t's relevance goes to c_t, c_t's splits between f * c_{t-1} and i * g in
// proportion, and g's reaches x_t and h_{t-1} through the candidate's affine map under the rule.
#include <vector>

#include "lrp/graph/layer.hpp"
#include "lrp/layers/linear.hpp"
#include "lrp/layers/recurrent.hpp"

namespace lrp {

template <class T>
class Lstm final : public Layer<T> {
 public:
  // w [dirs, 4H, D], r [dirs, 4H, H], b [dirs, 8H] (input bias, then recurrent bias); initial
  // states h0, c0 [dirs, B, H], or empty for zeros. Throws ShapeError on inconsistent shapes.
  Lstm(Tensor<T> w, Tensor<T> r, Tensor<T> b, Tensor<T> h0, Tensor<T> c0, RecurrentDirection direction);
  LayerKind kind() const override { return LayerKind::Lstm; }
  std::string type_name() const override { return "LSTM"; }
  std::string describe() const override;
  Shape output_shape(const std::vector<Shape>& in) const override;
  void forward(const TensorRefs<T>& in, Tensor<T>& out) const override;
  // Backpropagation through time; recomputes the gates from the input (`out` is not read).
  void backward(const TensorRefs<T>& in, const Tensor<T>& out, const Tensor<T>& dout,
                std::vector<Tensor<T>>& din) const override;
  std::vector<Tensor<T>*> params() override { return {&w_, &r_, &b_}; }
  std::vector<const Tensor<T>*> params() const override { return {&w_, &r_, &b_}; }
  std::unique_ptr<Layer<float>> to_float() const override;
  std::unique_ptr<Layer<double>> to_double() const override;

  std::size_t directions() const { return w_.dim(0); }
  std::size_t hidden_size() const { return r_.dim(2); }
  std::size_t input_size() const { return w_.dim(2); }
  RecurrentDirection direction() const { return direction_; }
  // Whether direction d runs from the last time step down.
  bool reversed(std::size_t d) const { return runs_reversed(direction_, d); }

  // Everything a forward pass computes, per [N, dirs, T, B, H] (time in the input's order).
  struct Trace {
    Tensor<T> i, f, o, g, c;  // gates, candidate, cell state
    Tensor<T> pre_g;          // the candidate's pre-activation W_c x_t + R_c h_{t-1} + b_c
    Tensor<T> h;              // hidden state
  };
  Trace trace(const Tensor<T>& x) const;
  // The candidate's affine map of direction d, [x_t, h_{t-1}] -> pre_g: weight [H, D + H] =
  // [W_c | R_c], bias b_c; the LRP rules apply to it as to a dense layer.
  const Linear<T>& candidate(std::size_t d) const { return candidates_.at(d); }
  // The state h_{t-1} (or c_{t-1}) before step t of direction d for sequence b of sample n.
  const T* initial_hidden(std::size_t d, std::size_t b) const;
  const T* initial_cell(std::size_t d, std::size_t b) const;

 private:
  void check_input(const Shape& x) const;  // [N, T, B, D]
  Tensor<T> w_, r_, b_, h0_, c0_;
  RecurrentDirection direction_;
  std::vector<Linear<T>> candidates_;
  std::vector<T> zeros_;  // H zeros: the initial state when none is given
};

}  // namespace lrp
