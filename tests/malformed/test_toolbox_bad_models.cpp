// Malformed toolbox text models: each gives one clear FormatError naming the file, line and
// layer; never a crash, a huge allocation or a silent truncation.
#include <gtest/gtest.h>

#include <fstream>

#include "lrp/core/error.hpp"
#include "lrp/io/toolbox_text.hpp"
#include "support/run_cli.hpp"

namespace lrp {
namespace {

const char* kXor =
    "Linear 2 3\n1 2 3 4 5 6\n0.1 0.2 0.3\nTanh\nLinear 3 2\n1 2 3 4 5 6\n0 0\nSoftMax\n";

std::string error_of(const std::string& text) {
  try {
    io::parse_toolbox_model(text, "bad.txt");
  } catch (const FormatError& e) {
    return e.what();
  }
  return "";
}

TEST(ToolboxBadModel, GoodModelParses) { EXPECT_EQ(error_of(kXor), ""); }

TEST(ToolboxBadModel, MissingFinalNewlineIsFine) {
  std::string t = kXor;
  t.pop_back();
  EXPECT_EQ(error_of(t), "");
  EXPECT_EQ(io::parse_toolbox_model(t, "x").nodes().size(), 4u);
}

TEST(ToolboxBadModel, CrlfLineEndingsAreFine) {
  std::string t;
  for (char c : std::string(kXor)) {
    if (c == '\n') t += '\r';
    t += c;
  }
  EXPECT_EQ(error_of(t), "");
}

TEST(ToolboxBadModel, WrongWeightCount) {
  const std::string e = error_of("Linear 2 3\n1 2 3 4 5\n0 0 0\n");
  EXPECT_NE(e.find("bad.txt:2"), std::string::npos) << e;
  EXPECT_NE(e.find("layer 0 (Linear)"), std::string::npos) << e;
  EXPECT_NE(e.find("expected 6 weights, found 5"), std::string::npos) << e;
}

TEST(ToolboxBadModel, BiasLineOfWrongLength) {
  const std::string e = error_of("Linear 2 3\n1 2 3 4 5 6\n0 0\n");
  EXPECT_NE(e.find("bad.txt:3"), std::string::npos) << e;
  EXPECT_NE(e.find("expected 3 biases, found 2"), std::string::npos) << e;
}

TEST(ToolboxBadModel, UnknownLayer) {
  const std::string e = error_of("Linear 2 3\n1 2 3 4 5 6\n0 0 0\nDense 3 3\n");
  EXPECT_NE(e.find("bad.txt:4"), std::string::npos) << e;
  EXPECT_NE(e.find("unknown layer type 'Dense'"), std::string::npos) << e;
}

TEST(ToolboxBadModel, BlankLineFollowedByMoreLayers) {
  const std::string e = error_of("Linear 2 3\n1 2 3 4 5 6\n0 0 0\n\nTanh\n");
  EXPECT_NE(e.find("bad.txt:5"), std::string::npos) << e;
  EXPECT_NE(e.find("blank line"), std::string::npos) << e;
}

TEST(ToolboxBadModel, TrailingBlankLinesAreFine) { EXPECT_EQ(error_of(std::string(kXor) + "\n\n"), ""); }

TEST(ToolboxBadModel, AbsurdDimensionsAreRejectedBeforeAllocating) {
  const std::string e = error_of("Linear 4000000000 4000000000\n1\n1\n");
  EXPECT_NE(e.find("more values than the file can hold"), std::string::npos) << e;
  const std::string c = error_of("Convolution 100000 100000 100000 100000 1 1\n1\n1\n");
  EXPECT_NE(c.find("more values than the file can hold"), std::string::npos) << c;
}

TEST(ToolboxBadModel, NonNumericAndNonFiniteWeights) {
  EXPECT_NE(error_of("Linear 1 2\n1 x\n0 0\n").find("'x' is not a number"), std::string::npos);
  EXPECT_NE(error_of("Linear 1 2\n1 nan\n0 0\n").find("contains nan"), std::string::npos);
  EXPECT_NE(error_of("Linear 1 2\n1 2\n0 inf\n").find("contains inf"), std::string::npos);
}

TEST(ToolboxBadModel, BadHeaderParameters) {
  EXPECT_NE(error_of("Linear 2\n1 2\n0\n").find("needs 2 integer parameters"), std::string::npos);
  EXPECT_NE(error_of("Linear 2 -3\n").find("not a positive integer"), std::string::npos);
  EXPECT_NE(error_of("SumPool 2 2 0 2\n").find("not a positive integer"), std::string::npos);
  EXPECT_NE(error_of("Rect 3\n").find("needs 0 integer parameters"), std::string::npos);
}

TEST(ToolboxBadModel, EveryTruncationGivesACleanError) {
  const std::string full = kXor;
  for (std::size_t n = 0; n < full.size(); ++n) {
    const std::string t = full.substr(0, n);
    try {
      io::parse_toolbox_model(t, "cut.txt");
    } catch (const FormatError& e) {
      EXPECT_NE(std::string(e.what()).find("cut.txt"), std::string::npos);
      continue;
    }
    // A cut after a complete layer is a valid, shorter model; so is a cut inside the last
    // number of a bias line (the format has no length field or checksum to tell).
    const char last = t.back();
    const bool layer_end = last == '\n' || t.ends_with("Tanh") || t.ends_with("SoftMax");
    const bool inside_last_number = (last >= '0' && last <= '9') || last == '.';
    EXPECT_TRUE(layer_end || inside_last_number) << "prefix of " << n << " bytes parsed silently";
  }
}

TEST(ToolboxBadModel, RoundTripIsBitExact) {
  const Model<double> m = io::parse_toolbox_model(
      "Convolution 2 3 2 2 1 2\n0.1 -0.2 0.30000000000000004 1e-300 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24\n"
      "0.5 -0.5\nRect\nMaxPool 2 1 1 1\nSumPool 1 2 1 1\nFlatten\nLinear 2 1\n0.123456789012345678 2\n-1\n",
      "m");
  const std::string text = io::format_toolbox_model(m);
  const Model<double> back = io::parse_toolbox_model(text, "m2");
  EXPECT_EQ(io::format_toolbox_model(back), text);
  const auto& w1 = *back.nodes()[0].layer->params()[0];
  const auto& w0 = *m.nodes()[0].layer->params()[0];
  ASSERT_EQ(w0.size(), w1.size());
  for (std::size_t i = 0; i < w0.size(); ++i) EXPECT_EQ(w0[i], w1[i]);
}

TEST(ToolboxBadModel, CliReportsErrorsWithExitCode2) {
  const std::string path = test::temp_path("bad_model.txt");
  std::ofstream(path) << "Linear 2 3\n1 2 3 4 5\n0 0 0\n";
  const std::string input = test::temp_path("x.npy");
  const test::CliResult r = test::run_cli("info " + path);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("lrp: error: " + path + ":2: layer 0 (Linear): expected 6 weights, found 5"), std::string::npos) << r.output;
  std::remove(path.c_str());
}

}  // namespace
}  // namespace lrp
