#pragma once
// Helpers shared by the subcommands: loading models and inputs, layout conversion.
#include <map>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

#include "lrp/core/error.hpp"
#include "lrp/graph/model.hpp"
#include "lrp/io/arrays.hpp"
#include "lrp/render/signal.hpp"

namespace lrp::cli {

// Loads a model by extension: .txt (LRP Toolbox), .onnx, Caffe .prototxt (with `weights`, a
// .caffemodel) or .caffemodel. Validates it. ONNX and Caffe models are canonized like Zennit's
// canonizers do (BatchNorms folded into the preceding Conv/Linear, lrp/graph/canonize.hpp)
// unless `canonize` is false.
// `output` picks one output of a model that has several ("" : the only one). `data_shape`, the
// shape of the data to explain (data_shape_of), sizes the input dimensions an ONNX or Keras model leaves
// dynamic (a text model's sequence length).
Model<double> load_model(const std::string& path, bool canonize = true, const std::string& output = "",
                         const std::string& weights = "", const std::vector<std::string>& bind = {}, const Shape& data_shape = {});
// The same in float32 for the fast path; ONNX and Caffe weights are read straight into float
// (a large model is never held as doubles).
Model<float> load_model_float(const std::string& path, bool canonize = true, const std::string& output = "",
                              const std::string& weights = "", const std::vector<std::string>& bind = {},
                              const Shape& data_shape = {});
// The shape of the array in `input` when `model` is an ONNX file and `input` a readable array
// file; empty otherwise (images and other model formats size nothing; an unreadable input is
// reported when it is loaded, after the model's errors).
Shape data_shape_of(const std::string& model, const std::string& input);

// A result about to be written (`what`: "the relevance", "the model's output") holds no NaN or
// infinity, else a NumericError with `check` (what to look at) and, on the float path, the
// double path: a finite input can still overflow float32 in the forward pass.
template <class T>
void require_finite_result(const Tensor<T>& t, const std::string& what, const std::string& check) {
  if (all_finite(t)) return;
  const std::string overflow = std::is_same_v<T, float> ? "; values beyond float32's range: try --precision double" : "";
  throw NumericError(what + " contains NaN or Inf (" + check + overflow + ")");
}

// --output NAME, --weights FILE and --bind NAME=FILE, for the commands that load a model.
struct ModelFileOptions {
  std::string output;
  std::string weights;
  std::vector<std::string> bind;  // ONNX: graph inputs held constant (a text model's attention mask)
};
// The MODEL argument's help: the formats the loaders tell apart by extension.
inline constexpr const char* kModelFileHelp =
    "Model file (.txt LRP Toolbox format, .onnx, Keras .h5 or .keras, Caffe .prototxt with --weights, .caffemodel)";
void add_model_options(CLI::App* cmd, ModelFileOptions& o);

// load_model (T = double) or load_model_float (T = float) with the model file's options.
template <class T>
Model<T> load_model_as(const std::string& path, bool canonize, const ModelFileOptions& file, const Shape& data_shape) {
  if constexpr (std::is_same_v<T, double>) return load_model(path, canonize, file.output, file.weights, file.bind, data_shape);
  else return load_model_float(path, canonize, file.output, file.weights, file.bind, data_shape);
}

// Loads the model in the precision asked for ("double", else float: read in float directly, so
// a large model is never held as doubles) and hands it to `run`, which takes either Model.
template <class Run>
void with_loaded_model(const std::string& precision, const std::string& path, bool canonize, const ModelFileOptions& file,
                       const Shape& data_shape, Run&& run) {
  if (precision == "double") run(load_model_as<double>(path, canonize, file, data_shape));
  else run(load_model_as<float>(path, canonize, file, data_shape));
}

// --rule-precision float32|bf16 (explain, batch, bench): what the LRP rules' convolutions
// multiply on the float path (lrp::RulePrecision).
void add_rule_precision_option(CLI::App* cmd, std::string& precision);
// Checks the text (ConfigError: unknown value, or bf16 with the double path), sets the
// process-wide precision, and warns on stderr when this CPU runs bf16 as float32. Empty: keeps
// the setting (float32, or the environment's LRP_RULE_PRECISION).
void apply_rule_precision(const std::string& precision, bool float_path);

// Elements of one sample's layer outputs (`shapes` from Model::infer_shapes, which refuses any
// beyond kMaxSampleElements): their sum, and the largest and its node.
struct LayerOutputSizes {
  double total = 0, largest = 0;
  std::size_t largest_node = 0;
};
template <class T>
LayerOutputSizes layer_output_sizes(const Model<T>& model, const std::vector<Shape>& shapes) {
  LayerOutputSizes sizes;
  for (std::size_t i = 0; i < model.nodes().size(); ++i) {
    const Shape& s = shapes.at(model.nodes()[i].output);
    double elements = 1;
    for (std::size_t d : s) elements *= static_cast<double>(d);
    sizes.total += elements;
    if (elements > sizes.largest) sizes.largest = elements, sizes.largest_node = i;
  }
  return sizes;
}

// --threads: 0 keeps OpenMP's default (OMP_NUM_THREADS or all cores); more than
// kMaxThreads is a ConfigError (a huge team crashes the OpenMP runtime before any work).
constexpr std::size_t kMaxThreads = 1024;
void set_threads(std::size_t threads);

// How PNG/JPEG inputs become tensors (ignored for array files).
struct InputOptions {
  std::string preprocess = "none";  // "imagenet": resize 256, crop 224, /255, ImageNet mean/std
  std::size_t resize = 0;
  std::string crop;                 // "H,W" or "S"
  double scale = 1.0 / 255;
  std::string mean, std;            // comma-separated, per channel or one value
  bool bgr = false;
};
void add_input_options(CLI::App* cmd, InputOptions& o);

// Reads an input array (.npy, .mat, .txt, ...) in the model's own layout and returns it in the
// engine layout (NCHW for images) with a batch dimension. Checks it against the model.
template <class M>
Tensor<double> load_input(const Model<M>& model, const std::string& path, const InputOptions& image = {});

// Engine layout → the model's own layout (NCHW → NHWC for toolbox image models). `extra_dims`
// leading dims after the batch (e.g. the K of [N, K, C, H, W]) are kept in place.
template <class M, class T>
Tensor<T> to_model_layout(const Model<M>& model, const Tensor<T>& t, std::size_t extra_dims = 0);

// A 1-D network: its input [C, L] relabelled [C, 1, L] for a convolution or pooling first. Its
// heatmaps draw the signals with their relevance (render::render_signal).
template <class M>
bool reads_signals(const Model<M>& model);

// One signal plot per relevance map: k maps [C, L] (`relevance`, k C L values) over the same
// input sample x [C, L] (one sample's targets or concepts).
template <class T>
std::vector<render::RgbImage> signal_tiles(const Tensor<double>& x, const T* relevance, std::size_t k,
                                           const render::SignalPlotOptions& options);

// Any supported array file (.npy, .npz, .mat, .txt, IDX).
Tensor<double> read_input_array(const std::string& path);

// Named arrays (layer dumps, a model's several inputs) as one .npz, written atomically.
template <class T>
void write_arrays(const std::string& path, const std::map<std::string, Tensor<T>>& arrays) {
  io::write_npz(path, std::vector<std::pair<std::string, Tensor<T>>>(arrays.begin(), arrays.end()));
}

// Class indices from a labels file: [N] / [N,1] integers, or one-hot rows [N, C].
std::vector<std::size_t> load_labels(const std::string& path);

}  // namespace lrp::cli
