#pragma once
// Heatmaps and input images as 8-bit RGB pictures (the LRP Toolbox's render.py and Zennit's
// imgify in one place).
//
// Pipeline of render_heatmap: [C,H,W] relevance → channel reduction → [H,W] → normalisation to
// [0,1] (table and palette maps) or the custom map's own scaling → colours in [0,1] →
// 8 bit as the Toolbox's save_image does (x * 255, truncated; clipped to [0,255] first, NaN → 0)
// → nearest-neighbour enlargement by `scale`.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "lrp/core/error.hpp"
#include "lrp/core/tensor.hpp"

namespace lrp::render {

// The largest picture made (768 MiB of RGB): beyond it a size is a mistake (an enlargement of
// 2^64 - 1), refused with a ConfigError before anything is allocated or overflows.
inline constexpr std::size_t kMaxRgbPixels = std::size_t(1) << 28;

// 8-bit RGB image, rows top to bottom, pixels interleaved R,G,B: rgb.size() == 3 * height * width.
struct RgbImage {
  std::size_t height = 0, width = 0;
  std::vector<std::uint8_t> rgb;

  RgbImage() = default;
  RgbImage(std::size_t h, std::size_t w, std::uint8_t fill = 0) : height(h), width(w), rgb(checked_size(h, w), fill) {}
  std::uint8_t* pixel(std::size_t y, std::size_t x) { return rgb.data() + 3 * (y * width + x); }
  const std::uint8_t* pixel(std::size_t y, std::size_t x) const { return rgb.data() + 3 * (y * width + x); }

 private:
  static std::size_t checked_size(std::size_t h, std::size_t w) {
    if (w != 0 && h > kMaxRgbPixels / w)
      throw ConfigError("an image of " + std::to_string(h) + "x" + std::to_string(w) + " pixels is too large (at most " +
                        std::to_string(kMaxRgbPixels) + " pixels)");
    return 3 * h * w;
  }
};

struct HeatmapOptions {
  // A name from colormap_names() or a Zennit CMSL string (see colormap.hpp).
  std::string colormap = "bwr";
  // How relevance becomes a value in [0,1] before a table/palette map is applied (custom maps
  // ignore it):
  //   "toolbox"   — (R / max|R| + 1) / 2, the Toolbox's hm_to_rgb (0 → centre of the map)
  //   "symmetric" — (R + max|R|) / (2 max|R|), Zennit's symmetric=True (0 → centre)
  //   "absolute"  — |R| / max|R|
  //   "unaligned" — (R - min R) / (max R - min R), Zennit's default
  // A constant map (zero range) gives 0.5 everywhere (0 for "absolute").
  std::string normalization = "toolbox";
  // Channel reduction for [C,H,W] relevance: "sum" (Toolbox demos: sum over colour channels),
  // "abs-sum" (sum of |R|), "l2" (sqrt of the sum of squares).
  std::string reduce = "sum";
  // Nearest-neighbour enlargement factor (>= 1), the Toolbox's `scaling`.
  std::size_t scale = 1;
};

// [C,H,W] → [H,W] with the reduction named in HeatmapOptions::reduce; [H,W] is returned as is.
Tensor<double> reduce_channels(const Tensor<double>& R, const std::string& reduce);

// [H,W] relevance → values in [0,1] by the named normalisation. Throws NumericError for NaN/Inf.
Tensor<double> normalize_heatmap(const Tensor<double>& R, const std::string& normalization);

// [H,W] or [C,H,W] relevance → [H,W,3] colours (doubles, normally in [0,1]; custom maps such as
// black-green may leave it, exactly as the Toolbox does). No enlargement. This is the Toolbox's
// hm_to_rgb(R, scaling=1, cmap=...) value for value.
Tensor<double> colorize_heatmap(const Tensor<double>& R, const HeatmapOptions& options);

// [H,W,3] colours in [0,1] → 8 bit (x * 255 truncated after clipping, NaN → 0), enlarged.
RgbImage to_rgb_image(const Tensor<double>& rgb, std::size_t scale = 1);

// The whole pipeline: [H,W] or [C,H,W] relevance → RGB image of size (scale H) x (scale W).
RgbImage render_heatmap(const Tensor<double>& R, const HeatmapOptions& options = {});

// An input image, the Toolbox's digit_to_rgb: [H,W] or [1,H,W] values in [0,1] through the
// colour map (default "binary": 0 white, 1 black; no normalisation, values outside [0,1] take the
// end colours), or [3,H,W] RGB values in [0,1] used directly. Enlarged by `scale`.
RgbImage render_input(const Tensor<double>& X, std::size_t scale = 1, const std::string& colormap = "binary");

// Edge map of an [H,W] image with values in [0,1]: a Canny detector as skimage.feature.canny
// (the Toolbox's outline): Gaussian smoothing (sigma, kernel radius 4 sigma, zero padding with
// border compensation), Sobel gradients, non-maximum suppression with interpolation along the
// gradient, hysteresis with magnitude thresholds `low` and `high` (8-connected), one-pixel
// border excluded. Returns H*W flags (1 = edge), row-major.
std::vector<std::uint8_t> canny_edges(const Tensor<double>& X, double sigma = 2.0, double low = 0.1, double high = 0.2);

// Draws the edges of input X ([H,W] or [1,H,W] in [0,1]; [3,H,W] uses the channel mean) in
// black over `image`, as hm_to_rgb(R, X, scaling, sigma): X is enlarged by `scale` first and
// must then match the image size (ShapeError otherwise).
void draw_outline(RgbImage& image, const Tensor<double>& X, std::size_t scale, double sigma = 2.0);

// `top` laid over `base` with opacity alpha in [0,1]: each channel (1 - alpha) base + alpha top,
// rounded to the nearest integer (Grad-CAM style overlays). Sizes must match (ShapeError).
RgbImage blend(const RgbImage& base, const RgbImage& top, double alpha);

// Nearest-neighbour enlargement (the Toolbox's enlarge_image).
RgbImage enlarge(const RgbImage& image, std::size_t scale);

// Images side by side with `gap` black columns between them (the Toolbox's save_image).
// All images must have the same height (ShapeError otherwise).
RgbImage hconcat(const std::vector<RgbImage>& images, std::size_t gap = 2);

// Tiles in row-major order, `columns` per row, `gap` black pixels between rows and columns.
// Each cell is as large as the largest tile; smaller tiles sit in the top-left corner, the rest
// and unused cells are black.
RgbImage grid(const std::vector<RgbImage>& tiles, std::size_t columns, std::size_t gap = 2);

}  // namespace lrp::render
