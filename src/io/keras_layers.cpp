// Keras layers → Model nodes (keras_detail.hpp). Keras tensors are channels_last; the engine is
// NCHW, so an image value [H, W, C] is held as [C, H, W], kernels are transposed on reading,
// Flatten keeps Keras's H, W, C order and the model's data files stay NHWC (DataLayout::NHWC).
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <functional>
#include <map>
#include <set>

#include "io/keras_detail.hpp"
#include "io/mapped_file.hpp"
#include "io/zip_archive.hpp"
#include "lrp/core/error.hpp"
#include "lrp/graph/canonize.hpp"
#include "lrp/io/atomic_file.hpp"
#include "lrp/io/keras.hpp"
#include "lrp/layers/activation.hpp"
#include "lrp/layers/batch_norm.hpp"
#include "lrp/layers/conv2d.hpp"
#include "lrp/layers/conv_transpose2d.hpp"
#include "lrp/layers/linear.hpp"
#include "lrp/layers/merge.hpp"
#include "lrp/layers/pad.hpp"
#include "lrp/layers/pool2d.hpp"
#include "lrp/layers/prelu.hpp"
#include "lrp/layers/reshape.hpp"
#include "lrp/layers/resize.hpp"

namespace lrp::io::keras_detail {
namespace {

using nlohmann::json;

const std::set<std::string> kIdentityLayers = {"Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "GaussianNoise",
                                               "GaussianDropout", "AlphaDropout", "ActivityRegularization"};
// Nested models (a trained base inside a Sequential) may nest again, this deep at most.
constexpr int kMaxNesting = 8;

// The layers of one (sub)model: their output values, and where their weights are stored.
struct Scope {
  std::map<std::string, std::size_t> values;  // layer name → its output value, activation included
  // Top level: each layer's weights in /model_weights/<layer>. Inside a nested model: all of
  // them in the group of the outermost nested model, named <layer>/<weight>:0.
  std::string nested_group;
  std::map<std::string, std::string> groups;  // WeightLayout::KerasV3: layer name → its weights group
  int depth = 0;
};

// The weights groups of a (sub)model's layers in a .keras file, under `prefix`: class names in
// snake case, a repeated one numbered from _1 on, in the order of the model's layer list.
std::map<std::string, std::string> v3_groups(const KerasGraph& g, const std::string& prefix) {
  std::map<std::string, std::string> groups;
  std::map<std::string, int> used;
  for (const KerasLayer& l : g.layers) {
    const std::string base = snake_case(l.class_name);
    const auto [it, first] = used.emplace(base, 0);
    if (!first) ++it->second;
    groups[l.name] = prefix + "/" + (first ? base : base + "_" + std::to_string(it->second));
  }
  return groups;
}

// dst[c * ld + r] = src[r * cols + c]: a transpose in 32 x 32 tiles through a local buffer, so
// reads and writes both go along cache lines. No OpenMP: the import also runs in a forked child,
// where a thread pool inherited from the parent would hang.
template <class T>
void transpose_into(const T* src, std::size_t rows, std::size_t cols, T* dst, std::size_t ld) {
  constexpr std::size_t kTile = 32;
  T tile[kTile][kTile];
  for (std::size_t r0 = 0; r0 < rows; r0 += kTile)
    for (std::size_t c0 = 0; c0 < cols; c0 += kTile) {
      const std::size_t rn = std::min(kTile, rows - r0), cn = std::min(kTile, cols - c0);
      for (std::size_t r = 0; r < rn; ++r)
        for (std::size_t c = 0; c < cn; ++c) tile[c][r] = src[(r0 + r) * cols + c0 + c];
      for (std::size_t c = 0; c < cn; ++c)
        for (std::size_t r = 0; r < rn; ++r) dst[(c0 + c) * ld + r0 + r] = tile[c][r];
    }
}

template <class T>
class Builder {
 public:
  Builder(const Hdf5File& file, WeightLayout layout, const KerasGraph& graph, const Shape& data_shape)
      : file_(file), layout_(layout), graph_(graph), data_shape_(data_shape) {
    model_.source = file.path();
    model_.name = graph.name;
    if (layout == WeightLayout::KerasV3) {
      keras3_ = true;  // only Keras 3 writes .keras archives
    } else if (file.has_attribute("/", "keras_version")) {
      const std::vector<std::string> v = file.strings("/", "keras_version");
      if (!v.empty() && !v[0].empty() && v[0][0] >= '3') keras3_ = true;
    }
  }

  Model<T> build(const std::string& output) {
    if (layout_ == WeightLayout::Legacy && !file_.exists("/model_weights"))
      throw FormatError(where() + "has no model_weights group (not a model saved by Keras)");
    if (layout_ == WeightLayout::KerasV3) {
      if (!file_.exists("/layers")) throw FormatError(where() + "has no layers group in its weights file (not a model saved by Keras)");
      top_.groups = v3_groups(graph_, "/layers");
    }
    scope_ = &top_;
    convert_graph(graph_, {});
    pick_output(output);
    return std::move(model_);
  }

 private:
  // ---- messages -------------------------------------------------------------------------------
  std::string where() const { return "Keras model '" + file_.path() + "' "; }
  [[noreturn]] void fail(const std::string& what) const {
    throw FormatError("Keras model '" + file_.path() + "', layer '" + layer_->name + "' (" + layer_->class_name + "): " + what);
  }

  // ---- config fields --------------------------------------------------------------------------
  const json& config() const { return layer_->config; }
  bool given(const char* key) const { return config().contains(key) && !config()[key].is_null(); }
  std::string text(const char* key, const std::string& fallback) const {
    if (!given(key)) return fallback;
    if (!config()[key].is_string()) fail(std::string("'") + key + "' is not a string");
    return config()[key].template get<std::string>();
  }
  double number(const char* key, double fallback) const {
    if (!given(key)) return fallback;
    const json& v = config()[key];
    if (!v.is_number() || !std::isfinite(v.template get<double>())) fail(std::string("'") + key + "' is not a finite number");
    return v.template get<double>();
  }
  bool flag(const char* key, bool fallback) const {
    if (!given(key)) return fallback;
    if (!config()[key].is_boolean()) fail(std::string("'") + key + "' is not true or false");
    return config()[key].template get<bool>();
  }
  std::size_t count(const json& v, const std::string& key) const {
    if (!v.is_number_unsigned() || v.template get<std::size_t>() == 0 || v.template get<std::size_t>() > (1u << 20))
      fail("'" + key + "' holds " + v.dump() + ", expected a positive integer");
    return v.template get<std::size_t>();
  }
  std::size_t positive(const char* key, std::size_t fallback) const { return given(key) ? count(config()[key], key) : fallback; }
  // A 2-D size: one integer for both axes or [h, w].
  std::pair<std::size_t, std::size_t> pair(const char* key, std::size_t fallback) const {
    if (!given(key)) return {fallback, fallback};
    const json& v = config()[key];
    if (v.is_array()) {
      if (v.size() != 2) fail(std::string("'") + key + "' has " + std::to_string(v.size()) + " values; lrp imports 2-D layers");
      return {count(v[0], key), count(v[1], key)};
    }
    const std::size_t n = count(v, key);
    return {n, n};
  }
  // ZeroPadding2D / Cropping2D amounts: n, [h, w] or [[top, bottom], [left, right]] (zeros allowed).
  std::array<std::size_t, 4> margins(const char* key, std::size_t fallback) const {
    const auto amount = [&](const json& v) {
      if (!v.is_number_unsigned() || v.template get<std::size_t>() > (1u << 20)) fail(std::string("'") + key + "' holds " + v.dump());
      return v.template get<std::size_t>();
    };
    if (!given(key)) return {fallback, fallback, fallback, fallback};
    const json& v = config()[key];
    if (!v.is_array()) {
      const std::size_t n = amount(v);
      return {n, n, n, n};
    }
    if (v.size() != 2) fail(std::string("'") + key + "' has " + std::to_string(v.size()) + " entries, expected 2");
    if (v[0].is_array() && v[1].is_array() && v[0].size() == 2 && v[1].size() == 2)
      return {amount(v[0][0]), amount(v[0][1]), amount(v[1][0]), amount(v[1][1])};  // top, bottom, left, right
    return {amount(v[0]), amount(v[0]), amount(v[1]), amount(v[1])};
  }
  void channels_last() const {
    const std::string f = text("data_format", "channels_last");
    if (f != "channels_last") fail("data_format '" + f + "' is not supported (lrp imports channels_last models)");
  }

  // ---- values ---------------------------------------------------------------------------------
  const Shape& shape(std::size_t value) const { return shapes_.at(value); }
  std::size_t one(const std::vector<std::size_t>& in) const {
    if (in.size() != 1) fail("has " + std::to_string(in.size()) + " inputs, expected 1");
    return in[0];
  }
  std::size_t image(const std::vector<std::size_t>& in) const {
    const std::size_t x = one(in);
    if (shape(x).size() != 3) fail("expects an image input [H, W, C], got one of " + std::to_string(shape(x).size()) + " axes");
    return x;
  }
  // Adds a node and infers its shape (errors name the layer); returns its value.
  std::size_t node(const std::string& name, std::unique_ptr<Layer<T>> layer, std::vector<std::size_t> in) {
    try {
      return add_shaped_node(model_, shapes_, name, std::move(layer), std::move(in));
    } catch (const ShapeError& e) {
      fail(e.what());
    }
  }
  std::size_t add(std::unique_ptr<Layer<T>> layer, std::vector<std::size_t> in) { return node(layer_->name, std::move(layer), std::move(in)); }

  // ---- weights --------------------------------------------------------------------------------
  // The weights stored for the current layer: (key, dataset path) pairs, keys as Keras 2 names
  // them (kernel, bias, gamma, ...).
  std::vector<std::pair<std::string, std::string>> stored_weights() const {
    if (layout_ == WeightLayout::KerasV3) return v3_weights();
    const std::string group = scope_->nested_group.empty() ? "/model_weights/" + layer_->name : scope_->nested_group;
    std::vector<std::string> names;
    if (file_.has_attribute(group, "weight_names") || file_.has_attribute(group, "weight_names0"))
      names = file_.strings(group, "weight_names");
    std::vector<std::pair<std::string, std::string>> out;
    for (const std::string& n : names) {
      if (!scope_->nested_group.empty()) {  // inside a nested model: "<layer>/<weight>:0" (perhaps under a prefix)
        const std::size_t slash = n.rfind('/');
        if (slash == std::string::npos || slash == 0) continue;
        const std::size_t before = n.rfind('/', slash - 1);
        const std::size_t start = before == std::string::npos ? 0 : before + 1;
        if (n.substr(start, slash - start) != layer_->name) continue;
      }
      out.emplace_back(weight_key(n), group + "/" + n);
    }
    return out;
  }
  // A .keras file numbers a layer's variables in the order the layer creates them.
  std::vector<std::pair<std::string, std::string>> v3_weights() const {
    const std::string& c = layer_->class_name;
    std::vector<std::string> keys;
    if (c == "Dense" || c == "Conv2D" || c == "Conv2DTranspose") keys = {"kernel"};
    else if (c == "DepthwiseConv2D") keys = {"depthwise_kernel"};
    else if (c == "SeparableConv2D") keys = {"depthwise_kernel", "pointwise_kernel"};
    else if (c == "PReLU") keys = {"alpha"};
    else if (c == "Normalization" && !given("mean")) keys = {"mean", "variance", "count"};
    if ((c == "Dense" || c.find("Conv2D") != std::string::npos) && flag("use_bias", true)) keys.push_back("bias");
    if (c == "BatchNormalization") {
      if (flag("scale", true)) keys.push_back("gamma");
      if (flag("center", true)) keys.push_back("beta");
      keys.insert(keys.end(), {"moving_mean", "moving_variance"});
    }
    const std::string vars = scope_->groups.at(layer_->name) + "/vars/";
    std::vector<std::pair<std::string, std::string>> out;
    for (std::size_t i = 0; i < keys.size() && file_.exists(vars + std::to_string(i)); ++i) out.emplace_back(keys[i], vars + std::to_string(i));
    if (out.size() == keys.size() && file_.exists(vars + std::to_string(keys.size())))
      fail("stores more variables in " + vars.substr(1, vars.size() - 2) + " than the " + std::to_string(keys.size()) +
           " lrp reads (a quantized or otherwise extended layer?)");
    return out;
  }
  // "conv/kernel:0" → "kernel".
  static std::string weight_key(const std::string& name) {
    std::string leaf = name.substr(name.rfind('/') == std::string::npos ? 0 : name.rfind('/') + 1);
    if (leaf.size() > 2 && leaf.compare(leaf.size() - 2, 2, ":0") == 0) leaf.resize(leaf.size() - 2);
    return leaf;
  }
  // The dataset path of weight `key` of the current layer, or "" (with the stored names in `list`).
  std::string weight_path(const std::string& key, std::string* list = nullptr) const {
    std::string found;
    for (const auto& [k, path] : stored_weights()) {
      if (k == key) found = path;
      if (list) *list += (list->empty() ? "" : ", ") + listed(path);
    }
    return found;
  }

  // Weight `key` (kernel, bias, gamma, ...) of the layer, of Keras shape `dims`, as stored.
  Tensor<T> weight(const std::string& key, const Shape& dims) const {
    const std::string path = checked_weight(key, dims);
    Tensor<T> t = Tensor<T>::uninitialized(dims);
    file_.read<T>(path, t.data(), t.size());
    // A dry read fetched one value: ones pass every check a layer makes of its weights (positive
    // variances, finite slopes), so the dry run takes the import's path through the file.
    if (file_.dry()) std::fill(t.data(), t.data() + t.size(), T(1));
    finite(path, t.data(), t.size());
    return t;
  }
  // The dataset path of weight `key`, checked to have Keras shape `dims`.
  std::string checked_weight(const std::string& key, const Shape& dims) const {
    std::string list;
    const std::string path = weight_path(key, &list);
    if (path.empty()) fail("has no weight '" + key + "' (" + (list.empty() ? "no weights are stored for it" : "it has " + list) + ")");
    const std::vector<std::size_t> have = file_.dataset_dims(path);
    if (have != std::vector<std::size_t>(dims.begin(), dims.end()))
      fail("weight '" + listed(path) + "' has shape " + shape_str(Shape(have.begin(), have.end())) + ", expected " + shape_str(dims));
    return path;
  }
  // A dataset path as its layer's weight_names lists it (a .keras file: the path).
  std::string listed(const std::string& path) const {
    if (layout_ == WeightLayout::KerasV3) return path.substr(1);
    return path.substr(path.find('/', std::string("/model_weights/").size()) + 1);
  }
  void finite(const std::string& path, const T* v, std::size_t n) const {
    if (file_.dry()) return;  // a dry read leaves most values unread
    if (!std::all_of(v, v + n, [](T a) { return std::isfinite(a); })) fail("weight '" + listed(path) + "' holds a non-finite value");
  }
  // A convolution kernel [kh, kw, in, out] as the engine's [out, in, kh, kw].
  Tensor<T> conv_kernel(const std::string& key, std::size_t kh, std::size_t kw, std::size_t in, std::size_t out) const {
    const Tensor<T> k = weight(key, {kh, kw, in, out});
    const std::size_t taps = kh * kw;
    Tensor<T> by_out = Tensor<T>::uninitialized({out, taps, in}), w = Tensor<T>::uninitialized({out, in, kh, kw});
    if (file_.dry()) return w;  // the values are placeholders: nothing to move
    transpose_into(k.data(), taps * in, out, by_out.data(), taps * in);
    for (std::size_t o = 0; o < out; ++o) transpose_into(by_out.data() + o * taps * in, taps, in, w.data() + o * in * taps, taps);
    return w;
  }
  // Kernel [n_in, units] → [units, n_in], read and transposed in blocks of rows, so a large
  // dense layer (VGG16's first: 392 MiB) is not held twice while loading.
  Tensor<T> dense_kernel(std::size_t n_in, std::size_t units) const {
    const std::string path = checked_weight("kernel", {n_in, units});
    Tensor<T> w = Tensor<T>::uninitialized({units, n_in});
    const std::size_t rows = std::min(n_in, std::max<std::size_t>(1, (std::size_t{1} << 22) / units));
    std::vector<T> block(rows * units);
    for (std::size_t i0 = 0; i0 < n_in; i0 += rows) {
      const std::size_t r = std::min(rows, n_in - i0);
      file_.read_rows<T>(path, i0, r, block.data());
      finite(path, block.data(), r * units);
      if (!file_.dry()) transpose_into(block.data(), r, units, w.data() + i0, n_in);
    }
    return w;
  }
  Tensor<T> bias(std::size_t n) const { return flag("use_bias", true) ? weight("bias", {n}) : Tensor<T>(Shape{n}); }

  // ---- input ----------------------------------------------------------------------------------
  // The per-sample shape of an InputLayer (batch_input_shape; Keras 3: batch_shape), or of the
  // first layer of a Sequential model built without one.
  void set_input(const json& dims, const std::string& field) {
    if (!shapes_.empty()) fail("the model has a second input; lrp takes one");
    if (!dims.is_array() || dims.size() < 2 || dims.size() > 4)
      fail("'" + field + "' is not [batch, ...] of 2 to 4 axes" + (dims.is_array() ? "" : ": " + dims.dump()));
    // The data's per-sample dimensions, when it has the model's rank (with or without N).
    const std::size_t rank = dims.size() - 1;
    const bool data_fits = data_shape_.size() == rank + 1 || data_shape_.size() == rank;
    Shape per;
    for (std::size_t i = 1; i < dims.size(); ++i) {
      if (!dims[i].is_null()) {
        per.push_back(count(dims[i], field));
      } else if (data_fits && data_shape_[data_shape_.size() - rank + i - 1] > 0) {
        per.push_back(data_shape_[data_shape_.size() - rank + i - 1]);
        model_.sized_by_data = true;
      } else {
        fail("'" + field + "' leaves axis " + std::to_string(i) + " unknown (None); give an input array of " + std::to_string(rank + 1) +
             " axes to size it");
      }
    }
    try {
      sample_numel(per);
    } catch (const ShapeError& e) {
      fail(e.what());
    }
    if (per.size() == 3) {
      model_.layout = DataLayout::NHWC;
      per = {per[2], per[0], per[1]};
    } else {
      model_.layout = DataLayout::Features;
    }
    model_.input_shape = per;
    shapes_[0] = per;
    current_ = 0;
  }
  void input_layer() {
    if (!given("batch_input_shape") && !given("batch_shape")) fail("declares no batch_input_shape");
    set_input(config()[given("batch_input_shape") ? "batch_input_shape" : "batch_shape"], given("batch_input_shape") ? "batch_input_shape" : "batch_shape");
  }
  // A Sequential model's input: its InputLayer, the batch_input_shape of its first layer, or
  // that of the first layer of the nested model it starts with.
  void sequential_input() {
    if (layer_->class_name == "InputLayer") return input_layer();
    if (given("batch_input_shape")) return set_input(config()["batch_input_shape"], "batch_input_shape");
    if (is_model_class(layer_->class_name)) {
      const KerasLayer* outer = layer_;
      const KerasGraph sub = parse_nested_model(*layer_, file_.path());
      layer_ = &sub.layers.front();
      if (sub.sequential) sequential_input();
      else if (layer_->class_name == "InputLayer") input_layer();
      layer_ = outer;
      if (!shapes_.empty()) return;
    }
    fail("the model does not declare its input shape (build it with an Input layer or input_shape=...)");
  }

  // ---- graphs ---------------------------------------------------------------------------------
  // Converts a (sub)model's layers in the current scope and returns its output value. `inputs`
  // binds a nested model's input layers; the top level's InputLayer declares the model input.
  std::size_t convert_graph(const KerasGraph& g, const std::vector<std::size_t>& inputs) {
    const bool top = scope_->depth == 0;
    if (g.sequential) {
      std::size_t x = top ? 0 : inputs.at(0);
      for (const KerasLayer& l : g.layers) {
        layer_ = &l;
        const bool first = &l == &g.layers.front();
        if (first && top) sequential_input();
        if (l.class_name == "InputLayer") {
          if (!first) fail("an InputLayer after the first layer");
          scope_->values[l.name] = x;
          continue;
        }
        current_ = x;
        convert({x});
        x = current_;
        scope_->values[l.name] = x;
      }
      return x;
    }
    std::vector<bool> done(g.layers.size(), false);
    std::size_t left = g.layers.size();
    while (left > 0) {  // file order is topological; the loop also accepts any other order
      bool progress = false;
      for (std::size_t i = 0; i < g.layers.size(); ++i) {
        if (done[i]) continue;
        layer_ = &g.layers[i];
        std::vector<std::size_t> in;
        bool ready = true;
        for (const Inbound& b : layer_->inputs) {
          const auto it = scope_->values.find(b.layer);
          if (it == scope_->values.end()) {
            ready = false;
            break;
          }
          if (b.node != 0 || b.tensor != 0) fail("reads output " + std::to_string(b.tensor) + " of call " + std::to_string(b.node) + " of '" + b.layer + "'");
          in.push_back(it->second);
        }
        if (!ready) continue;
        if (layer_->class_name == "InputLayer") {
          scope_->values[layer_->name] = top ? (input_layer(), 0) : bound_input(g, inputs);
        } else {
          if (in.empty()) fail("has no inputs");
          convert(in);
          scope_->values[layer_->name] = current_;
        }
        done[i] = true;
        --left;
        progress = true;
      }
      if (!progress) {
        for (std::size_t i = 0; i < g.layers.size(); ++i)
          if (!done[i]) {
            layer_ = &g.layers[i];
            for (const Inbound& b : layer_->inputs)
              if (!scope_->values.count(b.layer)) fail("reads layer '" + b.layer + "', which no convertible layer produces");
          }
      }
    }
    if (shapes_.empty()) throw FormatError(where() + "has no InputLayer");
    if (top) return current_;  // the top level's output: pick_output
    if (g.outputs.size() != 1) fail("the nested model has " + std::to_string(g.outputs.size()) + " outputs; lrp imports nested models of one");
    const auto it = scope_->values.find(g.outputs[0].layer);
    if (it == scope_->values.end()) fail("the nested model's output layer '" + g.outputs[0].layer + "' is missing");
    return it->second;
  }
  // The value a nested model's InputLayer stands for: the model's input in its call.
  std::size_t bound_input(const KerasGraph& g, const std::vector<std::size_t>& inputs) const {
    for (std::size_t k = 0; k < g.inputs.size(); ++k)
      if (g.inputs[k].layer == layer_->name) {
        if (k >= inputs.size()) fail("the nested model takes " + std::to_string(g.inputs.size()) + " inputs, its call gives " + std::to_string(inputs.size()));
        return inputs[k];
      }
    fail("an InputLayer that is not one of the nested model's inputs");
  }
  // A model used as a layer: its layers join the graph, reading the call's inputs.
  void nested_model(const std::vector<std::size_t>& in) {
    if (scope_->depth + 1 > kMaxNesting) fail("models nested more than " + std::to_string(kMaxNesting) + " deep");
    const KerasLayer* outer_layer = layer_;
    const KerasGraph sub = parse_nested_model(*layer_, file_.path());
    Scope inner;
    inner.nested_group = scope_->nested_group.empty() ? "/model_weights/" + layer_->name : scope_->nested_group;
    if (layout_ == WeightLayout::KerasV3) inner.groups = v3_groups(sub, scope_->groups.at(layer_->name) + "/layers");
    inner.depth = scope_->depth + 1;
    Scope* outer = scope_;
    scope_ = &inner;
    const std::size_t out = convert_graph(sub, in);
    scope_ = outer;
    layer_ = outer_layer;
    set(out);
  }

  // ---- layers ---------------------------------------------------------------------------------
  void convert(const std::vector<std::size_t>& in) {
    const std::string& c = layer_->class_name;
    if (c == "Dense") return dense(in);
    if (c == "Conv2D" || c == "Convolution2D") return conv2d(in);
    if (c == "DepthwiseConv2D") return depthwise(in);
    if (c == "SeparableConv2D" || c == "SeparableConvolution2D") return separable(in);
    if (c == "MaxPooling2D" || c == "MaxPool2D") return pooling(in, true);
    if (c == "AveragePooling2D" || c == "AvgPool2D") return pooling(in, false);
    if (c == "GlobalAveragePooling2D" || c == "GlobalAvgPool2D") return global_pooling(in, false);
    if (c == "GlobalMaxPooling2D" || c == "GlobalMaxPool2D") return global_pooling(in, true);
    if (c == "Flatten") return flatten(in);
    if (c == "BatchNormalization") return batch_norm(in);
    if (c == "Activation") return set(activation(one(in), config().contains("activation") ? config()["activation"] : json("linear")));
    if (c == "ReLU") return relu(in);
    if (c == "LeakyReLU") return leaky_relu(in);
    if (c == "PReLU") return prelu(in);
    if (c == "ELU") return elu(in);
    if (c == "Softmax") return softmax(in);
    if (c == "Add") return merge(in, std::make_unique<Add<T>>(in.size()));
    if (c == "Maximum" || c == "Minimum") return merge(in, std::make_unique<Extremum<T>>(in.size(), c == "Minimum"));
    if (c == "Concatenate") return concatenate(in);
    if (c == "Conv2DTranspose" || c == "Convolution2DTranspose") return conv2d_transpose(in);
    if (c == "UpSampling2D") return upsampling(in);
    if (c == "ZeroPadding2D") return zero_padding(in);
    if (c == "Cropping2D") return cropping(in);
    if (c == "Rescaling") return rescaling(in);
    if (c == "Multiply") return multiply(in);
    if (c == "Reshape") return reshape(in);
    if (c == "Normalization") return normalization(in);
    if (kIdentityLayers.count(c)) return set(one(in));
    if (c == "InputLayer") fail("an InputLayer inside the model");
    if (is_model_class(c)) return nested_model(in);
    std::string list;
    for (const std::string& s : keras_supported_layers()) list += (list.empty() ? "" : ", ") + s;
    fail("layer class not supported (lrp imports " + list + ")");
  }
  void set(std::size_t value) { current_ = value; }

  // A layer's `activation`: "relu", ... or Keras 3's {"class_name": "function", "config": "relu"}.
  std::size_t activation(std::size_t x, const json& spec) {
    std::string name;
    if (spec.is_string()) name = spec.template get<std::string>();
    else if (spec.is_object() && spec.contains("config") && spec["config"].is_string()) name = spec["config"].template get<std::string>();
    else if (!spec.is_null()) fail("activation " + spec.dump() + " is not a named activation");
    if (name.empty() || name == "linear") return x;
    const std::string node_name = layer_->class_name == "Activation" ? layer_->name : layer_->name + "/" + name;
    if (name == "softmax") {
      if (shape(x).size() != 1) fail("softmax over the channels of an image is not supported (only over features)");
      return node(node_name, std::make_unique<SoftMax<T>>(), {x});
    }
    if (name == "swish" || name == "silu") {  // x * sigmoid(x); the sigmoid gates the product
      const std::size_t s = node(node_name + "/sigmoid", std::make_unique<Activation<T>>(ActivationSpec{ActivationKind::Sigmoid}), {x});
      return node(node_name, std::make_unique<Mul<T>>(1), {x, s});
    }
    ActivationSpec a;
    if (name == "relu") a.kind = ActivationKind::ReLU;
    else if (name == "relu6") a.kind = ActivationKind::Clip, a.lo = 0.0, a.hi = 6.0;
    else if (name == "tanh") a.kind = ActivationKind::Tanh;
    else if (name == "sigmoid") a.kind = ActivationKind::Sigmoid;
    else if (name == "hard_sigmoid") a.kind = ActivationKind::HardSigmoid, a.alpha = keras3_ ? 1.0 / 6.0 : 0.2, a.beta = 0.5;
    else if (name == "elu") a.kind = ActivationKind::Elu, a.alpha = 1.0;
    else if (name == "selu") a.kind = ActivationKind::Selu, a.alpha = 1.6732632423543772848170429916717, a.gamma = 1.0507009873554804934193349852946;
    else if (name == "softplus") a.kind = ActivationKind::Softplus;
    else if (name == "softsign") a.kind = ActivationKind::Softsign;
    else if (name == "gelu") a.kind = ActivationKind::Gelu;
    else fail("activation '" + name + "' is not supported (linear, relu, relu6, tanh, sigmoid, hard_sigmoid, softmax, elu, selu, softplus, softsign, gelu, swish)");
    return node(node_name, std::make_unique<Activation<T>>(a), {x});
  }
  void finish(std::size_t value) { set(activation(value, given("activation") ? config()["activation"] : json("linear"))); }

  void dense(const std::vector<std::size_t>& in) {
    const std::size_t x = one(in);
    if (shape(x).size() != 1)
      fail("reads a tensor of per-sample shape " + shape_str(shape(x)) + "; lrp imports Dense on flat features (Flatten first)");
    const std::size_t n_in = shape(x)[0], units = positive("units", 0);
    if (units == 0) fail("has no 'units'");
    finish(add(std::make_unique<Linear<T>>(dense_kernel(n_in, units), bias(units)), {x}));
  }

  // The window of a convolution or pooling layer on an [C, H, W] input; "same" pads as
  // TensorFlow does: the output is ceil(n / stride) and the odd pixel of padding goes last.
  Window2d window(const Shape& xs, std::pair<std::size_t, std::size_t> k, std::pair<std::size_t, std::size_t> s,
                  std::pair<std::size_t, std::size_t> d) const {
    Window2d w;
    w.kh = k.first, w.kw = k.second, w.sh = s.first, w.sw = s.second, w.dh = d.first, w.dw = d.second;
    const std::string padding = text("padding", "valid");
    if (padding == "same") {
      const auto pads = [](std::size_t n, std::size_t kk, std::size_t st, std::size_t dd) {
        const std::size_t out = (n + st - 1) / st, span = (out - 1) * st + (kk - 1) * dd + 1;
        const std::size_t total = span > n ? span - n : 0;
        return std::pair<std::size_t, std::size_t>{total / 2, total - total / 2};
      };
      std::tie(w.pt, w.pb) = pads(xs[1], w.kh, w.sh, w.dh);
      std::tie(w.pl, w.pr) = pads(xs[2], w.kw, w.sw, w.dw);
    } else if (padding != "valid") {
      fail("padding '" + padding + "' is not supported (valid, same)");
    }
    return w;
  }
  Window2d conv_window(const Shape& xs) const {
    channels_last();
    if (!given("kernel_size")) fail("has no 'kernel_size'");
    return window(xs, pair("kernel_size", 1), pair("strides", 1), pair("dilation_rate", 1));
  }

  // Kernel [kh, kw, C/groups, filters] → [filters, C/groups, kh, kw].
  void conv2d(const std::vector<std::size_t>& in) {
    const std::size_t x = image(in);
    const Window2d win = conv_window(shape(x));
    const std::size_t c = shape(x)[0], filters = positive("filters", 0), groups = positive("groups", 1);
    if (filters == 0) fail("has no 'filters'");
    if (c % groups != 0 || filters % groups != 0)
      fail("groups " + std::to_string(groups) + " does not divide " + std::to_string(c) + " input channels and " + std::to_string(filters) + " filters");
    Tensor<T> w = conv_kernel("kernel", win.kh, win.kw, c / groups, filters);
    finish(add(std::make_unique<Conv2d<T>>(std::move(w), bias(filters), win, groups), {x}));
  }

  // Kernel [kh, kw, filters, C] → [C, filters, kh, kw]. The output size is Keras's without
  // output_padding: in · stride ("same"), or in · stride + max(k' − stride, 0) ("valid"), k' the
  // dilated kernel: "same" crops TensorFlow's padding (its odd row or column at the end), and
  // where k' < stride the last stride − k' rows get the bias only (output padding).
  void conv2d_transpose(const std::vector<std::size_t>& in) {
    const std::size_t x = image(in);
    channels_last();
    if (!given("kernel_size")) fail("has no 'kernel_size'");
    if (given("output_padding")) fail("output_padding is not supported (leave it None)");
    const std::size_t c = shape(x)[0], filters = positive("filters", 0);
    if (filters == 0) fail("has no 'filters'");
    const std::string padding = text("padding", "valid");
    if (padding != "same" && padding != "valid") fail("padding '" + padding + "' is not supported (valid, same)");
    Window2d win;
    std::tie(win.kh, win.kw) = pair("kernel_size", 1);
    std::tie(win.sh, win.sw) = pair("strides", 1);
    std::tie(win.dh, win.dw) = pair("dilation_rate", 1);
    const auto axis = [&](std::size_t k, std::size_t st, std::size_t d, std::size_t& begin, std::size_t& end, std::size_t& extra) {
      const std::size_t span = (k - 1) * d + 1, beyond = span > st ? span - st : 0;
      if (padding == "same") begin = beyond / 2, end = beyond - beyond / 2;
      extra = span < st ? st - span : 0;
    };
    std::size_t op_h = 0, op_w = 0;
    axis(win.kh, win.sh, win.dh, win.pt, win.pb, op_h);
    axis(win.kw, win.sw, win.dw, win.pl, win.pr, op_w);
    const std::size_t taps = win.kh * win.kw;
    const Tensor<T> k = weight("kernel", {win.kh, win.kw, filters, c});  // [taps, filters, C]
    Tensor<T> w = Tensor<T>::uninitialized({c, filters, win.kh, win.kw});
    if (!file_.dry()) {
      Tensor<T> by_channel = Tensor<T>::uninitialized({filters * c, taps});  // [(filter, channel), tap]
      transpose_into(k.data(), taps, filters * c, by_channel.data(), taps);
      for (std::size_t o = 0; o < filters; ++o)
        for (std::size_t i = 0; i < c; ++i)
          std::copy_n(by_channel.data() + (o * c + i) * taps, taps, w.data() + (i * filters + o) * taps);
    }
    finish(add(std::make_unique<ConvTranspose2d<T>>(std::move(w), bias(filters), win, 1, op_h, op_w), {x}));
  }
  // Repeats rows and columns `size` times ("nearest"), or interpolates them ("bilinear": half-pixel
  // centres, as tf.image.resize).
  void upsampling(const std::vector<std::size_t>& in) {
    const std::size_t x = image(in);
    channels_last();
    const auto [a, b] = pair("size", 2);
    const std::string how = text("interpolation", "nearest");
    if (how != "nearest" && how != "bilinear") fail("interpolation '" + how + "' is not supported (nearest, bilinear)");
    const Shape& xs = shape(x);
    if (xs[1] * a > kMaxSampleElements || xs[2] * b > kMaxSampleElements || xs[1] * a * xs[2] * b > kMaxSampleElements / xs[0])
      fail("upsamples " + shape_str(xs) + " beyond " + std::to_string(kMaxSampleElements) + " values per sample");
    const bool linear = how == "bilinear";
    const ResizeCoordinates coords = linear ? ResizeCoordinates::HalfPixel : ResizeCoordinates::Asymmetric;
    std::vector<ResizeTap> rows = resize_taps(xs[1], xs[1] * a, static_cast<double>(a), coords, linear, ResizeRounding::Floor);
    std::vector<ResizeTap> cols = resize_taps(xs[2], xs[2] * b, static_cast<double>(b), coords, linear, ResizeRounding::Floor);
    set(add(std::make_unique<Resize2d<T>>(xs[1], xs[2], std::move(rows), std::move(cols), how), {x}));
  }

  // Depthwise kernel [kh, kw, C, m] → a grouped convolution [C m, 1, kh, kw]: output channel
  // c m + j is input channel c through filter j, as Keras orders them.
  std::unique_ptr<Layer<T>> depthwise_layer(const Shape& xs, const Window2d& win, Tensor<T> b) const {
    const std::size_t c = xs[0], m = positive("depth_multiplier", 1);
    const Tensor<T> k = weight("depthwise_kernel", {win.kh, win.kw, c, m});  // [taps, C m]: channel c m + j
    Tensor<T> w = Tensor<T>::uninitialized({c * m, 1, win.kh, win.kw});
    if (!file_.dry()) transpose_into(k.data(), win.kh * win.kw, c * m, w.data(), win.kh * win.kw);
    return std::make_unique<Conv2d<T>>(std::move(w), std::move(b), win, c);
  }
  void depthwise(const std::vector<std::size_t>& in) {
    const std::size_t x = image(in);
    const Window2d win = conv_window(shape(x));
    const std::size_t out = shape(x)[0] * positive("depth_multiplier", 1);
    finish(add(depthwise_layer(shape(x), win, bias(out)), {x}));
  }
  // A depthwise convolution, then a 1x1 one (pointwise kernel [1, 1, C m, filters]) with the bias.
  void separable(const std::vector<std::size_t>& in) {
    const std::size_t x = image(in);
    const Window2d win = conv_window(shape(x));
    const std::size_t cm = shape(x)[0] * positive("depth_multiplier", 1), filters = positive("filters", 0);
    if (filters == 0) fail("has no 'filters'");
    const std::size_t d = node(layer_->name + "/depthwise", depthwise_layer(shape(x), win, Tensor<T>(Shape{cm})), {x});
    Tensor<T> w = conv_kernel("pointwise_kernel", 1, 1, cm, filters);
    finish(add(std::make_unique<Conv2d<T>>(std::move(w), bias(filters), Window2d{}, 1), {d}));
  }

  void pooling(const std::vector<std::size_t>& in, bool max) {
    const std::size_t x = image(in);
    channels_last();
    const auto size = pair("pool_size", 2);
    PoolSpec spec;
    spec.window = window(shape(x), size, given("strides") ? pair("strides", 1) : size, {1, 1});
    spec.mode = max ? PoolMode::Max : PoolMode::Sum;
    spec.divisor = 0.0;  // average over the inputs in the window, padding excluded (TensorFlow's "same")
    spec.type_name = max ? "MaxPool" : "AveragePool";
    set(add(std::make_unique<Pool2d<T>>(spec), {x}));
  }
  void global_pooling(const std::vector<std::size_t>& in, bool max) {
    const std::size_t x = image(in);
    channels_last();
    PoolSpec spec;
    spec.mode = max ? PoolMode::Max : PoolMode::Sum;
    spec.global = true;
    spec.type_name = max ? "GlobalMaxPool" : "GlobalAveragePool";
    const std::size_t pooled = flag("keepdims", false) ? add(std::make_unique<Pool2d<T>>(spec), {x})
                                                       : node(layer_->name + "/pool", std::make_unique<Pool2d<T>>(spec), {x});
    set(flag("keepdims", false) ? pooled : add(std::make_unique<Flatten<T>>(), {pooled}));
  }

  void flatten(const std::vector<std::size_t>& in) {
    const std::size_t x = one(in);
    channels_last();
    if (shape(x).size() == 1) return set(x);
    set(add(std::make_unique<Flatten<T>>(shape(x).size() == 3), {x}));  // images: Keras's H, W, C order
  }

  // The channel axis of a Keras tensor of this value's rank (its last), as `axis` may name it.
  void require_last_axis(std::size_t x, const json& axis) const {
    const long rank = static_cast<long>(shape(x).size()) + 1;
    const json& a = axis.is_array() && axis.size() == 1 ? axis[0] : axis;
    if (!a.is_number_integer() || (a.template get<long>() != -1 && a.template get<long>() != rank - 1))
      fail("normalises over axis " + axis.dump() + "; lrp imports the channel (last) axis");
  }
  void batch_norm(const std::vector<std::size_t>& in) {
    const std::size_t x = one(in);
    if (shape(x).size() == 2) fail("on a sequence [T, D] is not supported (images and flat features)");
    require_last_axis(x, config().contains("axis") ? config()["axis"] : json(-1));
    const std::size_t c = shape(x)[0];
    const Tensor<T> gamma = flag("scale", true) ? weight("gamma", {c}) : Tensor<T>(Shape{c}, T(1));
    const Tensor<T> beta = flag("center", true) ? weight("beta", {c}) : Tensor<T>(Shape{c});
    const Tensor<T> mean = weight("moving_mean", {c}), var = weight("moving_variance", {c});
    const double eps = number("epsilon", 1e-3);
    if (eps < 0) fail("epsilon is negative");
    if (!std::all_of(var.data(), var.data() + c, [](T v) { return v >= 0; })) fail("moving_variance holds a negative value");
    set(add(std::make_unique<BatchNorm<T>>(BatchNorm<T>::from_statistics(gamma, beta, mean, var, eps)), {x}));
  }

  void relu(const std::vector<std::size_t>& in) {
    const double slope = number("negative_slope", 0.0), threshold = number("threshold", 0.0);
    if (threshold != 0.0) fail("threshold " + std::to_string(threshold) + " is not supported (only 0)");
    ActivationSpec a;
    if (given("max_value")) {
      if (slope != 0.0) fail("max_value together with negative_slope is not supported");
      a.kind = ActivationKind::Clip, a.lo = 0.0, a.hi = number("max_value", 0.0);
      if (a.hi <= 0.0) fail("max_value must be positive");
    } else {
      a.kind = slope == 0.0 ? ActivationKind::ReLU : ActivationKind::LeakyReLU;
      a.alpha = slope;
    }
    set(add(std::make_unique<Activation<T>>(a), {one(in)}));
  }
  void leaky_relu(const std::vector<std::size_t>& in) {
    ActivationSpec a{ActivationKind::LeakyReLU};
    a.alpha = number(given("alpha") ? "alpha" : "negative_slope", 0.3);  // Keras 2 / Keras 3 name
    set(add(std::make_unique<Activation<T>>(a), {one(in)}));
  }
  void elu(const std::vector<std::size_t>& in) {
    ActivationSpec a{ActivationKind::Elu};
    a.alpha = number("alpha", 1.0);
    set(add(std::make_unique<Activation<T>>(a), {one(in)}));
  }
  // Slopes "alpha" of the Keras input's shape with shared axes of size 1: one per channel (or
  // one for all) is what a PRelu node holds.
  void prelu(const std::vector<std::size_t>& in) {
    const std::size_t x = one(in);
    const Shape& xs = shape(x);
    const std::size_t c = xs[0];
    Shape keras = xs.size() == 3 ? Shape{xs[1], xs[2], c} : xs;
    const std::string path = weight_path("alpha");
    const std::vector<std::size_t> dims = path.empty() ? std::vector<std::size_t>{} : file_.dataset_dims(path);
    if (dims.size() != keras.size()) fail("has no weight 'alpha' of " + std::to_string(keras.size()) + " axes");
    for (std::size_t i = 0; i + 1 < dims.size(); ++i)
      if (dims[i] != 1) fail("slopes that vary over positions are not supported (set shared_axes to every axis but the channels)");
    const std::size_t n = dims.back();
    if (n != 1 && n != keras.back()) fail("has " + std::to_string(n) + " slopes for " + std::to_string(keras.back()) + " channels");
    if (xs.size() == 2 && n != 1) fail("slopes per feature of a sequence are not supported");
    Shape want(dims.begin(), dims.end());
    Tensor<T> a = weight("alpha", want);
    set(add(std::make_unique<PRelu<T>>(Tensor<T>(Shape{n}, std::vector<T>(a.data(), a.data() + n))), {x}));
  }
  void softmax(const std::vector<std::size_t>& in) {
    const std::size_t x = one(in);
    if (shape(x).size() != 1) fail("softmax over an image's channels is not supported (only over features)");
    require_last_axis(x, config().contains("axis") ? config()["axis"] : json(-1));
    set(add(std::make_unique<SoftMax<T>>(), {x}));
  }

  void merge(const std::vector<std::size_t>& in, std::unique_ptr<Layer<T>> layer) {
    if (in.size() < 2) fail("has " + std::to_string(in.size()) + " inputs, expected at least 2");
    set(add(std::move(layer), in));
  }
  void concatenate(const std::vector<std::size_t>& in) {
    if (in.size() < 2) fail("has " + std::to_string(in.size()) + " inputs, expected at least 2");
    const std::size_t rank = shape(in[0]).size();
    long axis = config().contains("axis") && config()["axis"].is_number_integer() ? config()["axis"].template get<long>() : -1;
    if (axis < 0) axis += static_cast<long>(rank) + 1;
    if (axis < 1 || axis > static_cast<long>(rank)) fail("axis " + config().value("axis", json(-1)).dump() + " is not a non-batch axis");
    // Keras's H, W, C axes (1, 2, 3) are the engine's 1, 2, 0.
    std::size_t engine = static_cast<std::size_t>(axis - 1);
    if (rank == 3) engine = axis == 3 ? 0 : static_cast<std::size_t>(axis);
    set(add(std::make_unique<Concat<T>>(in.size(), engine), in));
  }
  void zero_padding(const std::vector<std::size_t>& in) {
    const std::size_t x = image(in);
    channels_last();
    const auto [t, b, l, r] = margins("padding", 1);
    set(add(std::make_unique<Pad<T>>(t, l, b, r, 0.0), {x}));
  }
  void cropping(const std::vector<std::size_t>& in) {
    const std::size_t x = image(in);
    channels_last();
    const auto [t, b, l, r] = margins("cropping", 0);
    const Shape& xs = shape(x);
    if (t + b >= xs[1] || l + r >= xs[2]) fail("crops " + std::to_string(t + b) + " x " + std::to_string(l + r) + " from " + shape_str(xs));
    set(add(std::make_unique<Slice<T>>(Shape{0, t, l}, Shape{xs[0], xs[1] - t - b, xs[2] - l - r}), {x}));
  }
  // x * scale + offset, the same for every channel (Keras's preprocessing layer).
  void rescaling(const std::vector<std::size_t>& in) {
    const std::size_t x = one(in);
    if (shape(x).size() == 2) fail("on a sequence [T, D] is not supported (images and flat features)");
    const std::size_t c = shape(x)[0];
    const double scale = number("scale", 1.0), offset = number("offset", 0.0);
    set(add(std::make_unique<BatchNorm<T>>(Tensor<T>(Shape{c}, static_cast<T>(scale)), Tensor<T>(Shape{c}, static_cast<T>(offset))), {x}));
  }

  // Elementwise product of two values: a squeeze-excitation gate [C, 1, 1] scales an image
  // [C, H, W]. A factor a sigmoid-type activation produced only scales the other (the gate: LRP
  // gives all relevance to the other factor); otherwise each gets half (docs/RULES.md).
  void multiply(const std::vector<std::size_t>& in) {
    if (in.size() != 2) fail("has " + std::to_string(in.size()) + " inputs; lrp imports products of 2");
    const auto gate = [&](std::size_t v) {
      const long p = model_.producer(v);
      if (p < 0) return false;
      const Layer<T>& l = *model_.nodes()[static_cast<std::size_t>(p)].layer;
      if (l.kind() != LayerKind::Activation) return false;
      const ActivationKind k = static_cast<const Activation<T>&>(l).spec().kind;
      return k == ActivationKind::Sigmoid || k == ActivationKind::HardSigmoid;
    };
    const bool g0 = gate(in[0]), g1 = gate(in[1]);
    std::vector<std::size_t> ordered = in;
    if (shape(in[0]).size() == 3 && shape(in[1]).size() == 3 && shape(in[0])[1] * shape(in[0])[2] < shape(in[1])[1] * shape(in[1])[2])
      std::swap(ordered[0], ordered[1]);  // the full-size factor first: Mul broadcasts the second
    const int g = g0 == g1 ? -1 : ((g0 ? in[0] : in[1]) == ordered[0] ? 0 : 1);
    set(add(std::make_unique<Mul<T>>(g), ordered));
  }

  // Keras reshapes channels_last tensors: an image [C, H, W] is read in H, W, C order and an
  // image result written back to C, H, W (Transposes around a Reshape; none where the order is
  // the same, [C, 1, 1] or features).
  void reshape(const std::vector<std::size_t>& in) {
    std::size_t x = one(in);
    if (!config().contains("target_shape") || !config()["target_shape"].is_array() || config()["target_shape"].empty() ||
        config()["target_shape"].size() > 3)
      fail("has no target_shape of 1 to 3 axes");
    const std::size_t have = shape_numel(shape(x));
    Shape target;
    long infer = -1;
    std::size_t known = 1;
    for (const json& d : config()["target_shape"]) {
      if (d.is_number_integer() && d.template get<long>() == -1 && infer < 0) {
        infer = static_cast<long>(target.size());
        target.push_back(1);
        continue;
      }
      target.push_back(count(d, "target_shape"));
      known *= target.back();
    }
    if (infer >= 0) {
      if (known == 0 || have % known != 0) fail("cannot infer the -1 of target_shape from " + std::to_string(have) + " values");
      target[static_cast<std::size_t>(infer)] = have / known;
      known = have;
    }
    if (known != have) fail("target_shape holds " + std::to_string(known) + " values, the input " + std::to_string(have));
    const Shape& xs = shape(x);
    if (xs.size() == 3 && xs[1] * xs[2] > 1) x = node(layer_->name + "/to_hwc", std::make_unique<Transpose<T>>(std::vector<std::size_t>{1, 2, 0}), {x});
    if (target.size() != 3) return set(add(std::make_unique<Reshape<T>>(target), {x}));
    const bool spatial = target[0] * target[1] > 1;
    const std::size_t r = spatial ? node(layer_->name, std::make_unique<Reshape<T>>(target), {x})
                                  : add(std::make_unique<Reshape<T>>(Shape{target[2], target[0], target[1]}), {x});
    set(spatial ? node(layer_->name + "/to_chw", std::make_unique<Transpose<T>>(std::vector<std::size_t>{2, 0, 1}), {r}) : r);
  }

  // Keras's preprocessing Normalization: (x - mean) / max(sqrt(variance), 1e-7) per channel
  // (the last axis), from its stored mean and variance.
  void normalization(const std::vector<std::size_t>& in) {
    const std::size_t x = one(in);
    if (flag("invert", false)) fail("invert=True is not supported");
    if (shape(x).size() == 2) fail("on a sequence [T, D] is not supported (images and flat features)");
    const std::size_t c = shape(x)[0];
    const std::string mean_path = weight_path("mean");
    if (mean_path.empty()) fail("has no stored mean (an adapted Normalization layer, or one with mean and variance given, is needed)");
    const std::vector<std::size_t> dims = file_.dataset_dims(mean_path);
    std::size_t n = 1;
    for (std::size_t d : dims) n *= d;
    if (n != c && n != 1) fail("has " + std::to_string(n) + " means for " + std::to_string(c) + " channels");
    const Shape ws(dims.begin(), dims.end());
    const Tensor<T> mean = weight("mean", ws), var = weight("variance", ws);
    Tensor<T> scale(Shape{c}), shift(Shape{c});
    for (std::size_t k = 0; k < c; ++k) {
      const double v = static_cast<double>(var[n == 1 ? 0 : k]);
      if (v < 0) fail("variance holds a negative value");
      scale[k] = static_cast<T>(1.0 / std::max(std::sqrt(v), 1e-7));
      shift[k] = static_cast<T>(-static_cast<double>(mean[n == 1 ? 0 : k]) * static_cast<double>(scale[k]));
    }
    set(add(std::make_unique<BatchNorm<T>>(std::move(scale), std::move(shift)), {x}));
  }

  // ---- output ---------------------------------------------------------------------------------
  void pick_output(const std::string& output) {
    std::size_t out = current_;
    if (!output.empty()) {
      const auto it = top_.values.find(output);
      if (it == top_.values.end()) throw FormatError(where() + "has no layer '" + output + "' (--output)");
      out = it->second;
    } else if (!graph_.sequential) {
      if (graph_.outputs.size() != 1) {
        std::string list;
        for (const Inbound& o : graph_.outputs) list += (list.empty() ? "" : ", ") + o.layer;
        throw FormatError(where() + "has " + std::to_string(graph_.outputs.size()) + " outputs (" + list + "); pick one with --output");
      }
      const auto it = top_.values.find(graph_.outputs[0].layer);
      if (it == top_.values.end()) throw FormatError(where() + "names output layer '" + graph_.outputs[0].layer + "', which it does not hold");
      out = it->second;
    }
    if (out == 0) throw FormatError(where() + "has no layers between its input and its output");
    prune_to_output(model_, out);
  }

  const Hdf5File& file_;
  const WeightLayout layout_;
  const KerasGraph& graph_;
  const Shape data_shape_;
  const KerasLayer* layer_ = nullptr;
  bool keras3_ = false;
  Model<T> model_;
  Scope top_;                                  // the model's own layers
  Scope* scope_ = &top_;                       // the (nested) model being converted
  std::map<std::size_t, Shape> shapes_;        // value → per-sample shape (engine layout)
  std::size_t current_ = 0;                    // the last converted layer's output
};

// libhdf5 1.10 can crash on a corrupt file (a spoiled global heap under a text attribute, found
// by fuzzing) where no check of ours sees it coming. So the import runs first in a child process,
// dry (Hdf5File: every libhdf5 call the import makes, but one value of each weight stored whole,
// so it costs little), and only a file the child got through without dying is imported here: a
// crash or a hang there becomes a FormatError. The child's own errors are not reported; the
// import meets them again (the dry run sees weights of ones, which pass every value check).
// The import's code runs no OpenMP (a thread pool inherited from the parent would hang the child;
// the test suite imports Keras files after other tests have started that pool).
void import_in_child_first(const std::string& path, const std::function<void()>& import) {
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid < 0) return;  // no child to spare: read directly
  if (pid == 0) {
    alarm(300);
    try {
      import();
    } catch (...) {
    }
    _exit(0);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return;
  // A sanitizer build reports the crash and exits with a status instead of dying by the signal.
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return;
  const std::string how = WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM ? "did not finish reading it"
                          : WIFSIGNALED(status) ? "failed on it (signal " + std::to_string(WTERMSIG(status)) + ")"
                                                : "failed on it (exit status " + std::to_string(WEXITSTATUS(status)) + ")";
  throw FormatError("Keras model '" + path + "': the HDF5 library " + how + ": a corrupt file");
}

template <class T>
Model<T> read_h5(const std::string& path, const std::string& output, const Shape& data_shape, bool dry) {
  const Hdf5File file(path, dry);
  if (!file.has_attribute("/", "model_config")) {
    if (file.has_attribute("/", "layer_names"))
      throw FormatError("Keras file '" + path + "' holds weights only (save_weights); lrp needs the whole model: model.save(\"m.h5\")");
    throw FormatError("Keras model '" + path + "' has no model_config attribute (not a model saved by Keras)");
  }
  const std::vector<std::string> config = file.strings("/", "model_config");
  if (config.size() != 1) throw FormatError("Keras model '" + path + "': model_config is not one string");
  const KerasGraph graph = parse_model_config(config[0], path);
  return build_model<T>(file, WeightLayout::Legacy, graph, output, data_shape);
}

// Keras 3's .keras: a zip archive of config.json (the architecture, as model_config in a .h5),
// metadata.json and model.weights.h5 (opened in memory, in place when stored uncompressed).
template <class T>
Model<T> read_keras_archive(const std::vector<detail::ZipEntry>& entries, const std::string& path, const std::string& output,
                            const Shape& data_shape, bool dry) {
  const auto member = [&](const std::string& name) -> const detail::ZipEntry& {
    for (const detail::ZipEntry& e : entries)
      if (e.name == name) return e;
    throw FormatError("Keras model '" + path + "' has no " + name + " (a .keras archive holds config.json and model.weights.h5)");
  };
  const KerasGraph graph = parse_model_config(std::string(member("config.json").data()), path, "config.json");
  const detail::ZipEntry& weights = member("model.weights.h5");
  const Hdf5File file(weights.data(), path, dry, weights.is_stored());
  return build_model<T>(file, WeightLayout::KerasV3, graph, output, data_shape);
}

template <class T>
Model<T> read(const std::string& path, const std::string& output, const Shape& data_shape) {
  if (lower_extension(path) == "keras") {
    // Mapped and checked (CRCs) once; the child's dry run shares the pages.
    const detail::MappedFile archive(path);
    const std::vector<detail::ZipEntry> entries = detail::read_zip(archive.bytes(), "Keras model '" + path + "'");
    import_in_child_first(path, [&] { read_keras_archive<T>(entries, path, output, data_shape, true); });
    return read_keras_archive<T>(entries, path, output, data_shape, false);
  }
  import_in_child_first(path, [&] { read_h5<T>(path, output, data_shape, true); });
  return read_h5<T>(path, output, data_shape, false);
}

}  // namespace

template <class T>
Model<T> build_model(const Hdf5File& file, WeightLayout layout, const KerasGraph& graph, const std::string& output,
                     const Shape& data_shape) {
  return Builder<T>(file, layout, graph, data_shape).build(output);
}
template Model<float> build_model(const Hdf5File&, WeightLayout, const KerasGraph&, const std::string&, const Shape&);
template Model<double> build_model(const Hdf5File&, WeightLayout, const KerasGraph&, const std::string&, const Shape&);

}  // namespace lrp::io::keras_detail

namespace lrp::io {

std::vector<std::string> keras_supported_layers() {
  return {"InputLayer", "Dense", "Conv2D", "DepthwiseConv2D", "SeparableConv2D", "MaxPooling2D", "AveragePooling2D",
          "GlobalAveragePooling2D", "GlobalMaxPooling2D", "Flatten", "BatchNormalization", "Activation", "ReLU", "LeakyReLU",
          "PReLU", "ELU", "Softmax", "Add", "Maximum", "Minimum", "Concatenate", "ZeroPadding2D", "Cropping2D", "Rescaling",
          "Multiply", "Reshape", "Normalization", "Dropout", "SpatialDropout2D", "GaussianNoise", "GaussianDropout", "AlphaDropout",
          "ActivityRegularization", "Conv2DTranspose", "UpSampling2D", "nested Sequential and Functional models"};
}

Model<double> read_keras_model(const std::string& path, const std::string& output, const Shape& data_shape) {
  return keras_detail::read<double>(path, output, data_shape);
}

Model<float> read_keras_model_float(const std::string& path, const std::string& output, const Shape& data_shape) {
  return keras_detail::read<float>(path, output, data_shape);
}

}  // namespace lrp::io
