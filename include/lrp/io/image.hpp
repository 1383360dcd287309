#pragma once
// Image files as network inputs: PNG (libpng) and JPEG (libjpeg-turbo), recognised by their
// first bytes, decoded to 8 bit, then preprocessed like torchvision's
// Resize → CenterCrop → ToTensor → Normalize.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "lrp/core/tensor.hpp"

namespace lrp::io {

// Decoded 8-bit image, rows top to bottom, channels interleaved: 1 (gray) or 3 (RGB).
struct Image8 {
  std::size_t height = 0, width = 0, channels = 0;
  std::vector<std::uint8_t> data;  // height * width * channels
};

// Largest image accepted (decoded or after resizing), in pixels: 2^28.
inline constexpr std::size_t kMaxImagePixels = std::size_t(1) << 28;

// Decodes a PNG or JPEG file. PNG: gray, gray+alpha, RGB, RGBA, palette, 1-16 bits, interlaced;
// 16-bit samples keep their high byte, alpha and tRNS transparency are dropped (as PIL's
// convert("RGB")), palettes become RGB. JPEG: gray or YCbCr/RGB (CMYK/YCCK are rejected).
// Errors: IoError when the file cannot be read; FormatError naming the file when it is neither
// PNG nor JPEG, is corrupt or truncated (premature end of a JPEG's data counts), or has more than
// kMaxImagePixels pixels.
Image8 decode_image(const std::string& path);
// The same on bytes already in memory; `what` names the source in error messages.
Image8 decode_image_bytes(const std::string& bytes, const std::string& what);

// Bilinear resampling to out_h x out_w as PIL's Image.resize(BILINEAR) (a triangle filter whose
// support widens when shrinking, i.e. antialiased; horizontal pass first, each pass rounded to
// 8 bit). Results agree with PIL to within one level.
Image8 resize_bilinear(const Image8& image, std::size_t out_h, std::size_t out_w);

struct ImagePreprocess {
  std::size_t resize = 0;              // shorter side to this (longer side scaled, truncated); 0 = keep
  std::size_t crop_h = 0, crop_w = 0;  // centre crop (torchvision CenterCrop, zero padding if larger); 0 = none
  double scale = 1.0 / 255;            // pixel value factor
  std::vector<double> mean, std;       // per output channel (or one value for all), after scale
  bool bgr = false;                    // output channels in B,G,R order (mean/std follow output order)
  bool grayscale = false;              // one channel: ITU-R 601-2 luma as PIL's convert("L");
                                       // otherwise three (gray images are replicated)
  std::string layout = "nchw";         // or "nhwc"

  // torchvision's ImageNet preset: resize 256, crop 224, /255, mean .485 .456 .406,
  // std .229 .224 .225, RGB, NCHW.
  static ImagePreprocess imagenet();
};

// Preprocesses a decoded image: channel conversion, resize, centre crop, scale, mean/std, order.
// Returns [1,C,H,W] or [1,H,W,C]. ConfigError for bad options (layout, mean/std sizes, zero std).
Tensor<float> preprocess_image(const Image8& image, const ImagePreprocess& options, const std::string& what = "image");

// decode_image + preprocess_image.
Tensor<float> read_image(const std::string& path, const ImagePreprocess& options = {});

}  // namespace lrp::io
