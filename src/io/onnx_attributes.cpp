// NodeCtx: a node's inputs, outputs and attributes, every failure a FormatError naming the
// file, the node and its operator.
#include <algorithm>
#include <cmath>

#include "io/onnx_detail.hpp"
#include "lrp/layers/conv2d.hpp"
#include "lrp/layers/conv_transpose2d.hpp"
#include "lrp/layers/embedding.hpp"
#include "lrp/layers/linear.hpp"
#include "lrp/layers/reshape.hpp"

namespace lrp::io::onnx_detail {

using AP = onnx::AttributeProto;

std::string Importer::unique_layer_name(const std::string& base) {
  std::size_t& n = layer_names[base];
  ++n;
  if (n == 1) return base;
  std::string name = base + "#" + std::to_string(n);
  while (layer_names.count(name)) name += "'";
  layer_names[name] = 1;
  return name;
}

std::size_t Importer::uses(const std::string& name) const {
  const auto it = name_uses.find(name);
  return it == name_uses.end() ? 0 : it->second;
}

std::string runtime_shape_str(const Value& v) {
  std::string s = v.moved_batch ? "[" : "[N";
  for (std::size_t k = 0; k < v.shape.size(); ++k) s += (k == 0 && v.moved_batch ? "" : ",") + std::to_string(v.shape[k]);
  return s + "]";
}

std::string NodeCtx::label() const {
  std::string s = "node " + std::to_string(index_);
  if (!node_.name().empty()) s += " '" + node_.name() + "'";
  s += " (" + (node_.domain().empty() || node_.domain() == "ai.onnx" ? std::string() : node_.domain() + ".") + node_.op_type();
  if (node_.name().empty() && node_.output_size() > 0) s += ", output '" + node_.output(0) + "'";
  return s + ")";
}

void NodeCtx::fail(const std::string& msg) const { throw FormatError(imp_.source + ": " + label() + ": " + msg); }

bool NodeCtx::has_input(std::size_t k) const { return k < num_inputs() && !node_.input(static_cast<int>(k)).empty(); }

const Value& NodeCtx::input(std::size_t k, const std::string& role) const {
  if (!has_input(k)) fail("missing input " + std::to_string(k) + " (" + role + ")");
  const std::string& name = node_.input(static_cast<int>(k));
  const auto it = imp_.values.find(name);
  if (it == imp_.values.end()) fail("input '" + name + "' (" + role + ") is not defined");  // guarded by the sort
  return it->second;
}

bool NodeCtx::is_const(std::size_t k) const {
  if (!has_input(k)) return true;
  const auto it = imp_.values.find(node_.input(static_cast<int>(k)));
  return it != imp_.values.end() && it->second.is_const;
}

const ConstTensor& NodeCtx::weight_input(std::size_t k, const std::string& role) const {
  const Value& v = input(k, role);
  if (v.is_const) return v.c;
  const std::string& name = node_.input(static_cast<int>(k));
  const bool graph_input = imp_.with_model([&](const auto& model) {
    return std::any_of(model.input_parts.begin(), model.input_parts.end(), [&](const InputPart& p) { return p.name == name; });
  });
  fail(role + " ('" + name + "') must be a constant (initializer or Constant), but it is " +
       (graph_input ? "a data input of the graph (hold it constant with --bind " + name + "=FILE)" : "computed from the model input"));
}

const ConstTensor& NodeCtx::const_input(std::size_t k, const std::string& role) const {
  weight_input(k, role);
  ConstTensor& c = imp_.values.at(node_.input(static_cast<int>(k))).c;
  c.decode_pending();
  return c;
}

ConstTensor NodeCtx::take_const_input(std::size_t k, const std::string& role) {
  weight_input(k, role);  // checks presence and constness
  const std::string& name = node_.input(static_cast<int>(k));
  ConstTensor& c = imp_.values.at(name).c;
  if (imp_.uses(name) != 1) return c;
  return std::move(c);
}

const Value& NodeCtx::runtime_input(std::size_t k, const std::string& role) const {
  const Value& v = input(k, role);
  if (v.is_const)
    fail(role + " ('" + node_.input(static_cast<int>(k)) + "') is a constant; only values computed from the model input "
         "are supported here");
  return v;
}

std::vector<std::int64_t> NodeCtx::ints_of(const ConstTensor& t, const std::string& role) const {
  if (t.is_int) return t.i;
  std::vector<std::int64_t> out;
  for (double v : t.f) {
    if (!(std::abs(v) < 9.0e18) || v != std::floor(v)) fail(role + " must hold integers, found " + std::to_string(v));
    out.push_back(static_cast<std::int64_t>(v));
  }
  return out;
}

double NodeCtx::scalar_of(const ConstTensor& t, const std::string& role) const {
  if (t.numel() != 1) fail(role + " must be a single value, got shape " + dims_str(t.dims));
  if (t.is_int && t.i[0] == kBatchDim) fail(role + " depends on the batch size");
  return t.value(0);
}

void NodeCtx::require_finite(const ConstTensor& t, const std::string& role) const {
  const std::size_t k = t.first_non_finite();
  if (k < t.numel()) fail(role + " contains " + std::to_string(t.value(k)) + " at element " + std::to_string(k));
}

void NodeCtx::limit_outputs(std::size_t n, const std::string& why) const {
  for (int k = static_cast<int>(n); k < node_.output_size(); ++k) {
    const std::string& name = node_.output(k);
    if (!name.empty() && imp_.uses(name) > 0) fail("output " + std::to_string(k) + " ('" + name + "') is used, but " + why);
  }
}

void NodeCtx::set_const(ConstTensor t) {
  if (node_.output_size() < 1) fail("has no output");
  Value v;
  v.is_const = true;
  v.c = std::move(t);
  imp_.values[node_.output(0)] = std::move(v);
}

void NodeCtx::set_norm_step(Value::NormStep step, const Value& like, Shape shape) {
  if (node_.output_size() < 1) fail("has no output");
  Value v;
  v.shape = std::move(shape);
  v.moved_batch = like.moved_batch;
  v.node = like.node;
  v.norm = std::move(step);
  imp_.values[node_.output(0)] = std::move(v);
}

void NodeCtx::alias(const Value& src, std::size_t output) {
  if (output >= static_cast<std::size_t>(node_.output_size())) fail("has no output " + std::to_string(output));
  const std::string& name = node_.output(static_cast<int>(output));
  Value v = src;  // copy before the map may rehash
  if (!v.is_const) {
    // This node's own use of the source is gone; the users of the alias take its place.
    imp_.id_uses[v.id] += imp_.uses(name);
    if (imp_.id_uses[v.id] > 0) --imp_.id_uses[v.id];
  }
  imp_.values[name] = std::move(v);
}

namespace {
// Appends `layer` to `model` reading `inputs`; the output Value (not yet bound to a name).
template <class T>
Value append_layer(NodeCtx& c, Importer& imp, Model<T>& model, std::unique_ptr<Layer<T>> layer, const std::vector<const Value*>& inputs,
                   BatchAxis batch, const std::string& suffix) {
  const onnx::NodeProto& node = c.node();
  if (node.output_size() < 1) c.fail("has no output");
  std::vector<Shape> in_shapes;
  std::vector<std::size_t> ids;
  std::size_t moved = 0;
  for (const Value* v : inputs) {
    in_shapes.push_back(v->shape);
    ids.push_back(v->id);
    moved += v->moved_batch;
  }
  if (batch == BatchAxis::Inherit && moved != 0 && moved != inputs.size())
    c.fail("combines values whose batch axis is first with values whose batch axis was moved");
  Value out;
  out.moved_batch = batch == BatchAxis::Moved || (moved != 0 && moved == inputs.size());
  imp.moved_any = imp.moved_any || out.moved_batch;
  try {
    out.shape = checked_output_shape(*layer, in_shapes);
  } catch (const ShapeError& e) {
    c.fail(e.what());
  }
  for (std::size_t d : out.shape)
    if (d == 0) c.fail("the output shape " + shape_str(out.shape) + " (per sample) has an empty dimension");
  const std::string& base = node.name().empty() ? node.output(0) : node.name();
  out.id = model.add(imp.unique_layer_name(base + suffix), std::move(layer), ids);
  out.node = static_cast<long>(model.nodes().size() - 1);
  if (imp.id_uses.size() <= out.id) imp.id_uses.resize(out.id + 1, 0);
  imp.id_uses[out.id] = 1;
  return out;
}

// Appends `layer` as the node's output 0 (see NodeCtx::add_layer). A moved batch axis that is
// back in front (a leading 1) is dropped by one more layer: the following nodes see [N, ...].
template <class T>
void place_layer(NodeCtx& c, Importer& imp, Model<T>& model, std::type_identity_t<std::unique_ptr<Layer<T>>> layer,
                 const std::vector<const Value*>& inputs, BatchAxis batch = BatchAxis::Inherit, std::size_t output = 0) {
  const std::string suffix = output == 0 ? "" : " (output " + std::to_string(output) + ")";
  Value out = append_layer(c, imp, model, std::move(layer), inputs, batch, suffix);
  if (out.moved_batch && out.shape.size() > 1 && out.shape[0] == 1) {
    const Value moved = out;
    out = append_layer(c, imp, model, std::unique_ptr<Layer<T>>(std::make_unique<Reshape<T>>(Shape(moved.shape.begin() + 1, moved.shape.end()))),
                       {&moved}, BatchAxis::Inherit, " (batch first)");
    out.moved_batch = false;
  }
  const std::string& name = c.node().output(static_cast<int>(output));
  imp.id_uses[out.id] = imp.uses(name);
  imp.values[name] = std::move(out);
}
}  // namespace

void NodeCtx::add_layer(std::unique_ptr<Layer<double>> layer, const std::vector<const Value*>& inputs, BatchAxis batch) {
  if (imp_.as_float) place_layer(*this, imp_, imp_.model_float, layer->to_float(), inputs, batch);
  else place_layer(*this, imp_, imp_.model, std::move(layer), inputs, batch);
}

void NodeCtx::add_layer_for(std::size_t output, std::unique_ptr<Layer<double>> layer, const std::vector<const Value*>& inputs,
                            BatchAxis batch) {
  if (output >= static_cast<std::size_t>(node_.output_size())) fail("has no output " + std::to_string(output));
  if (imp_.as_float) place_layer(*this, imp_, imp_.model_float, layer->to_float(), inputs, batch, output);
  else place_layer(*this, imp_, imp_.model, std::move(layer), inputs, batch, output);
}

Value NodeCtx::add_hidden(std::unique_ptr<Layer<double>> layer, const std::vector<const Value*>& inputs, BatchAxis batch,
                          const std::string& suffix) {
  if (imp_.as_float) return append_layer(*this, imp_, imp_.model_float, layer->to_float(), inputs, batch, suffix);
  return append_layer(*this, imp_, imp_.model, std::move(layer), inputs, batch, suffix);
}

Value NodeCtx::with_moved_batch(const Value& x) {
  if (x.moved_batch) return x;
  if (imp_.static_batch != std::size_t{1})
    fail("moves the batch axis of " + runtime_shape_str(x) + "; only models run as a batch of one may (export with batch 1)");
  Shape full = x.shape;
  full.insert(full.begin(), 1);
  return add_hidden(std::make_unique<Reshape<double>>(full), {&x}, BatchAxis::Moved);
}

void NodeCtx::add_conv(ConstTensor&& w, const Tensor<double>& bias, const Window2d& win, std::size_t groups, const Value& x) {
  imp_.with_model([&](auto& model) {
    using T = typename std::remove_reference_t<decltype(model)>::Scalar;
    try {
      place_layer(*this, imp_, model, std::make_unique<Conv2d<T>>(weight_tensor<T>(std::move(w)), bias.template cast<T>(), win, groups), {&x});
    } catch (const ShapeError& e) {
      fail(e.what());
    }
  });
}

void NodeCtx::add_conv_transpose(ConstTensor&& w, const Tensor<double>& bias, const Window2d& win, std::size_t groups,
                                 std::size_t output_pad_h, std::size_t output_pad_w, const Value& x) {
  imp_.with_model([&](auto& model) {
    using T = typename std::remove_reference_t<decltype(model)>::Scalar;
    try {
      place_layer(*this, imp_, model,
                  std::make_unique<ConvTranspose2d<T>>(weight_tensor<T>(std::move(w)), bias.template cast<T>(), win, groups,
                                                       output_pad_h, output_pad_w),
                  {&x});
    } catch (const ShapeError& e) {
      fail(e.what());
    }
  });
}

void NodeCtx::add_linear(ConstTensor&& w, const Tensor<double>& bias, const Value& x, bool rows_of_last_axis) {
  imp_.with_model([&](auto& model) {
    using T = typename std::remove_reference_t<decltype(model)>::Scalar;
    place_layer(*this, imp_, model,
                std::make_unique<Linear<T>>(weight_tensor<T>(std::move(w)), bias.template cast<T>(), rows_of_last_axis), {&x});
  });
}

void NodeCtx::add_embedding(ConstTensor&& table, const Value& ids) {
  imp_.with_model([&](auto& model) {
    using T = typename std::remove_reference_t<decltype(model)>::Scalar;
    place_layer(*this, imp_, model, std::make_unique<Embedding<T>>(weight_tensor<T>(std::move(table))), {&ids});
  });
}

bool NodeCtx::produced_by_rows_linear(const Value& v) {
  if (v.node < 0) return false;
  return imp_.with_model([&](auto& model) {
    using T = typename std::remove_reference_t<decltype(model)>::Scalar;
    const Layer<T>& prod = *model.nodes()[static_cast<std::size_t>(v.node)].layer;
    return prod.kind() == LayerKind::Linear && static_cast<const Linear<T>&>(prod).rows_of_last_axis();
  });
}

bool NodeCtx::add_to_producer_bias(const Value& v, const std::vector<double>& shift) {
  if (v.node < 0) return false;
  return imp_.with_model([&](auto& model) {
    using T = typename std::remove_reference_t<decltype(model)>::Scalar;
    Layer<T>& prod = *model.nodes()[static_cast<std::size_t>(v.node)].layer;
    if (prod.kind() != LayerKind::Linear && prod.kind() != LayerKind::Conv2d) return false;
    // In place (params() is [weight, bias]): rebuilding the layer would copy a large weight.
    Tensor<T>& b = *prod.params().at(1);
    if (b.size() != shift.size()) return false;
    for (std::size_t q = 0; q < shift.size(); ++q) b[q] = static_cast<T>(static_cast<double>(b[q]) + shift[q]);
    return true;
  });
}

bool NodeCtx::affine_producer_norm(const Value& v, const std::vector<double>& scale, const std::vector<double>& shift) {
  if (v.node < 0) return false;
  return imp_.with_model([&](auto& model) {
    using T = typename std::remove_reference_t<decltype(model)>::Scalar;
    Layer<T>& prod = *model.nodes()[static_cast<std::size_t>(v.node)].layer;
    if (prod.kind() != LayerKind::LayerNorm) return false;
    const std::vector<Tensor<T>*> p = prod.params();  // [gamma, beta]
    if (p.at(0)->size() != scale.size() || scale.size() != shift.size()) return false;
    for (std::size_t q = 0; q < scale.size(); ++q) {
      (*p[0])[q] = static_cast<T>(static_cast<double>((*p[0])[q]) * scale[q]);
      (*p[1])[q] = static_cast<T>(static_cast<double>((*p[1])[q]) * scale[q] + shift[q]);
    }
    return true;
  });
}

// --- attributes -------------------------------------------------------------------------------

const onnx::AttributeProto* NodeCtx::find_attr(const std::string& name) const {
  for (const AP& a : node_.attribute())
    if (a.name() == name) return &a;
  return nullptr;
}

void NodeCtx::allow_attributes(std::initializer_list<const char*> names) const {
  for (const AP& a : node_.attribute()) {
    const bool known = std::any_of(names.begin(), names.end(), [&](const char* n) { return a.name() == n; });
    if (!known) {
      std::string list;
      for (const char* n : names) list += (list.empty() ? "" : ", ") + std::string(n);
      fail("attribute '" + a.name() + "' is not supported (known: " + (list.empty() ? "none" : list) + ")");
    }
  }
}

bool NodeCtx::has_attr(const std::string& name) const { return find_attr(name) != nullptr; }

const onnx::AttributeProto& NodeCtx::typed_attr(const std::string& name, int type, const char* type_name) const {
  const AP* a = find_attr(name);
  if (!a) fail("missing attribute '" + name + "'");
  bool ok = a->type() == type;
  if (a->type() == AP::UNDEFINED) {  // very old files leave the type out
    switch (type) {
      case AP::INT: ok = a->has_i(); break;
      case AP::FLOAT: ok = a->has_f(); break;
      case AP::STRING: ok = a->has_s(); break;
      case AP::TENSOR: ok = a->has_t(); break;
      case AP::INTS: ok = a->ints_size() > 0 || a->floats_size() == 0; break;
      case AP::FLOATS: ok = a->floats_size() > 0 || a->ints_size() == 0; break;
      default: ok = false;
    }
  }
  if (!ok) fail("attribute '" + name + "' must be of type " + type_name);
  return *a;
}

std::int64_t NodeCtx::attr_int(const std::string& name, std::int64_t def) const {
  return has_attr(name) ? typed_attr(name, AP::INT, "INT").i() : def;
}

double NodeCtx::attr_float(const std::string& name, double def) const {
  if (!has_attr(name)) return def;
  const double v = static_cast<double>(typed_attr(name, AP::FLOAT, "FLOAT").f());
  return v;
}

std::vector<std::int64_t> NodeCtx::attr_ints(const std::string& name, std::vector<std::int64_t> def) const {
  if (!has_attr(name)) return def;
  const AP& a = typed_attr(name, AP::INTS, "INTS");
  return std::vector<std::int64_t>(a.ints().begin(), a.ints().end());
}

std::vector<double> NodeCtx::attr_floats(const std::string& name) const {
  const AP& a = typed_attr(name, AP::FLOATS, "FLOATS");
  std::vector<double> v;
  for (float f : a.floats()) v.push_back(static_cast<double>(f));
  return v;
}

std::string NodeCtx::attr_string(const std::string& name, const std::string& def) const {
  return has_attr(name) ? typed_attr(name, AP::STRING, "STRING").s() : def;
}

const onnx::TensorProto& NodeCtx::attr_tensor(const std::string& name) const {
  return typed_attr(name, AP::TENSOR, "TENSOR").t();
}

std::vector<std::int64_t> transpose_perm(const NodeCtx& c, std::size_t rank) {
  std::vector<std::int64_t> perm = c.attr_ints("perm");
  if (perm.empty())
    for (std::size_t k = rank; k-- > 0;) perm.push_back(static_cast<std::int64_t>(k));
  if (perm.size() != rank) c.fail("attribute 'perm' has " + std::to_string(perm.size()) + " entries for rank " + std::to_string(rank));
  std::vector<char> seen(rank, 0);
  for (std::int64_t p : perm) {
    if (p < 0 || static_cast<std::size_t>(p) >= rank || seen[static_cast<std::size_t>(p)])
      c.fail("attribute 'perm' " + dims_str(perm) + " is not a permutation");
    seen[static_cast<std::size_t>(p)] = 1;
  }
  return perm;
}

SlicePlan slice_plan(const NodeCtx& c, const std::vector<std::int64_t>& dims) {
  std::vector<std::int64_t> starts, ends, axes, steps;
  if (c.opset() < 10) {
    starts = c.attr_ints("starts");
    ends = c.attr_ints("ends");
    axes = c.attr_ints("axes");
  } else {
    starts = c.ints_of(c.const_input(1, "starts"), "starts");
    ends = c.ints_of(c.const_input(2, "ends"), "ends");
    if (c.has_input(3)) axes = c.ints_of(c.const_input(3, "axes"), "axes");
    if (c.has_input(4)) steps = c.ints_of(c.const_input(4, "steps"), "steps");
  }
  const std::size_t rank = dims.size();
  if (axes.empty())
    for (std::size_t k = 0; k < starts.size(); ++k) axes.push_back(static_cast<std::int64_t>(k));
  if (steps.empty()) steps.assign(starts.size(), 1);
  if (ends.size() != starts.size() || axes.size() != starts.size() || steps.size() != starts.size())
    c.fail("starts, ends, axes and steps differ in length");
  SlicePlan plan{std::vector<std::int64_t>(rank, 0), std::vector<std::int64_t>(rank, 1), dims};
  std::vector<char> done(rank, 0);
  for (std::size_t q = 0; q < starts.size(); ++q) {
    const std::size_t a = to_size(norm_axis(c, axes[q], rank, "axis"));
    if (done[a]) c.fail("axis " + std::to_string(axes[q]) + " is repeated");
    done[a] = 1;
    const std::int64_t d = dims[a];
    if (steps[q] == 0) c.fail("step 0");
    // |step| beyond any dimension behaves like one that just exceeds it (and cannot overflow)
    const std::int64_t st = std::clamp<std::int64_t>(steps[q], -(std::int64_t(1) << 40), std::int64_t(1) << 40);
    std::int64_t s = starts[q], e = ends[q];
    if (s < 0) s += d;  // no overflow: d is small and non-negative
    if (e < 0) e += d;
    std::int64_t count = 0;
    if (d > 0 && st > 0) {
      s = std::clamp<std::int64_t>(s, 0, d);
      e = std::clamp<std::int64_t>(e, 0, d);
      count = e > s ? (e - s + st - 1) / st : 0;
    } else if (d > 0) {
      s = std::clamp<std::int64_t>(s, 0, d - 1);
      e = std::clamp<std::int64_t>(e, -1, d - 1);
      count = s > e ? (s - e + (-st) - 1) / (-st) : 0;
    }
    if (count == 0) s = 0;
    plan.first[a] = s;
    plan.step[a] = st;
    plan.count[a] = count;
  }
  return plan;
}

}  // namespace lrp::io::onnx_detail
