#pragma once
// Internals of the ONNX importer (src/io/onnx_*.cpp), not part of the public API.
//
//   onnx_read.cpp        reading the ModelProto, initializers' raw bytes left in the file
//   onnx_model.cpp       checks, topological sort, the node loop
//   onnx_tensor.cpp      TensorProto decoding (raw_data and typed fields), ConstTensor helpers
//   onnx_attributes.cpp  NodeCtx: inputs, outputs and attribute access with messages
//   onnx_fold.cpp        constant folding: one function per operator
//   onnx_layers.cpp      the table of layer converters; the converters, one function per
//                        operator, in onnx_layers_{window,dense,einsum,activation,norm,arithmetic,shape}.cpp
//                        (onnx_layers.hpp), onnx_recurrent.cpp and onnx_norm_written_out.cpp
#include <onnx/onnx_pb.h>

#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "lrp/core/error.hpp"
#include "lrp/graph/model.hpp"
#include "lrp/layers/conv_geometry.hpp"

namespace lrp::io::onnx_detail {

// Stands for the (dynamic) batch size in the result of Shape on a runtime value. It may be
// moved around (Gather, Concat, Slice, ...) but not computed with; Reshape accepts it as the
// first entry of a target shape ("keep the batch").
inline constexpr std::int64_t kBatchDim = std::numeric_limits<std::int64_t>::min() + 7;

// Largest tensor a folding step may create (ConstantOfShape, broadcasting, Gather); larger
// requests come from broken files.
inline constexpr std::size_t kMaxFoldElements = std::size_t(1) << 26;

// Where the raw bytes of FLOAT initializers wait until a layer takes them: the model file, the
// caller's buffer, or a string taken over from a parsed message.
class RawSource {
 public:
  virtual ~RawSource() = default;
  // Copies bytes [offset, offset + n) to dst; IoError when they cannot be read.
  virtual void read(std::uint64_t offset, void* dst, std::size_t n) const = 0;
};
std::shared_ptr<const RawSource> owned_source(std::string&& bytes);

struct RawSlice {
  std::shared_ptr<const RawSource> source;  // null: no raw bytes
  std::uint64_t offset = 0;
  std::size_t bytes = 0;
};

// A parsed model whose graph initializers may have their raw_data left in the source: raw[k]
// (when its source is set) holds initializer k's bytes, and the message holds none of them.
struct LeanModel {
  onnx::ModelProto proto;
  std::vector<RawSlice> raw;
};
// From a file, parsed from disk (IoError / FormatError naming it).
LeanModel read_lean_model(const std::string& path);
// From bytes in memory, which must outlive the import (slices point into them).
LeanModel parse_lean_model(const std::string& bytes, const std::string& source);

// A constant: an initializer, a Constant node, a bound graph input or a folded result.
// Integer tensors keep int64 values (Slice bounds use the int64 extremes). A FLOAT initializer
// stored as raw bytes stays undecoded ("pending", its bytes still in the model file) until a
// node reads it: const_input() decodes it to doubles, while Conv/Gemm/MatMul weights go from
// the file straight into the layer in the model's own precision (a float import never holds a
// large weight as doubles, nor its bytes beside the layer).
struct ConstTensor {
  bool is_int = false;
  std::vector<std::int64_t> dims;  // ONNX shape; rank 0 is a scalar
  Tensor<double>::Storage f;       // !is_int, decoded (a tensor's storage, so weights move into layers)
  std::vector<std::int64_t> i;     // is_int
  RawSlice raw;                    // pending: little-endian float32 bytes (little-endian hosts only)
  bool pending = false;
  // Expanded to the batch (Expand with the batch size from Shape): dims[0] == 1 stands for every
  // sample, all alike. Layers take it like any constant broadcast over the batch; folding refuses it.
  bool batch_broadcast = false;

  std::size_t numel() const { return is_int ? i.size() : pending ? raw.bytes / sizeof(float) : f.size(); }
  // One element; on a pending tensor a read from its source (for biases and scalars: large
  // tensors are decoded or read whole).
  double value(std::size_t k) const {
    if (is_int) return static_cast<double>(i[k]);
    if (!pending) return f[k];
    float v;
    read_floats(k, 1, &v);
    return static_cast<double>(v);
  }
  // Elements [first, first + count) of a pending tensor as float32.
  void read_floats(std::size_t first, std::size_t count, float* dst) const;
  // Index of the first element that is NaN or infinite, or numel().
  std::size_t first_non_finite() const;
  // Decodes pending bytes to doubles and lets go of the source.
  void decode_pending();
  bool has_batch_marker() const;
};

std::string dims_str(const std::vector<std::int64_t>& dims);
// Element count of `dims` (all >= 0), or a FormatError "<what>: ..." when it exceeds `limit`.
std::size_t dims_numel(const std::vector<std::int64_t>& dims, const std::string& what,
                       std::size_t limit = std::size_t(1) << 40);
// Decodes a TensorProto; `what` starts every message ("model.onnx: initializer 'w'").
ConstTensor decode_tensor(const onnx::TensorProto& t, const std::string& what);
// An initializer: FLOAT raw bytes stay undecoded (pending) where they are (`raw`, when the
// reader left them in the file, else the message's raw_data, taken over); anything else is decoded.
ConstTensor take_initializer(onnx::TensorProto& t, const RawSlice& raw, const std::string& what);
// A weight in the layer's precision: pending bytes convert straight to T.
template <class T>
Tensor<T> weight_tensor(ConstTensor&& c);
ConstTensor from_tensor(const Tensor<double>& t);
Tensor<double> to_tensor(const ConstTensor& c);
const char* data_type_name(int type);

// What an ONNX value name stands for while the graph is converted.
struct Value {
  bool is_const = false;
  ConstTensor c;       // is_const
  std::size_t id = 0;  // runtime: model value id
  Shape shape;         // runtime: per-sample shape (no batch dimension)
  long node = -1;      // runtime: index of the model node producing it, -1 for the input
  // runtime: the batch axis was moved from the front (attention in nn.MultiheadAttention puts
  // tokens first). Only models run as a batch of one get here: `shape` is then the ONNX
  // tensor's whole shape, the batch of one one of its axes or merged into one, every sample
  // run through it alone. Back in front (a leading 1), it is dropped again.
  bool moved_batch = false;
  // runtime: a step of a LayerNorm or RMSNorm written out, not a layer (onnx_norm_written_out.cpp);
  // `id` is unused.
  struct NormStep {
    enum Stage { Mean, Centered, Square, MeanSquare, Shifted, Root, InverseRoot } stage = Square;
    std::string x;  // name of the value being normalised
    double eps = 0;
    bool centered = false;  // a LayerNorm's (x - mean), else an RMSNorm's x
  };
  std::optional<NormStep> norm;
};

// What add_layer records about the batch axis of the layer's output: as its inputs (moved when
// all are), or moved by this layer.
enum class BatchAxis { Inherit, Moved };

class NodeCtx;
using LayerConverter = void (*)(NodeCtx&);
using ConstantFolder = ConstTensor (*)(NodeCtx&);
const std::map<std::string, LayerConverter>& layer_converters();   // onnx_layers.cpp
const std::map<std::string, ConstantFolder>& constant_folders();   // onnx_fold.cpp

// State of one import.
struct Importer {
  std::string source;              // file name for messages
  std::int64_t opset = 0;          // of the default domain
  bool as_float = false;           // builds model_float (weights never held as doubles), else model
  Model<double> model;
  Model<float> model_float;
  std::unordered_map<std::string, Value> values;
  std::unordered_map<std::string, std::size_t> name_uses;  // node inputs + graph outputs per name
  std::vector<std::size_t> id_uses;                        // the same per runtime value id
  std::unordered_map<std::string, std::vector<std::string>> readers;  // operators reading each name
  std::optional<std::size_t> static_batch;                 // the input's batch size when fixed
  bool batch_of_one = false;                               // import as if the batch were fixed to 1
  // The input's axis 1 is the batch (a sequence-first recurrent model, [T, B, ...]): lrp's
  // samples are [T, ...], each run as the ONNX batch of one (implies batch_of_one).
  bool time_first = false;
  bool recurrent = false;  // the graph has LSTM, GRU or RNN nodes (for messages)
  Shape data_shape;        // the data's shape, for dynamic input dimensions (OnnxReadOptions)
  long input_node = -1;  // the node giving the graph input's ONNX value: -1, or time_first's Reshape
  bool moved_any = false;                                  // some value had its batch axis moved
  bool token_input = false;                                // the input is integer: token ids
  std::size_t nodes_reached = 0;                           // how many nodes were converted before the current one
  std::unordered_map<std::string, std::size_t> layer_names;

  std::string unique_layer_name(const std::string& base);
  std::size_t uses(const std::string& name) const;
  // Calls f with the model being built (Model<double>& or Model<float>&).
  template <class F>
  decltype(auto) with_model(F&& f) {
    return as_float ? f(model_float) : f(model);
  }
};

// One node being converted: its inputs, outputs and attributes, with messages that name the
// file, the node and its operator.
class NodeCtx {
 public:
  NodeCtx(Importer& imp, const onnx::NodeProto& node, std::size_t index) : imp_(imp), node_(node), index_(index) {}

  const onnx::NodeProto& node() const { return node_; }
  const std::string& op() const { return node_.op_type(); }
  std::int64_t opset() const { return imp_.opset; }
  Importer& importer() { return imp_; }
  const std::string& importer_source() const { return imp_.source; }
  // "node 3 '/conv1/Conv' (Conv)"
  std::string label() const;
  [[noreturn]] void fail(const std::string& msg) const;

  // Inputs; optional ones may be absent or given as "".
  std::size_t num_inputs() const { return static_cast<std::size_t>(node_.input_size()); }
  bool has_input(std::size_t k) const;
  const Value& input(std::size_t k, const std::string& role) const;
  bool is_const(std::size_t k) const;
  // A constant input, decoded to doubles.
  const ConstTensor& const_input(std::size_t k, const std::string& role) const;
  // A constant input as stored (possibly pending): for shape checks before take_const_input.
  const ConstTensor& weight_input(std::size_t k, const std::string& role) const;
  // The constant itself (possibly pending), moved out when no other node reads it (weights
  // handed to a layer without a copy), else a copy.
  ConstTensor take_const_input(std::size_t k, const std::string& role);
  const Value& runtime_input(std::size_t k, const std::string& role) const;
  // Integer entries of a constant (integral floats accepted: bound test inputs are doubles).
  std::vector<std::int64_t> ints_of(const ConstTensor& t, const std::string& role) const;
  // A scalar (one element) constant as double.
  double scalar_of(const ConstTensor& t, const std::string& role) const;
  // Fails unless every value is finite (weights, statistics, pad values).
  void require_finite(const ConstTensor& t, const std::string& role) const;

  // Outputs. Only the first `n` outputs may be consumed by other nodes or the graph.
  void limit_outputs(std::size_t n, const std::string& why) const;
  void set_const(ConstTensor t);
  // Binds output 0 to a step of an RMSNorm written out (no layer) of shape `shape`.
  void set_norm_step(Value::NormStep step, const Value& like, Shape shape);
  // Binds output `output` to an existing value (an operator that changes nothing, or a value
  // built inside the conversion).
  void alias(const Value& v, std::size_t output = 0);
  // Adds a layer reading `inputs` (runtime values) and binds output 0 to it; the per-sample
  // output shape is inferred here (a ShapeError becomes a FormatError naming the node). The
  // layer is converted to float when the import builds a float model (layers without large
  // parameters; Conv and Linear go through add_conv / add_linear).
  void add_layer(std::unique_ptr<Layer<double>> layer, const std::vector<const Value*>& inputs,
                 BatchAxis batch = BatchAxis::Inherit);
  // The same bound to output `output` (operators with several outputs: Split).
  void add_layer_for(std::size_t output, std::unique_ptr<Layer<double>> layer, const std::vector<const Value*>& inputs,
                     BatchAxis batch = BatchAxis::Inherit);
  // A layer inside this node's conversion (not bound to an output), read once by the next.
  // `suffix` is appended to the node's name for the layer's own name.
  Value add_hidden(std::unique_ptr<Layer<double>> layer, const std::vector<const Value*>& inputs, BatchAxis batch,
                   const std::string& suffix = " (part)");
  // x with its batch axis moved (a batch of one, now the leading axis of `shape`): a Reshape
  // layer, or x itself when already moved. Fails unless the model runs as a batch of one.
  Value with_moved_batch(const Value& x);
  // Conv2d / Linear built in the model's precision straight from the weight constant
  // (Conv: [M, C/group, kH, kW]; Linear: [out, in]).
  void add_conv(ConstTensor&& w, const Tensor<double>& bias, const Window2d& win, std::size_t groups, const Value& x);
  // ConvTranspose2d from W [C, M/group, kH, kW] and its output padding.
  void add_conv_transpose(ConstTensor&& w, const Tensor<double>& bias, const Window2d& win, std::size_t groups,
                          std::size_t output_pad_h, std::size_t output_pad_w, const Value& x);
  void add_linear(ConstTensor&& w, const Tensor<double>& bias, const Value& x, bool rows_of_last_axis = false);
  // Embedding from its table [V, D] (a Gather of token ids), in the model's precision.
  void add_embedding(ConstTensor&& table, const Value& ids);
  // Whether v is the output of a Linear applied to the rows of the last axis (MatMul on a map).
  bool produced_by_rows_linear(const Value& v);
  // Adds shift[c] to the bias of the Conv/Linear producing `v`; false if `v` has another
  // producer (the caller then adds a shift layer).
  bool add_to_producer_bias(const Value& v, const std::vector<double>& shift);
  // The LayerNorm producing `v` followed by y * scale[i] + shift[i] per entry of the last axis:
  // folded into its own scale and shift; false if `v` has another producer.
  bool affine_producer_norm(const Value& v, const std::vector<double>& scale, const std::vector<double>& shift);

  // Attributes. Unknown attribute names are an error (nothing is silently ignored).
  void allow_attributes(std::initializer_list<const char*> names) const;
  bool has_attr(const std::string& name) const;
  std::int64_t attr_int(const std::string& name, std::int64_t def) const;
  double attr_float(const std::string& name, double def) const;
  std::vector<std::int64_t> attr_ints(const std::string& name, std::vector<std::int64_t> def = {}) const;
  std::vector<double> attr_floats(const std::string& name) const;
  std::string attr_string(const std::string& name, const std::string& def) const;
  const onnx::TensorProto& attr_tensor(const std::string& name) const;

 private:
  const onnx::AttributeProto* find_attr(const std::string& name) const;
  const onnx::AttributeProto& typed_attr(const std::string& name, int type, const char* type_name) const;
  Importer& imp_;
  const onnx::NodeProto& node_;
  std::size_t index_;
};

// Full (with batch) shape text of a runtime value: "[N,3,224,224]" ("[17,1,16]" when its batch
// of one was moved).
std::string runtime_shape_str(const Value& v);
// The ONNX rank of a runtime value, and the axis of `shape` that ONNX axis `axis` (normalised)
// is: one less for a value with the batch first, the same when it was moved.
inline std::size_t onnx_rank(const Value& v) { return v.shape.size() + (v.moved_batch ? 0 : 1); }

inline std::size_t to_size(std::int64_t v) { return static_cast<std::size_t>(v); }

// Normalises an axis of a tensor of rank `rank` (negative counts from the end).
inline std::int64_t norm_axis(const NodeCtx& c, std::int64_t axis, std::size_t rank, const std::string& what) {
  const auto r = static_cast<std::int64_t>(rank);
  if (axis < -r || axis >= r) c.fail(what + " " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
  return axis < 0 ? axis + r : axis;
}

// LayerNorm and RMSNorm written out, as PyTorch exports LayerNorm before opset 17 and a
// hand-written RMSNorm (Llama's): (x - mean) / sqrt(mean((x - mean)^2) + eps), x / sqrt(mean(x^2)
// + eps), means over the last axis. A ReduceMean read by a Sub alone (layer_norm_mean, true when
// it is one), or Pow(x, 2) read by a ReduceMean alone, starts one (any other Pow by a constant
// integer is a Power activation); the steps are pending values (Value::norm) that Sub, Pow,
// ReduceMean, Add, Sqrt, Reciprocal, Div and Mul advance, until the final quotient or product adds
// a LayerNorm layer. norm_step converts the node when one of its inputs is such a step (false
// otherwise); any other reader of a step fails.
bool layer_norm_mean(NodeCtx& c);
bool norm_step(NodeCtx& c);
bool reads_norm_step(const NodeCtx& c);
void pow_op(NodeCtx& c);
void sqrt_op(NodeCtx& c);
void reciprocal_op(NodeCtx& c);
void lstm(NodeCtx& c);  // onnx_recurrent.cpp
void gru(NodeCtx& c);   // onnx_recurrent.cpp
void rnn(NodeCtx& c);   // onnx_recurrent.cpp

// Squeeze's and Unsqueeze's axes: input 1 from opset 13, the attribute before (`required`:
// fail when neither is given).
std::vector<std::int64_t> axes_input_or_attr(NodeCtx& c, bool required);
// Fails unless a Dropout node is the identity: inference mode, or training mode with ratio 0.
void require_identity_dropout(NodeCtx& c);

// Transpose's `perm` for a tensor of rank `rank` (default: the axes reversed), checked.
std::vector<std::int64_t> transpose_perm(const NodeCtx& c, std::size_t rank);

// Slice of a tensor of shape `dims`: per axis the first index, the step and the element count,
// from starts/ends/axes/steps (attributes before opset 10, constant inputs after), clamped as
// ONNX specifies.
struct SlicePlan {
  std::vector<std::int64_t> first, step, count;
};
SlicePlan slice_plan(const NodeCtx& c, const std::vector<std::int64_t>& dims);

}  // namespace lrp::io::onnx_detail
