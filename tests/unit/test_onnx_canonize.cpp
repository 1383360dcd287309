// Canonizers and relevance properties on ONNX graphs:
//  * fold_batch_norms keeps the logits (1e-5 relative, float and double; 1e-12 in double on a
//    synthetic model), folds exactly the foldable BatchNorms, keeps Model::validate() passing;
//  * the Add node's Norm rule conserves relevance up to the stabiliser, Concat exactly;
//  * relevance dumps are keyed by the ONNX node names.
#include <gtest/gtest.h>

#include <filesystem>
#include <numeric>

#include "lrp/explain/executor.hpp"
#include "lrp/explain/explain.hpp"
#include "lrp/graph/canonize.hpp"
#include "lrp/io/arrays.hpp"
#include "lrp/io/onnx.hpp"
#include "lrp/layers/batch_norm.hpp"
#include "lrp/layers/conv2d.hpp"
#include "lrp/layers/linear.hpp"
#include "lrp/layers/reshape.hpp"
#include "lrp/rules/apply.hpp"
#include "lrp/rules/composite.hpp"
#include "support/onnx_test_util.hpp"

namespace lrp::test {
namespace {

using B = OnnxBuilder;

std::string modern(const std::string& model) { return source_path("tests/fixtures/zennit_modern/" + model); }

std::size_t count_kind(const Model<double>& m, LayerKind k) {
  std::size_t n = 0;
  for (const Node<double>& node : m.nodes()) n += node.layer->kind() == k;
  return n;
}

TEST(FoldBatchNorms, KeepsLogitsOfTheFixtureModels) {
  const std::map<std::string, std::size_t> expected_folds = {{"vgg_bn", 3}, {"resnet", 6}, {"densenet", 5}, {"mobilenet", 11}, {"misc", 0}};
  for (const auto& [name, folds] : expected_folds) {
    if (!std::filesystem::exists(modern(name) + "/model.onnx")) GTEST_SKIP() << "no fixtures";
    const Model<double> plain = io::read_onnx_model(modern(name) + "/model.onnx");
    Model<double> folded = plain;
    const std::vector<FoldedBatchNorm> report = fold_batch_norms(folded);
    EXPECT_EQ(report.size(), folds) << name;
    EXPECT_EQ(count_kind(folded, LayerKind::BatchNorm), count_kind(plain, LayerKind::BatchNorm) - folds) << name;
    EXPECT_NO_THROW(folded.validate()) << name;
    EXPECT_EQ(folded.num_values(), folded.nodes().size() + 1) << name << ": values renumbered densely";
    for (const FoldedBatchNorm& f : report) {
      bool found = false;
      for (const Node<double>& n : folded.nodes()) found = found || (n.name == f.into && (n.layer->kind() == LayerKind::Conv2d || n.layer->kind() == LayerKind::Linear));
      EXPECT_TRUE(found) << f.batch_norm << " -> " << f.into;
    }
    const Tensor<double> x = io::read_npy(modern(name) + "/input.npy");
    const Tensor<double> y0 = run_forward<double>(plain, x);
    EXPECT_LE(max_rel_error(run_forward<double>(folded, x), y0), 1e-12) << name;
    EXPECT_LE(max_rel_error(run_forward<float>(folded, x), y0), 1e-5) << name;
    EXPECT_EQ(fold_batch_norms(folded).size(), 0u) << "idempotent";
  }
}

// Conv -> BN is folded; BN on a value with two readers, BN on the input and BN after a ReLU
// are not; Linear -> BN (1-D features) is folded.
TEST(FoldBatchNorms, OnlyWhenTheProducerIsAffineAndHasOneReader) {
  const auto bn = [](B& b, const std::string& in, const std::string& out, const std::string& name, std::int64_t c,
                     const std::string& tag) {
    std::vector<float> s(static_cast<std::size_t>(c)), t(s.size()), mu(s.size()), var(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
      s[i] = 0.5f + 0.25f * static_cast<float>(i);
      t[i] = 0.1f * static_cast<float>(i) - 0.2f;
      mu[i] = -0.3f + 0.2f * static_cast<float>(i);
      var[i] = 0.5f + static_cast<float>(i);
    }
    b.init(tag + "s", {c}, s).init(tag + "t", {c}, t).init(tag + "m", {c}, mu).init(tag + "v", {c}, var);
    b.node("BatchNormalization", {in, tag + "s", tag + "t", tag + "m", tag + "v"}, {out}, name);
  };
  B b;
  b.input("x", {-1, 2, 4, 4}).output("y");
  b.init("W1", {3, 2, 3, 3}, std::vector<float>(54, 0.1f)).init("b1", {3}, {0.1f, -0.2f, 0.3f});
  bn(b, "x", "x0", "bn_input", 2, "a");
  b.node("Conv", {"x0", "W1", "b1"}, {"c1"}, "conv1");
  bn(b, "c1", "n1", "bn_folded", 3, "b");
  b.node("Relu", {"n1"}, {"r1"}, "relu1");
  bn(b, "r1", "n2", "bn_after_relu", 3, "c");
  b.init("W2", {3, 3, 1, 1}, std::vector<float>(9, -0.2f));
  b.node("Conv", {"n2", "W2"}, {"c2"}, "conv2");
  bn(b, "c2", "n3", "bn_shared", 3, "d");
  b.node("Add", {"c2", "n3"}, {"s"}, "add");
  b.node("GlobalAveragePool", {"s"}, {"g"}, "gap");
  b.node("Flatten", {"g"}, {"f"}, "flatten");
  b.init("W3", {3, 2}, {1, 2, 3, 4, 5, 6});
  b.node("MatMul", {"f", "W3"}, {"l"}, "fc");
  bn(b, "l", "y", "bn_linear", 2, "e");
  const Model<double> plain = io::parse_onnx_model(b.bytes(), "bn.onnx");
  Model<double> folded = plain;
  const std::vector<FoldedBatchNorm> report = fold_batch_norms(folded);
  ASSERT_EQ(report.size(), 2u);
  EXPECT_EQ(report[0].batch_norm, "bn_folded");
  EXPECT_EQ(report[0].into, "conv1");
  EXPECT_EQ(report[1].batch_norm, "bn_linear");
  EXPECT_EQ(report[1].into, "fc");
  EXPECT_EQ(count_kind(folded, LayerKind::BatchNorm), 3u);
  const Tensor<double> x = random_tensor({3, 2, 4, 4}, 11);
  EXPECT_LE(max_rel_error(run_forward<double>(folded, x), run_forward<double>(plain, x)), 1e-12);
  EXPECT_LE(max_rel_error(run_forward<float>(folded, x), run_forward<double>(plain, x)), 1e-5);
}

// Through a Reshape that keeps the output channels first (a 1-D convolution's [C, 1, L] back to
// [C, L]) a BatchNorm is folded; through one that moves them (to [L, C]) it is not, nor after a
// Linear over the rows of a channels-last map (its channels are last, whatever their count).
TEST(FoldBatchNorms, ThroughAChannelsFirstReshapeOnly) {
  const auto batch_norm = [](std::size_t c) {
    Tensor<double> s({c}), t({c});
    for (std::size_t i = 0; i < c; ++i) {
      s[i] = 0.5 + 0.25 * static_cast<double>(i);
      t[i] = 0.1 * static_cast<double>(i) - 0.2;
    }
    return std::make_unique<BatchNorm<double>>(s, t);
  };
  Window2d k;
  k.kw = 3;
  k.pl = k.pr = 1;
  for (const bool channels_first : {true, false}) {
    SCOPED_TRACE(channels_first ? "[4, 1, 5] -> [4, 5]" : "[4, 1, 5] -> [5, 4]");
    Model<double> m;
    m.input_shape = {2, 1, 5};
    m.add("conv", std::make_unique<Conv2d<double>>(random_tensor({4, 2, 1, 3}, 3), random_tensor({4}, 4), k));
    m.add("back", std::make_unique<Reshape<double>>(channels_first ? Shape{4, 5} : Shape{5, 4}));
    m.add("bn", batch_norm(channels_first ? 4 : 5));
    Model<double> folded = m;
    const std::vector<FoldedBatchNorm> report = fold_batch_norms(folded);
    EXPECT_EQ(report.size(), channels_first ? 1u : 0u);
    EXPECT_EQ(count_kind(folded, LayerKind::BatchNorm), channels_first ? 0u : 1u);
    EXPECT_NO_THROW(folded.validate());
    const Tensor<double> x = random_tensor({3, 2, 1, 5}, 5);
    EXPECT_LE(max_rel_error(run_forward<double>(folded, x), run_forward<double>(m, x)), 1e-12);
  }
  Model<double> rows;  // [4 rows, 3] -> [4 rows, 4 channels]; a BatchNorm over the 4 rows
  rows.input_shape = {4, 3};
  rows.add("fc", std::make_unique<Linear<double>>(random_tensor({4, 3}, 6), random_tensor({4}, 7), true));
  rows.add("bn", batch_norm(4));
  Model<double> kept = rows;
  EXPECT_EQ(fold_batch_norms(kept).size(), 0u);
  const Tensor<double> x = random_tensor({2, 4, 3}, 8);
  EXPECT_LE(max_rel_error(run_forward<double>(kept, x), run_forward<double>(rows, x)), 1e-12);
}

// Norm rule on an Add: sum of the input relevances = sum of R * y / stab(y), i.e. R up to the
// stabiliser; Concat routes relevance exactly.
TEST(RelevanceProperties, AddConservesUpToTheStabiliserConcatExactly) {
  B b;
  b.input("x", {-1, 2, 3, 3}).output("y");
  b.init("Wa", {2, 2, 1, 1}, {1, 2, -1, 0.5f}).init("Wb", {2, 2, 1, 1}, {0.3f, -2, 1, 1});
  b.node("Conv", {"x", "Wa"}, {"a"}, "a");
  b.node("Conv", {"x", "Wb"}, {"b"}, "b");
  b.node("Add", {"a", "b"}, {"s"}, "add");
  B::attr(b.node("Concat", {"s", "a"}, {"y"}, "cat"), "axis", std::int64_t{1});
  const Model<double> m = io::parse_onnx_model(b.bytes(), "props.onnx");
  Executor<double> ex(m);
  ex.forward(random_tensor({2, 2, 3, 3}, 7));
  ParamCache<double> cache;
  const auto sum = [](const Tensor<double>& t) { return std::accumulate(t.begin(), t.end(), 0.0); };
  for (std::size_t i : {std::size_t{2}, std::size_t{3}}) {
    const Node<double>& n = m.nodes()[i];
    const Tensor<double>& y = ex.value(n.output);
    const Tensor<double> r = random_tensor(y.shape(), 9, 0.0, 1.0);
    TensorRefs<double> in;
    for (std::size_t v : n.inputs) in.push_back(&ex.value(v));
    const Rule rule = n.layer->kind() == LayerKind::Add ? Rule::norm() : Rule::pass();
    const std::vector<Tensor<double>> r_in = apply_rule(rule, RuleInput<double>{*n.layer, i, in, y, r, cache});
    double total = 0;
    for (const Tensor<double>& t : r_in) total += sum(t);
    if (n.layer->kind() == LayerKind::Add) {
      double expected = 0;
      for (std::size_t k = 0; k < y.size(); ++k) expected += r[k] * y[k] / (y[k] + (y[k] >= 0 ? 1e-6 : -1e-6));
      EXPECT_NEAR(total, expected, 1e-12 * std::abs(expected));
      EXPECT_NEAR(total, sum(r), 1e-3 * std::abs(sum(r)));
    } else {
      EXPECT_NEAR(total, sum(r), 1e-13 * std::abs(sum(r)));
    }
  }
}

// Relevance of every node, keyed by the ONNX node names, through the explain API.
TEST(RelevanceProperties, LayerDumpIsKeyedByOnnxNodeNames) {
  if (!std::filesystem::exists(modern("resnet") + "/model.onnx")) GTEST_SKIP() << "no fixtures";
  Model<double> m = io::read_onnx_model(modern("resnet") + "/model.onnx");
  fold_batch_norms(m);
  ExplainRequest req;
  req.rules = composite_rules(m, "epsilon_plus");
  req.dump_layers = true;
  const Explanation<double> e = explain(m, io::read_npy(modern("resnet") + "/input.npy"), req);
  ASSERT_EQ(e.layers.size(), m.nodes().size());
  for (const Node<double>& n : m.nodes()) EXPECT_TRUE(e.layers.count(n.name)) << n.name;
  EXPECT_TRUE(e.layers.count("/layer2/layer2.0/downsample/downsample.0/Conv"));
  EXPECT_TRUE(e.layers.count("/layer1/layer1.0/Add"));
}

}  // namespace
}  // namespace lrp::test
