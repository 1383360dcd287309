#pragma once
// Gated recurrent unit (ONNX GRU, PyTorch nn.GRU) over x [T, B, D] per sample (shapes and
// directions: lrp/layers/recurrent.hpp). Per direction, with the gates in ONNX's order z, r, h:
//   z = sigmoid(W_z x_t + R_z h_{t-1} + b_z),  r likewise,  a = W_h x_t + Wb_h,
//   linear_before_reset = 1 (PyTorch's, Keras's reset_after):  b = R_h h_{t-1} + Rb_h,  n = tanh(a + r * b),
//   linear_before_reset = 0 (ONNX's default):  b = R_h (r * h_{t-1}) + Rb_h,  n = tanh(a + b),
//   h_t = (1 - z) * n + z * h_{t-1}
// (b_z, b_r: the input bias plus the recurrent one). Output Y [T, dirs, B, H]: every h_t.
// LRP (rules/recurrent_rules.cpp): the gates z and r are held constant; h_t's relevance splits
// between (1 - z) * n and z * h_{t-1} in proportion, n's between a and r * b (or b), and a's and
// b's reach x_t and h_{t-1} (or r * h_{t-1}, all of whose relevance h_{t-1} takes) through the
// input and recurrent affine maps under the rule.
#include <vector>

#include "lrp/graph/layer.hpp"
#include "lrp/layers/linear.hpp"
#include "lrp/layers/recurrent.hpp"

namespace lrp {

template <class T>
class Gru final : public RecurrentLayer<T> {
 public:
  using Base = RecurrentLayer<T>;
  using Base::directions, Base::hidden_size, Base::initial_hidden, Base::input_size, Base::reversed;
  // w [dirs, 3H, D], r [dirs, 3H, H], b [dirs, 6H] (input bias, then recurrent bias); initial
  // state h0 [dirs, B, H], or empty for zeros. Throws ShapeError on inconsistent shapes.
  Gru(Tensor<T> w, Tensor<T> r, Tensor<T> b, Tensor<T> h0, RecurrentDirection direction, bool linear_before_reset = true);
  LayerKind kind() const override { return LayerKind::Gru; }
  std::string type_name() const override { return "GRU"; }
  std::string describe() const override;  // "5 -> 6, forward" (and ", reset before R" for linear_before_reset 0)
  bool linear_before_reset() const { return linear_before_reset_; }
  void backward_saved(const Tensor<T>& x, const Tensor<T>* gate_inputs, const Tensor<T>& dout,
                      std::vector<Tensor<T>>& din) const override;
  std::size_t gate_input_width() const override { return 4 * hidden_size(); }
  std::size_t traced_per_unit() const override { return 6; }  // z, r, a, b, n, h
  std::unique_ptr<Layer<float>> to_float() const override;
  std::unique_ptr<Layer<double>> to_double() const override;

  // Everything a forward pass computes, per [N, dirs, T, B, H] (time in the input's order).
  struct Trace {
    Tensor<T> z, r, n;  // gates and candidate
    Tensor<T> a, b;     // the candidate's input term W_h x_t + Wb_h and recurrent term R_h h_{t-1} + Rb_h (or R_h (r * h_{t-1}) + Rb_h)
    Tensor<T> h;        // hidden state
    // Every step's gate inputs: z's and r's pre-activations, a and b, [dirs, T, N * B, 4H]; empty
    // when the trace was given them.
    Tensor<T> gate_inputs;
  };
  // With `gate_inputs` saved by forward_saving for x, the trace needs no matrix product.
  // `states_only`: only h and the gate inputs (what the forward needs).
  Trace trace(const Tensor<T>& x, const Tensor<T>* gate_inputs = nullptr, bool states_only = false) const;
  // The candidate's two affine maps of direction d: x_t -> a (weight W_h, bias Wb_h) and
  // h_{t-1} (or r * h_{t-1}) -> b (R_h, Rb_h); the LRP rules apply to them as to dense layers.
  const Linear<T>& input_map(std::size_t d) const { return input_maps_.at(d); }
  const Linear<T>& recurrent_map(std::size_t d) const { return recurrent_maps_.at(d); }

 private:
  using Base::b_, Base::check_input, Base::direction_, Base::h0_, Base::r_, Base::w_;
  Tensor<T> hidden_states(const Tensor<T>& x, Tensor<T>* gate_inputs) const override { return states_from_trace(*this, x, gate_inputs); }
  std::vector<Linear<T>> input_maps_, recurrent_maps_;
  bool linear_before_reset_;
};

}  // namespace lrp
