#pragma once
// Outputs are written atomically: into a temporary file beside the target, then renamed,
// so a crash or an error never leaves a half-written result under the final name.
#include <cstddef>
#include <functional>
#include <iosfwd>
#include <string>

namespace lrp::io {

// Calls `write` with a binary stream to a temporary file, flushes, checks for errors and
// renames the file to `path`. Throws IoError naming `path` on any failure (temp file removed).
void write_file_atomic(const std::string& path, const std::function<void(std::ostream&)>& write);

// Reads a whole file into memory; throws IoError naming the file when it cannot be read.
std::string read_file_bytes(const std::string& path);
// Its first `max_bytes` bytes (fewer when the file is shorter), and its size.
std::string read_file_bytes(const std::string& path, std::size_t max_bytes);
std::size_t file_size(const std::string& path);

// The extension after the file name's last dot, lower-cased ("" when there is none); formats
// are told apart by it.
std::string lower_extension(const std::string& path);

}  // namespace lrp::io
