#include "request.hpp"

#include <cstdlib>
#include <optional>

#include "common.hpp"
#include "lrp/core/error.hpp"
#include "lrp/core/parse.hpp"
#include "lrp/rules/composite.hpp"

namespace lrp::cli {

void add_request_options(CLI::App* cmd, RequestOptions& o) {
  cmd->add_option("--rule", o.rule, "One LRP rule for every layer (see RULE below)");
  cmd->add_option("--composite", o.composite, "Named composite NAME[:PARAMS] (see COMPOSITE below)");
  cmd->add_option("--layer-rule", o.layer_rules, "Override I=RULE for a layer (index as in `lrp info`, node name, or type:NAME); repeatable");
  cmd->add_option("--method", o.method, "Attribution method: " + method_names());
  cmd->add_option("--noise-level", o.method_options.noise_level, "smoothgrad: noise std relative to the input range (0.1)");
  cmd->add_option("--samples", o.samples,
                  "smoothgrad: number of samples (20; the last is noise-free); gradient-shap: random points per input (20); "
                  "shapley-sampling: random orders of the groups (20); lime (50), kernel-shap (25): coalitions of the groups "
                  "the surrogate model is fitted to")
      ->check(CLI::Range(std::size_t(1), kMaxSamples));
  cmd->add_option("--seed", o.method_options.seed, "smoothgrad, gradient-shap, shapley-sampling, lime, kernel-shap: random seed (0)");
  cmd->add_option("--kernel-width", o.kernel_width, "lime: width of the cosine-distance similarity kernel (1)");
  cmd->add_option("--lasso", o.lasso, "lime: L1 penalty of the surrogate linear model (0.01, scikit-learn's Lasso alpha; 0: least squares)");
  cmd->add_option("--stdevs", o.method_options.stdevs, "gradient-shap: standard deviation of the noise added to the inputs (0)");
  cmd->add_option("--noise-type", o.noise_type,
                  "smoothgrad: what is kept of the noisy copies' maps: smoothgrad (their mean, default), smoothgrad-sq (the mean "
                  "of their squares), vargrad (their variance)");
  cmd->add_option("--steps", o.method_options.steps, "integrated-gradients: number of steps (20)")
      ->check(CLI::Range(std::size_t(1), kMaxSamples));
  cmd->add_option("--baseline", o.baseline,
                  "integrated-gradients, deeplift, feature-ablation, shapley-sampling, lime, kernel-shap: the baseline, a constant (0) or an input file (array or image, read like INPUT: "
                  "one sample for every input, or as many samples as INPUT); deeplift-shap, gradient-shap: a file whose "
                  "samples are draws of the baseline distribution");
  cmd->add_option("--feature-mask", o.feature_mask,
                  "feature-ablation, shapley-sampling, lime, kernel-shap: a file of group ids (integers >= 0), one sample's shape or INPUT's, in "
                  "the model's layout (default: every input element its own group)");
  cmd->add_option("--window", o.method_options.window, "occlusion: window size (8)");
  cmd->add_option("--stride", o.method_options.stride, "occlusion: stride (8)");
  cmd->add_option("--occlusion-value", o.method_options.occlusion_value, "occlusion: value outside the window (0)");
  cmd->add_option("--cam-layer", o.method_options.layer,
                  "grad-cam, guided-grad-cam: the layer whose output is weighed (index as in `lrp info`, or node name; default: the "
                  "last layer with a spatial output)");
  cmd->add_flag("--cam-no-relu", [&o](std::int64_t) { o.method_options.cam_relu = false; },
                "grad-cam, guided-grad-cam: keep the map's negative part (no ReLU)");
}

void check_request(const RequestOptions& o) {
  if (!o.rule.empty() && !o.composite.empty()) throw ConfigError("give either --rule or --composite, not both");
  parse_method(o.method);
  parse_noise_type(o.noise_type);
  if (!o.rule.empty()) parse_rule(o.rule);
  for (const std::string& s : o.layer_rules) parse_rule_override(s);
}

namespace {
// A number (inf and nan included, which parse_number then refuses), not a file name.
bool looks_numeric(const std::string& text) {
  char* end = nullptr;
  std::strtod(text.c_str(), &end);
  return !text.empty() && end == text.c_str() + text.size();
}
}  // namespace

template <class T>
ExplainRequest build_request(const Model<T>& model, const RequestOptions& o, const InputOptions& image) {
  check_request(o);
  ExplainRequest req;
  req.method = parse_method(o.method);
  req.options = o.method_options;
  // A file the method would not read is a mistake worth naming, not something to ignore.
  if (looks_numeric(o.baseline)) {
    req.options.baseline = parse_number(o.baseline, "--baseline");
  } else {
    if (baseline_use(req.method) == BaselineUse::None) throw ConfigError("--method " + o.method + " reads no --baseline file");
    req.options.baseline_input = load_input(model, o.baseline, image);
  }
  if (!o.feature_mask.empty()) {
    if (!uses_feature_mask(req.method)) throw ConfigError("--method " + o.method + " reads no --feature-mask");
    req.options.feature_mask = load_input(model, o.feature_mask, image);
  }
  req.options.noise_type = parse_noise_type(o.noise_type);
  req.options.samples = o.samples.value_or(req.method == Method::Lime ? 50 : req.method == Method::KernelShap ? 25 : 20);
  if ((o.kernel_width || o.lasso) && req.method != Method::Lime)
    throw ConfigError("--method " + o.method + " takes no " + (o.kernel_width ? "--kernel-width" : "--lasso") + " (LIME's options)");
  if (o.kernel_width) req.options.kernel_width = *o.kernel_width;
  if (o.lasso) req.options.lasso_alpha = *o.lasso;
  std::vector<RuleOverride> overrides;
  for (const std::string& s : o.layer_rules) overrides.push_back(parse_rule_override(s));
  const bool rule_based = req.method == Method::LRP || req.method == Method::SmoothGrad || req.method == Method::IntegratedGradients;
  const bool has_rules = !o.rule.empty() || !o.composite.empty();
  if (rule_based && has_rules) {
    req.rules = !o.rule.empty() ? uniform_rules(model, parse_rule(o.rule)) : composite_rules(model, o.composite);
    apply_overrides(model, req.rules, overrides);
  } else if (req.method == Method::LRP) {
    throw ConfigError("--method lrp needs --rule RULE or --composite NAME");
  } else if (has_rules || !overrides.empty()) {
    throw ConfigError("--method " + o.method + " takes no rules");
  }
  return req;
}
template ExplainRequest build_request(const Model<double>&, const RequestOptions&, const InputOptions&);
template ExplainRequest build_request(const Model<float>&, const RequestOptions&, const InputOptions&);

Target target_from_text(const std::string& text) {
  // A region prefix (channel:, segment:) before any other form but relevance:FILE.
  for (const std::string prefix : {"channel:", "segment:"}) {
    if (text.rfind(prefix, 0) != 0) continue;
    const std::string rest = text.substr(prefix.size());
    if (rest.rfind("relevance:", 0) == 0)
      throw ConfigError("target '" + text + "': an explicit initial relevance (relevance:FILE) takes no '" + prefix + "'");
    if (rest.rfind("labels:", 0) != 0) return parse_target(text);
    Target t = target_from_text(rest);
    t.region = prefix == "channel:" ? Target::Region::Channel : Target::Region::Segment;
    return t;
  }
  // position:P[:SPEC] (a language model's logits at token P), SPEC possibly labels:FILE.
  if (text.rfind("position:", 0) == 0) {
    const Target head = parse_target(text.substr(0, text.find(':', 9)));  // checks P
    const std::size_t colon = text.find(':', 9);
    if (colon == std::string::npos) return head;
    const std::string rest = text.substr(colon + 1);
    if (rest.rfind("relevance:", 0) == 0)
      throw ConfigError("target '" + text + "': an explicit initial relevance (relevance:FILE) takes no 'position:'");
    Target t = target_from_text(rest);
    if (t.region != Target::Region::Unit) throw ConfigError("target '" + text + "' names two regions");
    t.region = Target::Region::Position;
    t.position = head.position;
    return t;
  }
  Target t;
  if (text.rfind("labels:", 0) == 0) {
    t.kind = Target::Kind::PerSample;
    t.classes = load_labels(text.substr(7));
  } else if (text.rfind("relevance:", 0) == 0) {
    t.kind = Target::Kind::Relevance;
    t.relevance = read_input_array(text.substr(10));
    if (!all_finite(t.relevance)) throw NumericError(text.substr(10) + ": initial relevance contains NaN or Inf");
  } else {
    t = parse_target(text);
  }
  return t;
}

void add_concept_options(CLI::App* cmd, ConceptOptions& o, const std::string& what_maps) {
  cmd->add_option("--concept-layer", o.layer,
                  "Concept relevance (CRP): split each LRP map by the channels of this layer's output (index as in `lrp info`, "
                  "or node name), one map per concept, the relevance that flows through its channels (" + what_maps + ")");
  cmd->add_option("--concepts", o.spec,
                  "With --concept-layer: top:K (each sample's K channels holding the most relevance; default top:5), all (every "
                  "channel), or C1,C2+C3,... (one map per item; '+' joins channels into one concept)");
  cmd->add_option("--concept-axis", o.axis,
                  "With --concept-layer: the axis of the layer's output (per sample) whose entries are the channels: 0 (default; "
                  "C of [C, H, W], a dense layer's units), -1 the last (a transformer's hidden units of [T, D])");
  cmd->add_option("--condition", o.conditions,
                  "With --concept-layer: LAYER:C1+C2 keeps, at that other layer, only the relevance on these channels (same "
                  "axis): each map is then the share that flows through its concept and these channels too (CRP's conditions); "
                  "repeatable");
}

ConceptRequest concept_request(const ConceptOptions& o) {
  if (!o.given()) return {};
  ConceptRequest c = parse_concepts(o.layer, o.spec);
  c.axis = o.axis;
  for (const std::string& text : o.conditions) c.conditions.push_back(parse_concept_condition(text));
  return c;
}

}  // namespace lrp::cli
