// lrp batch MODEL LIST --out-dir DIR ...: explain every input of a file list, with a progress
// line, one relevance file (and heatmap) per input and a JSON manifest.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "common.hpp"
#include "lrp/core/error.hpp"
#include "lrp/core/parse.hpp"
#include "lrp/io/arrays.hpp"
#include "lrp/io/atomic_file.hpp"
#include "lrp/render/colormap.hpp"
#include "lrp/graph/input_parts.hpp"
#include "lrp/render/heatmap.hpp"
#include "lrp/render/signal.hpp"
#include "lrp/render/png.hpp"
#include "progress.hpp"
#include "request.hpp"

namespace lrp::cli {
namespace {

struct BatchOptions {
  std::string model, list, out_dir, precision = "float", colormap = "bwr", rule_precision;
  bool heatmap = false, quiet = false;
  bool keep_going = false;  // skip inputs that cannot be explained (listed in the manifest), exit 2 at the end
  std::size_t batch_size = 0;  // inputs per call; 0: as many as fit the pass budget
  std::string region = "unit";  // what a class is: unit | channel | segment (Target::Region)
  ConceptOptions concepts;
  std::size_t references = 8;  // with concepts: the inputs listed per channel in concept_references.tsv
  ModelFileOptions file;  // --output, --weights
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

// Inputs of one shape explained together in one call (one forward pass, one backward sweep).
struct Pass {
  std::vector<std::size_t> items;  // indices into the list
  std::vector<Tensor<double>> inputs;
};

template <class T>
Tensor<T> stack(const std::vector<Tensor<double>>& inputs) {
  Shape s = inputs.front().shape();
  s[0] = inputs.size();
  Tensor<T> x = Tensor<T>::uninitialized(s);
  const std::size_t per = inputs.front().size();
  for (std::size_t i = 0; i < inputs.size(); ++i)
    std::transform(inputs[i].begin(), inputs[i].end(), x.data() + i * per, [](double v) { return static_cast<T>(v); });
  return x;
}

// The model read again for data of shape [1, ...] (a model whose dynamic dimensions the data
// sizes, Model::sized_by_data); empty for models that cannot be.
template <class T>
using Resize = std::function<Model<T>(const Shape& data_shape)>;

template <class T>
class BatchRun {
 public:
  BatchRun(Model<T> model, const std::vector<Item>& items, const BatchOptions& o, Resize<T> resize)
      : items_(items), o_(o), resize_(std::move(resize)), entries_(items.size()) {
    use(std::move(model));
  }

  void run() {
    std::filesystem::create_directories(o_.out_dir);
    Progress progress(items_.size(), "explaining", o_.quiet);
    Pass pass;
    std::size_t capacity = 1;
    for (std::size_t i = 0; i < items_.size(); ++i) {
      const Shape resized = size_for(i);
      if (!resized.empty() && !pass.inputs.empty()) {  // the pass so far goes through the model it was loaded for
        explain_pass(pass);
        progress.update(pass.items.back() + 1);
        pass = Pass{};
      }
      try {
        if (!resized.empty()) use(resize_(resized));
      } catch (const Error& e) {
        give_up_on(i, where(i) + e.what());
        continue;
      }
      Tensor<double> x;
      try {
        x = load_checked(i);
      } catch (const ConfigError& e) {
        give_up_on(i, e.what());
        continue;
      }
      if (!pass.inputs.empty() && (x.shape() != pass.inputs.front().shape() || pass.inputs.size() >= capacity)) {
        explain_pass(pass);
        progress.update(pass.items.back() + 1);
        pass = Pass{};
      }
      if (pass.inputs.empty()) capacity = pass_capacity(x.shape());
      pass.items.push_back(i);
      pass.inputs.push_back(std::move(x));
    }
    if (!pass.items.empty()) explain_pass(pass);  // empty when --keep-going skipped the last inputs
    progress.update(items_.size());
    nlohmann::json manifest = nlohmann::json::array();  // in list order, skipped inputs with their error
    for (nlohmann::json& entry : entries_) manifest.push_back(std::move(entry));
    const std::string text = manifest.dump(1);
    io::write_file_atomic(o_.out_dir + "/manifest.json", [&](std::ostream& out) { out << text << "\n"; });
    if (!req_.concepts.empty() && o_.references > 0) write_references();
    const std::size_t done = items_.size() - skipped_;
    if (!o_.quiet)
      std::cout << "explained " << (skipped_ ? std::to_string(done) + " of " : "") << items_.size() << " inputs into " << o_.out_dir
                << " (manifest.json)\n";
    if (skipped_)
      throw ConfigError(o_.list + ": " + std::to_string(skipped_) + " of " + std::to_string(items_.size()) +
                        " inputs could not be explained (skipped with --keep-going; each one's error is in " + o_.out_dir +
                        "/manifest.json)");
  }

 private:
  std::string where(std::size_t i) const { return o_.list + ":" + std::to_string(items_[i].line) + ": "; }

  // Explains with `model` from here on (its explainer and request built anew).
  void use(Model<T> model) {
    model.drop_trailing_softmax();
    model_ = std::make_unique<Model<T>>(std::move(model));
    explainer_ = std::make_unique<Explainer<T>>(*model_);
    req_ = build_request(*model_, o_.request, o_.image);
    if (o_.region != "unit") req_.target = parse_target(o_.region + ":predicted");
    req_.concepts = concept_request(o_.concepts);
    signals_ = reads_signals(*model_);
  }

  // The data shape to read the model again for before list entry i: its array's shape when the
  // model was sized by data of another size, else empty (entries that cannot be read are
  // reported by load_checked).
  Shape size_for(std::size_t i) const {
    if (!resize_ || !model_->sized_by_data) return {};
    Shape data = data_shape_of(o_.model, items_[i].path);
    const Shape& per = model_->input_shape;
    if (data.size() == per.size() + 1) data.erase(data.begin());
    if (data.size() != per.size() || data == per) return {};
    data.insert(data.begin(), 1);
    return data;
  }

  // List entry i cannot be explained (`error` names its line): the run stops, or with
  // --keep-going the entry is left out, its error kept for the manifest and shown at once.
  void give_up_on(std::size_t i, const std::string& error) {
    if (!o_.keep_going) throw ConfigError(error);
    entries_[i] = {{"input", items_[i].path}, {"error", error}};
    ++skipped_;
    // On a terminal the progress line is being redrawn in place: the warning starts a fresh line.
    if (!o_.quiet) std::cerr << (::isatty(2) ? "\r\033[K" : "") << "lrp: warning: " << error << " (skipped)\n";
  }

  // The input of list entry i, with every check that names its line done here, before it joins
  // a pass: the error of one input in a pass of 64 still names that input.
  Tensor<double> load_checked(std::size_t i) {
    const Item& it = items_[i];
    try {
      Tensor<double> x = load_input(*model_, it.path, o_.image);
      if (x.dim(0) != 1) throw ShapeError(it.path + " holds " + std::to_string(x.dim(0)) + " samples; list one input per line");
      if (!all_finite(x)) throw NumericError(it.path + " contains NaN or Inf");
      if (it.target >= 0) {
        const Shape out = model_->infer_shapes(Shape(x.shape().begin() + 1, x.shape().end()))[model_->output_value()];
        const Target::Region region = req_.target.region;
        const bool channels = region == Target::Region::Channel || region == Target::Region::Segment;
        const std::size_t classes = region == Target::Region::Unit ? shape_numel(out)
                                    : out.size() < 2                ? 0
                                    : channels                      ? out[0]
                                                                    : out.back();
        if (static_cast<std::size_t>(it.target) >= classes)
          throw ConfigError("target class " + std::to_string(it.target) + " is out of range: the model has " + std::to_string(classes) +
                            (channels ? " output channels" : region == Target::Region::Position ? " outputs per position" : " outputs"));
      }
      return x;
    } catch (const Error& e) {
      throw ConfigError(where(i) + e.what());
    }
  }

  // Inputs per call: --batch-size, or as many as fit the explainer's pass budget. SmoothGrad
  // draws its noise sample after sample, so it takes one input per call: each input then gets
  // the noise `lrp explain` would give it alone.
  std::size_t pass_capacity(const Shape& input_shape) const {
    if (req_.method == Method::SmoothGrad) return 1;
    if (o_.batch_size > 0) return o_.batch_size;
    return explainer_->samples_per_pass(Shape(input_shape.begin() + 1, input_shape.end()), req_);
  }

  void explain_pass(const Pass& pass) {
    ExplainRequest req = req_;
    const bool all_predicted = std::all_of(pass.items.begin(), pass.items.end(), [&](std::size_t i) { return items_[i].target < 0; });
    if (!all_predicted) {
      req.target.kind = Target::Kind::PerSample;
      for (std::size_t i : pass.items)
        req.target.classes.push_back(items_[i].target < 0 ? Target::kPredicted : static_cast<std::size_t>(items_[i].target));
    }
    Explanation<T> e;
    try {
      e = explainer_->explain(stack<T>(pass.inputs), req);
    } catch (const Error& err) {
      if (pass.items.size() == 1) {
        give_up_on(pass.items.front(), where(pass.items.front()) + err.what());
        return;
      }
      if (!o_.keep_going) {
        const std::string first = std::to_string(items_[pass.items.front()].line), last = std::to_string(items_[pass.items.back()].line);
        throw ConfigError(o_.list + ":" + first + "-" + last + ": " + err.what());
      }
      // Find the inputs that fail: each alone.
      for (std::size_t j = 0; j < pass.items.size(); ++j) explain_pass(Pass{{pass.items[j]}, {pass.inputs[j]}});
      return;
    }
    const Tensor<T> rel = to_model_layout(*model_, e.relevance, e.targets_per_sample > 1 ? 1 : 0);
    for (std::size_t j = 0; j < pass.items.size(); ++j) {
      const Tensor<T> r = rel.rows(j, 1);
      try {
        require_finite_result(r, "the relevance", "check the model's weights and the rule's stabiliser");
      } catch (const NumericError& err) {
        give_up_on(pass.items[j], where(pass.items[j]) + err.what());
        continue;
      }
      write_item(pass.items[j], r, e, j, pass.inputs[j]);
    }
  }

  // Input i's map (or its concepts' maps [1, K, ...]), heatmap and manifest entry; `row` is its
  // sample in the pass's explanation e, `x` the input [1, ...].
  void write_item(std::size_t i, const Tensor<T>& rel, const Explanation<T>& e, std::size_t row, const Tensor<double>& x) {
    const std::string stem = std::to_string(i) + "_" + std::filesystem::path(items_[i].path).stem().string();
    // a model with several inputs: one array per input, [1, (K,) shape...], in an .npz
    const std::string file = stem + (model_->input_parts.empty() ? ".npy" : ".npz");
    if (model_->input_parts.empty()) io::write_npy(o_.out_dir + "/" + file, rel);
    else write_arrays(o_.out_dir + "/" + file, split_input_parts(*model_, rel));
    const std::size_t k = e.targets_per_sample, per = rel.size() / k;
    double sum = 0;
    for (std::size_t p = 0; p < per; ++p) sum += static_cast<double>(rel[p]);  // the first map's
    nlohmann::json entry = {{"input", items_[i].path}, {"relevance", file}, {"target", e.targets.at(row * k)},
                            {"score", e.scores.at(row * k)}, {"relevance_sum", sum}};
    if (!e.concepts.empty()) {
      entry.erase("relevance_sum");
      nlohmann::json concepts = nlohmann::json::array();
      for (std::size_t j = 0; j < k; ++j) {
        double map_sum = 0;
        for (std::size_t p = 0; p < per; ++p) map_sum += static_cast<double>(rel[j * per + p]);
        concepts.push_back({{"channels", e.concepts.at(row * k + j)},
                            {"layer_relevance", e.concept_relevance.at(row * k + j)},
                            {"relevance_sum", map_sum}});
      }
      entry["concepts"] = std::move(concepts);
      note_references(i, e, row);
    }
    // [1, (K,) C, H, W] images, and [1, (K,) T, D] sequences of feature vectors as T x D images,
    // a 1-D network's signals [1, (K,) C, L] as strips, the signal over its relevance
    const std::size_t image_rank = k > 1 ? 5 : 4, rank = e.relevance.rank();
    if (o_.heatmap && signals_) {
      render::SignalPlotOptions p;
      p.colormap = o_.colormap;
      const Tensor<double> signal = x.reshaped(Shape(x.shape().begin() + 1, x.shape().end()));
      const std::vector<render::RgbImage> tiles = signal_tiles(signal, e.relevance.data() + row * k * signal.size(), k, p);
      render::write_png(o_.out_dir + "/" + stem + ".png", k == 1 ? tiles[0] : render::grid(tiles, k));
      entry["heatmap"] = stem + ".png";
    } else if (o_.heatmap && (rank == image_rank || rank == image_rank - 1)) {
      render::HeatmapOptions h;
      h.colormap = o_.colormap;
      const Shape& s = e.relevance.shape();
      Shape tile(s.end() - (rank == image_rank ? 3 : 2), s.end());
      if (tile.size() == 2) tile.insert(tile.begin(), 1);
      std::vector<render::RgbImage> tiles;
      for (std::size_t j = 0; j < k; ++j) {
        Tensor<double> t(tile);
        for (std::size_t p = 0; p < t.size(); ++p) t[p] = static_cast<double>(e.relevance[(row * k + j) * t.size() + p]);
        tiles.push_back(render::render_heatmap(t, h));
      }
      render::write_png(o_.out_dir + "/" + stem + ".png", k == 1 ? tiles[0] : render::grid(tiles, k));
      entry["heatmap"] = stem + ".png";
    }
    entries_[i] = std::move(entry);
  }

  // Reference inputs (zennit-crp's RelMax): per channel of the concept layer, the inputs where
  // it holds the most relevance, kept as the pass goes.
  struct Reference {
    double relevance;
    std::size_t item;
  };
  void note_references(std::size_t i, const Explanation<T>& e, std::size_t row) {
    const std::size_t c = e.channel_relevance.size() / e.output.dim(0);  // the layer's channels
    if (references_.size() < c) references_.resize(c);
    for (std::size_t ch = 0; ch < c; ++ch) {
      std::vector<Reference>& best = references_[ch];  // most relevant first; ties: the earlier input
      const Reference r{e.channel_relevance.at(row * c + ch), i};
      best.insert(std::upper_bound(best.begin(), best.end(), r.relevance, [](double v, const Reference& b) { return v > b.relevance; }), r);
      if (best.size() > o_.references) best.pop_back();
    }
  }
  void write_references() const {
    io::write_file_atomic(o_.out_dir + "/concept_references.tsv", [&](std::ostream& out) {
      out << std::setprecision(9) << "channel\trank\tline\tinput\tlayer_relevance\n";
      for (std::size_t ch = 0; ch < references_.size(); ++ch)
        for (std::size_t r = 0; r < references_[ch].size(); ++r) {
          const Reference& ref = references_[ch][r];
          out << ch << "\t" << r << "\t" << items_[ref.item].line << "\t" << items_[ref.item].path << "\t" << ref.relevance << "\n";
        }
    });
  }

  const std::vector<Item>& items_;
  const BatchOptions& o_;
  Resize<T> resize_;
  std::unique_ptr<Model<T>> model_;
  std::unique_ptr<Explainer<T>> explainer_;  // on *model_
  bool signals_ = false;                      // heatmaps as signal strips (reads_signals)
  ExplainRequest req_;
  std::vector<nlohmann::json> entries_;  // manifest entry per list item, filled as they are explained or skipped
  std::size_t skipped_ = 0;
  std::vector<std::vector<Reference>> references_;  // per channel of the concept layer
};

template <class T>
void run_batch(Model<T> model, const std::vector<Item>& items, const BatchOptions& o, Resize<T> resize) {
  if (!model.input_parts.empty() && o.heatmap)
    throw ConfigError("--heatmap: the model " + o.model + " has " + std::to_string(model.input_parts.size()) +
                      " inputs; draw each input's map from its relevance .npz with `lrp render R.npz:NAME`");
  BatchRun<T>(std::move(model), items, o, std::move(resize)).run();
}

}  // namespace

void add_batch_command(CLI::App& app) {
  auto o = std::make_shared<BatchOptions>();
  auto* cmd = app.add_subcommand("batch", "Explain every input of a file list (one relevance file and heatmap each)");
  cmd->footer("LIST: one input per line, 'PATH [CLASS]' (no class: the predicted one); '#' comments; relative paths are "
              "relative to the list's folder. Writes DIR/<i>_<name>.npy (and .png with --heatmap) and DIR/manifest.json.");
  cmd->add_option("MODEL", o->model, kModelFileHelp)->required();
  cmd->add_option("LIST", o->list, "Text file listing the inputs")->required();
  cmd->add_option("--out-dir", o->out_dir, "Folder for the results")->required();
  add_request_options(cmd, o->request);
  cmd->add_flag("--heatmap", o->heatmap, "Also write a heatmap PNG per input");
  cmd->add_option("--region", o->region,
                  "What a class is on outputs with channels [N, K, H, W]: unit (an output element; default), channel (channel K "
                  "everywhere) or segment (channel K where it is the largest); on a language model's logits of every position "
                  "[N, T, V], position:P (token K at position P, -1 the last); see `lrp explain --help`, TARGET")
      ->check([](const std::string& v) -> std::string {
        if (v == "unit" || v == "channel" || v == "segment") return "";
        if (v.rfind("position:", 0) == 0 && v.find(':', 9) == std::string::npos) {
          try {
            parse_target(v);
            return "";
          } catch (const Error& e) {
            return e.what();
          }
        }
        return "--region must be unit, channel, segment or position:P, got '" + v + "'";
      });
  add_concept_options(cmd, o->concepts, "each input's .npy [1, K, ...], its concepts in the manifest");
  cmd->add_option("--references", o->references,
                  "With --concept-layer: DIR/concept_references.tsv lists for every channel this many inputs where it holds the "
                  "most relevance (default 8; 0: no file)")
      ->check(CLI::Range(std::size_t(0), std::size_t(100000)));
  cmd->add_option("--colormap", o->colormap, "Colour map of the heatmaps (default bwr)");
  cmd->add_option("--precision", o->precision, "float (default) or double")->check(CLI::IsMember({"float", "double"}));
  add_rule_precision_option(cmd, o->rule_precision);
  cmd->add_flag("--quiet", o->quiet, "No progress line or summary");
  cmd->add_flag("--keep-going", o->keep_going,
                "Skip inputs that cannot be read or explained (a warning each; their errors go to the manifest) and explain the "
                "rest; the exit code is still 2 when any was skipped");
  cmd->add_option("--batch-size", o->batch_size,
                  "Inputs explained together in one call (consecutive inputs of one shape; default: as many as fit 512 MiB "
                  "of activations, at most 64; smoothgrad: 1)");
  add_input_options(cmd, o->image);
  add_model_options(cmd, o->file);
  cmd->callback([o] {
    check_request(o->request);
    if (!o->concepts.given() && (o->concepts.modified() || o->references != 8))
      throw ConfigError("--concepts, --concept-axis, --condition and --references need --concept-layer");
    concept_request(o->concepts);  // a bad --concepts fails before any work
    apply_rule_precision(o->rule_precision, o->precision == "float");
    render::get_colormap(o->colormap);
    const std::vector<Item> items = read_list(o->list);
    // Sizes an ONNX or Keras model leaves dynamic come from the first input; the model is read
    // again when an input has another size (a text data set's sentences).
    with_loaded_model(o->precision, o->model, true, o->file, data_shape_of(o->model, items.front().path), [&](auto model) {
      using T = typename decltype(model)::Scalar;
      run_batch<T>(std::move(model), items, *o, [o](const Shape& s) { return load_model_as<T>(o->model, true, o->file, s); });
    });
  });
}

}  // namespace lrp::cli
