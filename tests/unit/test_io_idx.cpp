// IDX files (MNIST / Fashion-MNIST), plain and gzip-compressed.
#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <filesystem>

#include "lrp/io/arrays.hpp"
#include "lrp/io/atomic_file.hpp"
#include "unit/test_io_util.hpp"

using lrp::FormatError;
using lrp::Shape;
using lrp::Tensor;
using lrp::test::expect_error;
using lrp::test::io_fixture;
using lrp::test::TempDir;
using lrp::test::write_bytes;

namespace {
const std::vector<double> kIdx = {0, 1, 2, 100, 127, 5};  // idx_values of make_fixtures.py
std::vector<double> scaled(double s) {
  std::vector<double> v = kIdx;
  for (double& x : v) x *= s;
  return v;
}

std::string gzip_bytes(const std::string& data) {
  z_stream zs{};
  deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);  // +16: gzip wrapper
  std::string out(deflateBound(&zs, data.size()) + 32, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

const std::string kFashion = "/usr/share/datasets/fashion-mnist/";
}  // namespace

TEST(IoIdx, ReadsEveryElementType) {
  const std::vector<std::pair<std::string, std::vector<double>>> cases = {
      {"u1", kIdx}, {"i1", scaled(-1)}, {"i2", scaled(-1)}, {"i4", scaled(-1)}, {"f4", scaled(0.5)}, {"f8", scaled(0.5)}};
  for (const auto& [code, expected] : cases) {
    const Tensor<double> t = lrp::io::read_idx(io_fixture("idx_" + code + ".idx"));
    EXPECT_EQ(t.shape(), (Shape{2, 3})) << code;
    EXPECT_EQ(t.vec(), expected) << code;
  }
}

TEST(IoIdx, ReadsGzipAndUbyteNames) {
  const Tensor<double> t = lrp::io::read_idx(io_fixture("idx_u1.idx.gz"));
  EXPECT_EQ(t.shape(), (Shape{2, 3}));
  EXPECT_EQ(t.vec(), kIdx);
  const Tensor<double> labels = lrp::io::read_idx(io_fixture("labels-idx1-ubyte"));
  EXPECT_EQ(labels.shape(), Shape{4});
  EXPECT_EQ(labels.vec(), (std::vector<double>{7, 2, 1, 0}));
}

TEST(IoIdx, ReadsFashionMnistLabels) {
  const std::string path = kFashion + "t10k-labels-idx1-ubyte.gz";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "dataset-fashion-mnist not installed: " << path;
  const Tensor<double> labels = lrp::io::read_idx(path);
  ASSERT_EQ(labels.shape(), Shape{10000});
  EXPECT_EQ(std::vector<double>(labels.begin(), labels.begin() + 12), (std::vector<double>{9, 2, 1, 1, 6, 1, 4, 6, 5, 7, 4, 5}));
  for (double c = 0; c < 10; ++c) EXPECT_EQ(std::count(labels.begin(), labels.end(), c), 1000) << "class " << c;
}

TEST(IoIdx, ReadsFashionMnistImages) {
  const std::string path = kFashion + "t10k-images-idx3-ubyte.gz";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "dataset-fashion-mnist not installed: " << path;
  const Tensor<double> images = lrp::io::read_idx(path);
  ASSERT_EQ(images.shape(), (Shape{10000, 28, 28}));
  EXPECT_EQ(*std::max_element(images.begin(), images.end()), 255.0);
  double sum = 0, first = 0;
  for (std::size_t i = 0; i < images.size(); ++i) {
    sum += images[i];
    if (i < 784) first += images[i];
  }
  EXPECT_EQ(sum, 573469082.0);  // numbers from numpy
  EXPECT_EQ(first, 33456.0);
  const std::vector<double> row14 = {0,   0,   0,   0,   0,   0,   2,   4,   1,   0,   0,   0,   98,  136,
                                     110, 109, 110, 162, 135, 144, 149, 159, 167, 144, 158, 169, 119, 0};
  EXPECT_EQ(std::vector<double>(images.begin() + 14 * 28, images.begin() + 15 * 28), row14);
}

TEST(IoIdx, EveryTruncatedPrefixIsFormatError) {
  TempDir tmp;
  const std::string plain = lrp::io::read_file_bytes(io_fixture("idx_i2.idx"));
  // A gzip of a larger file, so that prefixes cut the deflate stream and the trailer.
  std::string big = plain.substr(0, 4) + std::string("\0\0\0\x02\0\0\x01\0", 8);
  for (int i = 0; i < 1024; ++i) big += static_cast<char>(i * 7);  // 512 int16 values
  const std::string gz = gzip_bytes(big);
  ASSERT_EQ(lrp::io::read_idx([&] { write_bytes(tmp.file("ok.gz"), gz); return tmp.file("ok.gz"); }()).shape(), (Shape{2, 256}));
  for (const auto& [name, bytes] : {std::pair<std::string, std::string>{"plain.idx", plain}, {"big.idx.gz", gz}}) {
    const std::string path = tmp.file(name);
    for (std::size_t n = 0; n < bytes.size(); ++n) {
      write_bytes(path, bytes.substr(0, n));
      expect_error<FormatError>([&] { lrp::io::read_idx(path); }, {path}, name + " prefix " + std::to_string(n));
    }
  }
}

TEST(IoIdx, MalformedFilesAreFormatErrors) {
  TempDir tmp;
  const std::string u8 = lrp::io::read_file_bytes(io_fixture("idx_u1.idx"));
  std::string corrupt_gz = lrp::io::read_file_bytes(io_fixture("idx_u1.idx.gz"));
  corrupt_gz[corrupt_gz.size() - 6] ^= 0x55;  // inside the CRC32 trailer
  const std::vector<std::tuple<std::string, std::string, std::string>> cases = {
      {"magic", std::string("\x01\x00\x08\x01\0\0\0\x01x", 9), "magic"},
      {"type", std::string("\x00\x00\x0A\x01\0\0\0\x01x", 9), "0x0A"},
      {"no dims", std::string("\x00\x00\x08\x00", 4), "zero dimensions"},
      {"absurd dims", std::string("\x00\x00\x0E\x03\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 16) + "abc", "dims"},
      {"dims vs data", std::string("\x00\x00\x0C\x01\x00\x00\x10\x00", 8) + "abcd", "need 16384 bytes"},
      {"trailing", u8 + "x", "unexpected bytes"},
      {"trailing gz", gzip_bytes(u8 + "xy"), "unexpected bytes"},
      {"corrupt gz", corrupt_gz, "gzip"},
  };
  for (const auto& [name, bytes, needle] : cases) {
    const std::string path = tmp.file("bad.idx");
    write_bytes(path, bytes);
    expect_error<FormatError>([&] { lrp::io::read_idx(path); }, {path, needle}, name);
  }
  expect_error<lrp::IoError>([] { lrp::io::read_idx("/nonexistent/lrp/a.idx"); }, {"/nonexistent/lrp/a.idx"});
}
