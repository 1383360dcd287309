// Reading the ModelProto. The FLOAT initializers' raw bytes, nearly all of a model file, are not
// copied into the message: a walk over the wire format records where each lies in the file (or
// in the caller's buffer) and parses the rest with protobuf, so that a layer's weights are read
// from the file straight into the layer (a 528 MB VGG16 is then held once while loading, not
// twice). A file the walk cannot follow is parsed by protobuf as a whole instead.
#include <fcntl.h>
#include <unistd.h>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "io/onnx_detail.hpp"

namespace lrp::io::onnx_detail {
namespace {

using google::protobuf::io::CodedInputStream;

class FileSource final : public RawSource {
 public:
  FileSource(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~FileSource() override { ::close(fd_); }
  FileSource(const FileSource&) = delete;
  FileSource& operator=(const FileSource&) = delete;
  void read(std::uint64_t offset, void* dst, std::size_t n) const override {
    auto* p = static_cast<char*>(dst);
    while (n > 0) {
      const ssize_t got = ::pread(fd_, p, n, static_cast<off_t>(offset));
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) throw IoError("cannot read ONNX model '" + path_ + "': " + (got < 0 ? std::strerror(errno) : "the file got shorter"));
      p += got;
      n -= static_cast<std::size_t>(got);
      offset += static_cast<std::uint64_t>(got);
    }
  }

 private:
  int fd_;
  std::string path_;
};

class BytesSource final : public RawSource {
 public:
  BytesSource(const std::string* view, std::string owned) : owned_(std::move(owned)), bytes_(view ? view : &owned_) {}
  void read(std::uint64_t offset, void* dst, std::size_t n) const override {
    if (offset > bytes_->size() || n > bytes_->size() - offset) throw IoError("ONNX raw data out of range");
    if (n) std::memcpy(dst, bytes_->data() + offset, n);
  }

 private:
  std::string owned_;
  const std::string* bytes_;
};

constexpr int kModelGraph = 7, kGraphInitializer = 5, kTensorRawData = 9;
constexpr std::uint32_t kLengthDelimited = 2;
constexpr std::uint32_t tag_of(int field, std::uint32_t wire_type) { return (static_cast<std::uint32_t>(field) << 3) | wire_type; }

void put_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

// One pass over ModelProto → GraphProto → initializer TensorProto; every other field is copied
// as it is (tag and value) and parsed by protobuf. False when the bytes do not follow the wire
// format (the caller then lets protobuf parse the whole file and report).
class Walker {
 public:
  Walker(CodedInputStream& in, std::uint64_t size, std::shared_ptr<const RawSource> source)
      : in_(in), size_(size), source_(std::move(source)) {}

  bool model(LeanModel& out) {
    std::string rest;
    onnx::GraphProto graph;
    bool has_graph = false;
    for (std::uint32_t tag; (tag = in_.ReadTag()) != 0;) {
      if (tag == tag_of(kModelGraph, kLengthDelimited)) {
        onnx::GraphProto g;
        if (!nested([&] { return this->graph(g, out.raw); })) return false;
        graph.MergeFrom(g);  // a repeated message field merges, as protobuf does
        has_graph = true;
      } else if (!copy_field(tag, rest)) {
        return false;
      }
    }
    if (!in_.ConsumedEntireMessage() || !out.proto.ParseFromString(rest)) return false;
    if (has_graph) out.proto.mutable_graph()->Swap(&graph);
    return true;
  }

 private:
  std::uint64_t remaining() const { return size_ - static_cast<std::uint64_t>(in_.CurrentPosition()); }

  // Reads a length, then `body` within it; the body must end exactly at the length.
  template <class F>
  bool nested(F&& body) {
    std::uint32_t len = 0;
    if (!in_.ReadVarint32(&len) || len > remaining()) return false;
    const int enclosing = in_.BytesUntilLimit();  // -1: none; a part may not outgrow its message
    if (enclosing >= 0 && len > static_cast<std::uint32_t>(enclosing)) return false;
    const CodedInputStream::Limit limit = in_.PushLimit(static_cast<int>(len));
    const bool ok = body() && in_.BytesUntilLimit() == 0 && in_.ConsumedEntireMessage();
    in_.PopLimit(limit);
    return ok;
  }

  bool graph(onnx::GraphProto& g, std::vector<RawSlice>& raw) {
    std::string rest;
    std::vector<onnx::TensorProto> initializers;
    for (std::uint32_t tag; (tag = in_.ReadTag()) != 0;) {
      if (tag == tag_of(kGraphInitializer, kLengthDelimited)) {
        initializers.emplace_back();
        raw.emplace_back();
        if (!nested([&] { return tensor(initializers.back(), raw.back()); })) return false;
      } else if (!copy_field(tag, rest)) {
        return false;
      }
    }
    if (!g.ParseFromString(rest)) return false;
    for (onnx::TensorProto& t : initializers) g.add_initializer()->Swap(&t);
    return true;
  }

  bool tensor(onnx::TensorProto& t, RawSlice& raw) {
    std::string rest;
    for (std::uint32_t tag; (tag = in_.ReadTag()) != 0;) {
      if (tag == tag_of(kTensorRawData, kLengthDelimited)) {
        std::uint32_t len = 0;
        if (!in_.ReadVarint32(&len) || len > remaining()) return false;
        raw = RawSlice{source_, static_cast<std::uint64_t>(in_.CurrentPosition()), len};  // the last one counts, as in protobuf
        if (!in_.Skip(static_cast<int>(len))) return false;
      } else if (!copy_field(tag, rest)) {
        return false;
      }
    }
    return t.ParseFromString(rest);
  }

  bool copy_field(std::uint32_t tag, std::string& out) {
    put_varint(out, tag);
    switch (tag & 7) {
      case 0: {
        std::uint64_t v = 0;
        if (!in_.ReadVarint64(&v)) return false;
        put_varint(out, v);
        return true;
      }
      case 1:    // fixed64
      case 5: {  // fixed32: both copied as they are
        char bytes[8];
        const int n = (tag & 7) == 1 ? 8 : 4;
        if (!in_.ReadRaw(bytes, n)) return false;
        out.append(bytes, static_cast<std::size_t>(n));
        return true;
      }
      case 2: {
        std::uint32_t len = 0;
        if (!in_.ReadVarint32(&len) || len > remaining()) return false;
        put_varint(out, len);
        std::string bytes;
        if (!in_.ReadString(&bytes, static_cast<int>(len))) return false;
        out += bytes;
        return true;
      }
      default:  // groups (unused by ONNX) and invalid wire types
        return false;
    }
  }

  CodedInputStream& in_;
  std::uint64_t size_;
  std::shared_ptr<const RawSource> source_;
};

void check_size(std::uint64_t size, const std::string& source) {
  if (size > static_cast<std::uint64_t>(std::numeric_limits<int>::max()))
    throw FormatError(source + ": larger than 2 GB; ONNX models with external data are not supported");
}

[[noreturn]] void parse_failed(const std::string& source) {
  throw FormatError(source + ": not a valid ONNX model (protobuf parse failed: truncated or corrupt file)");
}

}  // namespace

std::shared_ptr<const RawSource> owned_source(std::string&& bytes) { return std::make_shared<BytesSource>(nullptr, std::move(bytes)); }

LeanModel read_lean_model(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    if (std::filesystem::exists(path, ec)) throw IoError("cannot read ONNX model '" + path + "': not a regular file");
    throw IoError("cannot open ONNX model '" + path + "'");
  }
  const std::uintmax_t size = std::filesystem::file_size(path, ec);
  if (ec) throw IoError("cannot read ONNX model '" + path + "': " + ec.message());
  check_size(size, path);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw IoError("cannot open ONNX model '" + path + "': " + std::strerror(errno));
  auto source = std::make_shared<FileSource>(fd, path);
  LeanModel m;
  {
    google::protobuf::io::FileInputStream file(fd);
    CodedInputStream in(&file);
    if (Walker(in, size, source).model(m)) return m;
  }
  // Not walkable: protobuf parses the whole file and either reads it or says why not.
  m = LeanModel{};
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError("cannot open ONNX model '" + path + "'");
  const bool parsed = m.proto.ParseFromIstream(&in);
  if (in.bad()) throw IoError("cannot read ONNX model '" + path + "'");
  if (!parsed) parse_failed(path);
  return m;
}

LeanModel parse_lean_model(const std::string& bytes, const std::string& source) {
  check_size(bytes.size(), source);
  LeanModel m;
  {
    google::protobuf::io::ArrayInputStream array(bytes.data(), static_cast<int>(bytes.size()));
    CodedInputStream in(&array);
    if (Walker(in, bytes.size(), std::make_shared<BytesSource>(&bytes, std::string())).model(m)) return m;
  }
  m = LeanModel{};
  if (!m.proto.ParseFromString(bytes)) parse_failed(source);
  return m;
}

}  // namespace lrp::io::onnx_detail
