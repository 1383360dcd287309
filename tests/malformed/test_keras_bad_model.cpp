// Broken and unsupported Keras files (tests/fixtures/keras/bad_*.h5, written by make_fixtures.py,
// and files spoiled here): each gives a FormatError (IoError for a missing file) naming the file
// and, where there is one, the layer with its class and the field or weight - never a crash or
// a silently wrong model. Through the CLI: exit code 2 and "lrp: error: ...".
#include <gtest/gtest.h>

#include "lrp/core/error.hpp"
#include "lrp/io/atomic_file.hpp"
#include "lrp/io/keras.hpp"
#include "support/run_cli.hpp"
#include "support/test_paths.hpp"
#include "unit/test_io_util.hpp"

namespace lrp::test {
namespace {

std::string fixture(const std::string& file) { return source_path("tests/fixtures/keras/" + file); }

void expect_format_error(const std::string& path, const std::vector<std::string>& needles) {
  expect_error<FormatError>([&] { io::read_keras_model(path); }, needles, path);
  expect_error<FormatError>([&] { io::read_keras_model_float(path); }, needles, path);
  const CliResult r = run_cli("info " + path);
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("lrp: error: "), std::string::npos) << r.output;
  for (const std::string& n : needles) EXPECT_NE(r.output.find(n), std::string::npos) << "'" << n << "' not in: " << r.output;
}

TEST(KerasBadModel, UnsupportedLayersAndSettingsAreNamed) {
  expect_format_error(fixture("bad_layer_class.h5"), {"bad_layer_class.h5", "layer 'leaky_re_lu' (LSTM)", "not supported"});
  expect_format_error(fixture("bad_channels_first.h5"), {"layer 'conv2d' (Conv2D)", "channels_first"});
  expect_format_error(fixture("bad_activation.h5"), {"layer 'dense' (Dense)", "activation 'mish'"});
  expect_format_error(fixture("bad_output_padding.h5"), {"layer 'ct2' (Conv2DTranspose)", "output_padding"});
  expect_format_error(fixture("bad_interpolation.h5"), {"layer 'up2' (UpSampling2D)", "interpolation 'area'"});
  // Inside a nested model the error names the inner layer.
  expect_format_error(fixture("bad_nested_reshape.h5"), {"layer 'regroup' (Reshape)", "cannot infer the -1", "512 values"});
  // An image size left None, with no input array to size it.
  expect_format_error(fixture("cnn_unsized.h5"), {"(InputLayer)", "batch_input_shape", "unknown (None)"});
}

TEST(KerasBadModel, MissingOrMisshapenWeightsAreNamed) {
  expect_format_error(fixture("bad_missing_weight.h5"), {"layer 'conv2d' (Conv2D)", "no weight 'kernel'"});
  expect_format_error(fixture("bad_weight_shape.h5"), {"layer 'dense' (Dense)", "dense/kernel:0", "[100,16]", "[128,16]"});
  expect_format_error(fixture("weights_only.h5"), {"weights_only.h5", "weights only", "model.save"});
  expect_format_error(fixture("bad_config_json.h5"), {"bad_config_json.h5", "model_config is not valid JSON"});
}

TEST(KerasBadModel, TruncatedAndForeignFilesAreRefused) {
  const TempDir dir;
  const std::string whole = io::read_file_bytes(fixture("cnn.h5"));
  // Cut anywhere: before the superblock ends, in the metadata, in the weights.
  for (const std::size_t keep : {std::size_t{4}, std::size_t{100}, whole.size() / 2, whole.size() - 64}) {
    const std::string cut = dir.file("cut" + std::to_string(keep) + ".h5");
    write_bytes(cut, whole.substr(0, keep));
    expect_format_error(cut, {cut});
  }
  const std::string text = dir.file("text.h5");
  write_bytes(text, "this is not an HDF5 file\n");
  expect_format_error(text, {"text.h5", "not an HDF5 file"});
  const std::string missing = dir.file("missing.h5");
  expect_error<IoError>([&] { io::read_keras_model(missing); }, {"missing.h5"});
  const CliResult r = run_cli("info " + missing);
  EXPECT_EQ(r.code, 2) << r.output;
}

// .keras archives: a layer with more variables than lrp reads (a quantized Dense, say), members
// missing, weights that are not HDF5, archives cut short or spoiled.
TEST(KerasBadModel, BrokenKerasArchivesAreRefused) {
  expect_format_error(fixture("bad_extra_variable.keras"), {"layer 'logits' (Dense)", "more variables", "layers/dense/vars"});
  expect_format_error(fixture("bad_config_json.keras"), {"bad_config_json.keras", "config.json is not valid JSON"});
  const TempDir dir;
  const std::string whole = io::read_file_bytes(fixture("resnet.keras"));
  for (const std::size_t keep : {std::size_t{10}, whole.size() / 2, whole.size() - 30}) {
    const std::string cut = dir.file("cut" + std::to_string(keep) + ".keras");
    write_bytes(cut, whole.substr(0, keep));
    expect_format_error(cut, {cut});
  }
  // A renamed member: the archive stays valid, the weights file is gone.
  std::string renamed = whole;
  for (std::size_t at = renamed.find("model.weights.h5"); at != std::string::npos; at = renamed.find("model.weights.h5", at + 1))
    renamed.replace(at, 5, "other");
  write_bytes(dir.file("renamed.keras"), renamed);
  expect_format_error(dir.file("renamed.keras"), {"renamed.keras", "has no model.weights.h5"});
  // A flipped byte inside the weights: the zip's checksum catches it.
  std::string flipped = whole;
  flipped[whole.size() / 2] = static_cast<char>(flipped[whole.size() / 2] ^ 0x5A);
  write_bytes(dir.file("flipped.keras"), flipped);
  expect_format_error(dir.file("flipped.keras"), {"flipped.keras", "checksum"});
  write_bytes(dir.file("text.keras"), "not a zip archive\n");
  expect_format_error(dir.file("text.keras"), {"text.keras", "not a zip archive"});
  expect_error<IoError>([&] { io::read_keras_model(dir.file("missing.keras")); }, {"missing.keras"});
}

// A file (mlp.h5 spoiled by the fuzzer) on which libhdf5 itself crashes, reading a text
// attribute from a corrupt heap: the import's first run in a child process catches it.
TEST(KerasBadModel, AFileThatCrashesTheHdf5LibraryIsRefused) {
  expect_format_error(fixture("bad_heap.h5"), {"bad_heap.h5", "the HDF5 library failed on it", "corrupt file"});
}

TEST(KerasBadModel, UnknownOutputLayerIsNamed) {
  expect_error<FormatError>([&] { io::read_keras_model(fixture("resnet.h5"), "nope"); }, {"resnet.h5", "no layer 'nope'"});
  const CliResult r = run_cli("predict " + fixture("resnet.h5") + " " + fixture("resnet_input_nhwc.npy") + " --output nope");
  EXPECT_EQ(r.code, 2) << r.output;
}

}  // namespace
}  // namespace lrp::test
