// PNG and JPEG decoding.
//
// Both C libraries report fatal errors through a callback that must not return. Here it
// records the message in a plain C struct and longjmps back to a setjmp in a small "stage"
// function. Rules that keep this well-defined in C++:
//  * a stage function holds no object with a non-trivial destructor and reads no local it
//    changed after setjmp once the longjmp has happened (it just returns false);
//  * the callbacks between libpng/libjpeg and the longjmp own no such objects either;
//  * every C++ object (buffers, strings, RAII guards) lives in the caller, which turns a false
//    return into a FormatError after the stage function has returned.
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <string>

#include <jpeglib.h>
#include <jerror.h>
#include <png.h>

#include "lrp/core/error.hpp"
#include "lrp/io/atomic_file.hpp"
#include "lrp/io/image.hpp"

namespace lrp::io {

namespace {

void check_pixels(std::size_t h, std::size_t w, const std::string& what) {
  if (h == 0 || w == 0) throw FormatError("'" + what + "': image has no pixels");
  if (h > kMaxImagePixels || w > kMaxImagePixels / h)
    throw FormatError("'" + what + "': image of " + std::to_string(w) + "x" + std::to_string(h) +
                      " pixels exceeds the limit of 2^28 pixels");
}

// ------------------------------------------------------------------------------------------
// PNG (libpng low-level API)

struct PngSource {
  const unsigned char* data;
  std::size_t size;
  std::size_t pos;
  char message[256];
};

void png_error_cb(png_structp png, png_const_charp msg) {
  auto* src = static_cast<PngSource*>(png_get_error_ptr(png));
  std::snprintf(src->message, sizeof src->message, "%s", msg ? msg : "libpng error");
  png_longjmp(png, 1);
}

void png_warning_cb(png_structp, png_const_charp) {}

void png_read_cb(png_structp png, png_bytep out, png_size_t n) {
  auto* src = static_cast<PngSource*>(png_get_io_ptr(png));
  if (n > src->size - src->pos) png_error(png, "unexpected end of file (truncated PNG)");
  std::memcpy(out, src->data + src->pos, n);
  src->pos += n;
}

struct PngInfo {
  png_uint_32 width, height;
  int channels;
};

// Stage 1: header, transformations to 8-bit gray or RGB.
bool png_stage_header(png_structp png, png_infop info, PngInfo* out) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_set_user_limits(png, 1u << 20, 1u << 20);
  png_read_info(png, info);
  const png_byte colour = png_get_color_type(png, info);
  const png_byte depth = png_get_bit_depth(png, info);
  if (depth == 16) png_set_strip_16(png);
  if (colour == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (colour == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  // Alpha channels, and the alpha that the expansions above make from tRNS, are dropped.
  if ((colour & PNG_COLOR_MASK_ALPHA) || png_get_valid(png, info, PNG_INFO_tRNS)) png_set_strip_alpha(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  out->width = png_get_image_width(png, info);
  out->height = png_get_image_height(png, info);
  out->channels = png_get_channels(png, info);
  return true;
}

// Stage 2: the pixels, then the chunks after them.
bool png_stage_pixels(png_structp png, png_infop info, png_bytepp rows) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_read_image(png, rows);
  png_read_end(png, info);
  return true;
}

class PngReader {
 public:
  explicit PngReader(PngSource* src) {
    png_ = png_create_read_struct(PNG_LIBPNG_VER_STRING, src, png_error_cb, png_warning_cb);
    if (png_) info_ = png_create_info_struct(png_);
  }
  ~PngReader() { png_destroy_read_struct(png_ ? &png_ : nullptr, info_ ? &info_ : nullptr, nullptr); }
  PngReader(const PngReader&) = delete;
  PngReader& operator=(const PngReader&) = delete;
  png_structp png() const { return png_; }
  png_infop info() const { return info_; }

 private:
  png_structp png_ = nullptr;
  png_infop info_ = nullptr;
};

Image8 decode_png(const std::string& bytes, const std::string& what) {
  PngSource src{reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), 0, {}};
  PngReader reader(&src);
  if (!reader.png() || !reader.info()) throw std::bad_alloc();
  png_set_read_fn(reader.png(), &src, png_read_cb);
  PngInfo pi{};
  if (!png_stage_header(reader.png(), reader.info(), &pi))
    throw FormatError("'" + what + "': corrupt PNG: " + src.message);
  check_pixels(pi.height, pi.width, what);
  if (pi.channels != 1 && pi.channels != 3)
    throw FormatError("'" + what + "': unexpected PNG channel count " + std::to_string(pi.channels));
  Image8 img;
  img.height = pi.height;
  img.width = pi.width;
  img.channels = static_cast<std::size_t>(pi.channels);
  img.data.resize(img.height * img.width * img.channels);
  std::vector<png_bytep> rows(img.height);
  for (std::size_t y = 0; y < img.height; ++y) rows[y] = img.data.data() + y * img.width * img.channels;
  if (!png_stage_pixels(reader.png(), reader.info(), rows.data()))
    throw FormatError("'" + what + "': corrupt PNG: " + src.message);
  return img;
}

// ------------------------------------------------------------------------------------------
// JPEG (libjpeg-turbo)

struct JpegError {
  jpeg_error_mgr mgr;  // first member: libjpeg hands us a pointer to it
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void jpeg_error_exit_cb(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<JpegError*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

// Warnings that mean lost image data (a truncated file, a damaged segment) are fatal; the
// others (unknown JFIF versions, stray bytes between markers) are ignored.
void jpeg_emit_message_cb(j_common_ptr cinfo, int level) {
  if (level >= 0) return;
  const int code = cinfo->err->msg_code;
  if (code == JWRN_JPEG_EOF || code == JWRN_HIT_MARKER || code == JWRN_MUST_RESYNC) jpeg_error_exit_cb(cinfo);
}

struct JpegState {
  jpeg_decompress_struct cinfo;
  JpegError err;
};

bool jpeg_stage_header(JpegState* s, const unsigned char* data, unsigned long size) {
  if (setjmp(s->err.jump)) return false;
  jpeg_create_decompress(&s->cinfo);
  jpeg_mem_src(&s->cinfo, data, size);
  jpeg_read_header(&s->cinfo, TRUE);
  return true;
}

bool jpeg_stage_pixels(JpegState* s, unsigned char* out, std::size_t row_bytes) {
  if (setjmp(s->err.jump)) return false;
  jpeg_start_decompress(&s->cinfo);
  while (s->cinfo.output_scanline < s->cinfo.output_height) {
    JSAMPROW row = out + static_cast<std::size_t>(s->cinfo.output_scanline) * row_bytes;
    jpeg_read_scanlines(&s->cinfo, &row, 1);
  }
  jpeg_finish_decompress(&s->cinfo);
  return true;
}

class JpegGuard {
 public:
  explicit JpegGuard(JpegState* s) : s_(s) {}
  ~JpegGuard() { jpeg_destroy_decompress(&s_->cinfo); }  // safe on a never-created (zeroed) struct
  JpegGuard(const JpegGuard&) = delete;
  JpegGuard& operator=(const JpegGuard&) = delete;

 private:
  JpegState* s_;
};

Image8 decode_jpeg(const std::string& bytes, const std::string& what) {
  JpegState s{};
  s.cinfo.err = jpeg_std_error(&s.err.mgr);
  s.err.mgr.error_exit = jpeg_error_exit_cb;
  s.err.mgr.emit_message = jpeg_emit_message_cb;
  JpegGuard guard(&s);
  if (!jpeg_stage_header(&s, reinterpret_cast<const unsigned char*>(bytes.data()),
                         static_cast<unsigned long>(bytes.size())))
    throw FormatError("'" + what + "': corrupt JPEG: " + s.err.message);
  check_pixels(s.cinfo.image_height, s.cinfo.image_width, what);
  switch (s.cinfo.jpeg_color_space) {
    case JCS_GRAYSCALE:
      s.cinfo.out_color_space = JCS_GRAYSCALE;
      break;
    case JCS_YCbCr:
    case JCS_RGB:
      s.cinfo.out_color_space = JCS_RGB;
      break;
    default:
      throw FormatError("'" + what + "': unsupported JPEG colour space (CMYK/YCCK); convert the image to RGB");
  }
  jpeg_calc_output_dimensions(&s.cinfo);
  Image8 img;
  img.height = s.cinfo.output_height;
  img.width = s.cinfo.output_width;
  img.channels = static_cast<std::size_t>(s.cinfo.output_components);
  check_pixels(img.height, img.width, what);
  img.data.resize(img.height * img.width * img.channels);
  if (!jpeg_stage_pixels(&s, img.data.data(), img.width * img.channels))
    throw FormatError("'" + what + "': corrupt JPEG: " + s.err.message);
  return img;
}

}  // namespace

Image8 decode_image_bytes(const std::string& bytes, const std::string& what) {
  static const unsigned char png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (bytes.size() >= 8 && std::memcmp(bytes.data(), png_sig, 8) == 0) return decode_png(bytes, what);
  if (bytes.size() >= 3 && static_cast<unsigned char>(bytes[0]) == 0xFF &&
      static_cast<unsigned char>(bytes[1]) == 0xD8 && static_cast<unsigned char>(bytes[2]) == 0xFF)
    return decode_jpeg(bytes, what);
  throw FormatError("'" + what + "' is neither a PNG nor a JPEG file");
}

Image8 decode_image(const std::string& path) { return decode_image_bytes(read_file_bytes(path), path); }

}  // namespace lrp::io
