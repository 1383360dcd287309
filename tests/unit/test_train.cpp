// Training runs: XOR, MNIST digits / Fashion-MNIST, determinism, early stopping.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <random>

#include "lrp/io/arrays.hpp"
#include "lrp/io/atomic_file.hpp"
#include "lrp/io/toolbox_text.hpp"
#include "lrp/train/trainer.hpp"
#include "test_io_util.hpp"

// read_idx is declared in lrp/io/arrays.hpp; its implementation comes with the io branch.
#if __has_include("io/idx.cpp")
#define LRP_TEST_HAVE_IDX 1
#endif

namespace lrp::train {
namespace {

// The toolbox's XOR data (training_test.py): corners of [0,1]^2 plus N(0, 0.1) noise, one-hot
// targets [x0 == x1, x0 != x1].
Dataset xor_data(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::bernoulli_distribution bit(0.5);
  std::normal_distribution<double> noise(0.0, 0.1);
  Dataset d;
  d.x = Tensor<double>({n, 2});
  std::vector<std::size_t> labels(n);
  for (std::size_t i = 0; i < n; ++i) {
    const bool a = bit(rng), b = bit(rng);
    d.x[2 * i] = (a ? 1.0 : 0.0) + noise(rng);
    d.x[2 * i + 1] = (b ? 1.0 : 0.0) + noise(rng);
    labels[i] = a == b ? 0 : 1;
  }
  d.targets = one_hot(labels, 2);
  return d;
}

Dataset slice(const Dataset& d, std::size_t begin, std::size_t end) {
  Dataset s;
  const std::size_t per = d.x.sample_size(), c = d.targets.sample_size();
  Shape xs = d.x.shape();
  xs[0] = end - begin;
  s.x = Tensor<double>(xs, std::vector<double>(d.x.begin() + begin * per, d.x.begin() + end * per));
  s.targets = Tensor<double>({end - begin, c}, std::vector<double>(d.targets.begin() + begin * c, d.targets.begin() + end * c));
  return s;
}

// Pixels 0..255 → [-1, 1] as the toolbox's scripts do.
void toolbox_scale(Tensor<double>& x) {
  for (double& v : x) v = v / 127.5 - 1.0;
}

TEST(TrainXor, ToolboxArchitectureReachesFullAccuracy) {
  const Model<double> init =
      build_network("Linear 2 3; Tanh; Linear 3 15; Tanh; Linear 15 15; Tanh; Linear 15 3; Tanh; Linear 3 2; SoftMax", 1);
  const Dataset data = xor_data(200, 2);
  TrainOptions o;  // the toolbox's training_test.py: batch 5, lrate 0.005 (1000 iterations there)
  o.batch = 5;
  o.iterations = 3000;
  o.status = 300;
  o.seed = 3;
  const TrainResult r = train(init, data, Dataset{}, o);
  EXPECT_EQ(r.iterations, 3000u);
  EXPECT_EQ(r.history.size(), 10u);
  EXPECT_EQ(r.best.accuracy, 1.0) << "loss " << r.best.loss;
  const Evaluation held_out = evaluate(r.model, xor_data(400, 4), Loss::Auto);
  EXPECT_EQ(held_out.accuracy, 1.0);
  EXPECT_NEAR(evaluate(r.model, data, Loss::Auto).loss, r.best.loss, 1e-12);  // the best model is returned
  std::cout << "[ xor ] accuracy " << held_out.accuracy << " (held-out), loss " << held_out.loss << ", " << r.seconds << " s\n";
}

TEST(TrainXor, MomentumAndFloatPrecisionLearnToo) {
  const Model<double> init = build_network("Linear 2 8; Tanh; Linear 8 2; SoftMax", 5);
  const Dataset data = xor_data(200, 6);
  TrainOptions o;
  o.batch = 10;
  o.iterations = 600;
  o.status = 200;
  o.optimizer = Optimizer::Momentum;
  o.lrate = 0.1;
  o.precision = Precision::Float;
  const TrainResult r = train(init, data, Dataset{}, o);
  EXPECT_EQ(evaluate(r.model, xor_data(400, 7), Loss::Auto).accuracy, 1.0);
}

// The first 100 MNIST test digits shipped with the toolbox data: train an MLP on 80, test on 20.
TEST(TrainMnist, SmallMlpOnShippedDigits) {
  const std::string images = test::shared_path("data/lrp_toolbox/data/MNIST/derived/test_images_first100_uint8.npy");
  const std::string labels = test::shared_path("data/lrp_toolbox/data/MNIST/derived/test_labels_first100_uint8.npy");
  if (!std::filesystem::exists(images) || !std::filesystem::exists(labels)) GTEST_SKIP() << "shared MNIST digits not found";
  Dataset all;
  all.x = io::read_npy(images);
  toolbox_scale(all.x);
  all.targets = one_hot(labels_from_array(io::read_npy(labels), labels), 10);
  const Dataset tr = slice(all, 0, 80), te = slice(all, 80, 100);
  TrainOptions o;
  o.batch = 20;
  o.iterations = 300;
  o.status = 50;
  o.seed = 1;
  const TrainResult r = train(build_network("Linear 784 32; Rect; Linear 32 10; SoftMax", 2), tr, Dataset{}, o);
  const Evaluation e = evaluate(r.model, te, Loss::Auto);
  std::cout << "[ mnist-100 ] train accuracy " << r.best.accuracy << ", held-out accuracy " << e.accuracy << " (20 digits), "
            << r.seconds << " s\n";
  EXPECT_GE(r.best.accuracy, 0.95);
  EXPECT_GE(e.accuracy, 0.5);  // chance: 0.1
}

#ifdef LRP_TEST_HAVE_IDX
// Fashion-MNIST (Debian's dataset-fashion-mnist): 3000 training images, 1000 held-out test images.
TEST(TrainMnist, FashionMnistMlp) {
  const std::string dir = "/usr/share/datasets/fashion-mnist/";
  if (!std::filesystem::exists(dir + "train-images-idx3-ubyte.gz")) GTEST_SKIP() << "Fashion-MNIST not installed";
  auto load = [&](const std::string& prefix, std::size_t n) {
    Tensor<double> x = io::read_idx(dir + prefix + "-images-idx3-ubyte.gz");
    const std::vector<std::size_t> y = labels_from_array(io::read_idx(dir + prefix + "-labels-idx1-ubyte.gz"), prefix);
    Dataset d;
    d.x = Tensor<double>({n, 784}, std::vector<double>(x.begin(), x.begin() + n * 784));
    toolbox_scale(d.x);
    d.targets = one_hot(std::vector<std::size_t>(y.begin(), y.begin() + n), 10);
    return d;
  };
  const Dataset tr = load("train", 3000), te = load("t10k", 1000);
  TrainOptions o;
  o.batch = 32;
  o.iterations = 600;
  o.status = 200;
  o.seed = 1;
  const TrainResult r = train(build_network("Linear 784 32; Rect; Linear 32 10; SoftMax", 2), tr, te, o);
  std::cout << "[ fashion-mnist ] held-out accuracy " << r.best.accuracy << " (1000 test images), " << r.seconds << " s\n";
  EXPECT_GE(r.best.accuracy, 0.6);  // chance: 0.1
}
#else
TEST(TrainMnist, FashionMnistMlp) { GTEST_SKIP() << "io::read_idx is not built in this branch yet"; }
#endif

TEST(TrainDeterminism, SameSeedSameModelBytes) {
  test::TempDir dir;
  const Dataset data = xor_data(100, 8);
  for (Precision prec : {Precision::Double, Precision::Float}) {
    std::vector<std::string> bytes;
    for (int run = 0; run < 2; ++run) {
      TrainOptions o;
      o.batch = 7;
      o.iterations = 200;
      o.status = 50;
      o.seed = 11;
      o.precision = prec;
      const std::string path = dir.file("m" + std::to_string(run) + ".txt");
      io::write_toolbox_model(train(build_network("Linear 2 6; Rect; Linear 6 6; Tanh; Linear 6 2; SoftMax", 9), data, Dataset{}, o).model,
                              path);
      bytes.push_back(io::read_file_bytes(path));
    }
    EXPECT_EQ(bytes[0], bytes[1]);
  }
  // A CNN (convolution, pools) in double and float.
  Dataset img;
  img.x = Tensor<double>({12, 1, 10, 10});
  std::mt19937_64 rng(1);
  std::uniform_real_distribution<double> u(-1, 1);
  for (double& v : img.x) v = u(rng);
  img.targets = one_hot({0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2}, 3);
  for (Precision prec : {Precision::Double, Precision::Float}) {
    std::vector<std::string> texts;
    for (int run = 0; run < 2; ++run) {
      TrainOptions o;
      o.batch = 4;
      o.iterations = 20;
      o.status = 10;
      o.seed = 3;
      o.precision = prec;
      const Model<double> init =
          build_network("Convolution 3 3 1 4 1 1; Rect; MaxPool 2 2 2 2; Convolution 2 2 4 6 1 1; Tanh; SumPool 3 3 1 1; Flatten; Linear 6 3; SoftMax", 4);
      texts.push_back(io::format_toolbox_model(train(init, img, Dataset{}, o).model));
    }
    EXPECT_EQ(texts[0], texts[1]);
  }
}

// Validation data with the opposite labels: the validation loss gets worse as training fits the
// training data, so the first evaluation stays the best and patience runs out.
TEST(TrainEarlyStopping, StopsAndRestoresTheBestModel) {
  const Dataset data = xor_data(100, 12);
  Dataset flipped = data;
  for (std::size_t i = 0; i < flipped.targets.size(); ++i) flipped.targets[i] = 1.0 - flipped.targets[i];
  const Model<double> init = build_network("Linear 2 8; Tanh; Linear 8 2; SoftMax", 13);
  TrainOptions o;
  o.batch = 10;
  o.iterations = 5000;
  o.status = 20;
  o.convergence = 3;
  o.lrate = 0.05;
  o.seed = 14;
  const TrainResult r = train(init, data, flipped, o);
  ASSERT_TRUE(r.stopped_early);
  EXPECT_LT(r.iterations, 5000u);
  ASSERT_GE(r.history.size(), 4u);
  EXPECT_EQ(r.iterations, r.history.back().iteration);
  // The last `convergence` evaluations did not improve on the best.
  for (std::size_t i = r.history.size() - 3; i < r.history.size(); ++i) EXPECT_GT(r.history[i].loss, r.best.loss);
  EXPECT_GT(r.last.loss, r.best.loss);
  // The returned model is the best one: its validation loss, and the same bytes as a run that
  // stops at the best iteration.
  EXPECT_NEAR(evaluate(r.model, flipped, Loss::Auto).loss, r.best.loss, 1e-12);
  TrainOptions shorter = o;
  shorter.iterations = r.best.iteration;
  shorter.convergence = -1;
  EXPECT_EQ(io::format_toolbox_model(train(init, data, flipped, shorter).model), io::format_toolbox_model(r.model));
}

TEST(TrainOptionsCheck, BadOptionsAndDataAreRejected) {
  const Model<double> m = build_network("Linear 2 3; SoftMax", 0);
  const Dataset data = xor_data(10, 1);
  TrainOptions o;
  o.batch = 0;
  EXPECT_THROW(train(m, data, Dataset{}, o), ConfigError);
  o = TrainOptions{};
  o.lrate = -1;
  EXPECT_THROW(train(m, data, Dataset{}, o), ConfigError);
  o = TrainOptions{};
  o.iterations = 10;
  test::expect_error<ShapeError>([&] { train(m, data, Dataset{}, o); }, {"2 columns", "[3]"});  // 2 classes, 3 outputs
  Dataset short_targets = data;
  short_targets.targets = one_hot({0, 1}, 2);
  test::expect_error<ShapeError>([&] { train(build_network("Linear 2 2; SoftMax", 0), short_targets, Dataset{}, o); }, {"10 samples"});
  EXPECT_THROW(one_hot({0, 3}, 3), ConfigError);
  EXPECT_THROW(labels_from_array(Tensor<double>({2}, {0.5, 1}), "y"), FormatError);
  EXPECT_EQ(labels_from_array(Tensor<double>({2, 3}, {0, 1, 0, 0, 0, 1}), "y"), (std::vector<std::size_t>{1, 2}));
}

TEST(TrainProgress, CallbackSeesEveryIterationAndEvaluations) {
  const Dataset data = xor_data(50, 1);
  TrainOptions o;
  o.batch = 5;
  o.iterations = 25;
  o.status = 10;
  std::size_t calls = 0, evals = 0;
  o.on_progress = [&](const Progress& p) {
    ++calls;
    EXPECT_EQ(p.iteration, calls);
    EXPECT_EQ(p.iterations, 25u);
    EXPECT_TRUE(std::isfinite(p.batch_loss));
    EXPECT_GE(p.eta_s, 0.0);
    if (p.evaluated) {
      ++evals;
      EXPECT_TRUE(p.has_evaluation);
      EXPECT_FALSE(p.on_validation);
    }
  };
  const TrainResult r = train(build_network("Linear 2 4; Tanh; Linear 4 2; SoftMax", 2), data, Dataset{}, o);
  EXPECT_EQ(calls, 25u);
  EXPECT_EQ(evals, 3u);  // 10, 20 and the end (25)
  EXPECT_EQ(r.history.size(), 3u);
  EXPECT_EQ(r.history.back().iteration, 25u);
}

}  // namespace
}  // namespace lrp::train
