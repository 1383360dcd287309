#pragma once
// Simple (Elman) recurrent layer (ONNX RNN, PyTorch nn.RNN) over x [T, B, D] per sample (shapes
// and directions: lrp/layers/recurrent.hpp): per direction h_t = f(W x_t + R h_{t-1} + b) with f
// tanh or ReLU (b = the input bias plus the recurrent one). Output Y [T, dirs, B, H].
// LRP (rules/recurrent_rules.cpp): f passes relevance on, as activations do; the affine map
// [x_t, h_{t-1}] -> W x_t + R h_{t-1} + b gives x_t and h_{t-1} their shares under the rule.
#include <vector>

#include "lrp/layers/linear.hpp"
#include "lrp/layers/recurrent.hpp"

namespace lrp {

enum class RnnActivation { Tanh, Relu };

template <class T>
class Rnn final : public RecurrentLayer<T> {
 public:
  using Base = RecurrentLayer<T>;
  using Base::directions, Base::hidden_size, Base::initial_hidden, Base::input_size, Base::reversed;
  // w [dirs, H, D], r [dirs, H, H], b [dirs, 2H] (input bias, then recurrent bias); initial state
  // h0 [dirs, B, H], or empty for zeros. Throws ShapeError on inconsistent shapes.
  Rnn(Tensor<T> w, Tensor<T> r, Tensor<T> b, Tensor<T> h0, RecurrentDirection direction, RnnActivation activation);
  LayerKind kind() const override { return LayerKind::Rnn; }
  std::string type_name() const override { return "RNN"; }
  std::string describe() const override;
  void backward_saved(const Tensor<T>& x, const Tensor<T>* gate_inputs, const Tensor<T>& dout,
                      std::vector<Tensor<T>>& din) const override;
  std::size_t gate_input_width() const override { return hidden_size(); }
  std::size_t traced_per_unit() const override { return 2; }  // pre, h
  std::unique_ptr<Layer<float>> to_float() const override;
  std::unique_ptr<Layer<double>> to_double() const override;
  RnnActivation activation() const { return activation_; }

  // Everything a forward pass computes, per [N, dirs, T, B, H] (time in the input's order).
  struct Trace {
    Tensor<T> pre;  // W x_t + R h_{t-1} + b
    Tensor<T> h;    // hidden state f(pre)
    // pre again, as [dirs, T, N * B, H] (the gate inputs forward_saving saves); empty when the
    // trace was given them.
    Tensor<T> gate_inputs;
  };
  // With `gate_inputs` saved by forward_saving for x, the trace needs no matrix product.
  // `states_only`: only h and the gate inputs (what the forward needs).
  Trace trace(const Tensor<T>& x, const Tensor<T>* gate_inputs = nullptr, bool states_only = false) const;
  // The affine map of direction d, [x_t, h_{t-1}] -> pre: weight [H, D + H] = [W | R], bias b.
  const Linear<T>& affine_map(std::size_t d) const { return maps_.at(d); }

 private:
  using Base::b_, Base::check_input, Base::direction_, Base::h0_, Base::r_, Base::w_;
  Tensor<T> hidden_states(const Tensor<T>& x, Tensor<T>* gate_inputs) const override { return states_from_trace(*this, x, gate_inputs); }
  RnnActivation activation_;
  std::vector<Linear<T>> maps_;
};

}  // namespace lrp
