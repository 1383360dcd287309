// PNG output (write_png) and image input (decode_image / read_image): round trips, every PNG
// colour type the reader converts, JPEG, broken files, and the torchvision-like preprocessing.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "lrp/core/error.hpp"
#include "lrp/io/image.hpp"
#include "lrp/render/png.hpp"
#include "support/test_image_files.hpp"

namespace fs = std::filesystem;
using lrp::io::Image8;
using lrp::render::RgbImage;
using lrp::test::bytes;
using lrp::test::chunk;
using lrp::test::encode_jpeg;
using lrp::test::gradient;
using lrp::test::make_png;

namespace {

class TempDir {
 public:
  TempDir() : path_(fs::temp_directory_path() / ("lrp_image_io_" + std::to_string(::getpid()))) {
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

void write_bytes(const std::string& path, const std::string& bytes) { std::ofstream(path, std::ios::binary) << bytes; }

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(ImageIo, PngRoundTripThroughReadImage) {
  TempDir dir;
  RgbImage img(5, 7);
  for (std::size_t i = 0; i < img.rgb.size(); ++i) img.rgb[i] = static_cast<std::uint8_t>((i * 37 + 11) % 256);
  const std::string path = dir.file("round.png");
  lrp::render::write_png(path, img);
  const Image8 dec = lrp::io::decode_image(path);
  ASSERT_EQ(dec.height, 5u);
  ASSERT_EQ(dec.width, 7u);
  ASSERT_EQ(dec.channels, 3u);
  EXPECT_EQ(dec.data, img.rgb);
  // read_image: [1,3,H,W], pixel / 255
  const lrp::Tensor<float> t = lrp::io::read_image(path);
  ASSERT_EQ(t.shape(), (lrp::Shape{1, 3, 5, 7}));
  for (std::size_t c = 0; c < 3; ++c)
    for (std::size_t p = 0; p < 35; ++p) ASSERT_EQ(std::lround(t[c * 35 + p] * 255.0f), img.rgb[3 * p + c]);
  // No temporary file is left beside the output.
  std::size_t files = 0;
  for (const auto& e : fs::directory_iterator(fs::path(path).parent_path())) files += e.is_regular_file();
  EXPECT_EQ(files, 1u);
}

TEST(ImageIo, WritePngErrors) {
  RgbImage img(2, 2);
  const std::string msg = error_of([&] { lrp::render::write_png("/nonexistent-dir/x.png", img); });
  EXPECT_NE(msg.find("/nonexistent-dir/x.png"), std::string::npos) << msg;
  EXPECT_THROW(lrp::render::write_png("/nonexistent-dir/x.png", img), lrp::IoError);
  RgbImage bad(2, 2);
  bad.rgb.pop_back();
  EXPECT_THROW(lrp::render::encode_png(bad), lrp::ShapeError);
  EXPECT_THROW(lrp::render::encode_png(RgbImage()), lrp::ShapeError);
}

TEST(ImageIo, PngColourTypesAndDepths) {
  // gray 8 bit
  Image8 g = lrp::io::decode_image_bytes(make_png(2, 1, 8, 0, {bytes({10, 200})}), "g");
  EXPECT_EQ(g.channels, 1u);
  EXPECT_EQ(g.data, (std::vector<std::uint8_t>{10, 200}));
  // gray 1 bit: 0 → 0, 1 → 255
  g = lrp::io::decode_image_bytes(make_png(3, 1, 1, 0, {bytes({0xa0})}), "g1");
  EXPECT_EQ(g.data, (std::vector<std::uint8_t>{255, 0, 255}));
  // gray 1 bit with a transparent value (tRNS): still one channel
  g = lrp::io::decode_image_bytes(make_png(3, 1, 1, 0, {bytes({0xa0})}, chunk("tRNS", bytes({0, 1}))), "g1t");
  EXPECT_EQ(g.channels, 1u);
  EXPECT_EQ(g.data, (std::vector<std::uint8_t>{255, 0, 255}));
  // gray + alpha: alpha dropped
  g = lrp::io::decode_image_bytes(make_png(2, 1, 8, 4, {bytes({10, 0, 20, 255})}), "ga");
  EXPECT_EQ(g.channels, 1u);
  EXPECT_EQ(g.data, (std::vector<std::uint8_t>{10, 20}));
  // RGBA: alpha dropped
  Image8 c = lrp::io::decode_image_bytes(make_png(1, 2, 8, 6, {bytes({1, 2, 3, 0}), bytes({4, 5, 6, 128})}), "rgba");
  EXPECT_EQ(c.channels, 3u);
  EXPECT_EQ(c.data, (std::vector<std::uint8_t>{1, 2, 3, 4, 5, 6}));
  // 16-bit RGB: high byte kept
  c = lrp::io::decode_image_bytes(make_png(1, 1, 16, 2, {bytes({0x12, 0xff, 0x34, 0x00, 0xfe, 0x80})}), "rgb16");
  EXPECT_EQ(c.data, (std::vector<std::uint8_t>{0x12, 0x34, 0xfe}));
  // 2-bit palette with transparency: palette colours, tRNS ignored
  const std::string plte = chunk("PLTE", bytes({255, 0, 0, 0, 255, 0, 0, 0, 255}));
  const std::string trns = chunk("tRNS", bytes({0}));
  c = lrp::io::decode_image_bytes(make_png(3, 1, 2, 3, {bytes({0x24})}, plte + trns), "pal");  // indices 0,2,1
  EXPECT_EQ(c.channels, 3u);
  EXPECT_EQ(c.data, (std::vector<std::uint8_t>{255, 0, 0, 0, 0, 255, 0, 255, 0}));
  // Gray file as network input: replicated to RGB by default, one channel with grayscale.
  TempDir dir;
  write_bytes(dir.file("g.png"), make_png(2, 1, 8, 0, {bytes({0, 255})}));
  EXPECT_EQ(lrp::io::read_image(dir.file("g.png")).vec(), (std::vector<float>{0, 1, 0, 1, 0, 1}));
  lrp::io::ImagePreprocess gray;
  gray.grayscale = true;
  EXPECT_EQ(lrp::io::read_image(dir.file("g.png"), gray).shape(), (lrp::Shape{1, 1, 1, 2}));
}

TEST(ImageIo, BrokenPngIsFormatError) {
  TempDir dir;
  RgbImage img(8, 8, 100);
  const std::string good = lrp::render::encode_png(img);
  // Truncated inside the image data.
  write_bytes(dir.file("trunc.png"), good.substr(0, good.size() / 2));
  std::string msg = error_of([&] { lrp::io::decode_image(dir.file("trunc.png")); });
  EXPECT_NE(msg.find("trunc.png"), std::string::npos) << msg;
  EXPECT_THROW(lrp::io::decode_image(dir.file("trunc.png")), lrp::FormatError);
  // A damaged byte in IDAT (CRC mismatch).
  std::string bad = good;
  const std::size_t idat = bad.find("IDAT");
  ASSERT_NE(idat, std::string::npos);
  bad[idat + 6] = static_cast<char>(bad[idat + 6] ^ 0x55);
  write_bytes(dir.file("crc.png"), bad);
  EXPECT_THROW(lrp::io::decode_image(dir.file("crc.png")), lrp::FormatError);
  // Only the signature.
  write_bytes(dir.file("sig.png"), good.substr(0, 8));
  EXPECT_THROW(lrp::io::decode_image(dir.file("sig.png")), lrp::FormatError);
  // Neither PNG nor JPEG.
  write_bytes(dir.file("text.png"), "hello, world");
  msg = error_of([&] { lrp::io::decode_image(dir.file("text.png")); });
  EXPECT_NE(msg.find("neither a PNG nor a JPEG"), std::string::npos) << msg;
  // Missing file.
  EXPECT_THROW(lrp::io::read_image(dir.file("missing.png")), lrp::IoError);
  // A header announcing 100000 x 100000 pixels: rejected before any allocation.
  EXPECT_THROW(lrp::io::decode_image_bytes(make_png(100000, 100000, 8, 0, {bytes({1})}), "huge"), lrp::FormatError);
}

TEST(ImageIo, JpegDecode) {
  const std::vector<std::uint8_t> px = gradient(16, 12, 3);
  for (bool progressive : {false, true}) {
    const Image8 img = lrp::io::decode_image_bytes(encode_jpeg(16, 12, 3, px, progressive), "rgb.jpg");
    ASSERT_EQ(img.height, 12u);
    ASSERT_EQ(img.width, 16u);
    ASSERT_EQ(img.channels, 3u);
    int maxdiff = 0;
    for (std::size_t i = 0; i < px.size(); ++i) maxdiff = std::max(maxdiff, std::abs(int(img.data[i]) - int(px[i])));
    EXPECT_LE(maxdiff, 10);  // quality 100 with 4:2:0 chroma subsampling
  }
  const std::vector<std::uint8_t> gpx = gradient(9, 7, 1);
  const Image8 g = lrp::io::decode_image_bytes(encode_jpeg(9, 7, 1, gpx), "gray.jpg");
  ASSERT_EQ(g.channels, 1u);
  for (std::size_t i = 0; i < gpx.size(); ++i) EXPECT_LE(std::abs(int(g.data[i]) - int(gpx[i])), 2);
}

TEST(ImageIo, BrokenJpegIsFormatError) {
  TempDir dir;
  const std::string good = encode_jpeg(32, 32, 3, gradient(32, 32, 3));
  for (std::size_t cut : {good.size() - 40, good.size() / 2, std::size_t(20), std::size_t(3)}) {
    SCOPED_TRACE(cut);
    write_bytes(dir.file("trunc.jpg"), good.substr(0, cut));
    const std::string msg = error_of([&] { lrp::io::decode_image(dir.file("trunc.jpg")); });
    EXPECT_NE(msg.find("trunc.jpg"), std::string::npos) << msg;
    EXPECT_THROW(lrp::io::decode_image(dir.file("trunc.jpg")), lrp::FormatError);
  }
  // Garbage after the start-of-image marker.
  EXPECT_THROW(lrp::io::decode_image_bytes(std::string("\xff\xd8\xff", 3) + std::string(200, 'x'), "junk.jpg"),
               lrp::FormatError);
}

// PIL's bilinear (triangle filter, widened when shrinking), checked by hand: a row 0,100,200,40
// shrunk to 2 pixels has weights (.75,.75,.25)/1.75 and (.25,.75,.75)/1.75 → 71, 117.
TEST(ImageIo, ResizeBilinearLikePil) {
  const Image8 row{1, 4, 1, {0, 100, 200, 40}};
  EXPECT_EQ(lrp::io::resize_bilinear(row, 1, 2).data, (std::vector<std::uint8_t>{71, 117}));
  // Enlarging 2 → 4: centres at 0.25, 0.75, 1.25, 1.75 → 0, 25, 75, 100 (edge-clamped weights).
  const Image8 two{1, 2, 1, {0, 100}};
  EXPECT_EQ(lrp::io::resize_bilinear(two, 1, 4).data, (std::vector<std::uint8_t>{0, 25, 75, 100}));
  const Image8 flat{6, 9, 3, std::vector<std::uint8_t>(6 * 9 * 3, 77)};
  EXPECT_EQ(lrp::io::resize_bilinear(flat, 4, 5).data, std::vector<std::uint8_t>(4 * 5 * 3, 77));
}

TEST(ImageIo, PreprocessCropLayoutAndNormalisation) {
  // 5 x 6 gray image with value 10 y + x; crop 2 x 3 → offsets round(1.5) = 2 and round(1.5) = 2.
  Image8 img{5, 6, 1, {}};
  for (int y = 0; y < 5; ++y)
    for (int x = 0; x < 6; ++x) img.data.push_back(static_cast<std::uint8_t>(10 * y + x));
  lrp::io::ImagePreprocess o;
  o.grayscale = true;
  o.scale = 1.0;
  o.crop_h = 2;
  o.crop_w = 3;
  EXPECT_EQ(lrp::io::preprocess_image(img, o).vec(), (std::vector<float>{22, 23, 24, 32, 33, 34}));
  // Larger crop (7 rows of a 5-row image): one zero row above and below, as torchvision pads.
  o.crop_h = 7;
  o.crop_w = 6;
  const auto padded = lrp::io::preprocess_image(img, o);
  ASSERT_EQ(padded.shape(), (lrp::Shape{1, 1, 7, 6}));
  for (std::size_t x = 0; x < 6; ++x) {
    EXPECT_EQ(padded[x], 0.0f);               // crop row 0: padding
    EXPECT_EQ(padded[6 + x], float(x));       // crop row 1: image row 0
    EXPECT_EQ(padded[5 * 6 + x], 40.0f + x);  // crop row 5: image row 4
    EXPECT_EQ(padded[6 * 6 + x], 0.0f);       // crop row 6: padding
  }
  // RGB pixel (10,20,30): ImageNet normalisation, BGR order, NHWC layout.
  const Image8 rgb{1, 1, 3, {10, 20, 30}};
  lrp::io::ImagePreprocess n;
  n.mean = {0.5, 0.25, 0.125};
  n.std = {2.0, 4.0, 8.0};
  const auto t = lrp::io::preprocess_image(rgb, n);
  EXPECT_FLOAT_EQ(t[0], (10 / 255.0 - 0.5) / 2.0);
  EXPECT_FLOAT_EQ(t[2], (30 / 255.0 - 0.125) / 8.0);
  n.bgr = true;
  n.layout = "nhwc";
  const auto b = lrp::io::preprocess_image(rgb, n);
  EXPECT_EQ(b.shape(), (lrp::Shape{1, 1, 1, 3}));
  EXPECT_FLOAT_EQ(b[0], (30 / 255.0 - 0.5) / 2.0);
  // Luma as PIL's convert("L"): (R 19595 + G 38470 + B 7471 + 2^15) >> 16.
  lrp::io::ImagePreprocess l;
  l.grayscale = true;
  l.scale = 1.0;
  EXPECT_EQ(lrp::io::preprocess_image(rgb, l).vec(), (std::vector<float>{18}));
  // Option errors.
  n.layout = "chw";
  EXPECT_THROW(lrp::io::preprocess_image(rgb, n), lrp::ConfigError);
  lrp::io::ImagePreprocess m;
  m.mean = {1, 2};
  EXPECT_THROW(lrp::io::preprocess_image(rgb, m), lrp::ConfigError);
  m.mean.clear();
  m.std = {0.0};
  EXPECT_THROW(lrp::io::preprocess_image(rgb, m), lrp::ConfigError);
}

TEST(ImageIo, ImagenetPreset) {
  TempDir dir;
  RgbImage img(300, 400);  // landscape: shorter side 300 → 256, longer 341
  for (std::size_t p = 0; p < 300 * 400; ++p) {
    img.rgb[3 * p] = 10;
    img.rgb[3 * p + 1] = 128;
    img.rgb[3 * p + 2] = 250;
  }
  lrp::render::write_png(dir.file("big.png"), img);
  const auto t = lrp::io::read_image(dir.file("big.png"), lrp::io::ImagePreprocess::imagenet());
  ASSERT_EQ(t.shape(), (lrp::Shape{1, 3, 224, 224}));
  EXPECT_FLOAT_EQ(t[0], static_cast<float>((10 / 255.0 - 0.485) / 0.229));
  EXPECT_FLOAT_EQ(t[224 * 224 + 5], static_cast<float>((128 / 255.0 - 0.456) / 0.224));
  EXPECT_FLOAT_EQ(t[3 * 224 * 224 - 1], static_cast<float>((250 / 255.0 - 0.406) / 0.225));
}
