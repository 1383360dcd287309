// `lrp evaluate`: a relevance file and the same explanation computed in place measure alike
// (the file's NHWC layout and its K maps per sample read correctly), the curves start at the
// reference toolbox's own scores, LRP ranks pixels better than chance, and bad input is refused
// with exit 2.
#include <gtest/gtest.h>

#include <cmath>
#include <algorithm>
#include <fstream>
#include <limits>
#include <sstream>
#include <vector>

#include <nlohmann/json.hpp>

#include "lrp/io/arrays.hpp"
#include "support/run_cli.hpp"

namespace lrp {
namespace {

std::string ref(const std::string& f) { return test::shared_path("reference/lrp_toolbox/LeNet-5/" + f); }
std::string lenet() { return test::shared_path("data/lrp_toolbox/models/MNIST/LeNet-5.txt"); }

nlohmann::json last_json(const test::CliResult& r) { return nlohmann::json::parse(test::last_line(r.output)); }

void expect_same_measures(const nlohmann::json& a, const nlohmann::json& b, double tol) {
  ASSERT_EQ(a.size(), b.size()) << a.dump() << "\n" << b.dump();
  for (const auto& [key, value] : a.items())
    EXPECT_NEAR(value.get<double>(), b.at(key).get<double>(), tol * (1 + std::abs(value.get<double>()))) << key;
}

TEST(CliEvaluate, ARelevanceFileMeasuresLikeTheExplanationItHolds) {
  const std::string flip = " --region 2 --perturb-steps 20 --orders morf,random,lerf --quiet --json";
  // The toolbox's epsilon maps (float64, [16, 32, 32, 1]) against ours of the same rule.
  test::CliResult file = test::run_cli("evaluate " + lenet() + " " + ref("input.npy") + " --relevance " + ref("epsilon_0.01.npy") + flip);
  test::CliResult here = test::run_cli("evaluate " + lenet() + " " + ref("input.npy") + " --rule epsilon:0.01 --precision double" + flip);
  ASSERT_EQ(file.code, 0) << file.output;
  ASSERT_EQ(here.code, 0) << here.output;
  const nlohmann::json a = last_json(file), b = last_json(here);
  expect_same_measures(a, b, 1e-6);
  EXPECT_EQ(a.at("maps").get<int>(), 16);
  // Relevance orders the pixels better than chance: removing the most relevant first lowers
  // the score most, the least relevant first least (Samek et al.'s finding for LRP).
  EXPECT_GT(a.at("aopc_morf").get<double>(), a.at("aopc_random").get<double>());
  EXPECT_GT(a.at("aopc_random").get<double>(), a.at("aopc_lerf").get<double>());
  EXPECT_NEAR(a.at("abpc").get<double>(), a.at("aopc_morf").get<double>() - a.at("aopc_lerf").get<double>(), 1e-9);
  // Ten maps per sample ([16, 10, 32, 32, 1]), one per class.
  file = test::run_cli("evaluate " + lenet() + " " + ref("input.npy") + " --relevance " + ref("epsilon_0.01_per_class.npy") +
                       " --target all --region 4 --perturb-steps 10 --quiet --json");
  here = test::run_cli("evaluate " + lenet() + " " + ref("input.npy") +
                       " --rule epsilon:0.01 --precision double --target all --region 4 --perturb-steps 10 --quiet --json");
  ASSERT_EQ(file.code, 0) << file.output;
  ASSERT_EQ(here.code, 0) << here.output;
  expect_same_measures(last_json(file), last_json(here), 1e-6);
  EXPECT_EQ(last_json(file).at("maps").get<int>(), 160);
}

TEST(CliEvaluate, CurvesStartAtTheModelsScoreAndEndFullyPerturbed) {
  const std::string out = test::temp_path("curves.tsv");
  const test::CliResult r = test::run_cli("evaluate " + lenet() + " " + ref("input.npy") + " --relevance " + ref("epsilon_0.01.npy") +
                                          " --region 8 --perturb-steps 5 --fill -1 --quiet --out " + out);
  ASSERT_EQ(r.code, 0) << r.output;
  const Tensor<double> logits = io::read_npy(ref("output.npy"));  // the toolbox's forward, float64
  std::ifstream in(out);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "order\tmap\tsample\ttarget\tstep\tfraction\tscore");
  std::size_t rows = 0;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string order;
    std::size_t map = 0, sample = 0, target = 0, step = 0;
    double fraction = 0, score = 0;
    f >> order >> map >> sample >> target >> step >> fraction >> score;
    ASSERT_LT(sample, 16u);
    EXPECT_TRUE(order == "morf" || order == "lerf") << line;
    if (step == 0) {
      EXPECT_EQ(fraction, 0.0);
      std::size_t best = 0;  // the predicted class
      for (std::size_t c = 1; c < 10; ++c)
        if (logits[sample * 10 + c] > logits[sample * 10 + best]) best = c;
      EXPECT_EQ(target, best);
      EXPECT_NEAR(score, logits[sample * 10 + target], 1e-4 * (1 + std::abs(score)));
    }
    if (step == 5) {
      EXPECT_EQ(fraction, 1.0);  // 4 x 4 regions of 8 x 8, all replaced at the end
    }
    ++rows;
  }
  EXPECT_EQ(rows, 2u * 16u * 6u);
  std::remove(out.c_str());
}

TEST(CliEvaluate, EveryMetricOnAModelWithTwoInputs) {
  const test::CliResult r = test::run_cli("evaluate " + test::source_path("tests/fixtures/two_inputs/model.onnx") + " " +
                                          test::source_path("tests/fixtures/two_inputs/inputs.npz") +
                                          " --rule epsilon:1e-6 --metric pixel-flipping,infidelity,sensitivity --quiet --json");
  ASSERT_EQ(r.code, 0) << r.output;
  const nlohmann::json j = last_json(r);
  for (const char* key : {"aopc_morf", "aopc_lerf", "abpc", "infidelity", "normalized_infidelity", "max_sensitivity"})
    EXPECT_TRUE(j.contains(key) && std::isfinite(j.at(key).get<double>())) << key << " " << j.dump();
  EXPECT_LE(j.at("normalized_infidelity").get<double>(), j.at("infidelity").get<double>() * (1 + 1e-12));
  EXPECT_GT(j.at("max_sensitivity").get<double>(), 0.0);
  // The .npz of one relevance array per input that `lrp explain --out` writes (one target, then
  // two per sample) measures like the explanation made in place.
  const std::string model = test::source_path("tests/fixtures/two_inputs/model.onnx"), in = test::source_path("tests/fixtures/two_inputs/inputs.npz");
  for (const std::string target : {"predicted", "0,1"}) {
    const std::string file = test::temp_path("two_inputs_relevance.npz");
    test::CliResult e = test::run_cli("explain " + model + " " + in + " --rule epsilon:1e-6 --quiet --target " + target + " --out " + file);
    ASSERT_EQ(e.code, 0) << e.output;
    const test::CliResult a = test::run_cli("evaluate " + model + " " + in + " --relevance " + file + " --target " + target +
                                            " --metric pixel-flipping,infidelity --quiet --json");
    const test::CliResult b = test::run_cli("evaluate " + model + " " + in + " --rule epsilon:1e-6 --target " + target +
                                            " --metric pixel-flipping,infidelity --quiet --json");
    ASSERT_EQ(a.code, 0) << a.output;
    ASSERT_EQ(b.code, 0) << b.output;
    expect_same_measures(last_json(a), last_json(b), 1e-6);
    EXPECT_EQ(last_json(a).at("maps").get<int>(), target == "0,1" ? 6 : 3);
    std::remove(file.c_str());
  }
}

// Adebayo et al.'s sanity check on LeNet-5's four convolutions: guided backprop keeps much of
// its map with every weight random (it mostly reconstructs the input), LRP-epsilon does not.
TEST(CliEvaluate, ParameterRandomizationSeparatesGuidedBackpropFromLrp) {
  const std::string base = "evaluate " + lenet() + " " + ref("input.npy") + " --metric randomization --quiet --json ";
  const test::CliResult lrp = test::run_cli(base + "--rule epsilon:0.01");
  const test::CliResult guided = test::run_cli(base + "--method guided-backprop");
  ASSERT_EQ(lrp.code, 0) << lrp.output;
  ASSERT_EQ(guided.code, 0) << guided.output;
  const nlohmann::json a = last_json(lrp), b = last_json(guided);
  ASSERT_EQ(a.at("randomization").size(), 4u);
  EXPECT_EQ(a.at("randomization")[0].at("layer"), "9_Convolution");  // the top layer first
  EXPECT_EQ(a.at("randomization")[3].at("layer"), "0_Convolution");
  EXPECT_EQ(a.at("randomization_spearman").get<double>(), a.at("randomization")[3].at("spearman").get<double>());
  EXPECT_GT(b.at("randomization_spearman").get<double>(), a.at("randomization_spearman").get<double>() + 0.3) << a.dump() << "\n" << b.dump();
}

// The digits' strokes (input > 0) as ground truth, given as [N, H, W] positions and in the
// input's own NHWC shape: both measure the toolbox's epsilon maps as this test does by hand.
TEST(CliEvaluate, LocalizationAgainstStrokeMasks) {
  const Tensor<double> x = io::read_npy(ref("input.npy"));  // [16, 32, 32, 1]
  const Tensor<double> r = io::read_npy(ref("epsilon_0.01.npy"));
  const std::size_t n = 16, plane = 32 * 32;
  Tensor<double> full(x.shape()), positions({n, 32, 32});
  for (std::size_t i = 0; i < x.size(); ++i) full[i] = positions[i] = x[i] > 0 ? 1 : 0;
  double mass = 0, rank = 0, pointing = 0;
  for (std::size_t s = 0; s < n; ++s) {
    const double* rs = r.data() + s * plane;
    const double* ms = positions.data() + s * plane;
    double in = 0, all = 0;
    std::vector<std::size_t> idx(plane);
    std::size_t count = 0;
    for (std::size_t p = 0; p < plane; ++p) {
      all += std::max(rs[p], 0.0);
      in += ms[p] ? std::max(rs[p], 0.0) : 0.0;
      idx[p] = p;
      count += ms[p] ? 1 : 0;
    }
    std::stable_sort(idx.begin(), idx.end(), [&](std::size_t a, std::size_t b) { return rs[a] > rs[b]; });
    std::size_t hits = 0;
    for (std::size_t i = 0; i < count; ++i) hits += ms[idx[i]] ? 1 : 0;
    mass += in / all / n, rank += static_cast<double>(hits) / static_cast<double>(count) / n, pointing += (ms[idx[0]] ? 1.0 : 0.0) / n;
  }
  for (const Tensor<double>* mask : {&positions, &full}) {
    const std::string file = test::temp_path("stroke_mask.npy");
    io::write_npy(file, *mask);
    const test::CliResult res = test::run_cli("evaluate " + lenet() + " " + ref("input.npy") + " --relevance " + ref("epsilon_0.01.npy") +
                                              " --metric mass-accuracy,rank-accuracy,pointing-game --precision double --mask " + file + " --quiet --json");
    ASSERT_EQ(res.code, 0) << res.output;
    const nlohmann::json j = last_json(res);
    EXPECT_NEAR(j.at("mass_accuracy").get<double>(), mass, 1e-9);
    EXPECT_NEAR(j.at("rank_accuracy").get<double>(), rank, 1e-9);
    EXPECT_NEAR(j.at("pointing_game").get<double>(), pointing, 1e-9);
    std::remove(file.c_str());
  }
}

TEST(CliEvaluate, BadInputIsRefusedWithExitCode2) {
  const std::string nan_file = test::temp_path("nan_relevance.npy");
  Tensor<double> nan_map = io::read_npy(ref("epsilon_0.01.npy"));
  nan_map[5] = std::numeric_limits<double>::quiet_NaN();
  io::write_npy(nan_file, nan_map);
  const std::string base = "evaluate " + lenet() + " " + ref("input.npy") + " ";
  const std::string rel = " --relevance " + ref("epsilon_0.01.npy");
  struct Case {
    std::string args, message;
  };
  const Case cases[] = {
      {rel + " --metric flips", "unknown metric 'flips'"},
      {rel + " --fill grey", "fill 'grey'"},
      {rel + " --orders up", "unknown order 'up'"},
      {" --relevance " + ref("output.npy"), "does not fit the input"},
      {" --relevance /nonexistent/r.npy", "/nonexistent/r.npy"},
      {" --relevance " + nan_file, "NaN"},
      {rel + " --rule epsilon:0.01", "not both"},
      {rel + " --metric sensitivity", "reruns the explanation"},
      {rel + " --metric randomization", "randomization reruns the explanation"},
      {rel + " --target all", "maps per sample"},
      {rel + " --target relevance:" + ref("R_init.npy"), "no score to follow"},
      {rel + " --metric infidelity --out x.tsv", "--out writes the pixel-flipping curves"},
      {rel + " --metric infidelity --infidelity-noise -1", "--infidelity-noise"},
      {" --rule nosuchrule", "nosuchrule"},
      {rel + " --metric pointing-game", "need --mask FILE"},
      {rel + " --mask " + ref("input.npy"), "--mask is read by"},
      {rel + " --metric mass-accuracy --mask " + ref("output.npy"), "fits neither the input's positions"},
  };
  for (const Case& c : cases) {
    const test::CliResult r = test::run_cli(base + c.args);
    EXPECT_EQ(r.code, 2) << c.args << "\n" << r.output;
    EXPECT_NE(r.output.find(c.message), std::string::npos) << c.args << "\n" << r.output;
  }
  const test::CliResult tokens = test::run_cli("evaluate " + test::source_path("tests/fixtures/gpt/model.onnx") + " " +
                                               test::source_path("tests/fixtures/gpt/input.npy") + " --rule epsilon:1e-6");
  EXPECT_EQ(tokens.code, 2);
  EXPECT_NE(tokens.output.find("reads token ids"), std::string::npos) << tokens.output;
  std::remove(nan_file.c_str());
}

}  // namespace
}  // namespace lrp
