#include "bench_models.hpp"

#include <cmath>
#include <memory>
#include <random>

#include "lrp/core/error.hpp"
#include "lrp/layers/activation.hpp"
#include "lrp/layers/conv2d.hpp"
#include "lrp/layers/linear.hpp"
#include "lrp/layers/merge.hpp"
#include "lrp/layers/pool2d.hpp"
#include "lrp/layers/reshape.hpp"

namespace lrp::cli {
namespace {

class Builder {
 public:
  explicit Builder(unsigned seed) : rng_(seed) {}
  Model<float> m;

  Tensor<float> normal(const Shape& s, double sd) {
    std::normal_distribution<float> nd(0.0f, static_cast<float>(sd));
    Tensor<float> t(s);
    for (float& v : t) v = nd(rng_);
    return t;
  }
  Tensor<float> uniform(const Shape& s, double lo, double hi) {
    std::uniform_real_distribution<float> u(static_cast<float>(lo), static_cast<float>(hi));
    Tensor<float> t(s);
    for (float& v : t) v = u(rng_);
    return t;
  }
  static Window2d window(std::size_t k, std::size_t stride, std::size_t pad) {
    Window2d w;
    w.kh = w.kw = k;
    w.sh = w.sw = stride;
    w.pt = w.pl = w.pb = w.pr = pad;
    return w;
  }
  // Conv with kaiming-normal (fan_out) weights and zero bias, as torchvision initialises them.
  std::size_t conv(const std::string& name, std::size_t in, std::size_t out, std::size_t k, std::size_t stride,
                   std::size_t pad, std::vector<std::size_t> inputs = {}) {
    Tensor<float> w = normal({out, in, k, k}, std::sqrt(2.0 / static_cast<double>(out * k * k)));
    return m.add(name, std::make_unique<Conv2d<float>>(std::move(w), Tensor<float>({out}), window(k, stride, pad)), std::move(inputs));
  }
  // Conv followed by a BatchNorm with random statistics (the resnet50 recipe), folded into the
  // conv's weights and bias the way an importer canonises it.
  std::size_t conv_bn(const std::string& name, std::size_t in, std::size_t out, std::size_t k, std::size_t stride,
                      std::size_t pad, std::vector<std::size_t> inputs = {}) {
    Tensor<float> w = normal({out, in, k, k}, std::sqrt(2.0 / static_cast<double>(out * k * k)));
    const Tensor<float> gamma = uniform({out}, 0.5, 1.5), beta = normal({out}, 0.1), mean = normal({out}, 0.1),
                        var = uniform({out}, 0.5, 2.0);
    Tensor<float> b({out});
    const std::size_t per = in * k * k;
    for (std::size_t o = 0; o < out; ++o) {
      const float scale = gamma[o] / std::sqrt(var[o] + 1e-5f);
      for (std::size_t i = 0; i < per; ++i) w[o * per + i] *= scale;
      b[o] = beta[o] - mean[o] * scale;
    }
    return m.add(name, std::make_unique<Conv2d<float>>(std::move(w), std::move(b), window(k, stride, pad)), std::move(inputs));
  }
  std::size_t relu(const std::string& name, std::vector<std::size_t> inputs = {}) {
    return m.add(name, std::make_unique<Activation<float>>(ActivationSpec{}), std::move(inputs));
  }
  std::size_t max_pool(const std::string& name, std::size_t k, std::size_t stride, std::size_t pad = 0) {
    PoolSpec p;
    p.window = window(k, stride, pad);
    return m.add(name, std::make_unique<Pool2d<float>>(p));
  }
  std::size_t avg_pool(const std::string& name, std::size_t k, bool global) {
    PoolSpec p;
    p.mode = PoolMode::Sum;
    p.window = window(k, k, 0);
    p.global = global;
    p.divisor = global ? 0.0 : static_cast<double>(k * k);
    p.type_name = global ? "GlobalAveragePool" : "AveragePool";
    return m.add(name, std::make_unique<Pool2d<float>>(p));
  }
  std::size_t flatten(const std::string& name) { return m.add(name, std::make_unique<Flatten<float>>()); }
  // Linear with N(0, sd) weights and zero bias (torchvision VGG) or PyTorch's default
  // uniform(-1/sqrt(in), 1/sqrt(in)) for weights and bias (sd = 0).
  std::size_t linear(const std::string& name, std::size_t in, std::size_t out, double sd = 0.0) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(in));
    Tensor<float> w = sd > 0 ? normal({out, in}, sd) : uniform({out, in}, -bound, bound);
    Tensor<float> b = sd > 0 ? Tensor<float>({out}) : uniform({out}, -bound, bound);
    return m.add(name, std::make_unique<Linear<float>>(std::move(w), std::move(b)));
  }
  std::size_t add(const std::string& name, std::size_t a, std::size_t b) {
    return m.add(name, std::make_unique<Add<float>>(2), {a, b});
  }

 private:
  std::mt19937 rng_;
};

Model<float> vgg16() {
  Builder b(0);
  const int cfg[] = {64, 64, -1, 128, 128, -1, 256, 256, 256, -1, 512, 512, 512, -1, 512, 512, 512, -1};
  std::size_t in = 3, idx = 0;
  for (int c : cfg) {
    const std::string n = "features." + std::to_string(idx);
    if (c < 0) {
      b.max_pool(n, 2, 2);
      ++idx;
    } else {
      b.conv(n, in, static_cast<std::size_t>(c), 3, 1, 1);
      b.relu("features." + std::to_string(idx + 1));
      idx += 2;
      in = static_cast<std::size_t>(c);
    }
  }
  b.avg_pool("avgpool", 1, false);  // AdaptiveAvgPool2d(7) on 7x7 (ONNX export: 1x1 AveragePool)
  b.flatten("flatten");
  b.linear("classifier.0", 512 * 7 * 7, 4096, 0.01);
  b.relu("classifier.1");
  b.linear("classifier.3", 4096, 4096, 0.01);
  b.relu("classifier.4");
  b.linear("classifier.6", 4096, 1000, 0.01);
  b.m.input_shape = {3, 224, 224};
  b.m.layout = DataLayout::NCHW;
  return std::move(b.m);
}

Model<float> resnet50() {
  Builder b(0);
  b.conv_bn("conv1", 3, 64, 7, 2, 3);
  b.relu("relu");
  std::size_t x = b.max_pool("maxpool", 3, 2, 1);
  std::size_t in = 64;
  const std::size_t blocks[] = {3, 4, 6, 3};
  for (std::size_t layer = 0; layer < 4; ++layer) {
    const std::size_t width = std::size_t(64) << layer, out = width * 4;
    for (std::size_t blk = 0; blk < blocks[layer]; ++blk) {
      const std::string n = "layer" + std::to_string(layer + 1) + "." + std::to_string(blk) + ".";
      const std::size_t stride = blk == 0 && layer > 0 ? 2 : 1;
      std::size_t y = b.conv_bn(n + "conv1", in, width, 1, 1, 0, {x});
      y = b.relu(n + "relu1");
      y = b.conv_bn(n + "conv2", width, width, 3, stride, 1);
      y = b.relu(n + "relu2");
      y = b.conv_bn(n + "conv3", width, out, 1, 1, 0);
      std::size_t skip = x;
      if (blk == 0) skip = b.conv_bn(n + "downsample", in, out, 1, stride, 0, {x});
      b.add(n + "add", y, skip);
      x = b.relu(n + "relu3");
      in = out;
    }
  }
  b.avg_pool("avgpool", 1, true);
  b.flatten("flatten");
  b.linear("fc", 2048, 1000);
  b.m.input_shape = {3, 224, 224};
  b.m.layout = DataLayout::NCHW;
  return std::move(b.m);
}

Model<float> mlp() {
  Builder b(0);
  b.linear("0", 784, 1296);
  b.relu("1");
  b.linear("2", 1296, 1296);
  b.relu("3");
  b.linear("4", 1296, 1296);
  b.relu("5");
  b.linear("6", 1296, 10);
  b.m.input_shape = {784};
  return std::move(b.m);
}

Model<float> mnist_cnn() {
  Builder b(0);
  b.conv("0", 1, 32, 5, 1, 2);
  b.relu("1");
  b.max_pool("2", 2, 2);
  b.conv("3", 32, 64, 5, 1, 2);
  b.relu("4");
  b.max_pool("5", 2, 2);
  b.flatten("6");
  b.linear("7", 3136, 1024);
  b.relu("8");
  b.linear("9", 1024, 10);
  b.m.input_shape = {1, 28, 28};
  b.m.layout = DataLayout::NCHW;
  return std::move(b.m);
}

}  // namespace

std::string synthetic_model_names() { return "mlp, mnist_cnn, vgg16, resnet50"; }

Model<float> synthetic_model(const std::string& name) {
  Model<float> m;
  if (name == "vgg16") m = vgg16();
  else if (name == "resnet50") m = resnet50();
  else if (name == "mlp") m = mlp();
  else if (name == "mnist_cnn") m = mnist_cnn();
  else throw ConfigError("unknown synthetic model '" + name + "' (expected " + synthetic_model_names() + ")");
  m.name = name;
  m.source = "synthetic:" + name;
  m.validate();
  return m;
}

}  // namespace lrp::cli
