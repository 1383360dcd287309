// .npz reading (np.savez and np.savez_compressed archives) and writing.
#include <gtest/gtest.h>
#include <zlib.h>

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

void put(std::string& s, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) s += static_cast<char>((v >> (8 * i)) & 0xFF);
}

// A one-member zip with the given header fields, to build archives numpy would never write.
std::string zip_with(const std::string& name, int method, const std::string& payload, std::uint32_t crc, std::uint64_t usize) {
  std::string local, central, end;
  put(local, 0x04034b50, 4);
  put(local, 20, 2);
  put(local, 0, 2);
  put(local, static_cast<std::uint64_t>(method), 2);
  put(local, 0, 4);
  put(local, crc, 4);
  put(local, payload.size(), 4);
  put(local, usize, 4);
  put(local, name.size(), 2);
  put(local, 0, 2);
  local += name;
  put(central, 0x02014b50, 4);
  put(central, 20, 2);
  central += local.substr(4, 26);
  put(central, 0, 2);  // comment length
  put(central, 0, 2);  // disk
  put(central, 0, 2);  // internal attributes
  put(central, 0, 4);  // external attributes
  put(central, 0, 4);  // local header offset
  central += name;
  put(end, 0x06054b50, 4);
  put(end, 0, 4);
  put(end, 1, 2);
  put(end, 1, 2);
  put(end, central.size(), 4);
  put(end, local.size() + payload.size(), 4);
  put(end, 0, 2);
  return local + payload + central + end;
}

std::string raw_deflate(const std::string& in) {
  z_stream zs{};
  deflateInit2(&zs, 9, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&zs, in.size()), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

std::uint32_t crc_of(const std::string& s) {
  return static_cast<std::uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(s.data()), static_cast<uInt>(s.size())));
}

void expect_fixture_arrays(const std::map<std::string, Tensor<double>>& m) {
  ASSERT_EQ(m.size(), 3u);
  EXPECT_EQ(m.at("a").shape(), (Shape{2, 3}));
  EXPECT_EQ(m.at("a").vec(), (std::vector<double>{0, 0.25, 0.5, 0.75, 1.0, 1.25}));
  EXPECT_EQ(m.at("b").shape(), Shape{4});
  EXPECT_EQ(m.at("b").vec(), (std::vector<double>{-1, 0, 7, 9}));
  EXPECT_EQ(m.at("c").shape(), (Shape{2, 2}));  // stored in Fortran order
  EXPECT_EQ(m.at("c").vec(), (std::vector<double>{1, 2, 3, 4}));
}

}  // namespace

TEST(IoNpz, ReadsStoredAndCompressed) {
  expect_fixture_arrays(lrp::io::read_npz(io_fixture("stored.npz")));
  expect_fixture_arrays(lrp::io::read_npz(io_fixture("compressed.npz")));
}

TEST(IoNpz, ReadsSharedLayerDump) {
  const std::string dir = lrp::test::shared_path("reference/lrp_toolbox/LeNet-5/");
  if (!std::filesystem::exists(dir + "layers_epsilon_0.01.npz")) GTEST_SKIP() << "shared reference absent: " << dir;
  const auto layers = lrp::io::read_npz(dir + "layers_epsilon_0.01.npz");  // deflate-compressed
  EXPECT_EQ(layers.size(), 24u);
  EXPECT_EQ(layers.at("act_out_00_Convolution").shape(), (Shape{2, 28, 28, 10}));
  EXPECT_EQ(layers.at("act_out_10_Flatten").shape(), (Shape{2, 10}));
  EXPECT_EQ(layers.at("R_in_00_Convolution").shape(), (Shape{2, 32, 32, 1}));
  // act_in_00 is the first two samples of input.npy, R_out_10_Flatten the first two rows of R_init.npy.
  const Tensor<double> input = lrp::io::read_npy(dir + "input.npy");
  const Tensor<double>& act_in = layers.at("act_in_00");
  ASSERT_EQ(act_in.shape(), (Shape{2, 32, 32, 1}));
  EXPECT_TRUE(std::equal(act_in.begin(), act_in.end(), input.begin()));
  const Tensor<double> r_init = lrp::io::read_npy(dir + "R_init.npy");
  const Tensor<double>& r_out = layers.at("R_out_10_Flatten");
  EXPECT_TRUE(std::equal(r_out.begin(), r_out.end(), r_init.begin()));
}

TEST(IoNpz, RoundTripsWrittenArchives) {
  TempDir tmp;
  Tensor<double> a({2, 3}, std::vector<double>{1, 2, 3, 4, 5, 6});
  Tensor<double> b({4}, std::vector<double>{-0.5, 0.25, 1e-300, 1e300});
  lrp::io::write_npz(tmp.file("d.npz"), {{"a", a}, {"layer_01", b}});
  const auto m = lrp::io::read_npz(tmp.file("d.npz"));
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m.at("a").shape(), a.shape());
  EXPECT_EQ(m.at("a").vec(), a.vec());
  EXPECT_EQ(m.at("layer_01").vec(), b.vec());

  Tensor<float> f({2, 2, 2});
  for (std::size_t i = 0; i < f.size(); ++i) f[i] = 0.1f * static_cast<float>(i);
  lrp::io::write_npz(tmp.file("f.npz"), {{"x", f}});
  const auto g = lrp::io::read_npz(tmp.file("f.npz"));
  EXPECT_EQ(g.at("x").shape(), f.shape());
  for (std::size_t i = 0; i < f.size(); ++i) EXPECT_EQ(g.at("x")[i], static_cast<double>(f[i]));

  // Members are np.save images: the archive of dtype_f8's values holds its exact bytes.
  lrp::io::write_npz(tmp.file("one.npz"), {{"v", Tensor<double>({2, 3}, std::vector<double>{0.0, 1.5, -2.25, 1024.0, 0.1, -3e38})}});
  const std::string zip = lrp::io::read_file_bytes(tmp.file("one.npz"));
  EXPECT_NE(zip.find(lrp::io::read_file_bytes(io_fixture("dtype_f8.npy"))), std::string::npos);

  lrp::io::write_npz(tmp.file("empty.npz"), std::vector<std::pair<std::string, Tensor<double>>>{});
  EXPECT_TRUE(lrp::io::read_npz(tmp.file("empty.npz")).empty());

  // An array of no elements: its crc is the header's (zlib's crc32 of a null buffer restarted it
  // at 0, and the archive read back as corrupt).
  lrp::io::write_npz(tmp.file("no_rows.npz"), {{"n", Tensor<double>({0, 5})}, {"m", a}});
  const auto e = lrp::io::read_npz(tmp.file("no_rows.npz"));
  EXPECT_EQ(e.at("n").shape(), (Shape{0, 5}));
  EXPECT_EQ(e.at("m").vec(), a.vec());
}

TEST(IoNpz, WriterRejectsBadNames) {
  TempDir tmp;
  const Tensor<double> t({1});
  EXPECT_THROW(lrp::io::write_npz(tmp.file("x.npz"), {{"a", t}, {"a", t}}), lrp::ConfigError);
  EXPECT_THROW(lrp::io::write_npz(tmp.file("x.npz"), {{"", t}}), lrp::ConfigError);
  EXPECT_FALSE(std::filesystem::exists(tmp.file("x.npz")));
}

TEST(IoNpz, EveryTruncatedPrefixIsFormatError) {
  TempDir tmp;
  for (const char* name : {"tiny.npz", "compressed.npz"}) {
    const std::string bytes = lrp::io::read_file_bytes(io_fixture(name));
    const std::string path = tmp.file("prefix.npz");
    for (std::size_t n = 0; n < bytes.size(); ++n) {
      write_bytes(path, bytes.substr(0, n));
      expect_error<FormatError>([&] { lrp::io::read_npz(path); }, {path}, std::string(name) + " prefix " + std::to_string(n));
    }
  }
}

TEST(IoNpz, CorruptDataFailsTheCrc) {
  TempDir tmp;
  lrp::io::write_npz(tmp.file("ok.npz"), {{"x", Tensor<double>({4}, std::vector<double>{1, 2, 3, 4})}});
  std::string bytes = lrp::io::read_file_bytes(tmp.file("ok.npz"));
  bytes[30 + 5 + 128 + 3] ^= 0x10;  // local header, "x.npy", npy header, into the data
  write_bytes(tmp.file("bad.npz"), bytes);
  expect_error<FormatError>([&] { lrp::io::read_npz(tmp.file("bad.npz")); }, {"bad.npz", "'x.npy'", "crc32"});

  // Same in a deflated member: inflate either fails or the CRC does.
  std::string comp = lrp::io::read_file_bytes(io_fixture("compressed.npz"));
  comp[60] ^= 0x5A;
  write_bytes(tmp.file("badc.npz"), comp);
  EXPECT_THROW(lrp::io::read_npz(tmp.file("badc.npz")), FormatError);
}

TEST(IoNpz, CraftedArchivesAreFormatErrors) {
  TempDir tmp;
  const std::string npy = lrp::io::read_file_bytes(io_fixture("dtype_f8.npy"));
  const std::string deflated = raw_deflate(npy);
  const std::vector<std::tuple<std::string, std::string, std::string>> cases = {
      {"not a zip", "just some text that is certainly long enough", "not a zip archive"},
      {"bomb", zip_with("x.npy", 8, deflated, crc_of(npy), 0xFFFFFFF0u), "impossible"},
      {"short inflate", zip_with("x.npy", 8, deflated, crc_of(npy), npy.size() + 10), "deflate"},
      {"long inflate", zip_with("x.npy", 8, deflated, crc_of(npy), npy.size() - 10), "more than the declared"},
      {"garbage deflate", zip_with("x.npy", 8, std::string(64, '\xff'), 0, 200), "deflate"},
      {"bzip2", zip_with("x.npy", 12, npy, crc_of(npy), npy.size()), "compression method 12"},
      {"stored size mismatch", zip_with("x.npy", 0, npy, crc_of(npy), npy.size() + 1), "different compressed"},
      {"not npy member", zip_with("x.txt", 0, npy, crc_of(npy), npy.size()), "not a .npy member"},
      {"bad member content", zip_with("x.npy", 0, "hello", crc_of("hello"), 5), "magic"},
  };
  for (const auto& [name, bytes, needle] : cases) {
    const std::string path = tmp.file("crafted.npz");
    write_bytes(path, bytes);
    expect_error<FormatError>([&] { lrp::io::read_npz(path); }, {path, needle}, name);
  }
  // The builder itself is sound: the honest version of the same member reads fine.
  write_bytes(tmp.file("good.npz"), zip_with("x.npy", 8, deflated, crc_of(npy), npy.size()));
  EXPECT_EQ(lrp::io::read_npz(tmp.file("good.npz")).at("x").shape(), (Shape{2, 3}));
}

TEST(IoNpz, MissingFileIsIoError) {
  EXPECT_THROW(lrp::io::read_npz("/nonexistent/lrp/a.npz"), lrp::IoError);
}
