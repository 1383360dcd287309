// Signal plots (render::render_signal): the strips' background against the heatmap of the same
// relevance summed per column (render_heatmap), the line against the rows its values map to, the
// layout, and the refusals.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "lrp/core/error.hpp"
#include "lrp/render/heatmap.hpp"
#include "lrp/render/signal.hpp"

namespace lrp::render {
namespace {

bool black(const RgbImage& img, std::size_t y, std::size_t x) {
  const std::uint8_t* p = img.pixel(y, x);
  return p[0] == 0 && p[1] == 0 && p[2] == 0;
}

// No finite signal value: every strip pixel is the heatmap's colour of its column; with 10
// samples on 5 columns, each column's relevance is the sum of its two samples.
TEST(RenderSignal, BackgroundIsTheHeatmapOfTheColumnSums) {
  const std::size_t c = 2, len = 10;
  Tensor<double> x({c, len}, std::numeric_limits<double>::quiet_NaN()), r({c, len});
  for (std::size_t i = 0; i < r.size(); ++i) r[i] = std::sin(0.7 * static_cast<double>(i)) * (i % 3 == 0 ? -2.0 : 1.0);
  for (const std::size_t width : {len, std::size_t{5}}) {
    SCOPED_TRACE(width);
    SignalPlotOptions o;
    o.strip_height = 8;
    o.max_width = width;
    const RgbImage img = render_signal(x, r, o);
    ASSERT_EQ(img.height, c * 9 - 1);
    ASSERT_EQ(img.width, width);
    Tensor<double> sums({c, width});
    for (std::size_t ch = 0; ch < c; ++ch)
      for (std::size_t s = 0; s < len; ++s) sums[ch * width + s * width / len] += r[ch * len + s];
    const RgbImage want = render_heatmap(sums);  // bwr, toolbox normalisation: the defaults of both
    for (std::size_t ch = 0; ch < c; ++ch)
      for (std::size_t y = 0; y < 8; ++y)
        for (std::size_t j = 0; j < width; ++j)
          for (std::size_t k = 0; k < 3; ++k)
            ASSERT_EQ(img.pixel(ch * 9 + y, j)[k], want.pixel(ch, j)[k]) << "strip " << ch << " row " << y << " column " << j;
    for (std::size_t j = 0; j < width; ++j) EXPECT_TRUE(black(img, 8, j)) << "the row between the strips";
  }
}

// A ramp 0, 1, ..., 15 on 16 columns of a 34-pixel strip (margin 2, span 29): sample s sits on
// row 2 + round((1 - s / 15) 29), and column j is black from there up to the row of sample j - 1.
TEST(RenderSignal, LineFollowsTheSignal) {
  const std::size_t len = 16;
  Tensor<double> x({1, len}), r({1, len}, 1.0);
  for (std::size_t s = 0; s < len; ++s) x[s] = static_cast<double>(s);
  SignalPlotOptions o;
  o.strip_height = 34;
  const RgbImage img = render_signal(x, r, o);
  ASSERT_EQ(img.height, 34u);
  const auto row = [](std::size_t s) { return 2 + static_cast<std::size_t>(std::lround((1.0 - static_cast<double>(s) / 15.0) * 29.0)); };
  for (std::size_t j = 0; j < len; ++j) {
    const std::size_t lo = row(j), hi = j ? row(j - 1) : row(j);
    for (std::size_t y = 0; y < 34; ++y) EXPECT_EQ(black(img, y, j), y >= lo && y <= hi) << "column " << j << " row " << y;
  }
  // A flat signal runs through the middle; a one-dimensional [L] signal is one strip.
  const RgbImage flat = render_signal(Tensor<double>({len}, 3.0), Tensor<double>({len}, 1.0), o);
  ASSERT_EQ(flat.height, 34u);
  for (std::size_t j = 0; j < len; ++j) EXPECT_TRUE(black(flat, 2 + 15, j)) << j;  // 2 + round(0.5 * 29)
}

TEST(RenderSignal, RefusesBadShapesValuesAndSizes) {
  const Tensor<double> x({2, 5}), r({2, 5});
  EXPECT_THROW(render_signal(x, Tensor<double>({2, 4})), ShapeError);
  EXPECT_THROW(render_signal(Tensor<double>({1, 2, 5}), Tensor<double>({1, 2, 5})), ShapeError);
  Tensor<double> bad = r;
  bad[3] = std::numeric_limits<double>::quiet_NaN();
  EXPECT_THROW(render_signal(x, bad), NumericError);
  SignalPlotOptions o;
  o.strip_height = 4;
  EXPECT_THROW(render_signal(x, r, o), ConfigError);
  o.strip_height = 8;
  o.max_width = 0;
  EXPECT_THROW(render_signal(x, r, o), ConfigError);
}

}  // namespace
}  // namespace lrp::render
