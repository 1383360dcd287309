// Layer converters for dense products: Gemm, and MatMul with a constant (a Linear layer) or of
// two computed values (attention).
#include <cmath>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "io/onnx_layers.hpp"
#include "lrp/layers/activation.hpp"
#include "lrp/layers/matmul.hpp"

namespace lrp::io::onnx_detail {
namespace {

// Linear from W [out, in] (already transposed/scaled) and bias.
void add_linear(NodeCtx& c, const Value& x, ConstTensor&& w, const Tensor<double>& b) {
  if (x.shape.size() != 1) c.fail("the input must be [N, features], got " + runtime_shape_str(x));
  const std::size_t in = to_size(w.dims[1]);
  if (in != x.shape[0]) c.fail("weight has " + std::to_string(in) + " input features, the input has " + std::to_string(x.shape[0]));
  c.add_linear(std::move(w), b, x);
}

// [out, in] from the elements of a [r, s] constant: W = alpha * B^T, or alpha * B when B is
// already [out, in] (the copy is skipped when alpha is 1 and the constant is not shared).
ConstTensor linear_weight(NodeCtx& c, std::size_t k, const std::string& role, bool already_out_in, double alpha) {
  if (already_out_in && alpha == 1.0) return c.take_const_input(k, role);
  const ConstTensor& b = c.weight_input(k, role);
  const std::size_t r = to_size(b.dims[0]), s = to_size(b.dims[1]);
  std::vector<float> bytes;  // a pending constant read once, not element by element
  if (b.pending) {
    bytes.resize(r * s);
    b.read_floats(0, r * s, bytes.data());
  }
  const auto at = [&](std::size_t e) { return b.pending ? static_cast<double>(bytes[e]) : b.value(e); };
  ConstTensor w;
  w.dims = already_out_in ? b.dims : std::vector<std::int64_t>{b.dims[1], b.dims[0]};
  w.f.resize(r * s);
  for (std::size_t i = 0; i < r; ++i)
    for (std::size_t j = 0; j < s; ++j) (already_out_in ? w.f[i * s + j] : w.f[j * r + i]) = alpha * at(i * s + j);
  return w;
}

}  // namespace

bool is_softmax_output(NodeCtx& c, const Value& v) {
  return v.node >= 0 && c.importer().with_model([&](const auto& model) {
    return model.nodes()[static_cast<std::size_t>(v.node)].layer->kind() == LayerKind::SoftMax;
  });
}

void gemm(NodeCtx& c) {
  c.allow_attributes({"alpha", "beta", "transA", "transB", "broadcast"});
  if (c.attr_int("transA", 0) != 0) c.fail("transA=1 would transpose the batch dimension; not supported");
  const Value& a = c.runtime_input(0, "input A");
  const ConstTensor& b = c.weight_input(1, "weight B");
  if (b.dims.size() != 2) c.fail("weight B must be 2-D, got " + dims_str(b.dims));
  c.require_finite(b, "weight B");
  const double alpha = c.attr_float("alpha", 1.0), beta = c.attr_float("beta", 1.0);
  if (!std::isfinite(alpha) || !std::isfinite(beta)) c.fail("attributes 'alpha' and 'beta' must be finite");
  const bool trans_b = c.attr_int("transB", 0) != 0;
  const std::size_t out = to_size(trans_b ? b.dims[0] : b.dims[1]);
  Tensor<double> bias({out});
  if (c.has_input(2)) {
    const ConstTensor& cc = c.const_input(2, "bias C");
    c.require_finite(cc, "bias C");
    const bool vector = cc.numel() == out && (cc.dims.size() == 1 || (cc.dims.size() == 2 && cc.dims[0] == 1));
    if (cc.numel() == 1) {
      bias.fill(beta * cc.value(0));
    } else if (vector) {
      for (std::size_t k = 0; k < out; ++k) bias[k] = beta * cc.value(k);
    } else {
      c.fail("bias C of shape " + dims_str(cc.dims) + " varies along the batch; only [" + std::to_string(out) + "], [1," +
             std::to_string(out) + "] or scalar biases are supported");
    }
  }
  if (a.moved_batch) {  // [rows, K] of a batch of one whose batch axis moved: every row mapped
    if (a.shape.size() != 2) c.fail("input A must be 2-D, got " + runtime_shape_str(a));
    ConstTensor w = linear_weight(c, 1, "weight B", trans_b, alpha);
    if (to_size(w.dims[1]) != a.shape[1]) c.fail("weight B has " + std::to_string(w.dims[1]) + " input features, the input " + std::to_string(a.shape[1]));
    return c.add_linear(std::move(w), bias, a, true);
  }
  add_linear(c, a, linear_weight(c, 1, "weight B", trans_b, alpha), bias);
}

// [N, K] x [K, M] with a constant B: a Linear layer. On [N, ..., K] (a channels-last map:
// ConvNeXt's pointwise layers after a Transpose) the Linear maps every row of the last axis.
void matmul(NodeCtx& c) {
  c.allow_attributes({});
  if (!c.is_const(0) && !c.is_const(1)) {  // attention: scores and weighted values
    const bool moved = c.input(0, "A").moved_batch || c.input(1, "B").moved_batch;
    const Value a = moved ? c.with_moved_batch(c.input(0, "A")) : c.input(0, "A");
    const Value b = moved ? c.with_moved_batch(c.input(1, "B")) : c.input(1, "B");
    if (a.shape.size() < 2 || b.shape.size() != a.shape.size())
      c.fail("a product of computed values needs [N, ..., M, K] x [N, ..., K, P] of one rank, got " + runtime_shape_str(a) + " and " +
             runtime_shape_str(b));
    const bool ga = is_softmax_output(c, a), gb = is_softmax_output(c, b);
    return c.add_layer(std::make_unique<MatMul<double>>(ga == gb ? -1 : ga ? 0 : 1), {&a, &b});
  }
  const Value& a = c.runtime_input(0, "input A");
  const ConstTensor& b = c.weight_input(1, "weight B");
  if (b.dims.size() != 2) c.fail("only [N, ..., K] x [K, M] with a constant 2-D B is supported; B is " + dims_str(b.dims));
  c.require_finite(b, "weight B");
  const std::size_t m = to_size(b.dims[1]);
  if (a.shape.size() <= 1) return add_linear(c, a, linear_weight(c, 1, "weight B", false, 1.0), Tensor<double>({m}));
  if (to_size(b.dims[0]) != a.shape.back())
    c.fail("weight B is " + dims_str(b.dims) + ", the input's last axis has " + std::to_string(a.shape.back()) + " entries");
  c.add_linear(linear_weight(c, 1, "weight B", false, 1.0), Tensor<double>({m}), a, true);
}

}  // namespace lrp::io::onnx_detail
