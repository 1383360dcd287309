#pragma once
// The options that choose what an explanation computes (rules, composite, method, target), shared
// by `lrp explain` and `lrp batch`.
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "lrp/explain/explain.hpp"
#include "common.hpp"
#include "lrp/graph/model.hpp"

namespace lrp::cli {

// The most noisy copies, coalitions or path steps one explanation may ask for (--samples, --steps).
inline constexpr std::size_t kMaxSamples = 1000000;

struct RequestOptions {
  std::string rule, composite, method = "lrp", noise_type = "smoothgrad";
  std::string baseline = "0";  // integrated gradients: a number or an input file
  std::string feature_mask;    // feature ablation, Shapley sampling, LIME, KernelSHAP: a file of group ids
  std::vector<std::string> layer_rules;
  // Unset: the method's default (samples: 50 for LIME, 25 for KernelSHAP, else 20); LIME's
  // options given to another method are refused.
  std::optional<std::size_t> samples;
  std::optional<double> kernel_width, lasso;
  MethodOptions method_options;
};
void add_request_options(CLI::App* cmd, RequestOptions& o);

// Parses and checks the options against the model (rules per node, method; a baseline file is
// read like an input, with `image`); the target is left at its default for the caller to set.
template <class T>
ExplainRequest build_request(const Model<T>& model, const RequestOptions& o, const InputOptions& image);
// Checks what can be checked before the model is loaded (rule and method grammar).
void check_request(const RequestOptions& o);

// Concept relevance (--concept-layer, --concepts, --concept-axis), shared by explain and batch.
struct ConceptOptions {
  std::string layer, spec = "top:5";
  long axis = 0;
  std::vector<std::string> conditions;  // LAYER:C1+C2 each
  bool given() const { return !layer.empty(); }
  // Whether a concept option other than the layer was changed from its default.
  bool modified() const { return spec != "top:5" || axis != 0 || !conditions.empty(); }
};
// `what_maps` says where each input's concept maps go (explain: OUT; batch: each input's file).
void add_concept_options(CLI::App* cmd, ConceptOptions& o, const std::string& what_maps);
// The request (an empty one without --concept-layer); throws ConfigError on a bad --concepts.
ConceptRequest concept_request(const ConceptOptions& o);

// Target text (predicted, K, K1,K2, all, labels:FILE, relevance:FILE) → Target.
Target target_from_text(const std::string& text);

}  // namespace lrp::cli
