#pragma once
// What the recurrent layers (Lstm, Gru, Rnn) share. All run over x [T, B, D] per sample: T time
// steps of B sequences (ONNX's layout 0; a model run as a batch of one has B = 1), and give
// Y [T, dirs, B, H], every step's hidden state; ONNX's Y_h is sliced from it by the importer.
// The reverse direction runs from t = T-1 down; a bidirectional layer's second direction is the
// reverse one. Weights as ONNX stores them: W [dirs, G*H, D], R [dirs, G*H, H], B [dirs, 2*G*H]
// (input bias, then recurrent bias) for G gates.
#include <cstddef>
#include <string>
#include <vector>

#include "lrp/graph/layer.hpp"

namespace lrp {

enum class RecurrentDirection { Forward, Reverse, Bidirectional };
const char* recurrent_direction_name(RecurrentDirection d);
inline std::size_t direction_count(RecurrentDirection d) { return d == RecurrentDirection::Bidirectional ? 2 : 1; }
// Whether direction index d (0, or 1 of a bidirectional layer) runs from the last step down.
inline bool runs_reversed(RecurrentDirection d, std::size_t index) { return d == RecurrentDirection::Reverse || index == 1; }
// An initial state in another precision; an absent one (zeros) stays absent.
template <class U, class T>
Tensor<U> initial_state_as(const Tensor<T>& s) {
  return s.empty() ? Tensor<U>() : s.template cast<U>();
}

// A cell's hidden_states from its trace (Trace with h and gate_inputs): the states only, and
// the gate inputs moved to `gate_inputs` when asked for.
template <class Cell, class T>
Tensor<T> states_from_trace(const Cell& cell, const Tensor<T>& x, Tensor<T>* gate_inputs) {
  typename Cell::Trace tr = cell.trace(x, nullptr, true);
  if (gate_inputs) *gate_inputs = std::move(tr.gate_inputs);
  return std::move(tr.h);
}

template <class T>
class RecurrentLayer : public Layer<T> {
 public:
  std::string describe() const override;  // "5 -> 6, bidirectional"
  Shape output_shape(const std::vector<Shape>& in) const override;
  void forward(const TensorRefs<T>& in, Tensor<T>& out) const override;
  // Saves every step's gate inputs (see gate_inputs_shape), from which a trace needs no matrix
  // product: the LRP and gradient sweeps then do not redo the forward's work.
  void forward_saving(const TensorRefs<T>& in, Tensor<T>& out, Tensor<T>& saved) const override;
  // Backpropagation through time, recomputing the forward's gate inputs.
  void backward(const TensorRefs<T>& in, const Tensor<T>& out, const Tensor<T>& dout,
                std::vector<Tensor<T>>& din) const override;
  // The same from the gate inputs forward_saving saved for x (nullptr: recomputed).
  virtual void backward_saved(const Tensor<T>& x, const Tensor<T>* gate_inputs, const Tensor<T>& dout,
                              std::vector<Tensor<T>>& din) const = 0;
  // The gate inputs; the trace (traced_per_unit() values per hidden unit and step).
  std::size_t saved_numel(const std::vector<Shape>& inputs) const override;
  std::size_t transient_numel(const std::vector<Shape>& inputs) const override;
  std::vector<Tensor<T>*> params() override { return {&w_, &r_, &b_}; }
  std::vector<const Tensor<T>*> params() const override { return {&w_, &r_, &b_}; }

  std::size_t directions() const { return w_.dim(0); }
  std::size_t hidden_size() const { return r_.dim(2); }
  std::size_t input_size() const { return w_.dim(2); }
  RecurrentDirection direction() const { return direction_; }
  bool reversed(std::size_t d) const { return runs_reversed(direction_, d); }
  // The state h_{t-1} before the first step of direction d for sequence b.
  const T* initial_hidden(std::size_t d, std::size_t b) const;
  // Gate inputs for x [N, T, B, D]: [dirs, T, N * B, P], per direction and step (in the input's
  // time order) the rows of its sequences, P = gate_input_width() values each.
  Shape gate_inputs_shape(const Tensor<T>& x) const;
  virtual std::size_t gate_input_width() const = 0;
  // Tensors of [dirs, T, B, H] per sample in the cell's full trace (an LSTM's i, f, o, g, c, ...).
  virtual std::size_t traced_per_unit() const = 0;

 protected:
  // Checks the shapes for `gates` gates (ShapeError naming `type`, the layer's type name).
  RecurrentLayer(Tensor<T> w, Tensor<T> r, Tensor<T> b, Tensor<T> h0, RecurrentDirection direction, std::size_t gates,
                 const std::string& type);
  // Every step's hidden state, [N, dirs, T, B, H], for x [N, T, B, D]; with `gate_inputs`, also
  // every step's gate inputs.
  virtual Tensor<T> hidden_states(const Tensor<T>& x, Tensor<T>* gate_inputs) const = 0;
  // Sequences B the initial states were given for; 0 when none are.
  virtual std::size_t state_sequences() const { return h0_.empty() ? 0 : h0_.dim(1); }
  // x [N, T, B, D] fits the layer; with `dout`, that it is [N, T, dirs, B, H]; with
  // `gate_inputs`, that it is gate_inputs_shape(x).
  void check_input(const Tensor<T>& x, const Tensor<T>* dout = nullptr, const Tensor<T>* gate_inputs = nullptr) const;
  // [dirs, B, H] when given, else an error naming `type` and `role` (type_name() is not yet the
  // derived layer's while the base is constructed).
  void check_state(const Tensor<T>& s, const std::string& type, const std::string& role) const;

  // out [N, T, dirs, B, H] (ONNX's Y) from the states hs [N, dirs, T, B, H] of x.
  void store_output(const Tensor<T>& x, const Tensor<T>& hs, Tensor<T>& out) const;

  Tensor<T> w_, r_, b_, h0_;
  RecurrentDirection direction_;
  std::vector<T> zeros_;  // H zeros: the initial state when none is given
};

}  // namespace lrp
