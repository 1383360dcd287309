#pragma once
// The ONNX layer converters (src/io/onnx_layers_*.cpp), one function per operator, that
// layer_converters() (onnx_layers.cpp) registers by operator name, and the helpers that more
// than one of those files uses. Each converter reads its node through NodeCtx (which names
// the node in every error) and adds layers to the model, aliases its output, or fails with
// what is not supported.
#include <vector>

#include "io/onnx_detail.hpp"

namespace lrp::io::onnx_detail {

// onnx_layers_window.cpp
void conv(NodeCtx& c);
void conv_transpose(NodeCtx& c);
void resize(NodeCtx& c);
void upsample(NodeCtx& c);
void max_pool(NodeCtx& c);
void average_pool(NodeCtx& c);
void global_average_pool(NodeCtx& c);
void global_max_pool(NodeCtx& c);
void reduce_mean(NodeCtx& c);
void reduce_max(NodeCtx& c);
void reduce_sum(NodeCtx& c);
void pad(NodeCtx& c);

// onnx_layers_dense.cpp
void gemm(NodeCtx& c);
void matmul(NodeCtx& c);
// Whether v is a SoftMax layer's output (attention weights, the MatMul's gate).
bool is_softmax_output(NodeCtx& c, const Value& v);

// onnx_layers_einsum.cpp
void einsum(NodeCtx& c);

// onnx_layers_activation.cpp
void relu(NodeCtx& c);
void sigmoid(NodeCtx& c);
void hard_sigmoid(NodeCtx& c);
void hard_swish(NodeCtx& c);
void elu(NodeCtx& c);
void selu(NodeCtx& c);
void softplus(NodeCtx& c);
void softsign(NodeCtx& c);
void erf_op(NodeCtx& c);
void gelu(NodeCtx& c);
void tanh_op(NodeCtx& c);
void leaky_relu(NodeCtx& c);
void clip(NodeCtx& c);
void prelu(NodeCtx& c);
void softmax(NodeCtx& c);

// onnx_layers_norm.cpp
void batch_normalization(NodeCtx& c);
void layer_normalization(NodeCtx& c);
void lrn(NodeCtx& c);

// onnx_layers_arithmetic.cpp
void add(NodeCtx& c);
void sub(NodeCtx& c);
void neg(NodeCtx& c);
void mul(NodeCtx& c);
void div(NodeCtx& c);
void sum(NodeCtx& c);
void max_op(NodeCtx& c);
void min_op(NodeCtx& c);
void where_op(NodeCtx& c);
// A constant broadcast (NumPy rules) onto one sample of x: its axes right-aligned with
// [N, ...x], 1 or equal to x's, and 1 on the batch axis.
Tensor<double> broadcast_to_sample(NodeCtx& c, const Value& x, const ConstTensor& k);
// Values of which some had their batch axis moved, all with it moved (see Value::moved_batch).
std::vector<Value> same_batch_axis(NodeCtx& c, const std::vector<const Value*>& xs);
// Pointers to each of vs, as add_layer takes its inputs.
std::vector<const Value*> pointers(const std::vector<Value>& vs);

// onnx_layers_shape.cpp
void flatten(NodeCtx& c);
void transpose(NodeCtx& c);
void slice(NodeCtx& c);
void reshape(NodeCtx& c);
void cast_op(NodeCtx& c);
void expand_op(NodeCtx& c);
void concat(NodeCtx& c);
void squeeze(NodeCtx& c);
void unsqueeze(NodeCtx& c);
void split(NodeCtx& c);
void gather(NodeCtx& c);
void dropout(NodeCtx& c);
void identity(NodeCtx& c);

}  // namespace lrp::io::onnx_detail
