// lrp evaluate MODEL INPUT (--relevance R | --rule/--composite/--method ...) [--metric M,...]: how
// faithful and how stable relevance maps are (region perturbation, infidelity, max-sensitivity,
// parameter randomization).
#include <iomanip>
#include <iostream>
#include <memory>
#include <sstream>

#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "common.hpp"
#include "lrp/core/error.hpp"
#include "lrp/evaluate/evaluate.hpp"
#include "lrp/graph/input_parts.hpp"
#include "lrp/io/arrays.hpp"
#include "lrp/io/atomic_file.hpp"
#include "lrp/rules/composite.hpp"
#include "request.hpp"

namespace lrp::cli {
namespace {

struct EvaluateOptions {
  std::string model, input, relevance, target = "predicted", precision = "float", rule_precision, out;
  std::string metrics = "pixel-flipping", orders = "morf,lerf", fill = "0", mask;
  std::size_t region = 1, steps = 100, perturbations = 10;
  double fraction = 1.0, infidelity_noise = 0.1, sensitivity_radius = 0.02;
  std::uint64_t seed = 0;
  bool quiet = false, json = false, no_canonize = false;
  ModelFileOptions file;
  RequestOptions request;
  InputOptions image;
};

struct Metrics {
  bool flipping = false, infidelity = false, sensitivity = false, randomization = false;
  bool mass = false, rank = false, pointing = false;  // against --mask
  bool reexplains() const { return sensitivity || randomization; }
  bool localizes() const { return mass || rank || pointing; }
};

Metrics parse_metrics(const std::string& text) {
  Metrics m;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item == "pixel-flipping" || item == "region-perturbation") m.flipping = true;
    else if (item == "infidelity") m.infidelity = true;
    else if (item == "sensitivity" || item == "max-sensitivity") m.sensitivity = true;
    else if (item == "randomization" || item == "parameter-randomization") m.randomization = true;
    else if (item == "mass-accuracy" || item == "relevance-mass") m.mass = true;
    else if (item == "rank-accuracy" || item == "relevance-rank") m.rank = true;
    else if (item == "pointing-game") m.pointing = true;
    else
      throw ConfigError("--metric: unknown metric '" + item +
                        "' (pixel-flipping, infidelity, sensitivity, randomization, mass-accuracy, rank-accuracy, pointing-game)");
  }
  if (!m.flipping && !m.infidelity && !m.sensitivity && !m.randomization && !m.localizes())
    throw ConfigError("--metric: name at least one metric");
  return m;
}

std::vector<evaluate::Order> parse_orders(const std::string& text) {
  std::vector<evaluate::Order> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item == "morf") out.push_back(evaluate::Order::MostRelevantFirst);
    else if (item == "lerf") out.push_back(evaluate::Order::LeastRelevantFirst);
    else if (item == "random") out.push_back(evaluate::Order::Random);
    else throw ConfigError("--orders: unknown order '" + item + "' (morf, lerf, random)");
  }
  if (out.empty()) throw ConfigError("--orders: name at least one order");
  return out;
}

const char* order_name(evaluate::Order o) {
  return o == evaluate::Order::MostRelevantFirst ? "morf" : o == evaluate::Order::LeastRelevantFirst ? "lerf" : "random";
}

// A relevance file as `lrp explain --out` writes it ([N, ...] or [N, K, ...], the model's
// layout) → [N*K, ...] in the engine layout of x.
// A model with several inputs: the .npz of one array per input ([N, shape...] or
// [N, K, shape...]) → the packed [N*K, total].
template <class T>
Tensor<double> read_relevance_parts(const Model<T>& model, const std::string& path) {
  if (io::lower_extension(path) != "npz")
    throw ShapeError(path + ": model '" + model.source + "' has " + std::to_string(model.input_parts.size()) +
                     " inputs; give the relevance as the .npz `lrp explain --out` writes, one array per input");
  std::map<std::string, Tensor<double>> arrays = io::read_npz(path);
  const InputPart& first = model.input_parts.front();
  const auto it = arrays.find(first.name);
  const bool several = it != arrays.end() && it->second.rank() == first.shape.size() + 2;
  if (several)  // K maps per sample: [N, K, shape...] → [N*K, shape...], each part alike
    for (auto& [name, a] : arrays) {
      if (a.rank() < 2) continue;  // pack_input_parts names the misshaped part
      Shape s(a.shape().begin() + 1, a.shape().end());
      s[0] *= a.dim(0);
      a.reshape(s);
    }
  return pack_input_parts(model, arrays, path);
}

template <class T>
Tensor<T> read_relevance(const Model<T>& model, const std::string& path, const Tensor<double>& x) {
  const std::size_t n = x.dim(0), per = x.sample_size();
  Tensor<double> r;
  if (!model.input_parts.empty()) {
    r = read_relevance_parts(model, path);  // [N*K, total]
    if (r.dim(0) == 0 || r.dim(0) % n != 0)
      throw ShapeError(path + ": holds " + std::to_string(r.dim(0)) + " maps for " + std::to_string(n) + " samples");
  } else {
    r = read_input_array(path);
    const std::size_t k = r.rank() == x.rank() + 1 ? r.dim(1) : 1;
    if ((r.rank() != x.rank() && r.rank() != x.rank() + 1) || r.dim(0) != n || k == 0 || r.size() != n * k * per)
      throw ShapeError(path + ": relevance of shape " + shape_str(r.shape()) + " does not fit the input " +
                       shape_str(to_model_layout(model, x).shape()) + " ([N, ...] or [N, K, ...] as `lrp explain --out` writes it)");
    Shape s(r.shape().end() - static_cast<long>(x.rank() - 1), r.shape().end());
    s.insert(s.begin(), n * k);
    r.reshape(s);
    if (model.layout == DataLayout::NHWC) r = nhwc_to_nchw(r);
  }
  if (!std::equal(r.shape().begin() + 1, r.shape().end(), x.shape().begin() + 1))
    throw ShapeError(path + ": relevance maps of shape " + shape_str(Shape(r.shape().begin() + 1, r.shape().end())) +
                     " (engine layout) do not match the input's " + shape_str(Shape(x.shape().begin() + 1, x.shape().end())));
  if (!all_finite(r)) throw NumericError(path + ": relevance contains NaN or Inf");
  return r.cast<T>();
}

// --mask: ground truth per sample, as positions of the grid ([H, W] per sample) or in the
// input's own shape and layout; one sample's mask (no batch axis) serves every sample.
template <class T>
Tensor<double> read_mask(const Model<T>& model, const std::string& path, const Tensor<double>& x, const evaluate::Grid& grid) {
  Tensor<double> m = read_input_array(path);
  const std::size_t plane = grid.height * grid.width, per = grid.size();
  if (!all_finite(m)) throw NumericError(path + ": the mask contains NaN or Inf");
  const bool one = m.size() == plane || m.size() == per;
  const std::size_t rows = one ? 1 : (m.rank() ? m.dim(0) : 0);
  if (rows == 0 || (rows != 1 && rows != x.dim(0)) || (m.size() != rows * plane && m.size() != rows * per))
    throw ShapeError(path + ": a mask of shape " + shape_str(m.shape()) + " fits neither the input's positions (" + std::to_string(grid.height) +
                     " x " + std::to_string(grid.width) + " per sample) nor its shape " + shape_str(to_model_layout(model, x).shape()) +
                     ", for one sample or all " + std::to_string(x.dim(0)));
  if (m.size() == rows * per && per != plane && model.layout == DataLayout::NHWC) {  // the input's own layout
    Shape s = to_model_layout(model, x).shape();
    s[0] = rows;
    m.reshape(s);
    m = nhwc_to_nchw(m);
  }
  m.reshape({rows, m.size() / rows});
  return m;
}

template <class T>
void run_evaluate(Model<T> model, Target target, const Metrics& metrics, const EvaluateOptions& o) {
  model.drop_trailing_softmax();
  if (model.token_input)
    throw ConfigError("model " + o.model + " reads token ids; perturbing ids has no meaning here (evaluate a model on its embeddings)");
  const Tensor<double> xd = load_input(model, o.input, o.image);
  const Tensor<T> x = xd.cast<T>();
  Explainer<T> explainer(model);
  const bool explained = o.relevance.empty();
  ExplainRequest req;
  Tensor<T> relevance, masks;
  std::vector<std::size_t> classes;
  std::size_t k = 1;
  if (explained) {
    req = build_request(model, o.request, o.image);
    req.target = target;
    const Explanation<T> e = explainer.explain(x, req);
    require_finite_result(e.relevance, "the relevance", "check the model's weights and the rule's stabiliser");
    masks = evaluate::score_masks(e.output, target, classes, k);
    Shape s = x.shape();
    s[0] = x.dim(0) * k;
    relevance = e.relevance.reshaped(s);
  } else {
    relevance = read_relevance(model, o.relevance, xd);
    masks = evaluate::score_masks(explainer.predict(x), target, classes, k);
    if (relevance.dim(0) != x.dim(0) * k)
      throw ShapeError(o.relevance + ": holds " + std::to_string(relevance.dim(0) / x.dim(0)) + " maps per sample, the target --target " +
                       o.target + " names " + std::to_string(k));
  }
  const std::size_t maps = relevance.dim(0), n = x.dim(0);
  nlohmann::json summary;
  summary["maps"] = maps;
  const auto mean = [](const std::vector<double>& v) {
    double s = 0;
    for (double e : v) s += e;
    return v.empty() ? 0.0 : s / static_cast<double>(v.size());
  };
  // Per map, the printed figures in order.
  std::vector<std::string> lines(maps);
  const auto add = [&](std::size_t m, const std::string& text) { lines[m] += (lines[m].empty() ? "" : ", ") + text; };
  std::ostringstream means;
  means << std::setprecision(6);
  if (metrics.flipping) {
    evaluate::PerturbationOptions p;
    p.region = o.region, p.steps = o.steps, p.fraction = o.fraction, p.seed = o.seed;
    p.fill = evaluate::parse_fill(o.fill);
    p.orders = parse_orders(o.orders);
    const evaluate::Grid grid = evaluate::grid_of(Shape(x.shape().begin() + 1, x.shape().end()), reads_signals(model));
    const evaluate::PerturbationResult res = evaluate::perturbation_curves(explainer, x, relevance, masks, grid, p);
    const std::size_t points = res.perturbed_fraction.size();
    summary["steps"] = points - 1;
    summary["region"] = o.region;
    for (std::size_t oi = 0; oi < p.orders.size(); ++oi) {
      const std::string name = order_name(p.orders[oi]);
      summary["aopc_" + name] = mean(res.aopc[oi]);
      means << " AOPC " << name << " " << mean(res.aopc[oi]) << ";";
      for (std::size_t m = 0; m < maps; ++m) add(m, "AOPC " + name + " " + std::to_string(res.aopc[oi][m]));
    }
    // ABPC: the mean gap between the LeRF and MoRF curves (larger: the ranking matters more).
    const auto find = [&](evaluate::Order w) { return std::find(p.orders.begin(), p.orders.end(), w) - p.orders.begin(); };
    const auto mi = static_cast<std::size_t>(find(evaluate::Order::MostRelevantFirst)), li = static_cast<std::size_t>(find(evaluate::Order::LeastRelevantFirst));
    if (mi < p.orders.size() && li < p.orders.size()) {
      std::vector<double> abpc(maps);
      for (std::size_t m = 0; m < maps; ++m) abpc[m] = res.aopc[mi][m] - res.aopc[li][m];
      summary["abpc"] = mean(abpc);
      means << " ABPC " << mean(abpc) << ";";
      for (std::size_t m = 0; m < maps; ++m) add(m, "ABPC " + std::to_string(abpc[m]));
    }
    if (!o.out.empty())
      io::write_file_atomic(o.out, [&](std::ostream& out) {
        out << std::setprecision(9) << "order\tmap\tsample\ttarget\tstep\tfraction\tscore\n";
        for (std::size_t oi = 0; oi < p.orders.size(); ++oi)
          for (std::size_t m = 0; m < maps; ++m)
            for (std::size_t s = 0; s < points; ++s)
              out << order_name(p.orders[oi]) << "\t" << m << "\t" << m / k << "\t" << classes[m] << "\t" << s << "\t"
                  << res.perturbed_fraction[s] << "\t" << res.curves[oi][m * points + s] << "\n";
      });
  }
  if (metrics.infidelity) {
    evaluate::InfidelityOptions io_;
    io_.samples = o.perturbations, io_.noise_level = o.infidelity_noise, io_.seed = o.seed;
    const evaluate::InfidelityResult res = evaluate::infidelity(explainer, x, relevance, masks, io_);
    summary["infidelity"] = mean(res.infidelity);
    summary["normalized_infidelity"] = mean(res.normalized_infidelity);
    means << " infidelity " << mean(res.infidelity) << " (normalized " << mean(res.normalized_infidelity) << ");";
    for (std::size_t m = 0; m < maps; ++m)
      add(m, "infidelity " + std::to_string(res.infidelity[m]) + " (normalized " + std::to_string(res.normalized_infidelity[m]) + ")");
  }
  if (metrics.sensitivity) {
    evaluate::SensitivityOptions so;
    so.samples = o.perturbations, so.radius = o.sensitivity_radius, so.seed = o.seed;
    const std::vector<double> s = evaluate::max_sensitivity(explainer, x, relevance, req, classes, so);
    summary["max_sensitivity"] = mean(s);
    means << " max-sensitivity " << mean(s) << ";";
    for (std::size_t m = 0; m < maps; ++m) add(m, "max-sensitivity " + std::to_string(s[m]));
  }
  if (metrics.localizes()) {
    const evaluate::Grid grid = evaluate::grid_of(Shape(x.shape().begin() + 1, x.shape().end()), reads_signals(model));
    const evaluate::LocalizationResult res = evaluate::localization(relevance, n, grid, read_mask(model, o.mask, xd, grid));
    const auto report = [&](bool asked, const char* key, const char* name, const std::vector<double>& v) {
      if (!asked) return;
      summary[key] = mean(v);
      means << " " << name << " " << mean(v) << ";";
      for (std::size_t m = 0; m < maps; ++m) add(m, std::string(name) + " " + std::to_string(v[m]));
    };
    report(metrics.mass, "mass_accuracy", "mass accuracy", res.mass_accuracy);
    report(metrics.rank, "rank_accuracy", "rank accuracy", res.rank_accuracy);
    report(metrics.pointing, "pointing_game", "pointing game", res.pointing_hit);
  }
  std::string cascade;  // randomization: the mean correlation after each layer
  if (metrics.randomization) {
    evaluate::RandomizationOptions ro;
    ro.seed = o.seed;
    const std::vector<evaluate::RandomizationStep> steps = evaluate::parameter_randomization(model, x, relevance, req, classes, ro);
    nlohmann::json list = nlohmann::json::array();
    std::ostringstream line;
    line << std::setprecision(3);
    for (const evaluate::RandomizationStep& st : steps) {
      list.push_back({{"layer", st.layer}, {"spearman", mean(st.spearman)}, {"spearman_abs", mean(st.spearman_abs)}});
      line << (line.tellp() > 0 ? ", " : "") << st.layer << " " << mean(st.spearman) << " (abs " << mean(st.spearman_abs) << ")";
    }
    summary["randomization"] = list;
    summary["randomization_spearman"] = mean(steps.back().spearman);
    summary["randomization_spearman_abs"] = mean(steps.back().spearman_abs);
    means << " randomization Spearman " << mean(steps.back().spearman) << " (abs " << mean(steps.back().spearman_abs) << ");";
    for (std::size_t m = 0; m < maps; ++m)
      add(m, "randomization Spearman " + std::to_string(steps.back().spearman[m]) + " (abs " + std::to_string(steps.back().spearman_abs[m]) + ")");
    cascade = line.str();
  }
  if (!o.quiet) {
    for (std::size_t m = 0; m < maps && m < 20; ++m)
      std::cout << "sample " << m / k << " target " << classes[m] << ": " << lines[m] << "\n";
    if (maps > 20) std::cout << "... " << maps - 20 << " more maps\n";
    std::string tail = means.str();
    if (!tail.empty()) tail.pop_back();
    std::cout << "mean over " << maps << " map" << (maps == 1 ? "" : "s") << " (" << n << " sample" << (n == 1 ? "" : "s") << "):" << tail << "\n";
    if (!cascade.empty()) std::cout << "randomization, Spearman with the original maps as the layers are randomized from the top: " << cascade << "\n";
  }
  if (o.json) std::cout << summary.dump() << std::endl;
}

}  // namespace

void add_evaluate_command(CLI::App& app) {
  auto o = std::make_shared<EvaluateOptions>();
  auto* cmd = app.add_subcommand("evaluate", "Measure relevance maps: region perturbation (pixel flipping, AOPC), infidelity, max-sensitivity, parameter randomization");
  cmd->footer(
      "METRICS (--metric, comma-separated):\n"
      "  pixel-flipping  (alias region-perturbation; Samek et al. 2017) each map's regions (--region squares, summed over\n"
      "                  channels, ranked by mean relevance) are replaced (--fill) in --orders, --perturb-steps times up to\n"
      "                  --perturb-fraction of all regions; the target's score is followed. AOPC = mean over the curve of\n"
      "                  (score before - score now): large for MoRF (most relevant first) when the map is faithful, small\n"
      "                  for LeRF; ABPC = AOPC(MoRF) - AOPC(LeRF). --out writes every curve (TSV).\n"
      "  infidelity      (Yeh et al. 2019; Captum's infidelity) mean of (R . I - (f(x) - f(x - I)))^2 over --perturbations\n"
      "                  Gaussian I of std --infidelity-noise x the sample's range; also with R scaled by its best factor\n"
      "                  (Captum's normalize=True). Smaller is better.\n"
      "  sensitivity     (alias max-sensitivity; Captum's sensitivity_max) max over --perturbations uniform noises in\n"
      "                  [-r, r] (r = --sensitivity-radius) of ||R(x + noise) - R(x)|| / ||R(x)||, the explanation rerun\n"
      "                  for the same targets. Needs the explanation options, not --relevance. Smaller is more stable.\n"
      "  randomization   (alias parameter-randomization; Adebayo et al. 2018, Quantus' ModelParameterRandomisation) the\n"
      "                  Linear/Conv layers' weights are re-drawn (normal, each tensor's own mean and std) from the top\n"
      "                  down, cumulatively; after each layer the maps are explained again for the same targets and\n"
      "                  compared with the originals (Spearman rank correlation, signed and of absolute values). Needs\n"
      "                  the explanation options. Smaller is better: the map depends on what the model learned.\n"
      "  mass-accuracy, rank-accuracy, pointing-game   against the ground truth of --mask (nonzero: the evidence), the\n"
      "                  relevance summed over channels: the share of positive relevance inside the mask (Arras et al.\n"
      "                  2022's relevance mass accuracy), the share of the |mask| most relevant positions inside it\n"
      "                  (relevance rank accuracy), 1 when the most relevant position is inside (Zhang et al. 2018's\n"
      "                  pointing game; the mean is the hit rate). Larger is better.\n"
      "Scores are the explanation's: the output summed over the target's elements, a trailing SoftMax dropped; the targets\n"
      "('predicted' included) are fixed on the unperturbed input.\n"
      "With --json the last line of stdout is one JSON object of the means over all maps.\n\n" +
      rule_grammar() + "\n\n" + composite_help());
  cmd->add_option("MODEL", o->model, kModelFileHelp)->required();
  cmd->add_option("INPUT", o->input, "Input: array (.npy, .mat, .txt) in the model's layout, or a PNG/JPEG image; for a model with several inputs an .npz of one array per input, by name")->required();
  cmd->add_option("--relevance", o->relevance,
                  "The maps to measure, as `lrp explain --out` wrote them ([N, ...] or [N, K, ...] for K targets per sample); "
                  "default: explain INPUT here with --rule, --composite or --method");
  add_request_options(cmd, o->request);
  cmd->add_option("--target", o->target, "Which output(s) the maps explain (as `lrp explain --target`; default predicted)");
  cmd->add_option("--metric", o->metrics,
                  "pixel-flipping (default), infidelity, sensitivity, randomization, mass-accuracy, rank-accuracy, pointing-game; "
                  "comma-separated (see METRICS)");
  cmd->add_option("--mask", o->mask,
                  "mass-accuracy, rank-accuracy, pointing-game: ground-truth masks (nonzero inside), [N, H, W] or [H, W] "
                  "positions, or the input's own shape ([N, ...] or one sample's)");
  cmd->add_option("--region", o->region, "pixel-flipping: side of the square regions (1: single pixels; Samek et al. use 9)")
      ->check(CLI::Range(std::size_t(1), std::size_t(1) << 20));
  cmd->add_option("--perturb-steps", o->steps, "pixel-flipping: points on each curve after the unperturbed one (100; at most the regions)")
      ->check(CLI::Range(std::size_t(1), std::size_t(100000)));
  cmd->add_option("--perturb-fraction", o->fraction, "pixel-flipping: fraction of all regions replaced by the last step (1)")
      ->check(CLI::Range(1e-9, 1.0));
  cmd->add_option("--fill", o->fill,
                  "pixel-flipping: what replaces a region: a number (0, default), mean (the region's own per-channel mean), "
                  "uniform (uniform noise in the sample's value range)");
  cmd->add_option("--orders", o->orders, "pixel-flipping: morf, lerf and/or random (a shuffled baseline); default morf,lerf");
  cmd->add_option("--perturbations", o->perturbations, "infidelity, sensitivity: perturbations per map (10)")
      ->check(CLI::Range(std::size_t(1), std::size_t(100000)));
  cmd->add_option("--infidelity-noise", o->infidelity_noise, "infidelity: noise std relative to the sample's value range (0.1)");
  cmd->add_option("--sensitivity-radius", o->sensitivity_radius, "sensitivity: half-width of the uniform input noise (0.02)");
  cmd->add_option("--eval-seed", o->seed, "Random seed of the uniform fill, the random order, the noises and the random weights (0)");
  cmd->add_option("--out", o->out, "pixel-flipping: write every curve here (TSV: order, map, sample, target, step, fraction, score)");
  cmd->add_option("--precision", o->precision, "float (default) or double")->check(CLI::IsMember({"float", "double"}));
  add_rule_precision_option(cmd, o->rule_precision);
  cmd->add_flag("--json", o->json, "Print a JSON summary (means over all maps) as the last line");
  cmd->add_flag("--quiet", o->quiet, "Print nothing but --json's line");
  add_model_options(cmd, o->file);
  cmd->add_flag("--no-canonize", o->no_canonize, "Keep ONNX BatchNorms as layers (folded into the preceding Conv/Linear by default)");
  add_input_options(cmd, o->image);
  cmd->callback([o] {
    const Metrics metrics = parse_metrics(o->metrics);
    if (metrics.flipping) {
      parse_orders(o->orders);
      evaluate::parse_fill(o->fill);
    } else if (!o->out.empty()) {
      throw ConfigError("--out writes the pixel-flipping curves; add pixel-flipping to --metric");
    }
    if (!(o->infidelity_noise > 0) || !std::isfinite(o->infidelity_noise)) throw ConfigError("--infidelity-noise must be a positive number");
    if (!(o->sensitivity_radius > 0) || !std::isfinite(o->sensitivity_radius)) throw ConfigError("--sensitivity-radius must be a positive number");
    if (metrics.localizes() != !o->mask.empty())
      throw ConfigError(metrics.localizes() ? "--metric mass-accuracy, rank-accuracy and pointing-game need --mask FILE"
                                            : "--mask is read by --metric mass-accuracy, rank-accuracy or pointing-game");
    const bool given = !o->relevance.empty();
    const bool asks_explanation = !o->request.rule.empty() || !o->request.composite.empty() || o->request.method != "lrp" || !o->request.layer_rules.empty();
    if (given && asks_explanation) throw ConfigError("give either --relevance or the explanation options (--rule, --composite, --method), not both");
    if (given && metrics.reexplains())
      throw ConfigError(std::string("--metric ") + (metrics.sensitivity ? "sensitivity" : "randomization") +
                        " reruns the explanation; give --rule, --composite or --method instead of --relevance");
    check_request(o->request);
    apply_rule_precision(o->rule_precision, o->precision == "float");
    Target target = target_from_text(o->target);
    with_loaded_model(o->precision, o->model, !o->no_canonize, o->file, data_shape_of(o->model, o->input),
                      [&](auto model) { run_evaluate(std::move(model), std::move(target), metrics, *o); });
  });
}

}  // namespace lrp::cli
