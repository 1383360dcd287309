#include "lrp/graph/model.hpp"

#include <type_traits>

namespace lrp {

const char* layer_kind_name(LayerKind kind) {
  switch (kind) {
    case LayerKind::Linear: return "Linear";
    case LayerKind::Conv2d: return "Convolution";
    case LayerKind::ConvTranspose2d: return "ConvTranspose";
    case LayerKind::Pool2d: return "Pool";
    case LayerKind::Activation: return "Activation";
    case LayerKind::SoftMax: return "SoftMax";
    case LayerKind::Flatten: return "Flatten";
    case LayerKind::Reshape: return "Reshape";
    case LayerKind::BatchNorm: return "BatchNorm";
    case LayerKind::Add: return "Add";
    case LayerKind::Concat: return "Concat";
    case LayerKind::Pad: return "Pad";
    case LayerKind::Mul: return "Mul";
    case LayerKind::Transpose: return "Transpose";
    case LayerKind::Slice: return "Slice";
    case LayerKind::Resize: return "Resize";
    case LayerKind::LayerNorm: return "LayerNorm";
    case LayerKind::LRN: return "LRN";
    case LayerKind::PRelu: return "PRelu";
    case LayerKind::Bias: return "Bias";
    case LayerKind::MatMul: return "MatMul";
    case LayerKind::Embedding: return "Embedding";
    case LayerKind::Extremum: return "Extremum";
    case LayerKind::MaskedFill: return "MaskedFill";
    case LayerKind::Scale: return "Scale";
    case LayerKind::Lstm: return "LSTM";
    case LayerKind::Gru: return "GRU";
    case LayerKind::Rnn: return "RNN";
  }
  return "?";
}

template <class T>
std::size_t Model<T>::add(std::string node_name, std::unique_ptr<Layer<T>> layer, std::vector<std::size_t> inputs,
                          int source_index) {
  if (inputs.empty()) inputs.push_back(output_);
  for (std::size_t v : inputs)
    if (v >= num_values_) throw FormatError("node '" + node_name + "' reads value " + std::to_string(v) + " before it is defined");
  Node<T> node;
  node.name = std::move(node_name);
  node.layer = std::move(layer);
  node.inputs = std::move(inputs);
  node.output = num_values_++;
  node.source_index = source_index;
  output_ = node.output;
  nodes_.push_back(std::move(node));
  return output_;
}

template <class T>
long Model<T>::producer(std::size_t v) const {
  for (std::size_t i = 0; i < nodes_.size(); ++i)
    if (nodes_[i].output == v) return static_cast<long>(i);
  return -1;
}

template <class T>
std::size_t Model<T>::consumers(std::size_t v) const {
  std::size_t n = v == output_ ? 1 : 0;
  for (const Node<T>& node : nodes_)
    for (std::size_t in : node.inputs) n += in == v;
  return n;
}

template <class T>
long Model<T>::display_index(std::size_t i) const {
  const Node<T>& n = nodes_.at(i);
  return n.source_index >= 0 ? n.source_index : static_cast<long>(i);
}

template <class T>
std::optional<std::size_t> Model<T>::find_node(const std::string& selector) const {
  const bool by_index = !selector.empty() && selector.find_first_not_of("0123456789") == std::string::npos;
  for (std::size_t i = 0; i < nodes_.size(); ++i)
    if (by_index ? std::to_string(display_index(i)) == selector : nodes_[i].name == selector) return i;
  return std::nullopt;
}

template <class T>
std::string Model<T>::node_label(std::size_t i) const {
  const Node<T>& n = nodes_.at(i);
  std::string s = "layer " + std::to_string(display_index(i)) + " (" + n.layer->type_name();
  if (!n.name.empty()) s += " '" + n.name + "'";
  return s + ")";
}

template <class T>
std::vector<Shape> Model<T>::infer_shapes(const Shape& input) const {
  std::vector<Shape> shapes(num_values_);
  try {
    sample_numel(input);
  } catch (const ShapeError& e) {
    throw ShapeError((source.empty() ? std::string() : source + ": ") + "the input: " + e.what());
  }
  shapes[0] = input;
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    const Node<T>& n = nodes_[i];
    std::vector<Shape> in;
    for (std::size_t v : n.inputs) in.push_back(shapes[v]);
    try {
      shapes[n.output] = checked_output_shape(*n.layer, in);
    } catch (const ShapeError& e) {
      throw ShapeError((source.empty() ? std::string() : source + ": ") + node_label(i) + ": " + e.what());
    }
  }
  return shapes;
}

template <class T>
void Model<T>::validate() const {
  std::vector<char> defined(num_values_, 0);
  defined[0] = 1;
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    const Node<T>& n = nodes_[i];
    if (!n.layer) throw FormatError(node_label(i) + " has no layer");
    if (n.inputs.size() != n.layer->num_inputs())
      throw FormatError(node_label(i) + " has " + std::to_string(n.inputs.size()) + " inputs, expected " +
                        std::to_string(n.layer->num_inputs()));
    for (std::size_t v : n.inputs)
      if (v >= num_values_ || !defined[v]) throw FormatError(node_label(i) + " reads a value that is not computed before it");
    if (n.output >= num_values_ || defined[n.output]) throw FormatError(node_label(i) + " writes a value twice");
    defined[n.output] = 1;
  }
  if (output_ >= num_values_ || !defined[output_]) throw FormatError("the model output is not computed");
}

template <class T>
bool Model<T>::drop_trailing_softmax() {
  if (nodes_.empty() || nodes_.back().layer->kind() != LayerKind::SoftMax || nodes_.back().output != output_) return false;
  output_ = nodes_.back().inputs[0];
  nodes_.pop_back();
  return true;
}

template <class T>
std::size_t Model<T>::param_count() const {
  std::size_t n = 0;
  for (const Node<T>& node : nodes_) n += node.layer->param_count();
  return n;
}

namespace {
template <class U, class T>
Node<U> converted_node(const Node<T>& n) {
  Node<U> copy;
  if constexpr (std::is_same_v<U, float>) {
    copy.layer = n.layer->to_float();
  } else {
    copy.layer = n.layer->to_double();
  }
  copy.name = n.name;
  copy.inputs = n.inputs;
  copy.output = n.output;
  copy.source_index = n.source_index;
  return copy;
}

template <class U, class T>
void copy_description(const Model<T>& from, Model<U>& to) {
  to.set_values(from.num_values(), from.output_value());
  to.input_shape = from.input_shape;
  to.layout = from.layout;
  to.source = from.source;
  to.name = from.name;
  to.batch_of_one = from.batch_of_one;
  to.sized_by_data = from.sized_by_data;
  to.token_input = from.token_input;
  to.input_parts = from.input_parts;
}
}  // namespace

template <class T>
template <class U>
Model<U> Model<T>::convert() const& {
  Model<U> m;
  for (const Node<T>& n : nodes_) m.nodes().push_back(converted_node<U>(n));
  copy_description(*this, m);
  return m;
}

template <class T>
template <class U>
Model<U> Model<T>::convert() && {
  Model<U> m;
  for (Node<T>& n : nodes_) {
    m.nodes().push_back(converted_node<U>(n));
    n.layer.reset();
  }
  copy_description(*this, m);
  nodes_.clear();
  return m;
}

template class Model<float>;
template class Model<double>;
template Model<float> Model<float>::convert<float>() const&;
template Model<double> Model<float>::convert<double>() const&;
template Model<float> Model<double>::convert<float>() const&;
template Model<double> Model<double>::convert<double>() const&;
template Model<float> Model<double>::convert<float>() &&;
template Model<double> Model<float>::convert<double>() &&;

}  // namespace lrp
