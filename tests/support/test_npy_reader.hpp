#pragma once
// Test-only reader for the shared reference .npy files: little-endian '<f8' or '|u1', C order.
// Not the library's reader (that lives in lrp::io); throws std::runtime_error on anything else.
#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace lrp::test {

struct NpyArray {
  std::vector<std::size_t> shape;
  std::vector<double> data;  // '|u1' values converted to double
};

inline NpyArray read_test_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string b = ss.str();
  if (!in || b.size() < 10 || b.compare(0, 6, "\x93NUMPY") != 0) throw std::runtime_error("not an npy file: " + path);
  const std::size_t hlen =
      static_cast<unsigned char>(b[8]) | (static_cast<std::size_t>(static_cast<unsigned char>(b[9])) << 8);
  const std::string header = b.substr(10, hlen);
  const bool f8 = header.find("'<f8'") != std::string::npos, u1 = header.find("'|u1'") != std::string::npos;
  if ((!f8 && !u1) || header.find("'fortran_order': False") == std::string::npos)
    throw std::runtime_error("unsupported npy header in " + path + ": " + header);
  NpyArray a;
  std::size_t pos = header.find('(') + 1, count = 1;
  while (pos < header.size() && header[pos] != ')') {
    if (header[pos] >= '0' && header[pos] <= '9') {
      std::size_t used = 0;
      a.shape.push_back(std::stoul(header.substr(pos), &used));
      count *= a.shape.back();
      pos += used;
    } else {
      ++pos;
    }
  }
  const std::size_t off = 10 + hlen, item = f8 ? 8 : 1;
  if (b.size() != off + count * item) throw std::runtime_error("npy data size mismatch in " + path);
  a.data.resize(count);
  for (std::size_t i = 0; i < count; ++i) {
    if (f8)
      std::memcpy(&a.data[i], b.data() + off + 8 * i, 8);
    else
      a.data[i] = static_cast<unsigned char>(b[off + i]);
  }
  return a;
}

}  // namespace lrp::test
