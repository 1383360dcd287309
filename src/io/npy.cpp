// NumPy .npy: "\x93NUMPY", version, header length, a Python dict literal
// {'descr': ..., 'fortran_order': ..., 'shape': (...)}, then the raw elements.
#include <limits>
#include <optional>
#include <ostream>

#include "io/array_detail.hpp"
#include "lrp/io/arrays.hpp"
#include "lrp/io/atomic_file.hpp"

namespace lrp::io {
namespace detail {
namespace {

constexpr std::string_view kMagic("\x93NUMPY", 6);

// The fields of the header dict.
struct NpyHeader {
  std::string descr;
  bool structured = false;  // descr was a list (record dtype)
  bool fortran_order = false;
  Shape shape;
};

// Recursive-descent parser for the literal subset numpy writes: a dict of a string, a bool
// and a tuple of ints (Python 2 files may suffix ints with 'L').
class HeaderParser {
 public:
  HeaderParser(std::string_view s, const std::string& what) : s_(s), what_(what) {}

  NpyHeader parse() {
    NpyHeader h;
    bool have_descr = false, have_order = false, have_shape = false;
    expect('{');
    while (!peek('}')) {
      const std::string key = string_literal();
      expect(':');
      if (key == "descr") {
        skip_ws();
        if (peek('[')) {
          skip_balanced();
          h.structured = true;
        } else {
          h.descr = string_literal();
        }
        have_descr = true;
      } else if (key == "fortran_order") {
        h.fortran_order = boolean();
        have_order = true;
      } else if (key == "shape") {
        h.shape = int_tuple();
        have_shape = true;
      } else {
        fail("unexpected key '" + key + "'");
      }
      if (!peek(',')) break;
      expect(',');
    }
    expect('}');
    skip_ws();
    if (pos_ != s_.size()) fail("unexpected text after the dict");
    if (!have_descr || !have_order || !have_shape) fail("missing key (need 'descr', 'fortran_order' and 'shape')");
    return h;
  }

 private:
  [[noreturn]] void fail(const std::string& msg) const {
    format_error(what_, "header", msg + " at offset " + std::to_string(pos_) + " of the header dict");
  }
  void skip_ws() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
  }
  bool peek(char c) {
    skip_ws();
    return pos_ < s_.size() && s_[pos_] == c;
  }
  void expect(char c) {
    if (!peek(c)) fail(std::string("expected '") + c + "'");
    ++pos_;
  }
  std::string string_literal() {
    skip_ws();
    if (pos_ >= s_.size() || (s_[pos_] != '\'' && s_[pos_] != '"')) fail("expected a string");
    const char q = s_[pos_++];
    const std::size_t end = s_.find(q, pos_);
    if (end == std::string_view::npos) fail("unterminated string");
    std::string out(s_.substr(pos_, end - pos_));
    pos_ = end + 1;
    return out;
  }
  bool boolean() {
    skip_ws();
    for (const bool v : {true, false}) {
      const std::string_view word = v ? "True" : "False";
      if (s_.substr(pos_, word.size()) == word) {
        pos_ += word.size();
        return v;
      }
    }
    fail("expected True or False for 'fortran_order'");
  }
  std::size_t integer() {
    skip_ws();
    const std::size_t start = pos_;
    std::size_t v = 0;
    while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') {
      const auto digit = static_cast<std::size_t>(s_[pos_] - '0');
      if (v > (std::numeric_limits<std::size_t>::max() - digit) / 10) fail("dimension too large in 'shape'");
      v = v * 10 + digit;
      ++pos_;
    }
    if (pos_ == start) fail("expected a non-negative integer in 'shape'");
    if (pos_ < s_.size() && s_[pos_] == 'L') ++pos_;
    return v;
  }
  Shape int_tuple() {
    Shape shape;
    expect('(');
    while (!peek(')')) {
      shape.push_back(integer());
      if (!peek(',')) break;
      expect(',');
    }
    expect(')');
    return shape;
  }
  // Skips a bracketed value (a record dtype's field list); quotes may contain brackets.
  void skip_balanced() {
    int depth = 0;
    char quote = 0;
    for (; pos_ < s_.size(); ++pos_) {
      const char c = s_[pos_];
      if (quote) {
        if (c == quote) quote = 0;
      } else if (c == '\'' || c == '"') {
        quote = c;
      } else if (c == '[' || c == '(') {
        ++depth;
      } else if ((c == ']' || c == ')') && --depth == 0) {
        ++pos_;
        return;
      }
    }
    fail("unterminated list in 'descr'");
  }

  std::string_view s_;
  const std::string& what_;
  std::size_t pos_ = 0;
};

struct ElementType {
  Dtype type;
  bool big_endian;
};

// '<f8' → F64 little-endian. Byte order '<', '>', '|' (not applicable) or '=' (native).
ElementType parse_descr(const NpyHeader& h, const std::string& what) {
  const std::string unsupported = " (lrp reads numeric arrays: f4 f8 i1 i2 i4 i8 u1 u2 u4 u8 b1)";
  if (h.structured) format_error(what, "descr", "structured (record) dtype is not supported" + unsupported);
  std::string_view d = h.descr;
  bool big = std::endian::native == std::endian::big;
  if (!d.empty() && (d[0] == '<' || d[0] == '>' || d[0] == '|' || d[0] == '=')) {
    if (d[0] == '<') big = false;
    if (d[0] == '>') big = true;
    d.remove_prefix(1);
  }
  static const std::pair<std::string_view, Dtype> kTypes[] = {
      {"f4", Dtype::F32}, {"f8", Dtype::F64}, {"i1", Dtype::I8},  {"i2", Dtype::I16},
      {"i4", Dtype::I32}, {"i8", Dtype::I64}, {"u1", Dtype::U8},  {"u2", Dtype::U16},
      {"u4", Dtype::U32}, {"u8", Dtype::U64}, {"b1", Dtype::Bool}};
  for (const auto& [name, type] : kTypes)
    if (d == name) return {type, big};
  format_error(what, "descr", "unsupported dtype '" + h.descr + "'" + unsupported);
}

std::uint32_t read_le(const unsigned char* p, std::size_t n) {
  std::uint32_t v = 0;
  for (std::size_t i = n; i-- > 0;) v = (v << 8) | p[i];
  return v;
}

// Checks the magic and the version in b (the file's first bytes) and returns the byte offset at
// which the header dict ends and the data begins; b must hold the header for it to be parsed.
std::size_t npy_data_offset(std::string_view b, const std::string& what) {
  const auto* u = reinterpret_cast<const unsigned char*>(b.data());
  if (b.empty()) format_error(what, "magic", "file is empty");
  if (b.substr(0, kMagic.size()) != kMagic.substr(0, std::min(b.size(), kMagic.size())))
    format_error(what, "magic", "not a .npy file (it does not start with \\x93NUMPY)");
  if (b.size() < 8) format_error(what, "header", "file truncated inside the magic/version (" + std::to_string(b.size()) + " bytes)");
  const unsigned major = u[6], minor = u[7];
  if ((major < 1 || major > 3) || minor != 0)
    format_error(what, "version", "unsupported .npy version " + std::to_string(major) + "." + std::to_string(minor));
  const std::size_t len_bytes = major == 1 ? 2 : 4;
  const std::size_t preamble = 8 + len_bytes;
  if (b.size() < preamble) format_error(what, "header", "file truncated inside the header length");
  return preamble + read_le(u + 8, len_bytes);
}

// The header dict of b, a whole file or its first npy_data_offset(b) bytes.
NpyHeader npy_header_of(std::string_view b, const std::string& what, std::size_t data_offset) {
  const std::size_t preamble = reinterpret_cast<const unsigned char*>(b.data())[6] == 1 ? 10 : 12;  // version checked
  if (data_offset > b.size())
    format_error(what, "header", "header length " + std::to_string(data_offset - preamble) + " runs past the end of the file (" +
                                     std::to_string(b.size()) + " bytes)");
  return HeaderParser(b.substr(preamble, data_offset - preamble), what).parse();
}

// The element type and count of h's array, checked against the `have` bytes of data the file
// holds (before anything is allocated).
std::pair<ElementType, std::size_t> checked_elements(const NpyHeader& h, std::size_t have, const std::string& what) {
  const ElementType et = parse_descr(h, what);
  const std::size_t n = checked_numel(h.shape, what, "shape");
  const std::size_t need = n * dtype_size(et.type);
  if (have < need)
    format_error(what, "data", "truncated: shape " + shape_str(h.shape) + " of '" + h.descr + "' needs " +
                                   std::to_string(need) + " bytes, the file has " + std::to_string(have));
  if (have > need)
    format_error(what, "data", std::to_string(have - need) + " unexpected bytes after the array data");
  return {et, n};
}

}  // namespace

template <class T>
Tensor<T> decode_npy(std::string_view b, const std::string& what) {
  const auto* u = reinterpret_cast<const unsigned char*>(b.data());
  const std::size_t data_offset = npy_data_offset(b, what);
  const NpyHeader h = npy_header_of(b, what, data_offset);
  const auto [et, n] = checked_elements(h, b.size() - data_offset, what);
  std::vector<T> data(n);
  convert_elements(u + data_offset, n, et.type, et.big_endian, data.data());
  if (h.fortran_order) data = fortran_to_c(data, h.shape);
  return Tensor<T>(h.shape, std::move(data));
}

std::string npy_header(const std::string& descr, const Shape& shape) {
  std::string tuple = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) tuple += (i ? ", " : "") + std::to_string(shape[i]);
  tuple += shape.size() == 1 ? ",)" : ")";
  std::string dict = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + tuple + ", }";
  // Like numpy: spare room for the first dimension to grow, then pad with spaces to a multiple
  // of 64 bytes (data alignment) and end with '\n'.
  if (!shape.empty()) dict.append(21 - std::min<std::size_t>(21, std::to_string(shape[0]).size()), ' ');
  for (const std::size_t preamble : {std::size_t(10), std::size_t(12)}) {
    const std::size_t total = (preamble + dict.size() + 1 + 63) / 64 * 64;
    const std::size_t header_len = total - preamble;
    if (preamble == 10 && header_len > 0xFFFF) continue;  // needs version 2.0
    std::string out(kMagic);
    out += static_cast<char>(preamble == 10 ? 1 : 2);
    out += '\0';
    for (std::size_t i = 0; i < preamble - 8; ++i) out += static_cast<char>((header_len >> (8 * i)) & 0xFF);
    out += dict;
    out.append(header_len - dict.size() - 1, ' ');
    return out + '\n';
  }
  throw ShapeError("npy header too long for shape " + shape_str(shape));
}

template Tensor<float> decode_npy(std::string_view, const std::string&);
template Tensor<double> decode_npy(std::string_view, const std::string&);

}  // namespace detail

namespace {
template <class T>
void write_npy_data(const std::string& path, const std::string& descr, const T* data, std::size_t n, const Shape& shape) {
  if (shape_numel(shape) != n)
    throw ShapeError("cannot write " + detail::quoted(path) + ": " + std::to_string(n) + " values do not fill shape " + shape_str(shape));
  const std::string header = detail::npy_header(descr, shape);
  write_file_atomic(path, [&](std::ostream& out) {
    std::string scratch;
    const std::string_view bytes = detail::little_endian_bytes(data, n, scratch);
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  });
}
}  // namespace

Tensor<double> read_npy(const std::string& path) {
  return detail::decode_npy<double>(read_file_bytes(path), detail::quoted(path));
}

Tensor<float> read_npy_f32(const std::string& path) {
  return detail::decode_npy<float>(read_file_bytes(path), detail::quoted(path));
}

Shape read_npy_shape(const std::string& path) {
  const std::string what = detail::quoted(path);
  const std::size_t data_offset = detail::npy_data_offset(read_file_bytes(path, 12), what);
  const detail::NpyHeader h = detail::npy_header_of(read_file_bytes(path, data_offset), what, data_offset);
  detail::checked_elements(h, file_size(path) - data_offset, what);
  return h.shape;
}

void write_npy(const std::string& path, const Tensor<float>& t) { write_npy_data(path, "<f4", t.data(), t.size(), t.shape()); }

void write_npy(const std::string& path, const Tensor<double>& t) { write_npy_data(path, "<f8", t.data(), t.size(), t.shape()); }

void write_npy_i64(const std::string& path, const std::vector<std::int64_t>& v, const Shape& shape) {
  write_npy_data(path, "<i8", v.data(), v.size(), shape);
}

}  // namespace lrp::io
