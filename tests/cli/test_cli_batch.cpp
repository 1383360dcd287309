// `lrp batch`: a file list explained item by item equals the batch reference, with a manifest.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "lrp/io/arrays.hpp"
#include "support/compare.hpp"
#include "support/run_cli.hpp"

namespace lrp {
namespace {

std::string refpath(const std::string& f) { return test::shared_path("reference/lrp_toolbox/LeNet-5/" + f); }

TEST(CliBatch, ExplainsEveryListedInputLikeTheBatchReference) {
  const std::string dir = test::temp_path("batch");
  std::filesystem::create_directories(dir);
  const Tensor<double> x = io::read_npy(refpath("input.npy"));
  const Tensor<double> ref = io::read_npy(refpath("epsilon_1.npy"));
  const std::size_t per = x.sample_size();
  std::ofstream list(dir + "/list.txt");
  for (std::size_t i = 0; i < 3; ++i) {
    Tensor<double> xi({1, 32, 32, 1});
    std::copy_n(x.data() + i * per, per, xi.data());
    io::write_npy(dir + "/d" + std::to_string(i) + ".npy", xi);
    list << "d" << i << ".npy\n";
  }
  list << "# a comment\n";
  list.close();
  const test::CliResult r =
      test::run_cli("batch " + test::shared_path("data/lrp_toolbox/models/MNIST/LeNet-5.txt") + " " + dir +
                    "/list.txt --rule epsilon:1 --precision double --heatmap --quiet --out-dir " + dir + "/out");
  ASSERT_EQ(r.code, 0) << r.output;
  for (std::size_t i = 0; i < 3; ++i) {
    const Tensor<double> got = io::read_npy(dir + "/out/" + std::to_string(i) + "_d" + std::to_string(i) + ".npy");
    Tensor<double> want({1, 32, 32, 1});
    std::copy_n(ref.data() + i * per, per, want.data());
    EXPECT_LT(test::max_rel_error(got, want), 1e-9);
    EXPECT_TRUE(std::filesystem::exists(dir + "/out/" + std::to_string(i) + "_d" + std::to_string(i) + ".png"));
  }
  std::ifstream manifest(dir + "/out/manifest.json");
  const std::string text((std::istreambuf_iterator<char>(manifest)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("\"target\": 7"), std::string::npos) << text;
  std::filesystem::remove_all(dir);
}

TEST(CliBatch, BadListLineIsNamed) {
  const std::string dir = test::temp_path("batch_bad");
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/list.txt") << "missing.npy\n";
  const test::CliResult r = test::run_cli("batch " + test::shared_path("data/lrp_toolbox/models/MNIST/LeNet-5.txt") + " " + dir +
                                          "/list.txt --rule z --out-dir " + dir + "/out");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("list.txt:1: "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("missing.npy"), std::string::npos) << r.output;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace lrp
