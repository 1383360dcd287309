// The shared Zennit references (../shared/reference/zennit/{mlp,mnist_cnn}, README there):
// ONNX models exported from PyTorch, relevance computed by Zennit 1.0.0 in float32.
//
// Checked, in float and in double, with the error metric max|ours - ref| / max|ref|:
//   logits                                         <= 1e-4
//   lrp_epsilon (composite epsilon), lrp_epsilon_plus_flat, lrp_epsilon_alpha2_beta1,
//   gradient (method gradient seeded with the score = the file), gradient_x_input  <= 1e-4
//   <method>_layers.npz, each key separately                                        <= 1e-4
// Seeds: initial_relevance.npy (one-hot x logit) as an explicit initial relevance.
//
// Layer matching: the references are nn.Sequential models; key "<i>.output" is the relevance
// at the output of module i. The exporter writes exactly one ONNX node per module, in module
// order (Gemm/Conv, Relu, MaxPool, Flatten, ...), named "/<i>/<Op>", so module i is node i of
// the imported model; the test checks both the position and the "/<i>/" name prefix.
#include <gtest/gtest.h>

#include <filesystem>
#include <iostream>
#include <map>

#include "lrp/explain/explain.hpp"
#include "lrp/graph/canonize.hpp"
#include "lrp/io/arrays.hpp"
#include "lrp/io/onnx.hpp"
#include "lrp/rules/composite.hpp"
#include "support/onnx_test_util.hpp"

namespace lrp::test {
namespace {

constexpr double kTol = 1e-4;

struct Reference {
  std::string dir;
  Model<double> model;
  Tensor<double> input, logits, seed;
};

const Reference& reference(const std::string& name) {
  static std::map<std::string, Reference> cache;
  auto it = cache.find(name);
  if (it == cache.end()) {
    Reference r;
    r.dir = shared_path("reference/zennit/" + name);
    r.model = io::read_onnx_model(r.dir + "/model.onnx");
    fold_batch_norms(r.model);  // a no-op here: no BatchNorm
    r.input = io::read_npy(r.dir + "/input.npy");
    r.logits = io::read_npy(r.dir + "/logits.npy");
    r.seed = io::read_npy(r.dir + "/initial_relevance.npy");
    it = cache.emplace(name, std::move(r)).first;
  }
  return it->second;
}

bool available(const std::string& name) {
  return std::filesystem::exists(shared_path("reference/zennit/" + name + "/model.onnx"));
}

template <class T>
Explanation<T> run(const Reference& r, Method method, const std::string& composite) {
  ExplainRequest req;
  req.method = method;
  req.target.kind = Target::Kind::Relevance;
  req.target.relevance = r.seed;
  req.dump_layers = method == Method::LRP;
  if (!composite.empty()) req.rules = composite_rules(r.model.convert<T>(), composite);
  return explain(r.model.convert<T>(), r.input.cast<T>(), req);
}

class ZennitReference : public ::testing::TestWithParam<std::string> {};

TEST_P(ZennitReference, Logits) {
  if (!available(GetParam())) GTEST_SKIP() << "no shared reference " << GetParam();
  const Reference& r = reference(GetParam());
  EXPECT_LE(max_rel_error(run_forward<double>(r.model, r.input), r.logits), kTol);
  EXPECT_LE(max_rel_error(run_forward<float>(r.model, r.input), r.logits), kTol);
}

template <class T>
void check_lrp(const Reference& r, const std::string& file, const std::string& composite) {
  const Explanation<T> e = run<T>(r, Method::LRP, composite);
  const Tensor<double> ref = io::read_npy(r.dir + "/" + file + ".npy");
  const double err = max_rel_error(e.relevance, ref);
  EXPECT_LE(err, kTol) << file << (sizeof(T) == 4 ? " float" : " double");
  const std::map<std::string, Tensor<double>> layers = io::read_npz(r.dir + "/" + file + "_layers.npz");
  const auto& nodes = r.model.nodes();
  ASSERT_EQ(layers.size(), nodes.size()) << "one module per node";
  double worst_layer = 0;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    const std::string key = std::to_string(i) + ".output";
    ASSERT_TRUE(layers.count(key)) << key;
    EXPECT_EQ(nodes[i].name.rfind("/" + std::to_string(i) + "/", 0), 0u) << nodes[i].name;
    ASSERT_TRUE(e.layers.count(nodes[i].name)) << nodes[i].name;
    const double layer_err = max_rel_error(e.layers.at(nodes[i].name), layers.at(key));
    EXPECT_LE(layer_err, kTol) << file << " layer " << key << " = " << nodes[i].name;
    worst_layer = std::max(worst_layer, layer_err);
  }
  std::cout << "[ zennit ] " << r.dir.substr(r.dir.rfind('/') + 1) << " " << file << (sizeof(T) == 4 ? " float " : " double ")
            << err << ", layers " << worst_layer << "\n";
}

TEST_P(ZennitReference, LrpEpsilon) {
  if (!available(GetParam())) GTEST_SKIP();
  check_lrp<float>(reference(GetParam()), "lrp_epsilon", "epsilon");
  check_lrp<double>(reference(GetParam()), "lrp_epsilon", "epsilon");
}

TEST_P(ZennitReference, LrpEpsilonPlusFlat) {
  if (!available(GetParam())) GTEST_SKIP();
  check_lrp<float>(reference(GetParam()), "lrp_epsilon_plus_flat", "epsilon_plus_flat");
  check_lrp<double>(reference(GetParam()), "lrp_epsilon_plus_flat", "epsilon_plus_flat");
}

TEST_P(ZennitReference, LrpEpsilonAlpha2Beta1) {
  if (!available(GetParam())) GTEST_SKIP();
  check_lrp<float>(reference(GetParam()), "lrp_epsilon_alpha2_beta1", "epsilon_alpha2_beta1");
  check_lrp<double>(reference(GetParam()), "lrp_epsilon_alpha2_beta1", "epsilon_alpha2_beta1");
}

template <class T>
void check_method(const Reference& r, Method m, const std::string& file) {
  const Explanation<T> e = run<T>(r, m, "");
  const double err = max_rel_error(e.relevance, io::read_npy(r.dir + "/" + file + ".npy"));
  EXPECT_LE(err, kTol) << file << (sizeof(T) == 4 ? " float" : " double");
  std::cout << "[ zennit ] " << r.dir.substr(r.dir.rfind('/') + 1) << " " << file << (sizeof(T) == 4 ? " float " : " double ")
            << err << "\n";
}

TEST_P(ZennitReference, GradientAndGradientTimesInput) {
  if (!available(GetParam())) GTEST_SKIP();
  const Reference& r = reference(GetParam());
  check_method<float>(r, Method::Gradient, "gradient");
  check_method<double>(r, Method::Gradient, "gradient");
  check_method<float>(r, Method::GradientXInput, "gradient_x_input");
  check_method<double>(r, Method::GradientXInput, "gradient_x_input");
}

INSTANTIATE_TEST_SUITE_P(Models, ZennitReference, ::testing::Values("mlp", "mnist_cnn"));

}  // namespace
}  // namespace lrp::test
