// read_array: the format follows from the file name.
#include <gtest/gtest.h>

#include <filesystem>

#include "lrp/io/arrays.hpp"
#include "lrp/io/atomic_file.hpp"
#include "unit/test_io_util.hpp"

using lrp::Shape;
using lrp::Tensor;
using lrp::test::expect_error;
using lrp::test::io_fixture;
using lrp::test::TempDir;

TEST(IoArrays, DispatchesByExtension) {
  const std::vector<std::pair<std::string, Shape>> cases = {
      {"dtype_f8.npy", {2, 3}},          {"single.npz", {1, 2}},   {"mat_data_second.mat", {2, 3}},
      {"savetxt.txt", {2, 3}},           {"idx_u1.idx", {2, 3}},   {"idx_u1.idx.gz", {2, 3}},
      {"labels-idx1-ubyte", {4}},
  };
  for (const auto& [file, shape] : cases) {
    EXPECT_EQ(lrp::io::read_array(io_fixture(file)).shape(), shape) << file;
    EXPECT_EQ(lrp::io::read_array_shape(io_fixture(file)), shape) << file;
  }
}

TEST(IoArrays, ExtensionsAreCaseInsensitive) {
  TempDir tmp;
  const std::string upper = tmp.file("DATA.NPY");
  std::filesystem::copy_file(io_fixture("dtype_f8.npy"), upper);
  EXPECT_EQ(lrp::io::read_array(upper).shape(), (Shape{2, 3}));
  EXPECT_EQ(lrp::io::read_array_shape(upper), (Shape{2, 3}));
}

TEST(IoArrays, MultiArrayNpzIsAmbiguous) {
  const std::string path = io_fixture("stored.npz");
  expect_error<lrp::FormatError>([&] { lrp::io::read_array(path); }, {path, "3 arrays", "a, b, c"});
}

TEST(IoArrays, UnknownExtensionIsConfigError) {
  for (const std::string path : {"/tmp/x.bin", "/tmp/noextension", "/tmp/x.npy.bak"})
    expect_error<lrp::ConfigError>([&] { lrp::io::read_array(path); }, {"'" + path + "'"}, path);
}

TEST(IoArrays, ContentErrorsPassThrough) {
  // A .txt that holds a .npy is reported by the text reader, naming the file.
  TempDir tmp;
  const std::string path = tmp.file("wrong.txt");
  std::filesystem::copy_file(io_fixture("dtype_f8.npy"), path);
  expect_error<lrp::FormatError>([&] { lrp::io::read_array(path); }, {path, "line 1"});
}
