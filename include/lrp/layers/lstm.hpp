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
class Lstm final : public RecurrentLayer<T> {
 public:
  using Base = RecurrentLayer<T>;
  using Base::describe, Base::directions, Base::hidden_size, Base::initial_hidden, Base::input_size, Base::reversed;
  // w [dirs, 4H, D], r [dirs, 4H, H], b [dirs, 8H] (input bias, then recurrent bias); initial
  // states h0, c0 [dirs, B, H], or empty for zeros. Throws ShapeError on inconsistent shapes.
  Lstm(Tensor<T> w, Tensor<T> r, Tensor<T> b, Tensor<T> h0, Tensor<T> c0, RecurrentDirection direction);
  LayerKind kind() const override { return LayerKind::Lstm; }
  std::string type_name() const override { return "LSTM"; }
  void backward_saved(const Tensor<T>& x, const Tensor<T>* gate_inputs, const Tensor<T>& dout,
                      std::vector<Tensor<T>>& din) const override;
  std::size_t gate_input_width() const override { return 4 * hidden_size(); }
  std::size_t traced_per_unit() const override { return 8; }  // i, f, o, g, c, tanh(c), pre_g, h
  std::unique_ptr<Layer<float>> to_float() const override;
  std::unique_ptr<Layer<double>> to_double() const override;

  // Everything a forward pass computes, per [N, dirs, T, B, H] (time in the input's order).
  struct Trace {
    Tensor<T> i, f, o, g, c;  // gates, candidate, cell state
    Tensor<T> tanh_c;         // tanh(c)
    Tensor<T> pre_g;          // the candidate's pre-activation W_c x_t + R_c h_{t-1} + b_c
    Tensor<T> h;              // hidden state
    // Every step's gate inputs W x_t + R h_{t-1} + b (i, o, f, c), [dirs, T, N * B, 4H]; empty
    // when the trace was given them.
    Tensor<T> gate_inputs;
  };
  // With `gate_inputs` saved by forward_saving for x, the trace needs no matrix product.
  // `states_only`: only h and the gate inputs (what the forward needs).
  Trace trace(const Tensor<T>& x, const Tensor<T>* gate_inputs = nullptr, bool states_only = false) const;
  // The candidate's affine map of direction d, [x_t, h_{t-1}] -> pre_g: weight [H, D + H] =
  // [W_c | R_c], bias b_c; the LRP rules apply to it as to a dense layer.
  const Linear<T>& candidate(std::size_t d) const { return candidates_.at(d); }
  // The cell state c_{t-1} before the first step of direction d for sequence b.
  const T* initial_cell(std::size_t d, std::size_t b) const;

 private:
  using Base::b_, Base::check_input, Base::direction_, Base::h0_, Base::r_, Base::w_;
  Tensor<T> hidden_states(const Tensor<T>& x, Tensor<T>* gate_inputs) const override { return states_from_trace(*this, x, gate_inputs); }
  std::size_t state_sequences() const override;
  Tensor<T> c0_;
  std::vector<Linear<T>> candidates_;
};

}  // namespace lrp
