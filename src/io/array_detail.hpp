#pragma once
// Helpers shared by the array readers/writers in src/io (not part of the public API).
#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "lrp/core/error.hpp"
#include "lrp/core/tensor.hpp"

namespace lrp::io::detail {

// "'path'" — every message quotes the file it is about.
inline std::string quoted(const std::string& path) { return "'" + path + "'"; }

// FormatError "<what>: <field>: <msg>", `what` being e.g. quoted(path).
[[noreturn]] void format_error(const std::string& what, const std::string& field, const std::string& msg);

// Element count of a shape read from a file; a shape too large for shape_numel becomes a
// FormatError on `field` (the file is wrong, not the caller).
std::size_t checked_numel(const Shape& shape, const std::string& what, const std::string& field);

// Element types stored in files. Enumerators name the stored type.
enum class Dtype { U8, I8, U16, I16, U32, I32, U64, I64, F32, F64, Bool };
std::size_t dtype_size(Dtype t);

// Reads one stored scalar of type U at p, swapping bytes when the file order is not native.
template <class U>
U load_scalar(const unsigned char* p, bool swap) {
  unsigned char b[sizeof(U)];
  std::memcpy(b, p, sizeof(U));
  if (swap) std::reverse(b, b + sizeof(U));
  U v;
  std::memcpy(&v, b, sizeof(U));
  return v;
}

// Converts n stored elements at src (file order big_endian or not) to T.
template <class T>
void convert_elements(const unsigned char* src, std::size_t n, Dtype t, bool big_endian, T* dst);

// Column-major (Fortran/MATLAB) data of `shape` rearranged into C order.
template <class T>
std::vector<T> fortran_to_c(const std::vector<T>& src, const Shape& shape);

// The bytes of n values in little-endian order: a view of `p` itself on little-endian hosts,
// otherwise a swapped copy kept in `scratch`.
template <class T>
std::string_view little_endian_bytes(const T* p, std::size_t n, std::string& scratch) {
  const char* raw = reinterpret_cast<const char*>(p);
  if constexpr (std::endian::native == std::endian::little) {
    return {raw, n * sizeof(T)};
  } else {
    scratch.assign(raw, n * sizeof(T));
    for (std::size_t i = 0; i < n; ++i) std::reverse(scratch.begin() + i * sizeof(T), scratch.begin() + (i + 1) * sizeof(T));
    return scratch;
  }
}

// --- .npy codec, shared by .npy files and .npz members ---
// Parses a whole .npy image (header and data, nothing after); `what` names it in errors.
template <class T>
Tensor<T> decode_npy(std::string_view bytes, const std::string& what);
// Magic, version and padded header dict for a C-order array, ready to be followed by the data.
std::string npy_header(const std::string& descr, const Shape& shape);

}  // namespace lrp::io::detail
