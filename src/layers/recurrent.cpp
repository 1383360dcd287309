#include "lrp/layers/recurrent.hpp"

#include <algorithm>

#include "lrp/core/error.hpp"

namespace lrp {

const char* recurrent_direction_name(RecurrentDirection d) {
  switch (d) {
    case RecurrentDirection::Forward: return "forward";
    case RecurrentDirection::Reverse: return "reverse";
    case RecurrentDirection::Bidirectional: return "bidirectional";
  }
  return "?";
}

template <class T>
RecurrentLayer<T>::RecurrentLayer(Tensor<T> w, Tensor<T> r, Tensor<T> b, Tensor<T> h0, RecurrentDirection direction, std::size_t gates,
                                  const std::string& type)
    : w_(std::move(w)), r_(std::move(r)), b_(std::move(b)), h0_(std::move(h0)), direction_(direction) {
  const std::size_t dirs = direction_count(direction);
  const std::string g = gates == 1 ? "" : std::to_string(gates);
  if (r_.rank() != 3 || r_.dim(0) != dirs || r_.dim(1) == 0 || r_.dim(1) != gates * r_.dim(2))
    throw ShapeError(type + " recurrent weight R must be [" + std::to_string(dirs) + ", " + g + "H, H], got " + shape_str(r_.shape()));
  const std::size_t h = r_.dim(2);
  if (w_.rank() != 3 || w_.dim(0) != dirs || w_.dim(1) != gates * h || w_.dim(2) == 0)
    throw ShapeError(type + " input weight W must be [" + std::to_string(dirs) + ", " + std::to_string(gates * h) + ", D], got " +
                     shape_str(w_.shape()));
  if (b_.shape() != Shape{dirs, 2 * gates * h})
    throw ShapeError(type + " bias B must be [" + std::to_string(dirs) + ", " + std::to_string(2 * gates * h) + "], got " +
                     shape_str(b_.shape()));
  zeros_.assign(h, T(0));
  check_state(h0_, type, "initial state");
}

template <class T>
void RecurrentLayer<T>::check_state(const Tensor<T>& s, const std::string& type, const std::string& role) const {
  if (!s.empty() && (s.rank() != 3 || s.dim(0) != directions() || s.dim(2) != hidden_size()))
    throw ShapeError(type + " " + role + " must be [" + std::to_string(directions()) + ", B, " + std::to_string(hidden_size()) + "], got " +
                     shape_str(s.shape()));
}

template <class T>
std::string RecurrentLayer<T>::describe() const {
  return std::to_string(input_size()) + " -> " + std::to_string(hidden_size()) + ", " + recurrent_direction_name(direction_);
}

template <class T>
Shape RecurrentLayer<T>::output_shape(const std::vector<Shape>& in) const {
  const Shape& x = in.at(0);
  if (x.size() != 3 || x[2] != input_size())
    throw ShapeError(this->type_name() + " " + describe() + " expects [T, B, " + std::to_string(input_size()) + "] per sample, got " +
                     shape_str(x));
  const std::size_t states = state_sequences();
  if (states != 0 && states != x[1])
    throw ShapeError(this->type_name() + " " + describe() + ": initial states for " + std::to_string(states) + " sequences, input has " +
                     std::to_string(x[1]));
  return {x[0], directions(), x[1], hidden_size()};
}

template <class T>
void RecurrentLayer<T>::check_input(const Tensor<T>& x, const Tensor<T>* dout, const Tensor<T>* gate_inputs) const {
  if (x.rank() == 0) throw ShapeError(this->type_name() + " " + describe() + ": empty input");
  Shape want = output_shape({Shape(x.shape().begin() + 1, x.shape().end())});
  want.insert(want.begin(), x.dim(0));
  if (dout && dout->shape() != want)
    throw ShapeError(this->type_name() + " " + describe() + ": gradient " + shape_str(dout->shape()) + " for input " + shape_str(x.shape()));
  if (gate_inputs && gate_inputs->shape() != gate_inputs_shape(x))
    throw ShapeError(this->type_name() + " " + describe() + ": saved gate inputs " + shape_str(gate_inputs->shape()) + " for input " +
                     shape_str(x.shape()));
}

template <class T>
Shape RecurrentLayer<T>::gate_inputs_shape(const Tensor<T>& x) const {
  return {directions(), x.dim(1), x.dim(0) * x.dim(2), gate_input_width()};
}

template <class T>
std::size_t RecurrentLayer<T>::saved_numel(const std::vector<Shape>& inputs) const {
  const Shape& x = inputs.at(0);  // [T, B, D]
  return x.size() == 3 ? x[0] * x[1] * directions() * gate_input_width() : 0;
}

template <class T>
std::size_t RecurrentLayer<T>::transient_numel(const std::vector<Shape>& inputs) const {
  const Shape& x = inputs.at(0);
  return x.size() == 3 ? x[0] * x[1] * directions() * traced_per_unit() * hidden_size() : 0;
}

template <class T>
const T* RecurrentLayer<T>::initial_hidden(std::size_t d, std::size_t b) const {
  return h0_.empty() ? zeros_.data() : h0_.data() + (d * h0_.dim(1) + b) * hidden_size();
}

template <class T>
void RecurrentLayer<T>::forward(const TensorRefs<T>& in, Tensor<T>& out) const {
  store_output(*in.at(0), hidden_states(*in.at(0), nullptr), out);
}

template <class T>
void RecurrentLayer<T>::forward_saving(const TensorRefs<T>& in, Tensor<T>& out, Tensor<T>& saved) const {
  store_output(*in.at(0), hidden_states(*in.at(0), &saved), out);
}

template <class T>
void RecurrentLayer<T>::backward(const TensorRefs<T>& in, const Tensor<T>& /*out*/, const Tensor<T>& dout, std::vector<Tensor<T>>& din) const {
  backward_saved(*in.at(0), nullptr, dout, din);
}

template <class T>
void RecurrentLayer<T>::store_output(const Tensor<T>& x, const Tensor<T>& hs, Tensor<T>& out) const {
  const std::size_t n_samples = x.dim(0), steps = x.dim(1), seqs = x.dim(2), h = hidden_size(), dirs = directions();
  out = Tensor<T>::uninitialized({n_samples, steps, dirs, seqs, h});
  for (std::size_t n = 0; n < n_samples; ++n)
    for (std::size_t d = 0; d < dirs; ++d)
      for (std::size_t t = 0; t < steps; ++t)
        std::copy_n(hs.data() + ((n * dirs + d) * steps + t) * seqs * h, seqs * h, out.data() + ((n * steps + t) * dirs + d) * seqs * h);
}

template class RecurrentLayer<float>;
template class RecurrentLayer<double>;

}  // namespace lrp
