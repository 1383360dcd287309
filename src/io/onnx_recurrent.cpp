// ONNX's recurrent operators, LSTM, GRU and RNN. PyTorch exports nn.LSTM / nn.GRU / nn.RNN(batch_first=True)
// with a Transpose in front that puts time first ([T, N, D]): the model imports as a batch of one
// (Value::moved_batch) and the layer runs on the whole [T, 1, D]. Without batch_first the model's
// input is [T, N, ...] itself: it imports with the batch on input axis 1 (Importer::time_first,
// onnx_model.cpp), its samples [T, ...], and the layer again sees [T, 1, D]. Y is the layer's output; Y_h is
// sliced from it (the last step of each direction in its own order). The initial states must be
// constants (PyTorch writes zeros of the batch's size, which fold to constants in a batch of one).
#include <algorithm>

#include "io/onnx_detail.hpp"
#include "lrp/core/error.hpp"
#include "lrp/layers/gru.hpp"
#include "lrp/layers/lstm.hpp"
#include "lrp/layers/merge.hpp"
#include "lrp/layers/reshape.hpp"
#include "lrp/layers/rnn.hpp"

namespace lrp::io::onnx_detail {
namespace {

// What LSTM and GRU nodes have in common, read and checked.
struct Operands {
  RecurrentDirection direction = RecurrentDirection::Forward;
  std::size_t dirs = 1, hidden = 0;
  Value x;
  Tensor<double> w, r, b, h0;
};

RecurrentDirection read_direction(const NodeCtx& c) {
  const std::string d = c.attr_string("direction", "forward");
  if (d == "forward") return RecurrentDirection::Forward;
  if (d == "reverse") return RecurrentDirection::Reverse;
  if (d == "bidirectional") return RecurrentDirection::Bidirectional;
  c.fail("direction '" + d + "' is not one of forward, reverse, bidirectional");
}

// An optional constant input checked against `dims`; empty when absent or all zeros.
Tensor<double> optional_state(const NodeCtx& c, std::size_t k, const std::string& role, const std::vector<std::int64_t>& dims) {
  if (!c.has_input(k)) return {};
  if (!c.is_const(k)) c.fail(role + " must be a constant (computed initial states are not supported)");
  const ConstTensor& t = c.const_input(k, role);
  if (t.dims != dims) c.fail(role + " has shape " + dims_str(t.dims) + ", expected " + dims_str(dims));
  c.require_finite(t, role);
  Tensor<double> v = to_tensor(t);
  if (std::all_of(v.begin(), v.end(), [](double e) { return e == 0.0; })) return {};
  return v;
}

// The 'activations' attribute's strings (empty when absent).
std::vector<std::string> activation_names(const NodeCtx& c) {
  std::vector<std::string> names;
  for (const onnx::AttributeProto& a : c.node().attribute())
    if (a.name() == "activations") names.assign(a.strings().begin(), a.strings().end());
  return names;
}

// X, W, R, B, sequence_lens and initial_h (inputs 0-5) and the shared attributes of a node with
// `gates` gates whose activations must be `activations` (per direction) where given.
Operands read_operands(NodeCtx& c, std::size_t gates, const std::vector<std::string>& activations) {
  Operands o;
  if (c.has_attr("clip")) c.fail("cell clipping (attribute 'clip') is not supported");
  if (c.attr_int("layout", 0) != 0) c.fail("layout " + std::to_string(c.attr_int("layout", 0)) + " is not supported (only 0: [T, B, D])");
  o.direction = read_direction(c);
  o.dirs = direction_count(o.direction);
  const std::vector<std::string> given = activation_names(c);
  if (!given.empty() && given.size() != activations.size() * o.dirs)
    c.fail("attribute 'activations' must list " + std::to_string(activations.size()) + " functions per direction");
  for (std::size_t k = 0; k < given.size(); ++k)
    if (given[k] != activations[k % activations.size()])
      c.fail("activation '" + given[k] + "' is not supported (only " + activations[k % activations.size()] + " there)");
  o.x = c.runtime_input(0, "X");
  const Value& x = o.x;
  if (!x.moved_batch)
    c.fail("reads " + runtime_shape_str(x) + " with the batch first, but ONNX's " + c.op() + " takes [T, B, D], time first; export the "
           "model with batch_first=True (a Transpose in front of the " + c.op() + "), or with the model's input time first: [T, B, ...] "
           "with a fixed T and the batch (dynamic or 1) on axis 1");
  if (x.shape.size() != 3) c.fail("input X must be [T, B, D], got " + runtime_shape_str(x));
  const auto g = static_cast<std::int64_t>(gates), dirs = static_cast<std::int64_t>(o.dirs);
  const ConstTensor& w = c.const_input(1, "W");
  const ConstTensor& r = c.const_input(2, "R");
  if (r.dims.size() != 3 || r.dims[0] != dirs || r.dims[2] <= 0 || r.dims[1] != g * r.dims[2])
    c.fail("R has shape " + dims_str(r.dims) + ", expected [" + std::to_string(dirs) + ", " + std::to_string(g) + " * hidden_size, hidden_size]");
  const std::int64_t hidden = r.dims[2];
  if (c.has_attr("hidden_size") && c.attr_int("hidden_size", 0) != hidden)
    c.fail("hidden_size " + std::to_string(c.attr_int("hidden_size", 0)) + " does not match R " + dims_str(r.dims));
  if (w.dims != std::vector<std::int64_t>{dirs, g * hidden, static_cast<std::int64_t>(x.shape[2])})
    c.fail("W has shape " + dims_str(w.dims) + ", expected [" + std::to_string(dirs) + ", " + std::to_string(g * hidden) + ", " +
           std::to_string(x.shape[2]) + "] for the input " + runtime_shape_str(x));
  c.require_finite(w, "W");
  c.require_finite(r, "R");
  o.hidden = static_cast<std::size_t>(hidden);
  o.w = to_tensor(w);
  o.r = to_tensor(r);
  o.b = Tensor<double>({o.dirs, 2 * gates * o.hidden});
  if (c.has_input(3)) {
    const ConstTensor& b = c.const_input(3, "B");
    if (b.dims != std::vector<std::int64_t>{dirs, 2 * g * hidden})
      c.fail("B has shape " + dims_str(b.dims) + ", expected [" + std::to_string(dirs) + ", " + std::to_string(2 * g * hidden) + "]");
    c.require_finite(b, "B");
    o.b = to_tensor(b);
  }
  if (c.has_input(4)) {
    const std::vector<std::int64_t> lens = c.ints_of(c.const_input(4, "sequence_lens"), "sequence_lens");
    const auto steps = static_cast<std::int64_t>(x.shape[0]);
    if (!std::all_of(lens.begin(), lens.end(), [&](std::int64_t v) { return v == steps; }))
      c.fail("sequence_lens " + dims_str(lens) + " shorter than the sequence (" + std::to_string(steps) + " steps) are not supported");
  }
  o.h0 = optional_state(c, 5, "initial_h", {dirs, static_cast<std::int64_t>(x.shape[1]), hidden});
  return o;
}

// Adds `layer` for Y (output 0) and, when something reads it, Y_h (output 1) [dirs, B, H]: each
// direction's last step, t = T-1 forward and t = 0 in reverse.
void bind_outputs(NodeCtx& c, std::unique_ptr<Layer<double>> layer, const Operands& o) {
  const Value y = c.add_hidden(std::move(layer), {&o.x}, BatchAxis::Inherit, "");
  c.alias(y, 0);
  if (c.node().output_size() < 2 || c.node().output(1).empty() || c.importer().uses(c.node().output(1)) == 0) return;
  const std::size_t steps = o.x.shape[0], seqs = o.x.shape[1];
  std::vector<Value> last;
  for (std::size_t d = 0; d < o.dirs; ++d) {
    const std::size_t t = runs_reversed(o.direction, d) ? 0 : steps - 1;
    ++c.importer().id_uses.at(y.id);
    last.push_back(c.add_hidden(std::make_unique<Slice<double>>(Shape{t, d, 0, 0}, Shape{1, 1, seqs, o.hidden}, Shape{1, seqs, o.hidden}),
                                {&y}, BatchAxis::Inherit, " (Y_h)"));
  }
  if (o.dirs == 1) {
    c.alias(last[0], 1);
    return;
  }
  c.alias(c.add_hidden(std::make_unique<Concat<double>>(2, 0), {&last[0], &last[1]}, BatchAxis::Inherit, " (Y_h)"), 1);
}

}  // namespace

void lstm(NodeCtx& c) {
  c.allow_attributes({"activation_alpha", "activation_beta", "activations", "clip", "direction", "hidden_size", "input_forget", "layout"});
  if (c.attr_int("input_forget", 0) != 0) c.fail("coupled input and forget gates (attribute 'input_forget') are not supported");
  c.limit_outputs(2, "the cell state Y_c is not supported");
  Operands o = read_operands(c, 4, {"Sigmoid", "Tanh", "Tanh"});
  Tensor<double> c0 = optional_state(c, 6, "initial_c", {static_cast<std::int64_t>(o.dirs), static_cast<std::int64_t>(o.x.shape[1]),
                                                         static_cast<std::int64_t>(o.hidden)});
  if (c.has_input(7)) {
    const ConstTensor& p = c.const_input(7, "P");
    for (std::size_t k = 0; k < p.numel(); ++k)
      if (p.value(k) != 0.0) c.fail("peephole weights (input P) are not supported");
  }
  std::unique_ptr<Layer<double>> layer;
  try {
    layer = std::make_unique<Lstm<double>>(std::move(o.w), std::move(o.r), std::move(o.b), std::move(o.h0), std::move(c0), o.direction);
  } catch (const ShapeError& e) {
    c.fail(e.what());
  }
  bind_outputs(c, std::move(layer), o);
}

void gru(NodeCtx& c) {
  c.allow_attributes({"activation_alpha", "activation_beta", "activations", "clip", "direction", "hidden_size", "layout", "linear_before_reset"});
  const std::int64_t before_reset = c.attr_int("linear_before_reset", 0);  // 1: PyTorch's and Keras's reset_after
  if (before_reset != 0 && before_reset != 1) c.fail("linear_before_reset must be 0 or 1, got " + std::to_string(before_reset));
  Operands o = read_operands(c, 3, {"Sigmoid", "Tanh"});
  std::unique_ptr<Layer<double>> layer;
  try {
    layer = std::make_unique<Gru<double>>(std::move(o.w), std::move(o.r), std::move(o.b), std::move(o.h0), o.direction, before_reset == 1);
  } catch (const ShapeError& e) {
    c.fail(e.what());
  }
  bind_outputs(c, std::move(layer), o);
}

}  // namespace lrp::io::onnx_detail

namespace lrp::io::onnx_detail {

// A simple recurrent layer: tanh (the default) or ReLU, the same in both directions (PyTorch's
// nn.RNN nonlinearity).
void rnn(NodeCtx& c) {
  c.allow_attributes({"activation_alpha", "activation_beta", "activations", "clip", "direction", "hidden_size", "layout"});
  const std::vector<std::string> given = activation_names(c);
  const std::string f = given.empty() ? "Tanh" : given[0];
  if (f != "Tanh" && f != "Relu") c.fail("activation '" + f + "' is not supported (only Tanh and Relu)");
  Operands o = read_operands(c, 1, {f});
  std::unique_ptr<Layer<double>> layer;
  try {
    layer = std::make_unique<Rnn<double>>(std::move(o.w), std::move(o.r), std::move(o.b), std::move(o.h0), o.direction,
                                          f == "Tanh" ? RnnActivation::Tanh : RnnActivation::Relu);
  } catch (const ShapeError& e) {
    c.fail(e.what());
  }
  bind_outputs(c, std::move(layer), o);
}

}  // namespace lrp::io::onnx_detail
