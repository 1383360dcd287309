// NumPy .npz: a zip archive of .npy members (read through io/zip_archive.hpp).
#include <zlib.h>

#include <limits>
#include <ostream>
#include <set>

#include "io/array_detail.hpp"
#include "io/zip_archive.hpp"
#include "lrp/io/arrays.hpp"
#include "lrp/io/atomic_file.hpp"

namespace lrp::io {
namespace {

using detail::format_error;
using detail::kZipCentralSig;
using detail::kZipEndSig;
using detail::kZipLocalSig;

// Little-endian appenders for the writer.
void put16(std::string& s, std::uint32_t v) {
  for (int i = 0; i < 2; ++i) s += static_cast<char>((v >> (8 * i)) & 0xFF);
}
void put32(std::string& s, std::uint64_t v) {
  for (int i = 0; i < 4; ++i) s += static_cast<char>((v >> (8 * i)) & 0xFF);
}

template <class T>
void write_npz_impl(const std::string& path, const std::vector<std::pair<std::string, Tensor<T>>>& arrays, const std::string& descr) {
  const std::string what = detail::quoted(path);
  if (arrays.size() >= 0xFFFF) throw ConfigError("cannot write " + what + ": too many arrays for a zip archive");
  std::set<std::string> seen;
  for (const auto& [name, t] : arrays) {
    if (name.empty() || name.size() > 0xFF00) throw ConfigError("cannot write " + what + ": bad array name '" + name + "'");
    if (!seen.insert(name).second) throw ConfigError("cannot write " + what + ": duplicate array name '" + name + "'");
    if (shape_numel(t.shape()) != t.size()) throw ShapeError("cannot write " + what + ": array '" + name + "' is malformed");
  }
  write_file_atomic(path, [&](std::ostream& out) {
    // Fixed timestamp (1980-01-01 00:00) keeps the output reproducible.
    constexpr std::uint32_t kTime = 0, kDate = (1 << 5) | 1;
    std::string central;
    std::uint64_t offset = 0;
    for (const auto& [name, t] : arrays) {
      const std::string member = name + ".npy";
      const std::string header = detail::npy_header(descr, t.shape());
      std::string scratch;
      const std::string_view data = detail::little_endian_bytes(t.data(), t.size(), scratch);
      const std::uint64_t size = header.size() + data.size();
      if (size >= 0xFFFFFFFF || offset >= 0xFFFFFFFF)
        throw IoError("cannot write " + what + ": array '" + name + "' exceeds 4 GiB (zip64 is not written)");
      uLong crc = crc32_z(0, reinterpret_cast<const Bytef*>(header.data()), header.size());
      // (zlib's crc32 of a null buffer is its initial value 0, not the running crc: an empty
      // array's data() may be null)
      if (!data.empty()) crc = crc32_z(crc, reinterpret_cast<const Bytef*>(data.data()), data.size());
      std::string local;
      put32(local, kZipLocalSig);
      put16(local, 20);  // version needed
      put16(local, 0);   // flags
      put16(local, 0);   // stored
      put16(local, kTime);
      put16(local, kDate);
      put32(local, crc);
      put32(local, size);
      put32(local, size);
      put16(local, static_cast<std::uint32_t>(member.size()));
      put16(local, 0);
      local += member;
      put32(central, kZipCentralSig);
      put16(central, (3 << 8) | 20);  // made by: unix, 2.0
      central.append(local, 4, 24);   // version needed .. name length: as in the local header
      put16(central, 0);              // extra
      put16(central, 0);              // comment
      put16(central, 0);              // disk
      put16(central, 0);              // internal attributes
      put32(central, std::uint64_t(0100644) << 16);  // regular file, rw-r--r--
      put32(central, offset);
      central += member;
      out.write(local.data(), static_cast<std::streamsize>(local.size()));
      out.write(header.data(), static_cast<std::streamsize>(header.size()));
      out.write(data.data(), static_cast<std::streamsize>(data.size()));
      offset += local.size() + size;
    }
    if (offset + central.size() >= 0xFFFFFFFF) throw IoError("cannot write " + what + ": archive exceeds 4 GiB (zip64 is not written)");
    std::string end;
    put32(end, kZipEndSig);
    put16(end, 0);
    put16(end, 0);
    put16(end, static_cast<std::uint32_t>(arrays.size()));
    put16(end, static_cast<std::uint32_t>(arrays.size()));
    put32(end, central.size());
    put32(end, offset);
    put16(end, 0);
    out.write(central.data(), static_cast<std::streamsize>(central.size()));
    out.write(end.data(), static_cast<std::streamsize>(end.size()));
  });
}

}  // namespace

std::map<std::string, Tensor<double>> read_npz(const std::string& path) {
  const std::string bytes = read_file_bytes(path);
  const std::string what = detail::quoted(path);
  std::map<std::string, Tensor<double>> out;
  for (const detail::ZipEntry& m : detail::read_zip(bytes, what)) {
    const std::string mwhat = what + " member '" + m.name + "'";
    if (m.name.size() < 4 || m.name.compare(m.name.size() - 4, 4, ".npy") != 0)
      format_error(mwhat, "zip", "not a .npy member");
    out.emplace(m.name.substr(0, m.name.size() - 4), detail::decode_npy<double>(m.data(), mwhat));
  }
  return out;
}

void write_npz(const std::string& path, const std::vector<std::pair<std::string, Tensor<float>>>& arrays) {
  write_npz_impl(path, arrays, "<f4");
}

void write_npz(const std::string& path, const std::vector<std::pair<std::string, Tensor<double>>>& arrays) {
  write_npz_impl(path, arrays, "<f8");
}

}  // namespace lrp::io
