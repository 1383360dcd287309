// bench/peers/compare.sh: how its table combines the rounds (--rounds). A stand-in for `lrp`
// prints a different result each round; no real benchmark runs and nothing is timed.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "support/run_cli.hpp"

namespace lrp {
namespace {

namespace fs = std::filesystem;

test::CliResult run_compare(const std::string& args) {
  return test::run_command("PYTHON=/usr/bin/python3 bash " + test::source_path("bench/peers/compare.sh") + " " + args);
}

// A directory with a model file and a stand-in `lrp bench` whose k-th call prints the k-th of
// the given JSON lines.
struct FakeRun {
  fs::path dir = test::temp_path("compare");
  explicit FakeRun(const std::vector<std::string>& json_lines) {
    fs::create_directories(dir / "models");
    std::ofstream(dir / "models" / "mlp.onnx") << "stand-in";
    std::ofstream script(dir / "lrp");
    script << "#!/usr/bin/env bash\nn=$(cat '" << (dir / "count").string() << "' 2>/dev/null || echo 0)\n"
           << "echo $((n + 1)) > '" << (dir / "count").string() << "'\n"
           << "sed -n \"$((n + 1))p\" '" << (dir / "lines").string() << "'\n";
    script.close();
    fs::permissions(dir / "lrp", fs::perms::owner_all);
    std::ofstream lines(dir / "lines");
    for (const std::string& l : json_lines) lines << l << "\n";
  }
  ~FakeRun() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  std::string args(const std::string& more) const {
    return "--lrp-only --lrp " + (dir / "lrp").string() + " --model-dir " + (dir / "models").string() +
           " --models mlp --batches 1 --composites epsilon_plus_flat --runs 1 --warmup 0 " + more;
  }
};

std::string row(double forward, double gradient, double lrp, double peak) {
  return "{\"batch\":1,\"forward_ms\":" + std::to_string(forward) + ",\"gradient_ms\":" + std::to_string(gradient) +
         ",\"lrp_ms\":" + std::to_string(lrp) + ",\"peak_rss_mb\":" + std::to_string(peak) + "}";
}

TEST(PeerCompare, RoundsGiveEachToolsFastestMedianAndTheMedianMemory) {
  if (!fs::exists("/usr/bin/python3")) GTEST_SKIP() << "compare.sh needs /usr/bin/python3";
  // Round 1 is slower in forward and LRP, round 2 in the gradient; memory 30, 10, 20.
  FakeRun run({row(4, 1, 9, 30), row(2, 3, 5, 10), row(3, 2, 7, 20)});
  const test::CliResult r = run_compare(run.args("--rounds 3"));
  ASSERT_EQ(r.code, 0) << r.output;
  // The last column, lrp's own LRP / forward, divides the two fastest rounds: 5 / 2.
  EXPECT_NE(r.output.find("| mlp | 1 | epsilon_plus_flat | 2.00 / n/a | 1.00 / n/a | 5.00 / n/a | n/a | n/a | 20 / n/a | n/a | 2.50 |"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("the fastest of 3 rounds"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("(round 3)"), std::string::npos) << r.output;
}

TEST(PeerCompare, ARoundThatFailedLeavesTheRowWithoutAFigure) {
  if (!fs::exists("/usr/bin/python3")) GTEST_SKIP() << "compare.sh needs /usr/bin/python3";
  FakeRun run({row(4, 1, 9, 30), "not json"});
  const test::CliResult r = run_compare(run.args("--rounds 2"));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("| mlp | 1 | epsilon_plus_flat | n/a / n/a | n/a / n/a | n/a / n/a | n/a | n/a | n/a / n/a | n/a | n/a |"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("last line: not json"), std::string::npos) << r.output;
}

TEST(PeerCompare, OneRoundIsTheTableAsBefore) {
  if (!fs::exists("/usr/bin/python3")) GTEST_SKIP() << "compare.sh needs /usr/bin/python3";
  FakeRun run({row(4, 1, 9, 30)});
  const test::CliResult r = run_compare(run.args(""));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("| mlp | 1 | epsilon_plus_flat | 4.00 / n/a | 1.00 / n/a | 9.00 / n/a | n/a | n/a | 30 / n/a | n/a | 2.25 |"),
            std::string::npos)
      << r.output;
  EXPECT_EQ(r.output.find("rounds"), std::string::npos) << r.output;
}

TEST(PeerCompare, RoundsMustBeAPositiveWholeNumber) {
  for (const char* bad : {"0", "two", "-1"}) {
    const test::CliResult r = run_compare(std::string("--lrp-only --lrp /bin/true --rounds ") + bad);
    EXPECT_EQ(r.code, 2) << bad << ": " << r.output;
    EXPECT_NE(r.output.find("--rounds needs a whole number"), std::string::npos) << r.output;
  }
}

}  // namespace
}  // namespace lrp
