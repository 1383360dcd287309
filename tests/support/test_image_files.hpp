#pragma once
// Test-only image files: a tiny PNG encoder (stored deflate blocks, so every colour type, bit
// depth and chunk can be produced by hand) and a libjpeg JPEG encoder.
#include <jpeglib.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <string>
#include <vector>

namespace lrp::test {

// ---- a tiny PNG encoder (stored deflate blocks) to produce every colour type and bit depth ----

inline std::uint32_t crc32(const std::string& s) {
  std::uint32_t c = 0xffffffffu;
  for (unsigned char b : s) {
    c ^= b;
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
  }
  return ~c;
}

inline std::string be32(std::uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
}

inline std::string chunk(const std::string& type, const std::string& data) {
  return be32(static_cast<std::uint32_t>(data.size())) + type + data + be32(crc32(type + data));
}

inline std::string zlib_stored(const std::string& raw) {
  std::string z = "\x78\x01";
  std::uint32_t a = 1, b = 0;
  for (unsigned char c : raw) {
    a = (a + c) % 65521;
    b = (b + a) % 65521;
  }
  std::size_t pos = 0;
  do {
    const std::size_t n = std::min<std::size_t>(65535, raw.size() - pos);
    const bool last = pos + n == raw.size();
    z += static_cast<char>(last ? 1 : 0);
    z += static_cast<char>(n & 0xff);
    z += static_cast<char>(n >> 8);
    z += static_cast<char>(~n & 0xff);
    z += static_cast<char>((~n >> 8) & 0xff);
    z += raw.substr(pos, n);
    pos += n;
  } while (pos < raw.size());
  return z + be32((b << 16) | a);
}

// rows: scanline bytes without filter bytes.
inline std::string make_png(std::uint32_t w, std::uint32_t h, int depth, int colour,
                            const std::vector<std::string>& rows, const std::string& extra = "") {
  std::string ihdr = be32(w) + be32(h);
  ihdr += static_cast<char>(depth);
  ihdr += static_cast<char>(colour);
  ihdr += std::string(3, '\0');
  std::string raw;
  for (const std::string& r : rows) raw += '\0' + r;
  return std::string("\x89PNG\r\n\x1a\n", 8) + chunk("IHDR", ihdr) + extra + chunk("IDAT", zlib_stored(raw)) +
         chunk("IEND", "");
}

inline std::string bytes(std::initializer_list<int> v) {
  std::string s;
  for (int x : v) s += static_cast<char>(x);
  return s;
}

// ---- JPEG encoding with libjpeg (test only) ----

inline std::string encode_jpeg(int w, int h, int comps, const std::vector<std::uint8_t>& px, bool progressive = false) {
  jpeg_compress_struct c{};
  jpeg_error_mgr err{};
  c.err = jpeg_std_error(&err);
  jpeg_create_compress(&c);
  unsigned char* buf = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&c, &buf, &size);
  c.image_width = static_cast<JDIMENSION>(w);
  c.image_height = static_cast<JDIMENSION>(h);
  c.input_components = comps;
  c.in_color_space = comps == 3 ? JCS_RGB : JCS_GRAYSCALE;
  jpeg_set_defaults(&c);
  jpeg_set_quality(&c, 100, TRUE);
  if (progressive) jpeg_simple_progression(&c);
  jpeg_start_compress(&c, TRUE);
  while (c.next_scanline < c.image_height) {
    JSAMPROW row = const_cast<std::uint8_t*>(px.data() + static_cast<std::size_t>(c.next_scanline) *
                                                             static_cast<std::size_t>(w * comps));
    jpeg_write_scanlines(&c, &row, 1);
  }
  jpeg_finish_compress(&c);
  std::string out(reinterpret_cast<const char*>(buf), size);
  jpeg_destroy_compress(&c);
  std::free(buf);
  return out;
}

inline std::vector<std::uint8_t> gradient(int w, int h, int comps) {
  std::vector<std::uint8_t> px;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int k = 0; k < comps; ++k) px.push_back(static_cast<std::uint8_t>((40 + 4 * x + 3 * y + 30 * k) % 256));
  return px;
}

}  // namespace lrp::test
