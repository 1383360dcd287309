// Reading zip archives (.npz, Keras's .keras). The central directory is the authority for
// member sizes, CRCs and offsets (np.savez writes zip64 local headers with placeholder sizes).
#include "io/zip_archive.hpp"

#include <zlib.h>

#include <set>

#include "io/array_detail.hpp"
#include "lrp/core/error.hpp"

namespace lrp::io::detail {
namespace {

constexpr std::uint32_t kZip64EndSig = 0x06064b50, kZip64LocatorSig = 0x07064b50;
// Deflate cannot compress better than about 1032:1, so a member claiming more is corrupt;
// this bounds every allocation by the archive size.
constexpr std::uint64_t kMaxDeflateRatio = 1032;

// Bounds-checked little-endian reads from the archive image.
class Reader {
 public:
  Reader(std::string_view b, const std::string& what) : b_(b), what_(what) {}
  std::uint64_t get(std::uint64_t off, std::size_t n, const char* field) const {
    if (off > b_.size() || n > b_.size() - off) format_error(what_, field, "truncated archive (record runs past the end of the file)");
    std::uint64_t v = 0;
    for (std::size_t i = n; i-- > 0;) v = (v << 8) | static_cast<unsigned char>(b_[off + i]);
    return v;
  }
  std::uint32_t u16(std::uint64_t off, const char* field) const { return static_cast<std::uint32_t>(get(off, 2, field)); }
  std::uint32_t u32(std::uint64_t off, const char* field) const { return static_cast<std::uint32_t>(get(off, 4, field)); }
  std::uint64_t u64(std::uint64_t off, const char* field) const { return get(off, 8, field); }
  std::string_view bytes(std::uint64_t off, std::uint64_t n, const char* field) const {
    if (off > b_.size() || n > b_.size() - off) format_error(what_, field, "truncated archive (data runs past the end of the file)");
    return b_.substr(off, n);
  }
  std::size_t size() const { return b_.size(); }

 private:
  std::string_view b_;
  const std::string& what_;
};

struct Member {
  std::string name;
  std::uint32_t crc = 0, flags = 0, method = 0;
  std::uint64_t csize = 0, usize = 0, offset = 0;
};

struct Directory {
  std::uint64_t entries = 0, offset = 0, size = 0;
};

// Finds the end-of-central-directory record (possibly followed by a comment) and, when its
// fields are saturated, the zip64 record it points to.
Directory find_directory(const Reader& r, const std::string& what) {
  if (r.size() < 22) format_error(what, "zip", "not a zip archive (too short for an end-of-central-directory record)");
  std::uint64_t eocd = r.size();
  const std::uint64_t lowest = r.size() >= 22 + 0xFFFF ? r.size() - 22 - 0xFFFF : 0;
  for (std::uint64_t pos = r.size() - 22 + 1; pos-- > lowest;) {
    if (r.u32(pos, "zip") == kZipEndSig && pos + 22 + r.u16(pos + 20, "zip") == r.size()) {
      eocd = pos;
      break;
    }
  }
  if (eocd == r.size()) format_error(what, "zip", "not a zip archive (no end-of-central-directory record)");
  Directory d{r.u16(eocd + 10, "zip"), r.u32(eocd + 16, "zip"), r.u32(eocd + 12, "zip")};
  if ((d.entries == 0xFFFF || d.offset == 0xFFFFFFFF || d.size == 0xFFFFFFFF) && eocd >= 20 &&
      r.u32(eocd - 20, "zip64") == kZip64LocatorSig) {
    const std::uint64_t z = r.u64(eocd - 12, "zip64");
    if (r.u32(z, "zip64") != kZip64EndSig) format_error(what, "zip64", "bad zip64 end-of-central-directory record");
    d = {r.u64(z + 32, "zip64"), r.u64(z + 48, "zip64"), r.u64(z + 40, "zip64")};
  }
  if (d.offset > r.size() || d.size > r.size() - d.offset)
    format_error(what, "central directory", "offset/size point past the end of the file");
  if (d.entries > d.size / 46) format_error(what, "central directory", "entry count does not fit its size");
  return d;
}

// Parses the central directory entries, resolving zip64 extra fields.
std::vector<Member> read_members(const Reader& r, const Directory& d, const std::string& what) {
  std::vector<Member> members;
  std::uint64_t p = d.offset;
  const std::uint64_t end = d.offset + d.size;
  for (std::uint64_t i = 0; i < d.entries; ++i) {
    const char* f = "central directory";
    if (p + 46 > end || r.u32(p, f) != kZipCentralSig) format_error(what, f, "bad entry " + std::to_string(i));
    Member m;
    m.flags = r.u16(p + 8, f);
    m.method = r.u16(p + 10, f);
    m.crc = r.u32(p + 16, f);
    m.csize = r.u32(p + 20, f);
    m.usize = r.u32(p + 24, f);
    const std::uint32_t nlen = r.u16(p + 28, f), xlen = r.u16(p + 30, f), clen = r.u16(p + 32, f);
    m.offset = r.u32(p + 42, f);
    if (p + 46 + nlen + xlen + clen > end) format_error(what, f, "entry " + std::to_string(i) + " runs past the directory");
    m.name = std::string(r.bytes(p + 46, nlen, f));
    // Zip64 extra (id 1): 8-byte values for exactly the fields saturated above, in this order.
    for (std::uint64_t x = p + 46 + nlen; x + 4 <= p + 46 + nlen + xlen;) {
      const std::uint32_t id = r.u16(x, f), len = r.u16(x + 2, f);
      std::uint64_t v = x + 4;
      const std::uint64_t vend = v + len;
      if (vend > p + 46 + nlen + xlen) format_error(what, f, "bad extra field of '" + m.name + "'");
      if (id == 1) {
        for (std::uint64_t* field : {&m.usize, &m.csize, &m.offset}) {
          if (*field != 0xFFFFFFFF) continue;
          if (v + 8 > vend) format_error(what, "zip64", "short zip64 field of '" + m.name + "'");
          *field = r.u64(v, "zip64");
          v += 8;
        }
      }
      x = vend;
    }
    members.push_back(std::move(m));
    p += 46 + nlen + xlen + clen;
  }
  return members;
}

// Raw deflate stream → exactly `usize` bytes (more, less or a broken stream is an error).
std::string inflate_member(std::string_view in, std::uint64_t usize, const std::string& what) {
  std::string out(usize, '\0');
  z_stream zs{};
  if (inflateInit2(&zs, -MAX_WBITS) != Z_OK) throw IoError(what + ": zlib inflateInit failed");
  constexpr std::size_t kChunk = std::size_t(1) << 30;  // avail_in/avail_out are 32-bit
  std::size_t in_pos = 0, out_pos = 0;
  bool too_long = false;
  int rc = Z_OK;
  while (rc == Z_OK) {
    // Once the declared size is reached, one spare byte catches a stream that goes on.
    char spare = 0;
    const bool full = out_pos == out.size();
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data() + in_pos));
    zs.avail_in = static_cast<uInt>(std::min(in.size() - in_pos, kChunk));
    zs.next_out = reinterpret_cast<Bytef*>(full ? &spare : out.data() + out_pos);
    zs.avail_out = full ? 1u : static_cast<uInt>(std::min(out.size() - out_pos, kChunk));
    const uInt ai = zs.avail_in, ao = zs.avail_out;
    rc = inflate(&zs, Z_NO_FLUSH);  // Z_BUF_ERROR when the input runs out: ends the loop
    in_pos += ai - zs.avail_in;
    const std::size_t produced = ao - zs.avail_out;
    if (full && produced > 0) too_long = true;
    if (too_long) break;
    out_pos += produced;
  }
  const std::string msg = zs.msg ? zs.msg : "";
  inflateEnd(&zs);
  if (too_long) format_error(what, "deflate", "decompresses to more than the declared " + std::to_string(usize) + " bytes");
  if (rc != Z_STREAM_END || out_pos != out.size())
    format_error(what, "deflate", "corrupt or truncated compressed data" + (msg.empty() ? "" : " (" + msg + ")"));
  return out;
}

}  // namespace

std::vector<ZipEntry> read_zip(std::string_view bytes, const std::string& what) {
  const Reader r(bytes, what);
  const Directory dir = find_directory(r, what);
  std::vector<ZipEntry> out;
  std::set<std::string> seen;
  for (const Member& m : read_members(r, dir, what)) {
    const std::string mwhat = what + " member '" + m.name + "'";
    if (m.flags & 1) format_error(mwhat, "zip", "encrypted members are not supported");
    if (m.method != 0 && m.method != 8)
      format_error(mwhat, "zip", "compression method " + std::to_string(m.method) + " is not supported (only stored and deflate)");
    if (!seen.insert(m.name).second) format_error(mwhat, "zip", "duplicate member");
    if (r.u32(m.offset, "local header") != kZipLocalSig) format_error(mwhat, "local header", "bad signature");
    const std::uint64_t data_at = m.offset + 30 + r.u16(m.offset + 26, "local header") + r.u16(m.offset + 28, "local header");
    ZipEntry e;
    e.name = m.name;
    const std::string_view raw = r.bytes(data_at, m.csize, "local header");
    if (m.method == 0) {
      if (m.usize != m.csize) format_error(mwhat, "zip", "stored member with different compressed and uncompressed sizes");
      e.stored = raw;
    } else {
      if (m.usize > m.csize * kMaxDeflateRatio + 1024)
        format_error(mwhat, "zip", "declared size " + std::to_string(m.usize) + " is impossible for " + std::to_string(m.csize) +
                                       " compressed bytes");
      e.inflated = inflate_member(raw, m.usize, mwhat);
    }
    const std::string_view data = e.data();
    if (crc32_z(0, reinterpret_cast<const Bytef*>(data.data()), data.size()) != m.crc)
      format_error(mwhat, "crc32", "checksum mismatch (corrupt archive)");
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace lrp::io::detail
