// Training building blocks: networks from layer specs, loss gradients w.r.t. the parameters
// (central differences in double), the toolbox's update scalings.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "lrp/io/toolbox_text.hpp"
#include "lrp/layers/conv2d.hpp"
#include "lrp/layers/linear.hpp"
#include "lrp/train/trainer.hpp"
#include "test_io_util.hpp"

namespace lrp::train {
namespace {

void randomize(Model<double>& model, std::uint64_t seed, double scale = 0.5) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(-scale, scale);
  for (Node<double>& n : model.nodes())
    for (Tensor<double>* p : n.layer->params())
      for (double& v : *p) v = u(rng);
}

Tensor<double> random_input(const Shape& s, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(-1, 1);
  Tensor<double> t(s);
  for (double& v : t) v = u(rng);
  return t;
}

// Central differences of the summed loss w.r.t. every parameter against loss_and_gradients.
void check_loss_gradients(Model<double>& model, const Tensor<double>& x, const Tensor<double>& targets, Loss loss) {
  std::vector<std::vector<Tensor<double>>> grads;
  const double l0 = loss_and_gradients(model, x, targets, loss, grads);
  EXPECT_TRUE(std::isfinite(l0));
  ASSERT_EQ(grads.size(), model.nodes().size());
  const double h = 1e-6;
  std::size_t checked = 0;
  for (std::size_t ii = 0; ii < model.nodes().size(); ++ii) {
    std::vector<Tensor<double>*> params = model.nodes()[ii].layer->params();
    ASSERT_EQ(grads[ii].size(), params.size()) << model.node_label(ii);
    for (std::size_t k = 0; k < params.size(); ++k)
      for (std::size_t i = 0; i < params[k]->size(); ++i) {
        double& p = (*params[k])[i];
        const double orig = p;
        std::vector<std::vector<Tensor<double>>> unused;
        p = orig + h;
        const double fp = loss_and_gradients(model, x, targets, loss, unused);
        p = orig - h;
        const double fm = loss_and_gradients(model, x, targets, loss, unused);
        p = orig;
        const double num = (fp - fm) / (2 * h), ana = grads[ii][k][i];
        EXPECT_NEAR(ana, num, 1e-6 * std::max({1.0, std::abs(num), std::abs(ana)}))
            << model.node_label(ii) << " param " << k << " element " << i;
        ++checked;
      }
  }
  EXPECT_GT(checked, 0u);
}

// Conv, MaxPool, SumPool, Rect, Tanh, Linear; input 8x8x2 (engine [N,2,8,8]).
const char* kTinyCnn =
    "Convolution 3 3 2 3 1 1; Tanh; MaxPool 2 2 2 2; Convolution 2 2 3 4 1 1; Rect; SumPool 2 2 1 1; Flatten; "
    "Linear 4 5; Tanh; Linear 5 3";

TEST(TrainGradients, CrossEntropyThroughSoftMax) {
  Model<double> m = build_network(std::string(kTinyCnn) + "; SoftMax", 1);
  randomize(m, 2);
  const Tensor<double> x = random_input({3, 2, 8, 8}, 3);
  check_loss_gradients(m, x, one_hot({2, 0, 1}, 3), Loss::Auto);
}

TEST(TrainGradients, SquaredErrorWithoutSoftMax) {
  Model<double> m = build_network(kTinyCnn, 4);
  randomize(m, 5);
  EXPECT_EQ(resolve_loss(m, Loss::Auto), Loss::SquaredError);
  const Tensor<double> x = random_input({2, 2, 8, 8}, 6);
  check_loss_gradients(m, x, one_hot({1, 2}, 3), Loss::Auto);
}

TEST(TrainGradients, CrossEntropyOnLogitsAndSquaredErrorThroughSoftMax) {
  Model<double> logits = build_network("Linear 4 5; Rect; Linear 5 3", 7);
  randomize(logits, 8);
  const Tensor<double> x = random_input({4, 4}, 9);
  check_loss_gradients(logits, x, one_hot({0, 1, 2, 1}, 3), Loss::CrossEntropy);
  Model<double> probs = build_network("Linear 4 5; Tanh; Linear 5 3; SoftMax", 10);
  randomize(probs, 11);
  check_loss_gradients(probs, x, one_hot({0, 1, 2, 1}, 3), Loss::SquaredError);
}

TEST(TrainGradients, CrossEntropyValue) {
  // Linear 2 2 with W = 0, B = (log 3, 0): p = (3/4, 1/4)
  Model<double> m = build_network("Linear 2 2; SoftMax", 0);
  Tensor<double>& b = *m.nodes()[0].layer->params()[1];
  b[0] = std::log(3.0);
  for (double& v : *m.nodes()[0].layer->params()[0]) v = 0;
  std::vector<std::vector<Tensor<double>>> g;
  const double l = loss_and_gradients(m, Tensor<double>({1, 2}), one_hot({1}, 2), Loss::Auto, g);
  EXPECT_NEAR(l, std::log(4.0), 1e-12);
  // the error signal at the logits is p - t = (3/4, -3/4): dB
  EXPECT_NEAR(g[0][1][0], 0.75, 1e-12);
  EXPECT_NEAR(g[0][1][1], -0.75, 1e-12);
}

TEST(TrainGradients, ToolboxBackwardRescalesBelowLinear) {
  Model<double> m = build_network("Linear 4 3; Tanh; Linear 3 2", 12);
  randomize(m, 13);
  const Tensor<double> x = random_input({5, 4}, 14);
  const Tensor<double> t = one_hot({0, 1, 1, 0, 1}, 2);
  std::vector<std::vector<Tensor<double>>> g_true, g_tb;
  loss_and_gradients(m, x, t, Loss::Auto, g_true, false);
  loss_and_gradients(m, x, t, Loss::Auto, g_tb, true);
  for (std::size_t k = 0; k < 2; ++k) {
    for (std::size_t i = 0; i < g_true[2][k].size(); ++i) EXPECT_DOUBLE_EQ(g_tb[2][k][i], g_true[2][k][i]);  // top layer: unchanged
    for (std::size_t i = 0; i < g_true[0][k].size(); ++i) EXPECT_NEAR(g_tb[0][k][i], g_true[0][k][i] * std::sqrt(3.0 / 2.0), 1e-12);
  }
}

TEST(TrainNetwork, LeNetSpecMatchesTheToolboxFormat) {
  const std::string spec =
      "Convolution 5 5 1 10 1 1; Rect; SumPool 2 2 2 2; Convolution 5 5 10 25 1 1; Rect; SumPool 2 2 2 2; "
      "Convolution 4 4 25 100 1 1; Rect; SumPool 2 2 2 2; Convolution 1 1 100 10 1 1; Flatten";
  const Model<double> m = build_network(spec, 42);
  EXPECT_EQ(m.nodes().size(), 11u);
  EXPECT_EQ(m.layout, DataLayout::NHWC);
  EXPECT_EQ(m.input_shape, (Shape{1, 0, 0}));
  EXPECT_EQ(m.infer_shapes({1, 32, 32}).back(), (Shape{10}));
  // Same headers as the shipped LeNet-5, and a text round trip gives the same model.
  const std::string text = io::format_toolbox_model(m);
  const Model<double> back = io::parse_toolbox_model(text, "lenet");
  EXPECT_EQ(io::format_toolbox_model(back), text);
  for (std::size_t i = 0; i < m.nodes().size(); ++i) {
    EXPECT_EQ(back.nodes()[i].name, m.nodes()[i].name);
    EXPECT_EQ(back.nodes()[i].layer->describe(), m.nodes()[i].layer->describe());
  }
  // toolbox initialisation: conv2 W ~ N(0, 1/sqrt(5*5*10)), biases 0
  const auto& conv2 = dynamic_cast<const Conv2d<double>&>(*m.nodes()[3].layer);
  double s2 = 0;
  for (double v : conv2.weight()) s2 += v * v;
  EXPECT_NEAR(std::sqrt(s2 / static_cast<double>(conv2.weight().size())), 1.0 / std::sqrt(250.0), 0.1 / std::sqrt(250.0));
  for (double v : conv2.bias()) EXPECT_EQ(v, 0.0);
}

TEST(TrainNetwork, SeedDeterminesWeights) {
  const std::string spec = "Linear 784 30; Rect; Linear 30 10; SoftMax";
  const std::string a = io::format_toolbox_model(build_network(spec, 5));
  EXPECT_EQ(io::format_toolbox_model(build_network(spec, 5)), a);
  EXPECT_NE(io::format_toolbox_model(build_network(spec, 6)), a);
  const Model<double> m = build_network(spec, 5);
  const auto& lin = dynamic_cast<const Linear<double>&>(*m.nodes()[0].layer);
  double s2 = 0;
  for (double v : lin.weight()) s2 += v * v;
  EXPECT_NEAR(std::sqrt(s2 / static_cast<double>(lin.weight().size())), 1.0 / 28.0, 0.05 / 28.0);
  EXPECT_EQ(m.input_shape, (Shape{784}));
  EXPECT_EQ(m.layout, DataLayout::Features);
}

TEST(TrainNetwork, BadSpecsNameTheProblem) {
  test::expect_error<FormatError>([] { build_network("Linear 2 3; Tanh; Dense 3 2", 0); }, {"Dense", "layer 2"});
  test::expect_error<FormatError>([] { build_network("Linear 2", 0); }, {"Linear 2", "2 integer parameters"});
  test::expect_error<FormatError>([] { build_network("Linear 2 x", 0); }, {"'x'"});
  test::expect_error<FormatError>([] { build_network("Linear 2 0", 0); }, {"'0'"});
  test::expect_error<FormatError>([] { build_network("Rect 3", 0); }, {"Rect 3"});
  test::expect_error<FormatError>([] { build_network(" ; ", 0); }, {"no layers"});
  test::expect_error<FormatError>([] { build_network("Tanh; SoftMax", 0); }, {"nothing to train"});
  test::expect_error<ShapeError>([] { build_network("Linear 2 3; Tanh; Linear 4 2", 0); }, {"takes 4 inputs", "gives 3"});
  test::expect_error<ShapeError>([] { build_network("Convolution 3 3 1 4 1 1; Convolution 3 3 5 2 1 1", 0); }, {"5 input channels"});
  EXPECT_NO_THROW(build_network("Linear 2 3;\nTanh\n; Linear 3 2;", 0));
}

// One toolbox step on the whole batch: W -= lr dW / sqrt(m), B -= lr dB / n^(1/4) (Linear);
// W -= lr dW / sqrt(h w d Hy Wy), B -= lr dB / sqrt(Hy Wy) (Convolution).
TEST(TrainUpdate, ToolboxScalings) {
  const Model<double> init = build_network("Convolution 2 2 1 2 1 1; Tanh; Flatten; Linear 8 3; SoftMax", 3);
  Dataset d;
  d.x = random_input({4, 1, 3, 3}, 4);
  d.targets = one_hot({0, 2, 1, 2}, 3);
  std::vector<std::vector<Tensor<double>>> g;
  loss_and_gradients(init, d.x, d.targets, Loss::Auto, g, true);
  TrainOptions o;
  o.batch = 4;  // the whole data set, in order
  o.iterations = 1;
  o.lrate = 0.1;
  o.status = 0;
  const Model<double> after = train(init, d, Dataset{}, o).model;
  const double hy_wy = 4.0;
  const double scales[2][2] = {{1.0 / std::sqrt(2 * 2 * 1 * hy_wy), 1.0 / std::sqrt(hy_wy)}, {1.0 / std::sqrt(8.0), std::pow(3.0, -0.25)}};
  const std::size_t nodes[2] = {0, 3};
  for (std::size_t l = 0; l < 2; ++l)
    for (std::size_t k = 0; k < 2; ++k) {
      const Tensor<double>& p0 = *init.nodes()[nodes[l]].layer->params()[k];
      const Tensor<double>& p1 = *after.nodes()[nodes[l]].layer->params()[k];
      for (std::size_t i = 0; i < p0.size(); ++i)
        EXPECT_NEAR(p1[i], p0[i] - 0.1 * scales[l][k] * g[nodes[l]][k][i], 1e-14) << "layer " << l << " param " << k << " " << i;
    }
}

TEST(TrainUpdate, SgdAndMomentumUseTheMeanGradient) {
  const Model<double> init = build_network("Linear 3 2", 1);
  Dataset d;
  d.x = random_input({4, 3}, 2);
  d.targets = random_input({4, 2}, 3);
  std::vector<std::vector<Tensor<double>>> g;
  loss_and_gradients(init, d.x, d.targets, Loss::Auto, g);
  TrainOptions o;
  o.batch = 4;
  o.iterations = 1;
  o.lrate = 0.2;
  o.status = 0;
  for (Optimizer opt : {Optimizer::Sgd, Optimizer::Momentum}) {
    o.optimizer = opt;
    const Model<double> after = train(init, d, Dataset{}, o).model;
    for (std::size_t k = 0; k < 2; ++k) {
      const Tensor<double>& p0 = *init.nodes()[0].layer->params()[k];
      const Tensor<double>& p1 = *after.nodes()[0].layer->params()[k];
      for (std::size_t i = 0; i < p0.size(); ++i) EXPECT_NEAR(p1[i], p0[i] - 0.2 * g[0][k][i] / 4.0, 1e-14);
    }
  }
}

}  // namespace
}  // namespace lrp::train
