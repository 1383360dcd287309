// The README's main job: `lrp demo` runs on the shipped data and writes non-trivial heatmaps.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include "lrp/io/image.hpp"
#include "support/run_cli.hpp"

namespace lrp {
namespace {

std::size_t distinct_colours(const io::Image8& img) {
  std::set<std::uint32_t> colours;
  for (std::size_t p = 0; p + 2 < img.data.size(); p += img.channels)
    colours.insert(static_cast<std::uint32_t>(img.data[p] << 16 | img.data[p + 1] << 8 | img.data[p + 2]));
  return colours.size();
}

TEST(CliDemo, RunsOnShippedDataAndWritesHeatmaps) {
  const std::string out = test::temp_path("demo");
  const test::CliResult r = test::run_cli("demo --digits 2 --data " + test::source_path("examples/mnist") + " --out " + out);
  ASSERT_EQ(r.code, 0) << r.output;
  // LeNet-5's accuracy on the 10000 MNIST test digits (the toolbox reports 99.24 %).
  EXPECT_NE(r.output.find("accuracy 99.24 %"), std::string::npos) << r.output;
  // rules.png: 2 rows of digit + 6 heatmaps, 96 px each (32 px x3) with 2 px gaps.
  const io::Image8 rules = io::decode_image(out + "/rules.png");
  EXPECT_EQ(rules.width, 7 * 96 + 6 * 2);
  EXPECT_EQ(rules.height, 2 * 96 + 2);
  EXPECT_GT(distinct_colours(rules), 100u);
  const io::Image8 classes = io::decode_image(out + "/all_classes.png");
  EXPECT_EQ(classes.width, 11 * 96 + 10 * 2);
  EXPECT_EQ(classes.height, 96u);
  EXPECT_GT(distinct_colours(classes), 100u);
  EXPECT_TRUE(std::filesystem::exists(out + "/digit_1_rules.png"));
  std::filesystem::remove_all(out);
}

TEST(CliDemo, MissingDataIsAClearError) {
  const test::CliResult r = test::run_cli("demo --data /nonexistent --out " + test::temp_path("demo2"));
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("/nonexistent/LeNet-5.txt"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace lrp
