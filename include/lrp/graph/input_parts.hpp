#pragma once
// Models with several inputs (Model::input_parts): their samples travel packed, each part's
// values flattened and concatenated in the parts' order, as one [N, total] input. These turn
// named arrays into that tensor and a packed result (the relevance) back into named arrays.
#include <cstddef>
#include <map>
#include <string>

#include "lrp/core/tensor.hpp"
#include "lrp/graph/model.hpp"

namespace lrp {

// Packs one array per part (by name; [N, shape...] or one sample [shape...]) into [N, total].
// Throws ShapeError naming `source`, the part and the shape it needs.
template <class M>
Tensor<double> pack_input_parts(const Model<M>& model, const std::map<std::string, Tensor<double>>& arrays, const std::string& source);

// Splits a packed tensor [lead..., total] (lead: the batch, and the targets of several per
// sample) into one [lead..., shape...] per part.
template <class M, class T>
std::map<std::string, Tensor<T>> split_input_parts(const Model<M>& model, const Tensor<T>& packed);

}  // namespace lrp
