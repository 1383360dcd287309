// Finite-difference checks (double) of every layer's backward (vector-Jacobian product) and of
// the parameter gradients of Linear and Convolution: f(x) = sum(g * layer(x)) for a random g,
// central differences against layer.backward(x, g).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>

#include "lrp/layers/activation.hpp"
#include "lrp/layers/batch_norm.hpp"
#include "lrp/layers/bias.hpp"
#include "lrp/layers/conv2d.hpp"
#include "lrp/layers/conv_transpose2d.hpp"
#include "lrp/layers/layer_norm.hpp"
#include "lrp/layers/linear.hpp"
#include "lrp/layers/masked_fill.hpp"
#include "lrp/layers/matmul.hpp"
#include "lrp/layers/merge.hpp"
#include "lrp/layers/pad.hpp"
#include "lrp/layers/pool2d.hpp"
#include "lrp/layers/reshape.hpp"
#include "lrp/layers/resize.hpp"
#include "lrp/layers/scale.hpp"

namespace lrp {
namespace {

using T = double;

Tensor<T> random_tensor(const Shape& s, std::mt19937_64& rng, double lo = -1, double hi = 1) {
  Tensor<T> t(s);
  std::uniform_real_distribution<double> u(lo, hi);
  for (T& v : t) v = u(rng);
  return t;
}

// Values whose magnitude is at least `gap` (no kinks of ReLU-like layers within the FD step).
Tensor<T> away_from_zero(const Shape& s, std::mt19937_64& rng, double gap = 0.05) {
  Tensor<T> t = random_tensor(s, rng, gap, 1.0);
  std::bernoulli_distribution sign(0.5);
  for (T& v : t) v = sign(rng) ? v : -v;
  return t;
}

// Pairwise distinct values (spaced by 1/size, shuffled), so max pooling has no ties.
Tensor<T> distinct_values(const Shape& s, std::mt19937_64& rng) {
  Tensor<T> t(s);
  for (std::size_t i = 0; i < t.size(); ++i) t[i] = -1.0 + 2.0 * static_cast<double>(i) / static_cast<double>(t.size());
  std::shuffle(t.begin(), t.end(), rng);
  return t;
}

T weighted_sum(const Layer<T>& layer, const std::vector<Tensor<T>>& xs, const Tensor<T>& g) {
  TensorRefs<T> in;
  for (const Tensor<T>& x : xs) in.push_back(&x);
  Tensor<T> y;
  layer.forward(in, y);
  T s = 0;
  for (std::size_t i = 0; i < y.size(); ++i) s += g[i] * y[i];
  return s;
}

void expect_close(double analytic, double numeric, double tol, const std::string& what) {
  EXPECT_LE(std::abs(analytic - numeric), tol * std::max({1.0, std::abs(analytic), std::abs(numeric)}))
      << what << ": analytic " << analytic << " numeric " << numeric;
}

// Checks dL/dinputs of `layer` at `xs` (every element).
void check_backward(const Layer<T>& layer, std::vector<Tensor<T>> xs, const std::string& name, double h = 1e-6, double tol = 1e-6) {
  SCOPED_TRACE(name);
  std::mt19937_64 rng(99);
  TensorRefs<T> in;
  for (const Tensor<T>& x : xs) in.push_back(&x);
  Tensor<T> y;
  layer.forward(in, y);
  const Tensor<T> g = random_tensor(y.shape(), rng);
  std::vector<Tensor<T>> din;
  layer.backward(in, y, g, din);
  ASSERT_EQ(din.size(), xs.size());
  for (std::size_t k = 0; k < xs.size(); ++k) {
    ASSERT_EQ(din[k].shape(), xs[k].shape()) << "input " << k;
    for (std::size_t i = 0; i < xs[k].size(); ++i) {
      const T orig = xs[k][i];
      xs[k][i] = orig + h;
      const T fp = weighted_sum(layer, xs, g);
      xs[k][i] = orig - h;
      const T fm = weighted_sum(layer, xs, g);
      xs[k][i] = orig;
      expect_close(din[k][i], (fp - fm) / (2 * h), tol, name + " input " + std::to_string(k) + " element " + std::to_string(i));
    }
  }
}

// Checks param_grads of `layer` at x (every parameter).
void check_param_grads(Layer<T>& layer, const Tensor<T>& x, const std::string& name, double h = 1e-6, double tol = 1e-6) {
  SCOPED_TRACE(name);
  std::mt19937_64 rng(7);
  Tensor<T> y;
  layer.forward({&x}, y);
  const Tensor<T> g = random_tensor(y.shape(), rng);
  std::vector<Tensor<T>> grads;
  layer.param_grads({&x}, g, grads);
  std::vector<Tensor<T>*> params = layer.params();
  ASSERT_EQ(grads.size(), params.size());
  for (std::size_t k = 0; k < params.size(); ++k) {
    ASSERT_EQ(grads[k].shape(), params[k]->shape());
    for (std::size_t i = 0; i < params[k]->size(); ++i) {
      T& p = (*params[k])[i];
      const T orig = p;
      p = orig + h;
      const T fp = weighted_sum(layer, {x}, g);
      p = orig - h;
      const T fm = weighted_sum(layer, {x}, g);
      p = orig;
      expect_close(grads[k][i], (fp - fm) / (2 * h), tol, name + " param " + std::to_string(k) + " element " + std::to_string(i));
    }
  }
}

TEST(LayerGradients, Linear) {
  std::mt19937_64 rng(1);
  Linear<T> lin(random_tensor({4, 6}, rng), random_tensor({4}, rng));
  const Tensor<T> x = random_tensor({3, 6}, rng);
  check_backward(lin, {x}, "Linear");
  check_param_grads(lin, x, "Linear");
}

TEST(LayerGradients, ConvolutionStridedPaddedGrouped) {
  std::mt19937_64 rng(2);
  Window2d win;
  win.kh = 3;
  win.kw = 2;  // non-square
  win.sh = 2;
  win.sw = 1;  // strided
  win.pt = 1;
  win.pl = 0;
  win.pb = 2;
  win.pr = 1;  // asymmetric padding
  // 4 input channels, 6 filters in 2 groups: weight [6, 2, 3, 2]
  Conv2d<T> conv(random_tensor({6, 2, 3, 2}, rng), random_tensor({6}, rng), win, 2);
  const Tensor<T> x = random_tensor({2, 4, 7, 5}, rng);
  check_backward(conv, {x}, "Conv2d grouped");
  check_param_grads(conv, x, "Conv2d grouped");
}

TEST(LayerGradients, TransposedConvolutionStridedPaddedGroupedDilated) {
  std::mt19937_64 rng(5);
  Window2d win;
  win.kh = 3;
  win.kw = 2;
  win.sh = 2;
  win.sw = 3;
  win.pt = 1;
  win.pb = 0;
  win.pl = 0;
  win.pr = 2;
  win.dh = 1;
  win.dw = 2;
  // 4 input channels in 2 groups, 3 outputs per group: weight [4, 3, 3, 2]; output padding 1,2.
  ConvTranspose2d<T> up(random_tensor({4, 3, 3, 2}, rng), random_tensor({6}, rng), win, 2, 1, 2);
  const Tensor<T> x = random_tensor({2, 4, 3, 4}, rng);
  EXPECT_EQ(up.output_shape({{4, 3, 4}}), (Shape{6, 2 * 2 + 3 + 1 - 1, 3 * 3 + 3 + 2 - 2}));
  check_backward(up, {x}, "ConvTranspose2d");
  check_param_grads(up, x, "ConvTranspose2d");
  EXPECT_THROW(ConvTranspose2d<T>(random_tensor({4, 3, 3, 2}, rng), random_tensor({6}, rng), win, 2, 2, 0), ShapeError)
      << "output padding must be smaller than the stride";
  EXPECT_THROW(ConvTranspose2d<T>(random_tensor({4, 3, 3, 2}, rng), random_tensor({4}, rng), win, 2), ShapeError) << "bias size";
}

TEST(LayerGradients, ResizeNearestAndLinear) {
  std::mt19937_64 rng(6);
  const Tensor<T> x = random_tensor({2, 3, 4, 5}, rng);
  // bilinear up (half pixel, edge clamping), nearest down, linear align-corners to odd sizes
  Resize2d<T> up(4, 5, resize_taps(4, 8, 2.0, ResizeCoordinates::HalfPixel, true, ResizeRounding::Floor),
                 resize_taps(5, 10, 2.0, ResizeCoordinates::HalfPixel, true, ResizeRounding::Floor), "linear");
  Resize2d<T> down(4, 5, resize_taps(4, 2, 0.5, ResizeCoordinates::Asymmetric, false, ResizeRounding::RoundPreferFloor),
                   resize_taps(5, 3, 0.6, ResizeCoordinates::Asymmetric, false, ResizeRounding::RoundPreferFloor), "nearest");
  Resize2d<T> corners(4, 5, resize_taps(4, 7, 7.0 / 4, ResizeCoordinates::AlignCorners, true, ResizeRounding::Floor),
                      resize_taps(5, 3, 3.0 / 5, ResizeCoordinates::AlignCorners, true, ResizeRounding::Floor), "linear");
  check_backward(up, {x}, "Resize bilinear x2");
  check_backward(down, {x}, "Resize nearest down");
  check_backward(corners, {x}, "Resize align corners");
  // align corners hits the corner values exactly
  Tensor<T> y;
  corners.forward({&x}, y);
  EXPECT_NEAR(y[0], x[0], 1e-15);
  EXPECT_NEAR(y[7 * 3 - 1], x[4 * 5 - 1], 1e-15);
}

TEST(LayerGradients, ConvolutionDilatedAndToolbox) {
  std::mt19937_64 rng(3);
  Window2d win;
  win.kh = 2;
  win.kw = 3;
  win.dh = 2;
  win.dw = 1;
  win.sh = 1;
  win.sw = 2;
  Conv2d<T> dilated(random_tensor({3, 2, 2, 3}, rng), random_tensor({3}, rng), win, 1);
  const Tensor<T> x = random_tensor({2, 2, 6, 7}, rng);
  check_backward(dilated, {x}, "Conv2d dilated");
  check_param_grads(dilated, x, "Conv2d dilated");

  Window2d tb;  // the toolbox's valid, unit-stride 5x5 convolution
  tb.kh = tb.kw = 5;
  Conv2d<T> toolbox(random_tensor({4, 1, 5, 5}, rng), random_tensor({4}, rng), tb, 1);
  const Tensor<T> x1 = random_tensor({1, 1, 8, 8}, rng);
  check_backward(toolbox, {x1}, "Conv2d toolbox");
  check_param_grads(toolbox, x1, "Conv2d toolbox");
}

TEST(LayerGradients, SumPoolAndAveragePool) {
  std::mt19937_64 rng(4);
  PoolSpec sum;
  sum.mode = PoolMode::Sum;
  sum.type_name = "SumPool";
  sum.window.kh = sum.window.kw = 2;
  sum.window.sh = sum.window.sw = 2;
  sum.divisor = 2.0;  // the toolbox's sqrt(2*2)
  check_backward(Pool2d<T>(sum), {random_tensor({2, 3, 5, 4}, rng)}, "SumPool");

  PoolSpec avg;  // overlapping, padded, divisor = count of non-padding inputs
  avg.mode = PoolMode::Sum;
  avg.type_name = "AveragePool";
  avg.window.kh = 3;
  avg.window.kw = 2;
  avg.window.sh = 2;
  avg.window.sw = 1;
  avg.window.pt = avg.window.pl = avg.window.pb = avg.window.pr = 1;
  check_backward(Pool2d<T>(avg), {random_tensor({1, 2, 5, 5}, rng)}, "AveragePool");

  PoolSpec global;
  global.mode = PoolMode::Sum;
  global.global = true;
  global.type_name = "GlobalAveragePool";
  check_backward(Pool2d<T>(global), {random_tensor({2, 3, 3, 4}, rng)}, "GlobalAveragePool");

  PoolSpec global_sum = global;  // ReduceSum: a fixed divisor of 1
  global_sum.divisor = 1.0;
  global_sum.type_name = "GlobalSumPool";
  const Tensor<T> x = random_tensor({2, 3, 3, 4}, rng);
  check_backward(Pool2d<T>(global_sum), {x}, "GlobalSumPool");
  Tensor<T> y;
  Pool2d<T>(global_sum).forward({&x}, y);
  for (std::size_t p = 0; p < 6; ++p) {
    T total = 0;
    for (std::size_t i = 0; i < 12; ++i) total += x[p * 12 + i];
    EXPECT_NEAR(y[p], total, 1e-5) << "plane " << p;
  }
}

TEST(LayerGradients, MaxPool) {
  std::mt19937_64 rng(5);
  PoolSpec mp;
  mp.mode = PoolMode::Max;
  mp.window.kh = mp.window.kw = 2;
  mp.window.sh = mp.window.sw = 2;
  check_backward(Pool2d<T>(mp), {distinct_values({2, 3, 6, 5}, rng)}, "MaxPool 2x2");
  PoolSpec overlap;  // overlapping 3x3 windows, stride 2, padding 1
  overlap.mode = PoolMode::Max;
  overlap.window.kh = overlap.window.kw = 3;
  overlap.window.sh = overlap.window.sw = 2;
  overlap.window.pt = overlap.window.pl = overlap.window.pb = overlap.window.pr = 1;
  check_backward(Pool2d<T>(overlap), {distinct_values({1, 2, 7, 6}, rng)}, "MaxPool 3x3 s2 p1");
}

TEST(LayerGradients, Activations) {
  std::mt19937_64 rng(6);
  const Shape s{3, 2, 3, 4};
  check_backward(Activation<T>(ActivationSpec{ActivationKind::ReLU}), {away_from_zero(s, rng)}, "Rect");
  check_backward(Activation<T>(ActivationSpec{ActivationKind::Tanh}), {random_tensor(s, rng, -2, 2)}, "Tanh");
  check_backward(Activation<T>(ActivationSpec{ActivationKind::Sigmoid}), {random_tensor(s, rng, -3, 3)}, "Sigmoid");
  check_backward(Activation<T>(ActivationSpec{ActivationKind::Erf}), {random_tensor(s, rng, -2, 2)}, "Erf");
  check_backward(Activation<T>(ActivationSpec{ActivationKind::Gelu}), {random_tensor(s, rng, -3, 3)}, "Gelu");
  check_backward(Activation<T>(ActivationSpec{ActivationKind::GeluTanh}), {random_tensor(s, rng, -3, 3)}, "GeluTanh");
  ActivationSpec leaky{ActivationKind::LeakyReLU};
  leaky.alpha = 0.1;
  check_backward(Activation<T>(leaky), {away_from_zero(s, rng)}, "LeakyReLU");
  ActivationSpec clip{ActivationKind::Clip};
  clip.lo = -0.5;
  clip.hi = 0.5;
  Tensor<T> x = random_tensor(s, rng, -1, 1);
  for (T& v : x)  // keep clear of the bounds
    if (std::abs(std::abs(v) - 0.5) < 0.05) v *= 0.8;
  check_backward(Activation<T>(clip), {x}, "Clip");
  ActivationSpec hard_sigmoid{ActivationKind::HardSigmoid};
  hard_sigmoid.alpha = 0.2;
  hard_sigmoid.beta = 0.5;
  Tensor<T> h = random_tensor(s, rng, -4, 4);
  for (T& v : h)  // keep clear of the kinks at -2.5 and 2.5 (HardSigmoid) and -3 and 3 (HardSwish)
    if (std::abs(std::abs(v) - 2.5) < 0.05 || std::abs(std::abs(v) - 3) < 0.05) v *= 0.9;
  check_backward(Activation<T>(hard_sigmoid), {h}, "HardSigmoid");
  check_backward(Activation<T>(ActivationSpec{ActivationKind::HardSwish}), {h}, "HardSwish");
  ActivationSpec elu{ActivationKind::Elu}, selu{ActivationKind::Selu};
  elu.alpha = 0.7;  // a kink at 0 unless alpha is 1: inputs away from it
  selu.alpha = 1.6732632423543772;
  selu.gamma = 1.0507009873554805;
  check_backward(Activation<T>(elu), {away_from_zero(s, rng)}, "Elu");
  check_backward(Activation<T>(selu), {away_from_zero(s, rng)}, "Selu");
  check_backward(Activation<T>(ActivationSpec{ActivationKind::Softplus}), {random_tensor(s, rng, -4, 4)}, "Softplus");
  check_backward(Activation<T>(ActivationSpec{ActivationKind::Softsign}), {away_from_zero(s, rng)}, "Softsign");
}

TEST(LayerGradients, SoftMax) {
  std::mt19937_64 rng(7);
  check_backward(SoftMax<T>(), {random_tensor({4, 6}, rng, -3, 3)}, "SoftMax");
  check_backward(SoftMax<T>(), {random_tensor({2, 3, 4, 5}, rng, -3, 3)}, "SoftMax over the last axis of attention scores");
}

// Transformer layers: the product of two computed values (batched over heads), a constant added
// to every sample, and a concatenation with constant parts (whose share of the gradient stops).
TEST(LayerGradients, MatMulBiasAndConcatWithConstants) {
  std::mt19937_64 rng(12);
  check_backward(MatMul<T>(), {random_tensor({2, 3, 4, 5}, rng), random_tensor({2, 3, 5, 2}, rng)}, "MatMul of heads");
  check_backward(MatMul<T>(), {random_tensor({3, 1, 7}, rng), random_tensor({3, 7, 4}, rng)}, "MatMul, one row");
  check_backward(Bias<T>(random_tensor({5, 4}, rng)), {random_tensor({3, 5, 4}, rng)}, "Bias");
  const Tensor<T> token = random_tensor({1, 4}, rng), tail = random_tensor({3, 4}, rng);
  const Concat<T> with_constants(2, 0, {{0, token}, {2, tail}});
  check_backward(with_constants, {random_tensor({2, 5, 4}, rng), random_tensor({2, 2, 4}, rng)}, "Concat with constants");
  // The forward puts the constants where they belong, alike for every sample.
  const Tensor<T> a = random_tensor({2, 5, 4}, rng), b = random_tensor({2, 2, 4}, rng);
  Tensor<T> y;
  with_constants.forward({&a, &b}, y);
  ASSERT_EQ(y.shape(), (Shape{2, 11, 4}));
  for (std::size_t n = 0; n < 2; ++n)
    for (std::size_t r = 0; r < 11; ++r)
      for (std::size_t c = 0; c < 4; ++c) {
        const T want = r == 0 ? token[c] : r <= 5 ? a[(n * 5 + r - 1) * 4 + c] : r <= 8 ? tail[(r - 6) * 4 + c] : b[(n * 2 + r - 9) * 4 + c];
        ASSERT_EQ(y[(n * 11 + r) * 4 + c], want) << n << " " << r << " " << c;
      }
  // A slice that drops its axis of one entry (ONNX Gather of one index).
  check_backward(Slice<T>({0, 2, 0}, {3, 1, 4}, {3, 4}), {random_tensor({2, 3, 5, 4}, rng)}, "Slice, axis dropped");
}

TEST(LayerGradients, FlattenReshapeTransposeAndSlice) {
  std::mt19937_64 rng(8);
  check_backward(Flatten<T>(true), {random_tensor({2, 3, 4, 5}, rng)}, "Flatten channels-last");
  check_backward(Flatten<T>(false), {random_tensor({2, 3, 4, 5}, rng)}, "Flatten channels-first");
  check_backward(Reshape<T>({3, 4}), {random_tensor({2, 12}, rng)}, "Reshape");
  check_backward(Reshape<T>({6, 2, 5}), {random_tensor({2, 3, 4, 5}, rng)}, "Reshape 4-D");
  check_backward(Transpose<T>({1, 0, 2}), {random_tensor({2, 3, 4, 5}, rng)}, "Transpose");
  check_backward(Transpose<T>({2, 0, 1}), {random_tensor({2, 3, 4, 5}, rng)}, "Transpose cyclic");
  check_backward(Slice<T>({1, 0, 2}, {2, 4, 3}), {random_tensor({2, 3, 4, 5}, rng)}, "Slice");
}

// Forward values against explicit index loops: ShuffleNet's channel shuffle (whole planes move),
// a transpose of the two inner axes (single elements move), and slices that keep whole rows,
// whole planes, or cut the last axis.
TEST(LayerGradients, TransposeAndSliceForwardMatchIndexLoops) {
  std::mt19937_64 rng(18);
  const Tensor<T> x = random_tensor({2, 2, 3, 4, 5}, rng);  // [N, groups, C/groups, H, W]
  const auto at = [&](std::size_t n, std::size_t a, std::size_t b, std::size_t c, std::size_t d) {
    return x[(((n * 2 + a) * 3 + b) * 4 + c) * 5 + d];
  };
  Tensor<T> y;
  Transpose<T>({1, 0, 2, 3}).forward({&x}, y);  // per-sample axes: groups <-> channels
  ASSERT_EQ(y.shape(), (Shape{2, 3, 2, 4, 5}));
  for (std::size_t n = 0; n < 2; ++n)
    for (std::size_t b = 0; b < 3; ++b)
      for (std::size_t a = 0; a < 2; ++a)
        for (std::size_t c = 0; c < 4; ++c)
          for (std::size_t d = 0; d < 5; ++d) ASSERT_EQ(y[(((n * 3 + b) * 2 + a) * 4 + c) * 5 + d], at(n, a, b, c, d));
  Transpose<T>({0, 1, 3, 2}).forward({&x}, y);  // H <-> W
  ASSERT_EQ(y.shape(), (Shape{2, 2, 3, 5, 4}));
  for (std::size_t n = 0; n < 2; ++n)
    for (std::size_t a = 0; a < 2; ++a)
      for (std::size_t b = 0; b < 3; ++b)
        for (std::size_t d = 0; d < 5; ++d)
          for (std::size_t c = 0; c < 4; ++c) ASSERT_EQ(y[(((n * 2 + a) * 3 + b) * 5 + d) * 4 + c], at(n, a, b, c, d));
  for (const auto& [begin, size] : {std::pair{Shape{1, 0, 0, 0}, Shape{1, 3, 4, 5}}, std::pair{Shape{0, 1, 0, 0}, Shape{2, 2, 4, 5}},
                                    std::pair{Shape{0, 1, 2, 0}, Shape{2, 1, 2, 5}}, std::pair{Shape{1, 0, 1, 2}, Shape{1, 3, 3, 2}}}) {
    Slice<T>(begin, size).forward({&x}, y);
    ASSERT_EQ(y.dim(0), 2u);
    std::size_t i = 0;
    for (std::size_t n = 0; n < 2; ++n)
      for (std::size_t a = 0; a < size[0]; ++a)
        for (std::size_t b = 0; b < size[1]; ++b)
          for (std::size_t c = 0; c < size[2]; ++c)
            for (std::size_t d = 0; d < size[3]; ++d)
              ASSERT_EQ(y[i++], at(n, begin[0] + a, begin[1] + b, begin[2] + c, begin[3] + d)) << shape_str(begin);
    check_backward(Slice<T>(begin, size), {x}, "Slice " + shape_str(begin));
  }
  check_backward(Transpose<T>({1, 0, 2, 3}), {x}, "Transpose of whole planes");
  // Rotations of the axes (NCHW <-> NHWC) run as tiled matrix transposes of each sample:
  // [2, 3 * 4 * 5] -> [3 * 4 * 5, 2], and [2 * 3, 4 * 5] -> [4 * 5, 2 * 3].
  for (const std::vector<std::size_t>& perm : {std::vector<std::size_t>{1, 2, 3, 0}, std::vector<std::size_t>{2, 3, 0, 1}}) {
    Transpose<T>(perm).forward({&x}, y);
    const std::size_t k = perm[0], rows = k == 1 ? 2 : 6, cols = 120 / rows;
    for (std::size_t n = 0; n < 2; ++n)
      for (std::size_t r = 0; r < rows; ++r)
        for (std::size_t c = 0; c < cols; ++c) ASSERT_EQ(y[n * 120 + c * rows + r], x[n * 120 + r * cols + c]) << "perm starts " << k;
    check_backward(Transpose<T>(perm), {x}, "rotation " + std::to_string(k));
  }
}

TEST(LayerGradients, BatchNorm) {
  std::mt19937_64 rng(9);
  BatchNorm<T> bn(random_tensor({3}, rng, 0.5, 2), random_tensor({3}, rng));
  check_backward(bn, {random_tensor({2, 3, 4, 2}, rng)}, "BatchNorm");
}

TEST(LayerGradients, AddConcatMulAndExtremum) {
  std::mt19937_64 rng(10);
  const Shape s{2, 3, 4, 4};
  check_backward(Add<T>(2), {random_tensor(s, rng), random_tensor(s, rng)}, "Add 2");
  check_backward(Add<T>(3), {random_tensor(s, rng), random_tensor(s, rng), random_tensor(s, rng)}, "Add 3");
  check_backward(Concat<T>(2, 0), {random_tensor({2, 3, 4, 4}, rng), random_tensor({2, 2, 4, 4}, rng)}, "Concat channels");
  check_backward(Concat<T>(3, 1), {random_tensor({2, 3, 1, 4}, rng), random_tensor({2, 3, 2, 4}, rng), random_tensor({2, 3, 3, 4}, rng)},
                 "Concat height");
  check_backward(Mul<T>(), {random_tensor(s, rng), random_tensor(s, rng)}, "Mul");
  check_backward(Mul<T>(1), {random_tensor(s, rng), random_tensor({2, 3, 1, 1}, rng)}, "Mul per channel");
  check_backward(Mul<T>(0), {random_tensor({2, 1, 1, 1}, rng), random_tensor(s, rng)}, "Mul by a scalar per sample");
  // Random inputs differ by far more than the step, so the finite differences see one winner.
  check_backward(Extremum<T>(3, false), {random_tensor(s, rng), random_tensor(s, rng), random_tensor(s, rng)}, "Max of 3");
  check_backward(Extremum<T>(2, true), {random_tensor(s, rng), random_tensor(s, rng)}, "Min of 2");
}

// A decoder's layers: LayerNorm and RMSNorm (not centred) over the last axis, an elementwise
// constant factor (rotary embeddings), a constant mask (finite fill: -inf has no differences).
TEST(LayerGradients, NormsScaleAndMaskedFill) {
  std::mt19937_64 rng(12);
  const Tensor<T> x = random_tensor({2, 3, 5}, rng);
  for (const bool centered : {true, false})
    check_backward(LayerNorm<T>(random_tensor({5}, rng, 0.5, 1.5), random_tensor({5}, rng), 1e-5, centered), {x},
                   centered ? "LayerNorm" : "RMSNorm");
  check_backward(Scale<T>(random_tensor({3, 5}, rng)), {x}, "Scale");
  for (const int p : {1, 2, 3, 4}) {
    ActivationSpec power{ActivationKind::Power};
    power.exponent = p;
    check_backward(Activation<T>(power), {x}, "Power " + std::to_string(p));
  }
  Tensor<T> keep({3, 5});
  for (std::size_t i = 0; i < keep.size(); ++i) keep[i] = i % 5 <= i / 5 ? 1.0 : 0.0;
  check_backward(MaskedFill<T>(keep, random_tensor({3, 5}, rng)), {x}, "MaskedFill");
}

// Rows of relevance that are all 0 (a language model's relevance starts at one position) are left
// out of the transposed product: the result equals the full product, in float and double.
TEST(LayerGradients, LinearTransposedSkipsRowsOfZeros) {
  std::mt19937_64 rng(13);
  const Tensor<T> w = random_tensor({6, 5}, rng);
  const Linear<T> dense(w, Tensor<T>({6}), true);
  const std::unique_ptr<Layer<float>> dense_f = dense.to_float();
  for (const std::size_t live : {0u, 1u, 3u, 8u}) {
    Tensor<T> g({8, 6});
    for (std::size_t r = 0; r < live; ++r)
      for (std::size_t j = 0; j < 6; ++j) g[(r * 3 % 8) * 6 + j] = static_cast<double>(r + 1) * (static_cast<double>(j) - 2.5);
    Tensor<T> dx;
    dense.apply_transposed(g, w, {8, 5}, dx);
    Tensor<float> dxf;
    static_cast<const Linear<float>&>(*dense_f).apply_transposed(g.cast<float>(), w.cast<float>(), {8, 5}, dxf);
    for (std::size_t r = 0; r < 8; ++r)
      for (std::size_t i = 0; i < 5; ++i) {
        double want = 0;
        for (std::size_t j = 0; j < 6; ++j) want += g[r * 6 + j] * w[j * 5 + i];
        EXPECT_NEAR(dx[r * 5 + i], want, 1e-12) << live << " live rows, row " << r;
        EXPECT_NEAR(dxf[r * 5 + i], want, 1e-4 * (1 + std::abs(want))) << live << " live rows, row " << r;
      }
  }
}

TEST(LayerGradients, Pad) {
  std::mt19937_64 rng(11);
  check_backward(Pad<T>(1, 2, 0, 3, -1.0), {random_tensor({2, 3, 4, 5}, rng)}, "Pad");
}

}  // namespace
}  // namespace lrp
