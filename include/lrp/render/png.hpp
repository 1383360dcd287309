#pragma once
// PNG output of rendered images.
#include <string>

#include "lrp/render/heatmap.hpp"

namespace lrp::render {

// Writes an 8-bit RGB PNG atomically (temporary file, then rename). Throws IoError naming `path`
// when the image cannot be encoded or the file cannot be written, ShapeError for an empty image
// or one whose pixel buffer does not match its size.
void write_png(const std::string& path, const RgbImage& image);

// The PNG file content for `image` (what write_png writes); `what` names the image in errors.
std::string encode_png(const RgbImage& image, const std::string& what = "image");

}  // namespace lrp::render
