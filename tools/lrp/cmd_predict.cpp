// lrp predict MODEL INPUT [--out Y.npy]: the forward output of the full model.
#include <algorithm>
#include <iostream>
#include <memory>

#include "commands.hpp"
#include "common.hpp"
#include "lrp/core/error.hpp"
#include "lrp/explain/executor.hpp"
#include "lrp/io/arrays.hpp"

namespace lrp::cli {
namespace {
struct PredictOptions {
  std::string model, input, out, precision = "float";
  ModelFileOptions file;  // --output, --weights
  InputOptions image;
  bool no_canonize = false;
};

template <class T>
void run_predict(const Model<T>& m, const PredictOptions& o) {
  const Tensor<double> x = load_input(m, o.input, o.image);
  Executor<T> ex(m);
  const Tensor<T> y = ex.forward(x.cast<T>());
  require_finite_result(y, "the model's output", "check the model's weights and the input's range");
  if (!o.out.empty()) io::write_npy(o.out, y);
  const std::size_t n = y.dim(0), c = y.sample_size();
  for (std::size_t i = 0; i < n && i < 20; ++i) {
    const T* yi = y.data() + i * c;
    const std::size_t k = static_cast<std::size_t>(std::max_element(yi, yi + c) - yi);
    std::cout << "sample " << i << ": class " << k << " (output " << yi[k] << ")\n";
  }
  if (n > 20) std::cout << "... " << n - 20 << " more samples\n";
}
}  // namespace

void add_predict_command(CLI::App& app) {
  auto o = std::make_shared<PredictOptions>();
  auto* cmd = app.add_subcommand("predict", "Run a model forward and write its output");
  cmd->add_option("MODEL", o->model, kModelFileHelp)->required();
  cmd->add_option("INPUT", o->input, "Input: array (.npy, .mat, .txt) in the model's layout, or a PNG/JPEG image; for a model with several inputs an .npz of one array per input, by name")->required();
  cmd->add_option("--out", o->out, "Write the output [N, outputs] here (.npy)");
  cmd->add_option("--precision", o->precision, "float (default) or double")->check(CLI::IsMember({"float", "double"}));
  add_model_options(cmd, o->file);
  cmd->add_flag("--no-canonize", o->no_canonize, "Keep ONNX BatchNorms as layers (folded into the preceding Conv/Linear by default)");
  add_input_options(cmd, o->image);
  cmd->callback([o] {
    with_loaded_model(o->precision, o->model, !o->no_canonize, o->file, data_shape_of(o->model, o->input),
                      [&](auto model) { run_predict(std::move(model), *o); });
  });
}

}  // namespace lrp::cli
