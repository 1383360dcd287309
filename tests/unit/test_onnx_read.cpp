// The ONNX reader that leaves initializers' raw bytes in the file (src/io/onnx_read.cpp):
// with those bytes put back, its message equals protobuf's own parse of the file, field for
// field; files it cannot walk are parsed by protobuf whole.
#include <gtest/gtest.h>

#include <filesystem>

#include "io/onnx_detail.hpp"
#include "lrp/io/onnx.hpp"
#include "support/onnx_test_util.hpp"

namespace lrp::test {
namespace {

using io::onnx_detail::LeanModel;

// The lean message with every raw slice read back into its initializer, serialized.
std::string restored(LeanModel m, std::size_t* left_in_source = nullptr) {
  std::size_t count = 0;
  for (std::size_t k = 0; k < m.raw.size(); ++k) {
    const io::onnx_detail::RawSlice& s = m.raw[k];
    if (!s.source) continue;
    onnx::TensorProto& t = *m.proto.mutable_graph()->mutable_initializer(static_cast<int>(k));
    EXPECT_FALSE(t.has_raw_data()) << t.name();
    std::string bytes(s.bytes, '\0');
    s.source->read(s.offset, bytes.data(), bytes.size());
    t.set_raw_data(bytes);
    count += s.bytes > 0;
  }
  if (left_in_source) *left_in_source = count;
  return m.proto.SerializeAsString();
}

std::string protobuf_parse(const std::string& bytes) {
  onnx::ModelProto mp;
  EXPECT_TRUE(mp.ParseFromString(bytes));
  return mp.SerializeAsString();
}

std::vector<std::string> model_files() {
  std::vector<std::string> files;
  for (const char* m : {"densenet", "misc", "mobilenet", "resnet", "vgg_bn"})
    files.push_back(source_path("tests/fixtures/zennit_modern/" + std::string(m) + "/model.onnx"));
  for (const char* m : {"mlp", "mnist_cnn"}) files.push_back(shared_path("reference/zennit/" + std::string(m) + "/model.onnx"));
  return files;
}

TEST(OnnxRead, LeanMessageWithItsBytesPutBackEqualsProtobufsParse) {
  for (const std::string& path : model_files()) {
    if (!std::filesystem::exists(path)) continue;
    const std::string bytes = read_file(path);
    const std::string want = protobuf_parse(bytes);
    std::size_t in_file = 0, in_buffer = 0;
    EXPECT_EQ(restored(io::onnx_detail::read_lean_model(path), &in_file), want) << path;
    EXPECT_EQ(restored(io::onnx_detail::parse_lean_model(bytes, path), &in_buffer), want) << path;
    EXPECT_GT(in_file, 0u) << path << ": no initializer's bytes were left in the file";
    EXPECT_EQ(in_file, in_buffer) << path;
  }
}

// Truncated model files (the bytes read from the file, not from memory) are format errors,
// whichever importer reads them; the whole file loads.
TEST(OnnxRead, TruncatedFilesAreFormatErrors) {
  const std::string bytes = small_onnx_model().bytes();
  ScratchDir dir;
  const std::string path = dir.file("m.onnx");
  for (std::size_t n = 0; n < bytes.size(); n += 7) {
    write_file(path, bytes.substr(0, n));
    EXPECT_THROW(io::read_onnx_model(path), FormatError) << "prefix " << n;
    EXPECT_THROW(io::read_onnx_model_float(path), FormatError) << "prefix " << n;
  }
  write_file(path, bytes);
  EXPECT_EQ(io::read_onnx_model_float(path).param_count(), io::parse_onnx_model(bytes, "m.onnx").param_count());
}

// Protobuf merges a message field that occurs twice (here the graph, split in two); so does
// the walk, keeping the initializers of both parts in order, and it keeps unknown fixed32 and
// fixed64 fields as protobuf does.
TEST(OnnxRead, GraphSplitAcrossTwoFieldsMerges) {
  const onnx::ModelProto whole = small_onnx_model().proto();
  onnx::ModelProto head = whole, first = whole, second = whole;
  head.clear_graph();
  first.mutable_graph()->clear_node();
  first.mutable_graph()->mutable_initializer()->DeleteSubrange(1, whole.graph().initializer_size() - 1);
  second.mutable_graph()->clear_input();
  second.mutable_graph()->clear_output();
  second.mutable_graph()->mutable_initializer()->DeleteSubrange(0, 1);
  ASSERT_GT(whole.graph().initializer_size(), 1);
  const auto graph_field = [](const onnx::GraphProto& g, const std::string& extra = "") {  // field 7, length-delimited
    std::string body = g.SerializeAsString() + extra, out = "\x3a";
    for (std::size_t n = body.size(); ; n >>= 7) {
      out.push_back(static_cast<char>((n & 0x7f) | (n >= 0x80 ? 0x80 : 0)));
      if (n < 0x80) break;
    }
    return out + body;
  };
  const std::string fixed = std::string("\xa5\x06" "abcd", 6) + std::string("\xa9\x06" "01234567", 10);  // fields 100 (fixed32), 101 (fixed64)
  const std::string bytes = head.SerializeAsString() + graph_field(first.graph()) + graph_field(second.graph(), fixed);
  std::size_t in_buffer = 0;
  EXPECT_EQ(restored(io::onnx_detail::parse_lean_model(bytes, "split.onnx"), &in_buffer), protobuf_parse(bytes));
  EXPECT_GT(in_buffer, 0u);
}

// A part that claims more bytes than its enclosing message holds makes the file invalid for
// protobuf, and so for the reader.
TEST(OnnxRead, PartLongerThanItsMessageIsInvalid) {
  onnx::ModelProto head = small_onnx_model().proto();
  head.clear_graph();
  const std::string tensor = "\x42\x01w";                               // TensorProto{name: "w"}
  const std::string graph = std::string("\x2a\x40", 2) + tensor;        // initializer claiming 64 bytes, holding 3
  const std::string bytes = head.SerializeAsString() + "\x3a" + static_cast<char>(graph.size()) + graph +
                            "\x1a\x50" + std::string(80, 'v');  // producer_version: bytes after the graph
  try {
    io::parse_onnx_model(bytes, "long.onnx");
    ADD_FAILURE() << "no error";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("protobuf parse failed"), std::string::npos) << e.what();
  }
}

// An unknown group field (a wire type ONNX never uses) stops the walk; protobuf then parses the
// whole file, keeping the raw bytes in the message, and the model loads as before.
TEST(OnnxRead, UnwalkableFileIsParsedByProtobufWhole) {
  const onnx::ModelProto mp = small_onnx_model().proto();
  std::string bytes = mp.SerializeAsString();
  bytes += std::string{static_cast<char>(0x9b), 0x06, static_cast<char>(0x9c), 0x06};  // field 99: start group, end group
  const LeanModel lean = io::onnx_detail::parse_lean_model(bytes, "group.onnx");
  for (const io::onnx_detail::RawSlice& s : lean.raw) EXPECT_EQ(s.source, nullptr);
  EXPECT_EQ(restored(lean), protobuf_parse(bytes));
  const Model<double> a = io::parse_onnx_model(bytes, "group.onnx"), b = io::parse_onnx_model(mp.SerializeAsString(), "plain.onnx");
  ASSERT_EQ(a.nodes().size(), b.nodes().size());
  EXPECT_EQ(a.param_count(), b.param_count());
}

}  // namespace
}  // namespace lrp::test
