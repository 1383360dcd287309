#pragma once
// The seeds every method starts from: the target's score (output x one-hot(target)) per sample
// and target, and how many classes a target can name.
#include <cstddef>
#include <vector>

#include "lrp/explain/explain.hpp"

namespace lrp {

// Classes of an output of per-sample shape `out`: its elements, or its channels (Region).
std::size_t class_count(const Shape& out, const Target& target);

// Seeds [N*K, out...]: for each sample and target, the output on the target's elements (one
// element, or a channel's positions, all or those where the channel is the largest), or 1 there
// with `unit`, and 0 elsewhere; `chosen` gets each target's class, `scores` its score (the
// output's sum there), k the targets per sample.
template <class T>
Tensor<T> make_seeds(const Tensor<T>& y, const Target& target, std::vector<std::size_t>& chosen, std::vector<double>& scores,
                     std::size_t& k, bool unit = false);

}  // namespace lrp
