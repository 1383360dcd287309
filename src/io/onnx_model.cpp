// ONNX model loading: parse the ModelProto (onnx_read.cpp), collect constants (initializers, bound inputs),
// find the one data input, sort the nodes topologically (cycles and undefined inputs are
// errors), then convert node by node: fold when every input is a constant, else hand the node
// to its layer converter (onnx_layers.cpp).
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <queue>
#include <set>
#include <sstream>

#include "io/onnx_detail.hpp"
#include "lrp/io/onnx.hpp"
#include "lrp/layers/reshape.hpp"

namespace lrp::io {
namespace onnx_detail {
namespace {

std::string node_label(const onnx::NodeProto& n, std::size_t index) {
  std::string s = "node " + std::to_string(index);
  if (!n.name().empty()) s += " '" + n.name() + "'";
  s += " (" + n.op_type();
  if (n.name().empty() && n.output_size() > 0) s += ", output '" + n.output(0) + "'";
  return s + ")";
}

std::int64_t default_opset(const onnx::ModelProto& m, const std::string& src) {
  std::int64_t v = -1;
  for (const onnx::OperatorSetIdProto& o : m.opset_import())
    if (o.domain().empty() || o.domain() == "ai.onnx") v = o.version();
  if (v < 0) throw FormatError(src + ": the model imports no opset of the default ONNX domain (truncated or not an ONNX model?)");
  if (v < 1 || v > 21) throw FormatError(src + ": opset " + std::to_string(v) + " of the default domain is not supported (1 to 21)");
  return v;
}

// Reads the data input's type and shape: float or double, batch first (fixed or dynamic; or on
// axis 1, time_first), every other dimension fixed or sized by the data (Importer::data_shape).
// The per-sample shape of a graph input; records its batch size and whether it holds token ids.
Shape input_sample_shape(Importer& imp, const onnx::ValueInfoProto& vi, bool& sized_by_data) {
  const std::string what = imp.source + ": graph input '" + vi.name() + "'";
  if (!vi.has_type() || !vi.type().has_tensor_type()) throw FormatError(what + " is not a tensor");
  const onnx::TypeProto::Tensor& tt = vi.type().tensor_type();
  const int type = tt.elem_type();
  imp.token_input = type == onnx::TensorProto::INT64 || type == onnx::TensorProto::INT32;
  if (type != onnx::TensorProto::FLOAT && type != onnx::TensorProto::DOUBLE && !imp.token_input)
    throw FormatError(what + " has element type " + data_type_name(type) +
                      "; only FLOAT and DOUBLE inputs (and INT64/INT32 token ids) are supported");
  if (!tt.has_shape()) throw FormatError(what + " has no shape; the model must declare its input size");
  const int rank = tt.shape().dim_size();
  if (rank < 2) throw FormatError(what + " has rank " + std::to_string(rank) + "; expected [N, ...] with a batch dimension first");
  Shape per;
  const int batch_axis = imp.time_first ? 1 : 0;
  // The data's sample shape, for the sizes of dynamic dimensions: [N, ...] or one sample.
  Shape data_sample = imp.data_shape;
  if (data_sample.size() == static_cast<std::size_t>(rank)) data_sample.erase(data_sample.begin());
  if (data_sample.size() != static_cast<std::size_t>(rank - 1)) data_sample.clear();
  sized_by_data = false;
  for (int k = 0; k < rank; ++k) {
    const onnx::TensorShapeProto::Dimension& d = tt.shape().dim(k);
    const bool fixed = d.has_dim_value() && d.dim_value() > 0;
    if (k == batch_axis && imp.time_first) {
      if (fixed && d.dim_value() != 1)
        throw FormatError(what + ": the batch axis 1 has size " + std::to_string(d.dim_value()) + "; a sequence-first model must take batch 1 or a dynamic batch");
      imp.static_batch = 1;
      continue;
    }
    if (k == batch_axis) {
      if (fixed) imp.static_batch = static_cast<std::size_t>(d.dim_value());
      if (imp.batch_of_one) imp.static_batch = 1;
      continue;
    }
    if (!fixed && !data_sample.empty() && data_sample[per.size()] > 0) {  // its size from the data
      sized_by_data = true;
      if (data_sample[per.size()] > (std::size_t(1) << 32)) throw FormatError(what + ": the data's size for dimension " + std::to_string(k) + " is absurdly large");
      per.push_back(data_sample[per.size()]);
      continue;
    }
    if (!fixed) {
      const std::string name = d.has_dim_param() ? "'" + d.dim_param() + "'" : d.has_dim_value() ? std::to_string(d.dim_value()) : "unknown";
      throw FormatError(what + ": dimension " + std::to_string(k) + " is dynamic (" + name + "); only the batch dimension (" +
                        (imp.recurrent ? "axis 0, or axis 1 of a sequence-first recurrent model" : "axis 0") +
                        ") may be dynamic without data to size it: give an input array of the size to explain (lrp explain, "
                        "predict, batch, info --input; bench --input-shape), or export the model with a fixed input size");
    }
    if (d.dim_value() > (std::int64_t(1) << 32)) throw FormatError(what + ": dimension " + std::to_string(k) + " is absurdly large");
    per.push_back(static_cast<std::size_t>(d.dim_value()));
  }
  try {
    sample_numel(per);
  } catch (const ShapeError& e) {
    throw FormatError(what + ": " + e.what());
  }
  return per;
}

void read_input_shape(Importer& imp, const onnx::ValueInfoProto& vi) {
  bool sized_by_data = false;
  const Shape per = input_sample_shape(imp, vi, sized_by_data);
  imp.with_model([&](auto& model) {
    model.input_shape = per;
    model.layout = per.size() == 3 ? DataLayout::NCHW : DataLayout::Features;
    model.sized_by_data = sized_by_data;
  });
}

// Kahn's algorithm, preferring the file order: a sorted graph keeps its order exactly.
std::vector<std::size_t> topological_order(const onnx::GraphProto& g, const Importer& imp) {
  const std::size_t n = static_cast<std::size_t>(g.node_size());
  std::unordered_map<std::string, std::size_t> producer;
  for (std::size_t i = 0; i < n; ++i) {
    const onnx::NodeProto& node = g.node(static_cast<int>(i));
    if (node.output_size() == 0) throw FormatError(imp.source + ": " + node_label(node, i) + " has no outputs");
    for (const std::string& out : node.output()) {
      if (out.empty()) continue;
      if (imp.values.count(out))
        throw FormatError(imp.source + ": " + node_label(node, i) + " writes '" + out + "', which is also an initializer or graph input");
      const auto [it, fresh] = producer.emplace(out, i);
      if (!fresh)
        throw FormatError(imp.source + ": value '" + out + "' is written by both " +
                          node_label(g.node(static_cast<int>(it->second)), it->second) + " and " + node_label(node, i));
    }
  }
  std::vector<std::vector<std::size_t>> users(n);
  std::vector<std::size_t> pending(n, 0);
  for (std::size_t i = 0; i < n; ++i) {
    const onnx::NodeProto& node = g.node(static_cast<int>(i));
    for (const std::string& in : node.input()) {
      if (in.empty()) continue;
      const auto it = producer.find(in);
      if (it != producer.end()) {
        users[it->second].push_back(i);
        ++pending[i];
      } else if (!imp.values.count(in)) {
        throw FormatError(imp.source + ": " + node_label(node, i) + " reads '" + in +
                          "', which no node produces and which is neither an initializer nor a graph input "
                          "(missing initializer?)");
      }
    }
  }
  std::priority_queue<std::size_t, std::vector<std::size_t>, std::greater<>> ready;
  for (std::size_t i = 0; i < n; ++i)
    if (pending[i] == 0) ready.push(i);
  std::vector<std::size_t> order;
  while (!ready.empty()) {
    const std::size_t i = ready.top();
    ready.pop();
    order.push_back(i);
    for (std::size_t u : users[i])
      if (--pending[u] == 0) ready.push(u);
  }
  if (order.size() < n) {
    std::string list;
    std::size_t shown = 0;
    for (std::size_t i = 0; i < n && shown < 6; ++i)
      if (pending[i] > 0) {
        list += (shown++ ? ", " : "") + node_label(g.node(static_cast<int>(i)), i);
      }
    throw FormatError(imp.source + ": the graph has a cycle: " + std::to_string(n - order.size()) +
                      " node(s) wait on each other, e.g. " + list);
  }
  return order;
}

std::string supported_list() {
  std::string s;
  for (const std::string& op : onnx_supported_ops()) s += (s.empty() ? "" : ", ") + op;
  return s;
}

// Operators that take a value whose batch axis moved (a batch of one run as a whole tensor):
// those that treat every axis alike. The others need [N, C, ...] with the batch first.
bool takes_moved_batch(const std::string& op) {
  static const std::set<std::string> ops = {"Add", "Clip", "Concat", "Div", "Dropout", "Einsum", "Elu", "Erf", "Gather", "Gelu", "Gemm", "GRU",
                                            "HardSigmoid", "HardSwish", "Identity", "LayerNormalization", "LeakyRelu", "LSTM", "MatMul",
                                            "Mul", "ReduceMax", "ReduceMean", "Relu", "Reshape", "RNN", "Selu", "Sigmoid", "Slice", "Softmax", "Softplus", "Softsign",
                                            "Split", "Squeeze", "Sub", "Sum", "Tanh", "Transpose", "Unsqueeze"};
  return ops.count(op) > 0;
}

void convert_node(Importer& imp, const onnx::NodeProto& node, std::size_t index) {
  NodeCtx ctx(imp, node, index);
  if (!node.domain().empty() && node.domain() != "ai.onnx")
    ctx.fail("operators of domain '" + node.domain() + "' are not supported");
  const std::string& op = node.op_type();
  const auto& folders = constant_folders();
  const auto& converters = layer_converters();
  const auto fold = folders.find(op);
  const auto conv = converters.find(op);
  bool all_const = true;
  for (std::size_t k = 0; k < ctx.num_inputs(); ++k) all_const = all_const && ctx.is_const(k);
  try {
    for (std::size_t k = 0; k < ctx.num_inputs() && all_const; ++k)
      if (ctx.has_input(k) && ctx.input(k, "input").c.batch_broadcast)
        ctx.fail("computes with a constant expanded to the batch size (Expand), which is known only when the model runs");
    if (op != "Shape" && reads_norm_step(ctx)) {
      norm_step(ctx);  // converts the node or fails
    } else if (fold != folders.end() && (all_const || op == "Shape")) {
      ctx.set_const(fold->second(ctx));
    } else if (conv != converters.end()) {
      // Token ids are numbers only to an embedding's lookup (a Reshape may leave them as they are).
      if (imp.token_input && op != "Gather" && op != "Reshape")  // Reshape: only to the shape they have
        for (std::size_t k = 0; k < ctx.num_inputs(); ++k)
          if (ctx.has_input(k) && !ctx.is_const(k) && ctx.input(k, "input").node == imp.input_node)
            ctx.fail("reads the model's input, which holds token ids (integers); only an embedding (Gather of a table) may");
      if (!takes_moved_batch(op))
        for (std::size_t k = 0; k < ctx.num_inputs(); ++k)
          if (ctx.has_input(k) && !ctx.is_const(k) && ctx.input(k, "input").moved_batch)
            ctx.fail("needs the batch axis first, but an earlier Transpose or Reshape moved it (input " + std::to_string(k) + " is " +
                     runtime_shape_str(ctx.input(k, "input")) + ")");
      conv->second(ctx);
    } else if (fold != folders.end()) {
      ctx.fail("is only supported on constants (it is evaluated when the model is loaded), but an input is computed from "
               "the model input");
    } else {
      ctx.fail("unsupported operator '" + op + "' (supported: " + supported_list() + "; and on constants: " + [] {
        std::string s;
        for (const std::string& f : onnx_foldable_ops()) s += (s.empty() ? "" : ", ") + f;
        return s;
      }() + ")");
    }
  } catch (const FormatError&) {
    throw;
  } catch (const Error& e) {
    ctx.fail(e.what());
  }
}

// The graph output to build: `wanted`, or the only one.
const onnx::ValueInfoProto& chosen_output(const onnx::GraphProto& g, const std::string& wanted, const std::string& source) {
  std::string names;
  for (const onnx::ValueInfoProto& o : g.output()) {
    if (!wanted.empty() && o.name() == wanted) return o;
    names += (names.empty() ? "'" : ", '") + o.name() + "'";
  }
  if (!wanted.empty()) throw FormatError(source + ": the graph has no output '" + wanted + "' (outputs: " + names + ")");
  if (g.output_size() == 0) throw FormatError(source + ": the graph has no output");
  if (g.output_size() > 1)
    throw FormatError(source + ": the graph has " + std::to_string(g.output_size()) + " outputs (" + names +
                      "); choose the one to explain (--output NAME)");
  return g.output(0);
}

// Nodes reachable backwards from the named values.
std::vector<char> reaching(const onnx::GraphProto& g, std::vector<std::string> todo) {
  std::unordered_map<std::string, std::size_t> producer;
  for (int i = 0; i < g.node_size(); ++i)
    for (const std::string& o : g.node(i).output())
      if (!o.empty()) producer.emplace(o, static_cast<std::size_t>(i));
  std::vector<char> reached(static_cast<std::size_t>(g.node_size()), 0);
  while (!todo.empty()) {
    const std::string name = std::move(todo.back());
    todo.pop_back();
    const auto it = producer.find(name);
    if (it == producer.end() || reached[it->second]) continue;
    reached[it->second] = 1;
    for (const std::string& in : g.node(static_cast<int>(it->second)).input())
      if (!in.empty()) todo.push_back(in);
  }
  return reached;
}

// The nodes to build: all but those only the other graph outputs need (another head). Nodes
// that reach no output at all are still built, and still checked.
std::vector<char> nodes_to_build(const onnx::GraphProto& g, const std::string& output) {
  std::vector<std::string> others;
  for (const onnx::ValueInfoProto& o : g.output())
    if (o.name() != output) others.push_back(o.name());
  std::vector<char> build(static_cast<std::size_t>(g.node_size()), 1);
  if (others.empty()) return build;
  const std::vector<char> mine = reaching(g, {output}), theirs = reaching(g, others);
  for (std::size_t i = 0; i < build.size(); ++i) build[i] = mine[i] || !theirs[i];
  return build;
}

// The graph input as value 0 (time_first: behind a Reshape that moves its batch axis).
void add_single_input(Importer& imp, const onnx::ValueInfoProto& in) {
  Value x;
  x.id = 0;
  x.shape = imp.with_model([](const auto& model) { return model.input_shape; });
  imp.id_uses.assign(1, imp.uses(in.name()));
  if (imp.time_first) {
    // lrp's sample [T, ...] is the ONNX input [T, 1, ...] of a batch of one: its batch axis moved.
    Shape whole = x.shape;
    whole.insert(whole.begin() + 1, 1);
    x.id = imp.with_model([&](auto& model) {
      using T = typename std::remove_reference_t<decltype(model)>::Scalar;
      return model.add(imp.unique_layer_name(in.name() + " (batch on axis 1)"), std::make_unique<Reshape<T>>(whole), {0});
    });
    x.node = imp.input_node = imp.with_model([](const auto& model) { return static_cast<long>(model.nodes().size()) - 1; });
    x.shape = whole;
    x.moved_batch = imp.moved_any = true;
    imp.id_uses[0] = 1;
    imp.id_uses.resize(x.id + 1, 0);
    imp.id_uses[x.id] = imp.uses(in.name());
  }
  imp.values.emplace(in.name(), x);
}

// Several data inputs (float tensors of fixed per-sample shapes): the model input is their
// samples flattened and concatenated in graph order, [N, total]; a Slice and a Reshape per input
// cut each apart, named as the input (Model::input_parts).
void add_input_parts(Importer& imp, const std::vector<const onnx::ValueInfoProto*>& inputs) {
  if (imp.batch_of_one)
    throw FormatError(imp.source + ": a model with several data inputs must keep the batch axis first in every value");
  std::vector<InputPart> parts;
  std::size_t total = 0;
  const Shape data_shape = std::exchange(imp.data_shape, Shape{});  // the data is the packed input: it sizes no part
  for (const onnx::ValueInfoProto* vi : inputs) {
    bool sized_by_data = false;
    Shape shape;
    try {
      shape = input_sample_shape(imp, *vi, sized_by_data);
    } catch (const FormatError& e) {
      const std::string msg = e.what();
      if (msg.find("is dynamic") == std::string::npos) throw;
      throw FormatError(imp.source + ": graph input '" + vi->name() +
                        "' has a dynamic dimension besides the batch; a model with several data inputs needs their sizes fixed "
                        "in the file (export it with fixed sizes)");
    }
    if (imp.token_input)
      throw FormatError(imp.source + ": graph input '" + vi->name() + "' holds integers (token ids) and the graph has " +
                        std::to_string(inputs.size()) +
                        " data inputs; token ids are supported as the only data input (hold the others constant with --bind NAME=FILE)");
    total += sample_numel(shape);
    parts.push_back({vi->name(), shape});
  }
  imp.data_shape = data_shape;
  imp.with_model([&](auto& model) {
    model.input_shape = {total};
    model.layout = DataLayout::Features;
    model.input_parts = parts;
  });
  imp.id_uses.assign(1, parts.size());
  std::size_t offset = 0;
  for (const InputPart& part : parts) {
    const std::size_t size = sample_numel(part.shape);
    Value v;
    v.shape = part.shape;
    v.id = imp.with_model([&](auto& model) {
      using T = typename std::remove_reference_t<decltype(model)>::Scalar;
      const std::size_t cut = model.add(imp.unique_layer_name(part.name + " (cut from the packed inputs)"),
                                        std::make_unique<Slice<T>>(Shape{offset}, Shape{size}), {0});
      return model.add(imp.unique_layer_name(part.name), std::make_unique<Reshape<T>>(part.shape), {cut});
    });
    v.node = imp.with_model([](const auto& model) { return static_cast<long>(model.nodes().size()) - 1; });
    imp.id_uses.resize(v.id + 1, 0);
    imp.id_uses[v.id - 1] = 1;
    imp.id_uses[v.id] = imp.uses(part.name);
    imp.values.emplace(part.name, std::move(v));
    offset += size;
  }
}

// Fills imp.model (or imp.model_float when imp.as_float).
void build(Importer& imp, LeanModel& lean, const std::string& source,
           const std::map<std::string, Tensor<double>>& constant_inputs, const std::string& wanted_output) {
  onnx::ModelProto& mp = lean.proto;
  imp.source = source;
  if (!mp.has_graph()) throw FormatError(source + ": the file holds no graph (truncated or not an ONNX model?)");
  imp.opset = default_opset(mp, source);
  if (mp.graph().sparse_initializer_size() > 0) throw FormatError(source + ": sparse initializers are not supported");
  for (int k = 0; k < mp.graph().initializer_size(); ++k) {
    onnx::TensorProto& t = *mp.mutable_graph()->mutable_initializer(k);
    if (t.name().empty()) throw FormatError(source + ": an initializer has no name");
    Value v;
    v.is_const = true;
    const std::size_t slot = static_cast<std::size_t>(k);
    v.c = take_initializer(t, slot < lean.raw.size() ? lean.raw[slot] : RawSlice{}, source + ": initializer '" + t.name() + "'");
    if (!imp.values.emplace(t.name(), std::move(v)).second)
      throw FormatError(source + ": initializer '" + t.name() + "' is defined twice");
    onnx::TensorProto().Swap(&t);  // taken over: free what is left of it (clear() would keep its capacity)
  }
  const onnx::GraphProto& g = mp.graph();
  std::vector<const onnx::ValueInfoProto*> data_inputs;
  std::size_t bound = 0;
  for (const onnx::ValueInfoProto& vi : g.input()) {
    if (imp.values.count(vi.name())) continue;  // initializers listed as inputs (IR < 4)
    const auto it = constant_inputs.find(vi.name());
    if (it != constant_inputs.end()) {
      Value v;
      v.is_const = true;
      v.c = from_tensor(it->second);
      imp.values.emplace(vi.name(), std::move(v));
      ++bound;
      continue;
    }
    data_inputs.push_back(&vi);
  }
  if (bound != constant_inputs.size())
    for (const auto& [name, t] : constant_inputs)
      if (!imp.values.count(name)) throw FormatError(source + ": constant input '" + name + "' is not a graph input");
  if (data_inputs.empty()) {
    std::string names;
    for (const auto* vi : data_inputs) names += (names.empty() ? "'" : ", '") + vi->name() + "'";
    throw FormatError(source + ": the graph has " + std::to_string(data_inputs.size()) + " data inputs" +
                      (names.empty() ? "" : " (" + names + ")") +
                      "; lrp models take exactly one (hold the others constant with --bind NAME=FILE)");
  }
  const onnx::ValueInfoProto& in = *data_inputs[0];
  for (const onnx::ValueInfoProto* vi : data_inputs)
    if (vi->name().empty()) throw FormatError(source + ": a graph input has no name");
  const bool several = data_inputs.size() > 1;
  if (!several) read_input_shape(imp, in);
  const std::string out = chosen_output(g, wanted_output, source).name();
  const std::vector<char> needed = nodes_to_build(g, out);
  for (int i = 0; i < g.node_size(); ++i)
    if (needed[static_cast<std::size_t>(i)])
      for (const std::string& name : g.node(i).input())
        if (!name.empty()) {
          ++imp.name_uses[name];
          imp.readers[name].push_back(g.node(i).op_type());
        }
  ++imp.name_uses[out];
  if (several) add_input_parts(imp, data_inputs);
  else add_single_input(imp, in);

  // Constants are dropped after their last reader, so a large model's weights exist once (in
  // their layers) rather than twice by the end of the import.
  std::unordered_map<std::string, std::size_t> uses_left = imp.name_uses;
  std::size_t converted = 0;
  for (std::size_t i : topological_order(g, imp)) {
    if (!needed[i]) continue;
    const onnx::NodeProto& node = g.node(static_cast<int>(i));
    imp.nodes_reached = converted++;
    convert_node(imp, node, i);
    for (const std::string& name : node.input()) {
      if (name.empty() || --uses_left[name] != 0) continue;
      const auto it = imp.values.find(name);
      if (it != imp.values.end() && it->second.is_const) imp.values.erase(it);
    }
  }
  // A failure past the nodes (the graph output) ranks below any node's: a batch of one that
  // converts every node but leaves a wrong output did not get further than the first try.
  imp.nodes_reached = 0;

  const auto it = imp.values.find(out);
  if (it == imp.values.end()) throw FormatError(source + ": the graph output '" + out + "' is not produced by any node");
  if (it->second.is_const) throw FormatError(source + ": the graph output '" + out + "' is a constant, independent of the input");
  if (it->second.norm) throw FormatError(source + ": the graph output '" + out + "' is a step of a normalisation written out, not a whole one");
  if (it->second.moved_batch)
    throw FormatError(source + ": the graph output '" + out + "' does not have its batch axis first (" + runtime_shape_str(it->second) + ")");
  imp.with_model([&](auto& model) {
    model.set_output_value(it->second.id);
    model.source = source;
    model.name = g.name();
    model.batch_of_one = imp.moved_any;
    model.token_input = imp.token_input;
    model.validate();
  });
}

// How the graph input's axes are read: the batch first (fixed or dynamic), the batch fixed to 1
// (a model that moves its batch axis), or the batch on axis 1 (a sequence-first recurrent model).
enum class InputAxes { BatchFirst, BatchOfOne, TimeFirst };

template <class T>
Model<T> import_once(LeanModel& lean, const std::string& source, const io::OnnxReadOptions& options, InputAxes axes, bool recurrent,
                     bool& dynamic_batch, std::size_t& reached) {
  Importer imp;
  imp.recurrent = recurrent;
  imp.data_shape = options.data_shape;
  imp.as_float = std::is_same_v<T, float>;
  imp.batch_of_one = axes != InputAxes::BatchFirst;
  imp.time_first = axes == InputAxes::TimeFirst;
  try {
    build(imp, lean, source, options.constant_inputs, options.output);
  } catch (const FormatError&) {
    dynamic_batch = !imp.static_batch.has_value();
    reached = imp.nodes_reached;
    throw;
  }
  if constexpr (std::is_same_v<T, float>) return std::move(imp.model_float);
  else return std::move(imp.model);
}

bool has_recurrent_node(const LeanModel& lean) {
  for (const onnx::NodeProto& n : lean.proto.graph().node())
    if (n.op_type() == "LSTM" || n.op_type() == "GRU" || n.op_type() == "RNN") return true;
  return false;
}

// `load` reads the model (again for each further try). A model with a dynamic batch that moves
// its batch axis (nn.MultiheadAttention computes with the batch size in its reshapes) imports
// only as a batch of one: then every sample runs through it alone, which is what it computes per
// sample. Any failure of a dynamic-batch model gets that second try, whatever its message: the
// many batch-axis checks need not agree on wording, and a model that imports as a batch of one
// is right as one. A model with recurrent nodes that fails gets a try with its batch on axis 1
// (PyTorch's nn.LSTM without batch_first: [T, B, D] in): its samples are then [T, D]. When every
// try fails, the error of the try that got furthest through the graph is reported (the first's
// on a tie): a model that needs another reading of its input then names what it lacks in it.
template <class T>
Model<T> import(const std::function<LeanModel()>& load, const std::string& source, const io::OnnxReadOptions& options) {
  LeanModel lean = load();
  const bool recurrent = has_recurrent_node(lean);
  bool dynamic_batch = false;
  std::exception_ptr furthest;
  std::size_t furthest_reached = 0;
  for (const InputAxes axes : {InputAxes::BatchFirst, InputAxes::BatchOfOne, InputAxes::TimeFirst}) {
    if ((axes == InputAxes::BatchOfOne && !dynamic_batch) || (axes == InputAxes::TimeFirst && !recurrent)) continue;
    std::size_t reached = 0;
    bool dynamic = false;
    try {
      if (axes != InputAxes::BatchFirst) lean = load();
      return import_once<T>(lean, source, options, axes, recurrent, dynamic, reached);
    } catch (const FormatError&) {
      if (axes == InputAxes::BatchFirst) dynamic_batch = dynamic;
      if (!furthest || reached > furthest_reached) {
        furthest = std::current_exception();
        furthest_reached = reached;
      }
    } catch (const Error&) {
      if (axes == InputAxes::BatchFirst) throw;
    }
  }
  std::rethrow_exception(furthest);
}

}  // namespace
}  // namespace onnx_detail

std::vector<std::string> onnx_supported_ops() {
  std::vector<std::string> ops;
  for (const auto& [name, f] : onnx_detail::layer_converters()) ops.push_back(name);
  ops.push_back("Constant");
  std::sort(ops.begin(), ops.end());
  return ops;
}

std::vector<std::string> onnx_foldable_ops() {
  std::vector<std::string> ops;
  for (const auto& [name, f] : onnx_detail::constant_folders()) ops.push_back(name);
  return ops;
}

namespace {
OnnxReadOptions options_of(const std::string& output, const std::map<std::string, Tensor<double>>& constant_inputs) {
  return {output, constant_inputs, {}};
}
}  // namespace

Model<double> parse_onnx_model(const std::string& bytes, const std::string& source,
                               const std::map<std::string, Tensor<double>>& constant_inputs) {
  return onnx_detail::import<double>([&] { return onnx_detail::parse_lean_model(bytes, source); }, source, options_of("", constant_inputs));
}

Model<float> parse_onnx_model_float(const std::string& bytes, const std::string& source) {
  return onnx_detail::import<float>([&] { return onnx_detail::parse_lean_model(bytes, source); }, source, {});
}

Model<double> read_onnx_model(const std::string& path, const OnnxReadOptions& options) {
  return onnx_detail::import<double>([&] { return onnx_detail::read_lean_model(path); }, path, options);
}

Model<float> read_onnx_model_float(const std::string& path, const OnnxReadOptions& options) {
  return onnx_detail::import<float>([&] { return onnx_detail::read_lean_model(path); }, path, options);
}

Model<double> read_onnx_model(const std::string& path, const std::map<std::string, Tensor<double>>& constant_inputs) {
  return read_onnx_model(path, options_of("", constant_inputs));
}

Model<double> read_onnx_model(const std::string& path) { return read_onnx_model(path, OnnxReadOptions{}); }

Model<double> read_onnx_model(const std::string& path, const std::string& output) { return read_onnx_model(path, options_of(output, {})); }

Model<float> read_onnx_model_float(const std::string& path, const std::string& output) {
  return read_onnx_model_float(path, options_of(output, {}));
}

Model<double> read_onnx_model(const std::string& path, const std::string& output,
                              const std::map<std::string, Tensor<double>>& constant_inputs) {
  return read_onnx_model(path, options_of(output, constant_inputs));
}

Model<float> read_onnx_model_float(const std::string& path, const std::string& output,
                                   const std::map<std::string, Tensor<double>>& constant_inputs) {
  return read_onnx_model_float(path, options_of(output, constant_inputs));
}

Model<float> read_onnx_model_float(const std::string& path) { return read_onnx_model_float(path, OnnxReadOptions{}); }

}  // namespace lrp::io
