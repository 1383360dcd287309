// Zennit 1.0.0 references for small modern CNNs exported to ONNX (tests/fixtures/zennit_modern,
// README there): vgg_bn, resnet, densenet, mobilenet, misc, gates, upconv, unet; seven LRP
// composites (excitation backprop included) with per-layer relevances, gradient, gradient x input,
// DeconvNet, Guided Backprop (as methods and as composites), BetaSmooth, Integrated Gradients and
// Occlusion. The ONNX file is loaded as the CLI does: BatchNorms folded into the preceding
// Conv (fold_batch_norms, Zennit's SequentialMergeBatchNorm); residual Adds are Add layers with
// the Norm rule (Zennit's Sum modules). The non-LRP methods run on the plain model (no folding),
// like the fixtures.
//
// Error metric max|ours - ref| / max|ref| <= 1e-4, in float and double (2e-4 for lrp_epsilon of
// densenet and misc, whose float32 references are ill-conditioned: the README's
// float64_max_rel_diff is ~4e-5 there).
//
// Per-layer relevance: layers.json names, for every torch module, the ONNX node whose output
// is the module's output. That node is found in our model by name (layer names are the ONNX
// node names); a BatchNorm that fold_batch_norms merged into a Conv is found under the Conv's
// name (the merged node produces the BN's output); Dropout modules already point at the
// preceding Relu, the residual Sum modules at the block's Add. Every module must be matched.
// The rule each module got (summary.json) is compared with ours for the same node.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <nlohmann/json.hpp>

#include "lrp/core/kernels.hpp"
#include "lrp/explain/explain.hpp"
#include "lrp/graph/canonize.hpp"
#include "lrp/io/arrays.hpp"
#include "lrp/io/onnx.hpp"
#include "lrp/rules/composite.hpp"
#include "support/onnx_test_util.hpp"

namespace lrp::test {
namespace {

std::string fixture_dir() {
  const std::string in_repo = source_path("tests/fixtures/zennit_modern");
  if (std::filesystem::exists(in_repo + "/README.md")) return in_repo;
  return "/work/wt-fixtures/tests/fixtures/zennit_modern";  // the fixtures engineer's worktree
}

struct Fixture {
  std::string dir;
  Model<double> plain, canonized;
  std::vector<FoldedBatchNorm> folded;
  Tensor<double> input, logits, seed;
  nlohmann::json layers, summary;
};

const Fixture& fixture(const std::string& name) {
  static std::map<std::string, Fixture> cache;
  auto it = cache.find(name);
  if (it != cache.end()) return it->second;
  Fixture f;
  f.dir = fixture_dir() + "/" + name;
  f.plain = io::read_onnx_model(f.dir + "/model.onnx");
  f.canonized = f.plain;
  f.folded = fold_batch_norms(f.canonized);
  f.input = io::read_npy(f.dir + "/input.npy");
  f.logits = io::read_npy(f.dir + "/logits.npy");
  f.seed = io::read_npy(f.dir + "/initial_relevance.npy");
  std::ifstream(f.dir + "/layers.json") >> f.layers;
  std::ifstream(f.dir + "/summary.json") >> f.summary;
  return cache.emplace(name, std::move(f)).first->second;
}

bool available(const std::string& name) { return std::filesystem::exists(fixture_dir() + "/" + name + "/model.onnx"); }

// Epsilon 1e-6 on every layer amplifies float32 rounding where z is near 0: on these models
// Zennit's own float32 result is 1.7e-5 to 4.6e-5 away from its float64 one
// (summary.json, float64_max_rel_diff), and our double path matches the float64 one.
// Gamma without biases likewise: Zennit's float32 maps are 0.8e-4 to 2.1e-4 from its float64 ones
// on these models, and our double path is that far from the float32 files.
double tolerance(const std::string& model, const std::string& file) {
  if (file == "lrp_epsilon_gamma_box_nobias") return 3e-4;
  return file == "lrp_epsilon" && (model == "densenet" || model == "misc" || model == "unet") ? 2e-4 : 1e-4;
}

template <class T>
Explanation<T> run(const Model<double>& model, const Fixture& f, Method method, const std::vector<Rule>& rules) {
  ExplainRequest req;
  req.method = method;
  req.rules = rules;
  req.target.kind = Target::Kind::Relevance;
  req.target.relevance = f.seed;
  req.dump_layers = method == Method::LRP;
  req.options.steps = 20;
  req.options.window = 4;
  req.options.stride = 4;
  return explain(model.convert<T>(), f.input.cast<T>(), req);
}

// Zennit's class name for the rule we give a node.
std::string zennit_rule_name(const Rule& r) {
  switch (r.kind) {
    case RuleKind::Epsilon: return "Epsilon";
    case RuleKind::ZPlus: return "ZPlus";
    case RuleKind::AlphaBeta: return "AlphaBeta";
    case RuleKind::Gamma: return "Gamma";
    case RuleKind::ZBox: return "ZBox";
    case RuleKind::Flat: return "Flat";
    case RuleKind::Norm: return "Norm";
    case RuleKind::Pass: return "Pass";
    default: return "(gradient)";
  }
}

// Our node name for a torch module, or "" when it has none.
std::string node_for_module(const Fixture& f, const Model<double>& model, const std::string& module) {
  const std::string onnx_node = f.layers.at(module).at("onnx_node");
  for (const Node<double>& n : model.nodes())
    if (n.name == onnx_node) return n.name;
  for (const FoldedBatchNorm& fb : f.folded)
    if (fb.batch_norm == onnx_node) return fb.into;
  return "";
}

struct Composite {
  std::string file, spec;
  std::string skip_model = "";  // a model whose fixture is no reference for this composite
};
const std::vector<Composite> kComposites = {
    {"lrp_epsilon", "epsilon"},
    {"lrp_epsilon_plus", "epsilon_plus"},
    {"lrp_epsilon_plus_flat", "epsilon_plus_flat"},
    {"lrp_epsilon_alpha2_beta1", "epsilon_alpha2_beta1"},
    {"lrp_epsilon_alpha2_beta1_flat", "epsilon_alpha2_beta1_flat"},
    {"lrp_epsilon_gamma_box", "epsilon_gamma_box:-3,3"},
    // gates: the fixtures' Zennit path writes the squeeze-excitation product x + (x * s - x).detach()
    // (gate constant, relevance to x unscaled: lrp's LRP rule for a gated product), while
    // excitation backprop gives every layer but sums, pools and Linear/Conv its gradient.
    {"lrp_excitation_backprop", "excitation_backprop", "gates"},
    // zero_params='bias' (COMPOSITE/nobias): the final maps only, no per-layer files
    {"lrp_epsilon_plus_flat_nobias", "epsilon_plus_flat/nobias"},
    {"lrp_epsilon_alpha2_beta1_nobias", "epsilon_alpha2_beta1/nobias"},
    {"lrp_epsilon_gamma_box_nobias", "epsilon_gamma_box:-3,3/nobias"},
};
const std::vector<std::string> kModels = {"vgg_bn", "resnet", "densenet", "mobilenet", "misc", "gates", "upconv", "unet"};

template <class T>
void check_composite(const std::string& model_name, const Composite& c) {
  if (model_name == c.skip_model) return;
  const Fixture& f = fixture(model_name);
  const Model<double>& m = f.canonized;
  const std::vector<Rule> rules = composite_rules(m, c.spec);
  const Explanation<T> e = run<T>(m, f, Method::LRP, rules);
  const double tol = tolerance(model_name, c.file);
  const char* prec = sizeof(T) == 4 ? "float" : "double";
  const double err = max_rel_error(e.relevance, io::read_npy(f.dir + "/" + c.file + ".npy"));
  EXPECT_LE(err, tol) << model_name << " " << c.file << " " << prec;

  // Per-layer relevance and the rule of every module.
  const std::string layers_file = f.dir + "/" + c.file + "_layers.npz";
  if (!std::filesystem::exists(layers_file)) {
    std::cout << "[ zennit_modern ] " << model_name << " " << c.file << " " << prec << " " << err << "\n";
    return;
  }
  const std::map<std::string, Tensor<double>> ref_layers = io::read_npz(layers_file);
  const nlohmann::json& zennit_rules = f.summary.at("methods").at(c.file).at("rules");
  double worst = 0;
  for (const auto& [key, ref] : ref_layers) {
    const std::string module = key.substr(0, key.size() - std::string(".output").size());
    const std::string node = node_for_module(f, m, module);
    ASSERT_NE(node, "") << model_name << ": module " << module << " has no node";
    ASSERT_TRUE(e.layers.count(node)) << model_name << ": no relevance at " << node;
    const double layer_err = max_rel_error(e.layers.at(node), ref);
    EXPECT_LE(layer_err, tol) << model_name << " " << c.file << " " << prec << " layer " << module << " = node " << node;
    worst = std::max(worst, layer_err);
    const bool merged_bn = node != std::string(f.layers.at(module).at("onnx_node"));
    if (zennit_rules.contains(module) && !merged_bn) {
      std::size_t idx = 0;
      while (m.nodes()[idx].name != node) ++idx;
      EXPECT_EQ(zennit_rule_name(rules[idx]), std::string(zennit_rules.at(module))) << model_name << " " << c.file << " " << module;
    }
  }
  std::cout << "[ zennit_modern ] " << model_name << " " << c.file << " " << prec << " " << err << ", layers " << worst << "\n";
}

class ZennitModern : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (!available(GetParam())) GTEST_SKIP() << "no fixture " << GetParam() << " in " << fixture_dir();
  }
};

TEST_P(ZennitModern, LogitsAndFolding) {
  const Fixture& f = fixture(GetParam());
  for (const Model<double>* m : {&f.plain, &f.canonized}) {
    EXPECT_LE(max_rel_error(run_forward<double>(*m, f.input), f.logits), 1e-5);
    EXPECT_LE(max_rel_error(run_forward<float>(*m, f.input), f.logits), 1e-5);
  }
  // The BatchNorms merged by Zennit's canonizer are exactly the ones we fold.
  std::set<std::string> ours, theirs;
  for (const FoldedBatchNorm& fb : f.folded) ours.insert(fb.batch_norm);
  for (const auto& pair : f.summary.at("merged_batchnorms")) {
    const std::string bn = pair.is_array() ? std::string(pair.at(1)) : std::string(pair.at("batchnorm"));
    theirs.insert(std::string(f.layers.at(bn).at("onnx_node")));
  }
  EXPECT_EQ(ours, theirs);
}

TEST_P(ZennitModern, Composites) {
  for (const Composite& c : kComposites) {
    check_composite<float>(GetParam(), c);
    check_composite<double>(GetParam(), c);
  }
}

// bfloat16 rule convolutions (RulePrecision::BFloat16; float32 where the CPU lacks them):
// every composite within 1e-2 of max|R| of Zennit's float32 relevance (measured 3e-4 to 5.4e-3;
// before alpha-beta stopped deriving z- = y - z+ under bfloat16, MobileNet's alpha2-beta1 was
// off by 0.25).
TEST_P(ZennitModern, CompositesWithBf16RulePasses) {
  const Fixture& f = fixture(GetParam());
  const RulePrecision old = rule_precision();
  set_rule_precision(RulePrecision::BFloat16);
  for (const Composite& c : kComposites) {
    if (GetParam() == c.skip_model) continue;
    const Explanation<float> e = run<float>(f.canonized, f, Method::LRP, composite_rules(f.canonized, c.spec));
    const double err = max_rel_error(e.relevance, io::read_npy(f.dir + "/" + c.file + ".npy"));
    EXPECT_LE(err, 1e-2) << GetParam() << " " << c.file;
    std::cout << "[ zennit_modern ] " << GetParam() << " " << c.file << " bf16 rules " << err << "\n";
  }
  set_rule_precision(old);
}

template <class T>
void check_method(const std::string& model_name, Method method, const std::string& file) {
  const Fixture& f = fixture(model_name);
  const Explanation<T> e = run<T>(f.plain, f, method, {});
  const double err = max_rel_error(e.relevance, io::read_npy(f.dir + "/" + file + ".npy"));
  EXPECT_LE(err, 1e-4) << model_name << " " << file << (sizeof(T) == 4 ? " float" : " double");
  std::cout << "[ zennit_modern ] " << model_name << " " << file << (sizeof(T) == 4 ? " float " : " double ") << err << "\n";
}

TEST_P(ZennitModern, OtherMethods) {
  const std::vector<std::pair<Method, std::string>> methods = {
      {Method::Gradient, "gradient"},
      {Method::GradientXInput, "gradient_x_input"},
      {Method::DeconvNet, "deconvnet"},
      {Method::GuidedBackprop, "guided_backprop"},
      {Method::IntegratedGradients, "integrated_gradients"},
      {Method::Occlusion, "occlusion"},
  };
  for (const auto& [method, file] : methods) {
    check_method<float>(GetParam(), method, file);
    check_method<double>(GetParam(), method, file);
  }
}

// Zennit's gradient-type composites (its Gradient attributor with DeconvNet, GuidedBackprop or
// BetaSmooth(10) on the plain model) as our composites of the same names.
TEST_P(ZennitModern, GradientComposites) {
  const Fixture& f = fixture(GetParam());
  for (const auto& [spec, file] : std::vector<std::pair<std::string, std::string>>{
           {"deconvnet", "deconvnet"}, {"guided_backprop", "guided_backprop"}, {"beta_smooth", "beta_smooth"}, {"beta_smooth:10", "beta_smooth"}}) {
    const std::vector<Rule> rules = composite_rules(f.plain, spec);
    const double err_f = max_rel_error(run<float>(f.plain, f, Method::LRP, rules).relevance, io::read_npy(f.dir + "/" + file + ".npy"));
    const double err_d = max_rel_error(run<double>(f.plain, f, Method::LRP, rules).relevance, io::read_npy(f.dir + "/" + file + ".npy"));
    EXPECT_LE(err_f, 1e-4) << GetParam() << " " << spec << " float";
    EXPECT_LE(err_d, 1e-4) << GetParam() << " " << spec << " double";
    std::cout << "[ zennit_modern ] " << GetParam() << " composite " << spec << " float " << err_f << " double " << err_d << "\n";
  }
}

// iNNvestigate's DeepTaylor analyzers as composites: ZPlus without bias on every Linear/Conv
// (the bounded one: ZBox on the first), Zennit's layer map elsewhere; "/nobias" on a composite
// marks every rule that takes it once.
TEST(CompositeMaps, DeepTaylorAndNoBias) {
  if (!available("resnet")) GTEST_SKIP() << "no fixture resnet in " << fixture_dir();
  const Fixture& f = fixture("resnet");
  const Model<double>& m = f.canonized;
  for (const std::string spec : {"deep_taylor", "deep_taylor_bounded:-3,3", "deep_taylor/nobias", "epsilon_plus/nobias"}) {
    SCOPED_TRACE(spec);
    const std::vector<Rule> rules = composite_rules(m, spec);
    bool first = true;
    std::size_t affine = 0;
    for (std::size_t i = 0; i < rules.size(); ++i) {
      const LayerKind k = m.nodes()[i].layer->kind();
      const Rule& r = rules[i];
      if (k == LayerKind::Conv2d || k == LayerKind::Linear) {
        ++affine;
        const RuleKind want = spec.rfind("deep_taylor_bounded", 0) == 0 && first ? RuleKind::ZBox
                              : spec == "epsilon_plus/nobias" && k == LayerKind::Linear ? RuleKind::Epsilon
                                                                                         : RuleKind::ZPlus;
        EXPECT_EQ(r.kind, want) << m.nodes()[i].name;
        EXPECT_TRUE(r.zero_bias || r.kind == RuleKind::ZBox) << m.nodes()[i].name;  // (z^B has no bias to drop)
        EXPECT_EQ(r.text.find("/nobias/nobias"), std::string::npos) << r.text;
        first = false;
      } else if (k == LayerKind::Add) {
        EXPECT_EQ(r.kind, RuleKind::Norm);
      } else if (k == LayerKind::Activation) {
        EXPECT_EQ(r.kind, RuleKind::Pass);
      }
    }
    EXPECT_GE(affine, 7u);
  }
  EXPECT_FALSE(composite_rules(m, "epsilon_plus")[0].zero_bias);
  EXPECT_THROW(composite_rules(m, "deep_taylor_bounded:3,-3"), ConfigError);
  EXPECT_THROW(composite_rules(m, "deep_taylor:1"), ConfigError);
  EXPECT_THROW(composite_rules(m, "deconvnet/nobias"), ConfigError);
}

// iNNvestigate's sequential presets: AlphaBeta(1,0) (A) or (2,1) (B) on every convolution,
// Epsilon(0.1, or as given) on every Linear, Flat on the first of them for the _flat ones;
// iNNvestigate's analyzer names ("lrp.sequential_preset_a") are the same composites.
TEST(CompositeMaps, InnvestigatePresets) {
  if (!available("resnet")) GTEST_SKIP() << "no fixture resnet in " << fixture_dir();
  const Model<double>& m = fixture("resnet").canonized;
  for (const std::string spec : {"sequential_preset_a", "sequential_preset_b:0.25", "lrp.sequential_preset_a_flat",
                                 "lrp.sequential_preset_b_flat"}) {
    SCOPED_TRACE(spec);
    const bool b = spec.find("preset_b") != std::string::npos, flat = spec.find("_flat") != std::string::npos;
    const std::vector<Rule> rules = composite_rules(m, spec);
    bool first = true;
    std::size_t convs = 0, linears = 0;
    for (std::size_t i = 0; i < rules.size(); ++i) {
      const LayerKind k = m.nodes()[i].layer->kind();
      const Rule& r = rules[i];
      if (k != LayerKind::Conv2d && k != LayerKind::Linear) continue;
      if (first && flat) {
        EXPECT_EQ(r.kind, RuleKind::Flat) << m.nodes()[i].name;
      } else if (k == LayerKind::Conv2d) {
        ++convs;
        EXPECT_EQ(r.kind, RuleKind::AlphaBeta) << m.nodes()[i].name;
        EXPECT_EQ(r.alpha, b ? 2.0 : 1.0);
        EXPECT_EQ(r.beta, b ? 1.0 : 0.0);
      } else {
        ++linears;
        EXPECT_EQ(r.kind, RuleKind::Epsilon) << m.nodes()[i].name;
        EXPECT_EQ(r.epsilon, spec == "sequential_preset_b:0.25" ? 0.25 : 0.1);
      }
      first = false;
    }
    EXPECT_GE(convs, 5u);  // resnet: 6 convolutions, the first Flat in the _flat presets
    EXPECT_GE(linears, 1u);
  }
  // The same rules under either name.
  const std::vector<Rule> a = composite_rules(m, "sequential_preset_a"), b = composite_rules(m, "lrp.sequential_preset_a");
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].text, b[i].text);
  EXPECT_THROW(composite_rules(m, "sequential_preset_a:1,2"), ConfigError);
  EXPECT_THROW(composite_rules(m, "lrp.sequential_preset_c"), ConfigError);
}

INSTANTIATE_TEST_SUITE_P(Models, ZennitModern, ::testing::ValuesIn(kModels));

}  // namespace
}  // namespace lrp::test
