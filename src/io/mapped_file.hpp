#pragma once
// A file mapped read-only into memory: its bytes are read where the page cache holds them, with
// no copy, and a forked child shares them. Large archives (.keras) are read so.
#include <cstddef>
#include <string>
#include <string_view>

namespace lrp::io::detail {

class MappedFile {
 public:
  // IoError naming the file when it cannot be opened or mapped. A file another process cuts
  // short while it is mapped would fault on reading; model files are not written while read.
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  std::string_view bytes() const { return {static_cast<const char*>(data_), size_}; }

 private:
  void* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace lrp::io::detail
