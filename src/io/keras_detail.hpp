#pragma once
// Internals of the Keras importer: the HDF5 file (keras_hdf5.cpp), the architecture JSON
// (keras_config.cpp) and the Model built from both (keras_layers.cpp).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "lrp/core/tensor.hpp"
#include "lrp/graph/model.hpp"

namespace lrp::io::keras_detail {

// A read-only HDF5 file; errors name the file and the object. HDF5's own error printing is off.
class Hdf5File {
 public:
  // `dry`: reads of datasets stored whole (not chunked) fetch one value each, through the same
  // type conversion; everything else is read as always (the import's trial run in a child).
  explicit Hdf5File(const std::string& path, bool dry = false);
  // An HDF5 file held in memory (`image`, which must outlive this; a .keras archive's weights),
  // named `path` in messages. `release_read`: `image` lies in a read-only file mapping, whose
  // pages a weight stored whole is dropped from once read (they come back from the file when
  // touched again), so loading does not hold the weights twice.
  Hdf5File(std::string_view image, const std::string& path, bool dry, bool release_read);
  ~Hdf5File();
  Hdf5File(const Hdf5File&) = delete;
  Hdf5File& operator=(const Hdf5File&) = delete;

  const std::string& path() const { return path_; }
  bool dry() const { return dry_; }
  // Whether a group or dataset exists at `object` ("/a/b"), every step of the path included.
  bool exists(const std::string& object) const;
  bool has_attribute(const std::string& object, const std::string& name) const;
  // The strings of an attribute: a scalar string, an array of strings (fixed or variable
  // length), or an empty array of any type (Keras writes an empty list so). Keras splits long
  // lists over `name0`, `name1`, ...: those are read and joined when `name` itself is absent.
  std::vector<std::string> strings(const std::string& object, const std::string& name) const;
  // A dataset's dimensions (at most 8; a scalar has none).
  std::vector<std::size_t> dataset_dims(const std::string& dataset) const;
  // Reads a float or integer dataset of `count` elements (at least one axis), converted to T.
  template <class T>
  void read(const std::string& dataset, T* out, std::size_t count) const;
  // Reads `rows` entries of the first axis from `first` on (each the product of the other
  // dimensions), converted to T: a large weight in blocks.
  template <class T>
  void read_rows(const std::string& dataset, std::size_t first, std::size_t rows, T* out) const;

 private:
  std::vector<std::string> attribute_strings(const std::string& object, const std::string& name) const;
  // Whether a dry read of this dataset skips its values (all but the first).
  bool skips_values(std::int64_t dataset) const;
  // Drops the mapped pages of `bytes` from byte `from` of the dataset at `dataset_offset`.
  void release(std::uint64_t dataset_offset, std::size_t from, std::size_t bytes) const;
  std::int64_t file_ = -1;  // hid_t
  std::string path_;
  bool dry_ = false;
  std::string_view image_;
  bool release_read_ = false;
};

// Where a layer's input comes from: the output `tensor` of call `node` of layer `layer`.
struct Inbound {
  std::string layer;
  std::size_t node = 0, tensor = 0;
};

struct KerasLayer {
  std::string class_name, name;
  nlohmann::json config;
  std::vector<Inbound> inputs;  // Functional models only (Sequential: the previous layer)
};

// The architecture: layers in file order; a Functional model's input and output tensors.
struct KerasGraph {
  bool sequential = false;
  std::string name;
  std::vector<KerasLayer> layers;
  std::vector<Inbound> inputs, outputs;
};

// Parses `model_config` (.h5; `field` names it in messages, config.json for .keras) (Sequential as a list or {"layers": ...}; Functional/Model with Keras 2's
// nested-list or Keras 3's keras_history inbound nodes). Throws FormatError naming `source`.
KerasGraph parse_model_config(const std::string& json_text, const std::string& source, const std::string& field = "model_config");

// Keras's naming.to_snake_case: "MaxPooling2D" → "max_pooling2d" (a .keras file's group names).
std::string snake_case(const std::string& class_name);

// Whether a layer's class is a model (Sequential, Functional, Model): a nested model.
bool is_model_class(const std::string& class_name);
// A nested model's own graph, from its layer entry.
KerasGraph parse_nested_model(const KerasLayer& layer, const std::string& source);

// Where a file keeps each layer's weights. Legacy (.h5 from model.save): /model_weights/<layer>,
// named by its weight_names attribute. Keras 3's .keras archive: /layers/<class>/vars/0, 1, ...,
// each layer's group named after its class in snake case, numbered by order of appearance
// (conv2d, conv2d_1, ...), its variables in the order the layer creates them.
enum class WeightLayout { Legacy, KerasV3 };

// `data_shape` sizes the input dimensions the model leaves unknown (keras.hpp).
template <class T>
Model<T> build_model(const Hdf5File& file, WeightLayout layout, const KerasGraph& graph, const std::string& output,
                     const Shape& data_shape);

}  // namespace lrp::io::keras_detail
