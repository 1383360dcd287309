// Normalisations written out, as PyTorch exports them: LayerNorm before opset 17 (and any
// hand-written one), RMSNorm always (Llama's, T5's):
//   LayerNorm: ReduceMean(x) -> Sub(x, mean) = d -> Pow(d, 2) -> ReduceMean -> Add(eps) -> Sqrt
//              -> Div(d, root)
//   RMSNorm:   Pow(x, 2) -> ReduceMean -> Add(eps) -> Sqrt -> Reciprocal or Div(1, .) -> Mul(x, .)
//              (or Div(x, root))
// means over the last axis, keeping it. None of the steps is a layer of its own: each is a pending
// value (Value::norm) until the final product or quotient adds one LayerNorm layer (centred or
// not); its weight and shift, a following Mul and Add of constants, are folded into it by those
// converters. Any other use of a step is refused by name.
#include <cmath>

#include "io/onnx_detail.hpp"
#include "lrp/layers/activation.hpp"
#include "lrp/layers/layer_norm.hpp"

namespace lrp::io::onnx_detail {
namespace {

using Step = Value::NormStep;

const char* kForm =
    "a normalisation written out (LayerNorm (x - mean) / sqrt(mean((x - mean)^2) + eps) or RMSNorm x / sqrt(mean(x^2) + eps), "
    "means over the last axis)";

[[noreturn]] void misplaced(const NodeCtx& c) {
  c.fail(std::string("reads a step of ") + kForm + "; such a step is supported only as part of that form");
}

// The inputs of the node that are pending steps.
std::vector<std::size_t> pending_inputs(const NodeCtx& c) {
  std::vector<std::size_t> found;
  for (std::size_t k = 0; k < c.num_inputs(); ++k)
    if (c.has_input(k) && !c.is_const(k) && c.input(k, "input").norm) found.push_back(k);
  return found;
}

// The LayerNorm (or RMSNorm) of x: unit scale, no shift.
void add_norm(NodeCtx& c, const Value& x, double eps, bool centered) {
  const std::size_t d = x.shape.back();
  c.add_layer(std::make_unique<LayerNorm<double>>(Tensor<double>({d}, 1.0), Tensor<double>({d}), eps, centered), {&x});
}

// Whether the ReduceMean of this node is over the last axis only, keeping it.
bool mean_over_last_axis(NodeCtx& c, const Value& v) {
  c.allow_attributes({"axes", "keepdims", "noop_with_empty_axes"});
  std::vector<std::int64_t> axes = c.attr_ints("axes");
  if (c.has_input(1)) axes = c.ints_of(c.const_input(1, "axes"), "axes");
  const std::size_t rank = onnx_rank(v);
  return axes.size() == 1 && norm_axis(c, axes[0], rank, "axes") == static_cast<std::int64_t>(rank - 1) && c.attr_int("keepdims", 1) != 0;
}

bool only_read_by(NodeCtx& c, const std::string& op) {
  const auto it = c.importer().readers.find(c.node().output(0));
  return it != c.importer().readers.end() && it->second == std::vector<std::string>{op};
}

// This node no longer reads x as a layer input: the layer the final step adds does.
void drop_use(NodeCtx& c, const Value& x) {
  std::size_t& uses = c.importer().id_uses.at(x.id);
  if (uses > 0) --uses;
}

}  // namespace

bool reads_norm_step(const NodeCtx& c) { return !pending_inputs(c).empty(); }

// x^2 read by a ReduceMean alone starts an RMSNorm; otherwise x^p for a constant integer p >= 1
// is a Power activation (GELU's tanh approximation written out computes x^3).
void pow_op(NodeCtx& c) {
  c.allow_attributes({});
  if (c.num_inputs() != 2) c.fail("expects 2 inputs");
  if (c.is_const(0)) c.fail("a constant raised to a computed power is not supported");
  if (!c.is_const(1)) c.fail("a computed exponent is not supported");
  const double p = c.scalar_of(c.const_input(1, "Y"), "Y");
  if (!(p >= 1.0 && p <= 64.0) || p != std::floor(p)) c.fail("only a constant integer exponent from 1 to 64 is supported, got " + std::to_string(p));
  const Value x = c.runtime_input(0, "X");  // a copy: binding the output may rehash the values
  if (p != 2.0 || !only_read_by(c, "ReduceMean")) {
    ActivationSpec spec{ActivationKind::Power};
    spec.exponent = static_cast<int>(p);
    c.add_layer(std::make_unique<Activation<double>>(spec), {&x});
    return;
  }
  if (x.shape.empty()) c.fail("the input has no axes besides the batch");
  drop_use(c, x);
  c.set_norm_step(Step{Step::Square, c.node().input(0), 0.0, false}, x, x.shape);
}

// The mean of x over its last axis, read by a Sub alone, starts a LayerNorm; false otherwise
// (the caller converts the ReduceMean as usual).
bool layer_norm_mean(NodeCtx& c) {
  const Value x = c.runtime_input(0, "data");
  if (x.norm || x.shape.empty() || !only_read_by(c, "Sub") || !mean_over_last_axis(c, x)) return false;
  drop_use(c, x);
  Shape shape = x.shape;
  shape.back() = 1;
  c.set_norm_step(Step{Step::Mean, c.node().input(0), 0.0, true}, x, shape);
  return true;
}

void sqrt_op(NodeCtx& c) {
  if (!norm_step(c)) c.fail(std::string("is supported only as a step of ") + kForm);
}
void reciprocal_op(NodeCtx& c) { sqrt_op(c); }

bool norm_step(NodeCtx& c) {
  const std::vector<std::size_t> pending = pending_inputs(c);
  if (pending.empty()) return false;
  const std::string& op = c.op();
  // The end of a LayerNorm: (x - mean) / root, or (x - mean) * (1 / root).
  if (pending.size() == 2) {
    const Step a = *c.input(0, "A").norm, b = *c.input(1, "B").norm;
    const bool end = a.stage == Step::Centered && a.x == b.x && b.centered &&
                     ((op == "Div" && b.stage == Step::Root) || (op == "Mul" && b.stage == Step::InverseRoot));
    if (!end) misplaced(c);
    c.allow_attributes({});
    add_norm(c, c.importer().values.at(a.x), b.eps, true);
    return true;
  }
  const std::size_t k = pending[0];
  const Value v = c.input(k, "input");
  const Step s = *v.norm;
  const Value x = c.importer().values.at(s.x);
  const auto next = [&](Step::Stage stage, double eps, Shape shape) {
    c.set_norm_step(Step{stage, s.x, eps, s.centered}, v, std::move(shape));
    return true;
  };
  const std::size_t other = k == 0 ? 1 : 0;  // of a binary node
  const auto other_is_x = [&] {
    if (c.num_inputs() != 2 || c.is_const(other)) return false;
    const Value& o = c.input(other, "input");
    return !o.norm && o.id == x.id && o.moved_batch == x.moved_batch;
  };
  const auto other_scalar = [&](double& value) {
    if (c.num_inputs() != 2 || !c.is_const(other) || c.const_input(other, "input").numel() != 1) return false;
    value = c.const_input(other, "input").value(0);
    return true;
  };
  double value = 0;
  if (op == "Sub" && s.stage == Step::Mean && k == 1 && other_is_x()) {
    c.allow_attributes({});
    return next(Step::Centered, 0.0, x.shape);
  }
  if (op == "Pow" && s.stage == Step::Centered) {
    c.allow_attributes({});
    if (!other_scalar(value) || value != 2.0) misplaced(c);
    return next(Step::Square, 0.0, v.shape);
  }
  if (op == "ReduceMean" && s.stage == Step::Square) {
    if (!mean_over_last_axis(c, v)) c.fail(std::string("the mean of the squares must be over the last axis only, keeping it, for ") + kForm);
    Shape shape = v.shape;
    shape.back() = 1;
    return next(Step::MeanSquare, 0.0, shape);
  }
  if (op == "Add" && s.stage == Step::MeanSquare) {
    c.allow_attributes({});
    if (!other_scalar(value) || !(value >= 0.0) || !std::isfinite(value))
      c.fail(std::string("only a finite, non-negative scalar epsilon may be added to the mean of the squares in ") + kForm);
    return next(Step::Shifted, value, v.shape);
  }
  if (op == "Sqrt" && (s.stage == Step::MeanSquare || s.stage == Step::Shifted)) {
    c.allow_attributes({});
    return next(Step::Root, s.eps, v.shape);
  }
  if (op == "Reciprocal" && s.stage == Step::Root) {
    c.allow_attributes({});
    return next(Step::InverseRoot, s.eps, v.shape);
  }
  if (op == "Div" && k == 1 && s.stage == Step::Root) {
    c.allow_attributes({});
    if (other_scalar(value) && value == 1.0) return next(Step::InverseRoot, s.eps, v.shape);
    if (!s.centered && other_is_x()) {
      add_norm(c, x, s.eps, false);
      return true;
    }
  }
  if (op == "Mul" && s.stage == Step::InverseRoot && !s.centered && other_is_x()) {
    c.allow_attributes({});
    add_norm(c, x, s.eps, false);
    return true;
  }
  misplaced(c);
}

}  // namespace lrp::io::onnx_detail
