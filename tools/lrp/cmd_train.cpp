// lrp train (--layers SPEC | --init MODEL) --data X --labels Y --out MODEL.txt ...: mini-batch SGD
// as the LRP Toolbox's Sequential.train (docs/TRAINING.md).
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <memory>
#include <sstream>

#include "commands.hpp"
#include "common.hpp"
#include "lrp/core/error.hpp"
#include "lrp/core/kernels.hpp"
#include "lrp/io/toolbox_text.hpp"
#include "lrp/train/trainer.hpp"

namespace lrp::cli {
namespace {

struct TrainCliOptions {
  std::string layers, init, data, labels, val_data, val_labels, out;
  std::size_t batch = 25, iters = 10000, status = 250, pad = 0, threads = 0;
  double lrate = 0.005, momentum = 0.9, pad_value = -1.0;
  long convergence = -1;
  std::uint64_t seed = 0;
  std::string lrate_decay = "none", precision = "double", optimizer = "toolbox", input_scale = "auto";
  bool quiet = false;
};

std::string duration(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  const long t = std::lround(s);
  std::ostringstream o;
  if (t >= 3600) o << t / 3600 << "h" << std::setw(2) << std::setfill('0') << (t % 3600) / 60 << "m";
  else if (t >= 60) o << t / 60 << "m" << std::setw(2) << std::setfill('0') << t % 60 << "s";
  else o << t << "s";
  return o.str();
}

std::string percent(double acc) {
  std::ostringstream o;
  o << std::fixed << std::setprecision(2) << 100.0 * acc << "%";
  return o.str();
}

// --input-scale auto: 0..255 pixel values (integers, some above 1) get the toolbox's scaling.
bool looks_like_pixels(const Tensor<double>& x) {
  bool above_one = false;
  for (double v : x) {
    if (!(v >= 0 && v <= 255 && v == std::floor(v))) return false;
    above_one = above_one || v > 1;
  }
  return above_one;
}

// Data file → engine-layout batch for the model: toolbox pixel scaling, reshaping of flat or
// 2-D images to the first layer's NHWC input, padding.
Tensor<double> prepare(const Model<double>& model, Tensor<double> x, const std::string& path, const TrainCliOptions& o, bool scale) {
  if (x.rank() < 2 || x.dim(0) == 0) throw ShapeError(path + ": data must be [N, ...] with N > 0 samples, got " + shape_str(x.shape()));
  if (!all_finite(x)) throw NumericError(path + ": data contain NaN or Inf");
  if (scale) {
    for (double& v : x) v = v / 127.5 - 1.0;
  }
  const std::size_t n = x.dim(0), per = x.sample_size();
  if (model.layout != DataLayout::NHWC) {
    if (o.pad) throw ConfigError("--pad applies to convolutional models only (the first layer is not a Convolution)");
    const std::size_t m = model.input_shape.empty() ? 0 : model.input_shape[0];
    if (per != m)
      throw ShapeError(path + ": samples of shape " + shape_str(Shape(x.shape().begin() + 1, x.shape().end())) + " (" + std::to_string(per) +
                       " values), the model's first layer takes " + std::to_string(m));
    x.reshape({n, m});
    return x;
  }
  const std::size_t d = model.input_shape.at(0);
  std::size_t h = 0, w = 0;
  if (x.rank() == 4 && x.dim(3) == d) {
    h = x.dim(1);
    w = x.dim(2);
  } else if (x.rank() == 3 && d == 1) {
    h = x.dim(1);
    w = x.dim(2);
  } else if (x.rank() == 2 && per % d == 0) {
    h = w = static_cast<std::size_t>(std::lround(std::sqrt(static_cast<double>(per / d))));
    if (h * w * d != per)
      throw ShapeError(path + ": " + std::to_string(per) + " values per sample are not a square image with " + std::to_string(d) + " channel(s)");
  } else {
    throw ShapeError(path + ": data of shape " + shape_str(x.shape()) + " do not fit the first layer, which takes [N,H,W," + std::to_string(d) +
                     "] images (or [N,H*W*" + std::to_string(d) + "] square ones" + (d == 1 ? ", or [N,H,W]" : "") + ")");
  }
  x.reshape({n, h, w, d});
  if (o.pad) {
    const std::size_t p = o.pad, ph = h + 2 * p, pw = w + 2 * p;
    Tensor<double> padded({n, ph, pw, d}, o.pad_value);
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t r = 0; r < h; ++r)
        std::copy_n(x.data() + ((i * h + r) * w) * d, w * d, padded.data() + ((i * ph + r + p) * pw + p) * d);
    x = std::move(padded);
  }
  x = nhwc_to_nchw(x);
  try {
    model.infer_shapes(Shape(x.shape().begin() + 1, x.shape().end()));
  } catch (const ShapeError& e) {
    std::string hint;
    if (!o.pad && h == 28 && w == 28) hint = " (the toolbox pads 28x28 MNIST images to 32x32 for LeNet-5: try --pad 2)";
    throw ShapeError(path + ": images of " + std::to_string(x.dim(2)) + "x" + std::to_string(x.dim(3)) + "x" + std::to_string(d) +
                     " do not fit the model: " + e.what() + hint);
  }
  return x;
}

Tensor<double> targets(const std::string& path, std::size_t samples, std::size_t classes) {
  const std::vector<std::size_t> labels = train::labels_from_array(read_input_array(path), path);
  if (labels.size() != samples)
    throw ShapeError(path + ": " + std::to_string(labels.size()) + " labels for " + std::to_string(samples) + " samples");
  try {
    return train::one_hot(labels, classes);
  } catch (const ConfigError& e) {
    throw ConfigError(path + ": " + e.what());
  }
}

// The terminal progress line: '\r'-updated on a TTY, plain lines otherwise.
class ProgressPrinter {
 public:
  ProgressPrinter(bool quiet, std::size_t status, std::size_t iters)
      : quiet_(quiet), tty_(::isatty(::fileno(stderr)) == 1),
        every_(std::max<std::size_t>(1, (status ? status : iters) / 10)) {}

  void operator()(const train::Progress& p) {
    if (quiet_) return;
    const std::string where = p.on_validation ? "validation" : "training data";
    if (p.evaluated) {
      clear();
      std::cerr << "iteration " << p.iteration << "/" << p.iterations << ": " << where << " accuracy " << percent(p.last.accuracy) << ", loss "
                << p.last.loss << (p.improved ? "  (best so far)" : "") << "\n";
      if (p.stopping) std::cerr << "no improvement in the last evaluations: stopping early\n";
      return;
    }
    const auto now = std::chrono::steady_clock::now();
    if (tty_) {
      if (now - last_ < std::chrono::milliseconds(100) && p.iteration != p.iterations) return;
      last_ = now;
      std::cerr << "\r\033[K" << line(p) << std::flush;
      dirty_ = true;
    } else if (p.iteration % every_ == 0) {
      std::cerr << line(p) << "\n";
    }
  }

  void clear() {
    if (dirty_) std::cerr << "\r\033[K" << std::flush;
    dirty_ = false;
  }

 private:
  static std::string line(const train::Progress& p) {
    std::ostringstream o;
    o << "iteration " << p.iteration << "/" << p.iterations << "  batch loss " << std::setprecision(4) << p.batch_loss << "  lrate "
      << p.lrate;
    if (p.has_evaluation)
      o << "  " << (p.on_validation ? "val" : "train") << " acc " << percent(p.last.accuracy) << " loss " << std::setprecision(4)
        << p.last.loss;
    o << "  ETA " << duration(p.eta_s);
    return o.str();
  }

  bool quiet_, tty_;
  std::size_t every_;
  bool dirty_ = false;
  std::chrono::steady_clock::time_point last_{};
};

void run_train(const TrainCliOptions& o) {
  if (o.layers.empty() == o.init.empty()) throw ConfigError("give the network either as --layers SPEC or as --init MODEL");
  if (o.val_data.empty() != o.val_labels.empty()) throw ConfigError("--val-data and --val-labels go together");
  const std::filesystem::path out_dir = std::filesystem::absolute(o.out).parent_path();
  if (!std::filesystem::is_directory(out_dir)) throw IoError("cannot write " + o.out + ": directory " + out_dir.string() + " does not exist");

  set_threads(o.threads);
  const Model<double> init = o.init.empty() ? train::build_network(o.layers, o.seed) : load_model(o.init);
  tune_allocator_for_reuse();  // (load_model does too; a built network has not been through it)
  // A model from another format (ONNX) may hold layers the toolbox format cannot write: fail now.
  std::string ext = std::filesystem::path(o.init).extension().string();
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (!o.init.empty() && ext != ".txt") io::format_toolbox_model(init);

  Tensor<double> raw = read_input_array(o.data);
  const bool scale = o.input_scale == "toolbox" || (o.input_scale == "auto" && looks_like_pixels(raw));
  if (!o.quiet)
    std::cerr << "input scaling: " << (scale ? "x/127.5 - 1 (the toolbox's pixel scaling)" : "none") << (o.pad ? ", padding " + std::to_string(o.pad) + " px" : "")
              << "\n";
  train::Dataset data, val;
  data.x = prepare(init, std::move(raw), o.data, o, scale);
  const std::vector<Shape> shapes = init.infer_shapes(Shape(data.x.shape().begin() + 1, data.x.shape().end()));
  const Shape& out_shape = shapes.at(init.output_value());
  if (out_shape.size() != 1) throw ShapeError("the model output per sample is " + shape_str(out_shape) + ", expected [classes]");
  data.targets = targets(o.labels, data.x.dim(0), out_shape[0]);
  if (!o.val_data.empty()) {
    val.x = prepare(init, read_input_array(o.val_data), o.val_data, o, scale);
    val.targets = targets(o.val_labels, val.x.dim(0), out_shape[0]);
  }

  train::TrainOptions t;
  t.batch = o.batch;
  t.iterations = o.iters;
  t.lrate = o.lrate;
  t.lrate_decay = o.lrate_decay == "sublinear" ? train::LrateDecay::Sublinear
                  : o.lrate_decay == "linear"  ? train::LrateDecay::Linear
                                               : train::LrateDecay::None;
  t.status = o.status;
  t.convergence = o.convergence;
  t.seed = o.seed;
  t.precision = o.precision == "float" ? train::Precision::Float : train::Precision::Double;
  t.optimizer = o.optimizer == "sgd" ? train::Optimizer::Sgd : o.optimizer == "momentum" ? train::Optimizer::Momentum : train::Optimizer::Toolbox;
  t.momentum = o.momentum;
  const train::Loss loss = train::resolve_loss(init, train::Loss::Auto);
  auto printer = std::make_shared<ProgressPrinter>(o.quiet, o.status, o.iters);
  t.on_progress = [printer](const train::Progress& p) { (*printer)(p); };
  if (!o.quiet)
    std::cerr << "training " << init.param_count() << " parameters on " << data.x.dim(0) << " samples (" << train::loss_name(loss) << ", "
              << o.optimizer << " SGD, " << o.precision << ")\n";

  const train::TrainResult r = train::train(init, data, val, t);
  printer->clear();
  io::write_toolbox_model(r.model, o.out);

  const std::string where = val.x.empty() ? "training data" : "validation data";
  std::cout << "trained " << r.iterations << " iterations in " << std::fixed << std::setprecision(1) << r.seconds << " s"
            << (r.stopped_early ? " (stopped early: no improvement in " + std::to_string(o.convergence) + " evaluations)" : "") << "\n";
  std::cout << std::defaultfloat << std::setprecision(6);
  std::cout << "best model: iteration " << r.best.iteration << ", " << where << " accuracy " << percent(r.best.accuracy) << ", loss "
            << r.best.loss << " (" << train::loss_name(loss) << ")\n";
  if (!val.x.empty()) {
    const train::Evaluation e = train::evaluate(r.model, data, loss, t.precision);
    std::cout << "training accuracy " << percent(e.accuracy) << ", loss " << e.loss << "\n";
  }
  std::cout << "wrote " << o.out << "\n";
}

}  // namespace

void add_train_command(CLI::App& app) {
  auto o = std::make_shared<TrainCliOptions>();
  auto* cmd = app.add_subcommand("train", "Train a network with mini-batch SGD (the LRP Toolbox's Sequential.train)");
  cmd->footer(
      "SPEC: toolbox layer headers separated by ';', e.g. \"Linear 784 100; Rect; Linear 100 10; SoftMax\" or\n"
      "  \"Convolution 5 5 1 10 1 1; Rect; SumPool 2 2 2 2; Convolution 5 5 10 25 1 1; Rect; SumPool 2 2 2 2; Convolution 4 4 25 100 1 1; "
      "Rect; SumPool 2 2 2 2; Convolution 1 1 100 10 1 1; Flatten\" (LeNet-5, with --pad 2 for 28x28 digits).\n"
      "Loss: softmax cross-entropy when the network ends in SoftMax, squared error otherwise. LABELS: class indices [N] or one-hot [N,C].\n"
      "Data [N,D], [N,H,W] or [N,H,W,C] are reshaped to the first layer's input. See docs/TRAINING.md.");
  auto* layers = cmd->add_option("--layers", o->layers, "Network to train, as a layer spec (see SPEC), initialised from --seed");
  cmd->add_option("--init", o->init, "Start from this model (.txt LRP Toolbox format)")->excludes(layers);
  cmd->add_option("--data", o->data, "Training data (.npy, .npz, .mat, .txt, IDX)")->required();
  cmd->add_option("--labels", o->labels, "Training labels")->required();
  cmd->add_option("--val-data", o->val_data, "Validation data (evaluations use the training data without it)");
  cmd->add_option("--val-labels", o->val_labels, "Validation labels");
  cmd->add_option("--out", o->out, "Where to write the best model (toolbox .txt format)")->required();
  cmd->add_option("--batch", o->batch, "Samples per update (default 25)");
  cmd->add_option("--iters", o->iters, "Number of updates (default 10000)");
  cmd->add_option("--lrate", o->lrate, "Learning rate (default 0.005)");
  cmd->add_option("--lrate-decay", o->lrate_decay, "none (default), sublinear: lrate*(1-acc^2), linear: lrate*(1-acc) after each improvement")
      ->check(CLI::IsMember({"none", "sublinear", "linear"}));
  cmd->add_option("--status", o->status, "Evaluate every K iterations (default 250; 0: only at the end)");
  cmd->add_option("--convergence", o->convergence, "Stop after K evaluations without improvement (default -1: never)");
  cmd->add_option("--seed", o->seed, "Seed of the initialisation and the mini-batch sampling (default 0)");
  cmd->add_option("--precision", o->precision, "double (default) or float")->check(CLI::IsMember({"double", "float"}));
  cmd->add_option("--optimizer", o->optimizer, "toolbox (default: the toolbox's per-layer scaled SGD on the summed loss), sgd, momentum (mean loss)")
      ->check(CLI::IsMember({"toolbox", "sgd", "momentum"}));
  cmd->add_option("--momentum", o->momentum, "Momentum of --optimizer momentum (default 0.9)")->check(CLI::Range(0.0, 0.999999));
  cmd->add_option("--input-scale", o->input_scale,
                  "auto (default): toolbox when the training data are 0..255 pixel values (integers, some > 1), else none; "
                  "toolbox: x/127.5 - 1 as the toolbox's scripts; none: data as given")
      ->check(CLI::IsMember({"auto", "toolbox", "none"}));
  cmd->add_option("--pad", o->pad, "Pad images by N pixels on every side after scaling (default 0; the toolbox's LeNet-5 uses 2)");
  cmd->add_option("--pad-value", o->pad_value, "Value of the padding (default -1, black after toolbox scaling)");
  cmd->add_option("--threads", o->threads,
                  "OpenMP threads (default 0: OMP_NUM_THREADS or all cores; 1 is often faster for small networks on a busy machine)");
  cmd->add_flag("--quiet", o->quiet, "No progress output on stderr");
  cmd->callback([o] { run_train(*o); });
}

}  // namespace lrp::cli
