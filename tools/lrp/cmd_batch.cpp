// lrp batch MODEL LIST --out-dir DIR ...: explain every input of a file list, with a progress
// line, one relevance file (and heatmap) per input and a JSON manifest.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "common.hpp"
#include "lrp/core/error.hpp"
#include "lrp/core/parse.hpp"
#include "lrp/io/arrays.hpp"
#include "lrp/io/atomic_file.hpp"
#include "lrp/render/colormap.hpp"
#include "lrp/render/heatmap.hpp"
#include "lrp/render/png.hpp"
#include "progress.hpp"
#include "request.hpp"

namespace lrp::cli {
namespace {

struct BatchOptions {
  std::string model, list, out_dir, precision = "float", colormap = "bwr";
  bool heatmap = false, quiet = false;
  RequestOptions request;
  InputOptions image;
};

struct Item {
  std::string path;
  long target = -1;  // -1: predicted class
  std::size_t line = 0;
};

std::vector<Item> read_list(const std::string& list) {
  std::istringstream in(io::read_file_bytes(list));
  const std::filesystem::path base = std::filesystem::path(list).parent_path();
  std::vector<Item> items;
  std::string line;
  for (std::size_t n = 1; std::getline(in, line); ++n) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::istringstream words(line);
    std::string path, cls, extra;
    if (!(words >> path) || path[0] == '#') continue;
    Item item{path, -1, n};
    if (words >> cls) item.target = static_cast<long>(parse_index(cls, list + ":" + std::to_string(n) + ": class"));
    if (words >> extra) throw FormatError(list + ":" + std::to_string(n) + ": expected 'PATH [CLASS]', found more");
    if (std::filesystem::path(path).is_relative()) item.path = (base / path).string();
    items.push_back(item);
  }
  if (items.empty()) throw FormatError(list + ": no inputs listed");
  return items;
}

template <class T>
void run_batch(Model<T> model, const std::vector<Item>& items, const BatchOptions& o) {
  model.drop_trailing_softmax();
  ExplainRequest req = build_request(model, o.request);
  std::filesystem::create_directories(o.out_dir);
  nlohmann::json manifest = nlohmann::json::array();
  Progress progress(items.size(), "explaining", o.quiet);
  for (std::size_t i = 0; i < items.size(); ++i) {
    const Item& it = items[i];
    const std::string where = o.list + ":" + std::to_string(it.line) + ": ";
    try {
      const Tensor<double> x = load_input(model, it.path, o.image);
      if (x.dim(0) != 1) throw ShapeError(it.path + " holds " + std::to_string(x.dim(0)) + " samples; list one input per line");
      req.target = Target{};
      if (it.target >= 0) {
        req.target.kind = Target::Kind::Classes;
        req.target.classes = {static_cast<std::size_t>(it.target)};
      }
      const Explanation<T> e = explain(model, x.cast<T>(), req);
      const std::string stem = std::to_string(i) + "_" + std::filesystem::path(it.path).stem().string();
      io::write_npy(o.out_dir + "/" + stem + ".npy", to_model_layout(model, e.relevance));
      double sum = 0;
      for (T v : e.relevance) sum += static_cast<double>(v);
      nlohmann::json entry = {{"input", it.path}, {"relevance", stem + ".npy"}, {"target", e.targets.at(0)},
                              {"score", static_cast<double>(e.output[e.targets.at(0)])}, {"relevance_sum", sum}};
      if (o.heatmap && e.relevance.rank() == 4) {
        render::HeatmapOptions h;
        h.colormap = o.colormap;
        Tensor<double> r = e.relevance.template cast<double>();
        r.reshape({r.dim(1), r.dim(2), r.dim(3)});
        render::write_png(o.out_dir + "/" + stem + ".png", render::render_heatmap(r, h));
        entry["heatmap"] = stem + ".png";
      }
      manifest.push_back(entry);
    } catch (const Error& e) {
      throw ConfigError(where + e.what());
    }
    progress.update(i + 1);
  }
  const std::string text = manifest.dump(1);
  io::write_file_atomic(o.out_dir + "/manifest.json", [&](std::ostream& out) { out << text << "\n"; });
  if (!o.quiet) std::cout << "explained " << items.size() << " inputs into " << o.out_dir << " (manifest.json)\n";
}

}  // namespace

void add_batch_command(CLI::App& app) {
  auto o = std::make_shared<BatchOptions>();
  auto* cmd = app.add_subcommand("batch", "Explain every input of a file list (one relevance file and heatmap each)");
  cmd->footer("LIST: one input per line, 'PATH [CLASS]' (no class: the predicted one); '#' comments; relative paths are "
              "relative to the list's folder. Writes DIR/<i>_<name>.npy (and .png with --heatmap) and DIR/manifest.json.");
  cmd->add_option("MODEL", o->model, "Model file (.txt LRP Toolbox format, .onnx)")->required();
  cmd->add_option("LIST", o->list, "Text file listing the inputs")->required();
  cmd->add_option("--out-dir", o->out_dir, "Folder for the results")->required();
  add_request_options(cmd, o->request);
  cmd->add_flag("--heatmap", o->heatmap, "Also write a heatmap PNG per input");
  cmd->add_option("--colormap", o->colormap, "Colour map of the heatmaps (default bwr)");
  cmd->add_option("--precision", o->precision, "float (default) or double")->check(CLI::IsMember({"float", "double"}));
  cmd->add_flag("--quiet", o->quiet, "No progress line or summary");
  add_input_options(cmd, o->image);
  cmd->callback([o] {
    check_request(o->request);
    render::get_colormap(o->colormap);
    const std::vector<Item> items = read_list(o->list);
    // The float path reads the model in float directly (a large model is never held as doubles).
    if (o->precision == "double") run_batch(load_model(o->model), items, *o);
    else run_batch(load_model_float(o->model), items, *o);
  });
}

}  // namespace lrp::cli
