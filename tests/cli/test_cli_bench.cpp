// `lrp bench`: the JSON contract of its last stdout line, the phase selection, the per-node
// profile and its bad-input errors. Nothing here checks a time (benchmarks are not tests).
#include <gtest/gtest.h>

#include <cstdlib>
#include <nlohmann/json.hpp>

#include "lrp/core/kernels.hpp"
#include "support/run_cli.hpp"

namespace lrp {
namespace {

std::string lenet() { return test::shared_path("data/lrp_toolbox/models/MNIST/LeNet-5.txt"); }

TEST(CliBench, LastLineIsTheJsonSummary) {
  const test::CliResult r = test::run_cli("bench " + lenet() + " --rule epsilon:0.01 --batch 3 --runs 2 --warmup 0 --threads 1 --json");
  ASSERT_EQ(r.code, 0) << r.output;
  const nlohmann::json j = nlohmann::json::parse(test::last_line(r.output));
  EXPECT_EQ(j.at("batch").get<int>(), 3);
  for (const char* key : {"forward_ms", "gradient_ms", "lrp_ms", "peak_rss_mb"}) {
    ASSERT_TRUE(j.contains(key)) << key;
    EXPECT_GT(j.at(key).get<double>(), 0.0) << key;
  }
  EXPECT_EQ(j.at("input_shape"), nlohmann::json::array({1, 32, 32}));
  EXPECT_EQ(j.at("rule_precision"), "float32");
  EXPECT_EQ(j.at("lrp_sample_passes").get<int>(), 1);  // three digits are far below the pass budget
  // peak_rss_mb is the whole process's peak: at least that of loading and of the timed calls.
  EXPECT_EQ(j.at("peak_rss_scope"), "process");
  EXPECT_GE(j.at("peak_rss_mb").get<double>(), j.at("load_peak_rss_mb").get<double>());
  if (j.contains("run_peak_rss_mb")) {
    EXPECT_GE(j.at("peak_rss_mb").get<double>(), j.at("run_peak_rss_mb").get<double>());
  }
}

// A text model's random input is token ids of its vocabulary (random normal numbers would be
// refused by its embedding); the forward FLOPs count the Linear rows and attention products.
TEST(CliBench, TextModelsGetRandomTokenIds) {
  const test::CliResult r = test::run_cli("bench " + test::source_path("tests/fixtures/bert/model.onnx") +
                                          " --composite attnlrp --batch 2 --runs 1 --warmup 0 --threads 1 --json");
  ASSERT_EQ(r.code, 0) << r.output;
  const nlohmann::json j = nlohmann::json::parse(test::last_line(r.output));
  EXPECT_EQ(j.at("input_shape"), nlohmann::json::array({8}));
  EXPECT_GT(j.at("forward_gflop").get<double>(), 0.0);
  EXPECT_GT(j.at("lrp_ms").get<double>(), 0.0);
}

TEST(CliBench, AllTargetsAndSelectedPhasesWithAProfileOfEveryNode) {
  const test::CliResult r =
      test::run_cli("bench " + lenet() + " --composite epsilon_plus_flat --target all --phases lrp --profile --runs 1 --warmup 0 --threads 1 --json");
  ASSERT_EQ(r.code, 0) << r.output;
  const nlohmann::json j = nlohmann::json::parse(test::last_line(r.output));
  EXPECT_GT(j.at("lrp_ms").get<double>(), 0.0);
  EXPECT_EQ(j.at("forward_ms").get<double>(), 0.0);  // not timed
  EXPECT_EQ(j.at("gradient_ms").get<double>(), 0.0);
  // One profile row per node of LeNet-5 (the trailing SoftMax is dropped for explaining).
  for (const char* row : {"layer 0 (Convolution", "layer 1 (Rect", "layer 2 (SumPool", "layer 9 (Convolution", "total"})
    EXPECT_NE(r.output.find(row), std::string::npos) << row << "\n" << r.output;
}

// --phases forward alone profiles the forward-only call: no relevance column, and the sums
// of the residual blocks run with their ReLUs (the ReLU rows show 0).
TEST(CliBench, ForwardPhaseAloneProfilesTheForwardCall) {
  const test::CliResult r = test::run_cli("bench synthetic:resnet50 --phases forward --profile --runs 1 --warmup 0 --threads 1");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("profile of the forward call"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("profile of the lrp call"), std::string::npos) << r.output;
  const std::size_t row = r.output.find("layer 10 (Rect 'layer1.0.relu3')");  // after layer1.0.add
  ASSERT_NE(row, std::string::npos) << r.output;
  const std::string line = r.output.substr(row, r.output.find('\n', row) - row);
  EXPECT_NE(line.find(" 0.000      0.000"), std::string::npos) << line;
}

TEST(CliBench, RulePrecisionIsReported) {
  const test::CliResult r =
      test::run_cli("bench " + lenet() + " --rule epsilon:0.01 --rule-precision bf16 --phases lrp --runs 1 --warmup 0 --threads 1 --json");
  ASSERT_EQ(r.code, 0) << r.output;
  const nlohmann::json j = nlohmann::json::parse(test::last_line(r.output));
  EXPECT_EQ(j.at("rule_precision"), "bf16");
  EXPECT_EQ(j.at("rule_precision_native"), rule_precision_native(RulePrecision::BFloat16));
  // What multiplies bfloat16 here: named, and "none" exactly where bf16 is not native.
  const std::string hw = j.at("bf16_hardware");
  EXPECT_TRUE(hw == "amx" || hw == "avx512_bf16" || hw == "none") << hw;
  EXPECT_EQ(hw == "none", !rule_precision_native(RulePrecision::BFloat16)) << hw;
  EXPECT_NE(r.output.find(std::string("rules ") + (hw == "none" ? "float32" : "bf16 (" + hw + ")")), std::string::npos) << r.output;
  // The environment's setting, and a value it cannot take named in a warning.
  ::setenv("LRP_RULE_PRECISION", "bf16", 1);
  const test::CliResult env = test::run_cli("bench " + lenet() + " --rule epsilon:0.01 --phases lrp --runs 1 --warmup 0 --threads 1 --json");
  ::setenv("LRP_RULE_PRECISION", "half", 1);
  const test::CliResult bad = test::run_cli("bench " + lenet() + " --rule epsilon:0.01 --phases lrp --runs 1 --warmup 0 --threads 1 --json");
  ::unsetenv("LRP_RULE_PRECISION");
  ASSERT_EQ(env.code, 0) << env.output;
  EXPECT_EQ(nlohmann::json::parse(test::last_line(env.output)).at("rule_precision"), "bf16");
  ASSERT_EQ(bad.code, 0) << bad.output;
  EXPECT_NE(bad.output.find("LRP_RULE_PRECISION='half' is neither float32 nor bf16"), std::string::npos) << bad.output;
  EXPECT_EQ(nlohmann::json::parse(test::last_line(bad.output)).at("rule_precision"), "float32");
}

TEST(CliBench, BadInputsExitWithTwoAndSayWhat) {
  const test::CliResult phase = test::run_cli("bench " + lenet() + " --phases forward,backward");
  EXPECT_EQ(phase.code, 2);
  EXPECT_NE(phase.output.find("backward"), std::string::npos) << phase.output;
  const test::CliResult rule = test::run_cli("bench " + lenet() + " --rule nonsense");
  EXPECT_EQ(rule.code, 2);
  EXPECT_NE(rule.output.find("nonsense"), std::string::npos) << rule.output;
  const test::CliResult missing = test::run_cli("bench /nonexistent/model.txt");
  EXPECT_EQ(missing.code, 2);
  EXPECT_NE(missing.output.find("/nonexistent/model.txt"), std::string::npos) << missing.output;
  const test::CliResult precision = test::run_cli("bench " + lenet() + " --rule-precision half");
  EXPECT_EQ(precision.code, 2);
  EXPECT_NE(precision.output.find("unknown rule precision 'half'"), std::string::npos) << precision.output;
  const test::CliResult batch = test::run_cli("bench " + lenet() + " --batch 0");
  EXPECT_EQ(batch.code, 2);
  EXPECT_NE(batch.output.find("--batch"), std::string::npos) << batch.output;
  // A team of 100000 threads crashed the OpenMP runtime (SIGSEGV) before any work.
  const test::CliResult threads = test::run_cli("bench " + lenet() + " --threads 100000 --runs 1 --warmup 0");
  EXPECT_EQ(threads.code, 2);
  EXPECT_NE(threads.output.find("--threads 100000 is more than 1024"), std::string::npos) << threads.output;
  const test::CliResult runs = test::run_cli("bench " + lenet() + " --runs -1");  // was 2^64 - 1 calls
  EXPECT_EQ(runs.code, 2);
  EXPECT_NE(runs.output.find("--runs: Value -1 not in range 1 to 1000000"), std::string::npos) << runs.output;
}

// Environment values the tool cannot take are named in a warning, and the run goes on with the
// default (they were silently read as another setting: LRP_CONV_ALGO=foo as direct,
// LRP_WEIGHT_CACHE_MB=-1 as 2^64 - 1 bytes) or, for OMP_NUM_THREADS=100000 (which crashed the
// OpenMP runtime), with 1024 threads.
TEST(CliBench, EnvironmentValuesItCannotTakeAreNamedInAWarning) {
  // --threads 2: the capped team of 1024 runs too (checked by hand), but not under ASan here.
  const std::string run = "bench " + lenet() + " --rule epsilon:0.01 --phases lrp --runs 1 --warmup 0 --threads 2 --json";
  const struct {
    const char *name, *value, *warning;
  } cases[] = {
      {"LRP_CONV_ALGO", "foo", "LRP_CONV_ALGO='foo' is none of direct, winograd, auto, reference; convolutions use auto"},
      {"LRP_WEIGHT_CACHE_MB", "-1", "LRP_WEIGHT_CACHE_MB='-1' is not a whole number of MiB; the default budget applies"},
      {"OMP_NUM_THREADS", "100000", "OMP_NUM_THREADS asks for 100000 threads; using 1024"},
  };
  for (const auto& c : cases) {
    const char* before = std::getenv(c.name);
    const std::string saved = before ? before : "";
    ::setenv(c.name, c.value, 1);
    const test::CliResult r = test::run_cli(run);
    if (before) ::setenv(c.name, saved.c_str(), 1);
    else ::unsetenv(c.name);
    EXPECT_EQ(r.code, 0) << c.name << "\n" << r.output;
    EXPECT_NE(r.output.find(c.warning), std::string::npos) << r.output;
    EXPECT_GT(nlohmann::json::parse(test::last_line(r.output)).at("lrp_ms").get<double>(), 0.0) << c.name;
  }
}

// A batch that cannot fit in any machine's memory (LeNet-5: 4 KiB of input and 23 KiB of
// first-layer output per sample, times 1e12 samples) is refused before its input is made,
// instead of filling memory for minutes and then failing to allocate.
TEST(CliBench, ABatchBeyondTheMachinesMemoryIsRefusedUpFront) {
  const test::CliResult huge = test::run_cli("bench " + lenet() + " --batch 1000000000000 --runs 1 --warmup 0");
  EXPECT_EQ(huge.code, 2);
  EXPECT_NE(huge.output.find("--batch 1000000000000 needs at least"), std::string::npos) << huge.output;
  EXPECT_NE(huge.output.find("GiB of memory"), std::string::npos) << huge.output;
}

}  // namespace
}  // namespace lrp
