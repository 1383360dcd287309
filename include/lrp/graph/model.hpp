#pragma once
// The one in-memory model every importer produces: a DAG of layers over numbered values.
// Value 0 is the network input; nodes are stored in topological order, each reading earlier
// values and producing one new value. A Sequential network is the chain case.
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "lrp/graph/layer.hpp"

namespace lrp {

// Layout of the data files a model takes and returns (the engine itself is NCHW).
enum class DataLayout { Features, NCHW, NHWC };

// One of several inputs of a model (an ONNX graph with two data inputs): the model input is the
// parts' samples flattened and concatenated in order, and its first nodes cut them apart
// (lrp/graph/input_parts.hpp packs and splits such tensors).
struct InputPart {
  std::string name;
  Shape shape;  // per sample
};

template <class T>
struct Node {
  std::string name;
  std::unique_ptr<Layer<T>> layer;
  std::vector<std::size_t> inputs;  // value ids
  std::size_t output = 0;           // value id
  int source_index = -1;            // position of the layer in the model file (toolbox), -1 if none
};

template <class T>
class Model {
 public:
  using Scalar = T;
  Model() = default;
  Model(Model&&) noexcept = default;
  Model& operator=(Model&&) noexcept = default;
  Model(const Model& other) { *this = other.template convert<T>(); }
  Model& operator=(const Model& other) {
    if (this != &other) *this = other.template convert<T>();
    return *this;
  }

  // Appends a node reading `inputs` (default: the current output) and makes it the output.
  std::size_t add(std::string node_name, std::unique_ptr<Layer<T>> layer, std::vector<std::size_t> inputs = {},
                  int source_index = -1);

  const std::vector<Node<T>>& nodes() const { return nodes_; }
  std::vector<Node<T>>& nodes() { return nodes_; }
  std::size_t num_values() const { return num_values_; }
  std::size_t output_value() const { return output_; }
  void set_output_value(std::size_t v) { output_ = v; }
  // Index of the node producing value v, or -1 for the input.
  long producer(std::size_t v) const;
  // Number of nodes reading value v (plus one when it is the model output).
  std::size_t consumers(std::size_t v) const;

  // Per-sample input shape in the engine's layout; 0 marks a dimension known only from data
  // (the toolbox format does not store the image size).
  Shape input_shape;
  DataLayout layout = DataLayout::Features;
  std::string source;  // file it was read from, for messages
  std::string name;
  // Imported as a batch of one (the model moves its batch axis, as nn.MultiheadAttention does):
  // every sample runs through it alone, which is what it computes per sample.
  bool batch_of_one = false;
  // Some input dimensions the file leaves dynamic (a sequence length) were sized by the data it
  // was read for (io::OnnxReadOptions::data_shape): data of another size needs the file read again.
  bool sized_by_data = false;
  // The input holds token ids (an integer ONNX input read by an Embedding): maps are per token,
  // and methods that scale or perturb the input continuously do not apply.
  bool token_input = false;
  // Several inputs packed into one [N, total] input (empty: the model has one input).
  std::vector<InputPart> input_parts;

  // Per-sample shapes of every value for a concrete input; throws ShapeError naming the node.
  std::vector<Shape> infer_shapes(const Shape& input) const;
  // Checks the graph: inputs defined before use, arity, no dangling output. Throws FormatError.
  void validate() const;
  // Drops a trailing SoftMax (relevance starts from the logits); returns whether one was dropped.
  bool drop_trailing_softmax();
  // Total number of parameters.
  std::size_t param_count() const;
  // A node's label for messages: "layer 3 (Convolution 'conv1')".
  std::string node_label(std::size_t node_index) const;
  // The index `lrp info` shows for a node: its position in a toolbox file, else its own.
  long display_index(std::size_t node_index) const;
  // The node that `selector` names, an index as `lrp info` shows it or a node name; none if
  // no node matches.
  std::optional<std::size_t> find_node(const std::string& selector) const;

  template <class U>
  Model<U> convert() const&;
  // The same, releasing each layer once converted: the peak holds one layer twice, not the model.
  template <class U>
  Model<U> convert() &&;
  // Used by convert() and graph rewrites that renumber values.
  void set_values(std::size_t num_values, std::size_t output) {
    num_values_ = num_values;
    output_ = output;
  }

 private:
  std::vector<Node<T>> nodes_;
  std::size_t num_values_ = 1;
  std::size_t output_ = 0;
};

// Appends a node to a model being imported, whose per-sample value shapes the importer tracks in
// `shapes`: infers the new value's shape from its inputs' first (ShapeError when they do not fit,
// so nothing half-added remains) and records it. Returns the new value.
template <class T>
std::size_t add_shaped_node(Model<T>& model, std::map<std::size_t, Shape>& shapes, std::string name,
                            std::unique_ptr<Layer<T>> layer, std::vector<std::size_t> inputs) {
  std::vector<Shape> in_shapes;
  for (std::size_t v : inputs) in_shapes.push_back(shapes.at(v));
  Shape out = checked_output_shape(*layer, in_shapes);
  const std::size_t v = model.add(std::move(name), std::move(layer), std::move(inputs));
  shapes[v] = std::move(out);
  return v;
}

}  // namespace lrp
