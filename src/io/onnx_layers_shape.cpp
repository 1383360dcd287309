// Layer converters that move, select or copy entries without arithmetic: Flatten, Transpose,
// Slice, Reshape, Squeeze, Unsqueeze, Split, Gather (and embeddings), Concat, Expand, and the
// operators that change nothing (Cast to a float type, Dropout, Identity).
#include <algorithm>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "io/onnx_layers.hpp"
#include "lrp/layers/merge.hpp"
#include "lrp/layers/reshape.hpp"

namespace lrp::io::onnx_detail {
namespace {

// Resolves a Reshape target over a whole ONNX shape `dims` (a batch of one included): 0 copies,
// one -1 infers. Used where the batch axis does not stay first.
Shape whole_target(NodeCtx& c, const std::vector<std::int64_t>& target, const Shape& dims, bool allow_zero) {
  Shape out;
  long infer = -1;
  std::size_t known = 1;
  for (std::size_t k = 0; k < target.size(); ++k) {
    const std::int64_t t = target[k];
    if (t == -1) {
      if (infer >= 0) c.fail("the target shape " + dims_str(target) + " has more than one -1");
      infer = static_cast<long>(k);
      out.push_back(1);
      continue;
    }
    if (t == 0 && !allow_zero) {
      if (k >= dims.size()) c.fail("entry " + std::to_string(k) + " of the target shape copies a dimension the input does not have");
      out.push_back(dims[k]);
    } else if (t <= 0 || t > (std::int64_t(1) << 40)) {
      c.fail("the target shape " + dims_str(target) + " has the invalid entry " + (t == kBatchDim ? std::string("N") : std::to_string(t)));
    } else {
      out.push_back(to_size(t));
    }
    known *= out.back();
  }
  const std::size_t numel = shape_numel(dims);
  if (infer >= 0) {
    if (known == 0 || numel % known != 0) c.fail("cannot reshape " + dims_str(std::vector<std::int64_t>(dims.begin(), dims.end())) + " to " + dims_str(target));
    out[static_cast<std::size_t>(infer)] = numel / known;
  } else if (known != numel) {
    c.fail("cannot reshape " + dims_str(std::vector<std::int64_t>(dims.begin(), dims.end())) + " to " + dims_str(target));
  }
  return out;
}

// Whether x is the model's input holding token ids.
bool reads_token_ids(NodeCtx& c, const Value& x) { return c.importer().token_input && x.node == c.importer().input_node && !x.moved_batch; }

// The ONNX shape of a computed value, its batch counted as 1 (a value with the batch first) or
// as it is (a moved batch of one).
Shape whole_shape(const Value& x) {
  Shape s = x.shape;
  if (!x.moved_batch) s.insert(s.begin(), 1);
  return s;
}

// x reshaped to the ONNX shape `to` (same elements): per sample when the batch stays first,
// else as a batch of one whose batch axis moved (Value::moved_batch).
void reshape_to(NodeCtx& c, const Value& x, const Shape& to, bool batch_stays_first) {
  if (!x.moved_batch && batch_stays_first) return c.add_layer(std::make_unique<Reshape<double>>(Shape(to.begin() + 1, to.end())), {&x});
  if (!x.moved_batch && c.importer().static_batch != std::size_t{1})
    c.fail("moves the batch axis of " + runtime_shape_str(x) + "; only models run as a batch of one may (export with batch 1)");
  c.add_layer(std::make_unique<Reshape<double>>(to), {&x}, BatchAxis::Moved);
}

}  // namespace

void flatten(NodeCtx& c) {
  c.allow_attributes({"axis"});
  const Value& x = c.runtime_input(0, "input");
  const std::int64_t axis = norm_axis(c, c.attr_int("axis", 1), x.shape.size() + 1, "axis");
  if (axis != 1)
    c.fail("Flatten with axis " + std::to_string(c.attr_int("axis", 1)) + " on " + runtime_shape_str(x) +
           " would change the batch dimension; only axis 1 is supported");
  c.add_layer(std::make_unique<Flatten<double>>(false), {&x});
}

// A permutation of a computed value's axes. One that moves the batch axis (attention with the
// tokens first) is taken on a batch of one: the sample as the whole ONNX tensor.
void transpose(NodeCtx& c) {
  c.allow_attributes({"perm"});
  const Value& x = c.runtime_input(0, "data");
  const std::vector<std::int64_t> perm = transpose_perm(c, onnx_rank(x));
  if (!x.moved_batch && perm[0] == 0) {
    std::vector<std::size_t> per_sample;
    for (std::size_t k = 1; k < perm.size(); ++k) per_sample.push_back(to_size(perm[k]) - 1);
    return c.add_layer(std::make_unique<Transpose<double>>(per_sample), {&x});
  }
  if (!x.moved_batch && c.importer().static_batch != std::size_t{1})
    c.fail("the permutation " + dims_str(perm) + " moves the batch axis; it must stay first (or the model run as a batch of one)");
  const Value m = c.with_moved_batch(x);
  std::vector<std::size_t> full;
  for (std::int64_t p : perm) full.push_back(to_size(p));
  c.add_layer(std::make_unique<Transpose<double>>(full), {&m});
}

// A box of a computed value (constant bounds, positive steps, the batch axis whole).
void slice(NodeCtx& c) {
  c.allow_attributes({"starts", "ends", "axes"});
  const Value& x = c.runtime_input(0, "data");
  std::vector<std::int64_t> dims;
  if (!x.moved_batch) dims.push_back(std::numeric_limits<std::int32_t>::max());  // the batch: any size
  for (std::size_t d : x.shape) dims.push_back(static_cast<std::int64_t>(d));
  const SlicePlan plan = slice_plan(c, dims);
  if (!x.moved_batch && (plan.first[0] != 0 || plan.count[0] != dims[0])) c.fail("slicing the batch axis is not supported");
  Shape begin, size, step;
  for (std::size_t k = x.moved_batch ? 0 : 1; k < dims.size(); ++k) {
    if (plan.step[k] < 1) c.fail("only positive steps are supported on a computed value, found " + std::to_string(plan.step[k]));
    if (plan.count[k] == 0) c.fail("the slice along axis " + std::to_string(k) + " is empty");
    begin.push_back(to_size(plan.first[k]));
    size.push_back(to_size(plan.count[k]));
    step.push_back(to_size(plan.step[k]));
  }
  if (size == x.shape) return c.alias(x);
  c.add_layer(std::make_unique<Slice<double>>(begin, size, Shape{}, step), {&x});
}

void reshape(NodeCtx& c) {
  c.allow_attributes({"allowzero", "shape"});
  const Value& x = c.runtime_input(0, "data");
  std::vector<std::int64_t> target;
  if (c.opset() < 5) {
    target = c.attr_ints("shape");
  } else {
    target = c.ints_of(c.const_input(1, "shape"), "shape");
  }
  const bool allow_zero = c.attr_int("allowzero", 0) != 0;
  if (target.empty()) c.fail("the target shape is empty; the batch dimension must stay first");
  // A batch of one that leaves the front, or was moved before: the sample is the whole tensor.
  const bool one = c.importer().static_batch == std::size_t{1};
  // -1 first that takes in more than the batch of one (GPT-2's Conv1D: x.view(-1, D) merges it with the tokens).
  std::int64_t rest = 1;
  for (std::size_t k = 1; k < target.size(); ++k) rest *= target[k] > 0 ? target[k] : 1;
  const bool merges = one && target[0] == -1 && rest > 0 && static_cast<std::size_t>(rest) != shape_numel(x.shape) &&
                      std::none_of(target.begin() + 1, target.end(), [](std::int64_t t) { return t <= 0; });
  if (x.moved_batch || merges || (one && target[0] != 1 && target[0] != 0 && target[0] != -1 && target[0] != kBatchDim)) {
    if (reads_token_ids(c, x)) c.fail("moves the batch axis of the model's input, which holds token ids");
    Shape whole = x.shape;
    if (!x.moved_batch) whole.insert(whole.begin(), 1);
    const Shape to = whole_target(c, target, whole, allow_zero);
    return c.add_layer(std::make_unique<Reshape<double>>(to), {&x}, BatchAxis::Moved);
  }
  const std::size_t per_numel = shape_numel(x.shape);
  // Entry 0 must be the batch: 0 (copy), the batch marker from Shape, -1, or the fixed batch size.
  Shape per;
  long infer = -1;
  bool batch_inferred = false;
  const std::int64_t t0 = target[0];
  if (t0 == -1) {
    batch_inferred = true;
  } else if (t0 == kBatchDim || (t0 == 0 && !allow_zero)) {
    // keeps the batch
  } else if (!(c.importer().static_batch && t0 > 0 && to_size(t0) == *c.importer().static_batch)) {
    c.fail("the target shape " + dims_str(target) + " does not keep the batch dimension of " + runtime_shape_str(x) +
           " (its first entry must be 0, -1 or the batch size)");
  }
  for (std::size_t k = 1; k < target.size(); ++k) {
    const std::int64_t t = target[k];
    if (t == -1) {
      if (infer >= 0 || batch_inferred) c.fail("the target shape " + dims_str(target) + " has more than one -1");
      infer = static_cast<long>(per.size());
      per.push_back(1);
    } else if (t == 0 && !allow_zero) {
      if (k - 1 >= x.shape.size()) c.fail("entry " + std::to_string(k) + " of the target shape copies a dimension the input does not have");
      per.push_back(x.shape[k - 1]);
    } else if (t <= 0 || t > (std::int64_t(1) << 40)) {
      c.fail("the target shape " + dims_str(target) + " has the invalid entry " + (t == kBatchDim ? std::string("N") : std::to_string(t)));
    } else {
      per.push_back(to_size(t));
    }
  }
  std::size_t known = 1;
  for (std::size_t k = 0; k < per.size(); ++k)
    if (static_cast<long>(k) != infer) known *= per[k];
  if (infer >= 0) {
    if (known == 0 || per_numel % known != 0) c.fail("cannot reshape " + runtime_shape_str(x) + " to " + dims_str(target));
    per[static_cast<std::size_t>(infer)] = per_numel / known;
  } else if (known != per_numel) {
    c.fail("cannot reshape " + runtime_shape_str(x) + " to " + dims_str(target) +
           (batch_inferred ? " while keeping the batch" : ""));
  }
  if (per == x.shape) return c.alias(x);  // the shape it has (GPT-2's input_ids.view(-1, T))
  if (reads_token_ids(c, x)) c.fail("reshapes the model's input, which holds token ids, to " + dims_str(target) + "; only an embedding may read them");
  c.add_layer(std::make_unique<Reshape<double>>(per), {&x});
}

// Cast of a computed value to a floating type (`x.to(x.dtype)`, `.float()`): the value itself,
// computed in the model's precision. Casts to integers would round the activations: refused.
void cast_op(NodeCtx& c) {
  c.allow_attributes({"to", "saturate"});
  const std::int64_t to = c.attr_int("to", -1);
  using TP = onnx::TensorProto;
  if (to != TP::FLOAT && to != TP::DOUBLE && to != TP::FLOAT16 && to != TP::BFLOAT16)
    c.fail("a cast of a computed value to " + std::string(data_type_name(static_cast<int>(to))) + " is not supported (only to a floating type)");
  c.alias(c.runtime_input(0, "input"));
}

// Expand of a computed value to a constant shape: each axis of size 1 that grows to n becomes a
// Concat of n copies (grouped-query attention's repeat_kv: [N, kv, 1, T, d] to [N, kv, r, T, d]);
// relevance and gradients of the copies add up at the value. The batch entry stays (the batch
// size from Shape, or 1); the rank may not grow.
void expand_op(NodeCtx& c) {
  c.allow_attributes({});
  const Value x = c.runtime_input(0, "input");
  const ConstTensor& shape = c.const_input(1, "shape");
  std::vector<std::int64_t> target = shape.i;
  if (!shape.is_int) target = c.ints_of(shape, "shape");
  if (x.moved_batch) c.fail("expanding a value whose batch axis moved is not supported");
  if (target.size() != x.shape.size() + 1)
    c.fail("expanding " + runtime_shape_str(x) + " to " + std::to_string(target.size()) + " axes is not supported (only to its own rank)");
  if (target[0] != kBatchDim && target[0] != 1 && !(c.importer().static_batch && target[0] == static_cast<std::int64_t>(*c.importer().static_batch)))
    c.fail("expanding along the batch axis is not supported");
  std::vector<std::pair<std::size_t, std::size_t>> repeats;  // (axis of the sample, copies)
  for (std::size_t k = 0; k < x.shape.size(); ++k) {
    const std::int64_t t = target[k + 1];
    if (t == 1 || t == static_cast<std::int64_t>(x.shape[k])) continue;
    if (x.shape[k] != 1 || t < 1 || t > 4096)
      c.fail("cannot expand " + runtime_shape_str(x) + " to " + dims_str(target) + " (axis " + std::to_string(k + 1) + ")");
    repeats.emplace_back(k, to_size(t));
  }
  if (repeats.empty()) return c.alias(x);
  Value cur = x;
  for (std::size_t r = 0; r < repeats.size(); ++r) {
    const auto [axis, copies] = repeats[r];
    std::vector<const Value*> parts(copies, &cur);
    auto layer = std::make_unique<Concat<double>>(copies, axis);
    if (r + 1 == repeats.size()) return c.add_layer(std::move(layer), parts);
    cur = c.add_hidden(std::move(layer), parts, BatchAxis::Inherit);
  }
}

// Concatenation of computed values, and of constants that are the same for every sample (a
// class token expanded to the batch, or a batch of one in a model exported for exactly one).
void concat(NodeCtx& c) {
  c.allow_attributes({"axis"});
  std::vector<const Value*> runtime;
  std::vector<std::size_t> const_at;
  for (std::size_t k = 0; k < c.num_inputs(); ++k) {
    if (c.is_const(k)) const_at.push_back(k);
    else runtime.push_back(&c.runtime_input(k, "input " + std::to_string(k)));
  }
  if (runtime.empty()) c.fail("has no inputs");
  const std::vector<Value> held = same_batch_axis(c, runtime);
  const std::vector<const Value*> xs = pointers(held);
  const bool moved = xs[0]->moved_batch;
  if (moved && !const_at.empty()) c.fail("concatenating constants with values whose batch axis moved is not supported");
  if (!c.has_attr("axis") && c.opset() >= 4) c.fail("missing attribute 'axis'");
  // Counted as if the batch were first (a value whose batch moved has every ONNX axis per sample).
  const std::int64_t axis = norm_axis(c, c.attr_int("axis", 1), onnx_rank(*xs[0]), "axis") + (moved ? 1 : 0);
  if (axis == 0) c.fail("concatenation along the batch axis is not supported");
  if (xs.size() == 1 && const_at.empty()) return c.alias(*xs[0]);
  std::vector<Concat<double>::Constant> constants;
  for (std::size_t k : const_at) {
    ConstTensor t = c.const_input(k, "input " + std::to_string(k));
    const bool one_sample = !t.dims.empty() && t.dims[0] == 1 && (t.batch_broadcast || c.importer().static_batch == std::size_t{1});
    if (!one_sample || t.is_int || t.dims.size() != xs[0]->shape.size() + 1)
      c.fail("input " + std::to_string(k) + " is a constant of shape " + dims_str(t.dims) +
             "; only constants repeated for every sample (Expand to the batch) can be concatenated with computed values");
    c.require_finite(t, "input " + std::to_string(k));
    Shape per;
    for (std::size_t d = 1; d < t.dims.size(); ++d) per.push_back(to_size(t.dims[d]));
    constants.push_back({k, Tensor<double>::adopt(per, std::move(t.f))});
  }
  c.add_layer(std::make_unique<Concat<double>>(xs.size(), to_size(axis - 1), std::move(constants)), xs);
}

// Squeeze / Unsqueeze of a computed value: a Reshape (axes given; Squeeze without axes drops
// every axis of size 1 but the batch).
void squeeze(NodeCtx& c) {
  c.allow_attributes({"axes"});
  const Value& x = c.runtime_input(0, "data");
  const Shape whole = whole_shape(x);
  const std::vector<std::int64_t> axes = axes_input_or_attr(c, false);
  std::vector<char> drop(whole.size(), 0);
  for (std::int64_t a : axes) {
    const std::size_t k = to_size(norm_axis(c, a, whole.size(), "axis"));
    if (whole[k] != 1 || (k == 0 && !x.moved_batch && c.importer().static_batch != std::size_t{1}))
      c.fail("cannot squeeze axis " + std::to_string(a) + " of " + runtime_shape_str(x));
    drop[k] = 1;
  }
  if (axes.empty())
    for (std::size_t k = x.moved_batch ? 0 : 1; k < whole.size(); ++k) drop[k] = whole[k] == 1;
  Shape to;
  for (std::size_t k = 0; k < whole.size(); ++k)
    if (!drop[k]) to.push_back(whole[k]);
  if (to.empty()) c.fail("would leave a scalar");
  reshape_to(c, x, to, !drop[0]);
}

void unsqueeze(NodeCtx& c) {
  c.allow_attributes({"axes"});
  const Value& x = c.runtime_input(0, "data");
  const Shape whole = whole_shape(x);
  const std::vector<std::int64_t> axes = axes_input_or_attr(c, true);
  const std::size_t rank = whole.size() + axes.size();
  std::vector<char> one(rank, 0);
  for (std::int64_t a : axes) {
    const std::size_t k = to_size(norm_axis(c, a, rank, "axis"));
    if (one[k]) c.fail("axis " + std::to_string(a) + " is repeated");
    one[k] = 1;
  }
  Shape to;
  std::size_t src = 0;
  for (std::size_t k = 0; k < rank; ++k) to.push_back(one[k] ? 1 : whole[src++]);
  reshape_to(c, x, to, !one[0]);
}

// Split of a computed value along an axis (not the batch's): one Slice per output, sizes from
// the 'split' input (opset 13) or attribute, else equal parts.
void split(NodeCtx& c) {
  c.allow_attributes({"axis", "split", "num_outputs"});
  const Value& x = c.runtime_input(0, "input");
  const std::int64_t axis = norm_axis(c, c.attr_int("axis", 0), onnx_rank(x), "axis");
  if (axis == 0 && !x.moved_batch) c.fail("splitting the batch axis is not supported");
  const std::size_t a = to_size(axis) - (x.moved_batch ? 0 : 1), len = x.shape[a];
  const std::size_t parts = static_cast<std::size_t>(c.node().output_size());
  std::vector<std::int64_t> sizes;
  if (c.opset() >= 13 && c.has_input(1)) sizes = c.ints_of(c.const_input(1, "split"), "split");
  else if (c.opset() < 13 && c.has_attr("split")) sizes = c.attr_ints("split");
  if (sizes.empty()) {
    if (parts == 0 || len % parts != 0) c.fail("cannot split an axis of " + std::to_string(len) + " into " + std::to_string(parts) + " equal parts");
    sizes.assign(parts, static_cast<std::int64_t>(len / parts));
  }
  if (sizes.size() != parts) c.fail(std::to_string(sizes.size()) + " split sizes for " + std::to_string(parts) + " outputs");
  std::size_t begin = 0;
  for (std::size_t k = 0; k < parts; ++k) {
    if (sizes[k] <= 0 || begin + to_size(sizes[k]) > len) c.fail("split sizes " + dims_str(sizes) + " do not fit an axis of " + std::to_string(len));
    Shape from(x.shape.size(), 0), size = x.shape;
    from[a] = begin;
    size[a] = to_size(sizes[k]);
    begin += size[a];
    c.add_layer_for(k, std::make_unique<Slice<double>>(from, size), {&x});
  }
  if (begin != len) c.fail("split sizes " + dims_str(sizes) + " do not add up to the axis of " + std::to_string(len));
}

// Gather of one index along an axis of a computed value (a transformer's class token, x[:, 0]):
// a slice without that axis.
void gather(NodeCtx& c) {
  c.allow_attributes({"axis"});
  if (c.is_const(0) && !c.is_const(1)) {  // an embedding: rows of a table looked up by token ids
    const Value& ids = c.input(1, "indices");
    if (ids.node != c.importer().input_node || !c.importer().token_input)
      c.fail("looks up a table with computed indices; only the model's integer input (token ids) may index a table");
    if (c.attr_int("axis", 0) != 0) c.fail("an embedding looks up rows (axis 0), got axis " + std::to_string(c.attr_int("axis", 0)));
    const ConstTensor& table = c.weight_input(0, "data");
    if (table.dims.size() != 2 || table.is_int) c.fail("the table must be a [V, D] float tensor, got " + dims_str(table.dims));
    c.require_finite(table, "the table");
    return c.add_embedding(c.take_const_input(0, "data"), ids);
  }
  const Value& x = c.runtime_input(0, "data");
  const ConstTensor& idx = c.const_input(1, "indices");
  const std::int64_t axis = norm_axis(c, c.attr_int("axis", 0), onnx_rank(x), "axis");
  if (axis == 0 && !x.moved_batch) c.fail("gathering along the batch axis is not supported");
  if (idx.numel() != 1 || idx.dims.size() > 1) c.fail("only one index is supported on a computed value, got indices of shape " + dims_str(idx.dims));
  const std::size_t a = to_size(axis) - (x.moved_batch ? 0 : 1);
  const std::int64_t len = static_cast<std::int64_t>(x.shape[a]);
  std::int64_t i = c.ints_of(idx, "indices")[0];
  if (i < -len || i >= len) c.fail("index " + std::to_string(i) + " is out of range for an axis of " + std::to_string(len));
  if (i < 0) i += len;
  Shape begin(x.shape.size(), 0), size = x.shape, out;
  begin[a] = to_size(i);
  size[a] = 1;
  for (std::size_t d = 0; d < x.shape.size(); ++d)
    if (d != a || idx.dims.size() == 1) out.push_back(size[d]);
  if (out.empty()) c.fail("would leave a scalar per sample");
  c.add_layer(std::make_unique<Slice<double>>(begin, size, out), {&x});
}

void require_identity_dropout(NodeCtx& c) {
  c.allow_attributes({"ratio", "seed", "is_test", "consumed_inputs"});
  c.limit_outputs(1, "the mask output of Dropout is not supported");
  if (c.has_input(1) && !c.is_const(1)) c.fail("ratio must be a constant");
  if (!c.has_input(2)) return;
  if (!c.is_const(2)) c.fail("training_mode must be a constant");
  // In training mode Dropout zeroes a share `ratio` (default 0.5) of its input at random; with
  // ratio 0 it is the identity all the same (torchvision's Swin exports its attention dropout so).
  const bool training = c.scalar_of(c.const_input(2, "training_mode"), "training_mode") != 0;
  const double ratio = c.has_input(1) ? c.scalar_of(c.const_input(1, "ratio"), "ratio") : 0.5;
  if (training && ratio != 0) c.fail("training_mode=true with ratio > 0 is not supported (inference only)");
}

void dropout(NodeCtx& c) {
  require_identity_dropout(c);
  c.alias(c.input(0, "data"));
}

void identity(NodeCtx& c) {
  c.allow_attributes({});
  c.alias(c.input(0, "input"));
}

}  // namespace lrp::io::onnx_detail
