#pragma once
// Rewrites that leave every output and every explanation unchanged but make the model cheaper
// to run at its (fixed) input size.
//
// trim_dead_taps: a convolution tap that reads only padding, at every output position, adds
// nothing to any z of any rule (padding is no input: z, the bound terms of z^B, the ones of
// flat and the squared weights of w^2 all see zeros there), so it can go. DeepLab's ASPP has
// 3x3 convolutions with dilations 12, 24, 36 on maps of 8 to 32 positions: there they are
// 1x1 or 3x1 convolutions, and the dropped taps are 9x the work and 9x the weights.
#include <cstddef>

#include "lrp/graph/model.hpp"

namespace lrp {

// Drops the leading and trailing kernel rows and columns of every Conv2d that read only
// padding for the model's input shape (the live taps of an axis are contiguous); the node keeps
// its name. Returns how many convolutions were trimmed.
template <class T>
std::size_t trim_dead_taps(Model<T>& model);

}  // namespace lrp
