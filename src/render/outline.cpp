// Canny edge detection for input outlines (the Toolbox draws skimage.feature.canny edges of the
// enlarged input in black over the heatmap).
#include <cmath>
#include <vector>

#include "lrp/core/error.hpp"
#include "lrp/render/heatmap.hpp"

namespace lrp::render {

namespace {

// Separable correlation of an h x w image with a 1-D kernel (odd length) along rows (axis 0)
// or columns (axis 1). Outside the image: 0 (zero = true) or mirrored half-sample ("reflect").
std::vector<double> correlate1d(const std::vector<double>& in, std::size_t h, std::size_t w,
                                const std::vector<double>& k, int axis, bool zero) {
  std::vector<double> out(in.size(), 0.0);
  const long r = static_cast<long>(k.size() / 2);
  const long n = static_cast<long>(axis == 0 ? h : w);
  for (std::size_t y = 0; y < h; ++y) {
    for (std::size_t x = 0; x < w; ++x) {
      const long pos = static_cast<long>(axis == 0 ? y : x);
      double s = 0.0;
      for (long d = -r; d <= r; ++d) {
        long p = pos + d;
        if (p < 0 || p >= n) {
          if (zero) continue;
          // reflect: ... c b a | a b c ... (edge sample repeated)
          while (p < 0 || p >= n) p = p < 0 ? -p - 1 : 2 * n - p - 1;
        }
        const std::size_t idx = axis == 0 ? static_cast<std::size_t>(p) * w + x : y * w + static_cast<std::size_t>(p);
        s += k[static_cast<std::size_t>(d + r)] * in[idx];
      }
      out[y * w + x] = s;
    }
  }
  return out;
}

std::vector<double> gaussian_smooth(const std::vector<double>& in, std::size_t h, std::size_t w, double sigma) {
  const long radius = static_cast<long>(4.0 * sigma + 0.5);
  std::vector<double> k(static_cast<std::size_t>(2 * radius + 1));
  double sum = 0.0;
  for (long i = -radius; i <= radius; ++i) {
    const double v = std::exp(-0.5 * static_cast<double>(i * i) / (sigma * sigma));
    k[static_cast<std::size_t>(i + radius)] = v;
    sum += v;
  }
  for (double& v : k) v /= sum;
  return correlate1d(correlate1d(in, h, w, k, 0, true), h, w, k, 1, true);
}

}  // namespace

std::vector<std::uint8_t> canny_edges(const Tensor<double>& X, double sigma, double low, double high) {
  if (X.rank() != 2) throw ShapeError("edge detection needs an [H,W] image, got " + shape_str(X.shape()));
  if (!(sigma >= 0)) throw ConfigError("edge detection: sigma must be >= 0");
  const std::size_t h = X.dim(0), w = X.dim(1), n = h * w;
  std::vector<std::uint8_t> edges(n, 0);
  if (h < 3 || w < 3) return edges;

  // Smoothing with zero padding, divided by the smoothed all-ones image so that the border is
  // not darkened (skimage's "bleed over" compensation).
  std::vector<double> img(X.begin(), X.end());
  std::vector<double> smoothed = img;
  if (sigma > 0) {
    smoothed = gaussian_smooth(img, h, w, sigma);
    const std::vector<double> ones = gaussian_smooth(std::vector<double>(n, 1.0), h, w, sigma);
    for (std::size_t i = 0; i < n; ++i) smoothed[i] /= ones[i] + 2.220446049250313e-16;
  }
  // Sobel: derivative [-1,0,1] along one axis, smoothing [1,2,1] along the other, mirrored border.
  const std::vector<double> diff{-1.0, 0.0, 1.0}, smooth{1.0, 2.0, 1.0};
  const std::vector<double> gi = correlate1d(correlate1d(smoothed, h, w, diff, 0, false), h, w, smooth, 1, false);
  const std::vector<double> gj = correlate1d(correlate1d(smoothed, h, w, diff, 1, false), h, w, smooth, 0, false);
  std::vector<double> mag(n);
  for (std::size_t i = 0; i < n; ++i) mag[i] = std::sqrt(gi[i] * gi[i] + gj[i] * gj[i]);

  // Non-maximum suppression: keep a pixel when its magnitude is at least the magnitude
  // interpolated one step forward and one step backward along the gradient direction.
  std::vector<double> kept(n, 0.0);
  auto M = [&](std::size_t y, std::size_t x) { return mag[y * w + x]; };
  for (std::size_t y = 1; y + 1 < h; ++y) {
    for (std::size_t x = 1; x + 1 < w; ++x) {
      const std::size_t i = y * w + x;
      const double m = mag[i];
      if (!(m >= low) || m == 0.0) continue;
      const double a = gi[i], b = gj[i];
      const double aa = std::abs(a), ab = std::abs(b);
      // Gradient pointing into the quadrant (+,+)/(-,-) or (+,-)/(-,+) of (row, column).
      const bool same_sign = (a >= 0 && b >= 0) || (a <= 0 && b <= 0);
      double f1, f2, b1, b2, t;  // forward pair (axis neighbour, diagonal), backward pair, weight
      if (same_sign) {
        if (aa > ab) {
          t = ab / aa;
          f1 = M(y + 1, x), f2 = M(y + 1, x + 1), b1 = M(y - 1, x), b2 = M(y - 1, x - 1);
        } else {
          t = aa / ab;
          f1 = M(y, x + 1), f2 = M(y + 1, x + 1), b1 = M(y, x - 1), b2 = M(y - 1, x - 1);
        }
      } else {
        if (aa < ab) {
          t = aa / ab;
          f1 = M(y, x + 1), f2 = M(y - 1, x + 1), b1 = M(y, x - 1), b2 = M(y + 1, x - 1);
        } else {
          t = ab / aa;
          f1 = M(y - 1, x), f2 = M(y - 1, x + 1), b1 = M(y + 1, x), b2 = M(y + 1, x - 1);
        }
      }
      if (f2 * t + f1 * (1.0 - t) <= m && b2 * t + b1 * (1.0 - t) <= m) kept[i] = m;
    }
  }

  // Hysteresis: 8-connected groups of kept pixels that contain one pixel >= high.
  std::vector<std::size_t> stack;
  for (std::size_t i = 0; i < n; ++i) {
    if (kept[i] >= high && !edges[i]) {
      edges[i] = 1;
      stack.push_back(i);
      while (!stack.empty()) {
        const std::size_t p = stack.back();
        stack.pop_back();
        const std::size_t py = p / w, px = p % w;
        for (std::size_t yy = py - 1; yy <= py + 1; ++yy)
          for (std::size_t xx = px - 1; xx <= px + 1; ++xx) {
            const std::size_t q = yy * w + xx;  // kept pixels are interior: neighbours exist
            if (kept[q] > 0 && !edges[q]) {
              edges[q] = 1;
              stack.push_back(q);
            }
          }
      }
    }
  }
  return edges;
}

void draw_outline(RgbImage& image, const Tensor<double>& X, std::size_t scale, double sigma) {
  if (scale < 1) throw ConfigError("scale must be at least 1");
  std::size_t c = 1, h = 0, w = 0;
  if (X.rank() == 2) {
    h = X.dim(0);
    w = X.dim(1);
  } else if (X.rank() == 3 && (X.dim(0) == 1 || X.dim(0) == 3)) {
    c = X.dim(0);
    h = X.dim(1);
    w = X.dim(2);
  } else {
    throw ShapeError("outline input must be [H,W], [1,H,W] or [3,H,W], got " + shape_str(X.shape()));
  }
  if (scale > image.height || scale > image.width || h * scale != image.height || w * scale != image.width)
    throw ShapeError("outline input " + shape_str(X.shape()) + " enlarged " + std::to_string(scale) +
                     "x does not match the image size " + std::to_string(image.height) + "x" +
                     std::to_string(image.width));
  Tensor<double> big({h * scale, w * scale});
  for (std::size_t y = 0; y < h * scale; ++y)
    for (std::size_t x = 0; x < w * scale; ++x) {
      double s = 0.0;
      for (std::size_t k = 0; k < c; ++k) s += X[(k * h + y / scale) * w + x / scale];
      big[y * w * scale + x] = s / static_cast<double>(c);
    }
  const std::vector<std::uint8_t> edges = canny_edges(big, sigma);
  for (std::size_t i = 0; i < edges.size(); ++i)
    if (edges[i]) image.rgb[3 * i] = image.rgb[3 * i + 1] = image.rgb[3 * i + 2] = 0;
}

}  // namespace lrp::render
