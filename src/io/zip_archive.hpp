#pragma once
// Reading zip archives: NumPy's .npz and Keras 3's .keras files are zip archives.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace lrp::io::detail {

constexpr std::uint32_t kZipLocalSig = 0x04034b50, kZipCentralSig = 0x02014b50, kZipEndSig = 0x06054b50;

// One member of an archive, its bytes checked against the CRC the central directory records.
struct ZipEntry {
  std::string name;
  std::string_view stored;  // a stored member: its bytes, inside the archive image
  std::string inflated;     // a deflated member, inflated
  bool is_stored() const { return stored.data() != nullptr; }
  std::string_view data() const { return is_stored() ? stored : std::string_view(inflated); }
};

// Every member of the archive image `bytes` (stored or deflate; encrypted members, other methods,
// duplicate names, sizes beyond the archive's and CRC mismatches are FormatErrors naming `what`
// and the member). Stored members are views into `bytes`, which must outlive them.
std::vector<ZipEntry> read_zip(std::string_view bytes, const std::string& what);

}  // namespace lrp::io::detail
