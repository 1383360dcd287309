// The float fast path end to end: the LRP Toolbox's LeNet-5 references (float64 numpy) reproduced
// in float32 (oneDNN convolutions, fused rule passes) and in double; several targets per sample
// equal to one explanation per target; the persistent Explainer equal to one-shot explain().
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <limits>
#include <cmath>
#include <random>
#include <string>

#include "lrp/core/kernels.hpp"
#include "lrp/explain/executor.hpp"
#include "lrp/explain/explain.hpp"
#include "lrp/io/arrays.hpp"
#include "lrp/io/toolbox_text.hpp"
#include "lrp/layers/activation.hpp"
#include "lrp/layers/conv2d.hpp"
#include "lrp/layers/merge.hpp"
#include "lrp/layers/pad.hpp"
#include "lrp/layers/resize.hpp"
#include "lrp/layers/linear.hpp"
#include "lrp/layers/pool2d.hpp"
#include "lrp/layers/reshape.hpp"
#include "lrp/rules/composite.hpp"
#include "support/test_paths.hpp"

namespace lrp {
namespace {

template <class A, class B>
double rel_max_err(const Tensor<A>& got, const Tensor<B>& want) {
  EXPECT_EQ(got.size(), want.size());
  double diff = 0, mag = 0;
  for (std::size_t i = 0; i < want.size() && i < got.size(); ++i) {
    diff = std::max(diff, std::abs(static_cast<double>(got[i]) - static_cast<double>(want[i])));
    mag = std::max(mag, std::abs(static_cast<double>(want[i])));
  }
  return mag == 0 ? diff : diff / mag;
}

struct ToolboxCase {
  std::string rule, file;
  double float_tol;  // relative to max|R|
};

// Toolbox models (16 MNIST digits each). Float tolerances: the z-rule's 1e-16 stabiliser lets
// float rounding of near-zero sums through, the others are tighter.
void check_toolbox_model(const std::string& folder, const std::string& model_path, bool images) {
  const std::string dir = test::shared_path("reference/lrp_toolbox/" + folder + "/");
  Model<double> md = io::read_toolbox_model(model_path);
  md.drop_trailing_softmax();
  const Model<float> mf = md.convert<float>();
  Tensor<double> x = io::read_npy(dir + "input.npy");
  if (images) x = nhwc_to_nchw(x);
  const auto to_model = [&](const auto& t) { return images ? nchw_to_nhwc(t) : t; };
  const std::vector<ToolboxCase> cases = {{"simple", "simple", 5e-3},        {"epsilon:0.01", "epsilon_0.01", 1e-4},
                                          {"epsilon:1", "epsilon_1", 1e-4},   {"alphabeta:2", "alpha2_beta1", 1e-4},
                                          {"alphabeta:1", "alpha1_beta0", 1e-4}, {"flat", "flat", 1e-5},
                                          {"ww", "ww", 1e-5}};
  Explainer<float> ef(mf);
  Explainer<double> ed(md);
  for (const ToolboxCase& c : cases) {
    SCOPED_TRACE(folder + " " + c.rule);
    ExplainRequest req;
    req.rules = uniform_rules(md, parse_rule(c.rule));
    const Tensor<double> want = io::read_npy(dir + c.file + ".npy");
    const Tensor<double> rd = to_model(ed.explain(x, req).relevance);
    EXPECT_LE(rel_max_err(rd, want), 1e-10);
    for (int rep = 0; rep < 2; ++rep) {  // second call: cached derived parameters and primitives
      const Tensor<float> rf = to_model(ef.explain(x.cast<float>(), req).relevance);
      EXPECT_LE(rel_max_err(rf, want), c.float_tol);
    }
    const Tensor<float> once = to_model(explain(mf, x.cast<float>(), req).relevance);
    EXPECT_LE(rel_max_err(once, want), c.float_tol);
  }
  // All classes at once against one toolbox run per class ([N, 10, ...input]).
  ExplainRequest req;
  req.rules = uniform_rules(md, parse_rule("epsilon:0.01"));
  req.target = parse_target("all");
  const Explanation<float> e = ef.explain(x.cast<float>(), req);
  ASSERT_EQ(e.relevance.dim(1), 10u);
  Tensor<float> all = e.relevance;
  if (images) {  // [N, K, C, H, W] -> [N, K, H, W, C]
    const Shape s = all.shape();
    Tensor<float> t = nchw_to_nhwc(all.reshaped({s[0] * s[1], s[2], s[3], s[4]}));
    all = t;
  }
  const Tensor<double> want = io::read_npy(dir + "epsilon_0.01_per_class.npy");
  EXPECT_LE(rel_max_err(all, want), 1e-4);
}

TEST(ExplainFast, ToolboxReferencesInFloatAndDouble) {
  check_toolbox_model("LeNet-5", test::shared_path("data/lrp_toolbox/models/MNIST/LeNet-5.txt"), true);
  check_toolbox_model("synth-cnn-maxpool", test::shared_path("reference/lrp_toolbox/synth-cnn-maxpool/model.txt"), true);
  check_toolbox_model("synth-mlp-rect", test::shared_path("reference/lrp_toolbox/synth-mlp-rect/model.txt"), false);
}

Tensor<double> random_tensor(const Shape& s, std::uint32_t seed, double scale) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> nd(0.0, scale);
  Tensor<double> t(s);
  for (double& v : t) v = nd(rng);
  return t;
}

// 3x3 window, stride 1, padding 1.
Window2d same_3x3() {
  Window2d k3;
  k3.kh = k3.kw = 3;
  k3.pt = k3.pl = k3.pb = k3.pr = 1;
  return k3;
}

// A 3x3 pad-1 convolution ic -> oc with random weights (seed, scale) and bias (bias_seed, bias_scale).
std::unique_ptr<Conv2d<double>> conv3x3(std::size_t oc, std::size_t ic, unsigned seed, double scale, unsigned bias_seed,
                                        double bias_scale) {
  return std::make_unique<Conv2d<double>>(random_tensor({oc, ic, 3, 3}, seed, scale), random_tensor({oc}, bias_seed, bias_scale),
                                          same_3x3());
}

// conv(3->8, 3x3 pad 1) relu maxpool2 conv(8->12, 3x3 stride 2, groups 2) relu avgpool2
// flatten linear(48->16) relu linear(16->5)
Model<double> small_cnn() {
  Model<double> m;
  m.add("conv1", conv3x3(8, 3, 1, 0.3, 2, 0.1));
  m.add("relu1", std::make_unique<Activation<double>>(ActivationSpec{}));
  PoolSpec mp;
  mp.window.kh = mp.window.kw = mp.window.sh = mp.window.sw = 2;
  m.add("pool1", std::make_unique<Pool2d<double>>(mp));
  Window2d k3s = same_3x3();
  k3s.sh = k3s.sw = 2;
  m.add("conv2", std::make_unique<Conv2d<double>>(random_tensor({12, 4, 3, 3}, 3, 0.3), random_tensor({12}, 4, 0.1), k3s, 2));
  m.add("relu2", std::make_unique<Activation<double>>(ActivationSpec{}));
  PoolSpec ap;
  ap.mode = PoolMode::Sum;
  ap.window.kh = ap.window.kw = ap.window.sh = ap.window.sw = 2;
  ap.type_name = "AveragePool";
  m.add("pool2", std::make_unique<Pool2d<double>>(ap));
  m.add("flatten", std::make_unique<Flatten<double>>());
  m.add("fc1", std::make_unique<Linear<double>>(random_tensor({16, 48}, 5, 0.2), random_tensor({16}, 6, 0.1)));
  m.add("relu3", std::make_unique<Activation<double>>(ActivationSpec{}));
  m.add("fc2", std::make_unique<Linear<double>>(random_tensor({5, 16}, 7, 0.3), random_tensor({5}, 8, 0.1)));
  m.input_shape = {3, 16, 16};
  m.layout = DataLayout::NCHW;
  return m;
}

// The relevance of every class at once ([N, classes, ...]) equals one call per class, to 1e-12
// of the per-class map's magnitude (each map non-zero).
void expect_all_equals_each_class(Explainer<double>& ed, const Tensor<double>& x, ExplainRequest req, const Tensor<double>& all,
                                  std::size_t classes) {
  const std::size_t n = x.dim(0), per = x.sample_size();
  for (std::size_t c = 0; c < classes; ++c) {
    req.target = parse_target(std::to_string(c));
    const Tensor<double> one = ed.explain(x, req).relevance;
    double diff = 0, mag = 0;
    for (std::size_t s = 0; s < n; ++s)
      for (std::size_t i = 0; i < per; ++i) {
        diff = std::max(diff, std::abs(all[(s * classes + c) * per + i] - one[s * per + i]));
        mag = std::max(mag, std::abs(one[s * per + i]));
      }
    EXPECT_GT(mag, 0.0) << "class " << c;
    EXPECT_LE(diff, 1e-12 * std::max(mag, 1.0)) << "class " << c;
  }
}

TEST(ExplainFast, CompositesFloatMatchDoubleAndTargetsBatch) {
  const Model<double> md = small_cnn();
  const Model<float> mf = md.convert<float>();
  const Tensor<double> x = random_tensor({3, 3, 16, 16}, 9, 1.0);
  Explainer<float> ef(mf);
  Explainer<double> ed(md);
  for (const std::string spec : {"epsilon", "epsilon_plus_flat", "epsilon_alpha2_beta1", "epsilon_alpha2_beta1_flat",
                                 "epsilon_gamma_box:-3,3", "epsilon_plus", "alphabeta_epsilon", "alphabeta_epsilon_w2"}) {
    SCOPED_TRACE(spec);
    ExplainRequest req;
    req.rules = composite_rules(md, spec);
    const Tensor<double> rd = ed.explain(x, req).relevance;
    const Tensor<float> rf = ef.explain(x.cast<float>(), req).relevance;
    EXPECT_LE(rel_max_err(rf, rd), 1e-4);
    // Every class at once equals one call per class.
    req.target = parse_target("all");
    const Tensor<double> all = ed.explain(x, req).relevance;  // [3, 5, 3, 16, 16]
    const Tensor<float> all_f = ef.explain(x.cast<float>(), req).relevance;
    ASSERT_EQ(all.shape(), (Shape{3, 5, 3, 16, 16}));
    EXPECT_LE(rel_max_err(all_f, all), 1e-4);
    expect_all_equals_each_class(ed, x, req, all, 5);
  }
}

// A residual block: conv(4->8) relu [conv(8->8) relu conv(8->8)] + skip, relu, flatten,
// linear(8*6*6 -> 5): the Add splits relevance between its two summands.
Model<double> residual_cnn() {
  Model<double> m;
  const auto conv = [](std::size_t oc, std::size_t ic, unsigned seed) { return conv3x3(oc, ic, seed, 0.3, seed + 100, 0.05); };
  m.add("conv0", conv(8, 4, 50));
  const std::size_t skip = m.add("relu0", std::make_unique<Activation<double>>(ActivationSpec{}));
  m.add("conv1", conv(8, 8, 51));
  m.add("relu1", std::make_unique<Activation<double>>(ActivationSpec{}));
  const std::size_t branch = m.add("conv2", conv(8, 8, 52));
  m.add("add", std::make_unique<Add<double>>(2), {branch, skip});
  m.add("relu2", std::make_unique<Activation<double>>(ActivationSpec{}));
  m.add("flatten", std::make_unique<Flatten<double>>());
  m.add("fc", std::make_unique<Linear<double>>(random_tensor({5, 8 * 6 * 6}, 53, 0.1), random_tensor({5}, 54, 0.01)));
  m.input_shape = {4, 6, 6};
  m.layout = DataLayout::NCHW;
  return m;
}

// Several targets through a residual Add (k relevance rows per sample) equal one call per
// target, and the float path follows the double one.
TEST(ExplainFast, ResidualAddTakesAllTargetsAtOnce) {
  const Model<double> md = residual_cnn();
  const Model<float> mf = md.convert<float>();
  const Tensor<double> x = random_tensor({2, 4, 6, 6}, 55, 1.0);
  Explainer<double> ed(md);
  Explainer<float> ef(mf);
  for (const std::string spec : {"epsilon", "epsilon_plus_flat", "epsilon_alpha2_beta1", "epsilon_gamma_box:-3,3"}) {
    SCOPED_TRACE(spec);
    ExplainRequest req;
    req.rules = composite_rules(md, spec);
    req.target = parse_target("all");
    const Tensor<double> all = ed.explain(x, req).relevance;  // [2, 5, 4, 6, 6]
    ASSERT_EQ(all.shape(), (Shape{2, 5, 4, 6, 6}));
    EXPECT_LE(rel_max_err(ef.explain(x.cast<float>(), req).relevance, all), 1e-4);
    expect_all_equals_each_class(ed, x, req, all, 5);
  }
}

// conv(3->16) relu conv(16->16) relu avgpool conv(16->32) relu conv(32->32) relu avgpool
// flatten linear(2048->10), all 3x3 pad 1: the 16/32-channel layers are Winograd-eligible and
// large enough (batch 4 x 32 x 32) for `auto` to use it.
Model<double> small_vgg() {
  Model<double> m;
  PoolSpec ap;
  ap.mode = PoolMode::Sum;
  ap.window.kh = ap.window.kw = ap.window.sh = ap.window.sw = 2;
  ap.type_name = "AveragePool";
  const std::size_t ch[][2] = {{3, 16}, {16, 16}, {0, 0}, {16, 32}, {32, 32}, {0, 0}};
  unsigned seed = 30;
  for (const auto& c : ch) {
    if (c[0] == 0) {
      m.add("pool" + std::to_string(seed), std::make_unique<Pool2d<double>>(ap));
      continue;
    }
    m.add("conv" + std::to_string(seed), conv3x3(c[1], c[0], seed, std::sqrt(2.0 / (9.0 * static_cast<double>(c[1]))), seed + 100, 0.05));
    m.add("relu" + std::to_string(seed), std::make_unique<Activation<double>>(ActivationSpec{}));
    ++seed;
  }
  m.add("flatten", std::make_unique<Flatten<double>>());
  m.add("fc", std::make_unique<Linear<double>>(random_tensor({10, 2048}, 40, 0.02), random_tensor({10}, 41, 0.01)));
  m.input_shape = {3, 32, 32};
  m.layout = DataLayout::NCHW;
  return m;
}

// Winograd (the `auto` default and `winograd`) keeps float32 LRP as close to the double
// reference as the direct algorithm: 1e-5 relative to max|R| here (measured ~1e-6).
TEST(ExplainFast, WinogradKeepsLrpWithinTolerance) {
  const Model<double> md = small_vgg();
  const Model<float> mf = md.convert<float>();
  const Tensor<double> x = random_tensor({4, 3, 32, 32}, 42, 1.0);
  const ConvAlgorithm old = conv_algorithm();
  for (const std::string spec : {"epsilon_plus_flat", "epsilon_gamma_box:-3,3", "epsilon_alpha2_beta1"}) {
    ExplainRequest req;
    req.rules = composite_rules(md, spec);
    const Tensor<double> ref = explain(md, x, req).relevance;
    for (const ConvAlgorithm a : {ConvAlgorithm::Direct, ConvAlgorithm::Auto, ConvAlgorithm::Winograd}) {
      set_conv_algorithm(a);
      const Tensor<float> r = explain(mf, x.cast<float>(), req).relevance;
      EXPECT_LE(rel_max_err(r, ref), 1e-5) << spec << " " << conv_algorithm_name(a);
    }
  }
  set_conv_algorithm(old);
}

// A convolution whose output only a ReLU reads, and that neither the sweep nor keep_value needs,
// runs fused with the ReLU (one kernel call: a oneDNN post-op in float, the plain loop in double
// and for the single-kernel paths). Forward outputs and relevance are those of the unfused
// layers (keep_all()), bit for bit; rules that read a convolution's output (epsilon's z) keep
// the pair apart.
template <class T>
void check_conv_relu_fusion(const Model<T>& m, const Tensor<T>& x) {
  const auto same = [](const Tensor<T>& a, const Tensor<T>& b) {
    if (a.shape() != b.shape()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
      if (a[i] != b[i]) return false;
    return true;
  };
  Executor<T> unfused(m);
  unfused.keep_all();
  const Tensor<T> y = unfused.forward(x);
  EXPECT_EQ(unfused.fused_relus(), 0u);

  Executor<T> forward_only(m);
  forward_only.plan_forward_only();
  EXPECT_TRUE(same(forward_only.forward(x), y));
  EXPECT_EQ(forward_only.fused_relus(), 4u);  // small_vgg's four conv + ReLU pairs

  for (const auto& [spec, fused] : {std::pair<std::string, std::size_t>{"epsilon_plus_flat", 4}, {"epsilon", 0}}) {
    SCOPED_TRACE(spec);
    const std::vector<Rule> rules = composite_rules(m, spec);
    const Tensor<T> want = unfused.propagate(y, rules);
    Executor<T> planned(m);
    planned.plan_backward(rules);
    EXPECT_TRUE(same(planned.forward(x), y));
    EXPECT_EQ(planned.fused_relus(), fused);
    EXPECT_TRUE(same(planned.propagate(y, rules), want));
  }

  Executor<T> kept(m);
  kept.plan_forward_only();
  kept.keep_value(m.nodes()[0].output);  // the first convolution's own output
  EXPECT_TRUE(same(kept.forward(x), y));
  EXPECT_EQ(kept.fused_relus(), 3u);
  EXPECT_FALSE(kept.value(m.nodes()[0].output).empty());
}

TEST(ExecutorFusion, ConvReluPairsRunAsOneCallWithUnchangedResults) {
  const Model<double> md = small_vgg();
  const Tensor<double> x = random_tensor({2, 3, 32, 32}, 61, 1.0);
  {
    SCOPED_TRACE("double");
    check_conv_relu_fusion(md, x);
  }
  SCOPED_TRACE("float");
  check_conv_relu_fusion(md.convert<float>(), x.cast<float>());
}

// The residual sum and the ReLU after it run as one pass: in place in a summand nothing reads
// later under the forward-only plan, into a new tensor under LRP and gradient plans (whose sum
// rule reads the summands and forms their sum again). Forward outputs and relevance are those
// of the unfused graph, bit for bit.
template <class T>
void check_sum_relu_fusion(const Model<T>& m, const Tensor<T>& x) {
  Executor<T> unfused(m);
  unfused.keep_all();
  const Tensor<T> y = unfused.forward(x);
  Executor<T> forward_only(m);
  forward_only.plan_forward_only();
  EXPECT_EQ(forward_only.forward(x).vec(), y.vec());
  EXPECT_EQ(forward_only.fused_relus(), 3u);  // conv0 + relu0, conv1 + relu1, add + relu2
  // EPF: conv0 + relu0, conv1 + relu1 and the sum; epsilon reads every convolution's output.
  for (const auto& [spec, fused] : {std::pair<std::string, std::size_t>{"epsilon_plus_flat", 3}, {"epsilon", 1}}) {
    SCOPED_TRACE(spec);
    const std::vector<Rule> rules = composite_rules(m, spec);
    Executor<T> planned(m);
    planned.plan_backward(rules);
    EXPECT_EQ(planned.forward(x).vec(), y.vec());
    EXPECT_TRUE(planned.value(m.nodes()[5].output).empty());  // the sum itself is not kept
    EXPECT_EQ(planned.fused_relus(), fused);
    EXPECT_EQ(planned.propagate(y, rules).vec(), unfused.propagate(y, rules).vec());
  }
  // The ReLUs' gradient masks (and guided backprop's) read their outputs: every pair fuses.
  for (const std::string name : {"gradient", "guided_backprop"}) {
    SCOPED_TRACE(name);
    const std::vector<Rule> rules(m.nodes().size(), parse_rule(name));
    Executor<T> planned(m);
    planned.plan_backward(rules);
    EXPECT_EQ(planned.forward(x).vec(), y.vec());
    EXPECT_EQ(planned.fused_relus(), 3u);
    EXPECT_EQ(planned.propagate(y, rules).vec(), unfused.propagate(y, rules).vec());
  }
}

TEST(ExecutorFusion, ResidualSumAndReluRunAsOnePassWithUnchangedResults) {
  const Model<double> md = residual_cnn();
  const Tensor<double> x = random_tensor({2, 4, 6, 6}, 62, 1.0);
  {
    SCOPED_TRACE("double");
    check_sum_relu_fusion(md, x);
  }
  SCOPED_TRACE("float");
  check_sum_relu_fusion(md.convert<float>(), x.cast<float>());
}

// A summand that a later node still reads is not overwritten: s = relu(conv0(x)),
// a = relu(s + conv1(s)), out = fc(relu(a + s)). The first sum goes in place in conv1's output.
TEST(ExecutorFusion, SumKeepsASummandThatIsReadLater) {
  Model<double> m;
  m.add("conv0", conv3x3(4, 3, 80, 0.4, 81, 0.05));
  const std::size_t s = m.add("relu0", std::make_unique<Activation<double>>(ActivationSpec{}));
  const std::size_t c1 = m.add("conv1", conv3x3(4, 4, 82, 0.4, 83, 0.05));
  m.add("add1", std::make_unique<Add<double>>(2), {s, c1});
  const std::size_t a = m.add("relu1", std::make_unique<Activation<double>>(ActivationSpec{}));
  m.add("add2", std::make_unique<Add<double>>(2), {a, s});
  m.add("relu2", std::make_unique<Activation<double>>(ActivationSpec{}));
  m.add("flatten", std::make_unique<Flatten<double>>());
  m.add("fc", std::make_unique<Linear<double>>(random_tensor({3, 4 * 5 * 5}, 84, 0.1), random_tensor({3}, 85, 0.01)));
  m.input_shape = {3, 5, 5};
  m.layout = DataLayout::NCHW;
  const Tensor<double> x = random_tensor({2, 3, 5, 5}, 86, 1.0);
  Executor<double> unfused(m);
  unfused.keep_all();
  const Tensor<double> y = unfused.forward(x);
  Executor<double> forward_only(m);
  forward_only.plan_forward_only();
  EXPECT_EQ(forward_only.forward(x).vec(), y.vec());
  EXPECT_EQ(forward_only.fused_relus(), 3u);
}

// An activation's output that the sweep needs is not kept from the forward when its input is
// (epsilon, gamma and alpha-beta read each convolution's z; the next layer's rule reads the
// ReLU's output): the sweep recomputes it from that input. Relevance and gradients are those of
// keep_all(), bit for bit; keep_value() keeps such an output as computed.
template <class T>
void check_derived_activations(const Model<T>& m, const Tensor<T>& x, std::size_t conv, std::size_t relu) {
  Executor<T> all(m);
  all.keep_all();
  const Tensor<T> y = all.forward(x);
  const std::size_t z = m.nodes()[conv].output, a = m.nodes()[relu].output;
  for (const std::string spec : {"epsilon", "epsilon_gamma_box:-3,3", "epsilon_alpha2_beta1", "epsilon_plus_flat", "gradient"}) {
    SCOPED_TRACE(spec);
    const std::vector<Rule> rules = spec == "gradient" ? std::vector<Rule>(m.nodes().size(), Rule::gradient()) : composite_rules(m, spec);
    const Tensor<T> want = all.propagate(y, rules);
    Executor<T> planned(m);
    planned.plan_backward(rules);
    EXPECT_EQ(planned.forward(x).vec(), y.vec());
    if (spec == "epsilon") {  // z kept for the convolution's rule, its ReLU's output recomputed
      EXPECT_FALSE(planned.value(z).empty());
      EXPECT_TRUE(planned.value(a).empty());
    }
    EXPECT_EQ(planned.propagate(y, rules).vec(), want.vec());
  }
  const std::vector<Rule> rules = composite_rules(m, "epsilon");
  Executor<T> kept(m);
  kept.plan_backward(rules);
  kept.keep_value(a);
  kept.forward(x);
  EXPECT_EQ(kept.value(a).vec(), all.value(a).vec());
  EXPECT_EQ(kept.propagate(y, rules).vec(), all.propagate(y, rules).vec());
}

TEST(ExecutorMemory, ActivationOutputsAreRecomputedFromKeptInputs) {
  for (const bool residual : {false, true}) {
    SCOPED_TRACE(residual ? "residual_cnn" : "small_vgg");
    const Model<double> md = residual ? residual_cnn() : small_vgg();
    const Tensor<double> x = residual ? random_tensor({2, 4, 6, 6}, 63, 1.0) : random_tensor({2, 3, 32, 32}, 64, 1.0);
    // The first convolution and its ReLU; in residual_cnn that output is also the skip summand.
    check_derived_activations(md, x, 0, 1);
    check_derived_activations(md.convert<float>(), x.cast<float>(), 0, 1);
  }
}

// A Reshape of a value the sweep keeps, when the forward reads that value nowhere else (a
// Linear's output split into heads), borrows its storage instead of copying it and gives it
// back when the forward is done with it; a chain of Reshapes passes it on. The sum after them
// (pass rule, fused with its ReLU) must not form itself in place in that borrowed storage.
// Outputs, the kept value and relevance are those of keep_all(), bit for bit.
template <class T>
void check_reshape_borrows(const Model<T>& m, const Tensor<T>& x) {
  std::vector<Rule> rules(m.nodes().size(), Rule::epsilon_rule(1e-6));
  rules[4] = parse_rule("pass");  // the sum: reads nothing in the sweep, runs fused with its ReLU
  rules[5] = parse_rule("pass");
  Executor<T> all(m);
  all.keep_all();
  const Tensor<T> y = all.forward(x);
  const Tensor<T> want = all.propagate(y, rules);
  const std::size_t kept = m.nodes()[0].output, chain = m.nodes()[2].output;
  for (const bool keep_chain : {false, true}) {
    SCOPED_TRACE(keep_chain ? "reshape output kept: copied" : "borrowed");
    Executor<T> planned(m);
    planned.plan_backward(rules);
    if (keep_chain) planned.keep_value(chain);
    EXPECT_EQ(planned.forward(x).vec(), y.vec());
    EXPECT_EQ(planned.fused_relus(), 1u);
    EXPECT_EQ(planned.relabelled_in_place(), keep_chain ? 1u : 2u);  // the second copies a kept output
    ASSERT_EQ(planned.value(kept).shape(), all.value(kept).shape());
    EXPECT_EQ(planned.value(kept).vec(), all.value(kept).vec());
    EXPECT_EQ(planned.value(chain).empty(), !keep_chain);
    EXPECT_EQ(planned.propagate(y, rules).vec(), want.vec());
  }
}

TEST(ExecutorMemory, ReshapeBorrowsAKeptValue) {
  Model<double> m;
  m.input_shape = {6};
  const std::size_t in = 0;
  m.add("fc1", std::make_unique<Linear<double>>(random_tensor({12, 6}, 90, 0.5), random_tensor({12}, 91, 0.1)));
  m.add("heads", std::make_unique<Reshape<double>>(Shape{3, 4}));
  const std::size_t chain = m.add("rows", std::make_unique<Reshape<double>>(Shape{12}));
  const std::size_t side = m.add("fc2", std::make_unique<Linear<double>>(random_tensor({12, 6}, 92, 0.5), random_tensor({12}, 93, 0.1)), {in});
  m.add("sum", std::make_unique<Add<double>>(2), {chain, side});
  m.add("relu", std::make_unique<Activation<double>>(ActivationSpec{}));
  m.add("fc3", std::make_unique<Linear<double>>(random_tensor({3, 12}, 94, 0.5), random_tensor({3}, 95, 0.1)));
  const Tensor<double> x = random_tensor({2, 6}, 96, 1.0);
  {
    SCOPED_TRACE("double");
    check_reshape_borrows(m, x);
  }
  SCOPED_TRACE("float");
  check_reshape_borrows(m.convert<float>(), x.cast<float>());
}

// Add::forward_relu equals the sum followed by a ReLU for one, two and three summands, into a
// new tensor and in place in the first summand, bit for bit: NaN and -0 sums too.
template <class T>
void check_sum_relu() {
  const Activation<T> relu{ActivationSpec{}};
  for (std::size_t k = 1; k <= 3; ++k) {
    SCOPED_TRACE(k);
    std::vector<Tensor<T>> xs;
    for (std::size_t j = 0; j < k; ++j) {
      xs.push_back(random_tensor({2, 3, 300, 130}, 70 + static_cast<unsigned>(j), 1.0).cast<T>());
      xs.back()[5] = T(-0.0);
      xs.back()[7] = std::numeric_limits<T>::quiet_NaN();
    }
    TensorRefs<T> in;
    for (const Tensor<T>& t : xs) in.push_back(&t);
    const Add<T> add(k);
    Tensor<T> sum, want, fused;
    add.forward(in, sum);
    relu.forward({&sum}, want);
    add.forward_relu(in, fused);
    const auto bits = [](const Tensor<T>& t) {
      std::vector<std::uint64_t> b(t.size());
      for (std::size_t i = 0; i < t.size(); ++i) b[i] = std::bit_cast<std::conditional_t<sizeof(T) == 8, std::uint64_t, std::uint32_t>>(t[i]);
      return b;
    };
    EXPECT_EQ(want[7], T(0));  // NaN -> 0
    EXPECT_EQ(bits(fused), bits(want));
    Tensor<T> first = xs[0];
    in[0] = &first;
    add.forward_relu(in, first);
    EXPECT_EQ(bits(first), bits(want));
  }
}

TEST(ExecutorFusion, SumReluEqualsSumThenRelu) {
  {
    SCOPED_TRACE("double");
    check_sum_relu<double>();
  }
  SCOPED_TRACE("float");
  check_sum_relu<float>();
}

// bfloat16 rule passes (RulePrecision::BFloat16) keep LRP within 1% of max|R| of the double
// reference on small_vgg (its 16- and 32-channel layers run bfloat16 at batch 1; measured
// 0.1-0.5%, float32 1e-7-1e-4), and do not touch the forward pass. Without native bfloat16 the setting changes
// nothing, bit for bit.
TEST(ExplainFast, Bf16RulePassesStayWithinOnePercent) {
  const Model<double> md = small_vgg();
  const Model<float> mf = md.convert<float>();
  const Tensor<double> x = random_tensor({1, 3, 32, 32}, 43, 1.0);
  const RulePrecision old = rule_precision();
  // The last spec: zbox on every layer, whose bound terms would cancel against bfloat16 passes:
  // it takes float32 passes throughout.
  for (const std::string spec : {"epsilon_plus_flat", "epsilon_gamma_box:-3,3", "epsilon_alpha2_beta1", "epsilon", "zbox:-1,4"}) {
    SCOPED_TRACE(spec);
    ExplainRequest req;
    req.rules = spec.starts_with("zbox") ? uniform_rules(md, parse_rule(spec)) : composite_rules(md, spec);
    const Explanation<double> ref = explain(md, x, req);
    set_rule_precision(RulePrecision::Float32);
    const Explanation<float> f32 = explain(mf, x.cast<float>(), req);
    set_rule_precision(RulePrecision::BFloat16);
    const Explanation<float> bf16 = explain(mf, x.cast<float>(), req);
    set_rule_precision(old);
    EXPECT_EQ(bf16.output.vec(), f32.output.vec());  // the forward pass stays float32
    if (!rule_precision_native(RulePrecision::BFloat16)) {
      EXPECT_EQ(bf16.relevance.vec(), f32.relevance.vec());
      continue;
    }
    if (spec.starts_with("zbox")) {  // every pass of zbox runs float32
      EXPECT_EQ(bf16.relevance.vec(), f32.relevance.vec());
      continue;
    }
    const double err = rel_max_err(bf16.relevance, ref.relevance);
    EXPECT_LE(err, 1e-2);
    EXPECT_GT(err, 10 * rel_max_err(f32.relevance, ref.relevance));  // bfloat16 did run
  }
}

TEST(ExplainFast, GradientMethodsFloatMatchDouble) {
  const Model<double> md = small_cnn();
  const Model<float> mf = md.convert<float>();
  const Tensor<double> x = random_tensor({2, 3, 16, 16}, 10, 1.0);
  for (const Method m : {Method::Gradient, Method::GradientXInput, Method::GuidedBackprop}) {
    ExplainRequest req;
    req.method = m;
    req.target = parse_target("all");
    const Tensor<double> rd = explain(md, x, req).relevance;
    const Tensor<float> rf = explain(mf, x.cast<float>(), req).relevance;
    EXPECT_LE(rel_max_err(rf, rd), 1e-4);
  }
}

// The consuming conversion (used by the tool, so a large model is not held twice) gives the
// same float model as the copying one, and leaves its source empty.
TEST(ModelConvert, ConsumingEqualsCopying) {
  Model<double> md = io::read_toolbox_model(test::shared_path("data/lrp_toolbox/models/MNIST/LeNet-5.txt"));
  const Model<float> copied = md.convert<float>();
  const Model<float> moved = std::move(md).convert<float>();
  EXPECT_TRUE(md.nodes().empty());  // NOLINT(bugprone-use-after-move): checking the release
  ASSERT_EQ(moved.nodes().size(), copied.nodes().size());
  EXPECT_EQ(moved.output_value(), copied.output_value());
  EXPECT_EQ(moved.param_count(), copied.param_count());
  Tensor<float> x({2, 1, 32, 32});
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (float& v : x) v = u(rng);
  Explainer<float> a(copied), b(moved);
  const Tensor<float> ya = a.predict(x), yb = b.predict(x);
  ASSERT_EQ(ya.shape(), yb.shape());
  for (std::size_t i = 0; i < ya.size(); ++i) EXPECT_EQ(ya[i], yb[i]) << i;  // same weights, same kernels: bit-equal
}

}  // namespace
}  // namespace lrp

namespace lrp {
namespace {

// Pad, Resize, Transpose, Slice and Concat pass relevance back from the shapes alone (the sweep keeps
// none of their values): all classes at once (the relevance rows stacked per class) against one
// run per class, and the gradient against central differences, in double and float.
TEST(ExplainFast, ShapeOnlyLayersWithStackedTargets) {
  std::mt19937 rng(31);
  std::normal_distribution<double> nd(0.0, 1.0);
  const auto random = [&](const Shape& s) {
    Tensor<double> t(s);
    for (double& v : t) v = nd(rng);
    return t;
  };
  Model<double> m;
  m.input_shape = {2, 4, 4};
  m.add("pad", std::make_unique<Pad<double>>(1, 2, 0, 1, 0.0));  // [2, 5, 7]
  m.add("up", std::make_unique<Resize2d<double>>(5, 7, resize_taps(5, 6, 1.2, ResizeCoordinates::HalfPixel, true, ResizeRounding::Floor),
                                                 resize_taps(7, 7, 1.0, ResizeCoordinates::HalfPixel, true, ResizeRounding::Floor),
                                                 "linear"));  // [2, 6, 7]
  const std::size_t t = m.add("swap", std::make_unique<Transpose<double>>(std::vector<std::size_t>{0, 2, 1}));  // [2, 7, 6]
  const std::size_t a = m.add("first", std::make_unique<Slice<double>>(Shape{0, 0, 0}, Shape{1, 7, 6}), {t});
  const std::size_t b = m.add("second", std::make_unique<Slice<double>>(Shape{1, 1, 0}, Shape{1, 3, 6}, Shape{}, Shape{1, 2, 1}), {t});
  m.add("join", std::make_unique<Concat<double>>(2, 1), {b, a});  // [1, 10, 6]
  m.add("flat", std::make_unique<Flatten<double>>());
  m.add("fc", std::make_unique<Linear<double>>(random({3, 60}), random({3})));
  const Tensor<double> x = random({2, 2, 4, 4});
  for (const bool in_float : {false, true}) {
    SCOPED_TRACE(in_float ? "float" : "double");
    const auto run = [&](const ExplainRequest& req) {
      if (!in_float) return explain(m, x, req).relevance;
      const Model<float> mf = m.convert<float>();
      return explain(mf, x.cast<float>(), req).relevance.cast<double>();
    };
    ExplainRequest req;
    req.rules.assign(m.nodes().size(), Rule::epsilon_rule(1e-6));
    req.target = parse_target("all");
    const Tensor<double> all = run(req);
    ASSERT_EQ(all.shape(), (Shape{2, 3, 2, 4, 4}));
    for (std::size_t c = 0; c < 3; ++c) {
      req.target = parse_target(std::to_string(c));
      const Tensor<double> one = run(req);
      for (std::size_t n = 0; n < 2; ++n)
        for (std::size_t i = 0; i < 32; ++i)
          EXPECT_NEAR(all[(n * 3 + c) * 32 + i], one[n * 32 + i], in_float ? 1e-5 : 1e-12) << "class " << c << " sample " << n;
    }
  }
  // The gradient of sum(seed * y) through the same layers, by central differences (y is affine
  // in x: exact but for rounding).
  ExplainRequest g;
  g.method = Method::Gradient;
  g.target.kind = Target::Kind::Relevance;
  g.target.relevance = random({2, 3});
  const Tensor<double> grad = explain(m, x, g).relevance;
  const auto f = [&](const Tensor<double>& at) {
    ExplainRequest only;
    only.method = Method::Gradient;
    only.target.kind = Target::Kind::Relevance;
    only.target.relevance = g.target.relevance;
    const Tensor<double> y = explain(m, at, only).output;
    double s = 0;
    for (std::size_t i = 0; i < y.size(); ++i) s += g.target.relevance[i] * y[i];
    return s;
  };
  for (std::size_t i = 0; i < x.size(); ++i) {
    Tensor<double> up = x, down = x;
    up[i] += 1e-4;
    down[i] -= 1e-4;
    EXPECT_NEAR(grad[i], (f(up) - f(down)) / 2e-4, 1e-8) << "input " << i;
  }
}

}  // namespace
}  // namespace lrp
