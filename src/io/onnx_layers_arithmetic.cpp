// Layer converters for arithmetic between a computed value and constants or other computed
// values: Add, Sub, Mul, Div, Neg, Sum, Max, Min, Where. Constants become biases, per-channel
// affine layers, masks or scales; products of computed values become gated Mul layers.
#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "io/onnx_layers.hpp"
#include "lrp/layers/activation.hpp"
#include "lrp/layers/batch_norm.hpp"
#include "lrp/layers/bias.hpp"
#include "lrp/layers/layer_norm.hpp"
#include "lrp/layers/masked_fill.hpp"
#include "lrp/layers/scale.hpp"
#include "lrp/layers/matmul.hpp"
#include "lrp/layers/merge.hpp"

namespace lrp::io::onnx_detail {
namespace {

// A constant operand decoded (a pending one read once, not element by element) and checked.
ConstTensor decoded_operand(NodeCtx& c, const ConstTensor& stored) {
  ConstTensor k = stored;
  if (k.pending) k.decode_pending();
  c.require_finite(k, "the constant operand");
  if (k.is_int && k.has_batch_marker()) c.fail("the constant operand depends on the batch size");
  return k;
}

// The values of a constant operand per channel of a runtime x: one per channel, or a scalar
// (right-aligned broadcasting with every axis but the channel axis 1); nothing when k has
// another shape.
std::optional<std::vector<double>> per_channel_values(const Value& x, const ConstTensor& k) {
  if (x.shape.empty()) return std::nullopt;
  const std::size_t ch = x.shape[0], rank = x.shape.size() + 1;
  if (k.dims.size() > rank) return std::nullopt;
  std::vector<double> values(ch);
  if (k.numel() == 1) {
    std::fill(values.begin(), values.end(), k.value(0));
    return values;
  }
  const std::size_t off = rank - k.dims.size();
  if (off > 1) return std::nullopt;
  for (std::size_t j = 0; j < k.dims.size(); ++j) {
    const std::size_t axis = off + j;
    if (!(axis == 1 ? (to_size(k.dims[j]) == ch || k.dims[j] == 1) : k.dims[j] == 1)) return std::nullopt;
  }
  for (std::size_t q = 0; q < ch; ++q) values[q] = k.value(k.numel() == 1 ? 0 : q);
  return values;
}

// The same with a message naming the operation (`what`) when k is not per channel.
std::vector<double> channel_values(NodeCtx& c, const Value& x, const ConstTensor& stored, const std::string& what) {
  const ConstTensor k = decoded_operand(c, stored);
  if (x.shape.empty()) c.fail("the input has no channel dimension");
  if (x.moved_batch && k.numel() != 1)
    c.fail(what + " " + runtime_shape_str(x) + " (its batch axis moved) and a constant of shape " + dims_str(k.dims) +
           " is not supported (only a scalar)");
  std::optional<std::vector<double>> values = x.moved_batch ? std::vector<double>(x.shape[0], k.value(0)) : per_channel_values(x, k);
  if (!values)
    c.fail(what + " a constant of shape " + dims_str(k.dims) + " and " + runtime_shape_str(x) +
           " is not supported (only one value per channel, or a scalar)");
  return *values;
}

// x * scale + shift per channel: a BatchNorm layer (the Pass rule in the composites, as Zennit
// gives a BatchNorm it could not fold).
void add_channel_affine(NodeCtx& c, const Value& x, const std::vector<double>& scale, const std::vector<double>& shift) {
  const std::size_t ch = scale.size();
  Tensor<double> a({ch}), b({ch});
  for (std::size_t q = 0; q < ch; ++q) {
    a[q] = scale[q];
    b[q] = shift[q];
  }
  c.add_layer(std::make_unique<BatchNorm<double>>(std::move(a), std::move(b)), {&x});
}

// k's values when x is the output of a LayerNorm read by nothing else and k has one value per
// entry of its last axis (a normalisation written out, then its weight and shift).
std::optional<std::vector<double>> along_last_axis_of_norm(NodeCtx& c, const Value& x, const ConstTensor& k) {
  const std::size_t d = x.shape.empty() ? 0 : x.shape.back();
  bool along_last = d > 0 && !x.moved_batch && k.numel() == d && !k.dims.empty() && to_size(k.dims.back()) == d;
  for (std::size_t a = 0; a + 1 < k.dims.size(); ++a) along_last = along_last && k.dims[a] == 1;
  if (!along_last || x.node < 0 || c.importer().id_uses.at(x.id) != 1) return std::nullopt;
  const bool norm = c.importer().with_model(
      [&](const auto& model) { return model.nodes()[static_cast<std::size_t>(x.node)].layer->kind() == LayerKind::LayerNorm; });
  if (!norm) return std::nullopt;
  std::vector<double> v(d);
  for (std::size_t q = 0; q < d; ++q) v[q] = k.value(q);
  return v;
}

// x + k for a constant k holding infinities: an additive attention mask (0 where a key may be
// attended, -inf where not: Llama's causal mask). The infinite entries become a MaskedFill, the
// finite ones, if any is not 0, a Bias after it. False when k is finite (NaN: an error).
bool add_infinite_mask(NodeCtx& c, const Value& x, const ConstTensor& stored, double sign) {
  if (stored.is_int) return false;
  ConstTensor k = stored;
  if (k.pending) k.decode_pending();
  bool infinite = false;
  for (std::size_t i = 0; i < k.numel(); ++i) {
    const double v = k.value(i);
    if (std::isnan(v)) c.fail("the constant operand holds NaN at element " + std::to_string(i));
    infinite = infinite || std::isinf(v);
  }
  if (!infinite) return false;
  Tensor<double> full = broadcast_to_sample(c, x, k), keep(full.shape()), fill(full.shape()), rest(full.shape());
  bool shifted = false;
  for (std::size_t i = 0; i < full.size(); ++i) {
    const double v = sign * full[i];
    keep[i] = std::isinf(v) ? 0.0 : 1.0;
    fill[i] = std::isinf(v) ? v : 0.0;
    rest[i] = std::isinf(v) ? 0.0 : v;
    shifted = shifted || rest[i] != 0.0;
  }
  if (!shifted) {
    c.add_layer(std::make_unique<MaskedFill<double>>(std::move(keep), std::move(fill)), {&x});
    return true;
  }
  const Value masked = c.add_hidden(std::make_unique<MaskedFill<double>>(std::move(keep), std::move(fill)), {&x}, BatchAxis::Inherit);
  c.add_layer(std::make_unique<Bias<double>>(std::move(rest)), {&masked});
  return true;
}

// x + k (sign +1) or x - k (sign -1) for a runtime x and a constant k: one value per entry of
// the last axis after a MatMul is its bias; one per channel (or a scalar) becomes the bias of
// the producing Conv/Linear when nothing else reads its output, otherwise a per-channel shift
// layer; any other constant that broadcasts onto a sample (a position embedding) a Bias layer.
void add_constant(NodeCtx& c, const Value& x, const ConstTensor& stored, double sign) {
  if (add_infinite_mask(c, x, stored, sign)) return;
  const ConstTensor k = decoded_operand(c, stored);
  if (std::optional<std::vector<double>> shift = along_last_axis_of_norm(c, x, k)) {
    for (double& v : *shift) v *= sign;
    if (c.affine_producer_norm(x, std::vector<double>(shift->size(), 1.0), *shift)) return c.alias(x);
  }
  const bool single_reader = x.node >= 0 && c.importer().id_uses.at(x.id) == 1;
  if (x.shape.size() > 1 && c.produced_by_rows_linear(x)) {
    const std::size_t d = x.shape.back();
    const bool along_last = k.numel() == 1 || (!k.dims.empty() && to_size(k.dims.back()) == d && k.numel() == d);
    std::vector<double> shift(d);
    for (std::size_t q = 0; q < d && along_last; ++q) shift[q] = sign * k.value(k.numel() == 1 ? 0 : q);
    if (along_last && single_reader && c.add_to_producer_bias(x, shift)) return c.alias(x);
  } else if (std::optional<std::vector<double>> shift = x.moved_batch ? std::nullopt : per_channel_values(x, k)) {
    for (double& v : *shift) v *= sign;
    if (single_reader && c.add_to_producer_bias(x, *shift)) return c.alias(x);
    return add_channel_affine(c, x, std::vector<double>(shift->size(), 1.0), *shift);
  }
  Tensor<double> b = broadcast_to_sample(c, x, k);
  for (double& v : b) v *= sign;
  c.add_layer(std::make_unique<Bias<double>>(std::move(b)), {&x});
}

void add_runtime(NodeCtx& c, const std::vector<const Value*>& inputs) {
  const std::vector<Value> held = same_batch_axis(c, inputs);
  const std::vector<const Value*> xs = pointers(held);
  for (const Value* v : xs)
    if (v->shape != xs[0]->shape)
      c.fail("inputs of shapes " + runtime_shape_str(*xs[0]) + " and " + runtime_shape_str(*v) +
             " would need broadcasting; only equal shapes are supported");
  c.add_layer(std::make_unique<Add<double>>(xs.size()), xs);
}

void add_or_sub(NodeCtx& c, double sign) {
  c.allow_attributes({"axis", "broadcast", "consumed_inputs"});
  if (c.num_inputs() != 2) c.fail("expects 2 inputs");
  const bool c0 = c.is_const(0), c1 = c.is_const(1);
  if (!c0 && !c1) {
    if (sign < 0) c.fail("the difference of two computed values is not supported");
    add_runtime(c, {&c.input(0, "A"), &c.input(1, "B")});
  } else if (!c0) {
    add_constant(c, c.input(0, "A"), c.input(1, "B").c, sign);
  } else {
    if (sign < 0) c.fail("subtracting a computed value from a constant is not supported");
    add_constant(c, c.input(1, "B"), c.input(0, "A").c, sign);
  }
}

// Whether a computed value is a gate, a factor that only scales the other: the output of a
// sigmoid-type activation (in [0, 1]), or a shifted and scaled erf or tanh (GELU written out,
// 0.5 (1 + erf(x / sqrt 2)), or its tanh approximation), possibly through per-channel affine
// layers (BatchNorm: the folded Add and Mul of constants).
bool is_gate(NodeCtx& c, const Value& v) {
  if (v.node < 0) return false;
  return c.importer().with_model([&](const auto& model) {
    using T = typename std::remove_reference_t<decltype(model)>::Scalar;
    long at = v.node;
    bool affine = false;
    while (at >= 0) {
      const Node<T>& node = model.nodes()[static_cast<std::size_t>(at)];
      if (node.layer->kind() == LayerKind::Activation) {
        const ActivationKind k = static_cast<const Activation<T>&>(*node.layer).spec().kind;
        if (k == ActivationKind::Sigmoid || k == ActivationKind::HardSigmoid) return true;
        return affine && (k == ActivationKind::Erf || k == ActivationKind::Tanh);
      }
      if (node.layer->kind() != LayerKind::BatchNorm || node.inputs.size() != 1) return false;
      affine = true;
      at = model.producer(node.inputs[0]);
    }
    return false;
  });
}

// x * k for a runtime x and a constant k: one value per entry of the last axis after a
// LayerNorm/RMSNorm read by nothing else is its weight (an RMSNorm written out ends so); one per
// channel (or a scalar) a per-channel scale; any other k that broadcasts onto a sample (rotary
// embeddings' cosines and sines) a Scale layer.
void mul_constant(NodeCtx& c, const Value& x, const ConstTensor& stored) {
  const ConstTensor k = decoded_operand(c, stored);
  if (std::optional<std::vector<double>> scale = along_last_axis_of_norm(c, x, k)) {
    if (c.affine_producer_norm(x, *scale, std::vector<double>(scale->size(), 0.0))) return c.alias(x);
  }
  if (std::optional<std::vector<double>> scale = x.moved_batch && k.numel() == 1 ? std::vector<double>(x.shape.at(0), k.value(0))
                                                : x.moved_batch ? std::nullopt
                                                                : per_channel_values(x, k))
    return add_channel_affine(c, x, *scale, std::vector<double>(scale->size(), 0.0));
  c.add_layer(std::make_unique<Scale<double>>(broadcast_to_sample(c, x, k)), {&x});
}

// Max / Min of computed values of one shape: an Extremum layer (relevance to the input holding
// the extremum). One computed value against scalar constants (torch.clamp written as
// max(x, c)) is a Clip.
void extremum(NodeCtx& c, bool minimum) {
  c.allow_attributes({"consumed_inputs"});
  std::vector<const Value*> xs;
  std::vector<double> bounds;
  for (std::size_t k = 0; k < c.num_inputs(); ++k) {
    const std::string role = "input " + std::to_string(k);
    if (c.is_const(k)) bounds.push_back(c.scalar_of(c.const_input(k, role), role));
    else xs.push_back(&c.runtime_input(k, role));
  }
  if (xs.empty()) c.fail("has no computed inputs");
  if (!bounds.empty()) {
    if (xs.size() != 1) c.fail("constants beside several computed values are not supported");
    ActivationSpec spec{ActivationKind::Clip};
    spec.lo = -std::numeric_limits<double>::infinity();
    spec.hi = std::numeric_limits<double>::infinity();
    for (const double b : bounds) {
      if (std::isnan(b)) c.fail("a constant bound is NaN");
      if (minimum) spec.hi = std::min(spec.hi, b);
      else spec.lo = std::max(spec.lo, b);
    }
    c.add_layer(std::make_unique<Activation<double>>(spec), {xs[0]});
    return;
  }
  if (xs.size() == 1) return c.alias(*xs[0]);
  const std::vector<Value> held = same_batch_axis(c, xs);
  for (const Value& v : held)
    if (v.shape != held[0].shape)
      c.fail("inputs of shapes " + runtime_shape_str(held[0]) + " and " + runtime_shape_str(v) +
             " (broadcasting between computed values is not supported)");
  c.add_layer(std::make_unique<Extremum<double>>(xs.size(), minimum), pointers(held));
}

}  // namespace

Tensor<double> broadcast_to_sample(NodeCtx& c, const Value& x, const ConstTensor& k) {
  // kdims[0] stands for the batch axis; a value whose batch moved has it nowhere (size 1).
  const std::size_t rank = x.shape.size() + 1;
  const auto fail = [&] { c.fail("a constant of shape " + dims_str(k.dims) + " does not broadcast onto " + runtime_shape_str(x)); };
  if (k.dims.size() > onnx_rank(x)) fail();
  const std::size_t off = rank - k.dims.size();
  std::vector<std::size_t> kdims(rank, 1);
  for (std::size_t j = 0; j < k.dims.size(); ++j) kdims[off + j] = to_size(k.dims[j]);
  if (kdims[0] != 1) fail();
  for (std::size_t d = 1; d < rank; ++d)
    if (kdims[d] != 1 && kdims[d] != x.shape[d - 1]) fail();
  Tensor<double> out(x.shape);
  std::vector<std::size_t> idx(x.shape.size(), 0);
  for (std::size_t o = 0; o < out.size(); ++o) {
    std::size_t src = 0;
    for (std::size_t d = 0; d < idx.size(); ++d) src = src * kdims[d + 1] + (kdims[d + 1] == 1 ? 0 : idx[d]);
    out[o] = k.value(src);
    for (std::size_t d = idx.size(); d-- > 0;) {
      if (++idx[d] < x.shape[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}

std::vector<Value> same_batch_axis(NodeCtx& c, const std::vector<const Value*>& xs) {
  bool moved = false;
  for (const Value* v : xs) moved = moved || v->moved_batch;
  std::vector<Value> out;
  for (const Value* v : xs) out.push_back(moved ? c.with_moved_batch(*v) : *v);
  return out;
}

std::vector<const Value*> pointers(const std::vector<Value>& vs) {
  std::vector<const Value*> p;
  for (const Value& v : vs) p.push_back(&v);
  return p;
}

void add(NodeCtx& c) { add_or_sub(c, 1.0); }

void sub(NodeCtx& c) { add_or_sub(c, -1.0); }

// -x: a per-channel scale by -1 (rotary embeddings' rotate_half negates half of the features).
void neg(NodeCtx& c) {
  c.allow_attributes({"consumed_inputs"});
  const Value& x = c.runtime_input(0, "X");
  if (x.shape.empty()) c.fail("the input has no axes besides the batch");
  add_channel_affine(c, x, std::vector<double>(x.shape[0], -1.0), std::vector<double>(x.shape[0], 0.0));
}

// A product: of two computed values a Mul layer (squeeze-excitation, SiLU and HardSwish as
// x * sigmoid(x)), the sigmoid-type factor as its gate; by a constant, mul_constant.
void mul(NodeCtx& c) {
  c.allow_attributes({"axis", "broadcast", "consumed_inputs"});
  if (c.num_inputs() != 2) c.fail("expects 2 inputs");
  const bool c0 = c.is_const(0), c1 = c.is_const(1);
  if (c0 || c1) return mul_constant(c, c.input(c0 ? 1 : 0, c0 ? "B" : "A"), c.input(c0 ? 0 : 1, c0 ? "A" : "B").c);
  const bool ga = is_gate(c, c.input(0, "A")), gb = is_gate(c, c.input(1, "B"));
  const std::vector<Value> ab = same_batch_axis(c, {&c.input(0, "A"), &c.input(1, "B")});
  c.add_layer(std::make_unique<Mul<double>>(ga == gb ? -1 : ga ? 0 : 1), {&ab[0], &ab[1]});
}

// x / k for a constant k per channel (or a scalar): a per-channel scale by 1 / k.
void div(NodeCtx& c) {
  c.allow_attributes({});
  if (c.num_inputs() != 2) c.fail("expects 2 inputs");
  if (c.is_const(0) || !c.is_const(1)) c.fail("only a computed value divided by a constant is supported");
  const Value& x = c.input(0, "A");
  std::vector<double> scale = channel_values(c, x, c.input(1, "B").c, "dividing");
  for (double& v : scale) {
    if (v == 0.0) c.fail("divides by zero");
    v = 1.0 / v;
  }
  add_channel_affine(c, x, scale, std::vector<double>(scale.size(), 0.0));
}

void sum(NodeCtx& c) {
  c.allow_attributes({"consumed_inputs"});
  std::vector<const Value*> xs;
  for (std::size_t k = 0; k < c.num_inputs(); ++k) xs.push_back(&c.runtime_input(k, "input " + std::to_string(k)));
  if (xs.empty()) c.fail("has no inputs");
  if (xs.size() == 1) return c.alias(*xs[0]);
  add_runtime(c, xs);
}

void max_op(NodeCtx& c) { extremum(c, false); }

void min_op(NodeCtx& c) { extremum(c, true); }

// Where(condition, X, Y) with a constant condition and one computed operand: a MaskedFill that
// keeps the computed value where it is chosen and writes the other, constant operand elsewhere
// (a causal mask: `scores.masked_fill(mask == 0, -inf)`, `torch.where(mask, scores, min)`). The
// fill may be infinite, not NaN. Both constant: folded; a computed condition: refused.
void where_op(NodeCtx& c) {
  c.allow_attributes({});
  if (c.num_inputs() != 3) c.fail("expects 3 inputs (condition, X, Y)");
  if (!c.is_const(0)) c.fail("a condition computed from the model input is not supported (only a constant mask)");
  if (!c.is_const(1) && !c.is_const(2)) c.fail("two computed operands are not supported (one must be a constant fill value)");
  const bool x_computed = !c.is_const(1);
  const Value& x = c.runtime_input(x_computed ? 1 : 2, x_computed ? "X" : "Y");
  ConstTensor cond = c.const_input(0, "condition");
  if (cond.has_batch_marker()) c.fail("the condition depends on the batch size");
  ConstTensor fill = c.input(x_computed ? 2 : 1, x_computed ? "Y" : "X").c;
  if (fill.pending) fill.decode_pending();
  for (std::size_t k = 0; k < fill.numel(); ++k)
    if (std::isnan(fill.value(k))) c.fail("the fill value " + std::string(x_computed ? "Y" : "X") + " holds NaN");
  Tensor<double> keep = broadcast_to_sample(c, x, cond);
  for (double& v : keep) v = (v != 0.0) == x_computed ? 1.0 : 0.0;
  c.add_layer(std::make_unique<MaskedFill<double>>(std::move(keep), broadcast_to_sample(c, x, fill)), {&x});
}

}  // namespace lrp::io::onnx_detail
