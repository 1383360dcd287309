// `lrp batch`: a file list equals the references item by item, with a manifest, whichever way
// its inputs are grouped into calls; a bad input is named by its list line.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <cmath>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "lrp/io/arrays.hpp"
#include "lrp/io/image.hpp"
#include "support/compare.hpp"
#include "support/run_cli.hpp"

namespace lrp {
namespace {

std::string refpath(const std::string& f) { return test::shared_path("reference/lrp_toolbox/LeNet-5/" + f); }

// A language model's prompts, one file each: --region position:-1 explains the next token (the
// predicted one, or the line's class), as the AttnLRP reference of tests/fixtures/gpt does.
TEST(CliBatch, LanguageModelPromptsAtTheirLastPosition) {
  const std::string dir = test::temp_path("batch_lm");
  std::filesystem::create_directories(dir);
  const Tensor<double> ids = io::read_npy(test::source_path("tests/fixtures/gpt/input.npy"));
  const Tensor<double> want = io::read_npy(test::source_path("tests/fixtures/gpt/attnlrp.npy"));
  std::ofstream list(dir + "/list.txt");
  for (std::size_t i = 0; i < 2; ++i) {
    Tensor<double> one({1, 8});
    std::copy_n(ids.data() + i * 8, 8, one.data());
    io::write_npy(dir + "/p" + std::to_string(i) + ".npy", one);
    list << "p" << i << ".npy 7\n";
  }
  list.close();
  test::CliResult r = test::run_cli("batch " + test::source_path("tests/fixtures/gpt/model_all_positions.onnx") + " " + dir +
                                    "/list.txt --composite attnlrp:1e-12 --region position:-1 --precision double --quiet --out-dir " + dir + "/out");
  ASSERT_EQ(r.code, 0) << r.output;
  for (std::size_t i = 0; i < 2; ++i) {
    const Tensor<double> got = io::read_npy(dir + "/out/" + std::to_string(i) + "_p" + std::to_string(i) + ".npy");
    ASSERT_EQ(got.size(), 8u);
    for (std::size_t t = 0; t < 8; ++t) EXPECT_NEAR(got[t], want[i * 8 + t], 1e-8 * (1 + std::abs(want[i * 8 + t])));
  }
  r = test::run_cli("batch " + test::source_path("tests/fixtures/gpt/model_all_positions.onnx") + " " + dir +
                    "/list.txt --composite attnlrp --region position:x --out-dir " + dir + "/out2");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("position"), std::string::npos) << r.output;
  std::filesystem::remove_all(dir);
}

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
  // The float path with bfloat16 rule convolutions (where the CPU has them): within 1%.
  const test::CliResult rb =
      test::run_cli("batch " + test::shared_path("data/lrp_toolbox/models/MNIST/LeNet-5.txt") + " " + dir +
                    "/list.txt --rule epsilon:1 --rule-precision bf16 --quiet --out-dir " + dir + "/out_bf16");
  ASSERT_EQ(rb.code, 0) << rb.output;
  for (std::size_t i = 0; i < 3; ++i) {
    Tensor<double> want({1, 32, 32, 1});
    std::copy_n(ref.data() + i * per, per, want.data());
    EXPECT_LT(test::max_rel_error(io::read_npy(dir + "/out_bf16/" + std::to_string(i) + "_d" + std::to_string(i) + ".npy"), want),
              1e-2);
  }
  std::ifstream manifest(dir + "/out/manifest.json");
  const std::string text((std::istreambuf_iterator<char>(manifest)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("\"target\": 7"), std::string::npos) << text;
  std::filesystem::remove_all(dir);
}

// Six digits in passes of four and two, some with a listed class and some with none (the
// predicted one), against the toolbox's per-class epsilon maps (double precision, 1e-9).
TEST(CliBatch, PassesMixingListedAndPredictedClassesEqualThePerClassReference) {
  const std::string dir = test::temp_path("batch_passes");
  std::filesystem::create_directories(dir);
  const Tensor<double> x = io::read_npy(refpath("input.npy"));
  const Tensor<double> ref = io::read_npy(refpath("epsilon_0.01_per_class.npy"));  // [N, 10, 32, 32, 1]
  const Tensor<double> predicted = io::read_npy(refpath("target.npy"));
  const std::size_t per = x.sample_size(), n = 6;
  std::vector<std::size_t> want_class(n);
  std::ofstream list(dir + "/list.txt");
  for (std::size_t i = 0; i < n; ++i) {
    io::write_npy(dir + "/d" + std::to_string(i) + ".npy", x.rows(i, 1));
    list << "d" << i << ".npy";
    if (i % 2 == 1) list << " " << (3 * i) % 10;
    list << "\n";
    want_class[i] = i % 2 == 1 ? (3 * i) % 10 : static_cast<std::size_t>(predicted[i]);
  }
  list.close();
  const test::CliResult r =
      test::run_cli("batch " + test::shared_path("data/lrp_toolbox/models/MNIST/LeNet-5.txt") + " " + dir +
                    "/list.txt --rule epsilon:0.01 --precision double --batch-size 4 --quiet --out-dir " + dir + "/out");
  ASSERT_EQ(r.code, 0) << r.output;
  std::ifstream manifest(dir + "/out/manifest.json");
  const nlohmann::json m = nlohmann::json::parse(manifest);
  ASSERT_EQ(m.size(), n);
  for (std::size_t i = 0; i < n; ++i) {
    EXPECT_EQ(m[i]["target"].get<std::size_t>(), want_class[i]) << "input " << i;
    const Tensor<double> got = io::read_npy(dir + "/out/" + std::to_string(i) + "_d" + std::to_string(i) + ".npy");
    Tensor<double> want({1, 32, 32, 1});
    std::copy_n(ref.data() + (i * 10 + want_class[i]) * per, per, want.data());
    EXPECT_LT(test::max_rel_error(got, want), 1e-9) << "input " << i;
  }
  std::filesystem::remove_all(dir);
}

// In a pass of several inputs, the error of one (NaN, a class out of range) names its line.
TEST(CliBatch, BadInputInsideAPassIsNamedByItsLine) {
  const std::string dir = test::temp_path("batch_bad_pass");
  std::filesystem::create_directories(dir);
  const Tensor<double> x = io::read_npy(refpath("input.npy"));
  Tensor<double> bad = x.rows(0, 1);
  bad[17] = std::nan("");
  io::write_npy(dir + "/good.npy", x.rows(0, 1));
  io::write_npy(dir + "/bad.npy", bad);
  const std::string model = test::shared_path("data/lrp_toolbox/models/MNIST/LeNet-5.txt");
  std::ofstream(dir + "/nan.txt") << "good.npy\ngood.npy\nbad.npy\ngood.npy\n";
  test::CliResult r = test::run_cli("batch " + model + " " + dir + "/nan.txt --rule z --batch-size 4 --out-dir " + dir + "/out");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("nan.txt:3: "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("NaN"), std::string::npos) << r.output;
  std::ofstream(dir + "/class.txt") << "good.npy 1\ngood.npy 10\n";
  r = test::run_cli("batch " + model + " " + dir + "/class.txt --rule z --out-dir " + dir + "/out");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("class.txt:2: "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("out of range"), std::string::npos) << r.output;
  std::filesystem::remove_all(dir);
}

// --keep-going: the bad inputs (NaN, missing, a class out of range) are skipped, each named by
// its line in a warning and in the manifest, the others explained as without them; exit code 2.
TEST(CliBatch, KeepGoingSkipsBadInputsAndExplainsTheRest) {
  const std::string dir = test::temp_path("batch_keep_going");
  std::filesystem::create_directories(dir);
  const Tensor<double> x = io::read_npy(refpath("input.npy"));
  const Tensor<double> ref = io::read_npy(refpath("epsilon_1.npy"));
  Tensor<double> bad = x.rows(0, 1);
  bad[17] = std::nan("");
  io::write_npy(dir + "/good.npy", x.rows(0, 1));
  io::write_npy(dir + "/bad.npy", bad);
  std::ofstream(dir + "/list.txt") << "good.npy\nbad.npy\nmissing.npy\ngood.npy 10\ngood.npy\n";
  const std::string run = "batch " + test::shared_path("data/lrp_toolbox/models/MNIST/LeNet-5.txt") + " " + dir +
                          "/list.txt --rule epsilon:1 --precision double --batch-size 4 --out-dir " + dir + "/out";
  const test::CliResult r = test::run_cli(run + " --keep-going");
  EXPECT_EQ(r.code, 2);
  for (const std::string line : {"list.txt:2: ", "list.txt:3: ", "list.txt:4: "}) {
    const std::size_t at = r.output.find(line);
    ASSERT_NE(at, std::string::npos) << r.output;
    EXPECT_NE(r.output.rfind("lrp: warning: ", at), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("(skipped)", at), std::string::npos) << r.output;
  }
  EXPECT_NE(r.output.find("3 of 5 inputs could not be explained"), std::string::npos) << r.output;
  for (const std::string f : {"0_good.npy", "4_good.npy"}) EXPECT_LT(test::max_rel_error(io::read_npy(dir + "/out/" + f), ref.rows(0, 1)), 1e-9);
  EXPECT_FALSE(std::filesystem::exists(dir + "/out/1_bad.npy"));
  std::ifstream in(dir + "/out/manifest.json");
  const nlohmann::json manifest = nlohmann::json::parse(in);
  ASSERT_EQ(manifest.size(), 5u);
  EXPECT_EQ(manifest[0]["relevance"], "0_good.npy");
  EXPECT_NE(manifest[1]["error"].get<std::string>().find("NaN"), std::string::npos);
  EXPECT_NE(manifest[2]["error"].get<std::string>().find("missing.npy"), std::string::npos);
  EXPECT_NE(manifest[3]["error"].get<std::string>().find("out of range"), std::string::npos);
  EXPECT_EQ(manifest[4]["relevance"], "4_good.npy");
  // Without it the first bad input stops the run.
  EXPECT_EQ(test::run_cli(run).code, 2);
  // A finite input that overflows the float forward (the digit times 1e37): its relevance is NaN.
  // It stops the run, naming its line, or is skipped; its pass-mates are still written.
  Tensor<double> huge_digit = x.rows(0, 1);
  for (double& v : huge_digit) v *= 1e37;
  io::write_npy(dir + "/huge.npy", huge_digit);
  std::ofstream(dir + "/huge.txt") << "good.npy\nhuge.npy\ngood.npy\n";
  const std::string huge = "batch " + test::shared_path("data/lrp_toolbox/models/MNIST/LeNet-5.txt") + " " + dir +
                           "/huge.txt --rule epsilon:1 --batch-size 3 --out-dir " + dir + "/out_huge";
  test::CliResult h = test::run_cli(huge);
  EXPECT_EQ(h.code, 2);
  EXPECT_NE(h.output.find("huge.txt:2: the relevance contains NaN or Inf"), std::string::npos) << h.output;
  h = test::run_cli(huge + " --keep-going");
  EXPECT_EQ(h.code, 2);
  EXPECT_NE(h.output.find("1 of 3 inputs"), std::string::npos) << h.output;
  EXPECT_TRUE(std::filesystem::exists(dir + "/out_huge/2_good.npy"));
  EXPECT_FALSE(std::filesystem::exists(dir + "/out_huge/1_huge.npy"));
  std::filesystem::remove_all(dir);
}

// An input that fails inside a pass (a token id beyond the vocabulary, found by the model's
// embedding): --keep-going explains the pass's inputs one by one and skips only that one; the
// others equal their AttnLRP reference.
TEST(CliBatch, KeepGoingRetriesAFailedPassInputByInput) {
  const std::string dir = test::temp_path("batch_keep_going_pass");
  std::filesystem::create_directories(dir);
  const Tensor<double> ids = io::read_npy(test::source_path("tests/fixtures/gpt/input.npy"));
  const Tensor<double> want = io::read_npy(test::source_path("tests/fixtures/gpt/attnlrp.npy"));
  Tensor<double> bad = ids.rows(0, 1);
  bad[3] = 999;  // the vocabulary has 50 tokens
  io::write_npy(dir + "/p0.npy", ids.rows(0, 1));
  io::write_npy(dir + "/bad.npy", bad);
  io::write_npy(dir + "/p1.npy", ids.rows(1, 1));
  std::ofstream(dir + "/list.txt") << "p0.npy 7\nbad.npy\np1.npy 7\n";
  const std::string run = "batch " + test::source_path("tests/fixtures/gpt/model_all_positions.onnx") + " " + dir +
                          "/list.txt --composite attnlrp:1e-12 --region position:-1 --precision double --batch-size 3 --out-dir " + dir + "/out";
  test::CliResult r = test::run_cli(run);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("list.txt:1-3: "), std::string::npos) << r.output;  // the pass, without --keep-going
  r = test::run_cli(run + " --keep-going");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("list.txt:2: token id 999 is not an integer in [0, 50)"), std::string::npos) << r.output;
  for (const auto& [file, row] : {std::pair{std::string("0_p0.npy"), std::size_t{0}}, std::pair{std::string("2_p1.npy"), std::size_t{1}}}) {
    const Tensor<double> got = io::read_npy(dir + "/out/" + file);
    ASSERT_EQ(got.size(), 8u);
    for (std::size_t t = 0; t < 8; ++t) EXPECT_NEAR(got[t], want[row * 8 + t], 1e-8 * (1 + std::abs(want[row * 8 + t])));
  }
  EXPECT_FALSE(std::filesystem::exists(dir + "/out/1_bad.npy"));
  std::filesystem::remove_all(dir);
}

// Concepts over a list: each input's maps and manifest entry equal `lrp explain`'s on that input
// alone, and concept_references.tsv lists, per channel, the inputs where the channel holds the
// most relevance, as the relevance arriving at the layer (`lrp explain --at`, the whole set in
// one call) says. Inputs run two per pass.
TEST(CliBatch, ConceptsPerInputAndReferenceInputsPerChannel) {
  const std::string dir = test::temp_path("batch_concepts");
  std::filesystem::create_directories(dir);
  const std::string lenet = test::shared_path("data/lrp_toolbox/models/MNIST/LeNet-5.txt");
  const Tensor<double> x = io::read_npy(refpath("input.npy"));
  const std::size_t per = x.sample_size(), n = 5;
  std::ofstream list(dir + "/list.txt");
  Tensor<double> all({n, 32, 32, 1});
  for (std::size_t i = 0; i < n; ++i) {
    Tensor<double> xi({1, 32, 32, 1});
    std::copy_n(x.data() + i * per, per, xi.data());
    std::copy_n(x.data() + i * per, per, all.data() + i * per);
    io::write_npy(dir + "/d" + std::to_string(i) + ".npy", xi);
    list << "d" << i << ".npy\n";
  }
  list.close();
  io::write_npy(dir + "/all.npy", all);
  const std::string rule = " --rule epsilon:0.01 --precision double --quiet ";
  test::CliResult r = test::run_cli("batch " + lenet + " " + dir + "/list.txt" + rule +
                                    "--concept-layer 6 --concepts top:2 --references 3 --batch-size 2 --heatmap --out-dir " + dir + "/out");
  ASSERT_EQ(r.code, 0) << r.output;
  std::ifstream mf(dir + "/out/manifest.json");
  const nlohmann::json manifest = nlohmann::json::parse(mf);
  ASSERT_EQ(manifest.size(), n);
  for (std::size_t i = 0; i < n; ++i) {
    SCOPED_TRACE("input " + std::to_string(i));
    const std::string alone = dir + "/alone.npy", table = dir + "/alone.tsv";
    r = test::run_cli("explain " + lenet + " " + dir + "/d" + std::to_string(i) + ".npy" + rule +
                      "--concept-layer 6 --concepts top:2 --out " + alone + " --concept-table " + table);
    ASSERT_EQ(r.code, 0) << r.output;
    const Tensor<double> got = io::read_npy(dir + "/out/" + manifest[i]["relevance"].get<std::string>());
    EXPECT_EQ(got.shape(), (Shape{1, 2, 32, 32, 1}));
    EXPECT_LT(test::max_rel_error(got, io::read_npy(alone)), 1e-12);
    std::ifstream t(table);
    std::string header, line;
    std::getline(t, header);
    for (std::size_t j = 0; j < 2 && std::getline(t, line); ++j) {
      std::istringstream fields(line);
      std::size_t sample = 0, map = 0, channel = 0;
      fields >> sample >> map >> channel;
      EXPECT_EQ(manifest[i]["concepts"][j]["channels"], nlohmann::json::array({channel})) << line;
    }
    EXPECT_TRUE(std::filesystem::exists(dir + "/out/" + manifest[i]["heatmap"].get<std::string>()));
  }
  // Reference inputs against the relevance arriving at layer 6, [5, 100, 2, 2] (NCHW).
  r = test::run_cli("explain " + lenet + " " + dir + "/all.npy" + rule + "--at 6_Convolution --out " + dir + "/at.npy");
  ASSERT_EQ(r.code, 0) << r.output;
  const Tensor<double> at = io::read_npy(dir + "/at.npy");
  ASSERT_EQ(at.size(), n * 100 * 4);
  std::ifstream refs(dir + "/out/concept_references.tsv");
  std::string line;
  std::getline(refs, line);
  EXPECT_EQ(line, "channel\trank\tline\tinput\tlayer_relevance");
  std::size_t rows = 0;
  while (std::getline(refs, line)) {
    std::istringstream fields(line);
    std::size_t channel = 0, rank = 0, list_line = 0;
    std::string input;
    double relevance = 0;
    fields >> channel >> rank >> list_line >> input >> relevance;
    std::vector<std::pair<double, std::size_t>> held;  // (relevance, list line) of every input
    for (std::size_t i = 0; i < n; ++i) {
      double sum = 0;
      for (std::size_t p = 0; p < 4; ++p) sum += at[(i * 100 + channel) * 4 + p];
      held.push_back({sum, i + 1});
    }
    std::stable_sort(held.begin(), held.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    EXPECT_EQ(list_line, held[rank].second) << line;
    EXPECT_NEAR(relevance, held[rank].first, 1e-8 * (1 + std::abs(held[rank].first))) << line;  // 9 digits written
    EXPECT_EQ(input, dir + "/d" + std::to_string(list_line - 1) + ".npy");
    ++rows;
  }
  EXPECT_EQ(rows, 100 * 3u);
  // Refused: a layer the model lacks (named with the list lines of the pass), options without a layer.
  r = test::run_cli("batch " + lenet + " " + dir + "/list.txt" + rule + "--concept-layer 99 --out-dir " + dir + "/bad");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("concept layer '99' names no layer"), std::string::npos) << r.output;
  r = test::run_cli("batch " + lenet + " " + dir + "/list.txt" + rule + "--references 3 --out-dir " + dir + "/bad");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("need --concept-layer"), std::string::npos) << r.output;
  std::filesystem::remove_all(dir);
}

// A GRU classifier (imported as a batch of one): each listed sequence's map equals the fixture's
// reference for its class, and its heatmap is a T x D image.
TEST(CliBatch, RecurrentModelMapsAndHeatmaps) {
  const std::string dir = test::temp_path("batch_gru"), fx = test::source_path("tests/fixtures/gru/");
  std::filesystem::create_directories(dir);
  const Tensor<double> x = io::read_npy(fx + "uni_input.npy"), want = io::read_npy(fx + "uni_lrp_eps.npy");  // [2, 7, 5]
  std::ofstream list(dir + "/list.txt");
  for (std::size_t i = 0; i < 2; ++i) {
    io::write_npy(dir + "/s" + std::to_string(i) + ".npy", x.rows(i, 1));
    list << "s" << i << ".npy 1\n";
  }
  list.close();
  const test::CliResult r = test::run_cli("batch " + fx + "uni.onnx " + dir + "/list.txt --composite epsilon --heatmap --quiet --out-dir " + dir + "/out");
  ASSERT_EQ(r.code, 0) << r.output;
  std::ifstream mf(dir + "/out/manifest.json");
  const nlohmann::json manifest = nlohmann::json::parse(mf);
  ASSERT_EQ(manifest.size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_LT(test::max_rel_error(io::read_npy(dir + "/out/" + manifest[i]["relevance"].get<std::string>()), want.rows(i, 1)), 1e-5);
    const io::Image8 img = io::decode_image(dir + "/out/" + manifest[i]["heatmap"].get<std::string>());
    EXPECT_EQ(img.height * 5, img.width * 7) << "a 7 x 5 map";
  }
}

// A 1-D network: each listed signal's map and heatmap (strips, the signal over its relevance,
// 2 x 49 - 1 pixels high and 40 wide) are those `lrp explain` writes for it alone.
TEST(CliBatch, OneDimensionalNetworkSignalHeatmaps) {
  const std::string dir = test::temp_path("batch_conv1d"), fx = test::source_path("tests/fixtures/conv1d/");
  std::filesystem::create_directories(dir);
  const Tensor<double> x = io::read_npy(fx + "input.npy");  // [3, 2, 40]
  std::ofstream list(dir + "/list.txt");
  for (std::size_t i = 0; i < 2; ++i) {
    io::write_npy(dir + "/s" + std::to_string(i) + ".npy", x.rows(i, 1));
    list << "s" << i << ".npy\n";
  }
  list.close();
  const std::string rules = " --composite epsilon_plus_flat";
  const test::CliResult r = test::run_cli("batch " + fx + "model.onnx " + dir + "/list.txt" + rules + " --heatmap --quiet --out-dir " + dir + "/out");
  ASSERT_EQ(r.code, 0) << r.output;
  std::ifstream mf(dir + "/out/manifest.json");
  const nlohmann::json manifest = nlohmann::json::parse(mf);
  ASSERT_EQ(manifest.size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    const std::string one = dir + "/s" + std::to_string(i);
    const test::CliResult e = test::run_cli("explain " + fx + "model.onnx " + one + ".npy" + rules + " --quiet --out " + one + "_r.npy --heatmap " + one + ".png");
    ASSERT_EQ(e.code, 0) << e.output;
    EXPECT_LT(test::max_rel_error(io::read_npy(dir + "/out/" + manifest[i]["relevance"].get<std::string>()), io::read_npy(one + "_r.npy")), 1e-6);
    const io::Image8 got = io::decode_image(dir + "/out/" + manifest[i]["heatmap"].get<std::string>()), want = io::decode_image(one + ".png");
    EXPECT_EQ(got.height, 97u);
    EXPECT_EQ(got.width, 40u);
    EXPECT_TRUE(got.data == want.data) << "sample " << i;
  }
}

// A model with a dynamic number of steps is sized by each input: read again when the length
// changes (4, 7, then 4 steps), every map against PyTorch's for its length.
TEST(CliBatch, DynamicLengthPerInput) {
  const std::string dir = test::temp_path("batch_any_length"), fx = test::source_path("tests/fixtures/lstm/");
  std::filesystem::create_directories(dir);
  const Tensor<double> x4 = io::read_npy(fx + "uni_any_length_input4.npy"), x7 = io::read_npy(fx + "uni_input.npy");
  const Tensor<double> want4 = io::read_npy(fx + "uni_any_length_lrp_eps4.npy"), want7 = io::read_npy(fx + "uni_lrp_eps.npy");
  io::write_npy(dir + "/a.npy", x4.rows(0, 1));
  io::write_npy(dir + "/b.npy", x7.rows(1, 1));
  io::write_npy(dir + "/c.npy", x4.rows(1, 1));
  std::ofstream(dir + "/list.txt") << "a.npy 1\nb.npy 1\nc.npy 1\n";
  for (const std::string precision : {"float", "double"}) {
    SCOPED_TRACE(precision);
    const test::CliResult r = test::run_cli("batch " + fx + "uni_any_length.onnx " + dir + "/list.txt --composite epsilon --quiet --precision " +
                                            precision + " --out-dir " + dir + "/out");
    ASSERT_EQ(r.code, 0) << r.output;
    std::ifstream mf(dir + "/out/manifest.json");
    const nlohmann::json manifest = nlohmann::json::parse(mf);
    ASSERT_EQ(manifest.size(), 3u);
    const auto map = [&](std::size_t i) { return io::read_npy(dir + "/out/" + manifest[i]["relevance"].get<std::string>()); };
    EXPECT_LT(test::max_rel_error(map(0), want4.rows(0, 1)), 1e-5);
    EXPECT_LT(test::max_rel_error(map(1), want7.rows(1, 1)), 1e-5);
    EXPECT_LT(test::max_rel_error(map(2), want4.rows(1, 1)), 1e-5);
  }
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
