// Heatmap rendering against the LRP Toolbox's render.py outputs (shared references), plus the
// normalisations, channel reductions, outline and image layout helpers.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "lrp/core/error.hpp"
#include "lrp/render/heatmap.hpp"
#include "support/test_npy_reader.hpp"
#include "support/test_paths.hpp"

using lrp::Tensor;
using lrp::render::HeatmapOptions;
using lrp::render::RgbImage;

namespace {

std::string render_ref(const std::string& file) {
  return lrp::test::shared_path("reference/lrp_toolbox/LeNet-5/render/" + file);
}

Tensor<double> load(const std::string& file) {
  auto a = lrp::test::read_test_npy(render_ref(file));
  return Tensor<double>(a.shape, a.data);
}

// The Toolbox's save_image conversion of a float image: x * 255 truncated (values here lie in [0,1]).
std::uint8_t toolbox_u8(double x) { return static_cast<std::uint8_t>(std::min(std::max(x, 0.0), 1.0) * 255.0); }

// Nearest-neighbour enlargement of an [H,W,3] float image.
Tensor<double> enlarge3(const Tensor<double>& rgb, std::size_t s) {
  const std::size_t h = rgb.dim(0), w = rgb.dim(1);
  Tensor<double> out({h * s, w * s, 3});
  for (std::size_t y = 0; y < h * s; ++y)
    for (std::size_t x = 0; x < w * s; ++x)
      for (std::size_t c = 0; c < 3; ++c) out[(y * w * s + x) * 3 + c] = rgb[((y / s) * w + x / s) * 3 + c];
  return out;
}

}  // namespace

// hm_<cmap>_s3.npy = render.hm_to_rgb(R, scaling=3, cmap=<cmap>) for R = heatmap_input.npy.
// Colours: equal to 1e-12 (they are computed with the Toolbox's own operations, the matplotlib
// maps bit for bit). 8-bit output: equal to the Toolbox's x*255 truncation of the reference.
TEST(RenderHeatmap, ReproducesToolboxHmToRgb) {
  const Tensor<double> R = load("heatmap_input.npy");  // [1,32,32]
  ASSERT_EQ(R.shape(), (lrp::Shape{1, 32, 32}));
  for (const std::string cmap :
       {"jet", "seismic", "bwr", "gray-red", "gray-red2", "black-green", "black-firered", "blue-black-yellow"}) {
    SCOPED_TRACE(cmap);
    const Tensor<double> ref = load("hm_" + cmap + "_s3.npy");
    ASSERT_EQ(ref.shape(), (lrp::Shape{96, 96, 3}));
    HeatmapOptions opt;
    opt.colormap = cmap;
    const Tensor<double> rgb = enlarge3(lrp::render::colorize_heatmap(R, opt), 3);
    double maxdiff = 0;
    for (std::size_t i = 0; i < ref.size(); ++i) maxdiff = std::max(maxdiff, std::abs(rgb[i] - ref[i]));
    EXPECT_LE(maxdiff, 1e-12);
    opt.scale = 3;
    const RgbImage img = lrp::render::render_heatmap(R, opt);
    ASSERT_EQ(img.height, 96u);
    ASSERT_EQ(img.width, 96u);
    std::size_t mismatches = 0;
    for (std::size_t i = 0; i < ref.size(); ++i) mismatches += img.rgb[i] != toolbox_u8(ref[i]);
    EXPECT_EQ(mismatches, 0u);
  }
}

// digit_binary_s3.npy = render.digit_to_rgb(X, scaling=3) (binary map on raw values).
TEST(RenderHeatmap, ReproducesToolboxDigitToRgb) {
  const Tensor<double> X = load("digit_input.npy");
  const Tensor<double> ref = load("digit_binary_s3.npy");
  const RgbImage img = lrp::render::render_input(X, 3);
  ASSERT_EQ(img.height, 96u);
  ASSERT_EQ(img.width, 96u);
  for (std::size_t i = 0; i < ref.size(); ++i) ASSERT_EQ(img.rgb[i], toolbox_u8(ref[i])) << i;
}

// digit_and_heatmap_uint8.npy = render.save_image([digit, heatmap_with_outline]): horizontal
// concatenation with a 2-pixel black gap and x*255 truncation.
TEST(RenderHeatmap, HconcatMatchesToolboxSaveImage) {
  const RgbImage digit = lrp::render::render_input(load("digit_input.npy"), 3);
  const RgbImage heat = lrp::render::to_rgb_image(load("hm_jet_s3_outline_sigma2.npy"));
  const RgbImage both = lrp::render::hconcat({digit, heat}, 2);
  const Tensor<double> ref = load("digit_and_heatmap_uint8.npy");
  ASSERT_EQ(ref.shape(), (lrp::Shape{both.height, both.width, 3}));
  for (std::size_t i = 0; i < ref.size(); ++i) ASSERT_EQ(both.rgb[i], ref[i]) << i;
}

// The outline is a Canny detector built like skimage's: compare the set of pixels it blackens with
// the reference outline (hm_jet_s3_outline_sigma2.npy, skimage canny, sigma 2). On this sample
// the sets are identical; the test allows 2% (intersection over union) for rounding elsewhere.
TEST(RenderHeatmap, OutlineResemblesToolboxCanny) {
  const Tensor<double> X = load("digit_input.npy");
  const Tensor<double> plain = load("hm_jet_s3.npy");
  const Tensor<double> outlined = load("hm_jet_s3_outline_sigma2.npy");
  HeatmapOptions opt;
  opt.colormap = "jet";
  opt.scale = 3;
  RgbImage img = lrp::render::render_heatmap(load("heatmap_input.npy"), opt);
  lrp::render::draw_outline(img, X, 3, 2.0);
  std::size_t both = 0, either = 0, ref_count = 0;
  for (std::size_t p = 0; p < 96 * 96; ++p) {
    const bool ref_edge = outlined[3 * p] == 0 && outlined[3 * p + 1] == 0 && outlined[3 * p + 2] == 0 &&
                          !(plain[3 * p] == 0 && plain[3 * p + 1] == 0 && plain[3 * p + 2] == 0);
    const bool our_edge = img.rgb[3 * p] == 0 && img.rgb[3 * p + 1] == 0 && img.rgb[3 * p + 2] == 0;
    both += ref_edge && our_edge;
    either += ref_edge || our_edge;
    ref_count += ref_edge;
  }
  ASSERT_GT(ref_count, 100u);
  EXPECT_GE(static_cast<double>(both) / static_cast<double>(either), 0.98) << both << " / " << either;
  // Size mismatch between input and image.
  EXPECT_THROW(lrp::render::draw_outline(img, X, 2), lrp::ShapeError);
}

TEST(RenderHeatmap, Normalizations) {
  const Tensor<double> R({1, 4}, {-2.0, 0.0, 1.0, 4.0});
  auto norm = [&](const char* how) { return lrp::render::normalize_heatmap(R, how).vec(); };
  EXPECT_EQ(norm("toolbox"), (std::vector<double>{0.25, 0.5, 0.625, 1.0}));
  EXPECT_EQ(norm("symmetric"), (std::vector<double>{0.25, 0.5, 0.625, 1.0}));
  EXPECT_EQ(norm("absolute"), (std::vector<double>{0.5, 0.0, 0.25, 1.0}));
  EXPECT_EQ(norm("unaligned"), (std::vector<double>{0.0, 2.0 / 6, 3.0 / 6, 1.0}));
  EXPECT_THROW(norm("minmax"), lrp::ConfigError);
  const Tensor<double> zero({2, 2}, 0.0);
  EXPECT_EQ(lrp::render::normalize_heatmap(zero, "toolbox").vec(), std::vector<double>(4, 0.5));
  EXPECT_EQ(lrp::render::normalize_heatmap(zero, "unaligned").vec(), std::vector<double>(4, 0.5));
  EXPECT_EQ(lrp::render::normalize_heatmap(zero, "absolute").vec(), std::vector<double>(4, 0.0));
  Tensor<double> bad({2, 2}, 1.0);
  bad[3] = std::nan("");
  EXPECT_THROW(lrp::render::render_heatmap(bad), lrp::NumericError);
}

// A zero heatmap renders as the map's centre colour (matplotlib bwr entry 128: almost white),
// not as the Toolbox's NaN black.
TEST(RenderHeatmap, ZeroHeatmapIsCentreColour) {
  const RgbImage img = lrp::render::render_heatmap(Tensor<double>({2, 3}, 0.0));
  for (std::size_t p = 0; p < 6; ++p) {
    EXPECT_EQ(img.pixel(p / 3, p % 3)[0], 255);
    EXPECT_EQ(img.pixel(p / 3, p % 3)[1], 254);
    EXPECT_EQ(img.pixel(p / 3, p % 3)[2], 254);
  }
}

TEST(RenderHeatmap, ChannelReductions) {
  const Tensor<double> R({2, 1, 2}, {3.0, -1.0, -4.0, 2.0});  // [C=2,H=1,W=2]
  EXPECT_EQ(lrp::render::reduce_channels(R, "sum").vec(), (std::vector<double>{-1.0, 1.0}));
  EXPECT_EQ(lrp::render::reduce_channels(R, "abs-sum").vec(), (std::vector<double>{7.0, 3.0}));
  EXPECT_EQ(lrp::render::reduce_channels(R, "l2").vec(), (std::vector<double>{5.0, std::sqrt(5.0)}));
  EXPECT_THROW(lrp::render::reduce_channels(R, "max"), lrp::ConfigError);
  EXPECT_THROW(lrp::render::reduce_channels(Tensor<double>({1, 1, 1, 1}), "sum"), lrp::ShapeError);
}

// Zennit palette maps with Zennit's symmetric normalisation: entry trunc(255 (R + m) / 2m).
TEST(RenderHeatmap, ZennitMapWithSymmetricNormalization) {
  HeatmapOptions opt;
  opt.colormap = "zennit-bwr";
  opt.normalization = "symmetric";
  const RgbImage img = lrp::render::render_heatmap(Tensor<double>({1, 3}, {-1.0, 0.0, 1.0}), opt);
  const std::vector<std::uint8_t> expected{0, 0, 255, 253, 253, 255, 255, 0, 0};  // entries 0, 127, 255
  EXPECT_EQ(img.rgb, expected);
}

TEST(RenderHeatmap, QuantisationClipsAndTruncates) {
  const Tensor<double> rgb({1, 2, 3}, {-0.5, 0.5, 1.5, 0.999, std::nan(""), 1.0 / 255});
  const RgbImage img = lrp::render::to_rgb_image(rgb);
  EXPECT_EQ(img.rgb, (std::vector<std::uint8_t>{0, 127, 255, 254, 0, 1}));
}

TEST(RenderHeatmap, EnlargeHconcatGrid) {
  RgbImage a(1, 2, 10), b(2, 1, 20), c(1, 1, 30);
  const RgbImage big = lrp::render::enlarge(a, 3);
  EXPECT_EQ(big.height, 3u);
  EXPECT_EQ(big.width, 6u);
  EXPECT_EQ(big.rgb, std::vector<std::uint8_t>(54, 10));
  EXPECT_THROW(lrp::render::hconcat({a, b}), lrp::ShapeError);
  const RgbImage h = lrp::render::hconcat({a, c}, 1);
  EXPECT_EQ(h.width, 4u);
  EXPECT_EQ(h.pixel(0, 2)[0], 0);
  EXPECT_EQ(h.pixel(0, 3)[0], 30);
  // 3 tiles, 2 columns, gap 1: cells 2x2, image (2+1+2) x (2+1+2)
  const RgbImage g = lrp::render::grid({a, b, c}, 2, 1);
  EXPECT_EQ(g.height, 5u);
  EXPECT_EQ(g.width, 5u);
  EXPECT_EQ(g.pixel(0, 0)[0], 10);
  EXPECT_EQ(g.pixel(0, 1)[0], 10);
  EXPECT_EQ(g.pixel(1, 0)[0], 0);   // below tile a (1 pixel high) inside its cell
  EXPECT_EQ(g.pixel(0, 2)[0], 0);   // gap column
  EXPECT_EQ(g.pixel(1, 3)[0], 20);  // tile b
  EXPECT_EQ(g.pixel(3, 0)[0], 30);  // tile c, second row
  EXPECT_EQ(g.pixel(4, 4)[0], 0);   // empty cell
  EXPECT_THROW(lrp::render::grid({a}, 0), lrp::ConfigError);
  // Sizes beyond 2^28 pixels are refused before they are allocated, or wrap around (a scale
  // of 2^64 - 1 times 2 pixels is 2^64 - 2, which the enlargement once took for a small image).
  EXPECT_THROW(lrp::render::enlarge(a, ~std::size_t(0)), lrp::ConfigError);
  EXPECT_THROW(lrp::render::enlarge(a, std::size_t(1) << 14), lrp::ConfigError);  // 2^28 x 2^29 pixels
  EXPECT_EQ(lrp::render::enlarge(a, std::size_t(1) << 10).height, std::size_t(1) << 10);  // 2^21 pixels: fine
  EXPECT_THROW(RgbImage(std::size_t(1) << 20, std::size_t(1) << 20), lrp::ConfigError);
}

TEST(RenderHeatmap, RenderInputRgbAndErrors) {
  const Tensor<double> X({3, 1, 2}, {1.0, 0.0, 0.5, 0.25, 0.0, 2.0});
  const RgbImage img = lrp::render::render_input(X);
  EXPECT_EQ(img.rgb, (std::vector<std::uint8_t>{255, 127, 0, 0, 63, 255}));
  EXPECT_THROW(lrp::render::render_input(Tensor<double>({2, 2, 2})), lrp::ShapeError);
  EXPECT_THROW(lrp::render::render_input(X, 0), lrp::ConfigError);
}

TEST(RenderHeatmap, BlendWeighsEachChannelAndRounds) {
  RgbImage base(1, 2, 200), top(1, 2, 100);
  top.rgb[5] = 0;
  const RgbImage quarter = lrp::render::blend(base, top, 0.25);  // 0.75 * 200 + 0.25 * 100 = 175
  EXPECT_EQ(quarter.rgb, (std::vector<std::uint8_t>{175, 175, 175, 175, 175, 150}));
  EXPECT_EQ(lrp::render::blend(base, top, 0.0).rgb, base.rgb);
  EXPECT_EQ(lrp::render::blend(base, top, 1.0).rgb, top.rgb);
  EXPECT_EQ(lrp::render::blend(RgbImage(1, 1, 1), RgbImage(1, 1, 2), 0.5).rgb[0], 2);  // 1.5 rounds up
  EXPECT_THROW(lrp::render::blend(base, RgbImage(2, 1), 0.5), lrp::ShapeError);
  EXPECT_THROW(lrp::render::blend(base, top, 1.5), lrp::ConfigError);
}
