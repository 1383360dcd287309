// The LRP Toolbox's own outputs (../shared/reference/lrp_toolbox, float64, see its README)
// reproduced by the library: double within 1e-9 of max|R|, float32 within 1e-3 of max|R|.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "lrp/explain/executor.hpp"
#include "lrp/explain/explain.hpp"
#include "lrp/io/arrays.hpp"
#include "lrp/io/toolbox_text.hpp"
#include "lrp/rules/composite.hpp"
#include "support/compare.hpp"
#include "support/test_paths.hpp"

namespace lrp {
namespace {

struct Case {
  std::string model;  // folder under reference/lrp_toolbox
};

std::string ref_dir(const std::string& m) { return test::shared_path("reference/lrp_toolbox/" + m + "/"); }

std::string model_file(const std::string& m) {
  if (m == "LeNet-5") return test::shared_path("data/lrp_toolbox/models/MNIST/LeNet-5.txt");
  if (m == "xor_net_small") return test::shared_path("data/lrp_toolbox/models/XOR/xor_net_small.txt");
  return ref_dir(m) + "model.txt";
}

Model<double> load(const std::string& m) {
  Model<double> model = io::read_toolbox_model(model_file(m));
  model.drop_trailing_softmax();
  return model;
}

Tensor<double> engine_input(const Model<double>& model, const Tensor<double>& x) {
  return model.layout == DataLayout::NHWC ? nhwc_to_nchw(x) : x;
}

template <class T>
Tensor<T> model_layout(const Model<double>& model, const Tensor<T>& r) {
  if (model.layout != DataLayout::NHWC) return r;
  if (r.rank() == 4) return nchw_to_nhwc(r);
  // [N, K, C, H, W]
  const Shape s = r.shape();
  Tensor<T> t = nchw_to_nhwc(r.reshaped({s[0] * s[1], s[2], s[3], s[4]}));
  t.reshape({s[0], s[1], s[3], s[4], s[2]});
  return t;
}

template <class T>
Tensor<T> run(const std::string& m, const std::vector<Rule>& rules, const Target& target = {}) {
  const Model<double> md = load(m);
  const Model<T> model = md.convert<T>();
  const Tensor<double> x = io::read_npy(ref_dir(m) + "input.npy");
  ExplainRequest req;
  req.rules = rules;
  req.target = target;
  const Explanation<T> e = explain(model, engine_input(md, x).cast<T>(), req);
  return model_layout(md, e.relevance);
}

class ToolboxReference : public ::testing::TestWithParam<std::string> {};

// rule file name → rule text
const std::vector<std::pair<std::string, std::string>> kRules = {
    {"simple", "z"},           {"epsilon_0.01", "epsilon:0.01"}, {"epsilon_1", "epsilon:1"},
    {"alpha2_beta1", "alphabeta:2"}, {"alpha1_beta0", "alphabeta:1"}, {"ww", "w2"},
    {"flat", "flat"}};

TEST_P(ToolboxReference, ForwardOutputMatches) {
  const std::string m = GetParam();
  const Model<double> model = load(m);
  Executor<double> ex(model);
  const Tensor<double> y = ex.forward(engine_input(model, io::read_npy(ref_dir(m) + "input.npy")));
  EXPECT_LT(test::max_rel_error(y, io::read_npy(ref_dir(m) + "output.npy")), 1e-12);
}

TEST_P(ToolboxReference, EveryRuleInDoubleAndFloat) {
  const std::string m = GetParam();
  const Model<double> model = load(m);
  for (const auto& [file, text] : kRules) {
    const Tensor<double> ref = io::read_npy(ref_dir(m) + file + ".npy");
    const std::vector<Rule> rules = uniform_rules(model, parse_rule(text));
    EXPECT_LT(test::max_rel_error(run<double>(m, rules), ref), 1e-9) << m << " " << text << " (double)";
    EXPECT_LT(test::max_rel_error(run<float>(m, rules), ref), 1e-3) << m << " " << text << " (float)";
  }
}

TEST_P(ToolboxReference, PerLayerComposites) {
  const std::string m = GetParam();
  const Model<double> model = load(m);
  for (const std::string first : {"ww", "flat"}) {
    std::vector<Rule> rules = uniform_rules(model, parse_rule("alphabeta:1"));
    apply_overrides(model, rules, {parse_rule_override("0=" + first)});
    const Tensor<double> ref = io::read_npy(ref_dir(m) + "composite_alpha1_first_" + first + ".npy");
    EXPECT_LT(test::max_rel_error(run<double>(m, rules), ref), 1e-9) << m << " first layer " << first;
  }
}

TEST_P(ToolboxReference, AllClassesFromOneForwardPass) {
  const std::string m = GetParam();
  const Model<double> model = load(m);
  Target all;
  all.kind = Target::Kind::All;
  const std::vector<Rule> rules = uniform_rules(model, parse_rule("epsilon:0.01"));
  const Tensor<double> ref = io::read_npy(ref_dir(m) + "epsilon_0.01_per_class.npy");
  const Tensor<double> r = run<double>(m, rules, all);
  EXPECT_EQ(r.shape(), ref.shape());
  EXPECT_LT(test::max_rel_error(r, ref), 1e-9);
  EXPECT_LT(test::max_rel_error(run<float>(m, rules, all), ref), 1e-3);
}

TEST_P(ToolboxReference, UnmaskedOutputAsInitialRelevance) {
  const std::string m = GetParam();
  const Model<double> model = load(m);
  Target t;
  t.kind = Target::Kind::Relevance;
  t.relevance = io::read_npy(ref_dir(m) + "output.npy");
  const Tensor<double> ref = io::read_npy(ref_dir(m) + "simple_all_classes.npy");
  EXPECT_LT(test::max_rel_error(run<double>(m, uniform_rules(model, parse_rule("z")), t), ref), 1e-9);
}

// Relevance after every layer against the toolbox's per-layer dumps (first samples only).
TEST_P(ToolboxReference, PerLayerRelevanceDumps) {
  const std::string m = GetParam();
  const Model<double> model = load(m);
  for (const auto& [file, text] : std::vector<std::pair<std::string, std::string>>{{"epsilon_0.01", "epsilon:0.01"},
                                                                                   {"alpha2_beta1", "alphabeta:2"}}) {
    const auto dump = io::read_npz(ref_dir(m) + "layers_" + file + ".npz");
    const Tensor<double> x_all = io::read_npy(ref_dir(m) + "input.npy");
    const std::size_t n = dump.at("act_in_00").dim(0);
    Tensor<double> x(dump.at("act_in_00").shape());
    std::copy_n(x_all.data(), x.size(), x.data());
    ExplainRequest req;
    req.rules = uniform_rules(model, parse_rule(text));
    req.dump_layers = true;
    const Explanation<double> e = explain(model, engine_input(model, x), req);
    const auto& nodes = model.nodes();
    for (std::size_t i = 0; i < nodes.size(); ++i) {
      char key[64];
      // relevance at the output of layer i = relevance at the input of layer i + 1
      if (i + 1 < nodes.size())
        std::snprintf(key, sizeof key, "R_in_%02zu_%s", i + 1, nodes[i + 1].layer->type_name().c_str());
      else
        std::snprintf(key, sizeof key, "R_out_%02zu_%s", i, nodes[i].layer->type_name().c_str());
      std::string k = key;
      ASSERT_TRUE(dump.count(k)) << "missing reference key " << k;
      Tensor<double> ours = e.layers.at(nodes[i].name);
      if (ours.rank() == 4) ours = nchw_to_nhwc(ours);
      EXPECT_LT(test::max_rel_error(ours, dump.at(k)), 1e-9) << m << " " << text << " " << k;
    }
    EXPECT_EQ(n, e.relevance.dim(0));
  }
}

INSTANTIATE_TEST_SUITE_P(Models, ToolboxReference,
                         ::testing::Values("LeNet-5", "xor_net_small", "synth-mlp-rect", "synth-cnn-maxpool"),
                         [](const auto& param_info) {
                           std::string s = param_info.param;
                           for (char& c : s)
                             if (c == '-') c = '_';
                           return s;
                         });

TEST(ToolboxReference, LegacyLayoutReadsTheSameWeights) {
  const Model<double> a = io::read_toolbox_model(model_file("xor_net_small"));
  const Model<double> b = io::read_toolbox_model(ref_dir("xor_net_small") + "xor_net_small_legacy.txt");
  EXPECT_EQ(io::format_toolbox_model(a), io::format_toolbox_model(b));
}

}  // namespace
}  // namespace lrp
