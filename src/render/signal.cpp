#include "lrp/render/signal.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "lrp/core/error.hpp"

namespace lrp::render {
namespace {

std::uint8_t to_u8(double x) {  // as to_rgb_image: x * 255 truncated after clipping, NaN -> 0
  const double y = x * 255.0;
  if (!(y > 0.0)) return 0;
  if (y >= 255.0) return 255;
  return static_cast<std::uint8_t>(y);
}

}  // namespace

RgbImage render_signal(const Tensor<double>& X, const Tensor<double>& R, const SignalPlotOptions& options) {
  if (X.shape() != R.shape() || (X.rank() != 1 && X.rank() != 2) || X.empty())
    throw ShapeError("a signal plot needs the signal and its relevance as [C, L] (or [L]) of one shape, got " + shape_str(X.shape()) +
                     " and " + shape_str(R.shape()));
  if (options.strip_height < 8 || options.strip_height > 4096)
    throw ConfigError("signal strip height " + std::to_string(options.strip_height) + " is not between 8 and 4096");
  if (options.max_width < 1) throw ConfigError("signal plot width must be at least 1");
  const std::size_t c = X.rank() == 2 ? X.dim(0) : 1, len = X.size() / c, width = std::min(len, options.max_width);
  const std::size_t strip = options.strip_height, height = c * (strip + 1) - 1;
  const auto first = [&](std::size_t j) { return j * len / width; };  // first sample of column j

  // Relevance per channel and column, coloured as a [C, W] heatmap.
  Tensor<double> per_column({c, width});
  for (std::size_t ch = 0; ch < c; ++ch)
    for (std::size_t j = 0; j < width; ++j)
      for (std::size_t s = first(j); s < first(j + 1); ++s) per_column[ch * width + j] += R[ch * len + s];
  HeatmapOptions h;
  h.colormap = options.colormap;
  h.normalization = options.normalization;
  const Tensor<double> colours = colorize_heatmap(per_column, h);

  RgbImage img(height, width);  // black: the rows between strips stay so
  for (std::size_t ch = 0; ch < c; ++ch) {
    const std::size_t top = ch * (strip + 1);
    for (std::size_t y = 0; y < strip; ++y)
      for (std::size_t j = 0; j < width; ++j)
        for (std::size_t k = 0; k < 3; ++k) img.pixel(top + y, j)[k] = to_u8(colours[(ch * width + j) * 3 + k]);
    const double* x = X.data() + ch * len;
    double lo = std::numeric_limits<double>::infinity(), hi = -lo;
    for (std::size_t s = 0; s < len; ++s)
      if (std::isfinite(x[s])) lo = std::min(lo, x[s]), hi = std::max(hi, x[s]);
    if (!(lo <= hi)) continue;  // no finite value: the strip shows the relevance alone
    const std::size_t margin = strip / 16;
    const double span = static_cast<double>(strip - 1 - 2 * margin);
    const auto row = [&](double v) {  // top of the strip for hi, bottom for lo; a flat signal in the middle
      const double t = hi > lo ? (v - lo) / (hi - lo) : 0.5;
      return top + margin + static_cast<std::size_t>(std::lround((1.0 - t) * span));
    };
    bool have_last = false;
    std::size_t last = 0;
    for (std::size_t j = 0; j < width; ++j) {
      std::size_t a = have_last ? last : std::numeric_limits<std::size_t>::max(), b = have_last ? last : 0;
      bool any = have_last;
      for (std::size_t s = first(j); s < first(j + 1); ++s) {
        if (!std::isfinite(x[s])) {
          have_last = false;  // a gap: the next value starts a new line
          continue;
        }
        const std::size_t y = row(x[s]);
        if (!any) a = b = y;
        a = std::min(a, y);
        b = std::max(b, y);
        any = have_last = true;
        last = y;
      }
      if (!any) continue;
      for (std::size_t y = a; y <= b; ++y) std::fill_n(img.pixel(y, j), 3, std::uint8_t{0});
    }
  }
  return img;
}

}  // namespace lrp::render
