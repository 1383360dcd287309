// ONNX's LSTM operator. PyTorch exports nn.LSTM(batch_first=True) with a Transpose in front that
// puts time first ([T, N, D]): the model imports as a batch of one (Value::moved_batch) and the
// LSTM layer runs on the whole [T, 1, D]. Y is the layer's output; Y_h is sliced from it (the
// last step of each direction in its own order). The initial states must be constants (PyTorch
// writes zeros of the batch's size, which fold to constants in a batch of one).
#include <algorithm>

#include "io/onnx_detail.hpp"
#include "lrp/core/error.hpp"
#include "lrp/layers/lstm.hpp"
#include "lrp/layers/merge.hpp"
#include "lrp/layers/reshape.hpp"

namespace lrp::io::onnx_detail {
namespace {

LstmDirection lstm_direction(const NodeCtx& c) {
  const std::string d = c.attr_string("direction", "forward");
  if (d == "forward") return LstmDirection::Forward;
  if (d == "reverse") return LstmDirection::Reverse;
  if (d == "bidirectional") return LstmDirection::Bidirectional;
  c.fail("direction '" + d + "' is not one of forward, reverse, bidirectional");
}

// An optional constant input checked against `dims`; empty when absent or all zeros.
Tensor<double> optional_state(const NodeCtx& c, std::size_t k, const std::string& role, const std::vector<std::int64_t>& dims) {
  if (!c.has_input(k)) return {};
  if (!c.is_const(k)) c.fail(role + " must be a constant (computed initial states are not supported)");
  const ConstTensor& t = c.const_input(k, role);
  if (t.dims != dims) c.fail(role + " has shape " + dims_str(t.dims) + ", expected " + dims_str(dims));
  c.require_finite(t, role);
  const Tensor<double> v = to_tensor(t);
  if (std::all_of(v.begin(), v.end(), [](double e) { return e == 0.0; })) return {};
  return v;
}

}  // namespace

void lstm(NodeCtx& c) {
  c.allow_attributes({"activation_alpha", "activation_beta", "activations", "clip", "direction", "hidden_size", "input_forget", "layout"});
  if (c.has_attr("clip")) c.fail("cell clipping (attribute 'clip') is not supported");
  if (c.attr_int("input_forget", 0) != 0) c.fail("coupled input and forget gates (attribute 'input_forget') are not supported");
  if (c.attr_int("layout", 0) != 0) c.fail("layout " + std::to_string(c.attr_int("layout", 0)) + " is not supported (only 0: [T, B, D])");
  const LstmDirection direction = lstm_direction(c);
  const std::size_t dirs = direction == LstmDirection::Bidirectional ? 2 : 1;
  if (c.has_attr("activations")) {
    const onnx::NodeProto& node = c.node();
    for (const onnx::AttributeProto& a : node.attribute()) {
      if (a.name() != "activations") continue;
      const char* const defaults[] = {"Sigmoid", "Tanh", "Tanh"};
      if (static_cast<std::size_t>(a.strings_size()) != 3 * dirs) c.fail("attribute 'activations' must list 3 functions per direction");
      for (int k = 0; k < a.strings_size(); ++k)
        if (a.strings(k) != defaults[k % 3])
          c.fail("activation '" + a.strings(k) + "' is not supported (only the defaults Sigmoid, Tanh, Tanh)");
    }
  }
  c.limit_outputs(2, "the cell state Y_c is not supported");

  const Value& x = c.runtime_input(0, "X");
  if (!x.moved_batch)
    c.fail("reads " + runtime_shape_str(x) + " with the batch first, but ONNX's LSTM takes [T, B, D], time first; export the "
           "model with batch_first=True (a Transpose in front of the LSTM)");
  if (x.shape.size() != 3) c.fail("input X must be [T, B, D], got " + runtime_shape_str(x));
  const std::int64_t steps = static_cast<std::int64_t>(x.shape[0]), seqs = static_cast<std::int64_t>(x.shape[1]);
  const ConstTensor& w = c.const_input(1, "W");
  const ConstTensor& r = c.const_input(2, "R");
  if (r.dims.size() != 3 || r.dims[0] != static_cast<std::int64_t>(dirs) || r.dims[2] <= 0 || r.dims[1] != 4 * r.dims[2])
    c.fail("R has shape " + dims_str(r.dims) + ", expected [" + std::to_string(dirs) + ", 4 * hidden_size, hidden_size]");
  const std::int64_t hidden = r.dims[2];
  if (c.has_attr("hidden_size") && c.attr_int("hidden_size", 0) != hidden)
    c.fail("hidden_size " + std::to_string(c.attr_int("hidden_size", 0)) + " does not match R " + dims_str(r.dims));
  if (w.dims != std::vector<std::int64_t>{static_cast<std::int64_t>(dirs), 4 * hidden, static_cast<std::int64_t>(x.shape[2])})
    c.fail("W has shape " + dims_str(w.dims) + ", expected [" + std::to_string(dirs) + ", " + std::to_string(4 * hidden) + ", " +
           std::to_string(x.shape[2]) + "] for the input " + runtime_shape_str(x));
  c.require_finite(w, "W");
  c.require_finite(r, "R");
  Tensor<double> bias({dirs, static_cast<std::size_t>(8 * hidden)});
  if (c.has_input(3)) {
    const ConstTensor& b = c.const_input(3, "B");
    if (b.dims != std::vector<std::int64_t>{static_cast<std::int64_t>(dirs), 8 * hidden})
      c.fail("B has shape " + dims_str(b.dims) + ", expected [" + std::to_string(dirs) + ", " + std::to_string(8 * hidden) + "]");
    c.require_finite(b, "B");
    bias = to_tensor(b);
  }
  if (c.has_input(4)) {
    const std::vector<std::int64_t> lens = c.ints_of(c.const_input(4, "sequence_lens"), "sequence_lens");
    if (!std::all_of(lens.begin(), lens.end(), [&](std::int64_t v) { return v == steps; }))
      c.fail("sequence_lens " + dims_str(lens) + " shorter than the sequence (" + std::to_string(steps) + " steps) are not supported");
  }
  const std::vector<std::int64_t> state_dims{static_cast<std::int64_t>(dirs), seqs, hidden};
  Tensor<double> h0 = optional_state(c, 5, "initial_h", state_dims);
  Tensor<double> c0 = optional_state(c, 6, "initial_c", state_dims);
  if (c.has_input(7)) {
    const ConstTensor& p = c.const_input(7, "P");
    for (std::size_t k = 0; k < p.numel(); ++k)
      if (p.value(k) != 0.0) c.fail("peephole weights (input P) are not supported");
  }

  std::unique_ptr<Layer<double>> layer;
  try {
    layer = std::make_unique<Lstm<double>>(to_tensor(w), to_tensor(r), std::move(bias), std::move(h0), std::move(c0), direction);
  } catch (const ShapeError& e) {
    c.fail(e.what());
  }
  const Value y = c.add_hidden(std::move(layer), {&x}, BatchAxis::Inherit, "");
  c.alias(y, 0);
  if (c.node().output_size() < 2 || c.node().output(1).empty() || c.importer().uses(c.node().output(1)) == 0) return;
  // Y_h [dirs, B, H]: each direction's last step, t = T-1 forward and t = 0 in reverse.
  const std::size_t b = x.shape[1], h = static_cast<std::size_t>(hidden);
  std::vector<Value> last;
  for (std::size_t d = 0; d < dirs; ++d) {
    const bool reversed = direction == LstmDirection::Reverse || d == 1;
    const std::size_t t = reversed ? 0 : x.shape[0] - 1;
    ++c.importer().id_uses.at(y.id);
    last.push_back(c.add_hidden(std::make_unique<Slice<double>>(Shape{t, d, 0, 0}, Shape{1, 1, b, h}, Shape{1, b, h}), {&y}, BatchAxis::Inherit,
                                " (Y_h)"));
  }
  if (dirs == 1) {
    c.alias(last[0], 1);
    return;
  }
  const Value both = c.add_hidden(std::make_unique<Concat<double>>(2, 0), {&last[0], &last[1]}, BatchAxis::Inherit, " (Y_h)");
  c.alias(both, 1);
}

}  // namespace lrp::io::onnx_detail
