// `lrp explain | predict | info` on ONNX models: relevance maps equal to the Zennit references
// (1e-4 of max|R|, float32 default precision), --dump-layers keyed by ONNX node names,
// --no-canonize, `lrp info` listing node names, types and shapes.
#include <gtest/gtest.h>

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
