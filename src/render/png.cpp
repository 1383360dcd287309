// PNG encoding with libpng's simplified write API (png_image_write_to_memory): libpng handles
// its own setjmp/longjmp inside that call and reports failure through its return value and
// image.message, so no longjmp ever crosses a C++ frame here.
#include "lrp/render/png.hpp"

#include <ostream>
#include <png.h>

#include "lrp/core/error.hpp"
#include "lrp/io/atomic_file.hpp"

namespace lrp::render {

std::string encode_png(const RgbImage& image, const std::string& what) {
  if (image.height == 0 || image.width == 0) throw ShapeError("cannot write an empty image as PNG (" + what + ")");
  if (image.rgb.size() != 3 * image.height * image.width)
    throw ShapeError("image buffer does not match its size " + std::to_string(image.height) + "x" +
                     std::to_string(image.width) + " (" + what + ")");
  // libpng's default limit is 1,000,000 pixels per side.
  if (image.height > 1000000 || image.width > 1000000)
    throw IoError("cannot write '" + what + "': image too large for PNG (" + std::to_string(image.height) + "x" +
                  std::to_string(image.width) + ")");
  png_image img{};
  img.version = PNG_IMAGE_VERSION;
  img.width = static_cast<png_uint_32>(image.width);
  img.height = static_cast<png_uint_32>(image.height);
  img.format = PNG_FORMAT_RGB;
  const auto stride = static_cast<png_int_32>(3 * image.width);
  // One pass into a buffer of libpng's worst-case size for this image.
  png_alloc_size_t size = PNG_IMAGE_PNG_SIZE_MAX(img);
  std::string out(size, '\0');
  if (!png_image_write_to_memory(&img, out.data(), &size, 0, image.rgb.data(), stride, nullptr)) {
    const std::string msg = img.message;
    png_image_free(&img);
    throw IoError("cannot encode '" + what + "' as PNG: " + msg);
  }
  out.resize(size);
  return out;
}

void write_png(const std::string& path, const RgbImage& image) {
  const std::string data = encode_png(image, path);
  io::write_file_atomic(path,
                        [&](std::ostream& os) { os.write(data.data(), static_cast<std::streamsize>(data.size())); });
}

}  // namespace lrp::render
