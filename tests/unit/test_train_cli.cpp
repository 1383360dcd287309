// `lrp train` end to end: writes a model `lrp predict` loads; bad input exits with code 2.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <random>

#include "lrp/io/arrays.hpp"
#include "lrp/io/atomic_file.hpp"
#include "test_io_util.hpp"

namespace lrp::test {
namespace {

struct CliRun {
  int code = -1;
  std::string out, err;
};

CliRun run_cli(const TempDir& dir, const std::string& args) {
  const std::string out = dir.file("stdout.txt"), err = dir.file("stderr.txt");
  const std::string cmd = "'" + cli_path() + "' " + args + " >'" + out + "' 2>'" + err + "'";
  const int status = std::system(cmd.c_str());
  CliRun r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = io::read_file_bytes(out);
  r.err = io::read_file_bytes(err);
  return r;
}

// Noisy XOR: data [n, 2] (.npy, f8) and labels [n] (i8).
void write_xor(const TempDir& dir, std::size_t n) {
  std::mt19937_64 rng(1);
  std::bernoulli_distribution bit(0.5);
  std::normal_distribution<double> noise(0.0, 0.1);
  Tensor<double> x({n, 2});
  std::vector<std::int64_t> y(n);
  for (std::size_t i = 0; i < n; ++i) {
    const bool a = bit(rng), b = bit(rng);
    x[2 * i] = a + noise(rng);
    x[2 * i + 1] = b + noise(rng);
    y[i] = a != b;
  }
  io::write_npy(dir.file("x.npy"), x);
  io::write_npy_i64(dir.file("y.npy"), y, {n});
  io::write_npy_i64(dir.file("y_short.npy"), std::vector<std::int64_t>(y.begin(), y.end() - 1), {n - 1});
}

const std::string kXorNet = "--layers 'Linear 2 8; Tanh; Linear 8 2; SoftMax'";

TEST(TrainCli, TrainedModelLoadsInPredict) {
  TempDir dir;
  write_xor(dir, 120);
  const std::string common = kXorNet + " --data '" + dir.file("x.npy") + "' --labels '" + dir.file("y.npy") +
                             "' --iters 1500 --batch 10 --status 500 --seed 3 --input-scale none --threads 1";
  const CliRun r = run_cli(dir, "train " + common + " --out '" + dir.file("m.txt") + "'");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("accuracy 100.00%"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("iteration 500/1500"), std::string::npos) << r.err;  // progress on stderr
  const std::string model = io::read_file_bytes(dir.file("m.txt"));
  EXPECT_EQ(model.rfind("Linear 2 8\n", 0), 0u);
  const CliRun p = run_cli(dir, "predict '" + dir.file("m.txt") + "' '" + dir.file("x.npy") + "' --out '" + dir.file("p.npy") + "'");
  ASSERT_EQ(p.code, 0) << p.err;
  EXPECT_EQ(io::read_npy(dir.file("p.npy")).shape(), (Shape{120, 2}));

  // Same seed, same bytes; --quiet silences stderr; --init continues from a model.
  const CliRun again = run_cli(dir, "train " + common + " --quiet --out '" + dir.file("m2.txt") + "'");
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_EQ(again.err, "");
  EXPECT_EQ(io::read_file_bytes(dir.file("m2.txt")), model);
  const CliRun cont = run_cli(dir, "train --init '" + dir.file("m.txt") + "' --data '" + dir.file("x.npy") + "' --labels '" +
                                    dir.file("y.npy") + "' --val-data '" + dir.file("x.npy") + "' --val-labels '" + dir.file("y.npy") +
                                    "' --iters 100 --status 50 --input-scale none --optimizer momentum --lrate 0.01 --quiet --out '" +
                                    dir.file("m3.txt") + "'");
  ASSERT_EQ(cont.code, 0) << cont.err;
  EXPECT_NE(cont.out.find("validation data accuracy 100.00%"), std::string::npos) << cont.out;
}

TEST(TrainCli, ConvolutionalNetOnPixelImages) {
  TempDir dir;
  // 6x6 images of 0..255 pixels: class 1 has a bright left half. Auto scaling, padded by 1 px.
  const std::size_t n = 40;
  Tensor<double> x({n, 6, 6});
  std::vector<std::int64_t> y(n);
  std::mt19937_64 rng(2);
  std::uniform_int_distribution<int> px(0, 120);
  for (std::size_t i = 0; i < n; ++i) {
    y[i] = static_cast<std::int64_t>(i % 2);
    for (std::size_t r = 0; r < 6; ++r)
      for (std::size_t c = 0; c < 6; ++c) x[(i * 6 + r) * 6 + c] = px(rng) + (y[i] && c < 3 ? 135 : 0);
  }
  io::write_npy(dir.file("img.npy"), x);
  io::write_npy_i64(dir.file("lab.npy"), y, {n});
  const CliRun r = run_cli(dir, "train --layers 'Convolution 3 3 1 4 1 1; Rect; SumPool 2 2 2 2; Flatten; Linear 36 2; SoftMax' --data '" +
                                 dir.file("img.npy") + "' --labels '" + dir.file("lab.npy") +
                                 "' --pad 1 --iters 200 --batch 8 --status 100 --threads 1 --out '" + dir.file("cnn.txt") + "'");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("x/127.5 - 1"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("accuracy 100.00%"), std::string::npos) << r.out;
  EXPECT_EQ(io::read_file_bytes(dir.file("cnn.txt")).rfind("Convolution 3 3 1 4 1 1\n", 0), 0u);
  // Without the padding the flattened size does not fit the Linear layer.
  const CliRun bad = run_cli(dir, "train --layers 'Convolution 3 3 1 4 1 1; Rect; SumPool 2 2 2 2; Flatten; Linear 36 2; SoftMax' --data '" +
                                   dir.file("img.npy") + "' --labels '" + dir.file("lab.npy") + "' --out '" + dir.file("bad.txt") + "'");
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.err.find("do not fit the model"), std::string::npos) << bad.err;
}

TEST(TrainCli, BadInputsExitWithCode2) {
  TempDir dir;
  write_xor(dir, 20);
  const std::string data = " --data '" + dir.file("x.npy") + "' --labels '" + dir.file("y.npy") + "' --out '" + dir.file("m.txt") + "'";
  struct Case {
    std::string args, needle;
  };
  const std::vector<Case> cases = {
      {kXorNet + " --data '" + dir.file("x.npy") + "' --labels '" + dir.file("y_short.npy") + "' --out '" + dir.file("m.txt") + "'",
       "19 labels for 20 samples"},
      {"--layers 'Linear 2 8; Foo; Linear 8 2'" + data, "'Foo'"},
      {"--layers 'Linear 3 8; Tanh; Linear 8 2'" + data, "first layer takes 3"},
      {"--layers 'Linear 2 8; Tanh; Linear 8 1; SoftMax'" + data, "label 1"},
      {data, "--layers SPEC or as --init"},
      {kXorNet + " --init '" + dir.file("none.txt") + "'" + data, ""},
      {kXorNet + " --data '" + dir.file("missing.npy") + "' --labels '" + dir.file("y.npy") + "' --out '" + dir.file("m.txt") + "'",
       "missing.npy"},
      {kXorNet + data + " --lrate-decay fast", "fast"},
      {kXorNet + data + " --lrate 0", ""},
      {kXorNet + data + " --val-data '" + dir.file("x.npy") + "'", "--val-labels"},
      {kXorNet + data + " --pad 2", "--pad"},
      {kXorNet + data + " --threads 100000", "--threads 100000 is more than 1024"},
      {kXorNet + data + " --iters -1", "--iters: must not be negative, got -1"},
      {kXorNet + " --data '" + dir.file("x.npy") + "' --labels '" + dir.file("y.npy") + "' --out '" + dir.file("no/such/dir/m.txt") + "'",
       "does not exist"},
  };
  for (const Case& c : cases) {
    const CliRun r = run_cli(dir, "train " + c.args + " --iters 5 --quiet");
    EXPECT_EQ(r.code, 2) << c.args << "\n" << r.err;
    EXPECT_NE(r.err.find(c.needle), std::string::npos) << c.args << "\n" << r.err;
    EXPECT_FALSE(std::filesystem::exists(dir.file("m.txt"))) << c.args;
  }
}

}  // namespace
}  // namespace lrp::test
