// lrp explain MODEL INPUT (--rule RULE | --composite SPEC | --method METHOD) ...: relevance maps.
#include <cmath>
#include <iomanip>
#include <iostream>
#include <memory>
#include <optional>

#include "commands.hpp"
#include "common.hpp"
#include "lrp/core/error.hpp"
#include "lrp/explain/explain.hpp"
#include "lrp/io/arrays.hpp"
#include "lrp/io/atomic_file.hpp"
#include "lrp/io/bpe_tokenizer.hpp"
#include "lrp/io/vocabulary.hpp"
#include "lrp/render/colormap.hpp"
#include "lrp/graph/input_parts.hpp"
#include "lrp/render/heatmap.hpp"
#include "lrp/render/png.hpp"
#include "lrp/render/signal.hpp"
#include "lrp/render/token_text.hpp"
#include "lrp/rules/composite.hpp"
#include "request.hpp"

namespace lrp::cli {
namespace {

struct ExplainOptions {
  std::string model, input, out, target = "predicted", precision = "float", rule_precision;
  std::string dump_layers, heatmap, colormap = "bwr", at, tokens, vocab;
  std::string concept_table;
  ConceptOptions concepts;
  ModelFileOptions file;  // --output, --weights
  std::size_t heatmap_scale = 0;
  bool quiet = false, no_canonize = false;
  RequestOptions request;
  InputOptions image;
};

// One heatmap tile per (sample, target): rows are samples, columns targets. Feature vectors of
// square length (MNIST MLPs) are drawn as square images, other vectors (a text model's tokens)
// as a strip of cells, one per entry; a sequence of feature vectors [T, D] (a recurrent net's
// input) as a T x D image, time running down; the signals [C, L] of a 1-D network (`signals`, its
// input) as strips with the signal drawn over its relevance (render::render_signal).
template <class T>
void write_heatmap(const std::string& path, const Tensor<T>& r, std::size_t n, std::size_t k, const ExplainOptions& o,
                   const Tensor<double>* signals = nullptr) {
  if (signals) {
    const std::size_t size = signals->sample_size();
    render::SignalPlotOptions p;
    p.colormap = o.colormap;
    if (o.heatmap_scale) p.strip_height = std::max<std::size_t>(8, o.heatmap_scale);
    const Shape per(signals->shape().begin() + 1, signals->shape().end());
    std::vector<render::RgbImage> tiles;
    for (std::size_t i = 0; i < n; ++i) {
      const std::vector<render::RgbImage> row = signal_tiles(signals->rows(i, 1).reshaped(per), r.data() + i * k * size, k, p);
      tiles.insert(tiles.end(), row.begin(), row.end());
    }
    render::write_png(path, tiles.size() == 1 ? tiles[0] : render::grid(tiles, k));
    return;
  }
  Shape per(r.shape().begin() + (k > 1 ? 2 : 1), r.shape().end());
  bool strip = false;
  if (per.size() == 1) {
    const auto side = static_cast<std::size_t>(std::llround(std::sqrt(static_cast<double>(per[0]))));
    strip = side * side != per[0];
    per = strip ? Shape{1, 1, per[0]} : Shape{1, side, side};
  } else if (per.size() == 2) {
    per.insert(per.begin(), 1);
  }
  if (per.size() != 3) throw ConfigError("--heatmap: relevance of " + shape_str(per) + " is not an image");
  const std::size_t size = shape_numel(per);
  render::HeatmapOptions h;
  h.colormap = o.colormap;
  h.scale = o.heatmap_scale ? o.heatmap_scale
                            : strip ? std::clamp<std::size_t>(768 / per[2], 1, 24) : std::max<std::size_t>(1, 96 / std::max(per[1], per[2]));
  std::vector<render::RgbImage> tiles;
  for (std::size_t i = 0; i < n * k; ++i) {
    Tensor<double> t(per);
    for (std::size_t j = 0; j < size; ++j) t[j] = static_cast<double>(r[i * size + j]);
    tiles.push_back(render::render_heatmap(t, h));
  }
  // Strips stack one sample per row; image tiles fill rows of up to 8 samples.
  const std::size_t columns = k > 1 ? k : strip ? 1 : std::min<std::size_t>(n, 8);
  render::write_png(path, tiles.size() == 1 ? tiles[0] : render::grid(tiles, columns));
}

// --tokens: every map of a text model on its tokens, as coloured HTML (.html, .htm) or a table.
template <class T>
// token_targets: the targets are tokens of the vocabulary (a language model's `position:` target).
void write_token_maps(const Tensor<T>& r, const Tensor<double>& ids, const Explanation<T>& e,
                      const std::optional<io::Vocabulary>& vocab, const ExplainOptions& o, bool token_targets) {
  const std::size_t n = ids.dim(0), k = e.targets_per_sample, length = ids.sample_size();
  if (r.size() != n * k * length)
    throw ShapeError("--tokens: the relevance has " + std::to_string(r.size() / (n * k)) + " values per map, the input " +
                     std::to_string(length) + " tokens per sample");
  // Byte-level BPE tokens as the text they stand for ("Ġthe" -> " the", "Ã©" -> "é").
  const auto token_text = [&](std::size_t id) {
    const std::string& t = vocab->token(id);
    if (!vocab->marks_word_starts()) return t;
    return io::byte_level_text(t).value_or(t);
  };
  std::vector<render::TokenMap> maps;
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < k; ++j) {
      render::TokenMap m;
      m.heading = "sample " + std::to_string(i);
      if (!e.targets.empty()) {
        const std::size_t t = e.targets[i * k + j];
        m.heading += ", target " + std::to_string(t);
        if (token_targets && vocab && t < vocab->size()) m.heading += " '" + token_text(t) + "'";  // a language model's next token
        m.heading += " (score " + std::to_string(e.scores[i * k + j]) + ")";
      }
      for (std::size_t p = 0; p < length; ++p) {
        const auto id = static_cast<std::size_t>(ids[i * length + p]);  // valid ids: the model's embedding read them
        m.tokens.push_back(vocab ? token_text(id) : "[" + std::to_string(id) + "]");
        m.relevance.push_back(static_cast<double>(r[(i * k + j) * length + p]));
      }
      maps.push_back(std::move(m));
    }
  const std::string ext = io::lower_extension(o.tokens);
  const bool marks = vocab && vocab->marks_word_starts();
  io::write_file_atomic(o.tokens, [&](std::ostream& out) {
    if (ext == "html" || ext == "htm") render::write_token_html(out, maps, marks, o.colormap);
    else render::write_token_table(out, maps);
  });
}

// Concepts: one line per map on stdout (up to 20 samples) and, with --concept-table, every map
// in a TSV file: sample, map, channels ('+'-joined), relevance at the layer, the map's sum.
template <class T>
void report_concepts(const Explanation<T>& e, const Tensor<T>& r, std::size_t n, const ExplainOptions& o) {
  const std::size_t k = e.targets_per_sample, per = r.size() / (n * k);
  const auto channels = [&](std::size_t m) {
    std::string s;
    for (std::size_t ch : e.concepts[m]) s += (s.empty() ? "" : "+") + std::to_string(ch);
    return s;
  };
  const auto map_sum = [&](std::size_t m) {
    double sum = 0;
    for (std::size_t p = 0; p < per; ++p) sum += static_cast<double>(r[m * per + p]);
    return sum;
  };
  if (!o.concept_table.empty())
    io::write_file_atomic(o.concept_table, [&](std::ostream& out) {
      out << std::setprecision(9) << "sample\tmap\tchannels\tlayer_relevance\tinput_relevance\n";
      for (std::size_t m = 0; m < n * k; ++m)
        out << m / k << "\t" << m % k << "\t" << channels(m) << "\t" << e.concept_relevance[m] << "\t" << map_sum(m) << "\n";
    });
  if (o.quiet) return;
  for (std::size_t i = 0; i < n && i < 20; ++i) {
    std::cout << "sample " << i << ": target " << e.targets[i * k] << " score " << e.scores[i * k] << "; concepts at " << o.concepts.layer
              << ":";
    for (std::size_t j = 0; j < k && j < 8; ++j)
      std::cout << (j ? "," : "") << "  channel " << channels(i * k + j) << " relevance " << e.concept_relevance[i * k + j]
                << " (map sum " << map_sum(i * k + j) << ")";
    std::cout << (k > 8 ? " ...\n" : "\n");
  }
  if (n > 20) std::cout << "... " << n - 20 << " more samples\n";
}

template <class T>
void run_explain(Model<T> model, Target target, const ExplainOptions& o) {
  model.drop_trailing_softmax();
  if (!o.tokens.empty() && !model.token_input)
    throw ConfigError("--tokens: the model " + o.model + " does not read token ids (use --heatmap for other inputs)");
  std::optional<io::Vocabulary> vocab;  // read before the work, so that a bad file fails at once
  if (!o.vocab.empty()) vocab = io::read_vocabulary(o.vocab);
  if (!model.input_parts.empty()) {  // checked before the work
    if (!o.out.empty() && o.at.empty() && io::lower_extension(o.out) != "npz")
      throw ConfigError("--out " + o.out + ": the model has " + std::to_string(model.input_parts.size()) +
                        " inputs; its relevance is written as .npz, one array per input");
    if (!o.heatmap.empty())
      throw ConfigError("--heatmap: the model has " + std::to_string(model.input_parts.size()) +
                        " inputs; write --out R.npz and draw each input's map with `lrp render R.npz:NAME`");
  }
  const Tensor<double> x = load_input(model, o.input, o.image);
  ExplainRequest req = build_request(model, o.request, o.image);
  req.target = std::move(target);
  req.concepts = concept_request(o.concepts);
  req.dump_layers = !o.dump_layers.empty() || !o.at.empty();
  if (req.dump_layers && req.method != Method::LRP && req.method != Method::Gradient && req.method != Method::GradientXInput &&
      req.method != Method::DeconvNet && req.method != Method::GuidedBackprop)
    throw ConfigError("--dump-layers is available for lrp and single-pass gradient methods");
  const Explanation<T> e = explain(model, x.cast<T>(), req);
  const std::size_t k = e.targets_per_sample;
  Tensor<T> r;
  if (o.at.empty()) {
    r = to_model_layout(model, e.relevance, k > 1 ? 1 : 0);
  } else {
    const auto it = e.layers.find(o.at);
    if (it == e.layers.end()) {
      std::string names;
      for (const Node<T>& n : model.nodes()) names += " " + n.name;
      throw ConfigError("--at: no layer named '" + o.at + "' receives relevance; layers:" + names);
    }
    r = it->second;  // engine layout (NCHW), [N*K, ...] for several targets
  }
  require_finite_result(r, "the relevance", "check the model's weights and the rule's stabiliser");
  if (!o.out.empty() && !model.input_parts.empty() && o.at.empty())
    write_arrays(o.out, split_input_parts(model, r));  // one array per input, [N, (K,) shape...]
  else if (!o.out.empty())
    io::write_npy(o.out, r);
  if (!o.dump_layers.empty()) write_arrays(o.dump_layers, e.layers);
  if (!o.heatmap.empty() && o.at.empty()) write_heatmap(o.heatmap, e.relevance, x.dim(0), k, o, reads_signals(model) ? &x : nullptr);
  if (!o.tokens.empty()) write_token_maps(r, x, e, vocab, o, req.target.region == Target::Region::Position);
  if (!req.concepts.empty()) return report_concepts(e, r, x.dim(0), o);
  if (o.quiet) return;
  const std::size_t n = x.dim(0), per = r.size() / (n * k), c = e.output.sample_size();
  for (std::size_t i = 0; i < n && i < 20; ++i) {
    const T* yi = e.output.data() + i * c;
    const bool region = req.target.region == Target::Region::Channel || req.target.region == Target::Region::Segment;
    if (region) std::cout << "sample " << i << ":";
    else if (req.target.region == Target::Region::Position) std::cout << "sample " << i << ": position " << req.target.position;
    else std::cout << "sample " << i << ": predicted " << static_cast<std::size_t>(std::max_element(yi, yi + c) - yi);
    for (std::size_t j = 0; j < k; ++j) {
      double sum = 0;
      for (std::size_t p = 0; p < per; ++p) sum += static_cast<double>(r[(i * k + j) * per + p]);
      if (!e.targets.empty()) {
        const std::size_t t = e.targets[i * k + j];
        std::cout << (j ? "," : "") << (region ? "  channel " : "  target ") << t << " score " << e.scores[i * k + j]
                  << " relevance sum " << sum;
      } else {
        std::cout << "  relevance sum " << sum;
      }
      if (k > 3 && j == 2) {
        std::cout << " ...";
        break;
      }
    }
    std::cout << "\n";
  }
  if (n > 20) std::cout << "... " << n - 20 << " more samples\n";
}

}  // namespace

void add_explain_command(CLI::App& app) {
  auto o = std::make_shared<ExplainOptions>();
  auto* cmd = app.add_subcommand("explain", "Explain predictions: relevance of every input for the target class(es)");
  cmd->footer(rule_grammar() + "\n\n" + composite_help() +
              "\n\nTARGET: predicted (default) | K | K1,K2,... (one map each) | all (one map per class) | labels:FILE "
              "(one class per sample) | relevance:FILE (explicit initial relevance [N, outputs...])\n"
              "  On outputs with channels [N, K, H, W] (segmentation): channel:SPEC explains channel K at every position, "
              "segment:SPEC at the positions where K is the largest channel (SPEC: any of the above but relevance:FILE; "
              "predicted = the channel with the largest such score).\n"
              "  On outputs with a position axis [N, T, V] (a language model's logits for every token): position:P[:SPEC] explains "
              "the logits of token position P (negative: from the end, -1 the last), SPEC as above (default predicted: the "
              "most likely next token there).\n"
              "Relevance starts from the target's score (output x one-hot, a trailing SoftMax dropped); gradient methods "
              "use that as the output gradient, so --method gradient gives score x d(score)/dx.\n"
              "OUT has the shape of INPUT, or [N, K, ...] for several targets (or concepts) per sample.");
  cmd->add_option("MODEL", o->model, kModelFileHelp)->required();
  cmd->add_option("INPUT", o->input, "Input: array (.npy, .mat, .txt) in the model's layout, or a PNG/JPEG image; for a model with several inputs an .npz of one array per input, by name")->required();
  cmd->add_option("--out", o->out, "Relevance output (.npy)");
  add_request_options(cmd, o->request);
  cmd->add_option("--target", o->target, "Which output(s) to explain (see TARGET below)");
  cmd->add_option("--precision", o->precision, "float (default) or double")->check(CLI::IsMember({"float", "double"}));
  add_rule_precision_option(cmd, o->rule_precision);
  cmd->add_option("--dump-layers", o->dump_layers, "Write the relevance at every layer's output to this .npz (keys: layer names)");
  cmd->add_option("--at", o->at, "Write the relevance arriving at this layer's output (a name from `lrp info`) instead of the input's (NCHW)");
  add_concept_options(cmd, o->concepts, "OUT [N, K, ...], a heatmap column each; channels and relevance printed");
  cmd->add_option("--concept-table", o->concept_table,
                  "With --concept-layer: also write every map's channels and relevance (at the layer, and summed over the "
                  "input) to this TSV file");
  cmd->add_option("--heatmap", o->heatmap,
                  "Also render the relevance to this PNG (rows: samples, columns: targets; a 1-D network's signals [C, L] as "
                  "one strip per channel, the signal drawn over its relevance)");
  cmd->add_option("--colormap", o->colormap, "Colour map of --heatmap (default bwr; see `lrp render --help`)");
  cmd->add_option("--heatmap-scale", o->heatmap_scale, "Pixel enlargement of --heatmap (default: about 96 px per map); for signals the strip height (default 48)")
      ->check(CLI::Range(std::size_t(0), std::size_t(1024)));
  cmd->add_option("--tokens", o->tokens,
                  "Text models: also write every map on its tokens, as coloured text (.html) or a table (.tsv: map, "
                  "position, token, relevance)");
  cmd->add_option("--vocab", o->vocab,
                  "Vocabulary for --tokens: vocab.txt (one token per line) or a Hugging Face tokenizer.json (default: "
                  "tokens shown as [id])");
  cmd->add_flag("--quiet", o->quiet, "Print nothing");
  add_model_options(cmd, o->file);
  cmd->add_flag("--no-canonize", o->no_canonize, "Keep ONNX BatchNorms as layers (by default they are folded into the preceding Conv/Linear, as Zennit's canonizers do)");
  add_input_options(cmd, o->image);
  cmd->callback([o] {
    if (o->out.empty() && o->dump_layers.empty() && o->heatmap.empty() && o->tokens.empty())
      throw ConfigError("give --out, --heatmap, --tokens or --dump-layers to say where the relevance goes");
    if (!o->vocab.empty() && o->tokens.empty()) throw ConfigError("--vocab is used by --tokens; give --tokens FILE too");
    if (!o->tokens.empty() && !o->at.empty()) throw ConfigError("--tokens shows the input's relevance; it cannot be combined with --at");
    if (!o->concepts.given() && (!o->concept_table.empty() || o->concepts.modified()))
      throw ConfigError("--concepts, --concept-axis, --condition and --concept-table need --concept-layer");
    if (o->concepts.given() && (!o->at.empty() || !o->dump_layers.empty()))
      throw ConfigError("--concept-layer splits the input's map; it cannot be combined with --at or --dump-layers");
    concept_request(o->concepts);  // a bad --concepts fails before any work
    render::get_colormap(o->colormap);  // unknown names fail before any work
    check_request(o->request);
    apply_rule_precision(o->rule_precision, o->precision == "float");
    Target target = target_from_text(o->target);
    with_loaded_model(o->precision, o->model, !o->no_canonize, o->file, data_shape_of(o->model, o->input),
                      [&](auto model) { run_explain(std::move(model), std::move(target), *o); });
  });
}

}  // namespace lrp::cli
