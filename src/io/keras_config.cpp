// Keras's architecture JSON (`model_config`) → KerasGraph (keras_detail.hpp). Only the structure
// is read here; each layer's own fields are read when it is converted (keras_layers.cpp).
#include <algorithm>
#include <cctype>

#include "io/keras_detail.hpp"
#include "lrp/core/error.hpp"

namespace lrp::io::keras_detail {
namespace {

using nlohmann::json;

class ConfigReader {
 public:
  explicit ConfigReader(std::string source, std::string field = "model_config") : source_(std::move(source)), field_(std::move(field)) {}

  KerasGraph read(const std::string& text) {
    json root;
    try {
      root = json::parse(text);
    } catch (const json::exception& e) {
      fail(field_ + " is not valid JSON (" + std::string(e.what()) + ")");
    }
    if (!root.is_object() || !root.contains("class_name") || !root["class_name"].is_string() || !root.contains("config"))
      fail(field_ + " has no class_name and config");
    return graph(root["class_name"].get<std::string>(), root["config"]);
  }

  KerasGraph graph(const std::string& cls, const json& config) const {
    KerasGraph g;
    if (cls == "Sequential") {
      g.sequential = true;
      // Keras before 2.2.3 wrote the layer list itself; later versions {"name", "layers"}.
      const json& layers = config.is_array() ? config : member(config, "layers", field_);
      if (config.is_object() && config.contains("name") && config["name"].is_string()) g.name = config["name"].get<std::string>();
      read_layers(layers, g, false);
    } else if (cls == "Functional" || cls == "Model") {
      if (!config.is_object()) fail(field_ + "'s config is not an object");
      if (config.contains("name") && config["name"].is_string()) g.name = config["name"].get<std::string>();
      read_layers(member(config, "layers", field_), g, true);
      g.inputs = endpoints(member(config, "input_layers", field_), "input_layers");
      g.outputs = endpoints(member(config, "output_layers", field_), "output_layers");
    } else {
      fail("the model is a " + cls + "; lrp imports Sequential and Functional models");
    }
    if (g.layers.empty()) fail("the model has no layers");
    return g;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const { throw FormatError("Keras model '" + source_ + "': " + what); }

  const json& member(const json& object, const char* key, const std::string& where) const {
    if (!object.is_object() || !object.contains(key)) fail(where + " has no '" + key + "'");
    return object[key];
  }

  void read_layers(const json& list, KerasGraph& g, bool functional) const {
    if (!list.is_array()) fail("the model's layers are not a list");
    for (const json& l : list) {
      KerasLayer layer;
      if (!l.is_object() || !l.contains("class_name") || !l["class_name"].is_string())
        fail("layer " + std::to_string(g.layers.size()) + " has no class_name");
      layer.class_name = l["class_name"].get<std::string>();
      layer.config = l.contains("config") ? l["config"] : json::object();
      if (!layer.config.is_object()) fail("layer " + std::to_string(g.layers.size()) + " (" + layer.class_name + ") has no config object");
      if (l.contains("name") && l["name"].is_string()) layer.name = l["name"].get<std::string>();
      else if (layer.config.contains("name") && layer.config["name"].is_string()) layer.name = layer.config["name"].get<std::string>();
      else fail("layer " + std::to_string(g.layers.size()) + " (" + layer.class_name + ") has no name");
      if (functional) layer.inputs = inbound(l, layer);
      g.layers.push_back(std::move(layer));
    }
  }

  // A Functional layer's inputs: one call (a layer called twice shares weights between two
  // places, which one node per layer cannot express).
  std::vector<Inbound> inbound(const json& l, const KerasLayer& layer) const {
    const std::string where = "layer '" + layer.name + "' (" + layer.class_name + ")";
    if (!l.contains("inbound_nodes")) fail(where + " has no inbound_nodes");
    const json& nodes = l["inbound_nodes"];
    if (!nodes.is_array()) fail(where + ": inbound_nodes is not a list");
    if (nodes.empty()) return {};
    if (nodes.size() > 1) fail(where + " is called " + std::to_string(nodes.size()) + " times (shared layers are not supported)");
    const json& node = nodes[0];
    std::vector<Inbound> out;
    if (node.is_object()) {  // Keras 3: {"args": [...], "kwargs": {...}}, tensors by keras_history
      if (node.contains("args")) collect_history(node["args"], out, where);
    } else if (node.is_array()) {  // Keras 2: [[layer, node, tensor, kwargs], ...]
      for (const json& t : node) out.push_back(triple(t, where + ": inbound_nodes"));
    } else {
      fail(where + ": an inbound node is neither a list nor an object");
    }
    if (out.empty()) fail(where + " has no input tensors");
    return out;
  }

  // Tensors sit at most two lists deep in a call's args ([x], or [[x, y]] for a merge).
  void collect_history(const json& v, std::vector<Inbound>& out, const std::string& where, int depth = 0) const {
    if (v.is_array()) {
      if (depth > 4) fail(where + ": the call's arguments are nested too deeply");
      for (const json& e : v) collect_history(e, out, where, depth + 1);
    } else if (v.is_object()) {
      if (v.contains("config") && v["config"].is_object() && v["config"].contains("keras_history"))
        out.push_back(triple(v["config"]["keras_history"], where + ": keras_history"));
    }
  }

  Inbound triple(const json& t, const std::string& where) const {
    if (!t.is_array() || t.size() < 3 || !t[0].is_string() || !t[1].is_number_unsigned() || !t[2].is_number_unsigned())
      fail(where + " holds an entry that is not [layer name, node index, tensor index]");
    return Inbound{t[0].get<std::string>(), t[1].get<std::size_t>(), t[2].get<std::size_t>()};
  }

  // input_layers / output_layers: a list of triples, or (Keras 3, one tensor) one triple.
  std::vector<Inbound> endpoints(const json& v, const std::string& field) const {
    if (!v.is_array() || v.empty()) fail(field + " is empty or not a list");
    if (v[0].is_string()) return {triple(v, field)};
    std::vector<Inbound> out;
    for (const json& t : v) out.push_back(triple(t, field));
    return out;
  }

  std::string source_;
  std::string field_;  // where the JSON came from: model_config (.h5) or config.json (.keras)
};

}  // namespace

KerasGraph parse_model_config(const std::string& json_text, const std::string& source, const std::string& field) {
  return ConfigReader(source, field).read(json_text);
}

// Keras's naming.to_snake_case, which names a layer's group in a .keras weights file after its
// class: "Conv2D" → "conv2d", "MaxPooling2D" → "max_pooling2d", "PReLU" → "p_re_lu". Its two
// regular expressions, replaced left to right without overlapping as Python's re.sub does.
std::string snake_case(const std::string& class_name) {
  const auto upper = [](char c) { return c >= 'A' && c <= 'Z'; };
  const auto lower = [](char c) { return c >= 'a' && c <= 'z'; };
  std::string word;  // \W+ removed
  for (char c : class_name)
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '_') word += c;
  std::string split;  // (.)([A-Z][a-z]+) → \1_\2
  for (std::size_t i = 0; i < word.size();) {
    if (i + 2 < word.size() && upper(word[i + 1]) && lower(word[i + 2])) {
      std::size_t end = i + 3;
      while (end < word.size() && lower(word[end])) ++end;
      split += word.substr(i, 1) + "_" + word.substr(i + 1, end - i - 1);
      i = end;
    } else {
      split += word[i++];
    }
  }
  std::string out;  // ([a-z])([A-Z]) → \1_\2, lower-cased
  for (std::size_t i = 0; i < split.size();) {
    if (i + 1 < split.size() && lower(split[i]) && upper(split[i + 1])) {
      out += split.substr(i, 1) + "_" + split.substr(i + 1, 1);
      i += 2;
    } else {
      out += split[i++];
    }
  }
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool is_model_class(const std::string& class_name) {
  return class_name == "Sequential" || class_name == "Functional" || class_name == "Model";
}

KerasGraph parse_nested_model(const KerasLayer& layer, const std::string& source) {
  try {
    return ConfigReader(source).graph(layer.class_name, layer.config);
  } catch (const FormatError& e) {
    throw FormatError(std::string(e.what()) + " (in nested model '" + layer.name + "')");
  }
}

}  // namespace lrp::io::keras_detail
