// MATLAB .mat through libmatio (v4, v5 incl. compressed, v7.3). MATLAB stores column-major;
// we return C order with MATLAB's dims as the shape.
#include <matio.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>

#include "io/array_detail.hpp"
#include "lrp/io/arrays.hpp"

namespace lrp::io {
namespace {

using detail::format_error;

// matio reports problems through a log callback; keep the last message for our error text
// instead of letting it print.
thread_local std::string g_matio_message;
void capture_matio_log(int /*level*/, char* message) {
  try {
    if (message) g_matio_message = message;
  } catch (...) {  // never unwind through C
  }
}
void install_matio_logger() {
  static std::once_flag once;
  std::call_once(once, [] { Mat_LogInitFunc("lrp", &capture_matio_log); });
}
std::string matio_detail() { return g_matio_message.empty() ? "" : " (matio: " + g_matio_message + ")"; }

struct MatCloser {
  void operator()(mat_t* m) const { Mat_Close(m); }
};
struct VarFree {
  void operator()(matvar_t* v) const { Mat_VarFree(v); }
};
using MatPtr = std::unique_ptr<mat_t, MatCloser>;
using VarPtr = std::unique_ptr<matvar_t, VarFree>;

bool is_real_numeric(const matvar_t* v) {
  return v->class_type >= MAT_C_DOUBLE && v->class_type <= MAT_C_UINT64 && !v->isComplex;
}

template <class U>
void column_major_to_double(const void* data, std::size_t n, std::vector<double>& out) {
  const U* p = static_cast<const U*>(data);
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<double>(p[i]);
}

// Picks the variable's header (no data yet): `name`, or "data", or the first real numeric one.
VarPtr find_variable(mat_t* mat, const std::string& name, const std::string& what) {
  if (VarPtr v(Mat_VarReadInfo(mat, name.empty() ? "data" : name.c_str())); v) return v;
  // Not there: walk the file to list what it has and to find the first real numeric variable.
  Mat_Rewind(mat);
  std::string names;
  VarPtr first_numeric;
  // A corrupt directory could repeat forever; no real file has this many variables.
  for (int i = 0; i < 100000; ++i) {
    VarPtr v(Mat_VarReadNextInfo(mat));
    if (!v) break;
    names += std::string(names.empty() ? "" : ", ") + (v->name ? v->name : "?");
    if (!first_numeric && is_real_numeric(v.get())) first_numeric = std::move(v);
  }
  if (name.empty() && first_numeric) return first_numeric;
  if (!name.empty()) format_error(what, "variable", "no variable '" + name + "' (the file has: " + (names.empty() ? "none" : names) + ")");
  format_error(what, "variable", "no real numeric variable (the file has: " + (names.empty() ? "none" : names) + ")" + matio_detail());
}

// matio does not notice a v5 file cut inside an uncompressed variable (it returns the
// partial data), so walk the top-level element tags first: each must fit in the file.
void check_v5_elements(const std::string& path, std::uintmax_t file_size, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  unsigned char head[128];
  if (!in.read(reinterpret_cast<char*>(head), sizeof head)) return;  // too short for v5: matio decides
  const std::uint32_t version = head[124] | (head[125] << 8);
  const bool little = head[126] == 'I' && head[127] == 'M', big = head[126] == 'M' && head[127] == 'I';
  if (!(little || big) || (version != 0x0100 && version != 0x0001)) return;  // v4 or v7.3 (HDF5)
  const bool swap = little != (std::endian::native == std::endian::little);
  for (std::uintmax_t pos = 128; pos < file_size;) {
    // Padding after an (unpadded) compressed element that ends the file.
    if (pos % 8 != 0 && file_size - pos < 8 && file_size % 8 == 0) break;
    unsigned char tag[8];
    if (file_size - pos < 8 || !in.seekg(static_cast<std::streamoff>(pos)) || !in.read(reinterpret_cast<char*>(tag), 8))
      format_error(what, "element", "truncated element tag at offset " + std::to_string(pos));
    const std::uint32_t type = detail::load_scalar<std::uint32_t>(tag, swap);
    const std::uint32_t nbytes = detail::load_scalar<std::uint32_t>(tag + 4, swap);
    if (nbytes > file_size - pos - 8)
      format_error(what, "element", "element at offset " + std::to_string(pos) + " declares " + std::to_string(nbytes) +
                                        " bytes but the file ends after " + std::to_string(file_size - pos - 8) + " (truncated file?)");
    pos += 8 + nbytes;
    if (type != 15) pos = (pos + 7) / 8 * 8;  // uncompressed elements are padded to 8 bytes
  }
}

}  // namespace

Tensor<double> read_mat(const std::string& path, const std::string& name) {
  const std::string what = detail::quoted(path);
  {  // Missing/unreadable is an IoError; anything matio rejects after this is the content's fault.
    std::ifstream probe(path, std::ios::binary);
    if (!probe) throw IoError("cannot open " + what + ": " + std::strerror(errno));
  }
  std::error_code ec;
  const std::uintmax_t file_size = std::filesystem::file_size(path, ec);
  if (ec) throw IoError("cannot read " + what + ": " + ec.message());

  check_v5_elements(path, file_size, what);
  install_matio_logger();
  g_matio_message.clear();
  MatPtr mat(Mat_Open(path.c_str(), MAT_ACC_RDONLY));
  if (!mat) format_error(what, "header", "not a MATLAB .mat file" + matio_detail());
  const VarPtr info = find_variable(mat.get(), name, what);
  const std::string var = info->name ? info->name : name;
  const std::string vwhat = what + " variable '" + var + "'";
  if (!is_real_numeric(info.get()))
    format_error(vwhat, "class", info->isComplex ? "complex data is not supported" : "not a numeric array (class " + std::to_string(info->class_type) + ")");
  if (info->rank < 1 || !info->dims) format_error(vwhat, "dims", "missing dimensions");
  const Shape shape(info->dims, info->dims + info->rank);
  const std::size_t n = detail::checked_numel(shape, vwhat, "dims");
  // Every element takes at least one stored byte, and zlib inflates at most ~1032:1: a claim
  // beyond that is corrupt, and matio would allocate it before finding out.
  if (n > file_size * 1032 + 1024)
    format_error(vwhat, "dims", shape_str(shape) + " cannot fit in a file of " + std::to_string(file_size) + " bytes");

  const VarPtr v(Mat_VarRead(mat.get(), var.c_str()));
  if (!v) format_error(vwhat, "data", "cannot read the data" + matio_detail());
  if (!is_real_numeric(v.get()) || v->rank != info->rank || !std::equal(shape.begin(), shape.end(), v->dims))
    format_error(vwhat, "data", "header and data disagree" + matio_detail());
  const std::size_t elem = Mat_SizeOfClass(v->class_type);
  if (n > 0 && (!v->data || elem == 0 || v->nbytes < n * elem)) format_error(vwhat, "data", "data missing or short" + matio_detail());

  std::vector<double> col(n);
  switch (v->class_type) {
    case MAT_C_DOUBLE: column_major_to_double<double>(v->data, n, col); break;
    case MAT_C_SINGLE: column_major_to_double<float>(v->data, n, col); break;
    case MAT_C_INT8: column_major_to_double<std::int8_t>(v->data, n, col); break;
    case MAT_C_UINT8: column_major_to_double<std::uint8_t>(v->data, n, col); break;
    case MAT_C_INT16: column_major_to_double<std::int16_t>(v->data, n, col); break;
    case MAT_C_UINT16: column_major_to_double<std::uint16_t>(v->data, n, col); break;
    case MAT_C_INT32: column_major_to_double<std::int32_t>(v->data, n, col); break;
    case MAT_C_UINT32: column_major_to_double<std::uint32_t>(v->data, n, col); break;
    case MAT_C_INT64: column_major_to_double<std::int64_t>(v->data, n, col); break;
    case MAT_C_UINT64: column_major_to_double<std::uint64_t>(v->data, n, col); break;
    default: format_error(vwhat, "class", "not a numeric array");
  }
  return Tensor<double>(shape, detail::fortran_to_c(col, shape));
}

}  // namespace lrp::io
