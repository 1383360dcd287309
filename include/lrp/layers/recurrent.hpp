#pragma once
// What the recurrent layers (Lstm, Gru) share. Both run over x [T, B, D] per sample: T time
// steps of B sequences (ONNX's layout 0; a model run as a batch of one has B = 1), and give
// Y [T, dirs, B, H], every step's hidden state; ONNX's Y_h is sliced from it by the importer.
// The reverse direction runs from t = T-1 down; a bidirectional layer's second direction is the
// reverse one.
#include <cstddef>

#include "lrp/core/tensor.hpp"

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

}  // namespace lrp
