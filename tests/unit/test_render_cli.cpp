// `lrp render` end to end: the PNG pixels against the LRP Toolbox references, batches, errors.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>
#include <string>
#include <vector>

#include "lrp/io/arrays.hpp"
#include "lrp/io/image.hpp"
#include "lrp/render/png.hpp"
#include "lrp/render/signal.hpp"
#include "support/test_image_files.hpp"
#include "support/test_npy_reader.hpp"
#include "support/test_paths.hpp"

namespace fs = std::filesystem;

namespace {

std::string render_ref(const std::string& file) {
  return lrp::test::shared_path("reference/lrp_toolbox/LeNet-5/render/" + file);
}

class CliRender : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("lrp_render_cli_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string file(const std::string& name) const { return (dir_ / name).string(); }

  // Writes a float64 C-order .npy.
  void write_npy(const std::string& path, const std::vector<std::size_t>& shape, const std::vector<double>& data) {
    std::string dims;
    for (std::size_t d : shape) dims += std::to_string(d) + ", ";
    if (shape.size() > 1) dims.erase(dims.size() - 1);  // "(3, 4)" but "(3,)"
    std::string header = "{'descr': '<f8', 'fortran_order': False, 'shape': (" + dims + "), }";
    header.resize(((10 + header.size() + 1 + 63) / 64) * 64 - 10 - 1, ' ');
    header += '\n';
    std::ofstream out(path, std::ios::binary);
    out.write("\x93NUMPY\x01\x00", 8);
    const char len[2] = {static_cast<char>(header.size() & 0xff), static_cast<char>(header.size() >> 8)};
    out.write(len, 2);
    out << header;
    out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(8 * data.size()));
  }

  // Runs `lrp render ARGS`; returns the exit code, stdout+stderr in `output_`.
  int run(const std::string& args) {
    const std::string log = file("log.txt");
    const std::string cmd = lrp::test::cli_path() + " render " + args + " > " + log + " 2>&1";
    const int status = std::system(cmd.c_str());
    std::ifstream in(log);
    std::stringstream ss;
    ss << in.rdbuf();
    output_ = ss.str();
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  fs::path dir_;
  std::string output_;
};

std::uint8_t toolbox_u8(double x) { return static_cast<std::uint8_t>(x * 255.0); }

}  // namespace

// The external check: `lrp render H.npy --colormap NAME --scale 1 --out X.png` on a 2-D float64
// map must give the Toolbox's hm_to_rgb colours (saved with x*255 truncation) exactly.
TEST_F(CliRender, TwoDimensionalMapMatchesToolboxColours) {
  const auto R = lrp::test::read_test_npy(render_ref("heatmap_input.npy"));  // [1,32,32]
  write_npy(file("H.npy"), {32, 32}, R.data);
  for (const std::string cmap :
       {"jet", "seismic", "bwr", "gray-red", "gray-red2", "black-green", "black-firered", "blue-black-yellow"}) {
    SCOPED_TRACE(cmap);
    ASSERT_EQ(run(file("H.npy") + " --colormap " + cmap + " --scale 1 --out " + file("X.png")), 0) << output_;
    const lrp::io::Image8 img = lrp::io::decode_image(file("X.png"));
    ASSERT_EQ(img.height, 32u);
    ASSERT_EQ(img.width, 32u);
    ASSERT_EQ(img.channels, 3u);
    const auto ref = lrp::test::read_test_npy(render_ref("hm_" + cmap + "_s3.npy"));  // [96,96,3], scaling 3
    for (std::size_t y = 0; y < 32; ++y)
      for (std::size_t x = 0; x < 32; ++x)
        for (std::size_t c = 0; c < 3; ++c)
          ASSERT_EQ(img.data[(y * 32 + x) * 3 + c], toolbox_u8(ref.data[((3 * y) * 96 + 3 * x) * 3 + c]))
              << y << "," << x << "," << c;
  }
}

// The Toolbox demo picture: save_image([digit_to_rgb(x), hm_to_rgb(R, x, cmap='jet')]) with the
// outline, from the [1,32,32] arrays (N=1 batches), scale 3.
TEST_F(CliRender, InputBesideOutlinedHeatmapMatchesToolboxDemoImage) {
  ASSERT_EQ(run(render_ref("heatmap_input.npy") + " --input " + render_ref("digit_input.npy") +
                " --colormap jet --scale 3 --outline --out " + file("demo.png")),
            0)
      << output_;
  const lrp::io::Image8 img = lrp::io::decode_image(file("demo.png"));
  const auto ref = lrp::test::read_test_npy(render_ref("digit_and_heatmap_uint8.npy"));  // [96,194,3]
  ASSERT_EQ(img.height, 96u);
  ASSERT_EQ(img.width, 194u);
  std::size_t diff = 0;
  for (std::size_t i = 0; i < ref.data.size(); ++i) diff += img.data[i] != ref.data[i];
  EXPECT_EQ(diff, 0u);
}

TEST_F(CliRender, BatchGridAndLayouts) {
  std::vector<double> data(3 * 4 * 5);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<double>(i % 7) - 3.0;
  write_npy(file("batch.npy"), {3, 4, 5}, data);
  // [N,H,W] with --grid: floor(sqrt(3)) = 1 column, 3 rows, 2-pixel gaps.
  ASSERT_EQ(run(file("batch.npy") + " --grid --out " + file("g.png")), 0) << output_;
  lrp::io::Image8 img = lrp::io::decode_image(file("g.png"));
  EXPECT_EQ(img.height, 3 * 4 + 2 * 2u);
  EXPECT_EQ(img.width, 5u);
  // Without --grid: one sample, enlarged.
  ASSERT_EQ(run(file("batch.npy") + " --sample 2 --scale 2 --out " + file("one.png")), 0) << output_;
  img = lrp::io::decode_image(file("one.png"));
  EXPECT_EQ(img.height, 8u);
  EXPECT_EQ(img.width, 10u);
  // The same array read as one [H,W,C] sample: 3 x 4 pixels (5 channels summed).
  ASSERT_EQ(run(file("batch.npy") + " --layout hwc --out " + file("hwc.png")), 0) << output_;
  img = lrp::io::decode_image(file("hwc.png"));
  EXPECT_EQ(img.height, 3u);
  EXPECT_EQ(img.width, 4u);
  // Out-of-range sample.
  EXPECT_EQ(run(file("batch.npy") + " --sample 3 --out " + file("x.png")), 2);
  EXPECT_NE(output_.find("--sample"), std::string::npos) << output_;
}

// FILE.npz:NAME draws one array of an .npz (a model with several inputs writes its relevance so),
// pixel for pixel what the same array as a .npy gives; its input likewise.
TEST_F(CliRender, OneArrayOfAnNpz) {
  std::vector<double> a(2 * 3 * 4), b(5, 1.0);
  for (std::size_t i = 0; i < a.size(); ++i) a[i] = std::sin(static_cast<double>(i));
  write_npy(file("a.npy"), {2, 3, 4}, a);
  lrp::io::write_npz(file("r.npz"), std::vector<std::pair<std::string, lrp::Tensor<double>>>{
                                        {"image", lrp::Tensor<double>({2, 3, 4}, a)}, {"features", lrp::Tensor<double>({5}, b)}});
  ASSERT_EQ(run(file("a.npy") + " --input " + file("a.npy") + " --grid --out " + file("from_npy.png")), 0) << output_;
  ASSERT_EQ(run(file("r.npz") + ":image --input " + file("r.npz") + ":image --grid --out " + file("from_npz.png")), 0) << output_;
  const lrp::io::Image8 x = lrp::io::decode_image(file("from_npy.png")), y = lrp::io::decode_image(file("from_npz.png"));
  EXPECT_EQ(x.width, y.width);
  EXPECT_EQ(x.height, y.height);
  EXPECT_EQ(x.data, y.data);
  EXPECT_EQ(run(file("r.npz") + ":nope --out " + file("x.png")), 2);
  EXPECT_NE(output_.find("no array 'nope'; it holds 'features' 'image'"), std::string::npos) << output_;
  EXPECT_EQ(run(file("r.npz") + " --out " + file("x.png")), 2);  // an .npz without a name
  EXPECT_NE(output_.find("r.npz"), std::string::npos) << output_;
}

TEST_F(CliRender, BadInputsExitWithCode2) {
  write_npy(file("H.npy"), {2, 2}, {1, -1, 0.5, 0});
  EXPECT_EQ(run(file("H.npy") + " --colormap viridis --out " + file("x.png")), 2);
  EXPECT_NE(output_.find("unknown colour map 'viridis'"), std::string::npos) << output_;
  EXPECT_NE(output_.find("jet"), std::string::npos) << output_;
  EXPECT_FALSE(fs::exists(file("x.png")));

  EXPECT_EQ(run(file("missing.npy") + " --out " + file("x.png")), 2);
  EXPECT_NE(output_.find("missing.npy"), std::string::npos) << output_;

  std::ofstream(file("junk.npy")) << "not an array";
  EXPECT_EQ(run(file("junk.npy") + " --out " + file("x.png")), 2);
  EXPECT_NE(output_.find("junk.npy"), std::string::npos) << output_;

  EXPECT_EQ(run(file("H.npy") + " --outline --out " + file("x.png")), 2);
  EXPECT_NE(output_.find("--outline needs --input"), std::string::npos) << output_;

  EXPECT_EQ(run(file("H.npy") + " --normalization minmax --out " + file("x.png")), 2);
  EXPECT_EQ(run(file("H.npy") + " --out /nonexistent-dir/x.png"), 2);
  EXPECT_NE(output_.find("/nonexistent-dir/x.png"), std::string::npos) << output_;

  write_npy(file("nan.npy"), {1, 2}, {1.0, std::nan("")});
  EXPECT_EQ(run(file("nan.npy") + " --out " + file("x.png")), 2);
  EXPECT_NE(output_.find("NaN"), std::string::npos) << output_;
  write_npy(file("vec.npy"), {2}, {1.0, 2.0});
  EXPECT_EQ(run(file("vec.npy") + " --out " + file("x.png")), 2);
  EXPECT_NE(output_.find("vec.npy"), std::string::npos) << output_;

  // NaN passed CLI11's range check of --overlay (a blend of NaN was written); -1 became 2^64 - 1.
  EXPECT_EQ(run(file("H.npy") + " --input " + file("H.npy") + " --overlay nan --out " + file("x.png")), 2);
  EXPECT_NE(output_.find("--overlay: must be a finite number, got nan"), std::string::npos) << output_;
  EXPECT_EQ(run(file("H.npy") + " --scale -1 --out " + file("x.png")), 2);
  EXPECT_NE(output_.find("--scale"), std::string::npos) << output_;
  EXPECT_FALSE(fs::exists(file("x.png")));
}

// --input as a PNG/JPEG image; broken image files are reported with exit code 2.
TEST_F(CliRender, ImageInputAndBrokenImages) {
  write_npy(file("H.npy"), {2, 3}, {1, -1, 0.5, 0, 0.25, -0.5});
  lrp::render::RgbImage pic(2, 3, 200);
  lrp::render::write_png(file("pic.png"), pic);
  ASSERT_EQ(run(file("H.npy") + " --input " + file("pic.png") + " --gap 1 --out " + file("x.png")), 0) << output_;
  const lrp::io::Image8 img = lrp::io::decode_image(file("x.png"));
  EXPECT_EQ(img.width, 7u);
  EXPECT_EQ(img.data[0], 200);    // the input image, unchanged
  EXPECT_EQ(img.data[3 * 3], 0);  // the gap column

  // --overlay: the heatmap laid over the input, one picture of the input's size.
  ASSERT_EQ(run(file("H.npy") + " --input " + file("pic.png") + " --overlay 0.5 --out " + file("o.png")), 0) << output_;
  ASSERT_EQ(run(file("H.npy") + " --out " + file("h.png")), 0) << output_;
  const lrp::io::Image8 over = lrp::io::decode_image(file("o.png")), heat = lrp::io::decode_image(file("h.png"));
  ASSERT_EQ(over.width, 3u);
  ASSERT_EQ(over.data.size(), heat.data.size());
  for (std::size_t i = 0; i < over.data.size(); ++i)
    EXPECT_EQ(over.data[i], static_cast<int>(std::lround(0.5 * 200 + 0.5 * heat.data[i]))) << i;
  EXPECT_EQ(run(file("H.npy") + " --overlay 0.5 --out " + file("y.png")), 2);
  EXPECT_NE(output_.find("--overlay needs --input"), std::string::npos) << output_;

  const std::string png = lrp::render::encode_png(pic);
  std::ofstream(file("bad.png"), std::ios::binary) << png.substr(0, png.size() - 20);
  EXPECT_EQ(run(file("H.npy") + " --input " + file("bad.png") + " --out " + file("y.png")), 2);
  EXPECT_NE(output_.find("bad.png"), std::string::npos) << output_;
  EXPECT_NE(output_.find("PNG"), std::string::npos) << output_;

  const std::string jpg = lrp::test::encode_jpeg(3, 2, 3, lrp::test::gradient(3, 2, 3));
  std::ofstream(file("cut.jpg"), std::ios::binary) << jpg.substr(0, jpg.size() / 2);
  EXPECT_EQ(run(file("H.npy") + " --input " + file("cut.jpg") + " --out " + file("y.png")), 2);
  EXPECT_NE(output_.find("cut.jpg"), std::string::npos) << output_;
  EXPECT_NE(output_.find("JPEG"), std::string::npos) << output_;

  lrp::render::write_png(file("big.png"), lrp::render::RgbImage(4, 4));
  EXPECT_EQ(run(file("H.npy") + " --input " + file("big.png") + " --out " + file("y.png")), 2);
  EXPECT_NE(output_.find("big.png"), std::string::npos) << output_;
  EXPECT_FALSE(fs::exists(file("y.png")));
}

// `lrp render --signal`: [N, C, L] relevance with the signals of the same shape, each sample the
// picture render::render_signal draws (--grid: one row each, 2 black pixels between them); a
// missing --input, mismatched shapes and a sample out of range are errors (exit 2).
TEST_F(CliRender, SignalsAsStripsWithTheirRelevance) {
  const std::size_t n = 2, c = 3, len = 50;
  std::vector<double> r(n * c * len), x(r.size());
  for (std::size_t i = 0; i < r.size(); ++i) {
    r[i] = std::cos(0.3 * static_cast<double>(i));
    x[i] = std::sin(0.11 * static_cast<double>(i));
  }
  write_npy(file("R.npy"), {n, c, len}, r);
  write_npy(file("X.npy"), {n, c, len}, x);
  ASSERT_EQ(run(file("R.npy") + " --signal --input " + file("X.npy") + " --strip-height 10 --sample 1 --out " + file("s.png")), 0) << output_;
  lrp::render::SignalPlotOptions o;
  o.strip_height = 10;
  const lrp::Tensor<double> x1({c, len}, std::vector<double>(x.begin() + c * len, x.end()));
  const lrp::Tensor<double> r1({c, len}, std::vector<double>(r.begin() + c * len, r.end()));
  const lrp::render::RgbImage want = lrp::render::render_signal(x1, r1, o);
  const lrp::io::Image8 img = lrp::io::decode_image(file("s.png"));
  ASSERT_EQ(img.height, want.height);
  ASSERT_EQ(img.width, want.width);
  EXPECT_TRUE(img.data == want.rgb);
  ASSERT_EQ(run(file("R.npy") + " --signal --grid --input " + file("X.npy") + " --strip-height 10 --out " + file("g.png")), 0) << output_;
  const lrp::io::Image8 grid = lrp::io::decode_image(file("g.png"));
  EXPECT_EQ(grid.height, 2 * want.height + 2);
  EXPECT_EQ(grid.width, len);
  EXPECT_EQ(run(file("R.npy") + " --signal --out " + file("e.png")), 2);
  EXPECT_NE(output_.find("--signal needs --input"), std::string::npos) << output_;
  write_npy(file("Y.npy"), {n, c, len - 1}, std::vector<double>(n * c * (len - 1), 0.0));
  EXPECT_EQ(run(file("R.npy") + " --signal --input " + file("Y.npy") + " --out " + file("e.png")), 2);
  EXPECT_NE(output_.find("of one shape"), std::string::npos) << output_;
  EXPECT_EQ(run(file("R.npy") + " --signal --input " + file("X.npy") + " --sample 2 --out " + file("e.png")), 2);
  EXPECT_NE(output_.find("--sample 2 is out of range"), std::string::npos) << output_;
}
