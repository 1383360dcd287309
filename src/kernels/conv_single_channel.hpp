#pragma once
// Direct float32 kernels for convolutions with a single input channel (the first layer of
// MNIST-style networks: 1 -> C, k x k, stride 1), where oneDNN's kernels vectorise poorly
// (about 20 GFLOP/s): rows of the output are accumulated as vectors over the width.
#include "kernels/conv.hpp"

namespace lrp::kernels {

// Whether these kernels handle the shape: one input channel, groups 1, stride 1, dilation 1,
// output width >= 8.
bool single_channel_conv_applies(const ConvShape& s);
// y = conv(x, w) + b (b may be null); false when the shape does not apply.
bool single_channel_conv_forward(const ConvShape& s, const float* x, const float* w, const float* b, float* y);
// dx = conv^T(g, w); false when the shape does not apply.
bool single_channel_conv_backward_data(const ConvShape& s, const float* g, const float* w, float* dx);
// dx1 = conv^T(g, w1) and dx2 = conv^T(g, w2) in one sweep over g (the rules' pairs of
// transposed maps on one ratio: W+ and W- for a signed input, W and W+ for z^B), at about
// the cost of one; false when the shape does not apply.
bool single_channel_conv_backward_data_pair(const ConvShape& s, const float* g, const float* w1, const float* w2, float* dx1,
                                            float* dx2);

}  // namespace lrp::kernels
