#include "lrp/render/heatmap.hpp"

#include <algorithm>
#include <cmath>

#include "lrp/core/error.hpp"
#include "lrp/render/colormap.hpp"

namespace lrp::render {

namespace {

std::uint8_t to_u8(double x) {
  const double y = x * 255.0;
  if (!(y > 0.0)) return 0;  // also NaN
  if (y >= 255.0) return 255;
  return static_cast<std::uint8_t>(y);  // truncation, as numpy's astype(uint8)
}

void check_finite(const Tensor<double>& t, const char* what) {
  if (!all_finite(t)) throw NumericError(std::string(what) + " contains NaN or Inf values");
}

void check_scale(std::size_t scale) {
  if (scale < 1) throw ConfigError("scale must be at least 1");
}

// [H,W] / [1,H,W] / [C,H,W] → (channels, H, W)
void image_dims(const Tensor<double>& X, const char* what, std::size_t& c, std::size_t& h, std::size_t& w) {
  if (X.rank() == 2) {
    c = 1;
    h = X.dim(0);
    w = X.dim(1);
  } else if (X.rank() == 3) {
    c = X.dim(0);
    h = X.dim(1);
    w = X.dim(2);
  } else {
    throw ShapeError(std::string(what) + " must be [H,W] or [C,H,W], got " + shape_str(X.shape()));
  }
}

}  // namespace

Tensor<double> reduce_channels(const Tensor<double>& R, const std::string& reduce) {
  if (R.rank() == 2) return R;
  if (R.rank() != 3) throw ShapeError("relevance must be [H,W] or [C,H,W], got " + shape_str(R.shape()));
  if (reduce != "sum" && reduce != "abs-sum" && reduce != "l2")
    throw ConfigError("unknown channel reduction '" + reduce + "'; valid: sum, abs-sum, l2");
  const std::size_t c = R.dim(0), h = R.dim(1), w = R.dim(2), plane = h * w;
  Tensor<double> out({h, w});
  for (std::size_t i = 0; i < plane; ++i) {
    double s = 0.0;
    for (std::size_t k = 0; k < c; ++k) {
      const double v = R[k * plane + i];
      s += reduce == "sum" ? v : reduce == "abs-sum" ? std::abs(v) : v * v;
    }
    out[i] = reduce == "l2" ? std::sqrt(s) : s;
  }
  return out;
}

Tensor<double> normalize_heatmap(const Tensor<double>& R, const std::string& normalization) {
  check_finite(R, "relevance");
  Tensor<double> out(R.shape());
  const std::size_t n = R.size();
  double amax = 0.0, mn = 0.0, mx = 0.0;
  for (std::size_t i = 0; i < n; ++i) amax = std::max(amax, std::abs(R[i]));
  if (n) {
    const auto [lo, hi] = std::minmax_element(R.begin(), R.end());
    mn = *lo;
    mx = *hi;
  }
  if (normalization == "toolbox") {
    for (std::size_t i = 0; i < n; ++i) out[i] = amax > 0 ? (R[i] / amax + 1.0) / 2.0 : 0.5;
  } else if (normalization == "symmetric") {
    const double vmin = -amax, vmax = amax;
    for (std::size_t i = 0; i < n; ++i) out[i] = amax > 0 ? (R[i] - vmin) / (vmax - vmin) : 0.5;
  } else if (normalization == "absolute") {
    for (std::size_t i = 0; i < n; ++i) out[i] = amax > 0 ? std::abs(R[i]) / amax : 0.0;
  } else if (normalization == "unaligned") {
    for (std::size_t i = 0; i < n; ++i) out[i] = mx > mn ? (R[i] - mn) / (mx - mn) : 0.5;
  } else {
    throw ConfigError("unknown normalization '" + normalization + "'; valid: toolbox, symmetric, absolute, unaligned");
  }
  return out;
}

Tensor<double> colorize_heatmap(const Tensor<double>& R, const HeatmapOptions& options) {
  const Tensor<double> r2 = reduce_channels(R, options.reduce);
  check_finite(r2, "relevance");
  const Colormap cmap = get_colormap(options.colormap);
  const std::size_t h = r2.dim(0), w = r2.dim(1), n = h * w;
  Tensor<double> rgb({h, w, 3});
  if (cmap.is_custom()) {
    cmap.apply_custom(r2.data(), n, rgb.data());
    return rgb;
  }
  const Tensor<double> v = normalize_heatmap(r2, options.normalization);
  for (std::size_t i = 0; i < n; ++i) {
    const Rgb c = cmap(v[i]);
    std::copy(c.begin(), c.end(), rgb.data() + 3 * i);
  }
  return rgb;
}

RgbImage to_rgb_image(const Tensor<double>& rgb, std::size_t scale) {
  check_scale(scale);
  if (rgb.rank() != 3 || rgb.dim(2) != 3)
    throw ShapeError("colour image must be [H,W,3], got " + shape_str(rgb.shape()));
  RgbImage img(rgb.dim(0), rgb.dim(1));
  for (std::size_t i = 0; i < rgb.size(); ++i) img.rgb[i] = to_u8(rgb[i]);
  return scale == 1 ? img : enlarge(img, scale);
}

RgbImage render_heatmap(const Tensor<double>& R, const HeatmapOptions& options) {
  check_scale(options.scale);
  return to_rgb_image(colorize_heatmap(R, options), options.scale);
}

RgbImage render_input(const Tensor<double>& X, std::size_t scale, const std::string& colormap) {
  check_scale(scale);
  std::size_t c = 0, h = 0, w = 0;
  image_dims(X, "input image", c, h, w);
  check_finite(X, "input image");
  const std::size_t n = h * w;
  Tensor<double> rgb({h, w, 3});
  if (c == 3) {
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t k = 0; k < 3; ++k) rgb[3 * i + k] = X[k * n + i];
  } else if (c == 1) {
    const Colormap cmap = get_colormap(colormap);
    if (cmap.is_custom()) {
      cmap.apply_custom(X.data(), n, rgb.data());
    } else {
      for (std::size_t i = 0; i < n; ++i) {
        const Rgb col = cmap(X[i]);
        std::copy(col.begin(), col.end(), rgb.data() + 3 * i);
      }
    }
  } else {
    throw ShapeError("input image must have 1 or 3 channels, got " + shape_str(X.shape()));
  }
  return to_rgb_image(rgb, scale);
}

RgbImage blend(const RgbImage& base, const RgbImage& top, double alpha) {
  if (!(alpha >= 0.0 && alpha <= 1.0)) throw ConfigError("overlay opacity must be in [0, 1], got " + std::to_string(alpha));
  if (base.height != top.height || base.width != top.width)
    throw ShapeError("cannot overlay a " + std::to_string(top.height) + "x" + std::to_string(top.width) + " image on a " +
                     std::to_string(base.height) + "x" + std::to_string(base.width) + " one");
  RgbImage out(base.height, base.width);
  for (std::size_t i = 0; i < out.rgb.size(); ++i)
    out.rgb[i] = static_cast<std::uint8_t>(std::lround((1.0 - alpha) * base.rgb[i] + alpha * top.rgb[i]));
  return out;
}

RgbImage enlarge(const RgbImage& image, std::size_t scale) {
  check_scale(scale);
  // Checked before multiplying: a scale of 2^64 - 1 would wrap around to a small image.
  const std::size_t side = std::max<std::size_t>({1, image.height, image.width});
  if (scale > kMaxRgbPixels / side)
    throw ConfigError("enlarging a " + std::to_string(image.height) + "x" + std::to_string(image.width) + " image " +
                      std::to_string(scale) + " times makes it more than " + std::to_string(kMaxRgbPixels) + " pixels");
  RgbImage out(image.height * scale, image.width * scale);
  for (std::size_t y = 0; y < out.height; ++y)
    for (std::size_t x = 0; x < out.width; ++x) std::copy_n(image.pixel(y / scale, x / scale), 3, out.pixel(y, x));
  return out;
}

RgbImage hconcat(const std::vector<RgbImage>& images, std::size_t gap) {
  if (images.empty()) return {};
  const std::size_t h = images.front().height;
  std::size_t w = 0;
  for (std::size_t i = 0; i < images.size(); ++i) {
    if (images[i].height != h)
      throw ShapeError("cannot place images side by side: image " + std::to_string(i) + " is " +
                       std::to_string(images[i].height) + " pixels high, image 0 is " + std::to_string(h));
    w += images[i].width + (i ? gap : 0);
  }
  RgbImage out(h, w);
  std::size_t x0 = 0;
  for (const RgbImage& im : images) {
    for (std::size_t y = 0; y < h; ++y) std::copy_n(im.pixel(y, 0), 3 * im.width, out.pixel(y, x0));
    x0 += im.width + gap;
  }
  return out;
}

RgbImage grid(const std::vector<RgbImage>& tiles, std::size_t columns, std::size_t gap) {
  if (columns < 1) throw ConfigError("a grid needs at least one column");
  if (tiles.empty()) return {};
  std::size_t ch = 0, cw = 0;
  for (const RgbImage& t : tiles) {
    ch = std::max(ch, t.height);
    cw = std::max(cw, t.width);
  }
  const std::size_t cols = std::min(columns, tiles.size());
  const std::size_t rows = (tiles.size() + cols - 1) / cols;
  RgbImage out(rows * ch + (rows - 1) * gap, cols * cw + (cols - 1) * gap);
  for (std::size_t i = 0; i < tiles.size(); ++i) {
    const RgbImage& t = tiles[i];
    const std::size_t y0 = (i / cols) * (ch + gap), x0 = (i % cols) * (cw + gap);
    for (std::size_t y = 0; y < t.height; ++y) std::copy_n(t.pixel(y, 0), 3 * t.width, out.pixel(y0 + y, x0));
  }
  return out;
}

}  // namespace lrp::render
