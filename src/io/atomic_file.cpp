#include "lrp/io/atomic_file.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include "lrp/core/error.hpp"

namespace lrp::io {

void write_file_atomic(const std::string& path, const std::function<void(std::ostream&)>& write) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw IoError("cannot write '" + path + "': " + std::strerror(errno));
    try {
      write(out);
    } catch (...) {
      out.close();
      std::remove(tmp.c_str());
      throw;
    }
    out.flush();
    if (!out) {
      std::remove(tmp.c_str());
      throw IoError("error while writing '" + path + "'");
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    std::remove(tmp.c_str());
    throw IoError("cannot write '" + path + "': " + why);
  }
}

std::string read_file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError("cannot open '" + path + "': " + std::strerror(errno));
  // A regular file is read into one buffer of its size: a stream copy grows and copies its
  // buffer (20 s for a 550 MB model on a virtual machine where page faults are dear).
  std::string bytes;
  std::error_code ec;
  if (std::filesystem::is_regular_file(path, ec)) {
    const auto size = std::filesystem::file_size(path, ec);
    if (!ec) bytes.resize(static_cast<std::size_t>(size));
    in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    bytes.resize(static_cast<std::size_t>(in.gcount()));  // a file that shrank meanwhile
    if (in.bad()) throw IoError("error while reading '" + path + "'");
    in.clear();
  }
  std::ostringstream rest;  // what else there is: a pipe's bytes, or a file that grew meanwhile
  rest << in.rdbuf();
  if (in.bad()) throw IoError("error while reading '" + path + "'");
  bytes += rest.str();
  return bytes;
}

std::string read_file_bytes(const std::string& path, std::size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError("cannot open '" + path + "': " + std::strerror(errno));
  std::string bytes(std::min(max_bytes, file_size(path)), '\0');  // never more than the file holds
  in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (in.bad()) throw IoError("error while reading '" + path + "'");
  bytes.resize(static_cast<std::size_t>(in.gcount()));
  return bytes;
}

std::size_t file_size(const std::string& path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) throw IoError("cannot read the size of '" + path + "': " + ec.message());
  return static_cast<std::size_t>(size);
}

std::string lower_extension(const std::string& path) {
  const std::size_t dot = path.find_last_of('.'), slash = path.find_last_of('/');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) return "";
  std::string e = path.substr(dot + 1);
  std::transform(e.begin(), e.end(), e.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return e;
}

}  // namespace lrp::io
