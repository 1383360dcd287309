#include "common.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <iostream>

#include "lrp/core/error.hpp"
#include "lrp/core/kernels.hpp"
#include "lrp/core/parse.hpp"
#include "lrp/graph/canonize.hpp"
#include "lrp/graph/input_parts.hpp"
#include "lrp/graph/simplify.hpp"
#include "lrp/io/arrays.hpp"
#include "lrp/io/atomic_file.hpp"
#include "lrp/io/caffe.hpp"
#include "lrp/io/image.hpp"
#include "lrp/io/keras.hpp"
#include "lrp/io/toolbox_text.hpp"

#if __has_include("lrp/io/onnx.hpp")
#include "lrp/io/onnx.hpp"
#define LRP_CLI_HAS_ONNX 1
#endif

namespace lrp::cli {

using io::lower_extension;

Tensor<double> read_input_array(const std::string& path) { return io::read_array(path); }

namespace {
bool is_caffe(const std::string& ext) { return ext == "prototxt" || ext == "pbtxt" || ext == "caffemodel"; }
bool is_keras(const std::string& ext) { return ext == "h5" || ext == "hdf5" || ext == "keras"; }

// The float path of the importers that build float layers directly (ONNX, Caffe): large
// models are never held as doubles.
Model<float> finish_float(Model<float> m, bool canonize) {
  if (canonize) fold_batch_norms(m);
  trim_dead_taps(m);  // exact; the double path (the reference) keeps the file's kernels
  m.validate();
  tune_allocator_for_reuse();
  return m;
}
}  // namespace

// --bind NAME=FILE entries: each graph input's array (ONNX models only).
std::map<std::string, Tensor<double>> bound_inputs(const std::string& path, const std::vector<std::string>& bind) {
  std::map<std::string, Tensor<double>> out;
  if (!bind.empty() && lower_extension(path) != "onnx")
    throw ConfigError("--bind: only ONNX models have graph inputs to bind, not '" + path + "'");
  for (const std::string& b : bind) {
    const std::size_t eq = b.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == b.size())
      throw ConfigError("--bind '" + b + "' must have the form NAME=FILE (a graph input and an array file)");
    Tensor<double> t = read_input_array(b.substr(eq + 1));
    if (!all_finite(t)) throw NumericError(b.substr(eq + 1) + ": --bind array contains NaN or Inf");
    if (!out.emplace(b.substr(0, eq), std::move(t)).second) throw ConfigError("--bind: input '" + b.substr(0, eq) + "' is bound twice");
  }
  return out;
}

Model<double> load_model(const std::string& path, bool canonize, const std::string& output, const std::string& weights,
                         const std::vector<std::string>& bind, const Shape& data_shape) {
  const std::string ext = lower_extension(path);
  if (!weights.empty() && !is_caffe(ext))
    throw ConfigError("--weights: only Caffe models (.prototxt, .caffemodel) take a separate weights file, not '" + path + "'");
  const std::map<std::string, Tensor<double>> bound = bound_inputs(path, bind);
  Model<double> m;
  if (ext == "txt") {
    if (!output.empty()) throw ConfigError("--output: LRP Toolbox model '" + path + "' has one output");
    m = io::read_toolbox_model(path);
  } else if (is_caffe(ext)) {
    m = io::read_caffe_model(path, weights, output);
    if (canonize) fold_batch_norms(m);
  } else if (is_keras(ext)) {
    m = io::read_keras_model(path, output, data_shape);
    if (canonize) fold_batch_norms(m);
#ifdef LRP_CLI_HAS_ONNX
  } else if (ext == "onnx") {
    m = io::read_onnx_model(path, io::OnnxReadOptions{output, bound, data_shape});
    if (canonize) fold_batch_norms(m);
#endif
  } else {
    throw ConfigError("cannot tell the format of model '" + path +
                      "': expected a .txt (LRP Toolbox), .onnx, Keras .h5 or .keras, or Caffe .prototxt/.caffemodel file");
  }
  m.validate();
  tune_allocator_for_reuse();  // from here on, freed memory is kept for the explanations' reuse
  return m;
}

Model<float> load_model_float(const std::string& path, bool canonize, const std::string& output, const std::string& weights,
                              const std::vector<std::string>& bind, const Shape& data_shape) {
  const std::string ext = lower_extension(path);
  const std::map<std::string, Tensor<double>> bound = bound_inputs(path, bind);
  if (is_caffe(ext)) return finish_float(io::read_caffe_model_float(path, weights, output), canonize);
  if (is_keras(ext)) return finish_float(io::read_keras_model_float(path, output, data_shape), canonize);
#ifdef LRP_CLI_HAS_ONNX
  if (ext == "onnx") return finish_float(io::read_onnx_model_float(path, io::OnnxReadOptions{output, bound, data_shape}), canonize);
#endif
  return load_model(path, canonize, output, weights, bind).convert<float>();  // toolbox text models are small
}

void add_rule_precision_option(CLI::App* cmd, std::string& precision) {
  cmd->add_option("--rule-precision", precision,
                  "float32 (default; or LRP_RULE_PRECISION) or bf16: what the LRP rules' convolutions multiply on the float path. bf16 rounds their "
                  "inputs to bfloat16 (sums stay float32): where the CPU runs bfloat16 dot products at twice the float32 rate (AMD "
                  "Zen 4/5) they run about 2x faster (LRP 1.1-1.6x), with AMX tiles (Intel Xeons since Sapphire Rapids) 1.1-5x (LRP up to "
                  "~2x); on Intel Xeons without AMX they are slower (measure with "
                  "`lrp bench --rule-precision bf16`); relevance within ~0.5% of its maximum "
                  "(docs/PERFORMANCE.md); the forward pass, gradients and dense layers stay float32");
}

void apply_rule_precision(const std::string& precision, bool float_path) {
  if (precision.empty()) return;  // the default, or LRP_RULE_PRECISION
  const RulePrecision p = parse_rule_precision(precision);
  if (p == RulePrecision::BFloat16 && !float_path)
    throw ConfigError("--rule-precision bf16 applies to the float path; it cannot be combined with --precision double");
  if (!rule_precision_native(p))
    std::cerr << "lrp: this CPU has no native bfloat16 arithmetic (AVX512-BF16); the rules run in float32\n";
  set_rule_precision(p);
}

void add_model_options(CLI::App* cmd, ModelFileOptions& o) {
  cmd->add_option("--output", o.output,
                  "Models with several outputs (a segmentation net's auxiliary head; a Caffe blob; a Keras layer): the output to use; "
                  "the nodes only the others need are not loaded");
  cmd->add_option("--weights", o.weights, "Caffe: the trained weights (.caffemodel) for a .prototxt definition");
  cmd->add_option("--bind", o.bind,
                  "ONNX: NAME=FILE holds graph input NAME at the array in FILE, the same for every sample (a text model's "
                  "attention_mask or token_type_ids); repeatable");
}

void add_input_options(CLI::App* cmd, InputOptions& o) {
  cmd->add_option("--preprocess", o.preprocess, "Image inputs (PNG/JPEG): none (default) or imagenet (resize 256, centre crop 224, /255, ImageNet mean/std)")
      ->check(CLI::IsMember({"none", "imagenet"}));
  cmd->add_option("--resize", o.resize, "Image inputs: resize the shorter side to this");
  cmd->add_option("--crop", o.crop, "Image inputs: centre crop H,W (or S for a square)");
  cmd->add_option("--scale", o.scale, "Image inputs: pixel factor (default 1/255)");
  cmd->add_option("--mean", o.mean, "Image inputs: per-channel mean subtracted after scaling (comma-separated)");
  cmd->add_option("--std", o.std, "Image inputs: per-channel std dividing after the mean");
  cmd->add_flag("--bgr", o.bgr, "Image inputs: channels in B,G,R order");
}

namespace {
bool is_image(const std::string& path) {
  const std::string e = lower_extension(path);
  return e == "png" || e == "jpg" || e == "jpeg";
}

template <class M>
Tensor<double> read_image_input(const Model<M>& model, const std::string& path, const InputOptions& o) {
  io::ImagePreprocess p = o.preprocess == "imagenet" ? io::ImagePreprocess::imagenet() : io::ImagePreprocess{};
  if (o.resize) p.resize = o.resize;
  if (!o.crop.empty()) {
    const std::vector<double> c = parse_number_list(o.crop, "--crop");
    if (c.empty() || c.size() > 2 || c[0] < 1 || c.back() < 1) throw ConfigError("--crop takes H,W or S");
    p.crop_h = static_cast<std::size_t>(c[0]);
    p.crop_w = static_cast<std::size_t>(c.back());
  }
  if (o.preprocess != "imagenet" || o.scale != 1.0 / 255) p.scale = o.scale;
  if (!o.mean.empty()) p.mean = parse_number_list(o.mean, "--mean");
  if (!o.std.empty()) p.std = parse_number_list(o.std, "--std");
  p.bgr = p.bgr || o.bgr;
  if (model.layout == DataLayout::Features) throw ShapeError(path + ": model '" + model.source + "' takes feature vectors, not images");
  const std::size_t channels = model.input_shape.empty() ? 0 : model.input_shape[0];
  p.grayscale = channels == 1;
  p.layout = model.layout == DataLayout::NHWC ? "nhwc" : "nchw";
  return io::read_image(path, p).cast<double>();
}
}  // namespace

Shape data_shape_of(const std::string& model, const std::string& input) {
  const std::string ext = lower_extension(model);
  if ((ext != "onnx" && !is_keras(ext)) || input.empty() || is_image(input)) return {};
  try {
    return io::read_array_shape(input);
  } catch (const Error&) {
    return {};  // reported when the input is loaded, after the model's own errors
  }
}

template <class M>
Tensor<double> load_input(const Model<M>& model, const std::string& path, const InputOptions& image) {
  if (!model.input_parts.empty()) {  // several inputs: one array each, by name, in an .npz
    if (lower_extension(path) != "npz")
      throw ShapeError(path + ": model '" + model.source + "' has " + std::to_string(model.input_parts.size()) +
                       " inputs; give them as one .npz holding an array per input, named as the inputs (see `lrp info`)");
    Tensor<double> x = pack_input_parts(model, io::read_npz(path), path);
    if (x.dim(0) == 0) throw ShapeError(path + ": the input holds no samples");
    if (!all_finite(x)) throw NumericError(path + ": input contains NaN or Inf");
    model.infer_shapes(Shape(x.shape().begin() + 1, x.shape().end()));
    return x;
  }
  Tensor<double> x = is_image(path) ? read_image_input(model, path, image) : read_input_array(path);
  const std::size_t per_rank = model.input_shape.size();
  if (x.rank() == per_rank) {  // a single sample without batch dimension
    Shape s = x.shape();
    s.insert(s.begin(), 1);
    x.reshape(s);
  }
  if (x.rank() != per_rank + 1) {
    std::string dims = "[N";  // the model's own per-sample dims ("?" where the data decides)
    for (std::size_t d : model.input_shape) dims += "," + (d ? std::to_string(d) : std::string("?"));
    throw ShapeError(path + ": input has shape " + shape_str(x.shape()) + ", but model '" + model.source + "' takes " +
                     std::to_string(per_rank + 1) + "-D input " +
                     (model.layout == DataLayout::NHWC ? "[N,H,W,C]" : model.layout == DataLayout::NCHW ? "[N,C,H,W]" : dims + "]"));
  }
  if (x.dim(0) == 0) throw ShapeError(path + ": the input holds no samples");
  if (!all_finite(x)) throw NumericError(path + ": input contains NaN or Inf");
  if (model.layout == DataLayout::NHWC) x = nhwc_to_nchw(x);
  // Known dims must match; unknown (0) dims come from the data. Shape inference names the layer.
  const Shape per(x.shape().begin() + 1, x.shape().end());
  for (std::size_t d = 0; d < per_rank; ++d)
    if (model.input_shape[d] != 0 && model.input_shape[d] != per[d])
      throw ShapeError(path + ": input has per-sample shape " + shape_str(per) + (model.layout == DataLayout::NHWC ? " (as NCHW)" : "") + ", model '" + model.source +
                       "' expects " + shape_str(model.input_shape));
  model.infer_shapes(per);
  return x;
}

template Tensor<double> load_input(const Model<double>&, const std::string&, const InputOptions&);
template Tensor<double> load_input(const Model<float>&, const std::string&, const InputOptions&);

template <class M, class T>
Tensor<T> to_model_layout(const Model<M>& model, const Tensor<T>& t, std::size_t extra_dims) {
  if (model.layout != DataLayout::NHWC) return t;
  if (extra_dims == 0) return nchw_to_nhwc(t);
  // [N, K, C, H, W] → [N, K, H, W, C]
  Shape s = t.shape();
  const std::size_t lead = s[0] * s[1];
  Tensor<T> flat = t.reshaped({lead, s[2], s[3], s[4]});
  Tensor<T> r = nchw_to_nhwc(flat);
  r.reshape({s[0], s[1], s[3], s[4], s[2]});
  return r;
}

template Tensor<float> to_model_layout(const Model<double>&, const Tensor<float>&, std::size_t);
template Tensor<double> to_model_layout(const Model<double>&, const Tensor<double>&, std::size_t);
template Tensor<float> to_model_layout(const Model<float>&, const Tensor<float>&, std::size_t);
template Tensor<double> to_model_layout(const Model<float>&, const Tensor<double>&, std::size_t);

template <class M>
bool reads_signals(const Model<M>& model) {
  if (model.input_shape.size() != 2 || model.nodes().empty()) return false;
  const Node<M>& first = model.nodes()[0];
  if (first.layer->kind() != LayerKind::Reshape || first.inputs != std::vector<std::size_t>{0}) return false;
  try {
    return first.layer->output_shape({model.input_shape}) == Shape{model.input_shape[0], 1, model.input_shape[1]};
  } catch (const ShapeError&) {
    return false;  // an input size the model cannot take: no signals to draw (the run reports it)
  }
}

template bool reads_signals(const Model<double>&);
template bool reads_signals(const Model<float>&);

template <class T>
std::vector<render::RgbImage> signal_tiles(const Tensor<double>& x, const T* relevance, std::size_t k,
                                           const render::SignalPlotOptions& options) {
  std::vector<render::RgbImage> tiles;
  for (std::size_t j = 0; j < k; ++j) {
    Tensor<double> r(x.shape());
    for (std::size_t q = 0; q < r.size(); ++q) r[q] = static_cast<double>(relevance[j * r.size() + q]);
    tiles.push_back(render::render_signal(x, r, options));
  }
  return tiles;
}

template std::vector<render::RgbImage> signal_tiles(const Tensor<double>&, const float*, std::size_t, const render::SignalPlotOptions&);
template std::vector<render::RgbImage> signal_tiles(const Tensor<double>&, const double*, std::size_t, const render::SignalPlotOptions&);

std::vector<std::size_t> load_labels(const std::string& path) {
  const Tensor<double> y = read_input_array(path);
  std::vector<std::size_t> out;
  if (y.rank() == 1 || (y.rank() == 2 && y.dim(1) == 1)) {
    for (double v : y) {
      if (!(v >= 0) || v != std::floor(v) || v > 1e9) throw FormatError(path + ": label " + std::to_string(v) + " is not a class index");
      out.push_back(static_cast<std::size_t>(v));
    }
  } else if (y.rank() == 2) {
    const std::size_t c = y.dim(1);
    for (std::size_t i = 0; i < y.dim(0); ++i)
      out.push_back(static_cast<std::size_t>(std::max_element(y.data() + i * c, y.data() + (i + 1) * c) - (y.data() + i * c)));
  } else {
    throw FormatError(path + ": labels must be [N], [N,1] or one-hot [N,C], got " + shape_str(y.shape()));
  }
  return out;
}

void set_threads(std::size_t threads) {
  if (threads > kMaxThreads)
    throw ConfigError("--threads " + std::to_string(threads) + " is more than " + std::to_string(kMaxThreads) + " (0: OMP_NUM_THREADS or all cores)");
  if (threads > 0) omp_set_num_threads(static_cast<int>(threads));
}

}  // namespace lrp::cli
