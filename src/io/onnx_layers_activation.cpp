// Layer converters for element-wise activations (Relu, Sigmoid, Gelu, Clip, PRelu, ...) and
// Softmax.
#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <utility>

#include "io/onnx_layers.hpp"
#include "lrp/layers/activation.hpp"
#include "lrp/layers/prelu.hpp"

namespace lrp::io::onnx_detail {
namespace {

void activation(NodeCtx& c, ActivationSpec spec) {
  const Value& x = c.runtime_input(0, "input X");
  c.add_layer(std::make_unique<Activation<double>>(spec), {&x});
}

}  // namespace

void relu(NodeCtx& c) {
  c.allow_attributes({});
  activation(c, ActivationSpec{ActivationKind::ReLU});
}

void sigmoid(NodeCtx& c) {
  c.allow_attributes({});
  activation(c, ActivationSpec{ActivationKind::Sigmoid});
}

void hard_sigmoid(NodeCtx& c) {
  c.allow_attributes({"alpha", "beta"});
  ActivationSpec s{ActivationKind::HardSigmoid};
  s.alpha = c.attr_float("alpha", 0.2);
  s.beta = c.attr_float("beta", 0.5);
  if (!std::isfinite(s.alpha) || !std::isfinite(s.beta)) c.fail("attributes 'alpha' and 'beta' must be finite");
  activation(c, s);
}

void hard_swish(NodeCtx& c) {
  c.allow_attributes({});
  activation(c, ActivationSpec{ActivationKind::HardSwish});
}

void elu(NodeCtx& c) {
  c.allow_attributes({"alpha"});
  ActivationSpec s{ActivationKind::Elu};
  s.alpha = c.attr_float("alpha", 1.0);
  if (!std::isfinite(s.alpha)) c.fail("attribute 'alpha' must be finite");
  activation(c, s);
}

void selu(NodeCtx& c) {
  c.allow_attributes({"alpha", "gamma"});
  ActivationSpec s{ActivationKind::Selu};
  s.alpha = c.attr_float("alpha", 1.67326319217681884765625);
  s.gamma = c.attr_float("gamma", 1.05070102214813232421875);
  if (!std::isfinite(s.alpha) || !std::isfinite(s.gamma)) c.fail("attributes 'alpha' and 'gamma' must be finite");
  activation(c, s);
}

void softplus(NodeCtx& c) {
  c.allow_attributes({});
  activation(c, ActivationSpec{ActivationKind::Softplus});
}

void softsign(NodeCtx& c) {
  c.allow_attributes({});
  activation(c, ActivationSpec{ActivationKind::Softsign});
}

void erf_op(NodeCtx& c) {
  c.allow_attributes({});
  activation(c, ActivationSpec{ActivationKind::Erf});
}

// Gelu (opset 20); older exporters write it out as x * (1 + erf(x / sqrt 2)) * 0.5, which imports
// as Div (a scale), Erf, Add (a shift), Mul with that shifted erf as the gate, Mul (a scale).
void gelu(NodeCtx& c) {
  c.allow_attributes({"approximate"});
  const std::string approx = c.attr_string("approximate", "none");
  if (approx != "none" && approx != "tanh") c.fail("attribute 'approximate' must be 'none' or 'tanh', got '" + approx + "'");
  activation(c, ActivationSpec{approx == "tanh" ? ActivationKind::GeluTanh : ActivationKind::Gelu});
}

void tanh_op(NodeCtx& c) {
  c.allow_attributes({});
  activation(c, ActivationSpec{ActivationKind::Tanh});
}

void leaky_relu(NodeCtx& c) {
  c.allow_attributes({"alpha"});
  ActivationSpec s{ActivationKind::LeakyReLU};
  s.alpha = c.attr_float("alpha", 0.01);
  if (!std::isfinite(s.alpha)) c.fail("attribute 'alpha' is not finite");
  activation(c, s);
}

void clip(NodeCtx& c) {
  ActivationSpec s{ActivationKind::Clip};
  s.lo = -std::numeric_limits<double>::infinity();
  s.hi = std::numeric_limits<double>::infinity();
  if (c.opset() < 11) {
    c.allow_attributes({"min", "max"});
    if (c.has_attr("min")) s.lo = c.attr_float("min", s.lo);
    if (c.has_attr("max")) s.hi = c.attr_float("max", s.hi);
  } else {
    c.allow_attributes({});
    if (c.has_input(1)) s.lo = c.scalar_of(c.const_input(1, "min"), "min");
    if (c.has_input(2)) s.hi = c.scalar_of(c.const_input(2, "max"), "max");
  }
  if (std::isnan(s.lo) || std::isnan(s.hi)) c.fail("Clip bounds are NaN");
  activation(c, s);
}

// PRelu (opsets 6, 7, 9, 16): a constant slope that broadcasts (right-aligned, onto X) per
// channel of [N, C, ...]: [C, 1, 1] or [1, C, 1, 1] on [N, C, H, W], [C] on [N, C], or one value
// ([1], a scalar) shared by every element. A [C] slope on [N, C, H, W] would broadcast along W
// and is refused.
void prelu(NodeCtx& c) {
  c.allow_attributes({});
  const Value& x = c.runtime_input(0, "input X");
  const ConstTensor& k = c.const_input(1, "slope");
  c.require_finite(k, "slope");
  const std::size_t rank = x.shape.size() + 1;
  bool ok = k.dims.size() <= rank && k.numel() >= 1;
  const bool shared = ok && k.numel() == 1;
  std::size_t ch = 0;
  if (ok && !shared) {
    const std::size_t off = rank - k.dims.size();  // the axis of X that k's first axis meets
    ok = off <= 1 && x.shape.size() >= 1;
    for (std::size_t j = 0; j < k.dims.size() && ok; ++j)
      ok = off + j == 1 ? to_size(k.dims[j]) == x.shape[0] : k.dims[j] == 1;
    if (ok) ch = x.shape[0];
  }
  if (!ok)
    c.fail("slope of shape " + dims_str(k.dims) + " does not broadcast per channel onto " + runtime_shape_str(x) +
           " (supported: [C], [C,1,1], [1,C,1,1] matching the input's C channels, [1] or a scalar)");
  Tensor<double> slopes({shared ? std::size_t{1} : ch});
  for (std::size_t q = 0; q < slopes.size(); ++q) slopes[q] = k.value(q);
  c.add_layer(std::make_unique<PRelu<double>>(std::move(slopes)), {&x});
}

void softmax(NodeCtx& c) {
  c.allow_attributes({"axis"});
  const Value& x = c.runtime_input(0, "input");
  const std::int64_t axis = norm_axis(c, c.attr_int("axis", c.opset() >= 13 ? -1 : 1), onnx_rank(x), "axis");
  if (x.shape.empty() || to_size(axis) + 1 != onnx_rank(x) || (c.opset() < 13 && onnx_rank(x) != 2))
    c.fail("only Softmax over the last axis is supported (before opset 13: of a [N, C] input); the input is " + runtime_shape_str(x) +
           ", axis " + std::to_string(c.attr_int("axis", c.opset() >= 13 ? -1 : 1)));
  c.add_layer(std::make_unique<SoftMax<double>>(), {&x});
}

}  // namespace lrp::io::onnx_detail
