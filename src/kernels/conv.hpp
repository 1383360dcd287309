#pragma once
// 2-D convolution (cross-correlation, NCHW, OIHW weights, groups) and its transposed map,
// the primitive every LRP rule of a convolution reduces to. Reference path: im2col + GEMM.
#include <cstddef>

#include "lrp/layers/affine.hpp"
#include "lrp/layers/conv_geometry.hpp"

namespace lrp::kernels {

struct ConvShape {
  std::size_t n = 0, c = 0, h = 0, w = 0;  // input
  std::size_t oc = 0, oh = 0, ow = 0;       // output
  std::size_t groups = 1;
  Window2d win;
};

// y[n,oc,oh,ow] = sum w * x (+ b[oc] when b != nullptr)
template <class T>
void conv2d_forward(const ConvShape& s, const T* x, const T* w, const T* b, T* y);
// The same followed by a ReLU, y = max(0, ...), fused into the convolution where oneDNN runs it.
template <class T>
void conv2d_forward_relu(const ConvShape& s, const T* x, const T* w, const T* b, T* y);

// dx = W^T g: the adjoint of conv2d_forward without bias (dx is overwritten).
template <class T>
void conv2d_backward_data(const ConvShape& s, const T* g, const T* w, T* dx);

// The same with map(w) (W+, W-, ...) derived inside the fast kernel's own weight copies, float
// only. False where the caller should run the plain functions on a materialised map(w): when
// oneDNN cannot run the shape, and for one input channel, whose own kernel is faster.
bool conv2d_forward_mapped(const ConvShape& s, const float* x, const float* w, const float* b, float* y, WeightMap map,
                           float param);
bool conv2d_backward_data_mapped(const ConvShape& s, const float* g, const float* w, float* dx, WeightMap map, float param);
// Whether the two functions above multiply this shape in bfloat16 (rule_precision() BFloat16,
// and the fast kernel takes it so: see src/kernels/dnnl_conv.cpp).
bool conv2d_mapped_in_bf16(const ConvShape& s);

// dW += g (x) and db += sum g: parameter gradients (dW, db overwritten).
template <class T>
void conv2d_backward_weights(const ConvShape& s, const T* x, const T* g, T* dw, T* db);

}  // namespace lrp::kernels

namespace lrp::kernels {
// The plain loops every fast path is tested against.
template <class T>
void conv2d_forward_reference(const ConvShape& s, const T* x, const T* w, const T* b, T* y);
template <class T>
void conv2d_backward_data_reference(const ConvShape& s, const T* g, const T* w, T* dx);
}  // namespace lrp::kernels
