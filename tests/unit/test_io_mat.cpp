// MATLAB .mat reading through libmatio: the toolbox's MNIST files and hand-made v5 fixtures.
#include <gtest/gtest.h>

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
const std::vector<double> k23 = {1, 2, 3, 4, 5, 6};  // m23 of make_fixtures.py, C order
std::vector<double> scaled(double s) {
  std::vector<double> v = k23;
  for (double& x : v) x *= s;
  return v;
}
}  // namespace

TEST(IoMat, ReadsToolboxMnistImages) {
  const std::string mnist = lrp::test::shared_path("data/lrp_toolbox/data/MNIST/");
  if (!std::filesystem::exists(mnist + "test_images.mat")) GTEST_SKIP() << "shared MNIST absent: " << mnist;
  const Tensor<double> images = lrp::io::read_mat(mnist + "test_images.mat");
  ASSERT_EQ(images.shape(), (Shape{10000, 784}));
  EXPECT_EQ(*std::min_element(images.begin(), images.end()), 0.0);
  EXPECT_EQ(*std::max_element(images.begin(), images.end()), 255.0);
  // Row i is digit i in row-major 28x28 order, as in the scipy-made uint8 slice.
  const Tensor<double> first100 = lrp::io::read_npy(mnist + "derived/test_images_first100_uint8.npy");
  ASSERT_EQ(first100.shape(), (Shape{100, 784}));
  EXPECT_TRUE(std::equal(first100.begin(), first100.end(), images.begin()));
}

TEST(IoMat, ReadsToolboxMnistLabels) {
  const std::string mnist = lrp::test::shared_path("data/lrp_toolbox/data/MNIST/");
  if (!std::filesystem::exists(mnist + "test_labels.mat")) GTEST_SKIP() << "shared MNIST absent: " << mnist;
  const Tensor<double> labels = lrp::io::read_mat(mnist + "test_labels.mat");
  ASSERT_EQ(labels.shape(), (Shape{10000, 1}));
  const Tensor<double> npy = lrp::io::read_npy(mnist + "test_labels.npy");
  EXPECT_EQ(labels.vec(), npy.vec());
  EXPECT_EQ(std::vector<double>(labels.begin(), labels.begin() + 10), (std::vector<double>{7, 2, 1, 0, 4, 1, 4, 9, 5, 9}));
}

TEST(IoMat, DefaultVariableFollowsTheToolbox) {
  // "data" wins even when it is not first ...
  const Tensor<double> d = lrp::io::read_mat(io_fixture("mat_data_second.mat"));
  EXPECT_EQ(d.shape(), (Shape{2, 3}));
  EXPECT_EQ(d.vec(), scaled(1.5));
  // ... otherwise the first real numeric variable (the char array before it is skipped).
  const Tensor<double> x = lrp::io::read_mat(io_fixture("mat_first_numeric.mat"));
  EXPECT_EQ(x.shape(), (Shape{2, 3}));
  EXPECT_EQ(x.vec(), scaled(-1));
  // Explicit names.
  EXPECT_EQ(lrp::io::read_mat(io_fixture("mat_data_second.mat"), "labels").vec(), (std::vector<double>{7, 2, 1}));
  EXPECT_EQ(lrp::io::read_mat(io_fixture("mat_first_numeric.mat"), "y").vec(), scaled(0.5));
}

TEST(IoMat, ReadsCompressedThreeDimensional) {
  const Tensor<double> t = lrp::io::read_mat(io_fixture("mat_compressed_3d.mat"));
  ASSERT_EQ(t.shape(), (Shape{2, 3, 4}));
  for (std::size_t i = 0; i < 2; ++i)
    for (std::size_t j = 0; j < 3; ++j)
      for (std::size_t k = 0; k < 4; ++k) EXPECT_EQ(t[(i * 3 + j) * 4 + k], 100.0 * i + 10.0 * j + k);
}

TEST(IoMat, ReadsEveryNumericClass) {
  for (const std::string cls : {"double", "single", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64"}) {
    const Tensor<double> t = lrp::io::read_mat(io_fixture("mat_classes.mat"), "v_" + cls);
    EXPECT_EQ(t.shape(), (Shape{2, 3})) << cls;
    const std::vector<double> expected = cls.rfind("int", 0) == 0 ? scaled(-1) : cls[0] == 'u' ? k23 : scaled(0.25);
    EXPECT_EQ(t.vec(), expected) << cls;
  }
}

TEST(IoMat, RejectsWhatIsNotARealArray) {
  const std::string complex = io_fixture("mat_complex.mat");
  expect_error<FormatError>([&] { lrp::io::read_mat(complex); }, {complex, "no real numeric variable", "z"});
  expect_error<FormatError>([&] { lrp::io::read_mat(complex, "z"); }, {complex, "'z'", "complex"});
  const std::string chars = io_fixture("mat_char_only.mat");
  expect_error<FormatError>([&] { lrp::io::read_mat(chars); }, {chars, "title"});
  expect_error<FormatError>([&] { lrp::io::read_mat(chars, "title"); }, {chars, "not a numeric array"});
  const std::string two = io_fixture("mat_data_second.mat");
  expect_error<FormatError>([&] { lrp::io::read_mat(two, "nope"); }, {two, "'nope'", "labels, data"});
}

TEST(IoMat, BadFilesAreCleanErrors) {
  expect_error<lrp::IoError>([] { lrp::io::read_mat("/nonexistent/lrp/a.mat"); }, {"/nonexistent/lrp/a.mat"});
  TempDir tmp;
  const std::string text = tmp.file("text.mat");
  write_bytes(text, std::string(300, 'x'));
  expect_error<FormatError>([&] { lrp::io::read_mat(text); }, {text});
  // Every truncation of a one-variable file fails cleanly (matio must not crash or allocate wildly).
  for (const char* name : {"mat_compressed_3d.mat", "mat_classes.mat"}) {
    const std::string bytes = lrp::io::read_file_bytes(io_fixture(name));
    const std::string path = tmp.file("prefix.mat");
    // The fixture pads its last (compressed) element to 8 bytes; dropping only that padding
    // leaves a complete file, as MATLAB writes them.
    std::size_t end = bytes.size();
    if (std::string(name) == "mat_compressed_3d.mat")
      end = 136 + (static_cast<unsigned char>(bytes[132]) | static_cast<unsigned char>(bytes[133]) << 8);
    for (std::size_t n = 0; n < end; ++n) {
      write_bytes(path, bytes.substr(0, n));
      try {
        const Tensor<double> t = lrp::io::read_mat(path, std::string(name) == "mat_classes.mat" ? "v_uint64" : "");
        ADD_FAILURE() << name << " prefix " << n << " was accepted as " << lrp::shape_str(t.shape());
      } catch (const FormatError& e) {
        EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
      }
    }
  }
}

TEST(IoMat, AbsurdDimensionsAreRejectedBeforeReading) {
  // Patch the dims of the uncompressed 2x3 'data' in mat_data_second.mat to 2^31-1 x 2^31-1.
  std::string bytes = lrp::io::read_file_bytes(io_fixture("mat_data_second.mat"));
  const std::string name = std::string("data", 4);
  const std::size_t at = bytes.rfind(name);
  ASSERT_NE(at, std::string::npos);
  const std::size_t dims = at - 8 - 8;  // dims payload (8 bytes) sits before the name's tag
  ASSERT_EQ(bytes[dims], '\x02');
  for (std::size_t k = 0; k < 2; ++k) {
    bytes[dims + 4 * k] = '\xff';
    bytes[dims + 4 * k + 1] = '\xff';
    bytes[dims + 4 * k + 2] = '\xff';
    bytes[dims + 4 * k + 3] = '\x7f';
  }
  TempDir tmp;
  write_bytes(tmp.file("huge.mat"), bytes);
  expect_error<FormatError>([&] { lrp::io::read_mat(tmp.file("huge.mat")); }, {"huge.mat", "dims"});
}
