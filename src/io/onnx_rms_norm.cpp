// RMSNorm written out (and Pow, which starts it): PyTorch exports a hand-written RMSNorm (Llama's, T5's) as
//   Pow(x, 2) -> ReduceMean(last axis, keepdims) -> Add(eps) -> Sqrt -> Reciprocal or Div(1, .)
//   -> Mul(x, .)            (or Div(x, Sqrt(...)))
// None of the steps is a layer of its own: each is a pending value (Value::rms) until the product
// with x itself adds one LayerNorm without centring (its weight, a following Mul, is folded in by
// the Mul converter). Any other use of a step is refused by name.
#include <cmath>

#include "io/onnx_detail.hpp"
#include "lrp/layers/activation.hpp"
#include "lrp/layers/layer_norm.hpp"

namespace lrp::io::onnx_detail {
namespace {

using Step = Value::RmsStep;

const char* kForm = "an RMSNorm written out (x * 1 / sqrt(mean(x^2 over the last axis) + eps))";

// The input of the node that is a pending step, or -1.
long pending_input(const NodeCtx& c) {
  long found = -1;
  for (std::size_t k = 0; k < c.num_inputs(); ++k)
    if (c.has_input(k) && !c.is_const(k) && c.input(k, "input").rms) {
      if (found >= 0) c.fail(std::string("reads two steps of ") + kForm);
      found = static_cast<long>(k);
    }
  return found;
}

[[noreturn]] void misplaced(const NodeCtx& c) {
  c.fail(std::string("reads a step of ") + kForm + "; such a step is supported only as part of that form");
}

// The RMSNorm of x: LayerNorm without centring, unit scale, no shift.
void add_rms_norm(NodeCtx& c, const Value& x, double eps) {
  const std::size_t d = x.shape.back();
  c.add_layer(std::make_unique<LayerNorm<double>>(Tensor<double>({d}, 1.0), Tensor<double>({d}), eps, false), {&x});
}

}  // namespace

bool reads_rms_step(const NodeCtx& c) { return pending_input(c) >= 0; }

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
  const auto it = c.importer().readers.find(c.node().output(0));
  const bool starts_rms = p == 2.0 && it != c.importer().readers.end() && it->second == std::vector<std::string>{"ReduceMean"};
  if (!starts_rms) {
    ActivationSpec spec{ActivationKind::Power};
    spec.exponent = static_cast<int>(p);
    c.add_layer(std::make_unique<Activation<double>>(spec), {&x});
    return;
  }
  if (x.shape.empty()) c.fail("the input has no axes besides the batch");
  std::size_t& uses = c.importer().id_uses.at(x.id);
  if (uses > 0) --uses;  // read by the layer the final product adds, not by this step
  c.set_rms_step(Step{Step::Square, c.node().input(0), 0.0}, x, x.shape);
}

void sqrt_op(NodeCtx& c) {
  if (!rms_norm_step(c)) c.fail(std::string("is supported only as a step of ") + kForm);
}
void reciprocal_op(NodeCtx& c) { sqrt_op(c); }

bool rms_norm_step(NodeCtx& c) {
  const long k = pending_input(c);
  if (k < 0) return false;
  const Value v = c.input(static_cast<std::size_t>(k), "input");
  const Step s = *v.rms;
  const Value x = c.importer().values.at(s.x);
  const std::string& op = c.op();
  const auto next = [&](Step::Stage stage, double eps, Shape shape) {
    c.set_rms_step(Step{stage, s.x, eps}, v, std::move(shape));
    return true;
  };
  // The other operand of a binary node.
  const std::size_t other = k == 0 ? 1 : 0;
  const auto other_is_x = [&] {
    if (c.num_inputs() != 2 || c.is_const(other)) return false;
    const Value& o = c.input(other, "input");
    return !o.rms && o.id == x.id && o.moved_batch == x.moved_batch;
  };
  const auto other_scalar = [&](double& value) {
    if (c.num_inputs() != 2 || !c.is_const(other) || c.const_input(other, "input").numel() != 1) return false;
    value = c.const_input(other, "input").value(0);
    return true;
  };
  if (op == "ReduceMean" && s.stage == Step::Square) {
    c.allow_attributes({"axes", "keepdims", "noop_with_empty_axes"});
    std::vector<std::int64_t> axes = c.attr_ints("axes");
    if (c.has_input(1)) axes = c.ints_of(c.const_input(1, "axes"), "axes");
    const std::size_t rank = onnx_rank(v);
    if (axes.size() != 1 || norm_axis(c, axes[0], rank, "axes") != static_cast<std::int64_t>(rank - 1) || c.attr_int("keepdims", 1) == 0)
      c.fail(std::string("the mean of x^2 must be over the last axis only, keeping it, for ") + kForm);
    Shape shape = v.shape;
    shape.back() = 1;
    return next(Step::MeanSquare, 0.0, shape);
  }
  double value = 0;
  if (op == "Add" && s.stage == Step::MeanSquare) {
    c.allow_attributes({});
    if (!other_scalar(value) || !(value >= 0.0) || !std::isfinite(value))
      c.fail(std::string("only a finite, non-negative scalar epsilon may be added to the mean of x^2 in ") + kForm);
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
    if (other_is_x()) {
      add_rms_norm(c, x, s.eps);
      return true;
    }
  }
  if (op == "Mul" && s.stage == Step::InverseRoot && other_is_x()) {
    c.allow_attributes({});
    add_rms_norm(c, x, s.eps);
    return true;
  }
  misplaced(c);
}

}  // namespace lrp::io::onnx_detail
