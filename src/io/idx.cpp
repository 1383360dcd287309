// IDX (MNIST, Fashion-MNIST): 0x00 0x00 <type> <ndim>, ndim big-endian u32 dims, then the
// big-endian elements. zlib's gz* functions read gzip and plain files alike; the data is
// streamed in chunks so a lying header cannot make us allocate more than the file holds.
#include <zlib.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <memory>

#include "io/array_detail.hpp"
#include "lrp/io/arrays.hpp"

namespace lrp::io {
namespace {

using detail::Dtype;
using detail::format_error;

struct GzCloser {
  void operator()(gzFile_s* f) const { gzclose(f); }
};

class GzReader {
 public:
  GzReader(const std::string& path, const std::string& what) : what_(what) {
    errno = 0;
    f_.reset(gzopen(path.c_str(), "rb"));
    if (!f_) throw IoError("cannot open " + what + ": " + std::strerror(errno ? errno : ENOMEM));
  }
  // Reads up to n bytes; fewer only at the end of the data. Stream errors are thrown.
  std::size_t read(void* dst, std::size_t n) {
    std::size_t done = 0;
    while (done < n) {
      const unsigned chunk = static_cast<unsigned>(std::min<std::size_t>(n - done, INT_MAX / 2));
      const int got = gzread(f_.get(), static_cast<char*>(dst) + done, chunk);
      if (got < 0) fail();
      if (got == 0) break;
      done += static_cast<std::size_t>(got);
    }
    if (done < n) check_error();
    return done;
  }

 private:
  void check_error() {
    int err = Z_OK;
    gzerror(f_.get(), &err);
    if (err != Z_OK && err != Z_STREAM_END) fail();
  }
  [[noreturn]] void fail() {
    int err = Z_OK;
    const char* msg = gzerror(f_.get(), &err);
    if (err == Z_ERRNO) throw IoError("error while reading " + what_ + ": " + std::strerror(errno));
    format_error(what_, "gzip", std::string("corrupt or truncated compressed data (") + (msg ? msg : "?") + ")");
  }

  std::unique_ptr<gzFile_s, GzCloser> f_;
  const std::string& what_;
};

bool idx_type(unsigned code, Dtype& t) {
  switch (code) {
    case 0x08: t = Dtype::U8; return true;
    case 0x09: t = Dtype::I8; return true;
    case 0x0B: t = Dtype::I16; return true;
    case 0x0C: t = Dtype::I32; return true;
    case 0x0D: t = Dtype::F32; return true;
    case 0x0E: t = Dtype::F64; return true;
    default: return false;
  }
}

}  // namespace

Tensor<double> read_idx(const std::string& path) {
  const std::string what = detail::quoted(path);
  GzReader in(path, what);
  unsigned char magic[4];
  if (in.read(magic, 4) < 4) format_error(what, "magic", "file too short for an IDX header");
  if (magic[0] != 0 || magic[1] != 0) format_error(what, "magic", "not an IDX file (the first two bytes must be zero)");
  Dtype type{};
  if (!idx_type(magic[2], type)) {
    char hex[8];
    std::snprintf(hex, sizeof hex, "0x%02X", magic[2]);
    format_error(what, "type", std::string("unknown IDX element type ") + hex);
  }
  const unsigned ndim = magic[3];
  if (ndim == 0) format_error(what, "dims", "zero dimensions");
  std::vector<unsigned char> dims_raw(4 * std::size_t(ndim));
  if (in.read(dims_raw.data(), dims_raw.size()) < dims_raw.size()) format_error(what, "dims", "truncated inside the dimensions");
  Shape shape(ndim);
  for (unsigned k = 0; k < ndim; ++k) shape[k] = detail::load_scalar<std::uint32_t>(&dims_raw[4 * k], std::endian::native == std::endian::little);
  const std::size_t n = detail::checked_numel(shape, what, "dims");
  const std::size_t need = n * detail::dtype_size(type);

  // Grow the buffer only as data actually arrives.
  std::string raw;
  constexpr std::size_t kChunk = std::size_t(1) << 24;
  while (raw.size() < need) {
    const std::size_t old = raw.size(), want = std::min(need - old, kChunk);
    raw.resize(old + want);
    const std::size_t got = in.read(raw.data() + old, want);
    if (got < want)
      format_error(what, "data", "truncated: dims " + shape_str(shape) + " need " + std::to_string(need) + " bytes of data, the file has " +
                                     std::to_string(old + got));
  }
  char extra;
  if (in.read(&extra, 1) != 0) format_error(what, "data", "unexpected bytes after the data of dims " + shape_str(shape));

  std::vector<double> data(n);
  detail::convert_elements(reinterpret_cast<const unsigned char*>(raw.data()), n, type, /*big_endian=*/true, data.data());
  return Tensor<double>(shape, std::move(data));
}

}  // namespace lrp::io
