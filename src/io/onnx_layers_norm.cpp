// Layer converters for normalisations: BatchNormalization, LayerNormalization, LRN.
#include <cmath>
#include <memory>
#include <string>
#include <utility>

#include "io/onnx_layers.hpp"
#include "lrp/layers/batch_norm.hpp"
#include "lrp/layers/layer_norm.hpp"
#include "lrp/layers/lrn.hpp"
#include "lrp/layers/reshape.hpp"

namespace lrp::io::onnx_detail {

void batch_normalization(NodeCtx& c) {
  c.allow_attributes({"epsilon", "momentum", "spatial", "training_mode", "is_test", "consumed_inputs"});
  if (c.attr_int("training_mode", 0) != 0) c.fail("training_mode=1 is not supported (inference only)");
  if (c.attr_int("spatial", 1) != 1) c.fail("spatial=0 is not supported");
  c.limit_outputs(1, "the training outputs (running mean/variance) are not supported");
  const Value& x = c.runtime_input(0, "input X");
  const ConstTensor& scale = c.const_input(1, "scale");
  const ConstTensor& bias = c.const_input(2, "B");
  const ConstTensor& mean = c.const_input(3, "mean");
  const ConstTensor& var = c.const_input(4, "var");
  const double eps = c.attr_float("epsilon", 1e-5);
  if (x.shape.empty()) c.fail("the input has no channel dimension");
  const std::size_t ch = x.shape[0];
  for (const auto& [t, role] : {std::pair{&scale, "scale"}, std::pair{&bias, "B"}, std::pair{&mean, "mean"}, std::pair{&var, "var"}}) {
    if (t->numel() != ch) c.fail(std::string(role) + " has shape " + dims_str(t->dims) + ", the input has " + std::to_string(ch) + " channels");
    c.require_finite(*t, role);
  }
  if (!std::isfinite(eps) || eps < 0) c.fail("attribute 'epsilon' must be finite and non-negative");
  try {
    c.add_layer(std::make_unique<BatchNorm<double>>(BatchNorm<double>::from_statistics(to_tensor(scale), to_tensor(bias), to_tensor(mean),
                                                                                       to_tensor(var), eps)),
                {&x});
  } catch (const NumericError& e) {
    c.fail(e.what());
  }
}

// LayerNormalization (opset 17): a LayerNorm layer over the last axis. Over several trailing
// axes (axis < -1, e.g. nn.LayerNorm([C, H, W])) they are merged into one first (Reshape,
// LayerNorm, Reshape back); Scale and B broadcast onto the normalised axes.
void layer_normalization(NodeCtx& c) {
  c.allow_attributes({"axis", "epsilon", "stash_type"});
  c.limit_outputs(1, "the Mean and InvStdDev outputs are not supported");
  const Value& x = c.runtime_input(0, "input X");
  if (x.shape.empty()) c.fail("the input has no axis besides the batch");
  const std::size_t rank = onnx_rank(x);
  const std::int64_t axis = norm_axis(c, c.attr_int("axis", -1), rank, "axis");
  if (!x.moved_batch && axis == 0) c.fail("normalising over the batch axis is not supported");
  const std::size_t off = x.moved_batch ? 0 : 1, first = to_size(axis) - off;  // first normalised axis of x.shape
  const Shape normalised(x.shape.begin() + static_cast<std::ptrdiff_t>(first), x.shape.end());
  const std::size_t d = shape_numel(normalised);
  // Scale and B: d values over the last axis (as written); over several axes, a constant that
  // broadcasts onto them (broadcast onto the sample, then its first block of d values).
  const auto per_position = [&](const ConstTensor& k) {
    Tensor<double> t({d});
    if (normalised.size() == 1) {
      if (k.numel() != d)
        c.fail("Scale and B must have " + std::to_string(d) + " values (the last axis of " + runtime_shape_str(x) + "), got " +
               dims_str(k.dims));
      for (std::size_t i = 0; i < d; ++i) t[i] = k.value(i);
      return t;
    }
    if (k.dims.size() > normalised.size())
      c.fail("Scale and B of shape " + dims_str(k.dims) + " have more axes than the normalised " + shape_str(normalised));
    const Tensor<double> full = broadcast_to_sample(c, x, k);
    for (std::size_t i = 0; i < d; ++i) t[i] = full[i];
    return t;
  };
  Tensor<double> gamma = per_position(c.const_input(1, "Scale")), beta({d});
  if (c.has_input(2)) beta = per_position(c.const_input(2, "B"));
  for (const Tensor<double>* t : {&gamma, &beta})
    for (double v : *t)
      if (!std::isfinite(v)) c.fail("Scale and B must be finite");
  const double eps = c.attr_float("epsilon", 1e-5);
  if (!std::isfinite(eps) || eps < 0) c.fail("attribute 'epsilon' must be finite and non-negative");
  auto layer = std::make_unique<LayerNorm<double>>(std::move(gamma), std::move(beta), eps);
  if (normalised.size() == 1) {
    c.add_layer(std::move(layer), {&x});
    return;
  }
  Shape merged(x.shape.begin(), x.shape.begin() + static_cast<std::ptrdiff_t>(first));
  merged.push_back(d);
  Value v = c.add_hidden(std::make_unique<Reshape<double>>(merged), {&x}, BatchAxis::Inherit);
  v = c.add_hidden(std::move(layer), {&v}, BatchAxis::Inherit);
  c.add_layer(std::make_unique<Reshape<double>>(x.shape), {&v});
}

// LRN (opsets 1, 13) across the channels of [N, C, ...]; k is ONNX's 'bias'.
void lrn(NodeCtx& c) {
  c.allow_attributes({"alpha", "beta", "bias", "size"});
  const Value& x = c.runtime_input(0, "input X");
  if (x.shape.empty()) c.fail("the input has no channel dimension");
  if (!c.has_attr("size")) c.fail("missing attribute 'size'");
  const std::int64_t size = c.attr_int("size", 0);
  if (size < 1) c.fail("attribute 'size' must be at least 1, got " + std::to_string(size));
  const double alpha = c.attr_float("alpha", 1e-4), beta = c.attr_float("beta", 0.75), bias = c.attr_float("bias", 1.0);
  if (!std::isfinite(alpha) || alpha < 0) c.fail("attribute 'alpha' must be finite and non-negative");
  if (!std::isfinite(beta)) c.fail("attribute 'beta' must be finite");
  if (!std::isfinite(bias) || bias <= 0) c.fail("attribute 'bias' must be finite and positive (the base must stay > 0)");
  c.add_layer(std::make_unique<LocalResponseNorm<double>>(to_size(size), alpha, beta, bias), {&x});
}

}  // namespace lrp::io::onnx_detail
