// How the Keras importer reads a .keras archive's weights. Group names: Keras's to_snake_case, as
// Python's re.sub computes it (the expected names were printed by Keras's two expressions). The
// in-memory HDF5 file: a file
// mapped into memory reads the same weights as the file on disk, also when the pages of each
// weight are dropped after reading it and the weight is read again (they come back from the
// file). cnn.h5's dense kernel (128 x 16 floats, 8 KiB) spans whole pages.
#include <gtest/gtest.h>

#include <vector>

#include "io/keras_detail.hpp"
#include "io/mapped_file.hpp"
#include "lrp/core/error.hpp"
#include "support/test_paths.hpp"

namespace lrp::test {
namespace {

using io::detail::MappedFile;
using io::keras_detail::Hdf5File;

const char* const kKernel = "/model_weights/dense/dense/kernel:0";

std::vector<float> read_kernel(const Hdf5File& f) {
  std::vector<float> v(128 * 16);
  f.read<float>(kKernel, v.data(), v.size());
  return v;
}

TEST(KerasInMemory, MappedImageReadsTheFilesWeightsAgainAfterReleasingThem) {
  const std::string path = source_path("tests/fixtures/keras/cnn.h5");
  const std::vector<float> want = read_kernel(Hdf5File(path));
  const MappedFile mapped(path);
  const Hdf5File image(mapped.bytes(), path, false, true);
  EXPECT_EQ(read_kernel(image), want);
  EXPECT_EQ(read_kernel(image), want);  // the first read dropped its pages
  std::vector<float> rows(32 * 16);
  image.read_rows<float>(kKernel, 64, 32, rows.data());
  EXPECT_EQ(rows, std::vector<float>(want.begin() + 64 * 16, want.begin() + 96 * 16));
  EXPECT_EQ(read_kernel(image), want);
}

TEST(KerasInMemory, ImagesThatAreNotHdf5AreRefused) {
  const std::string text = "not an HDF5 file at all";
  EXPECT_THROW(Hdf5File(text, "x.keras", false, false), FormatError);
  const MappedFile mapped(source_path("tests/fixtures/keras/cnn.h5"));
  const std::string_view cut = mapped.bytes().substr(0, 600);  // the signature, then nothing
  EXPECT_THROW(Hdf5File(cut, "x.keras", false, false), FormatError);
  EXPECT_THROW(MappedFile("/nonexistent/lrp/model.keras"), IoError);
}

TEST(KerasInMemory, GroupNamesFollowKerasSnakeCase) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"Conv2D", "conv2d"}, {"MaxPooling2D", "max_pooling2d"}, {"PReLU", "p_re_lu"},
      {"GlobalAveragePooling2D", "global_average_pooling2d"}, {"Conv2DTranspose", "conv2d_transpose"},
      {"UpSampling2D", "up_sampling2d"}, {"BatchNormalization", "batch_normalization"}, {"ReLU", "re_lu"},
      {"ABc", "a_bc"}, {"aBcDe", "a_bc_de"}, {"DepthwiseConv2D", "depthwise_conv2d"}, {"Functional", "functional"},
      {"InputLayer", "input_layer"}, {"ELU", "elu"}, {"LeakyReLU", "leaky_re_lu"}, {"HTTPServer2X", "http_server2x"},
      {"My-Layer.v2", "my_layerv2"}};
  for (const auto& [name, want] : cases) EXPECT_EQ(io::keras_detail::snake_case(name), want) << name;
}

}  // namespace
}  // namespace lrp::test
