// Fast float32 convolution kernels (oneDNN) against the double-precision reference loops, over
// many shapes (odd sizes, strides, asymmetric padding, dilation, groups incl. depthwise,
// batch 1 and > 1), with fixed seeds.
//
// Tolerance: max |fast - ref| <= 2e-5 * max |ref| (float32 direct convolution: every output is
// a sum of at most a few thousand products, so its rounding error stays far below that).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "kernels/conv.hpp"
#include "kernels/conv_depthwise.hpp"
#include "kernels/conv_single_channel.hpp"
#include "kernels/dnnl_conv.hpp"

namespace lrp::kernels {
namespace {

struct Case {
  std::size_t n, c, h, w, oc, kh, kw, sh, sw, pt, pl, pb, pr, dh, dw, groups;
};

ConvShape shape_of(const Case& k) {
  ConvShape s;
  s.n = k.n;
  s.c = k.c;
  s.h = k.h;
  s.w = k.w;
  s.oc = k.oc;
  s.groups = k.groups;
  s.win.kh = k.kh;
  s.win.kw = k.kw;
  s.win.sh = k.sh;
  s.win.sw = k.sw;
  s.win.pt = k.pt;
  s.win.pl = k.pl;
  s.win.pb = k.pb;
  s.win.pr = k.pr;
  s.win.dh = k.dh;
  s.win.dw = k.dw;
  s.oh = s.win.out_h(s.h, "test");
  s.ow = s.win.out_w(s.w, "test");
  return s;
}

std::string name_of(const Case& k) {
  return "n" + std::to_string(k.n) + " c" + std::to_string(k.c) + " " + std::to_string(k.h) + "x" + std::to_string(k.w) +
         " oc" + std::to_string(k.oc) + " k" + std::to_string(k.kh) + "x" + std::to_string(k.kw) + " s" +
         std::to_string(k.sh) + "," + std::to_string(k.sw) + " p" + std::to_string(k.pt) + "," + std::to_string(k.pl) + "," +
         std::to_string(k.pb) + "," + std::to_string(k.pr) + " d" + std::to_string(k.dh) + "," + std::to_string(k.dw) + " g" +
         std::to_string(k.groups);
}

const std::vector<Case>& cases() {
  static const std::vector<Case> c = {
      // n  c   h   w  oc kh kw sh sw pt pl pb pr dh dw groups
      {1, 1, 32, 32, 10, 5, 5, 1, 1, 0, 0, 0, 0, 1, 1, 1},     // LeNet-5 conv1
      {3, 10, 14, 14, 25, 5, 5, 1, 1, 0, 0, 0, 0, 1, 1, 1},    // LeNet-5 conv2, batch 3
      {2, 25, 5, 5, 100, 4, 4, 1, 1, 0, 0, 0, 0, 1, 1, 1},     // conv to 1x1
      {2, 100, 1, 1, 10, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1},     // 1x1 on 1x1
      {1, 3, 23, 19, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},     // odd sizes, same padding
      {2, 16, 17, 13, 32, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1},    // stride 2
      {1, 8, 21, 21, 12, 7, 7, 2, 2, 3, 3, 3, 3, 1, 1, 1},     // 7x7 stride 2 (ResNet stem, small)
      {2, 5, 11, 9, 7, 3, 2, 2, 1, 0, 1, 2, 0, 1, 1, 1},       // non-square kernel, asymmetric padding
      {1, 6, 15, 15, 9, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2, 1},      // dilation 2
      {2, 4, 16, 18, 6, 3, 3, 1, 2, 1, 0, 3, 2, 3, 2, 1},      // mixed dilation, stride, padding
      {2, 8, 12, 12, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2},     // 2 groups
      {1, 12, 10, 10, 18, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 3},    // 3 groups, 4 -> 6 per group
      {2, 32, 14, 14, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 32},   // depthwise
      {1, 24, 9, 9, 48, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 24},     // depthwise multiplier 2, stride 2
      {3, 64, 8, 8, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},      // blocked-channel sizes
      {1, 64, 28, 28, 128, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1},   // 1x1 (ResNet bottleneck)
      {2, 70, 9, 7, 33, 1, 1, 2, 2, 0, 0, 0, 0, 1, 1, 1},      // 1x1 stride 2, ragged channels
      {1, 3, 40, 40, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},     // VGG first layer (small image)
      {2, 2, 5, 5, 3, 5, 5, 3, 3, 2, 2, 2, 2, 1, 1, 1},        // kernel = image, stride 3
      {1, 1, 28, 28, 32, 5, 5, 1, 1, 2, 2, 2, 2, 1, 1, 1},     // one channel, one sample, split over threads
      {3, 1, 28, 28, 32, 5, 5, 1, 1, 2, 2, 2, 2, 1, 1, 1},     // one channel, samples over threads
      {1, 16, 14, 14, 16, 5, 5, 1, 1, 4, 4, 4, 4, 2, 2, 16},   // dilated depthwise (backward as a flipped forward)
      {2, 8, 9, 11, 8, 3, 3, 1, 1, 1, 2, 3, 0, 2, 3, 8},       // the same with uneven pads and dilations
      {3, 5, 13, 11, 5, 5, 5, 1, 1, 2, 1, 0, 3, 1, 1, 5},      // depthwise 5x5, uneven pads, batch 3 (NCHW kernel)
      {1, 40, 9, 17, 40, 7, 7, 1, 1, 3, 3, 3, 3, 1, 1, 40},    // depthwise 7x7
      {1, 48, 30, 30, 48, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 48},   // depthwise, planes over threads
  };
  return c;
}

std::vector<double> random_vector(std::size_t n, std::uint32_t seed, double lo = -1.0, double hi = 1.0) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(lo, hi);
  std::vector<double> v(n);
  for (double& x : v) x = static_cast<double>(static_cast<float>(u(rng)));  // exactly representable in float
  return v;
}

std::vector<float> to_float(const std::vector<double>& v) { return std::vector<float>(v.begin(), v.end()); }

// max |a - b| / max |b|
double rel_err(const std::vector<float>& a, const std::vector<double>& b) {
  double diff = 0, mag = 0;
  for (std::size_t i = 0; i < b.size(); ++i) {
    diff = std::max(diff, std::abs(static_cast<double>(a[i]) - b[i]));
    mag = std::max(mag, std::abs(b[i]));
  }
  return mag == 0 ? diff : diff / mag;
}

constexpr double kTol = 2e-5;

class FastConv : public ::testing::TestWithParam<std::size_t> {};

TEST_P(FastConv, ForwardMatchesDoubleReference) {
  const Case& k = cases()[GetParam()];
  const ConvShape s = shape_of(k);
  const std::size_t nx = s.n * s.c * s.h * s.w, ny = s.n * s.oc * s.oh * s.ow;
  const std::size_t nw = s.oc * (s.c / s.groups) * s.win.kh * s.win.kw;
  const auto x = random_vector(nx, 1), w = random_vector(nw, 2), b = random_vector(s.oc, 3);
  for (const bool with_bias : {true, false}) {
    std::vector<double> ref(ny);
    conv2d_forward_reference<double>(s, x.data(), w.data(), with_bias ? b.data() : nullptr, ref.data());
    const auto xf = to_float(x), wf = to_float(w), bf = to_float(b);
    std::vector<float> y(ny, 123.f);
    conv2d_forward<float>(s, xf.data(), wf.data(), with_bias ? bf.data() : nullptr, y.data());
    EXPECT_LE(rel_err(y, ref), kTol) << name_of(k) << (with_bias ? " with bias" : " no bias");
    // The fast path itself (not a silent fallback) for every case.
    std::vector<float> y2(ny);
    EXPECT_TRUE(dnnl_conv_forward(s, xf.data(), wf.data(), with_bias ? bf.data() : nullptr, y2.data())) << name_of(k);
    EXPECT_LE(rel_err(y2, ref), kTol) << name_of(k);
  }
}

// conv2d_forward_relu (a oneDNN post-op on blocked layouts; the convolution then a vectorised
// ReLU on the single-channel, depthwise and plain-layout paths) equals the convolution followed
// by a ReLU. Compared as numbers: the post-op writes -0 where the ReLU layer writes +0 on some
// oneDNN paths (grouped and channel-multiplier layers here).
TEST_P(FastConv, ForwardReluEqualsForwardThenRelu) {
  const Case& k = cases()[GetParam()];
  const ConvShape s = shape_of(k);
  const std::size_t nx = s.n * s.c * s.h * s.w, ny = s.n * s.oc * s.oh * s.ow;
  const std::size_t nw = s.oc * (s.c / s.groups) * s.win.kh * s.win.kw;
  const auto xf = to_float(random_vector(nx, 4)), wf = to_float(random_vector(nw, 5)), bf = to_float(random_vector(s.oc, 6));
  std::vector<float> want(ny), fused(ny, 123.f);
  conv2d_forward<float>(s, xf.data(), wf.data(), bf.data(), want.data());
  for (float& v : want) v = v > 0.0f ? v : 0.0f;
  conv2d_forward_relu<float>(s, xf.data(), wf.data(), bf.data(), fused.data());
  for (std::size_t i = 0; i < ny; ++i) ASSERT_EQ(fused[i], want[i]) << name_of(k) << " at " << i;
}

TEST_P(FastConv, BackwardDataMatchesDoubleReference) {
  const Case& k = cases()[GetParam()];
  const ConvShape s = shape_of(k);
  const std::size_t nx = s.n * s.c * s.h * s.w, ny = s.n * s.oc * s.oh * s.ow;
  const std::size_t nw = s.oc * (s.c / s.groups) * s.win.kh * s.win.kw;
  const auto g = random_vector(ny, 4), w = random_vector(nw, 5);
  std::vector<double> ref(nx);
  conv2d_backward_data_reference<double>(s, g.data(), w.data(), ref.data());
  const auto gf = to_float(g), wf = to_float(w);
  std::vector<float> dx(nx, 123.f);  // must be overwritten, including positions no window reaches
  conv2d_backward_data<float>(s, gf.data(), wf.data(), dx.data());
  EXPECT_LE(rel_err(dx, ref), kTol) << name_of(k);
  std::vector<float> dx2(nx, -7.f);
  EXPECT_TRUE(dnnl_conv_backward_data(s, gf.data(), wf.data(), dx2.data())) << name_of(k);
  EXPECT_LE(rel_err(dx2, ref), kTol) << name_of(k);
}

// The float reference path agrees with the double one too (it is what non-oneDNN builds run).
TEST_P(FastConv, FloatReferenceMatchesDoubleReference) {
  const Case& k = cases()[GetParam()];
  const ConvShape s = shape_of(k);
  const std::size_t nx = s.n * s.c * s.h * s.w, ny = s.n * s.oc * s.oh * s.ow;
  const std::size_t nw = s.oc * (s.c / s.groups) * s.win.kh * s.win.kw;
  const auto x = random_vector(nx, 6), w = random_vector(nw, 7), b = random_vector(s.oc, 8);
  std::vector<double> ref(ny);
  conv2d_forward_reference<double>(s, x.data(), w.data(), b.data(), ref.data());
  const auto xf = to_float(x), wf = to_float(w), bf = to_float(b);
  std::vector<float> y(ny);
  conv2d_forward_reference<float>(s, xf.data(), wf.data(), bf.data(), y.data());
  EXPECT_LE(rel_err(y, ref), kTol) << name_of(k);
}

// Backward-data run as the forward convolution of the transposed, flipped weights (what
// AdjointMode::Auto picks for bfloat16 on AMX and for dilated depthwise layers) gives W^T g on
// every stride-1 shape, with weight maps, after a forward call with the same weights and map
// (whose cached copy has the same layout when C == OC and must not be taken for the adjoint's);
// elsewhere the call falls back to oneDNN's backward-data. Float32 on every CPU, and bfloat16
// where it is native (within its rounding: 2u + u^2 times sum |g| |map(w)|, u = 2^-8).
TEST_P(FastConv, BackwardDataAsForwardMatchesDoubleReference) {
  const Case& k = cases()[GetParam()];
  const ConvShape s = shape_of(k);
  const std::size_t nx = s.n * s.c * s.h * s.w, ny = s.n * s.oc * s.oh * s.ow;
  const std::size_t nw = s.oc * (s.c / s.groups) * s.win.kh * s.win.kw;
  const auto x = random_vector(nx, 14, 0.0, 1.0), g = random_vector(ny, 15), w = random_vector(nw, 16);
  const auto xf = to_float(x), gf = to_float(g), wf = to_float(w);
  const bool stride1 = k.sh == 1 && k.sw == 1;
  for (const ConvInputs inputs : {ConvInputs::F32, ConvInputs::BF16}) {
    if (inputs == ConvInputs::BF16 && !dnnl_conv_bf16_applies(s)) continue;
    for (const WeightMap map : {WeightMap::Identity, WeightMap::Positive}) {
      std::vector<double> wm(nw), wa(nw), ga(ny), ref(nx), bound(nx);
      for (std::size_t i = 0; i < nw; ++i) wm[i] = static_cast<double>(map_weight(map, 0.f, wf[i]));
      for (std::size_t i = 0; i < nw; ++i) wa[i] = std::abs(wm[i]);
      for (std::size_t i = 0; i < ny; ++i) ga[i] = std::abs(g[i]);
      conv2d_backward_data_reference<double>(s, g.data(), wm.data(), ref.data());
      conv2d_backward_data_reference<double>(s, ga.data(), wa.data(), bound.data());
      std::vector<float> y(ny), dx(nx, 123.f);
      set_dnnl_adjoint_mode(AdjointMode::Always);
      ASSERT_TRUE(dnnl_conv_forward(s, xf.data(), wf.data(), nullptr, y.data(), map, 0.f, inputs)) << name_of(k);
      const std::size_t before = dnnl_conv_stats().adjoint_calls;
      const bool ran = dnnl_conv_backward_data(s, gf.data(), wf.data(), dx.data(), map, 0.f, inputs);
      const std::size_t adjoint_calls = dnnl_conv_stats().adjoint_calls - before;
      set_dnnl_adjoint_mode(AdjointMode::Auto);
      ASSERT_TRUE(ran) << name_of(k);
      EXPECT_EQ(adjoint_calls, stride1 ? 1u : 0u) << name_of(k);
      if (inputs == ConvInputs::F32) {
        EXPECT_LE(rel_err(dx, ref), kTol) << name_of(k) << " map " << static_cast<int>(map);
        continue;
      }
      const double u = std::ldexp(1.0, -8), tol = 2 * u + u * u + 1e-5;
      double worst = 0;
      for (std::size_t i = 0; i < nx; ++i) worst = std::max(worst, std::abs(dx[i] - ref[i]) / (tol * bound[i] + 1e-30));
      EXPECT_LE(worst, 1.0) << name_of(k) << " bf16 map " << static_cast<int>(map);
    }
  }
  // Never: oneDNN's own backward-data, however the shape looks.
  set_dnnl_adjoint_mode(AdjointMode::Never);
  std::vector<float> dx(nx);
  const std::size_t before = dnnl_conv_stats().adjoint_calls;
  EXPECT_TRUE(dnnl_conv_backward_data(s, gf.data(), wf.data(), dx.data())) << name_of(k);
  EXPECT_EQ(dnnl_conv_stats().adjoint_calls, before) << name_of(k);
  set_dnnl_adjoint_mode(AdjointMode::Auto);
}

INSTANTIATE_TEST_SUITE_P(Shapes, FastConv, ::testing::Range<std::size_t>(0, 26));

// The NCHW depthwise kernels run (no silent fallback) wherever they apply, and only there.
TEST(FastConvDepthwise, RunsWhereItAppliesAndMatchesTheReference) {
  std::size_t ran = 0;
  for (const Case& k : cases()) {
    const ConvShape s = shape_of(k);
    const std::size_t nx = s.n * s.c * s.h * s.w, ny = s.n * s.oc * s.oh * s.ow, nw = s.oc * s.win.kh * s.win.kw;
    const bool applies = k.groups == k.c && k.c == k.oc && k.c > 1 && k.sh == 1 && k.sw == 1 && k.dh == 1 && k.dw == 1;
    EXPECT_EQ(depthwise_conv_applies(s), applies) << name_of(k);
    if (!applies) continue;
    ++ran;
    const auto x = random_vector(nx, 31), w = random_vector(nw, 32), b = random_vector(s.oc, 33), g = random_vector(ny, 34);
    std::vector<double> y_ref(ny), dx_ref(nx);
    conv2d_forward_reference<double>(s, x.data(), w.data(), b.data(), y_ref.data());
    conv2d_backward_data_reference<double>(s, g.data(), w.data(), dx_ref.data());
    const auto xf = to_float(x), wf = to_float(w), bf = to_float(b), gf = to_float(g);
    std::vector<float> y(ny, 5.f), dx(nx, 5.f);
    ASSERT_TRUE(depthwise_conv_forward(s, xf.data(), wf.data(), bf.data(), y.data())) << name_of(k);
    ASSERT_TRUE(depthwise_conv_backward_data(s, gf.data(), wf.data(), dx.data())) << name_of(k);
    EXPECT_LE(rel_err(y, y_ref), kTol) << name_of(k);
    EXPECT_LE(rel_err(dx, dx_ref), kTol) << name_of(k);
  }
  EXPECT_EQ(ran, 4u);
}

// The single-channel kernel's pair pass (two transposed maps on one g, as the rules' W+ / W-
// pairs use it) gives each map bit for bit as the single pass does (the same sums in the same
// order), and so within kTol of the reference; for one sample (chunks over threads) and several.
TEST(FastConvSingleChannel, PairEqualsTwoSinglePassesAndTheReference) {
  std::size_t ran = 0;
  for (const Case& k : cases()) {
    const ConvShape s = shape_of(k);
    if (!single_channel_conv_applies(s)) continue;
    ++ran;
    const std::size_t nx = s.n * s.c * s.h * s.w, ny = s.n * s.oc * s.oh * s.ow, nw = s.oc * s.win.kh * s.win.kw;
    const auto g = random_vector(ny, 41), w1 = random_vector(nw, 42), w2 = random_vector(nw, 43, 0.0, 1.0);
    std::vector<double> ref1(nx), ref2(nx);
    conv2d_backward_data_reference<double>(s, g.data(), w1.data(), ref1.data());
    conv2d_backward_data_reference<double>(s, g.data(), w2.data(), ref2.data());
    const auto gf = to_float(g), w1f = to_float(w1), w2f = to_float(w2);
    std::vector<float> one1(nx, 5.f), one2(nx, 5.f), pair1(nx, 7.f), pair2(nx, 7.f);
    ASSERT_TRUE(single_channel_conv_backward_data(s, gf.data(), w1f.data(), one1.data())) << name_of(k);
    ASSERT_TRUE(single_channel_conv_backward_data(s, gf.data(), w2f.data(), one2.data())) << name_of(k);
    ASSERT_TRUE(single_channel_conv_backward_data_pair(s, gf.data(), w1f.data(), w2f.data(), pair1.data(), pair2.data()))
        << name_of(k);
    EXPECT_EQ(pair1, one1) << name_of(k);
    EXPECT_EQ(pair2, one2) << name_of(k);
    EXPECT_LE(rel_err(pair1, ref1), kTol) << name_of(k);
    EXPECT_LE(rel_err(pair2, ref2), kTol) << name_of(k);
  }
  EXPECT_EQ(ran, 3u);
}

// Mapped weights (W+, W-, W^2, W + g W+, W + g W-) derived inside the kernel's copies, for the
// direct and the Winograd algorithms, against the reference with explicitly mapped weights.
TEST(FastConvMapped, MapsMatchReferenceWithMappedWeights) {
  const std::vector<Case> mcases = {
      {1, 16, 56, 56, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},  // Winograd-eligible (3x3, >= 16 channels, 3136 positions)
      {2, 24, 17, 15, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},  // Winograd under `winograd`, direct under `auto`
      {2, 3, 19, 19, 8, 5, 5, 2, 2, 2, 2, 2, 2, 1, 1, 1},    // few channels: plain layout
      {1, 12, 9, 9, 18, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 3},    // groups
      {2, 32, 7, 7, 64, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1},    // 1x1
      {1, 16, 14, 14, 16, 5, 5, 1, 1, 4, 4, 4, 4, 2, 2, 16},  // dilated depthwise: backward as a flipped forward
  };
  const std::vector<std::pair<WeightMap, float>> maps = {{WeightMap::Positive, 0.f}, {WeightMap::Negative, 0.f},
                                                         {WeightMap::Square, 0.f},   {WeightMap::GammaPositive, 0.25f},
                                                         {WeightMap::GammaNegative, 1.5f}};
  const ConvAlgo old = dnnl_conv_algorithm();
  for (const ConvAlgo algo : {ConvAlgo::Direct, ConvAlgo::Winograd, ConvAlgo::Auto}) {
    set_dnnl_conv_algorithm(algo);
    for (const Case& k : mcases) {
      const ConvShape s = shape_of(k);
      const std::size_t nx = s.n * s.c * s.h * s.w, ny = s.n * s.oc * s.oh * s.ow;
      const std::size_t nw = s.oc * (s.c / s.groups) * s.win.kh * s.win.kw;
      const auto x = random_vector(nx, 21, 0.0, 1.0), w = random_vector(nw, 22), g = random_vector(ny, 23);
      const auto xf = to_float(x), wf = to_float(w), gf = to_float(g);
      if (algo != ConvAlgo::Direct && &k == &mcases[0]) {  // Winograd is really used where eligible
        EXPECT_NE(dnnl_conv_impl(s, false).find("wino"), std::string::npos) << dnnl_conv_impl(s, false);
        EXPECT_NE(dnnl_conv_impl(s, true).find("wino"), std::string::npos) << dnnl_conv_impl(s, true);
      }
      for (const auto& [map, param] : maps) {
        std::vector<double> wm(nw);
        for (std::size_t i = 0; i < nw; ++i) wm[i] = static_cast<double>(map_weight(map, param, wf[i]));
        std::vector<double> yr(ny), dxr(nx);
        conv2d_forward_reference<double>(s, x.data(), wm.data(), nullptr, yr.data());
        conv2d_backward_data_reference<double>(s, g.data(), wm.data(), dxr.data());
        std::vector<float> y(ny), dx(nx);
        ASSERT_TRUE(dnnl_conv_forward(s, xf.data(), wf.data(), nullptr, y.data(), map, param)) << name_of(k);
        ASSERT_TRUE(dnnl_conv_backward_data(s, gf.data(), wf.data(), dx.data(), map, param)) << name_of(k);
        EXPECT_LE(rel_err(y, yr), 1e-5) << name_of(k) << " map " << static_cast<int>(map) << " algo " << static_cast<int>(algo);
        EXPECT_LE(rel_err(dx, dxr), 1e-5) << name_of(k) << " map " << static_cast<int>(map) << " algo " << static_cast<int>(algo);
      }
    }
  }
  set_dnnl_conv_algorithm(old);
}

// bfloat16 rule passes: where the CPU multiplies bfloat16 natively, activations and weights
// are rounded to 8 significant bits (unit roundoff u = 2^-8) and products summed in float32, so
// every output is within (2u + u^2 + float32 summation) * sum |x| |map(w)| of the exact value
// (measured: at most 0.4 of that bound). Elsewhere the calls run in float32
// and give the float32 results bit for bit.
TEST(FastConvBf16, WithinBfloat16RoundingOfTheReference) {
  // Which shapes multiply in bfloat16 depends on the CPU (src/kernels/dnnl_conv.cpp,
  // bf16_applies): {case, with AVX512-BF16 alone, with AMX}.
  struct Bf16Case {
    Case k;
    bool on_avx512_bf16, on_amx;
  };
  const std::vector<Bf16Case> all = {
      {{2, 24, 17, 15, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1}, true, true},    // blocked direct (too few positions for Winograd)
      {{1, 16, 33, 29, 32, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1}, true, true},    // stride 2
      {{1, 128, 7, 7, 256, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1}, true, true},    // 1x1 with >= 128 channels
      {{1, 128, 70, 70, 128, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1}, true, false}, // the same on 4900 positions: not on AMX
      {{1, 512, 14, 14, 512, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1}, true, true},  // VGG16 conv5 (4608 products per output)
      {{1, 16, 56, 56, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1}, false, true},   // float32 Winograd under auto: AMX only
      {{2, 3, 19, 19, 8, 5, 5, 2, 2, 2, 2, 2, 2, 1, 1, 1}, false, false},    // few input channels
      {{2, 32, 7, 7, 64, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1}, false, false},    // 1x1 with < 128 channels
  };
  const bool native = dnnl_bf16_native();
  const auto check = [&](const Case& k, bool expect_bf16) {
    const ConvShape s = shape_of(k);
    const std::size_t nx = s.n * s.c * s.h * s.w, ny = s.n * s.oc * s.oh * s.ow;
    const std::size_t nw = s.oc * (s.c / s.groups) * s.win.kh * s.win.kw;
    const auto x = random_vector(nx, 41, 0.0, 1.0), w = random_vector(nw, 42), g = random_vector(ny, 43);
    const auto xf = to_float(x), wf = to_float(w), gf = to_float(g);
    EXPECT_EQ(dnnl_conv_impl(s, false, ConvInputs::BF16).find("bf16") != std::string::npos, expect_bf16) << name_of(k);
    EXPECT_EQ(dnnl_conv_impl(s, true, ConvInputs::BF16).find("bf16") != std::string::npos, expect_bf16) << name_of(k);
    for (const auto& [map, param] : {std::pair{WeightMap::Identity, 0.f}, std::pair{WeightMap::Positive, 0.f},
                                     std::pair{WeightMap::GammaPositive, 0.25f}}) {
      std::vector<double> wm(nw), wa(nw), xa(nx), ga(ny);
      for (std::size_t i = 0; i < nw; ++i) wm[i] = static_cast<double>(map_weight(map, param, wf[i]));
      for (std::size_t i = 0; i < nw; ++i) wa[i] = std::abs(wm[i]);
      for (std::size_t i = 0; i < nx; ++i) xa[i] = std::abs(x[i]);
      for (std::size_t i = 0; i < ny; ++i) ga[i] = std::abs(g[i]);
      std::vector<double> yr(ny), dxr(nx), ybound(ny), dxbound(nx);
      conv2d_forward_reference<double>(s, x.data(), wm.data(), nullptr, yr.data());
      conv2d_backward_data_reference<double>(s, g.data(), wm.data(), dxr.data());
      conv2d_forward_reference<double>(s, xa.data(), wa.data(), nullptr, ybound.data());
      conv2d_backward_data_reference<double>(s, ga.data(), wa.data(), dxbound.data());
      std::vector<float> y(ny), dx(nx), y32(ny), dx32(nx);
      ASSERT_TRUE(dnnl_conv_forward(s, xf.data(), wf.data(), nullptr, y.data(), map, param, ConvInputs::BF16)) << name_of(k);
      ASSERT_TRUE(dnnl_conv_backward_data(s, gf.data(), wf.data(), dx.data(), map, param, ConvInputs::BF16)) << name_of(k);
      ASSERT_TRUE(dnnl_conv_forward(s, xf.data(), wf.data(), nullptr, y32.data(), map, param)) << name_of(k);
      ASSERT_TRUE(dnnl_conv_backward_data(s, gf.data(), wf.data(), dx32.data(), map, param)) << name_of(k);
      if (!expect_bf16) {
        EXPECT_EQ(y, y32) << name_of(k);
        EXPECT_EQ(dx, dx32) << name_of(k);
        continue;
      }
      const double u = std::ldexp(1.0, -8), tol = 2 * u + u * u + 1e-5;
      double worst = 0, worst_dx = 0;
      for (std::size_t i = 0; i < ny; ++i) worst = std::max(worst, std::abs(y[i] - yr[i]) / (tol * ybound[i] + 1e-30));
      for (std::size_t i = 0; i < nx; ++i) worst_dx = std::max(worst_dx, std::abs(dx[i] - dxr[i]) / (tol * dxbound[i] + 1e-30));
      EXPECT_LE(worst, 1.0) << name_of(k) << " map " << static_cast<int>(map);
      EXPECT_LE(worst_dx, 1.0) << name_of(k) << " map " << static_cast<int>(map);
      // and bfloat16 really ran: the float32 results are closer than bfloat16 rounding allows
      EXPECT_GT(rel_err(y, yr), 10 * rel_err(y32, yr)) << name_of(k);
    }
  };
  for (const Bf16Case& c : all) check(c.k, native && (dnnl_amx_native() ? c.on_amx : c.on_avx512_bf16));
}

TEST(FastConvCache, WeightsChangedInPlaceAreNoticed) {
  const ConvShape s = shape_of({2, 16, 9, 9, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1});
  const std::size_t nx = s.n * s.c * s.h * s.w, ny = s.n * s.oc * s.oh * s.ow, nw = s.oc * s.c * 9;
  const auto x = to_float(random_vector(nx, 10));
  std::vector<float> w = to_float(random_vector(nw, 11));
  std::vector<float> y1(ny), y2(ny), y3(ny);
  ASSERT_TRUE(dnnl_conv_forward(s, x.data(), w.data(), nullptr, y1.data()));
  for (float& v : w) v *= 2.0f;  // a training step, same buffer
  ASSERT_TRUE(dnnl_conv_forward(s, x.data(), w.data(), nullptr, y2.data()));
  for (std::size_t i = 0; i < ny; ++i) EXPECT_FLOAT_EQ(y2[i], 2.0f * y1[i]);
  // forget + new values also works, and the cache reuses the copy when nothing changed.
  dnnl_conv_forget_weights(w.data());
  const std::size_t before = dnnl_conv_stats().weight_reorders;
  ASSERT_TRUE(dnnl_conv_forward(s, x.data(), w.data(), nullptr, y3.data()));
  ASSERT_TRUE(dnnl_conv_forward(s, x.data(), w.data(), nullptr, y3.data()));
  EXPECT_LE(dnnl_conv_stats().weight_reorders, before + 1);
  for (std::size_t i = 0; i < ny; ++i) EXPECT_FLOAT_EQ(y3[i], y2[i]);
}

// With no room in the budget every weight copy is built per call in scratch memory: the
// results are bit-identical to those of cached copies, and nothing stays cached.
TEST(FastConvCache, CopiesBuiltPerCallEqualCachedOnes) {
  const std::vector<Case> bcases = {
      {1, 16, 56, 56, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},  // Winograd under auto
      {2, 24, 17, 15, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},  // blocked direct
      {2, 32, 7, 7, 64, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1},    // 1x1, plain layout
  };
  const std::size_t old_limit = dnnl_weight_cache_limit();
  for (const Case& k : bcases) {
    const ConvShape s = shape_of(k);
    const std::size_t nx = s.n * s.c * s.h * s.w, ny = s.n * s.oc * s.oh * s.ow, nw = s.oc * s.c * s.win.kh * s.win.kw;
    const auto x = to_float(random_vector(nx, 31, 0.0, 1.0)), w = to_float(random_vector(nw, 32)), g = to_float(random_vector(ny, 33));
    for (const WeightMap map : {WeightMap::Identity, WeightMap::Positive, WeightMap::GammaPositive}) {
      std::vector<float> y_cached(ny), dx_cached(nx), y_call(ny), dx_call(nx);
      set_dnnl_weight_cache_limit(old_limit);
      ASSERT_TRUE(dnnl_conv_forward(s, x.data(), w.data(), nullptr, y_cached.data(), map, 0.25f));
      ASSERT_TRUE(dnnl_conv_backward_data(s, g.data(), w.data(), dx_cached.data(), map, 0.25f));
      set_dnnl_weight_cache_limit(0);
      EXPECT_EQ(dnnl_conv_stats().weight_bytes, 0u);
      ASSERT_TRUE(dnnl_conv_forward(s, x.data(), w.data(), nullptr, y_call.data(), map, 0.25f));
      ASSERT_TRUE(dnnl_conv_backward_data(s, g.data(), w.data(), dx_call.data(), map, 0.25f));
      EXPECT_EQ(dnnl_conv_stats().weight_bytes, 0u);
      EXPECT_EQ(y_call, y_cached) << name_of(k) << " map " << static_cast<int>(map);
      EXPECT_EQ(dx_call, dx_cached) << name_of(k) << " map " << static_cast<int>(map);
    }
  }
  set_dnnl_weight_cache_limit(old_limit);
}

TEST(FastConvCache, ReferenceSettingDisablesOneDnn) {
  const ConvShape s = shape_of({1, 3, 8, 8, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1});
  std::vector<float> x(s.c * 64, 1.f), w(4 * 3 * 9, 1.f), y(4 * 64);
  const ConvAlgo old = dnnl_conv_algorithm();
  set_dnnl_conv_algorithm(ConvAlgo::Reference);
  EXPECT_FALSE(dnnl_conv_forward(s, x.data(), w.data(), nullptr, y.data()));
  conv2d_forward<float>(s, x.data(), w.data(), nullptr, y.data());  // falls back
  EXPECT_FLOAT_EQ(y[9], 27.f);  // interior output: 3 channels x 9 ones
  set_dnnl_conv_algorithm(old);
}

}  // namespace
}  // namespace lrp::kernels
