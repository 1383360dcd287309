#pragma once
// Direct float32 kernels for depthwise convolutions (one k x k filter per channel, stride 1, no
// dilation: MobileNet, EfficientNet, MnasNet) on NCHW planes. oneDNN's depthwise kernels need
// the activations in a blocked or channels-last layout, and at batch 1 reordering the NCHW
// tensors in and out costs several times the convolution itself (96 x 112 x 112, 3x3: 0.57 ms
// against 0.09 ms for the primitive alone). Here each plane is padded once and the taps run as
// in kernels/conv_taps.hpp, a chunk of outputs held in registers through all taps.
#include "kernels/conv.hpp"

namespace lrp::kernels {

// Whether these kernels handle the shape: groups == in == out channels (> 1), stride 1,
// dilation 1, output width >= 8.
bool depthwise_conv_applies(const ConvShape& s);
// y = conv(x, w) + b (b may be null); false when the shape does not apply.
bool depthwise_conv_forward(const ConvShape& s, const float* x, const float* w, const float* b, float* y);
// dx = conv^T(g, w); false when the shape does not apply.
bool depthwise_conv_backward_data(const ConvShape& s, const float* g, const float* w, float* dx);

}  // namespace lrp::kernels
