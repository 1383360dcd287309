// Image preprocessing: channel conversion, PIL-style bilinear resize, centre crop, scaling and
// per-channel normalisation into an NCHW / NHWC float tensor.
#include <algorithm>
#include <cmath>

#include "lrp/core/error.hpp"
#include "lrp/io/image.hpp"

namespace lrp::io {

namespace {

struct Taps {
  std::size_t first = 0;
  std::vector<double> w;
};

// PIL's precompute_coeffs for the triangle ("bilinear") filter, support 1 scaled by the
// shrink factor.
std::vector<Taps> bilinear_taps(std::size_t in, std::size_t out) {
  const double scale = static_cast<double>(in) / static_cast<double>(out);
  const double filterscale = std::max(scale, 1.0);
  const double support = 1.0 * filterscale;
  std::vector<Taps> taps(out);
  for (std::size_t o = 0; o < out; ++o) {
    const double center = (static_cast<double>(o) + 0.5) * scale;
    const double lo = center - support + 0.5, hi = center + support + 0.5;
    const long xmin = std::max(0L, static_cast<long>(lo));  // C truncation, as PIL
    const long xmax = std::min(static_cast<long>(in), static_cast<long>(hi));
    Taps& t = taps[o];
    t.first = static_cast<std::size_t>(xmin);
    double sum = 0.0;
    for (long x = xmin; x < xmax; ++x) {
      const double d = std::abs((static_cast<double>(x) - center + 0.5) / filterscale);
      const double w = d < 1.0 ? 1.0 - d : 0.0;
      t.w.push_back(w);
      sum += w;
    }
    if (sum != 0.0)
      for (double& w : t.w) w /= sum;
  }
  return taps;
}

std::uint8_t round_u8(double v) {
  const double r = std::floor(v + 0.5);
  return static_cast<std::uint8_t>(std::clamp(r, 0.0, 255.0));
}

}  // namespace

Image8 resize_bilinear(const Image8& image, std::size_t out_h, std::size_t out_w) {
  if (out_h == 0 || out_w == 0) throw ConfigError("cannot resize an image to zero size");
  if (out_h > kMaxImagePixels || out_w > kMaxImagePixels / out_h)
    throw ConfigError("resized image of " + std::to_string(out_w) + "x" + std::to_string(out_h) +
                      " pixels is too large");
  const std::size_t c = image.channels;
  Image8 cur = image;
  if (out_w != cur.width) {  // horizontal pass
    const std::vector<Taps> taps = bilinear_taps(cur.width, out_w);
    Image8 next{cur.height, out_w, c, std::vector<std::uint8_t>(cur.height * out_w * c)};
    for (std::size_t y = 0; y < cur.height; ++y)
      for (std::size_t x = 0; x < out_w; ++x)
        for (std::size_t k = 0; k < c; ++k) {
          double s = 0.0;
          const Taps& t = taps[x];
          for (std::size_t i = 0; i < t.w.size(); ++i) s += t.w[i] * cur.data[(y * cur.width + t.first + i) * c + k];
          next.data[(y * out_w + x) * c + k] = round_u8(s);
        }
    cur = std::move(next);
  }
  if (out_h != cur.height) {  // vertical pass
    const std::vector<Taps> taps = bilinear_taps(cur.height, out_h);
    Image8 next{out_h, cur.width, c, std::vector<std::uint8_t>(out_h * cur.width * c)};
    for (std::size_t y = 0; y < out_h; ++y) {
      const Taps& t = taps[y];
      for (std::size_t x = 0; x < cur.width; ++x)
        for (std::size_t k = 0; k < c; ++k) {
          double s = 0.0;
          for (std::size_t i = 0; i < t.w.size(); ++i) s += t.w[i] * cur.data[((t.first + i) * cur.width + x) * c + k];
          next.data[(y * cur.width + x) * c + k] = round_u8(s);
        }
    }
    cur = std::move(next);
  }
  return cur;
}

ImagePreprocess ImagePreprocess::imagenet() {
  ImagePreprocess p;
  p.resize = 256;
  p.crop_h = p.crop_w = 224;
  p.scale = 1.0 / 255;
  p.mean = {0.485, 0.456, 0.406};
  p.std = {0.229, 0.224, 0.225};
  return p;
}

Tensor<float> preprocess_image(const Image8& image, const ImagePreprocess& o, const std::string& what) {
  if (o.layout != "nchw" && o.layout != "nhwc")
    throw ConfigError("unknown image layout '" + o.layout + "'; valid: nchw, nhwc");
  if (image.channels != 1 && image.channels != 3)
    throw FormatError("'" + what + "': image must have 1 or 3 channels, has " + std::to_string(image.channels));
  if (image.data.size() != image.height * image.width * image.channels)
    throw ShapeError("'" + what + "': pixel buffer does not match the image size");
  const std::size_t c = o.grayscale ? 1 : 3;
  for (const auto* v : {&o.mean, &o.std})
    if (!v->empty() && v->size() != 1 && v->size() != c)
      throw ConfigError("image normalisation: mean/std need 1 or " + std::to_string(c) + " values, got " +
                        std::to_string(v->size()));
  for (double s : o.std)
    if (!(s != 0.0) || !std::isfinite(s))
      throw ConfigError("image normalisation: std values must be finite and non-zero");

  // Channel conversion (before resizing, as PIL's convert() right after opening).
  Image8 img{image.height, image.width, c, {}};
  const std::size_t n = image.height * image.width;
  img.data.resize(n * c);
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint8_t* p = image.data.data() + i * image.channels;
    if (c == image.channels) {
      std::copy_n(p, c, img.data.data() + i * c);
    } else if (c == 1) {  // PIL's L = R*299/1000 + G*587/1000 + B*114/1000 in 16-bit fixed point
      img.data[i] = static_cast<std::uint8_t>((p[0] * 19595u + p[1] * 38470u + p[2] * 7471u + 0x8000u) >> 16);
    } else {
      img.data[3 * i] = img.data[3 * i + 1] = img.data[3 * i + 2] = p[0];
    }
  }

  // Resize: shorter side to o.resize, as torchvision's Resize(int).
  if (o.resize > 0) {
    const bool wide = img.width >= img.height;
    const std::size_t shorter = wide ? img.height : img.width, longer = wide ? img.width : img.height;
    if (shorter != o.resize) {
      const auto new_long = static_cast<std::size_t>(static_cast<double>(o.resize) * static_cast<double>(longer) /
                                                     static_cast<double>(shorter));
      img = wide ? resize_bilinear(img, o.resize, std::max<std::size_t>(new_long, 1))
                 : resize_bilinear(img, std::max<std::size_t>(new_long, 1), o.resize);
    }
  }

  // Centre crop as torchvision's CenterCrop: offset round((size - crop) / 2) (half to even);
  // a crop larger than the image pads with zeros.
  const std::size_t oh = o.crop_h ? o.crop_h : img.height, ow = o.crop_w ? o.crop_w : img.width;
  if (oh > kMaxImagePixels || ow > kMaxImagePixels / oh) throw ConfigError("crop size is too large");
  auto offset = [](std::size_t size, std::size_t crop) -> long {
    if (crop <= size) return static_cast<long>(std::nearbyint(static_cast<double>(size - crop) / 2.0));
    return -static_cast<long>((crop - size) / 2);
  };
  const long top = offset(img.height, oh), left = offset(img.width, ow);

  Tensor<float> out(o.layout == "nchw" ? Shape{1, c, oh, ow} : Shape{1, oh, ow, c});
  for (std::size_t y = 0; y < oh; ++y) {
    const long sy = static_cast<long>(y) + top;
    for (std::size_t x = 0; x < ow; ++x) {
      const long sx = static_cast<long>(x) + left;
      const bool inside = sy >= 0 && sx >= 0 && sy < static_cast<long>(img.height) && sx < static_cast<long>(img.width);
      for (std::size_t k = 0; k < c; ++k) {
        const std::size_t src_k = o.bgr ? c - 1 - k : k;
        const double px =
            inside ? img.data[(static_cast<std::size_t>(sy) * img.width + static_cast<std::size_t>(sx)) * c + src_k]
                   : 0.0;
        double v = px * o.scale;
        if (!o.mean.empty()) v -= o.mean[o.mean.size() == 1 ? 0 : k];
        if (!o.std.empty()) v /= o.std[o.std.size() == 1 ? 0 : k];
        const std::size_t idx = o.layout == "nchw" ? (k * oh + y) * ow + x : (y * ow + x) * c + k;
        out[idx] = static_cast<float>(v);
      }
    }
  }
  return out;
}

Tensor<float> read_image(const std::string& path, const ImagePreprocess& options) {
  return preprocess_image(decode_image(path), options, path);
}

}  // namespace lrp::io
