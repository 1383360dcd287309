// TensorProto decoding: raw_data (little-endian) or the typed repeated fields, with the element
// count checked against the bytes present before anything is allocated.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

#include "io/onnx_detail.hpp"
#include "lrp/io/onnx.hpp"

namespace lrp::io {
namespace onnx_detail {
namespace {

using TP = onnx::TensorProto;

template <class U>
U load_le(const char* p) {
  unsigned char b[sizeof(U)];
  std::memcpy(b, p, sizeof(U));
  if constexpr (std::endian::native == std::endian::big) {
    for (std::size_t k = 0; k < sizeof(U) / 2; ++k) std::swap(b[k], b[sizeof(U) - 1 - k]);
  }
  U v;
  std::memcpy(&v, b, sizeof(U));
  return v;
}

double half_to_double(std::uint16_t h) {
  const int sign = (h >> 15) & 1, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
  double v;
  if (exp == 0) v = std::ldexp(static_cast<double>(mant), -24);
  else if (exp == 31) v = mant ? std::numeric_limits<double>::quiet_NaN() : std::numeric_limits<double>::infinity();
  else v = std::ldexp(static_cast<double>(mant + 1024), exp - 25);
  return sign ? -v : v;
}

std::size_t element_size(int type) {
  switch (type) {
    case TP::FLOAT: case TP::INT32: case TP::UINT32: return 4;
    case TP::DOUBLE: case TP::INT64: case TP::UINT64: return 8;
    case TP::INT16: case TP::UINT16: case TP::FLOAT16: return 2;
    case TP::INT8: case TP::UINT8: case TP::BOOL: return 1;
    default: return 0;
  }
}

bool is_integer_type(int type) { return type != TP::FLOAT && type != TP::DOUBLE && type != TP::FLOAT16; }

// One element of raw_data.
void decode_raw(int type, const char* p, std::size_t k, ConstTensor& out, const std::string& what) {
  switch (type) {
    case TP::FLOAT: out.f[k] = static_cast<double>(load_le<float>(p)); break;
    case TP::DOUBLE: out.f[k] = load_le<double>(p); break;
    case TP::FLOAT16: out.f[k] = half_to_double(load_le<std::uint16_t>(p)); break;
    case TP::INT64: out.i[k] = load_le<std::int64_t>(p); break;
    case TP::INT32: out.i[k] = load_le<std::int32_t>(p); break;
    case TP::INT16: out.i[k] = load_le<std::int16_t>(p); break;
    case TP::INT8: out.i[k] = load_le<std::int8_t>(p); break;
    case TP::UINT32: out.i[k] = load_le<std::uint32_t>(p); break;
    case TP::UINT16: out.i[k] = load_le<std::uint16_t>(p); break;
    case TP::UINT8: out.i[k] = load_le<std::uint8_t>(p); break;
    case TP::BOOL: out.i[k] = load_le<std::uint8_t>(p) != 0; break;
    case TP::UINT64: {
      const std::uint64_t v = load_le<std::uint64_t>(p);
      if (v > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
        throw FormatError(what + ": uint64 value " + std::to_string(v) + " does not fit int64");
      out.i[k] = static_cast<std::int64_t>(v);
      break;
    }
    default: break;
  }
}

}  // namespace

void ConstTensor::read_floats(std::size_t first, std::size_t count, float* dst) const {
  static_assert(sizeof(float) == 4);
  raw.source->read(raw.offset + first * sizeof(float), dst, count * sizeof(float));  // little-endian host (take_initializer)
}

// Pending tensors are read in blocks of this many elements (no second copy of a whole weight).
constexpr std::size_t kBlock = std::size_t(1) << 16;

std::size_t ConstTensor::first_non_finite() const {
  const std::size_t n = numel();
  if (is_int) return n;
  if (!pending) {
    for (std::size_t k = 0; k < n; ++k)
      if (!std::isfinite(f[k])) return k;
    return n;
  }
  std::vector<float> block(std::min(n, kBlock));
  for (std::size_t b = 0; b < n; b += kBlock) {
    const std::size_t m = std::min(kBlock, n - b);
    read_floats(b, m, block.data());
    for (std::size_t k = 0; k < m; ++k)
      if (!std::isfinite(block[k])) return b + k;
  }
  return n;
}

void ConstTensor::decode_pending() {
  if (!pending) return;
  const std::size_t n = numel();
  f.resize(n);
  std::vector<float> block(std::min(n, kBlock));
  for (std::size_t b = 0; b < n; b += kBlock) {
    const std::size_t m = std::min(kBlock, n - b);
    read_floats(b, m, block.data());
    std::copy_n(block.data(), m, f.data() + b);
  }
  raw = RawSlice{};
  pending = false;
}

bool ConstTensor::has_batch_marker() const {
  if (!is_int) return false;
  for (std::int64_t v : i)
    if (v == kBatchDim) return true;
  return false;
}

std::string dims_str(const std::vector<std::int64_t>& dims) {
  std::string s = "[";
  for (std::size_t k = 0; k < dims.size(); ++k) {
    if (k) s += ",";
    s += dims[k] == kBatchDim ? std::string("N") : std::to_string(dims[k]);
  }
  return s + "]";
}

std::size_t dims_numel(const std::vector<std::int64_t>& dims, const std::string& what, std::size_t limit) {
  std::size_t n = 1;
  for (std::int64_t d : dims) {
    if (d < 0) throw FormatError(what + ": negative dimension in shape " + dims_str(dims));
    const auto u = static_cast<std::size_t>(d);
    if (u != 0 && n > limit / u) throw FormatError(what + ": shape " + dims_str(dims) + " is too large");
    n *= u;
  }
  if (n > limit) throw FormatError(what + ": shape " + dims_str(dims) + " is too large");
  return n;
}

const char* data_type_name(int type) {
  switch (type) {
    case TP::FLOAT: return "FLOAT";
    case TP::UINT8: return "UINT8";
    case TP::INT8: return "INT8";
    case TP::UINT16: return "UINT16";
    case TP::INT16: return "INT16";
    case TP::INT32: return "INT32";
    case TP::INT64: return "INT64";
    case TP::STRING: return "STRING";
    case TP::BOOL: return "BOOL";
    case TP::FLOAT16: return "FLOAT16";
    case TP::DOUBLE: return "DOUBLE";
    case TP::UINT32: return "UINT32";
    case TP::UINT64: return "UINT64";
    case TP::COMPLEX64: return "COMPLEX64";
    case TP::COMPLEX128: return "COMPLEX128";
    case TP::BFLOAT16: return "BFLOAT16";
    default: return "UNDEFINED";
  }
}

ConstTensor decode_tensor(const onnx::TensorProto& t, const std::string& what) {
  if (t.has_data_location() && t.data_location() == TP::EXTERNAL)
    throw FormatError(what + ": tensor data stored in an external file is not supported");
  if (t.has_segment()) throw FormatError(what + ": segmented tensors are not supported");
  const int type = t.data_type();
  const std::size_t esize = element_size(type);
  if (esize == 0) throw FormatError(what + ": data type " + std::string(data_type_name(type)) + " is not supported");
  ConstTensor out;
  out.is_int = is_integer_type(type);
  out.dims.assign(t.dims().begin(), t.dims().end());
  const std::size_t n = dims_numel(out.dims, what);
  const std::string type_text = std::string(data_type_name(type));
  if (t.has_raw_data()) {
    const std::string& raw = t.raw_data();
    if (raw.size() / esize != n || raw.size() % esize != 0)
      throw FormatError(what + ": raw_data has " + std::to_string(raw.size()) + " bytes, but " + type_text + " " +
                        dims_str(out.dims) + " needs " + std::to_string(n * esize));
    if (out.is_int) out.i.resize(n);
    else out.f.resize(n);
    for (std::size_t k = 0; k < n; ++k) decode_raw(type, raw.data() + k * esize, k, out, what);
    return out;
  }
  const auto count_check = [&](std::size_t have, const char* field) {
    if (have != n)
      throw FormatError(what + ": " + field + " has " + std::to_string(have) + " values, but " + type_text + " " +
                        dims_str(out.dims) + " needs " + std::to_string(n));
  };
  switch (type) {
    case TP::FLOAT:
      count_check(static_cast<std::size_t>(t.float_data_size()), "float_data");
      out.f.assign(t.float_data().begin(), t.float_data().end());
      break;
    case TP::DOUBLE:
      count_check(static_cast<std::size_t>(t.double_data_size()), "double_data");
      out.f.assign(t.double_data().begin(), t.double_data().end());
      break;
    case TP::INT64:
      count_check(static_cast<std::size_t>(t.int64_data_size()), "int64_data");
      out.i.assign(t.int64_data().begin(), t.int64_data().end());
      break;
    case TP::UINT32:
    case TP::UINT64:
      count_check(static_cast<std::size_t>(t.uint64_data_size()), "uint64_data");
      for (std::uint64_t v : t.uint64_data()) {
        if (v > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
          throw FormatError(what + ": uint64 value " + std::to_string(v) + " does not fit int64");
        out.i.push_back(static_cast<std::int64_t>(v));
      }
      break;
    case TP::FLOAT16:
      count_check(static_cast<std::size_t>(t.int32_data_size()), "int32_data");
      for (std::int32_t v : t.int32_data()) out.f.push_back(half_to_double(static_cast<std::uint16_t>(v & 0xffff)));
      break;
    default:  // INT32, INT16, INT8, UINT16, UINT8, BOOL
      count_check(static_cast<std::size_t>(t.int32_data_size()), "int32_data");
      for (std::int32_t v : t.int32_data()) out.i.push_back(type == TP::BOOL ? (v != 0) : v);
      break;
  }
  return out;
}

ConstTensor take_initializer(onnx::TensorProto& t, const RawSlice& raw, const std::string& what) {
  const bool in_source = raw.source != nullptr;
  const bool raw_float = std::endian::native == std::endian::little && t.data_type() == TP::FLOAT && (in_source || t.has_raw_data()) &&
                         !(t.has_data_location() && t.data_location() == TP::EXTERNAL) && !t.has_segment();
  if (!raw_float) {
    if (in_source) {  // other types decode from the message: bring their (small) bytes back into it
      if (raw.bytes > (std::size_t(1) << 30)) throw FormatError(what + ": raw_data of " + std::to_string(raw.bytes) + " bytes is too large");
      std::string bytes(raw.bytes, '\0');
      raw.source->read(raw.offset, bytes.data(), bytes.size());
      t.set_raw_data(std::move(bytes));
    }
    return decode_tensor(t, what);
  }
  ConstTensor out;
  out.dims.assign(t.dims().begin(), t.dims().end());
  const std::size_t n = dims_numel(out.dims, what);
  const std::size_t bytes = in_source ? raw.bytes : t.raw_data().size();
  if (bytes != n * sizeof(float))
    throw FormatError(what + ": raw_data has " + std::to_string(bytes) + " bytes, but FLOAT " + dims_str(out.dims) + " needs " +
                      std::to_string(n * sizeof(float)));
  out.raw = in_source ? raw : RawSlice{owned_source(std::move(*t.mutable_raw_data())), 0, bytes};  // no copy either way
  out.pending = true;
  return out;
}

template <class T>
Tensor<T> weight_tensor(ConstTensor&& c) {
  Shape s;
  for (std::int64_t d : c.dims) s.push_back(static_cast<std::size_t>(d));
  if constexpr (std::is_same_v<T, double>) {
    c.decode_pending();
    if (!c.is_int) return Tensor<double>::adopt(std::move(s), std::move(c.f));
  }
  Tensor<T> w = Tensor<T>::uninitialized(std::move(s));
  const std::size_t n = c.numel();
  if constexpr (std::is_same_v<T, float>) {
    if (c.pending) c.read_floats(0, n, w.data());  // from the file straight into the layer
  }
  if (!c.pending)
    for (std::size_t k = 0; k < n; ++k) w[k] = static_cast<T>(c.value(k));
  c = ConstTensor{};  // the source is spent
  return w;
}
template Tensor<float> weight_tensor(ConstTensor&&);
template Tensor<double> weight_tensor(ConstTensor&&);

ConstTensor from_tensor(const Tensor<double>& t) {
  ConstTensor c;
  for (std::size_t d : t.shape()) c.dims.push_back(static_cast<std::int64_t>(d));
  c.f.assign(t.begin(), t.end());
  return c;
}

Tensor<double> to_tensor(const ConstTensor& c) {
  if (c.pending) {
    ConstTensor d = c;
    d.decode_pending();
    return to_tensor(d);
  }
  Shape s;
  for (std::int64_t d : c.dims) s.push_back(static_cast<std::size_t>(d));
  std::vector<double> v(c.numel());
  for (std::size_t k = 0; k < v.size(); ++k) v[k] = c.value(k);
  return Tensor<double>(std::move(s), std::move(v));
}

}  // namespace onnx_detail

Tensor<double> read_onnx_tensor(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError("cannot open '" + path + "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw IoError("cannot read '" + path + "'");
  const std::string bytes = ss.str();
  onnx::TensorProto t;
  if (bytes.size() > static_cast<std::size_t>(std::numeric_limits<int>::max()) || !t.ParseFromString(bytes))
    throw FormatError("'" + path + "': not a serialized ONNX TensorProto (truncated or corrupt)");
  return onnx_detail::to_tensor(onnx_detail::decode_tensor(t, "'" + path + "'"));
}

}  // namespace lrp::io
