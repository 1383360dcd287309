// .npy reading and writing, against files written by numpy (tests/fixtures/io/make_fixtures.py).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
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

// Same values as FLOAT_VALUES / INT_VALUES in make_fixtures.py.
const std::vector<double> kFloats = {0.0, 1.5, -2.25, 1024.0, 0.1, -3e38};
std::vector<double> as_f32(const std::vector<double>& v) {
  std::vector<double> out;
  for (double x : v) out.push_back(static_cast<double>(static_cast<float>(x)));
  return out;
}

// A version 1.0 .npy image with the given header dict (padded like numpy) and data bytes.
std::string npy_image(const std::string& dict, const std::string& data) {
  std::string header = dict;
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string out("\x93NUMPY\x01\x00", 8);
  out += static_cast<char>(header.size() & 0xFF);
  out += static_cast<char>(header.size() >> 8);
  return out + header + data;
}

}  // namespace

TEST(IoNpy, ReadsEveryDtype) {
  const double p53 = 9007199254740992.0;  // 2^53
  const std::vector<std::pair<std::string, std::vector<double>>> cases = {
      {"f8", kFloats},
      {"f4", as_f32(kFloats)},
      {"i1", {0, 1, -1, -128, 127, 42}},
      {"i2", {0, 1, -1, -32768, 32767, 42}},
      {"i4", {0, 1, -1, -2147483648.0, 2147483647.0, 42}},
      {"i8", {0, 1, -1, -p53, p53, 42}},
      {"u1", {0, 1, 2, 128, 255, 42}},
      {"u2", {0, 1, 2, 32768, 65535, 42}},
      {"u4", {0, 1, 2, 2147483648.0, 4294967295.0, 42}},
      {"u8", {0, 1, 2, p53, 9223372036854775808.0, 42}},
      {"b1", {1, 0, 1, 1, 0, 0}},
  };
  for (const auto& [code, expected] : cases) {
    const Tensor<double> t = lrp::io::read_npy(io_fixture("dtype_" + code + ".npy"));
    EXPECT_EQ(t.shape(), (Shape{2, 3})) << code;
    EXPECT_EQ(t.vec(), expected) << code;
    const Tensor<float> f = lrp::io::read_npy_f32(io_fixture("dtype_" + code + ".npy"));
    EXPECT_EQ(f.shape(), (Shape{2, 3})) << code;
    for (std::size_t i = 0; i < 6; ++i) EXPECT_EQ(f[i], static_cast<float>(expected[i])) << code << " " << i;
  }
}

TEST(IoNpy, ReadsBigEndian) {
  EXPECT_EQ(lrp::io::read_npy(io_fixture("big_f8.npy")).vec(), kFloats);
  EXPECT_EQ(lrp::io::read_npy(io_fixture("big_f4.npy")).vec(), as_f32(kFloats));
  EXPECT_EQ(lrp::io::read_npy(io_fixture("big_i4.npy")).vec(), (std::vector<double>{0, 1, -1, -2147483648.0, 2147483647.0, 42}));
  EXPECT_EQ(lrp::io::read_npy(io_fixture("big_u2.npy")).vec(), (std::vector<double>{0, 1, 2, 32768, 65535, 42}));
}

TEST(IoNpy, TransposesFortranOrder) {
  const Tensor<double> t = lrp::io::read_npy(io_fixture("fortran_f8.npy"));
  ASSERT_EQ(t.shape(), (Shape{2, 3, 4}));
  for (std::size_t i = 0; i < 2; ++i)
    for (std::size_t j = 0; j < 3; ++j)
      for (std::size_t k = 0; k < 4; ++k) EXPECT_EQ(t[(i * 3 + j) * 4 + k], 100.0 * i + 10.0 * j + k);
  const Tensor<float> f = lrp::io::read_npy_f32(io_fixture("fortran_i2.npy"));
  ASSERT_EQ(f.shape(), (Shape{2, 3}));
  EXPECT_EQ(f.vec(), (std::vector<float>{0, 10, 20, 100, 110, 120}));
}

TEST(IoNpy, ReadsVersions2And3AndOddShapes) {
  for (const char* name : {"version2.npy", "version3.npy"}) {
    const Tensor<double> t = lrp::io::read_npy(io_fixture(name));
    EXPECT_EQ(t.shape(), (Shape{2, 3})) << name;
    EXPECT_EQ(t.vec(), (std::vector<double>{0, 1, 2, 3, 4, 5})) << name;
  }
  const Tensor<double> s = lrp::io::read_npy(io_fixture("scalar.npy"));
  EXPECT_EQ(s.shape(), Shape{});
  EXPECT_EQ(s.vec(), std::vector<double>{3.5});
  const Tensor<double> v = lrp::io::read_npy(io_fixture("vector.npy"));
  EXPECT_EQ(v.shape(), Shape{5});
  EXPECT_EQ(v.vec(), (std::vector<double>{0, 1, 2, 3, 4}));
  const Tensor<double> e = lrp::io::read_npy(io_fixture("empty.npy"));
  EXPECT_EQ(e.shape(), (Shape{0, 3}));
  EXPECT_TRUE(e.empty());
}

TEST(IoNpy, RejectsNonNumericDtypesNamingThem) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"object.npy", "'|O'"}, {"unicode.npy", "'<U3'"}, {"bytes.npy", "'|S2'"},
      {"record.npy", "structured"}, {"complex.npy", "'<c16'"}, {"half.npy", "'<f2'"}};
  for (const auto& [file, dtype] : cases)
    expect_error<FormatError>([&] { lrp::io::read_npy(io_fixture(file)); }, {file, "descr", dtype}, file);
}

TEST(IoNpy, ReadsSharedToolboxReference) {
  const std::string input = lrp::test::shared_path("reference/lrp_toolbox/LeNet-5/input.npy");
  if (!std::filesystem::exists(input)) GTEST_SKIP() << "shared reference absent: " << input;
  const Tensor<double> x = lrp::io::read_npy(input);
  ASSERT_EQ(x.shape(), (Shape{16, 32, 32, 1}));
  EXPECT_EQ(x[0], -1.0);                            // padding
  EXPECT_EQ(x[10 * 32 + 10], 0.9921568627450981);  // sample 0, pixel (10, 10)
  double sum = 0;
  for (double v : x) sum += v;
  EXPECT_NEAR(sum, -13408.203921568627, 1e-9);
  const Tensor<double> labels = lrp::io::read_npy(lrp::test::shared_path("reference/lrp_toolbox/LeNet-5/labels.npy"));
  EXPECT_EQ(labels.shape(), Shape{16});
  EXPECT_EQ(labels.vec(), (std::vector<double>{7, 2, 1, 0, 4, 1, 4, 9, 5, 9, 0, 6, 9, 0, 1, 5}));
}

TEST(IoNpy, WritesWhatNumpyWrites) {
  TempDir tmp;
  // Byte-identical to np.save of the same arrays.
  lrp::io::write_npy(tmp.file("f8.npy"), Tensor<double>({2, 3}, kFloats));
  EXPECT_EQ(lrp::io::read_file_bytes(tmp.file("f8.npy")), lrp::io::read_file_bytes(io_fixture("dtype_f8.npy")));
  std::vector<float> f32;
  for (double v : kFloats) f32.push_back(static_cast<float>(v));
  lrp::io::write_npy(tmp.file("f4.npy"), Tensor<float>({2, 3}, f32));
  EXPECT_EQ(lrp::io::read_file_bytes(tmp.file("f4.npy")), lrp::io::read_file_bytes(io_fixture("dtype_f4.npy")));
  lrp::io::write_npy_i64(tmp.file("i8.npy"), {0, 1, -1, -(std::int64_t(1) << 53), std::int64_t(1) << 53, 42}, {2, 3});
  EXPECT_EQ(lrp::io::read_file_bytes(tmp.file("i8.npy")), lrp::io::read_file_bytes(io_fixture("dtype_i8.npy")));
  lrp::io::write_npy_i64(tmp.file("v.npy"), {0, 1, 2, 3, 4}, {5});
  EXPECT_EQ(lrp::io::read_file_bytes(tmp.file("v.npy")), lrp::io::read_file_bytes(io_fixture("vector.npy")));
}

TEST(IoNpy, RoundTripsFloatAndDouble) {
  TempDir tmp;
  Tensor<float> f({3, 1, 4, 2});
  Tensor<double> d({7});
  for (std::size_t i = 0; i < f.size(); ++i) f[i] = static_cast<float>(std::sin(double(i)) * 1e3);
  for (std::size_t i = 0; i < d.size(); ++i) d[i] = std::exp(double(i)) / 3.0;
  lrp::io::write_npy(tmp.file("f.npy"), f);
  lrp::io::write_npy(tmp.file("d.npy"), d);
  const Tensor<float> f2 = lrp::io::read_npy_f32(tmp.file("f.npy"));
  EXPECT_EQ(f2.shape(), f.shape());
  EXPECT_EQ(f2.vec(), f.vec());
  const Tensor<double> d2 = lrp::io::read_npy(tmp.file("d.npy"));
  EXPECT_EQ(d2.shape(), d.shape());
  EXPECT_EQ(d2.vec(), d.vec());
  // A long shape needs no special handling, and rank 0 works too.
  lrp::io::write_npy(tmp.file("s.npy"), Tensor<double>(Shape{}, std::vector<double>{2.5}));
  EXPECT_EQ(lrp::io::read_npy(tmp.file("s.npy")).vec(), std::vector<double>{2.5});
}

TEST(IoNpy, WriterRejectsBadInput) {
  TempDir tmp;
  EXPECT_THROW(lrp::io::write_npy_i64(tmp.file("x.npy"), {1, 2, 3}, {2, 2}), lrp::ShapeError);
  EXPECT_FALSE(std::filesystem::exists(tmp.file("x.npy")));
  EXPECT_THROW(lrp::io::write_npy(tmp.file("no/such/dir/x.npy"), Tensor<double>({1})), lrp::IoError);
}

TEST(IoNpy, MissingFileIsIoError) {
  expect_error<lrp::IoError>([] { lrp::io::read_npy("/nonexistent/lrp/a.npy"); }, {"/nonexistent/lrp/a.npy"});
}

TEST(IoNpy, EveryTruncatedPrefixIsFormatError) {
  TempDir tmp;
  for (const char* name : {"dtype_f8.npy", "fortran_i2.npy", "version2.npy"}) {
    const std::string bytes = lrp::io::read_file_bytes(io_fixture(name));
    const std::string path = tmp.file("prefix.npy");
    for (std::size_t n = 0; n < bytes.size(); ++n) {
      write_bytes(path, bytes.substr(0, n));
      expect_error<FormatError>([&] { lrp::io::read_npy(path); }, {path}, std::string(name) + " prefix " + std::to_string(n));
      expect_error<FormatError>([&] { lrp::io::read_npy_shape(path); }, {path}, std::string(name) + " shape, prefix " + std::to_string(n));
    }
  }
}

TEST(IoNpy, TrailingBytesAreFormatError) {
  TempDir tmp;
  const std::string path = tmp.file("trailing.npy");
  write_bytes(path, lrp::io::read_file_bytes(io_fixture("dtype_f8.npy")) + "junk");
  expect_error<FormatError>([&] { lrp::io::read_npy(path); }, {path, "data", "4 unexpected bytes"});
  expect_error<FormatError>([&] { lrp::io::read_npy_shape(path); }, {path, "data", "4 unexpected bytes"});
}

TEST(IoNpy, MalformedHeadersAreFormatErrors) {
  TempDir tmp;
  const std::string ok_data(8, '\0');
  const std::vector<std::tuple<std::string, std::string, std::string>> cases = {
      // name, file bytes, expected text in the message
      {"magic", std::string("\x93NUMPX\x01\x00", 8) + std::string(120, ' '), "magic"},
      {"not npy", "hello world, this is text", "magic"},
      {"version", std::string("\x93NUMPY\x04\x00\x10\x00", 10) + std::string(16, ' '), "version 4.0"},
      {"header length", std::string("\x93NUMPY\x01\x00\xff\xff", 10) + "{}", "header length 65535"},
      {"absurd shape", npy_image("{'descr': '<f8', 'fortran_order': False, 'shape': (1099511627776, 1099511627776), }", ok_data), "shape"},
      {"overflowing dim", npy_image("{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999999999999,), }", ok_data), "shape"},
      {"negative dim", npy_image("{'descr': '<f8', 'fortran_order': False, 'shape': (-1,), }", ok_data), "header"},
      {"shape vs data", npy_image("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", ok_data), "needs 16 bytes"},
      {"missing key", npy_image("{'descr': '<f8', 'shape': (1,), }", ok_data), "missing key"},
      {"unknown key", npy_image("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), 'x': 1}", ok_data), "unexpected key 'x'"},
      {"bad bool", npy_image("{'descr': '<f8', 'fortran_order': 0, 'shape': (1,), }", ok_data), "True or False"},
      {"unterminated", npy_image("{'descr': '<f8", ok_data), "unterminated string"},
      {"not a dict", npy_image("[1, 2]", ok_data), "expected '{'"},
      {"text after", npy_image("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), } x", ok_data), "after the dict"},
      {"bad dtype", npy_image("{'descr': '<f3', 'fortran_order': False, 'shape': (1,), }", ok_data), "'<f3'"},
  };
  for (const auto& [name, bytes, needle] : cases) {
    const std::string path = tmp.file("bad.npy");
    write_bytes(path, bytes);
    expect_error<FormatError>([&] { lrp::io::read_npy(path); }, {path, needle}, name);
    expect_error<FormatError>([&] { lrp::io::read_npy_shape(path); }, {path, needle}, name + " (shape only)");
  }
}

// The header-only reader (used to size a model's free input dimensions) agrees with the full one.
TEST(IoNpy, ShapeFromTheHeaderAlone) {
  for (const char* name : {"dtype_f8.npy", "dtype_u1.npy", "fortran_f8.npy", "version2.npy", "version3.npy", "scalar.npy",
                           "vector.npy", "empty.npy"}) {
    EXPECT_EQ(lrp::io::read_npy_shape(io_fixture(name)), lrp::io::read_npy(io_fixture(name)).shape()) << name;
    EXPECT_EQ(lrp::io::read_array_shape(io_fixture(name)), lrp::io::read_npy(io_fixture(name)).shape()) << name;
  }
  EXPECT_EQ(lrp::io::read_npy_shape(io_fixture("fortran_f8.npy")), (Shape{2, 3, 4}));
  expect_error<lrp::IoError>([] { lrp::io::read_npy_shape("/nonexistent/lrp/a.npy"); }, {"/nonexistent/lrp/a.npy"});
  // A version 2.0 header length of 4 GiB in a 12-byte file is refused, not allocated.
  TempDir tmp;
  write_bytes(tmp.file("long.npy"), std::string("\x93NUMPY\x02\x00\xff\xff\xff\xff", 12));
  expect_error<FormatError>([&] { lrp::io::read_npy_shape(tmp.file("long.npy")); }, {"long.npy", "runs past the end"});
}

TEST(IoNpy, AcceptsHandWrittenHeaderVariants) {
  TempDir tmp;
  const std::string path = tmp.file("variant.npy");
  std::string data(16, '\0');
  data[7] = '\x3f';
  data[6] = '\xf0';  // 1.0 little-endian, then 0.0
  // Keys in another order, double quotes, no trailing comma, Python 2 long suffix, native '='.
  write_bytes(path, npy_image("{\"shape\": (2L,), 'fortran_order': False, 'descr': '=f8'}", data));
  EXPECT_EQ(lrp::io::read_npy(path).vec(), (std::vector<double>{1.0, 0.0}));
}
