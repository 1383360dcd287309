#include "io/array_detail.hpp"

namespace lrp::io::detail {

void format_error(const std::string& what, const std::string& field, const std::string& msg) {
  throw FormatError(what + ": " + field + ": " + msg);
}

std::size_t checked_numel(const Shape& shape, const std::string& what, const std::string& field) {
  try {
    return shape_numel(shape);
  } catch (const ShapeError&) {
    format_error(what, field, "shape " + shape_str(shape) + " has too many elements");
  }
}

std::size_t dtype_size(Dtype t) {
  switch (t) {
    case Dtype::U8: case Dtype::I8: case Dtype::Bool: return 1;
    case Dtype::U16: case Dtype::I16: return 2;
    case Dtype::U32: case Dtype::I32: case Dtype::F32: return 4;
    case Dtype::U64: case Dtype::I64: case Dtype::F64: return 8;
  }
  return 0;
}

namespace {
template <class U, class T>
void convert_as(const unsigned char* src, std::size_t n, bool swap, T* dst) {
  for (std::size_t i = 0; i < n; ++i) dst[i] = static_cast<T>(load_scalar<U>(src + i * sizeof(U), swap));
}
}  // namespace

template <class T>
void convert_elements(const unsigned char* src, std::size_t n, Dtype t, bool big_endian, T* dst) {
  const bool swap = big_endian != (std::endian::native == std::endian::big);
  switch (t) {
    case Dtype::U8: return convert_as<std::uint8_t>(src, n, swap, dst);
    case Dtype::I8: return convert_as<std::int8_t>(src, n, swap, dst);
    case Dtype::U16: return convert_as<std::uint16_t>(src, n, swap, dst);
    case Dtype::I16: return convert_as<std::int16_t>(src, n, swap, dst);
    case Dtype::U32: return convert_as<std::uint32_t>(src, n, swap, dst);
    case Dtype::I32: return convert_as<std::int32_t>(src, n, swap, dst);
    case Dtype::U64: return convert_as<std::uint64_t>(src, n, swap, dst);
    case Dtype::I64: return convert_as<std::int64_t>(src, n, swap, dst);
    case Dtype::F32: return convert_as<float>(src, n, swap, dst);
    case Dtype::F64: return convert_as<double>(src, n, swap, dst);
    case Dtype::Bool:  // numpy stores 0/1; anything non-zero is true
      for (std::size_t i = 0; i < n; ++i) dst[i] = src[i] != 0 ? T(1) : T(0);
      return;
  }
}

template <class T>
std::vector<T> fortran_to_c(const std::vector<T>& src, const Shape& shape) {
  const std::size_t rank = shape.size();
  if (rank <= 1 || src.empty()) return src;
  // Column-major strides; walk the destination in C order with an odometer over the indices.
  std::vector<std::size_t> stride(rank, 1), idx(rank, 0);
  for (std::size_t k = 1; k < rank; ++k) stride[k] = stride[k - 1] * shape[k - 1];
  std::vector<T> dst(src.size());
  std::size_t off = 0;
  for (std::size_t i = 0; i < dst.size(); ++i) {
    dst[i] = src[off];
    for (std::size_t k = rank; k-- > 0;) {
      if (++idx[k] < shape[k]) {
        off += stride[k];
        break;
      }
      off -= (shape[k] - 1) * stride[k];
      idx[k] = 0;
    }
  }
  return dst;
}

template void convert_elements(const unsigned char*, std::size_t, Dtype, bool, float*);
template void convert_elements(const unsigned char*, std::size_t, Dtype, bool, double*);
template std::vector<float> fortran_to_c(const std::vector<float>&, const Shape&);
template std::vector<double> fortran_to_c(const std::vector<double>&, const Shape&);

}  // namespace lrp::io::detail
