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
#include "lrp/rules/composite.hpp"

namespace lrp::cli {
namespace {

struct ExplainOptions {
  std::string model, input, out, rule, composite, method = "lrp", target = "predicted", precision = "float";
  std::vector<std::string> layer_rules;
  std::string dump_layers;
  bool quiet = false, no_canonize = false;
  MethodOptions method_options;
};

template <class T>
void write_layers(const std::string& path, const std::map<std::string, Tensor<T>>& layers) {
  std::vector<std::pair<std::string, Tensor<T>>> arrays(layers.begin(), layers.end());
  io::write_npz(path, arrays);
}

template <class T>
void run_explain(const Model<double>& model_d, const Tensor<double>& x, const ExplainRequest& req, const ExplainOptions& o) {
  const Model<T> model = model_d.convert<T>();
  const Explanation<T> e = explain(model, x.cast<T>(), req);
  const std::size_t k = e.targets_per_sample;
  const Tensor<T> r = to_model_layout(model_d, e.relevance, k > 1 ? 1 : 0);
  if (!all_finite(r)) throw NumericError("the relevance contains NaN or Inf (check the model's weights and the rule's stabiliser)");
  if (!o.out.empty()) io::write_npy(o.out, r);
  if (!o.dump_layers.empty()) write_layers(o.dump_layers, e.layers);
  if (o.quiet) return;
  const std::size_t n = x.dim(0), per = r.size() / (n * k), c = e.output.sample_size();
  for (std::size_t i = 0; i < n && i < 20; ++i) {
    const T* yi = e.output.data() + i * c;
    const std::size_t pred = static_cast<std::size_t>(std::max_element(yi, yi + c) - yi);
    std::cout << "sample " << i << ": predicted " << pred;
    for (std::size_t j = 0; j < k; ++j) {
      double sum = 0;
      for (std::size_t p = 0; p < per; ++p) sum += static_cast<double>(r[(i * k + j) * per + p]);
      if (!e.targets.empty()) {
        const std::size_t t = e.targets[i * k + j];
        std::cout << (j ? "," : "") << "  target " << t << " score " << yi[t] << " relevance sum " << sum;
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
              "(one class per sample) | relevance:FILE (explicit initial relevance [N, outputs])\n"
              "Relevance starts from the target's score (output x one-hot, a trailing SoftMax dropped); gradient methods "
              "use that as the output gradient, so --method gradient gives score x d(score)/dx.\n"
              "OUT has the shape of INPUT, or [N, K, ...] for several targets per sample.");
  cmd->add_option("MODEL", o->model, "Model file (.txt LRP Toolbox format, .onnx)")->required();
  cmd->add_option("INPUT", o->input, "Input array (.npy, .mat, .txt) in the model's layout")->required();
  cmd->add_option("--out", o->out, "Relevance output (.npy)");
  cmd->add_option("--rule", o->rule, "One LRP rule for every layer (see RULE below)");
  cmd->add_option("--composite", o->composite, "Named composite NAME[:PARAMS] (see COMPOSITE below)");
  cmd->add_option("--layer-rule", o->layer_rules, "Override I=RULE for a layer (index as in `lrp info`, node name, or type:NAME); repeatable");
  cmd->add_option("--method", o->method, "Attribution method: " + method_names());
  cmd->add_option("--target", o->target, "Which output(s) to explain (see TARGET below)");
  cmd->add_option("--precision", o->precision, "float (default) or double")->check(CLI::IsMember({"float", "double"}));
  cmd->add_option("--dump-layers", o->dump_layers, "Write the relevance at every layer's output to this .npz");
  cmd->add_option("--noise-level", o->method_options.noise_level, "smoothgrad: noise std relative to the input range (0.1)");
  cmd->add_option("--samples", o->method_options.samples, "smoothgrad: number of samples (20; the last is noise-free)");
  cmd->add_option("--seed", o->method_options.seed, "smoothgrad: random seed (0)");
  cmd->add_option("--steps", o->method_options.steps, "integrated-gradients: number of steps (20)");
  cmd->add_option("--baseline", o->method_options.baseline, "integrated-gradients: constant baseline (0)");
  cmd->add_option("--window", o->method_options.window, "occlusion: window size (8)");
  cmd->add_option("--stride", o->method_options.stride, "occlusion: stride (8)");
  cmd->add_option("--occlusion-value", o->method_options.occlusion_value, "occlusion: value outside the window (0)");
  cmd->add_flag("--quiet", o->quiet, "Print nothing");
  cmd->add_flag("--no-canonize", o->no_canonize, "Keep ONNX BatchNorms as layers (by default they are folded into the preceding Conv/Linear, as Zennit's canonizers do)");
  cmd->callback([o] {
    if (o->out.empty() && o->dump_layers.empty()) throw ConfigError("give --out (and/or --dump-layers) to say where the relevance goes");
    if (!o->rule.empty() && !o->composite.empty()) throw ConfigError("give either --rule or --composite, not both");
    ExplainRequest req;
    req.method = parse_method(o->method);
    req.options = o->method_options;
    req.dump_layers = !o->dump_layers.empty();
    // Target first: it can be checked without loading anything.
    if (o->target.rfind("labels:", 0) == 0) {
      req.target.kind = Target::Kind::PerSample;
      req.target.classes = load_labels(o->target.substr(7));
    } else if (o->target.rfind("relevance:", 0) == 0) {
      req.target.kind = Target::Kind::Relevance;
      req.target.relevance = read_input_array(o->target.substr(10));
      if (!all_finite(req.target.relevance)) throw NumericError(o->target.substr(10) + ": initial relevance contains NaN or Inf");
    } else {
      req.target = parse_target(o->target);
    }
    std::optional<Rule> rule;
    if (!o->rule.empty()) rule = parse_rule(o->rule);
    std::vector<RuleOverride> overrides;
    for (const std::string& s : o->layer_rules) overrides.push_back(parse_rule_override(s));

    Model<double> model = load_model(o->model, !o->no_canonize);
    model.drop_trailing_softmax();
    const Tensor<double> x = load_input(model, o->input);
    const bool rule_based = req.method == Method::LRP || req.method == Method::SmoothGrad || req.method == Method::IntegratedGradients;
    if (rule_based && (rule || !o->composite.empty())) {
      req.rules = rule ? uniform_rules(model, *rule) : composite_rules(model, o->composite);
      apply_overrides(model, req.rules, overrides);
    } else if (req.method == Method::LRP) {
      throw ConfigError("--method lrp needs --rule RULE or --composite NAME");
    } else if (!overrides.empty() || rule || !o->composite.empty()) {
      throw ConfigError("--method " + o->method + " takes no rules");
    }
    if (req.dump_layers && req.method != Method::LRP && req.method != Method::Gradient && req.method != Method::GradientXInput &&
        req.method != Method::DeconvNet && req.method != Method::GuidedBackprop)
      throw ConfigError("--dump-layers is available for lrp and single-pass gradient methods");
    if (o->precision == "double") run_explain<double>(model, x, req, *o);
    else run_explain<float>(model, x, req, *o);
  });
}

}  // namespace lrp::cli
