// `lrp explain | predict | info` on ONNX models: relevance maps equal to the Zennit references
// (1e-4 of max|R|, float32 default precision), --dump-layers keyed by ONNX node names,
// --no-canonize, `lrp info` listing node names, types and shapes.
#include <gtest/gtest.h>

#include <array>
#include <filesystem>

#include "lrp/graph/canonize.hpp"
#include "lrp/io/arrays.hpp"
#include "lrp/io/onnx.hpp"
#include "support/onnx_test_util.hpp"

namespace lrp::test {
namespace {

std::string modern(const std::string& model) { return source_path("tests/fixtures/zennit_modern/" + model); }

TEST(OnnxCli, ExplainReproducesTheSharedReferenceAndDumpsLayersByNodeName) {
  const std::string dir = shared_path("reference/zennit/mnist_cnn");
  if (!std::filesystem::exists(dir + "/model.onnx")) GTEST_SKIP() << "no shared reference";
  ScratchDir tmp;
  std::string out;
  ASSERT_EQ(run_cli("explain " + dir + "/model.onnx " + dir + "/input.npy --composite epsilon_plus_flat --target relevance:" + dir +
                        "/initial_relevance.npy --out " + tmp.file("r.npy") + " --dump-layers " + tmp.file("layers.npz"),
                    out),
            0)
      << out;
  const Tensor<double> r = io::read_npy(tmp.file("r.npy"));
  EXPECT_EQ(r.shape(), (Shape{2, 1, 28, 28}));
  EXPECT_LE(max_rel_error(r, io::read_npy(dir + "/lrp_epsilon_plus_flat.npy")), 1e-4);
  const std::map<std::string, Tensor<double>> layers = io::read_npz(tmp.file("layers.npz"));
  const Model<double> m = io::read_onnx_model(dir + "/model.onnx");
  ASSERT_EQ(layers.size(), m.nodes().size());
  const std::map<std::string, Tensor<double>> ref = io::read_npz(dir + "/lrp_epsilon_plus_flat_layers.npz");
  for (std::size_t i = 0; i < m.nodes().size(); ++i) {
    ASSERT_TRUE(layers.count(m.nodes()[i].name)) << m.nodes()[i].name;
    EXPECT_LE(max_rel_error(layers.at(m.nodes()[i].name), ref.at(std::to_string(i) + ".output")), 1e-4) << m.nodes()[i].name;
  }
  EXPECT_TRUE(layers.count("/0/Conv"));
  EXPECT_TRUE(layers.count("/9/Gemm"));
}

TEST(OnnxCli, ExplainResNetWithFoldedBatchNormsAndGammaBox) {
  const std::string dir = modern("resnet");
  if (!std::filesystem::exists(dir + "/model.onnx")) GTEST_SKIP() << "no fixture";
  ScratchDir tmp;
  std::string out;
  ASSERT_EQ(run_cli("explain " + dir + "/model.onnx " + dir + "/input.npy --composite epsilon_gamma_box:-3,3 --target labels:" + dir +
                        "/target.npy --out " + tmp.file("r.npy"),
                    out),
            0)
      << out;
  EXPECT_LE(max_rel_error(io::read_npy(tmp.file("r.npy")), io::read_npy(dir + "/lrp_epsilon_gamma_box.npy")), 1e-4);
  // Without canonization the BatchNorms stay (Pass rule): a different, non-Zennit result.
  ASSERT_EQ(run_cli("explain " + dir + "/model.onnx " + dir + "/input.npy --composite epsilon_gamma_box:-3,3 --target labels:" + dir +
                        "/target.npy --no-canonize --quiet --out " + tmp.file("r2.npy"),
                    out),
            0)
      << out;
  EXPECT_GT(max_rel_error(io::read_npy(tmp.file("r2.npy")), io::read_npy(dir + "/lrp_epsilon_gamma_box.npy")), 1e-2);
  ASSERT_EQ(run_cli("predict " + dir + "/model.onnx " + dir + "/input.npy --out " + tmp.file("y.npy"), out), 0) << out;
  EXPECT_LE(max_rel_error(io::read_npy(tmp.file("y.npy")), io::read_npy(dir + "/logits.npy")), 1e-5);
}

// Zennit's excitation_backprop (DenseNet: its BatchNorms after concatenations stay and take their
// gradient) and beta_smooth composites from the command line.
TEST(OnnxCli, ExcitationBackpropAndBetaSmoothComposites) {
  for (const auto& [model, composite, file] : std::vector<std::array<std::string, 3>>{
           {"densenet", "excitation_backprop", "lrp_excitation_backprop"}, {"resnet", "beta_smooth:10", "beta_smooth"}}) {
    const std::string dir = modern(model);
    if (!std::filesystem::exists(dir + "/model.onnx")) GTEST_SKIP() << "no fixture";
    ScratchDir tmp;
    std::string out;
    ASSERT_EQ(run_cli("explain " + dir + "/model.onnx " + dir + "/input.npy --composite " + composite + " --target relevance:" + dir +
                          "/initial_relevance.npy --quiet --out " + tmp.file("r.npy"),
                      out),
              0)
        << out;
    EXPECT_LE(max_rel_error(io::read_npy(tmp.file("r.npy")), io::read_npy(dir + "/" + file + ".npy")), 1e-4) << model << " " << composite;
  }
}

// `lrp info` sums the layer outputs of one sample and names the largest; an output no run could
// allocate (a Resize by 4096 on each axis of 64 x 64: 2^36 elements) is flagged there, and
// predict refuses it naming the layer (exit 2) before allocating anything of that size.
// info sums one sample's layer outputs; a layer beyond the per-sample limit (a 4096x Resize of
// a 64x64 image: 2^36 values) stops the import, naming it, in info as in every command.
TEST(OnnxCli, InfoSumsLayerOutputsAndRefusesOnesTooLargeToRun) {
  ScratchDir tmp;
  for (const auto& [scale, refused] : {std::pair{2.0f, false}, std::pair{4096.0f, true}}) {
    OnnxBuilder b(13);
    b.input("x", {-1, 1, 64, 64}).output("y");
    b.init("scales", {4}, {1, 1, scale, scale});
    b.node("Resize", {"x", "", "scales"}, {"y"}, "up");
    write_file(tmp.file("up.onnx"), b.bytes());
    std::string out;
    if (!refused) {
      ASSERT_EQ(run_cli("info " + tmp.file("up.onnx"), out), 0) << out;
      // 2x: one 128 x 128 plane = 0.0625 MiB
      EXPECT_NE(out.find("layer outputs: 0.1 MiB per sample in float32; largest layer 0 (Resize 'up'), 0.1 MiB\n"), std::string::npos)
          << out;
      continue;
    }
    EXPECT_EQ(run_cli("info " + tmp.file("up.onnx"), out), 2) << out;
    EXPECT_NE(out.find("'up' (Resize): one sample of shape [1,262144,262144]"), std::string::npos) << out;
    io::write_npy(tmp.file("x.npy"), random_tensor({1, 1, 64, 64}, 4));
    EXPECT_EQ(run_cli("predict " + tmp.file("up.onnx") + " " + tmp.file("x.npy") + " --out " + tmp.file("y.npy"), out), 2);
    EXPECT_NE(out.find("'up' (Resize)"), std::string::npos) << out;
  }
}

// A segmentation-style output [N, 2, 8, 8]: channel 0 is x upsampled (1x1 conv weight 1, no
// bias), channel 1 is -x. Relevance of channel:0 is then 4x (each input pixel has four copies;
// epsilon 1e-6 on z = x), of segment:0 the same where x > 0 (channel 0 wins) and 0 elsewhere.
TEST(OnnxCli, ChannelAndSegmentTargetsOnASegmentationOutput) {
  ScratchDir tmp;
  OnnxBuilder b(13);
  b.input("x", {-1, 1, 4, 4}).output("y");
  b.init("W", {2, 1, 1, 1}, {1, -1}).init("scales", {4}, {1, 1, 2, 2});
  b.node("Conv", {"x", "W"}, {"c"}, "head");
  b.node("Resize", {"c", "", "scales"}, {"y"}, "up");
  write_file(tmp.file("seg.onnx"), b.bytes());
  const Tensor<double> x = random_tensor({1, 1, 4, 4}, 3);
  io::write_npy(tmp.file("x.npy"), x);
  std::string out;
  for (const std::string target : {"channel:0", "segment:0"}) {
    ASSERT_EQ(run_cli("explain " + tmp.file("seg.onnx") + " " + tmp.file("x.npy") + " --rule epsilon:1e-6 --precision double --target " +
                          target + " --out " + tmp.file("r.npy"),
                      out),
              0)
        << out;
    EXPECT_NE(out.find("channel 0 score"), std::string::npos) << out;
    const Tensor<double> r = io::read_npy(tmp.file("r.npy"));
    ASSERT_EQ(r.shape(), x.shape());
    for (std::size_t i = 0; i < x.size(); ++i) {
      const double expect = target == "channel:0" || x[i] > 0 ? 4 * x[i] : 0.0;
      EXPECT_NEAR(r[i], expect, 1e-5) << target << " " << i;
    }
  }
  // the predicted channel is the one with the larger score: sum of x > 0 or sum of -x > 0
  double sum = 0;
  for (double v : x) sum += v;
  ASSERT_EQ(run_cli("explain " + tmp.file("seg.onnx") + " " + tmp.file("x.npy") + " --rule epsilon:1e-6 --target channel:predicted --out " +
                        tmp.file("r.npy"),
                    out),
            0)
      << out;
  EXPECT_NE(out.find(sum > 0 ? "channel 0 score" : "channel 1 score"), std::string::npos) << out;
  EXPECT_EQ(run_cli("explain " + tmp.file("seg.onnx") + " " + tmp.file("x.npy") + " --rule epsilon:1e-6 --target channel:2 --out " +
                        tmp.file("r.npy"),
                    out),
            2);
  EXPECT_NE(out.find("out of range"), std::string::npos) << out;
  // segment:labels:FILE takes the class from the file; a relevance file takes no region
  io::write_npy(tmp.file("labels.npy"), Tensor<double>({1}, std::vector<double>{1}));
  ASSERT_EQ(run_cli("explain " + tmp.file("seg.onnx") + " " + tmp.file("x.npy") + " --rule epsilon:1e-6 --target segment:labels:" +
                        tmp.file("labels.npy") + " --out " + tmp.file("r.npy"),
                    out),
            0)
      << out;
  EXPECT_NE(out.find("channel 1 score"), std::string::npos) << out;
  EXPECT_EQ(run_cli("explain " + tmp.file("seg.onnx") + " " + tmp.file("x.npy") + " --rule epsilon:1e-6 --target segment:relevance:" +
                        tmp.file("x.npy") + " --out " + tmp.file("r.npy"),
                    out),
            2);
  EXPECT_NE(out.find("takes no 'segment:'"), std::string::npos) << out;
  // `lrp batch --region segment`: a listed class and a predicted one, each equal to its single run.
  const Tensor<double> x2 = random_tensor({1, 1, 4, 4}, 4);
  io::write_npy(tmp.file("x2.npy"), x2);
  write_file(tmp.file("list.txt"), tmp.file("x.npy") + " 1\n" + tmp.file("x2.npy") + "\n");
  ASSERT_EQ(run_cli("batch " + tmp.file("seg.onnx") + " " + tmp.file("list.txt") + " --rule epsilon:1e-6 --precision double --region segment " +
                        "--quiet --out-dir " + tmp.file("out"),
                    out),
            0)
      << out;
  const std::vector<std::pair<std::string, std::string>> runs = {{"x.npy", "segment:1"}, {"x2.npy", "segment:predicted"}};
  for (std::size_t i = 0; i < runs.size(); ++i) {
    ASSERT_EQ(run_cli("explain " + tmp.file("seg.onnx") + " " + tmp.file(runs[i].first) + " --rule epsilon:1e-6 --precision double --target " +
                          runs[i].second + " --quiet --out " + tmp.file("single.npy"),
                      out),
              0)
        << out;
    const std::string stem = std::to_string(i) + "_" + runs[i].first.substr(0, runs[i].first.size() - 4);
    EXPECT_EQ(max_rel_error(io::read_npy(tmp.file("out/" + stem + ".npy")), io::read_npy(tmp.file("single.npy"))), 0.0) << stem;
  }
  EXPECT_EQ(run_cli("batch " + tmp.file("seg.onnx") + " " + tmp.file("list.txt") + " --rule epsilon:1e-6 --region channel --out-dir " +
                        tmp.file("out2") + " --quiet",
                    out),
            0)
      << out;
  write_file(tmp.file("bad.txt"), tmp.file("x.npy") + " 2\n");
  EXPECT_EQ(run_cli("batch " + tmp.file("seg.onnx") + " " + tmp.file("bad.txt") + " --rule epsilon:1e-6 --region channel --out-dir " +
                        tmp.file("out3") + " --quiet",
                    out),
            2);
  EXPECT_NE(out.find("bad.txt:1"), std::string::npos) << out;
  EXPECT_NE(out.find("2 output channels"), std::string::npos) << out;
}

TEST(OnnxCli, InfoListsNodeNamesTypesAndShapes) {
  const std::string dir = modern("densenet");
  if (!std::filesystem::exists(dir + "/model.onnx")) GTEST_SKIP() << "no fixture";
  std::string out;
  ASSERT_EQ(run_cli("info " + dir + "/model.onnx", out), 0) << out;
  for (const char* s : {"NCHW", "[3,12,12]", "/block1/block1.0/cat/Concat", "Concat", "[12,6,6]", "/norm5/BatchNormalization",
                        "BatchNorm", "/classifier/Gemm", "Linear", "[10]"})
    EXPECT_NE(out.find(s), std::string::npos) << s << " not in:\n" << out;
  EXPECT_EQ(out.find("/norm0/BatchNormalization"), std::string::npos) << "norm0 is folded into conv0";
  ASSERT_EQ(run_cli("info --no-canonize " + dir + "/model.onnx", out), 0) << out;
  EXPECT_NE(out.find("/norm0/BatchNormalization"), std::string::npos);
}

}  // namespace
}  // namespace lrp::test
