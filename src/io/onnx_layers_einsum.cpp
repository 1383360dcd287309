// Einsum, lowered to the layers it stands for: a Transpose of two computed values' axes, one
// batched MatMul, and the Transpose / Reshape back (MaxViT's attention, "bghid,bghjd->bghij");
// with a constant input, a Linear over the rows of the other's last axis ("bld,dh->blh").
// Labels in both inputs and the output are batch axes of the product, labels in both inputs
// only are summed over (contracted), labels in one input and the output are its free axes.
// Every label appears at most once per term (no diagonals) and sizes must agree (no
// broadcasting of size-1 axes); summing over a label of one input alone is refused by name.
#include <algorithm>
#include <cctype>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "io/onnx_layers.hpp"
#include "kernels/permute.hpp"
#include "lrp/layers/linear.hpp"
#include "lrp/layers/matmul.hpp"
#include "lrp/layers/reshape.hpp"

namespace lrp::io::onnx_detail {
namespace {

struct Equation {
  std::vector<std::string> inputs;
  std::string output;
};

// "ab, bc -> ac" (spaces ignored) for inputs of ONNX ranks `ranks`; without "->" the output is
// every label that appears once, in alphabetical order, as ONNX specifies. An ellipsis stands
// for the axes its term does not name; it becomes labels of its own (unused letters), aligned
// from the right across the terms as NumPy broadcasts, and leads an implicit output.
Equation parse_equation(const NodeCtx& c, const std::string& text, const std::vector<std::size_t>& ranks) {
  std::string s;
  for (char ch : text)
    if (!std::isspace(static_cast<unsigned char>(ch))) s += ch;
  const std::string where = "equation '" + text + "': ";
  Equation eq;
  const std::size_t arrow = s.find("->");
  const std::string lhs = s.substr(0, arrow);
  for (std::size_t start = 0;;) {
    const std::size_t comma = lhs.find(',', start);
    eq.inputs.push_back(lhs.substr(start, comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (eq.inputs.size() != ranks.size())
    c.fail(where + std::to_string(eq.inputs.size()) + " terms for " + std::to_string(ranks.size()) + " inputs");
  const auto ellipsis_at = [&](const std::string& t) {
    const std::size_t at = t.find("...");
    if (std::count(t.begin(), t.end(), '.') != (at == std::string::npos ? 0 : 3)) c.fail(where + "a '.' outside one '...' in '" + t + "'");
    return at;
  };
  std::string fresh;  // ellipsis labels, the last ellipsis axis first
  for (char ch = 'A'; ch <= 'z'; ++ch)
    if (std::isalpha(static_cast<unsigned char>(ch)) && s.find(ch) == std::string::npos) fresh += ch;
  const auto ellipsis_labels = [&](std::size_t count) {
    if (count > fresh.size()) c.fail(where + "too many axes under '...'");
    std::string labels = fresh.substr(0, count);
    std::reverse(labels.begin(), labels.end());
    return labels;
  };
  std::size_t widest = 0;  // axes under the longest ellipsis
  for (std::size_t k = 0; k < eq.inputs.size(); ++k) {
    std::string& t = eq.inputs[k];
    const std::size_t at = ellipsis_at(t);
    if (at == std::string::npos) continue;
    if (t.size() - 3 > ranks[k])
      c.fail(where + "term '" + t + "' names " + std::to_string(t.size() - 3) + " axes of an input of rank " + std::to_string(ranks[k]));
    const std::size_t count = ranks[k] - (t.size() - 3);
    widest = std::max(widest, count);
    t.replace(at, 3, ellipsis_labels(count));
  }
  if (arrow != std::string::npos) {
    eq.output = s.substr(arrow + 2);
    const std::size_t at = ellipsis_at(eq.output);
    if (at != std::string::npos) eq.output.replace(at, 3, ellipsis_labels(widest));
  } else {
    std::string named;
    for (const std::string& t : eq.inputs) named += t;
    for (char ch : named)
      if (fresh.find(ch) == std::string::npos && std::count(named.begin(), named.end(), ch) == 1) eq.output += ch;
    std::sort(eq.output.begin(), eq.output.end());
    eq.output = ellipsis_labels(widest) + eq.output;
  }
  std::vector<std::string> terms = eq.inputs;
  terms.push_back(eq.output);
  for (const std::string& t : terms)
    for (char ch : t) {
      if (!std::isalpha(static_cast<unsigned char>(ch))) c.fail(where + "'" + std::string(1, ch) + "' is not a label (letters only)");
      if (std::count(t.begin(), t.end(), ch) > 1)
        c.fail(where + "label '" + std::string(1, ch) + "' appears twice in '" + t + "' (diagonals are not supported)");
    }
  for (char ch : eq.output)
    if (std::none_of(eq.inputs.begin(), eq.inputs.end(), [&](const std::string& t) { return t.find(ch) != std::string::npos; }))
      c.fail(where + "output label '" + std::string(1, ch) + "' is in no input");
  return eq;
}

bool has(const std::string& term, char label) { return term.find(label) != std::string::npos; }

class Lowering {
 public:
  Lowering(NodeCtx& c, bool batch_first) : c_(c), batch_first_(batch_first) {}

  // The Transpose layer taking axes labelled `from` to the order `to` (the same labels). With
  // the batch first, its label is first in both and the layer permutes the sample's axes.
  std::unique_ptr<Layer<double>> transpose_layer(const std::string& from, const std::string& to) const {
    std::vector<std::size_t> perm;
    for (std::size_t k = batch_first_ ? 1 : 0; k < to.size(); ++k) perm.push_back(from.find(to[k]) - (batch_first_ ? 1 : 0));
    return std::make_unique<Transpose<double>>(perm);
  }
  // v (labels `from`) with its axes in the order `to`.
  Value transpose(const Value& v, const std::string& from, const std::string& to, const std::string& suffix) {
    if (from == to) return v;
    return c_.add_hidden(transpose_layer(from, to), {&v}, BatchAxis::Inherit, suffix);
  }
  Value reshape(const Value& v, const Shape& to, const std::string& suffix) {
    if (v.shape == to) return v;
    return c_.add_hidden(std::make_unique<Reshape<double>>(to), {&v}, BatchAxis::Inherit, suffix);
  }

 private:
  NodeCtx& c_;
  bool batch_first_;
};

// Label sizes, read off the inputs' shapes (the batch label, with the batch first, has none).
class Sizes {
 public:
  Sizes(const NodeCtx& c, const std::string& text) : c_(c), text_(text) {}
  void add(const std::string& term, const std::vector<std::size_t>& dims, std::size_t skip) {
    for (std::size_t k = skip; k < term.size(); ++k) {
      const char ch = term[k];
      const std::size_t n = dims[k - skip];
      if (!has(labels_, ch)) {
        labels_ += ch;
        sizes_.push_back(n);
      } else if (of(ch) != n) {
        c_.fail("equation '" + text_ + "': label '" + std::string(1, ch) + "' has sizes " + std::to_string(of(ch)) + " and " + std::to_string(n));
      }
    }
  }
  std::size_t of(char ch) const { return sizes_[labels_.find(ch)]; }
  std::size_t product(const std::string& ls) const {
    std::size_t n = 1;
    for (char ch : ls) n *= of(ch);
    return n;
  }
  Shape shape(const std::string& ls) const {
    Shape s;
    for (char ch : ls) s.push_back(of(ch));
    return s;
  }

 private:
  const NodeCtx& c_;
  const std::string& text_;
  std::string labels_;
  std::vector<std::size_t> sizes_;
};

// Adds `product` (reading `inputs`, per-sample output `product_shape`) and what takes its axes,
// labelled `result` with per-sample shape `result_shape` once reshaped, to the output's order;
// the last layer is the node's output.
void add_arranged(NodeCtx& c, Lowering& low, std::unique_ptr<Layer<double>> product, const std::vector<const Value*>& inputs,
                  const Shape& product_shape, const std::string& result, const Shape& result_shape, const std::string& output) {
  if (result == output && result_shape == product_shape) return c.add_layer(std::move(product), inputs);
  const Value prod = c.add_hidden(std::move(product), inputs, BatchAxis::Inherit, " (product)");
  if (result == output) return c.add_layer(std::make_unique<Reshape<double>>(result_shape), {&prod});
  const Value r = low.reshape(prod, result_shape, " (product's axes)");
  c.add_layer(low.transpose_layer(result, output), {&r});
}

// The labels of `term` that are (not) in `other`, in term's order.
std::string labels_in(const std::string& term, const std::string& other, bool in) {
  std::string out;
  for (char ch : term)
    if (has(other, ch) == in) out += ch;
  return out;
}

// Einsum of a computed value x and a constant w: a Linear over the rows of x's last axis once x's
// contracted labels are last, with the weight [free labels of w, contracted] from w.
void einsum_with_constant(NodeCtx& c, const std::string& text) {
  const std::size_t kw = c.is_const(0) ? 0 : 1, kx = 1 - kw;
  const ConstTensor& w = c.const_input(kw, "Inputs");
  c.require_finite(w, "the constant input");
  if (w.is_int || w.batch_broadcast) c.fail("equation '" + text + "': the constant input must be a float tensor alike for every sample");
  std::vector<std::size_t> ranks(2);
  ranks[kw] = w.dims.size();
  ranks[kx] = onnx_rank(c.input(kx, "Inputs"));
  const Equation eq = parse_equation(c, text, ranks);
  const std::string& tx = eq.inputs[kx];
  const std::string& tw = eq.inputs[kw];
  const bool lined_up = !tx.empty() && !eq.output.empty() && eq.output[0] == tx[0] && !has(tw, tx[0]);
  const bool moved = c.input(kx, "Inputs").moved_batch || (!lined_up && c.importer().static_batch == std::size_t{1});
  const Value x = moved ? c.with_moved_batch(c.input(kx, "Inputs")) : c.input(kx, "Inputs");
  if (tx.size() != onnx_rank(x))
    c.fail("equation '" + text + "': term '" + tx + "' has " + std::to_string(tx.size()) + " labels for an input of rank " +
           std::to_string(onnx_rank(x)) + " " + runtime_shape_str(x));
  if (tw.size() != w.dims.size())
    c.fail("equation '" + text + "': term '" + tw + "' has " + std::to_string(tw.size()) + " labels for a constant of shape " + dims_str(w.dims));
  if (!moved && !lined_up)
    c.fail("equation '" + text + "': the batch axis (the first of the computed input) must be the first axis of the output "
           "and not a label of the constant (or the model run as a batch of one)");
  const std::size_t skip = moved ? 0 : 1;
  Sizes sizes(c, text);
  sizes.add(tx, x.shape, skip);
  std::vector<std::size_t> w_dims;
  for (std::int64_t d : w.dims) w_dims.push_back(to_size(d));
  sizes.add(tw, w_dims, 0);

  const std::string contracted = labels_in(tx, tw, true);
  const std::string free_x = labels_in(tx, tw, false), free_w = labels_in(tw, tx, false);
  for (char ch : contracted)
    if (has(eq.output, ch))
      c.fail("equation '" + text + "': label '" + std::string(1, ch) + "' of both inputs is in the output (an elementwise scale); not supported");
  for (char ch : free_x + free_w)
    if (!has(eq.output, ch)) c.fail("equation '" + text + "': label '" + std::string(1, ch) + "' is summed over in one input only; not supported");

  // W [P, K] = w with its axes in the order free_w, contracted.
  const std::size_t p = sizes.product(free_w), k = sizes.product(contracted);
  std::vector<std::size_t> perm;
  for (char ch : free_w + contracted) perm.push_back(tw.find(ch));
  Tensor<double> weight({p, k});
  kernels::permute(w.f.data(), weight.data(), w_dims, perm);

  Lowering low(c, !moved);
  const Value x1 = low.transpose(x, tx, free_x + contracted, " (input's axes)");
  Shape rows = sizes.shape(free_x.substr(skip));
  rows.push_back(k);
  const Value x2 = low.reshape(x1, rows, " (input as rows)");
  Shape product_shape(rows.begin(), rows.end() - 1);
  product_shape.push_back(p);
  auto linear = std::make_unique<Linear<double>>(std::move(weight), Tensor<double>({p}), rows.size() > 1);
  const std::string result = free_x + free_w;
  add_arranged(c, low, std::move(linear), {&x2}, product_shape, result, sizes.shape(result.substr(skip)), eq.output);
}

}  // namespace

void einsum(NodeCtx& c) {
  c.allow_attributes({"equation"});
  const std::string text = c.attr_string("equation", "");
  if (c.num_inputs() != 2) c.fail("equation '" + text + "': only products of two inputs are supported");
  if (c.is_const(0) && c.is_const(1)) c.fail("equation '" + text + "': both inputs are constants (not folded)");
  if (c.is_const(0) || c.is_const(1)) return einsum_with_constant(c, text);
  const Equation eq = parse_equation(c, text, {onnx_rank(c.input(0, "Inputs")), onnx_rank(c.input(1, "Inputs"))});

  // A batch axis in front (the usual case) must be the first label of every term; a batch of
  // one run as a whole tensor (moved) has all its axes in the labels.
  const std::string& ta = eq.inputs[0];
  const std::string& tb = eq.inputs[1];
  const bool lined_up = !ta.empty() && !tb.empty() && tb[0] == ta[0] && !eq.output.empty() && eq.output[0] == ta[0];
  const bool moved = c.input(0, "Inputs").moved_batch || c.input(1, "Inputs").moved_batch ||
                     (!lined_up && c.importer().static_batch == std::size_t{1});
  const Value a0 = moved ? c.with_moved_batch(c.input(0, "Inputs")) : c.input(0, "Inputs");
  const Value b0 = moved ? c.with_moved_batch(c.input(1, "Inputs")) : c.input(1, "Inputs");
  for (const auto& [v, t] : {std::pair{&a0, &ta}, std::pair{&b0, &tb}})
    if (t->size() != onnx_rank(*v))
      c.fail("equation '" + text + "': term '" + *t + "' has " + std::to_string(t->size()) + " labels for an input of rank " +
             std::to_string(onnx_rank(*v)) + " " + runtime_shape_str(*v));
  const bool batch_first = !moved;
  if (batch_first && !lined_up)
    c.fail("equation '" + text + "': the batch axis (the first of each input) must be the first axis of both inputs and the output "
           "(or the model run as a batch of one)");
  const std::size_t skip = batch_first ? 1 : 0;
  Sizes sizes(c, text);
  sizes.add(ta, a0.shape, skip);
  sizes.add(tb, b0.shape, skip);

  const std::string batch = labels_in(labels_in(ta, tb, true), eq.output, true);
  const std::string contracted = labels_in(labels_in(ta, tb, true), eq.output, false);
  const std::string free_a = labels_in(ta, tb, false), free_b = labels_in(tb, ta, false);
  for (char ch : free_a + free_b)
    if (!has(eq.output, ch)) c.fail("equation '" + text + "': label '" + std::string(1, ch) + "' is summed over in one input only; not supported");

  const Shape lead = sizes.shape(batch.substr(skip));  // the product's leading (batch) axes per sample
  const auto with_lead = [&](std::initializer_list<std::size_t> tail) {
    Shape s = lead;
    s.insert(s.end(), tail);
    return s;
  };
  const std::size_t m = sizes.product(free_a), k = sizes.product(contracted), p = sizes.product(free_b);
  Lowering low(c, batch_first);
  const Value a1 = low.transpose(a0, ta, batch + free_a + contracted, " (A's axes)");
  const Value b1 = low.transpose(b0, tb, batch + contracted + free_b, " (B's axes)");
  const Value a = low.reshape(a1, with_lead({m, k}), " (A as matrices)");
  const Value b = low.reshape(b1, with_lead({k, p}), " (B as matrices)");
  // Attention weights (a SoftMax output) stay marked through the transposes (see MatMul).
  const bool ga = is_softmax_output(c, c.input(0, "Inputs")), gb = is_softmax_output(c, c.input(1, "Inputs"));
  const std::string result = batch + free_a + free_b;
  add_arranged(c, low, std::make_unique<MatMul<double>>(ga == gb ? -1 : ga ? 0 : 1), {&a, &b}, with_lead({m, p}), result,
               sizes.shape(result.substr(skip)), eq.output);
}

}  // namespace lrp::io::onnx_detail
