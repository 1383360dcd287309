// Whitespace text arrays (numpy.loadtxt / numpy.savetxt conventions).
#include <gtest/gtest.h>

#include <cmath>

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
const std::vector<double> kFloats = {0.0, 1.5, -2.25, 1024.0, 0.1, -3e38};  // make_fixtures.py

Tensor<double> read_text(TempDir& tmp, const std::string& text) {
  write_bytes(tmp.file("a.txt"), text);
  return lrp::io::read_txt_array(tmp.file("a.txt"));
}
}  // namespace

TEST(IoTxt, ReadsSavetxtOutput) {
  const Tensor<double> t = lrp::io::read_txt_array(io_fixture("savetxt.txt"));
  EXPECT_EQ(t.shape(), (Shape{2, 3}));
  EXPECT_EQ(t.vec(), kFloats);  // %.18e round-trips doubles exactly
}

TEST(IoTxt, WritesWhatSavetxtWrites) {
  TempDir tmp;
  lrp::io::write_txt_array(tmp.file("w.txt"), Tensor<double>({2, 3}, kFloats));
  EXPECT_EQ(lrp::io::read_file_bytes(tmp.file("w.txt")), lrp::io::read_file_bytes(io_fixture("savetxt.txt")));
}

TEST(IoTxt, IsAlwaysTwoDimensional) {
  TempDir tmp;
  EXPECT_EQ(read_text(tmp, "1 2 3\n").shape(), (Shape{1, 3}));
  EXPECT_EQ(read_text(tmp, "1\n2\n3").shape(), (Shape{3, 1}));  // no final newline
  EXPECT_EQ(read_text(tmp, "42").shape(), (Shape{1, 1}));
}

TEST(IoTxt, SkipsCommentsBlankLinesAndOddWhitespace) {
  TempDir tmp;
  const Tensor<double> t = read_text(tmp, "# written by hand\n\n  1 2\t3\r\n   \n4  5 6 # trailing comment\r\n# end\n");
  EXPECT_EQ(t.shape(), (Shape{2, 3}));
  EXPECT_EQ(t.vec(), (std::vector<double>{1, 2, 3, 4, 5, 6}));
}

TEST(IoTxt, ReadsNumberSpellings) {
  TempDir tmp;
  // MATLAB's save -ascii style, a leading '+', and the special values savetxt writes.
  const Tensor<double> t = read_text(tmp, "   1.0000000e+00  -2.5000000e-01 +3 .5 nan inf -inf 1E3\n");
  ASSERT_EQ(t.shape(), (Shape{1, 8}));
  EXPECT_EQ(t[0], 1.0);
  EXPECT_EQ(t[1], -0.25);
  EXPECT_EQ(t[2], 3.0);
  EXPECT_EQ(t[3], 0.5);
  EXPECT_TRUE(std::isnan(t[4]));
  EXPECT_EQ(t[5], INFINITY);
  EXPECT_EQ(t[6], -INFINITY);
  EXPECT_EQ(t[7], 1000.0);
}

TEST(IoTxt, BadContentNamesTheLine) {
  TempDir tmp;
  const std::string path = tmp.file("a.txt");
  const std::vector<std::tuple<std::string, std::vector<std::string>>> cases = {
      {"1 2 3\n4 5 6\n7 8\n", {"line 3", "2 values", "line 1 has 3"}},
      {"# c\n\n1 2\n3 4 5\n", {"line 4", "3 values", "line 3 has 2"}},
      {"1 2\n3 x\n", {"line 2", "'x'"}},
      {"1,2\n", {"line 1", "'1,2'"}},
      {"1 2 ++3\n", {"line 1", "'++3'"}},
      {"1e999\n", {"line 1", "'1e999'"}},
      {"", {"no numbers"}},
      {"# only a comment\n\n", {"no numbers"}},
  };
  for (const auto& [text, needles] : cases) {
    write_bytes(path, text);
    std::vector<std::string> all = needles;
    all.push_back(path);
    expect_error<FormatError>([&] { lrp::io::read_txt_array(path); }, all, text);
  }
  expect_error<lrp::IoError>([] { lrp::io::read_txt_array("/nonexistent/lrp/a.txt"); }, {"/nonexistent/lrp/a.txt"});
}

TEST(IoTxt, WritesOtherRanksLikeSavetxt) {
  TempDir tmp;
  Tensor<double> t({2, 2, 3});
  for (std::size_t i = 0; i < t.size(); ++i) t[i] = 0.5 * static_cast<double>(i) - 3;
  lrp::io::write_txt_array(tmp.file("r3.txt"), t);
  const Tensor<double> r = lrp::io::read_txt_array(tmp.file("r3.txt"));
  EXPECT_EQ(r.shape(), (Shape{2, 6}));  // [N, rest]
  EXPECT_EQ(r.vec(), t.vec());
  lrp::io::write_txt_array(tmp.file("r1.txt"), Tensor<double>({3}, std::vector<double>{1, 2, 3}));
  EXPECT_EQ(lrp::io::read_txt_array(tmp.file("r1.txt")).shape(), (Shape{3, 1}));  // a column
  lrp::io::write_txt_array(tmp.file("r0.txt"), Tensor<double>(Shape{}, std::vector<double>{7}));
  EXPECT_EQ(lrp::io::read_file_bytes(tmp.file("r0.txt")), "7.000000000000000000e+00\n");
  EXPECT_THROW(lrp::io::write_txt_array(tmp.file("bad.txt"), Tensor<double>()), lrp::ShapeError);
}
