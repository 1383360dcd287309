// The command-line contract of issue 2: `lrp info`, `lrp predict`, `lrp explain` on the shared
// toolbox references, and one test per kind of bad input (message + exit code 2).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>

#include "lrp/io/arrays.hpp"
#include "lrp/io/image.hpp"
#include "lrp/render/png.hpp"
#include "support/compare.hpp"
#include "support/html_text.hpp"
#include "support/run_cli.hpp"

namespace lrp {
namespace {

std::string refpath(const std::string& f) { return test::shared_path("reference/lrp_toolbox/" + f); }
std::string lenet() { return test::shared_path("data/lrp_toolbox/models/MNIST/LeNet-5.txt"); }

TEST(CliExplain, ReproducesToolboxReferencesInDoubleAndFloat) {
  const std::string out = test::temp_path("r.npy");
  struct C {
    std::string model, args, file;
  };
  const std::vector<C> cases = {
      {lenet(), "--rule epsilon:0.01", "LeNet-5/epsilon_0.01.npy"},
      {lenet(), "--rule alphabeta:2", "LeNet-5/alpha2_beta1.npy"},
      {lenet(), "--rule alphabeta:1 --layer-rule 0=ww", "LeNet-5/composite_alpha1_first_ww.npy"},
      {lenet(), "--rule epsilon:0.01 --target all", "LeNet-5/epsilon_0.01_per_class.npy"},
      {refpath("synth-cnn-maxpool/model.txt"), "--rule z", "synth-cnn-maxpool/simple.npy"},
      {refpath("synth-mlp-rect/model.txt"), "--rule flat", "synth-mlp-rect/flat.npy"},
      {test::shared_path("data/lrp_toolbox/models/XOR/xor_net_small.txt"), "--rule eps:1", "xor_net_small/epsilon_1.npy"},
  };
  for (const C& c : cases) {
    const std::string folder = c.file.substr(0, c.file.find('/'));
    for (const std::string precision : {"double", "float"}) {
      const test::CliResult r = test::run_cli("explain " + c.model + " " + refpath(folder + "/input.npy") + " " + c.args +
                                              " --precision " + precision + " --out " + out + " --quiet");
      ASSERT_EQ(r.code, 0) << r.output;
      const double err = test::max_rel_error(io::read_npy(out), io::read_npy(refpath(c.file)));
      EXPECT_LT(err, precision == "double" ? 1e-9 : 1e-3) << c.file << " " << precision;
    }
  }
  std::remove(out.c_str());
}

// /nobias takes the layers' biases out of the rules' denominators, so the relevance is
// conserved: each sample's map sums to its explained score. LeNet-5's layers all have biases;
// with them in the denominators the sums miss the score by several percent.
TEST(CliExplain, RulesWithoutBiasConserveTheScore) {
  const std::string out = test::temp_path("nobias.npy");
  const Tensor<double> scores = io::read_npy(refpath("LeNet-5/output.npy"));  // [16, 10]
  const auto worst_miss = [&](const std::string& args, const std::string& precision) {
    const test::CliResult r = test::run_cli("explain " + lenet() + " " + refpath("LeNet-5/input.npy") + " " + args + " --precision " +
                                            precision + " --out " + out + " --quiet");
    EXPECT_EQ(r.code, 0) << r.output;
    const Tensor<double> rel = io::read_npy(out);
    EXPECT_EQ(rel.dim(0), scores.dim(0));
    double worst = 0;
    for (std::size_t n = 0; n < rel.dim(0) && n < scores.dim(0); ++n) {
      double sum = 0, score = -std::numeric_limits<double>::infinity();
      for (std::size_t i = 0; i < rel.sample_size(); ++i) sum += rel[n * rel.sample_size() + i];
      for (std::size_t c = 0; c < scores.sample_size(); ++c) score = std::max(score, scores[n * scores.sample_size() + c]);
      worst = std::max(worst, std::abs(sum - score) / std::abs(score));
    }
    return worst;
  };
  for (const std::string args : {"--rule epsilon:1e-9/nobias", "--rule zplus/nobias", "--rule gamma:0.5/nobias",
                                 "--rule alphabeta:1/nobias", "--composite epsilon/nobias", "--composite epsilon_plus/nobias",
                                 "--composite deep_taylor", "--composite deep_taylor_bounded:-1,1",
                                 "--rule epsilon:1e-9 --layer-rule type:Convolution=zplus/nobias"})
    for (const std::string precision : {"double", "float"}) {
      SCOPED_TRACE(args + " " + precision);
      // Zennit's stabiliser (1e-6) in each of four layers, on scores of 10-30 (measured 2e-6);
      // float sums of ~800 terms
      EXPECT_LT(worst_miss(args, precision), precision == "double" ? 1e-5 : 1e-4);
    }
  // (ZPlus adds only positive biases to z, and LeNet-5's are nearly all negative: no contrast there.)
  for (const std::string args : {"--rule epsilon:1e-9", "--composite epsilon", "--rule gamma:0.5"})
    EXPECT_GT(worst_miss(args, "double"), 0.02) << args;
  std::remove(out.c_str());
}

// An ONNX model with two data inputs: INPUT is an .npz of one array per input (by name), --out
// an .npz of one relevance array per input; references from tests/fixtures/two_inputs (PyTorch,
// float64: the gradient, and the epsilon rule as input x a modified gradient).
TEST(CliExplain, ModelWithTwoInputsTakesAndWritesOneArrayPerInput) {
  const std::string dir = test::source_path("tests/fixtures/two_inputs/");
  const std::string model = dir + "model.onnx", inputs = dir + "inputs.npz", out = test::temp_path("two.npz");
  struct C {
    std::string args, reference;
  };
  for (const C& c : {C{"--rule epsilon:0.001", "epsilon.npz"}, C{"--method gradient", "gradient.npz"}})
    for (const std::string precision : {"double", "float"}) {
      SCOPED_TRACE(c.args + " " + precision);
      const test::CliResult r =
          test::run_cli("explain " + model + " " + inputs + " " + c.args + " --precision " + precision + " --out " + out + " --quiet");
      ASSERT_EQ(r.code, 0) << r.output;
      const std::map<std::string, Tensor<double>> got = io::read_npz(out), want = io::read_npz(dir + c.reference);
      ASSERT_EQ(got.size(), 2u);
      for (const auto& [name, ref] : want) {
        ASSERT_TRUE(got.count(name)) << name;
        EXPECT_EQ(got.at(name).shape(), ref.shape()) << name;
        EXPECT_LT(test::max_rel_error(got.at(name), ref), precision == "double" ? 1e-8 : 1e-4) << name;
      }
    }
  // every class at once: [N, K, shape...] per input
  test::CliResult r = test::run_cli("explain " + model + " " + inputs + " --rule epsilon:0.001 --target all --out " + out + " --quiet");
  ASSERT_EQ(r.code, 0) << r.output;
  const std::map<std::string, Tensor<double>> all = io::read_npz(out);
  EXPECT_EQ(all.at("image").shape(), (Shape{3, 3, 1, 6, 6}));
  EXPECT_EQ(all.at("features").shape(), (Shape{3, 3, 5}));
  r = test::run_cli("predict " + model + " " + inputs + " --precision double --out " + test::temp_path("two_logits.npy"));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_LT(test::max_rel_error(io::read_npy(test::temp_path("two_logits.npy")), io::read_npy(dir + "logits.npy")), 1e-6);
  // lrp batch over a list of such .npz files, one sample each: one relevance .npz per file
  const std::string list = test::temp_path("two_inputs_list.txt"), out_dir = test::temp_path("two_inputs_batch");
  const std::map<std::string, Tensor<double>> all_inputs = io::read_npz(inputs), ref = io::read_npz(dir + "epsilon.npz");
  std::ofstream list_file(list);
  std::vector<std::string> written_as;  // the batch names each file "<line>_<stem>.npz"
  for (std::size_t n = 0; n < 3; ++n) {
    const std::string one = test::temp_path("two_inputs_" + std::to_string(n) + ".npz");
    written_as.push_back(out_dir + "/" + std::to_string(n) + "_" + std::filesystem::path(one).stem().string() + ".npz");
    io::write_npz(one, std::vector<std::pair<std::string, Tensor<double>>>{{"image", all_inputs.at("image").rows(n, 1)},
                                                                            {"features", all_inputs.at("features").rows(n, 1)}});
    list_file << one << "\n";
  }
  list_file.close();
  r = test::run_cli("batch " + model + " " + list + " --out-dir " + out_dir + " --rule epsilon:0.001 --precision double --quiet");
  ASSERT_EQ(r.code, 0) << r.output;
  for (std::size_t n = 0; n < 3; ++n) {
    const std::map<std::string, Tensor<double>> item = io::read_npz(written_as[n]);
    for (const char* name : {"image", "features"}) {
      EXPECT_EQ(item.at(name).shape(), ref.at(name).rows(n, 1).shape()) << name;
      EXPECT_LT(test::max_rel_error(item.at(name), ref.at(name).rows(n, 1)), 1e-8) << name << " " << n;
    }
  }
  r = test::run_cli("info " + model);
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("inputs: 2, given as one .npz of arrays by name, packed in this order: 'image' [1,6,6] 'features' [5]"),
            std::string::npos)
      << r.output;
  std::remove(out.c_str());
}

// Integrated gradients and DeepLIFT from a baseline file (the model's layout, one sample for
// all): a file of 0.5 gives what --baseline 0.5 gives, and the input itself as its baseline
// gives zero.
TEST(CliExplain, IntegratedGradientsAndDeepLiftFromABaselineFile) {
  const std::string x = refpath("LeNet-5/input.npy");
  const Tensor<double> input = io::read_npy(x);
  Shape one = input.shape();
  one[0] = 1;
  const std::string half = test::temp_path("half.npy"), self = test::temp_path("self.npy");
  io::write_npy(half, Tensor<double>(one, 0.5));
  io::write_npy(self, input);
  const std::string out_const = test::temp_path("ig_const.npy"), out_file = test::temp_path("ig_file.npy");
  for (const std::string method : {"integrated-gradients --steps 8", "deeplift"}) {
    const std::string ig = "explain " + lenet() + " " + x + " --method " + method + " --quiet";
    ASSERT_EQ(test::run_cli(ig + " --baseline 0.5 --out " + out_const).code, 0);
    const test::CliResult r = test::run_cli(ig + " --baseline " + half + " --out " + out_file);
    ASSERT_EQ(r.code, 0) << r.output;
    EXPECT_LT(test::max_rel_error(io::read_npy(out_file), io::read_npy(out_const)), 1e-6) << method;
    const Tensor<double> r_file = io::read_npy(out_file);
    EXPECT_TRUE(std::any_of(r_file.begin(), r_file.end(), [](double v) { return v != 0.0; })) << method;
    ASSERT_EQ(test::run_cli(ig + " --baseline " + self + " --out " + out_file).code, 0);
    for (const double v : io::read_npy(out_file)) ASSERT_EQ(v, 0.0) << method;
  }
  // gradient-shap from a distribution of two baselines (the input and 0.5): a map, nonzero.
  Tensor<double> two(Shape{2, one[1], one[2], one[3]}, 0.5);
  std::copy_n(input.data(), input.sample_size(), two.data());
  io::write_npy(half, two);
  const test::CliResult gs = test::run_cli("explain " + lenet() + " " + x + " --method gradient-shap --samples 6 --stdevs 0.05 --baseline " +
                                           half + " --quiet --out " + out_file);
  ASSERT_EQ(gs.code, 0) << gs.output;
  const Tensor<double> r_gs = io::read_npy(out_file);
  EXPECT_EQ(r_gs.shape(), input.shape());
  EXPECT_TRUE(std::any_of(r_gs.begin(), r_gs.end(), [](double v) { return v != 0.0; }));
  io::write_npy(half, Tensor<double>(one, 0.5));
  // deeplift-shap over a distribution of one sample is DeepLIFT from that sample.
  const std::string dl = "explain " + lenet() + " " + x + " --baseline " + half + " --quiet --method ";
  ASSERT_EQ(test::run_cli(dl + "deeplift --out " + out_const).code, 0);
  ASSERT_EQ(test::run_cli(dl + "deeplift-shap --out " + out_file).code, 0);
  EXPECT_LT(test::max_rel_error(io::read_npy(out_file), io::read_npy(out_const)), 1e-6);
  for (const std::string& f : {half, self, out_const, out_file}) std::remove(f.c_str());
}

// Feature ablation and Shapley sampling with a mask file in the model's layout (LeNet-5: NHWC):
// 8x8 blocks give maps constant on each block; one group for the whole input gives one value
// per sample (its score change), the same for both methods.
TEST(CliExplain, FeatureAblationAndShapleySamplingWithAMaskFile) {
  const std::string x = refpath("LeNet-5/input.npy");
  const Tensor<double> input = io::read_npy(x);
  ASSERT_EQ(input.rank(), 4u);
  const std::size_t h = input.dim(1), w = input.dim(2);
  Tensor<double> blocks({1, h, w, 1}), whole({1, h, w, 1});
  for (std::size_t i = 0; i < h; ++i)
    for (std::size_t j = 0; j < w; ++j) blocks[i * w + j] = static_cast<double>((i / 8) * ((w + 7) / 8) + j / 8);
  const std::string mask_blocks = test::temp_path("mask_blocks.npy"), mask_whole = test::temp_path("mask_whole.npy");
  io::write_npy(mask_blocks, blocks);
  io::write_npy(mask_whole, whole);
  const std::string out_a = test::temp_path("fa.npy"), out_s = test::temp_path("sv.npy");
  const std::string base = "explain " + lenet() + " " + x + " --quiet --method ";
  ASSERT_EQ(test::run_cli(base + "feature-ablation --feature-mask " + mask_blocks + " --out " + out_a).code, 0);
  const Tensor<double> fa = io::read_npy(out_a);
  ASSERT_EQ(fa.shape(), input.shape());
  for (std::size_t s = 0; s < input.dim(0); ++s)
    for (std::size_t i = 0; i < h * w; ++i) {
      const std::size_t first = (i / w / 8 * 8) * w + (i % w) / 8 * 8;  // the block's top-left element
      ASSERT_EQ(fa[s * h * w + i], fa[s * h * w + first]) << "sample " << s << " element " << i;
    }
  ASSERT_EQ(test::run_cli(base + "feature-ablation --feature-mask " + mask_whole + " --out " + out_a).code, 0);
  ASSERT_EQ(test::run_cli(base + "shapley-sampling --samples 2 --feature-mask " + mask_whole + " --out " + out_s).code, 0);
  EXPECT_LT(test::max_rel_error(io::read_npy(out_s), io::read_npy(out_a)), 1e-6);
  for (const std::string& f : {mask_blocks, mask_whole, out_a, out_s}) std::remove(f.c_str());
}

// LIME and KernelSHAP with mask files: maps constant on each 8x8 block; with one group for the
// whole input, KernelSHAP's two end coalitions and LIME's least squares (--lasso 0) both give the
// score change of feature ablation.
TEST(CliExplain, LimeAndKernelShapWithAMaskFile) {
  const std::string x = refpath("LeNet-5/input.npy");
  const Tensor<double> input = io::read_npy(x);
  const std::size_t h = input.dim(1), w = input.dim(2);
  Tensor<double> blocks({1, h, w, 1}), whole({1, h, w, 1});
  for (std::size_t i = 0; i < h; ++i)
    for (std::size_t j = 0; j < w; ++j) blocks[i * w + j] = static_cast<double>((i / 8) * ((w + 7) / 8) + j / 8);
  const std::string mask_blocks = test::temp_path("lime_blocks.npy"), mask_whole = test::temp_path("lime_whole.npy");
  io::write_npy(mask_blocks, blocks);
  io::write_npy(mask_whole, whole);
  const std::string out = test::temp_path("surrogate.npy"), out_a = test::temp_path("surrogate_fa.npy");
  const std::string base = "explain " + lenet() + " " + x + " --quiet --method ";
  for (const std::string method : {"lime", "kernel-shap"}) {
    const test::CliResult r = test::run_cli(base + method + " --feature-mask " + mask_blocks + " --out " + out);
    ASSERT_EQ(r.code, 0) << r.output;
    const Tensor<double> m = io::read_npy(out);
    ASSERT_EQ(m.shape(), input.shape());
    for (std::size_t s = 0; s < input.dim(0); ++s)
      for (std::size_t i = 0; i < h * w; ++i) {
        const std::size_t first = (i / w / 8 * 8) * w + (i % w) / 8 * 8;
        ASSERT_EQ(m[s * h * w + i], m[s * h * w + first]) << method << " sample " << s << " element " << i;
      }
  }
  ASSERT_EQ(test::run_cli(base + "feature-ablation --feature-mask " + mask_whole + " --out " + out_a).code, 0);
  ASSERT_EQ(test::run_cli(base + "kernel-shap --feature-mask " + mask_whole + " --out " + out).code, 0);
  EXPECT_LT(test::max_rel_error(io::read_npy(out), io::read_npy(out_a)), 1e-5);
  ASSERT_EQ(test::run_cli(base + "lime --lasso 0 --feature-mask " + mask_whole + " --out " + out).code, 0);
  EXPECT_LT(test::max_rel_error(io::read_npy(out), io::read_npy(out_a)), 1e-5);
  for (const std::string& f : {mask_blocks, mask_whole, out, out_a}) std::remove(f.c_str());
}

// --rule-precision bf16 (bfloat16 rule convolutions where the CPU has them, float32 elsewhere):
// the toolbox's float64 LeNet-5 references within 1% of max|R| (measured ~1e-3 with bfloat16).
TEST(CliExplain, Bf16RulePrecisionStaysNearTheReference) {
  const std::string out = test::temp_path("r_bf16.npy");
  for (const auto& [args, file] : {std::pair<std::string, std::string>{"--rule epsilon:0.01", "LeNet-5/epsilon_0.01.npy"},
                                   {"--rule alphabeta:2", "LeNet-5/alpha2_beta1.npy"}}) {
    const test::CliResult r = test::run_cli("explain " + lenet() + " " + refpath("LeNet-5/input.npy") + " " + args +
                                            " --rule-precision bf16 --out " + out + " --quiet");
    ASSERT_EQ(r.code, 0) << r.output;
    EXPECT_LT(test::max_rel_error(io::read_npy(out), io::read_npy(refpath(file))), 1e-2) << file;
  }
  std::remove(out.c_str());
}

TEST(CliExplain, LabelsTargetAndPredict) {
  const std::string out = test::temp_path("r2.npy");
  // The true labels equal the predictions for these 16 digits, so the maps equal the default.
  test::CliResult r = test::run_cli("explain " + lenet() + " " + refpath("LeNet-5/input.npy") + " --rule epsilon:0.01 --target labels:" +
                                    refpath("LeNet-5/labels.npy") + " --precision double --out " + out);
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_LT(test::max_rel_error(io::read_npy(out), io::read_npy(refpath("LeNet-5/epsilon_0.01.npy"))), 1e-9);
  EXPECT_NE(r.output.find("sample 0: predicted 7"), std::string::npos) << r.output;
  r = test::run_cli("predict " + lenet() + " " + refpath("LeNet-5/input.npy") + " --precision double --out " + out);
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_LT(test::max_rel_error(io::read_npy(out), io::read_npy(refpath("LeNet-5/output.npy"))), 1e-12);
  // predict keeps the SoftMax of a model that has one
  r = test::run_cli("predict " + test::shared_path("data/lrp_toolbox/models/XOR/xor_net_small.txt") + " " +
                    refpath("xor_net_small/input.npy") + " --precision double --out " + out);
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_LT(test::max_rel_error(io::read_npy(out), io::read_npy(refpath("xor_net_small/softmax_output.npy"))), 1e-12);
  std::remove(out.c_str());
}

// The tool flushes denormal floats to zero (lrp/core/kernels.hpp, set_flush_denormals):
// 1 x 1e-20 x 1e-20 = 1e-40 is a denormal float, so the float prediction is 0; with
// LRP_KEEP_DENORMALS it is kept, and the double path has no denormal to flush.
TEST(CliExplain, DenormalFloatsAreFlushedUnlessKept) {
  const std::string model = test::temp_path("denormal_net.txt"), input = test::temp_path("denormal_in.npy"),
                    out = test::temp_path("denormal_out.npy");
  std::ofstream(model) << "Linear 1 1\n1e-20\n0\nLinear 1 1\n1e-20\n0\n";
  Tensor<double> one({1, 1});
  one[0] = 1.0;
  io::write_npy(input, one);
  const auto predicted = [&](const std::string& precision) {
    const test::CliResult r = test::run_cli("predict " + model + " " + input + " --precision " + precision + " --out " + out);
    EXPECT_EQ(r.code, 0) << r.output;
    return io::read_npy(out)[0];
  };
  EXPECT_EQ(predicted("float"), 0.0);
  EXPECT_NEAR(predicted("double"), 1e-40, 1e-52);
  ::setenv("LRP_KEEP_DENORMALS", "1", 1);
  const double kept = predicted("float");
  ::unsetenv("LRP_KEEP_DENORMALS");
  EXPECT_NEAR(kept, 1e-40, 1e-43);  // a denormal float keeps about 3 significant digits here
  for (const std::string& f : {model, input, out}) std::remove(f.c_str());
}

TEST(CliExplain, RelevanceAtANamedLayerAndLayerDumps) {
  const std::string out = test::temp_path("at.npy"), npz = test::temp_path("layers.npz");
  const test::CliResult r = test::run_cli("explain " + lenet() + " " + refpath("LeNet-5/input.npy") +
                                          " --rule alphabeta:2 --precision double --at 3_Convolution --out " + out +
                                          " --dump-layers " + npz + " --quiet");
  ASSERT_EQ(r.code, 0) << r.output;
  // relevance at the output of layer 3 = relevance at the input of layer 4 in the toolbox's dump
  const Tensor<double> ref = io::read_npz(refpath("LeNet-5/layers_alpha2_beta1.npz")).at("R_in_04_Rect");
  const Tensor<double> at = io::read_npy(out);
  Tensor<double> first2({2, 25, 10, 10});
  std::copy_n(at.data(), first2.size(), first2.data());
  EXPECT_LT(test::max_rel_error(nchw_to_nhwc(first2), ref), 1e-9);
  const auto layers = io::read_npz(npz);
  EXPECT_EQ(layers.size(), 11u);
  EXPECT_LT(test::max_rel_error(layers.at("3_Convolution"), at), 1e-15);
  std::remove(out.c_str());
  std::remove(npz.c_str());
}

// Concept relevance on LeNet-5: the maps of all 100 channels of layer 6 add up to the toolbox's
// own epsilon map (every path crosses the layer); top:3 writes 3 maps per sample in the data's
// layout, a heatmap with 3 columns and a table whose rows match the maps.
TEST(CliExplain, ConceptMapsSplitTheToolboxMap) {
  const std::string out = test::temp_path("concepts.npy"), png = test::temp_path("concepts.png"),
                    tsv = test::temp_path("concepts.tsv");
  const std::string base = "explain " + lenet() + " " + refpath("LeNet-5/input.npy") + " --rule epsilon:0.01 --concept-layer 6 ";
  test::CliResult r = test::run_cli(base + "--concepts all --precision double --quiet --out " + out);
  ASSERT_EQ(r.code, 0) << r.output;
  const Tensor<double> all = io::read_npy(out);  // [16, 100, 32, 32, 1]
  ASSERT_EQ(all.shape(), (Shape{16, 100, 32, 32, 1}));
  Tensor<double> sum({16, 32, 32, 1});
  const std::size_t per = sum.sample_size();
  for (std::size_t i = 0; i < 16; ++i)
    for (std::size_t c = 0; c < 100; ++c)
      for (std::size_t p = 0; p < per; ++p) sum[i * per + p] += all[(i * 100 + c) * per + p];
  EXPECT_LT(test::max_rel_error(sum, io::read_npy(refpath("LeNet-5/epsilon_0.01.npy"))), 1e-9);

  r = test::run_cli(base + "--concepts top:3 --out " + out + " --heatmap " + png + " --heatmap-scale 2 --concept-table " + tsv);
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("sample 0: target 7"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("concepts at 6:  channel "), std::string::npos) << r.output;
  const Tensor<double> top = io::read_npy(out);
  EXPECT_EQ(top.shape(), (Shape{16, 3, 32, 32, 1}));
  const io::Image8 img = io::decode_image(png);
  EXPECT_EQ(img.width, 3 * 64 + 2 * 2u);  // 3 columns (concepts) of 64 px tiles with 2 px gaps
  std::ifstream table(tsv);
  std::string line;
  std::getline(table, line);
  EXPECT_EQ(line, "sample\tmap\tchannels\tlayer_relevance\tinput_relevance");
  std::size_t rows = 0;
  double previous = 0;
  while (std::getline(table, line)) {
    std::istringstream fields(line);
    std::size_t sample = 0, map = 0;
    std::string channel;
    double at_layer = 0, at_input = 0;
    fields >> sample >> map >> channel >> at_layer >> at_input;
    EXPECT_EQ(sample, rows / 3);
    EXPECT_EQ(map, rows % 3);
    if (map > 0) {
      EXPECT_LE(at_layer, previous) << line;  // most relevant first
    }
    previous = at_layer;
    double map_sum = 0;
    for (std::size_t p = 0; p < per; ++p) map_sum += top[rows * per + p];
    EXPECT_NEAR(at_input, map_sum, 1e-4 * std::abs(map_sum) + 1e-6) << line;
    ++rows;
  }
  EXPECT_EQ(rows, 16 * 3u);
  std::remove(out.c_str());
  std::remove(png.c_str());
  std::remove(tsv.c_str());
}

TEST(CliExplain, HeatmapHasOneTilePerSampleAndTarget) {
  const std::string png = test::temp_path("heat.png");
  const test::CliResult r = test::run_cli("explain " + lenet() + " " + refpath("LeNet-5/input.npy") +
                                          " --rule epsilon:0.01 --target 3,7 --heatmap " + png + " --heatmap-scale 2 --quiet");
  ASSERT_EQ(r.code, 0) << r.output;
  const io::Image8 img = io::decode_image(png);
  // 16 rows (samples) x 2 columns (targets) of 64 px tiles with 2 px gaps
  EXPECT_EQ(img.width, 2 * 64 + 2u);
  EXPECT_EQ(img.height, 16 * 64 + 15 * 2u);
  std::remove(png.c_str());
}

// A text model's per-token map is drawn as a strip of cells, one sample per row; `lrp info`
// says the input holds token ids.
TEST(CliExplain, TokenMapsAreStrips) {
  const std::string png = test::temp_path("tokens.png"), model = test::source_path("tests/fixtures/bert/model.onnx");
  const test::CliResult r = test::run_cli("explain " + model + " " + test::source_path("tests/fixtures/bert/input.npy") +
                                          " --composite attnlrp --heatmap " + png + " --heatmap-scale 5 --quiet");
  ASSERT_EQ(r.code, 0) << r.output;
  const io::Image8 img = io::decode_image(png);
  EXPECT_EQ(img.width, 8 * 5u);          // 8 tokens of 5 px
  EXPECT_EQ(img.height, 2 * 5 + 2u);     // 2 samples, 2 px gap
  std::remove(png.c_str());
  const test::CliResult info = test::run_cli("info " + model);
  EXPECT_NE(info.output.find("token ids"), std::string::npos) << info.output;
}

// --tokens: a text model's maps on its tokens, as HTML text and as a table whose values are the
// relevance written by --out; --vocab turns ids into tokens (WordPiece "##" pieces join words).
TEST(CliExplain, TokenMapsAsHtmlAndTable) {
  const std::string model = test::source_path("tests/fixtures/bert/model.onnx"), ids = test::source_path("tests/fixtures/bert/input.npy");
  const std::string vocab = test::temp_path("vocab.txt"), html = test::temp_path("tokens.html"), tsv = test::temp_path("tokens.tsv"),
                    npy = test::temp_path("tokens.npy");
  {
    std::ofstream v(vocab);
    for (int i = 0; i < 50; ++i) v << (i == 9 ? std::string("##s") : "w" + std::to_string(i)) << "\n";
  }
  test::CliResult r = test::run_cli("explain " + model + " " + ids + " --composite attnlrp --target 1 --vocab " + vocab +
                                    " --tokens " + html + " --quiet");
  ASSERT_EQ(r.code, 0) << r.output;
  std::stringstream page;
  page << std::ifstream(html).rdbuf();
  const std::string text = test::visible_text(page.str());
  // input row 0: 46 9 29 1 34 9 10 14
  EXPECT_NE(text.find("w46s w29 w1 w34s w10 w14"), std::string::npos) << text;
  EXPECT_NE(text.find("sample 1, target 1"), std::string::npos);

  r = test::run_cli("explain " + model + " " + ids + " --composite attnlrp --target 1 --tokens " + tsv + " --out " + npy + " --quiet");
  ASSERT_EQ(r.code, 0) << r.output;
  const Tensor<double> rel = io::read_npy(npy), id = io::read_npy(ids);
  ASSERT_EQ(rel.size(), 16u);
  std::ifstream table(tsv);
  std::string line;
  std::getline(table, line);
  EXPECT_EQ(line, "map\tposition\ttoken\trelevance");
  for (std::size_t i = 0; i < 16; ++i) {
    ASSERT_TRUE(std::getline(table, line)) << "row " << i;
    std::vector<std::string> f;
    std::stringstream cells(line);
    for (std::string c; std::getline(cells, c, '\t');) f.push_back(c);
    ASSERT_EQ(f.size(), 4u) << line;
    EXPECT_EQ(f[1], std::to_string(i % 8));
    EXPECT_EQ(f[2], "[" + std::to_string(static_cast<long long>(id[i])) + "]");  // no --vocab: ids
    EXPECT_NEAR(std::stod(f[3]), rel[i], 1e-7 * (1 + std::abs(rel[i]))) << line;
  }
  EXPECT_FALSE(std::getline(table, line));
  for (const std::string& p : {vocab, html, tsv, npy}) std::remove(p.c_str());
}

// A decoder's logits for every position: `--target position:P[:K]` (labels too), its errors exit
// with code 2 naming the position or class.
TEST(CliExplain, DecoderTargetsAPosition) {
  const std::string model = test::source_path("tests/fixtures/gpt/model_all_positions.onnx"),
                    ids = test::source_path("tests/fixtures/gpt/input.npy"), npy = test::temp_path("position.npy"),
                    labels = test::temp_path("labels.txt");
  test::CliResult r = test::run_cli("explain " + model + " " + ids + " --composite attnlrp:1e-12 --target position:-1:7 --out " + npy);
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("sample 1: position -1  target 7"), std::string::npos) << r.output;
  const Tensor<double> want = io::read_npy(test::source_path("tests/fixtures/gpt/attnlrp.npy"));
  EXPECT_LE(test::max_rel_error(io::read_npy(npy), want), 1e-6);  // float
  {
    std::ofstream l(labels);
    l << "7\n7\n";
  }
  r = test::run_cli("explain " + model + " " + ids + " --composite attnlrp:1e-12 --target position:-1:labels:" + labels + " --out " + npy);
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_LE(test::max_rel_error(io::read_npy(npy), want), 1e-6);
  for (const std::string& bad : {std::string("position:8"), std::string("position:0:50"), std::string("position:x"), "position:0:relevance:" + npy}) {
    r = test::run_cli("explain " + model + " " + ids + " --composite attnlrp --target " + bad + " --out " + npy + " --quiet");
    EXPECT_EQ(r.code, 2) << bad << ": " << r.output;
    EXPECT_NE(r.output.find("position"), std::string::npos) << r.output;
  }
  // --tokens with a byte-level vocabulary: tokens as their text, the explained next token named.
  const std::string vocab = test::temp_path("gpt_tokenizer.json"), tsv = test::temp_path("gpt_tokens.tsv");
  {
    std::ofstream v(vocab);
    v << "{\"model\": {\"type\": \"BPE\", \"vocab\": {";
    for (int i = 0; i < 50; ++i) v << (i ? ", " : "") << "\"" << (i == 44 ? "\u0120the" : i == 39 ? "\u00c3\u00a9" : "w" + std::to_string(i)) << "\": " << i;
    v << "}}}";
  }
  r = test::run_cli("explain " + model + " " + ids + " --composite attnlrp --target position:-1:7 --vocab " + vocab + " --tokens " + tsv +
                    " --quiet");
  ASSERT_EQ(r.code, 0) << r.output;
  std::stringstream table;
  table << std::ifstream(tsv).rdbuf();
  EXPECT_NE(table.str().find("sample 0, target 7 'w7' (score"), std::string::npos) << table.str();
  EXPECT_NE(table.str().find("\t0\t the\t"), std::string::npos) << table.str();          // input row 0 starts with 44: "Ġthe"
  EXPECT_NE(table.str().find("\t1\t\xC3\xA9\t"), std::string::npos) << table.str();   // then 39: "Ã©", i.e. "é"
  for (const std::string& p : {npy, labels, vocab, tsv}) std::remove(p.c_str());
}

// An LSTM classifier (PyTorch's nn.LSTM, batch first, imported as a batch of one): the map of each
// sample equals the fixture's Arras et al. reference, and the heatmap has one T x D tile per sample.
TEST(CliExplain, LstmModelMatchesArrasReference) {
  const std::string fx = test::source_path("tests/fixtures/lstm/"), out = test::temp_path("lstm.npy"), png = test::temp_path("lstm.png");
  const test::CliResult r = test::run_cli("explain " + fx + "bi2.onnx " + fx + "bi2_input.npy --composite epsilon --target 1 --out " + out +
                                          " --heatmap " + png);
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_LT(test::max_rel_error(io::read_npy(out), io::read_npy(fx + "bi2_lrp_eps.npy")), 1e-5);
  const io::Image8 img = io::decode_image(png);  // two 7 x 5 maps (time down), 13 px cells, side by side with a gap
  EXPECT_EQ(img.height, 7 * 13u);
  EXPECT_EQ(img.width, 2 * 5 * 13u + 2);
  const test::CliResult info = test::run_cli("info " + fx + "bi2.onnx");
  ASSERT_EQ(info.code, 0) << info.output;
  EXPECT_NE(info.output.find("LSTM          [7,2,1,6]"), std::string::npos) << info.output;
  EXPECT_NE(info.output.find("12 -> 6, bidirectional"), std::string::npos) << info.output;
}

// A 1-D network's heatmap draws each sample's signals [C = 2, L = 40] as strips (the signal over
// its relevance): 3 samples stacked, strips of --heatmap-scale (default 48) pixels.
TEST(CliExplain, OneDimensionalNetworkHeatmapDrawsSignalStrips) {
  const std::string fx = test::source_path("tests/fixtures/conv1d/"), png = test::temp_path("conv1d.png");
  for (const std::size_t strip : {std::size_t{48}, std::size_t{10}}) {
    const std::string scale = strip == 48 ? "" : " --heatmap-scale " + std::to_string(strip);
    const test::CliResult r =
        test::run_cli("explain " + fx + "model.onnx " + fx + "input.npy --composite epsilon_plus_flat --quiet --heatmap " + png + scale);
    ASSERT_EQ(r.code, 0) << r.output;
    const io::Image8 img = io::decode_image(png);
    EXPECT_EQ(img.height, 3 * (2 * (strip + 1) - 1) + 2 * 2) << strip;
    EXPECT_EQ(img.width, 40u) << strip;
  }
  // All 4 classes: one column per class, 2 black pixels between tiles.
  const test::CliResult all =
      test::run_cli("explain " + fx + "model.onnx " + fx + "input.npy --composite epsilon_plus_flat --target all --quiet --heatmap " + png);
  ASSERT_EQ(all.code, 0) << all.output;
  const io::Image8 grid = io::decode_image(png);
  EXPECT_EQ(grid.height, 3 * 97u + 2 * 2);
  EXPECT_EQ(grid.width, 4 * 40u + 3 * 2);
  std::remove(png.c_str());
  const test::CliResult info = test::run_cli("info " + fx + "model.onnx");
  ASSERT_EQ(info.code, 0) << info.output;
  EXPECT_NE(info.output.find("layout: [N, C, L] (data files)"), std::string::npos) << info.output;
}

// PyTorch's default nn.LSTM (no batch_first) takes [T, B, D]: the same [N, T, D] data file
// explains it, the input's batch axis 1 being lrp's batch.
TEST(CliExplain, SequenceFirstLstmTakesTheSameDataAsBatchFirst) {
  const std::string fx = test::source_path("tests/fixtures/lstm/"), out = test::temp_path("lstm_seq_first.npy");
  const test::CliResult r = test::run_cli("explain " + fx + "uni_seq_first.onnx " + fx + "uni_input.npy --composite epsilon --target 1 --out " + out);
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_LT(test::max_rel_error(io::read_npy(out), io::read_npy(fx + "uni_lrp_eps.npy")), 1e-5);
  const test::CliResult info = test::run_cli("info " + fx + "uni_seq_first.onnx");
  ASSERT_EQ(info.code, 0) << info.output;
  EXPECT_NE(info.output.find("input:  [7,5] per sample"), std::string::npos) << info.output;
  EXPECT_NE(info.output.find("(batch on axis 1)"), std::string::npos) << info.output;
}

// Dimensions an ONNX model leaves dynamic (an LSTM's number of steps) come from the input array:
// explain, predict and info --input size the model by it; bench by --input-shape.
TEST(CliExplain, DynamicLengthIsTakenFromTheInput) {
  const std::string fx = test::source_path("tests/fixtures/lstm/"), out = test::temp_path("any_length.npy"), model = fx + "uni_any_length.onnx";
  test::CliResult r = test::run_cli("explain " + model + " " + fx + "uni_any_length_input4.npy --composite epsilon --target 1 --out " + out);
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_LT(test::max_rel_error(io::read_npy(out), io::read_npy(fx + "uni_any_length_lrp_eps4.npy")), 1e-5);
  r = test::run_cli("predict " + model + " " + fx + "uni_any_length_input4.npy --precision double --out " + out);
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_LT(test::max_rel_error(io::read_npy(out), io::read_npy(fx + "uni_any_length_logits4.npy")), 1e-12);
  r = test::run_cli("info " + model + " --input " + fx + "uni_input.npy");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("input:  [7,5] per sample"), std::string::npos) << r.output;
  r = test::run_cli("bench " + model + " --input-shape 3,5 --composite epsilon --runs 1 --warmup 0 --threads 1 --json");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("\"input_shape\":[3,5]"), std::string::npos) << r.output;
  r = test::run_cli("info " + model);  // nothing to size it
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("dimension 1 is dynamic ('steps')"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("give an input array"), std::string::npos) << r.output;
}

TEST(CliExplain, InfoListsLayers) {
  const test::CliResult r = test::run_cli("info " + lenet() + " --input " + refpath("LeNet-5/input.npy"));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("SumPool"), std::string::npos);
  EXPECT_NE(r.output.find("[10,28,28]"), std::string::npos);
  EXPECT_NE(r.output.find("parameters: 47645"), std::string::npos) << r.output;
}

struct BadCase {
  std::string args, message;
};

void PrintTo(const BadCase& c, std::ostream* os) { *os << c.args; }

class CliBadInput : public ::testing::TestWithParam<BadCase> {};

TEST_P(CliBadInput, ClearMessageAndExitCode2) {
  const test::CliResult r = test::run_cli(GetParam().args);
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find(GetParam().message), std::string::npos) << r.output;
}

std::string written(const std::string& name, const Tensor<double>& t) {
  const std::string p = test::temp_path(name);
  io::write_npy(p, t);
  return p;
}

std::vector<BadCase> bad_cases() {
  const std::string x = refpath("LeNet-5/input.npy");
  Tensor<double> nan_input({1, 32, 32, 1}, 0.0);
  nan_input[5] = std::numeric_limits<double>::quiet_NaN();
  const std::string nan_path = written("nan.npy", nan_input);
  const std::string small = written("small.npy", Tensor<double>({2, 3, 3, 1}, 0.5));
  const std::string mlp_input = written("mlp_in.npy", Tensor<double>({2, 783}, 0.5));
  const std::string labels = written("labels.npy", Tensor<double>({3}, 1.0));
  // A digit's pixels times 1e37, finite in float32 (up to 3.4e38): the float forward overflows.
  Tensor<double> huge_digit = io::read_npy(x).rows(0, 1);
  for (double& v : huge_digit) v *= 1e37;
  const std::string huge = written("huge.npy", huge_digit);
  const std::string png = test::temp_path("wrong_size.png");
  render::write_png(png, render::RgbImage(20, 24, 128));
  const std::string corrupt = test::temp_path("corrupt.png");
  std::ofstream(corrupt) << "\x89PNG\r\n\x1a\nthis is not a png";
  const std::string e = "explain " + lenet() + " ";
  const std::string bert = "explain " + test::source_path("tests/fixtures/bert/model.onnx") + " " +
                           test::source_path("tests/fixtures/bert/input.npy") + " --rule z ";
  const std::string short_vocab = test::temp_path("short_vocab.txt");
  const std::string lstm = test::source_path("tests/fixtures/lstm/");
  std::ofstream(short_vocab) << "a\nb\nc\n";
  const std::string two = test::source_path("tests/fixtures/two_inputs/");
  const std::string one_part = test::temp_path("one_part.npz");
  io::write_npz(one_part, std::vector<std::pair<std::string, Tensor<double>>>{{"image", Tensor<double>({2, 1, 6, 6}, 0.5)}});
  const std::string wrong_part = test::temp_path("wrong_part.npz"), uneven = test::temp_path("uneven.npz");
  io::write_npz(wrong_part, std::vector<std::pair<std::string, Tensor<double>>>{{"image", Tensor<double>({2, 1, 5, 5}, 0.5)},
                                                                                 {"features", Tensor<double>({2, 5}, 0.5)}});
  io::write_npz(uneven, std::vector<std::pair<std::string, Tensor<double>>>{{"features", Tensor<double>({3, 5}, 0.5)},
                                                                             {"image", Tensor<double>({2, 1, 6, 6}, 0.5)}});
  const std::string no_samples = test::temp_path("no_samples.npz");
  io::write_npz(no_samples, std::vector<std::pair<std::string, Tensor<double>>>{{"image", Tensor<double>({0, 1, 6, 6})},
                                                                                 {"features", Tensor<double>({0, 5})}});
  const std::string empty_digits = written("empty_digits.npy", Tensor<double>({0, 32, 32, 1}));
  const std::string two_list = test::temp_path("two_list.txt");
  std::ofstream(two_list) << two << "inputs.npz\n";
  return {
      {e + x + " --rule bogus --out /tmp/o.npy", "unknown rule 'bogus'"},
      {e + x + " --rule epsilon:abc --out /tmp/o.npy", "'abc' is not a number"},
      {e + x + " --rule alphabeta:1,2,3 --out /tmp/o.npy", "takes 1 to 2 parameter(s)"},
      {e + x + " --composite nope --out /tmp/o.npy", "unknown composite 'nope'"},
      {e + x + " --rule gradient/nobias --out /tmp/o.npy", "'/nobias' applies to epsilon"},
      {e + x + " --rule zplus/bias --out /tmp/o.npy", "unknown rule 'zplus/bias'"},
      {e + x + " --composite guided_backprop/nobias --out /tmp/o.npy", "'/nobias' applies to the LRP composites"},
      {"explain " + two + "model.onnx " + two + "logits.npy --rule z --out /tmp/o.npz", "give them as one .npz holding an array per input"},
      {"explain " + two + "model.onnx " + wrong_part + " --rule z --out /tmp/o.npz", "array 'image' has shape [2,1,5,5]"},
      {"explain " + two + "model.onnx " + uneven + " --rule z --out /tmp/o.npz", "holds 3 samples, the one before it 2"},
      {"explain " + two + "model.onnx " + no_samples + " --rule z --out /tmp/o.npz", "the input holds no samples"},
      {e + empty_digits + " --rule z --out /tmp/o.npy", "the input holds no samples"},
      {"explain " + two + "model.onnx " + one_part + " --rule z --out /tmp/o.npz", "no array 'features' for the input of that name"},
      {"explain " + two + "model.onnx " + two + "inputs.npz --rule z --out /tmp/o.npy", "its relevance is written as .npz"},
      {"explain " + two + "model.onnx " + two + "inputs.npz --rule z --heatmap /tmp/h.png", "--heatmap: the model has 2 inputs"},
      {"batch " + two + "model.onnx " + two_list + " --out-dir /tmp/two_batch --rule z --heatmap", "--heatmap: the model"},
      {e + x + " --composite beta_smooth:0 --out /tmp/o.npy", "BETA must be positive"},
      {e + x + " --composite excitation_backprop:1 --out /tmp/o.npy", "takes 0 parameter(s)"},
      {e + x + " --rule beta-smooth:-1 --out /tmp/o.npy", "beta must be a positive number"},
      {e + x + " --rule beta-smooth:inf --out /tmp/o.npy", "'inf' is not a finite number"},
      {e + x + " --rule z --layer-rule 99=flat --out /tmp/o.npy", "matches no layer"},
      {e + x + " --rule z --target 12 --out /tmp/o.npy", "target class 12 is out of range"},
      {e + x + " --rule z --target labels:" + labels + " --out /tmp/o.npy", "got 3 labels for 16 samples"},
      {e + x + " --method magic --out /tmp/o.npy", "unknown method 'magic'"},
      {e + x + " --out /tmp/o.npy", "needs --rule RULE or --composite"},
      {e + "/nonexistent/input.npy --rule z --out /tmp/o.npy", "/nonexistent/input.npy"},
      {"explain /nonexistent/model.txt " + x + " --rule z --out /tmp/o.npy", "/nonexistent/model.txt"},
      {e + nan_path + " --rule z --out /tmp/o.npy", "NaN"},
      {e + huge + " --rule z --out /tmp/o.npy", "the relevance contains NaN or Inf"},
      {"predict " + lenet() + " " + huge + " --out /tmp/o.npy", "try --precision double"},
      {e + small + " --rule z --out /tmp/o.npy", "does not fit"},
      {"explain " + refpath("synth-mlp-rect/model.txt") + " " + mlp_input + " --rule z --out /tmp/o.npy", "expects [784]"},
      {e + x + " --rule z --out /nonexistent-dir/o.npy", "/nonexistent-dir/o.npy"},
      {"explain model.xyz " + x + " --rule z --out /tmp/o.npy", "cannot tell the format"},
      {e + png + " --rule z --out /tmp/o.npy", "does not fit"},
      {e + corrupt + " --rule z --out /tmp/o.npy", corrupt},
      {e + x + " --rule z --heatmap /tmp/h.png --colormap nosuchmap", "nosuchmap"},
      {e + x + " --rule z --out /tmp/o.npy --rule-precision fp8", "unknown rule precision 'fp8'"},
      {e + x + " --method integrated-gradients --baseline /nonexistent/b.npy --out /tmp/o.npy", "/nonexistent/b.npy"},
      {e + x + " --method integrated-gradients --baseline nan --out /tmp/o.npy", "'nan' is not a finite number"},
      {e + x + " --method deeplift --rule z --out /tmp/o.npy", "--method deeplift takes no rules"},
      {e + x + " --method gradient-shap --stdevs -1 --out /tmp/o.npy", "(--stdevs) must be a finite number >= 0"},
      {e + x + " --method feature-ablation --feature-mask /nonexistent/m.npy --out /tmp/o.npy", "/nonexistent/m.npy"},
      {e + x + " --method feature-ablation --feature-mask " + small + " --out /tmp/o.npy", "does not fit"},
      {e + x + " --rule z --feature-mask " + x + " --out /tmp/o.npy", "--method lrp reads no --feature-mask"},
      {e + x + " --method gradient --baseline " + x + " --out /tmp/o.npy", "--method gradient reads no --baseline file"},
      {e + x + " --method integrated-gradients --baseline " + small + " --out /tmp/o.npy", "does not fit"},
      {e + x + " --rule z --out /tmp/o.npy --rule-precision bf16 --precision double", "cannot be combined with --precision double"},
      {e + x + " --method kernel-shap --kernel-width 2 --out /tmp/o.npy", "--method kernel-shap takes no --kernel-width"},
      {e + x + " --method gradient --lasso 0 --out /tmp/o.npy", "--method gradient takes no --lasso"},
      {e + x + " --method lime --lasso -1 --feature-mask " + x + " --out /tmp/o.npy", "--lasso) must be a finite number >= 0"},
      {e + x + " --method lime --kernel-width 0 --feature-mask " + x + " --out /tmp/o.npy", "--kernel-width) must be a finite number > 0"},
      {e + x + " --method kernel-shap --samples 1 --feature-mask " + x + " --out /tmp/o.npy", "needs at least 2 samples"},
      {e + x + " --method lime --feature-mask " + x + " --out /tmp/o.npy", "group ids must be integers"},
      {e + x + " --rule z --bind mask=" + x + " --out /tmp/o.npy", "--bind: only ONNX models"},
      {"explain " + test::source_path("tests/fixtures/bert/model_mask.onnx") + " " + test::source_path("tests/fixtures/bert/input.npy") +
           " --rule z --bind attention_mask --out /tmp/o.npy",
       "must have the form NAME=FILE"},
      {"explain " + test::source_path("tests/fixtures/bert/model_mask.onnx") + " " + test::source_path("tests/fixtures/bert/input.npy") +
           " --rule z --bind nosuch=" + test::source_path("tests/fixtures/bert/mask.npy") + " --out /tmp/o.npy",
       "constant input 'nosuch' is not a graph input"},
      {e + x + " --rule z --tokens /tmp/t.html", "does not read token ids"},
      {bert + "--tokens /tmp/t.html --vocab /nonexistent/vocab.txt", "/nonexistent/vocab.txt"},
      {bert + "--out /tmp/o.npy --vocab " + short_vocab, "--vocab is used by --tokens"},
      {bert + "--tokens /tmp/t.html --vocab " + short_vocab, "is not in the vocabulary " + short_vocab},
      {bert + "--tokens /tmp/t.html --colormap gray-red", "token text needs a table or palette map"},
      // CLI11 read -1 into unsigned counts as 2^64 - 1: runs that never ended, and a heatmap
      // enlargement that crashed (SIGSEGV).
      {e + x + " --method smoothgrad --samples -1 --out /tmp/o.npy", "--samples: Value -1 not in range 1 to 1000000"},
      {e + x + " --method integrated-gradients --steps 4294967297 --out /tmp/o.npy", "--steps: Value 4294967297 not in range"},
      {e + x + " --rule z --heatmap /tmp/h.png --heatmap-scale -1", "--heatmap-scale: Value -1 not in range 0 to 1024"},
      {e + x + " --method occlusion --window -3 --out /tmp/o.npy", "--window: must not be negative, got -3"},
      // NaN noise made every SmoothGrad copy NaN; the run still exited 0.
      {e + x + " --method smoothgrad --noise-level nan --out /tmp/o.npy", "--noise-level: must be a finite number, got nan"},
      {e + x + " --method occlusion --occlusion-value -inf --out /tmp/o.npy", "--occlusion-value: must be a finite number, got -inf"},
      {e + x + " --rule z --concept-layer 99 --out /tmp/o.npy", "concept layer '99' names no layer"},
      {e + x + " --rule z --concept-layer 6 --concepts 100 --out /tmp/o.npy", "concept channel 100 is beyond the 100 channels of layer 6"},
      {e + x + " --rule z --concept-layer 6 --concepts top:101 --out /tmp/o.npy", "more channels than the 100"},
      {e + x + " --rule z --concept-layer 6 --concepts top:0 --out /tmp/o.npy", "ask for no concept"},
      {e + x + " --rule z --concept-layer 6 --concepts 3+x --out /tmp/o.npy", "concept channel"},
      {e + x + " --rule z --concepts top:3 --out /tmp/o.npy", "need --concept-layer"},
      {e + x + " --rule z --concept-layer 6 --target all --out /tmp/o.npy", "the target gives 10 per sample"},
      {e + x + " --method gradient --concept-layer 6 --out /tmp/o.npy", "use --method lrp"},
      {e + x + " --rule z --concept-layer 6 --at 3_Convolution --out /tmp/o.npy", "cannot be combined with --at"},
      {e + x + " --rule z --concept-layer 6 --condition 3_Convolution:25 --out /tmp/o.npy", "condition channel 25 is beyond the 25 channels"},
      {e + x + " --rule z --concept-layer 6 --condition 6:1 --out /tmp/o.npy", "a condition on the concept layer itself"},
      {e + x + " --rule z --concept-layer 6 --condition 3_Convolution --out /tmp/o.npy", "is not LAYER:C1+C2"},
      {e + x + " --rule z --condition 3_Convolution:1 --out /tmp/o.npy", "need --concept-layer"},
      {"explain " + lstm + "clip.onnx " + lstm + "uni_input.npy --rule z --out /tmp/o.npy", "cell clipping (attribute 'clip') is not supported"},
      {"explain " + lstm + "uni.onnx " + lstm + "uni_input.npy --method deeplift --out /tmp/o.npy", "not defined for an LSTM layer"},
      {"explain " + lstm + "uni.onnx " + lstm + "bi2_input.npy --rule z --layer-rule type:LSTM=pass --out /tmp/o.npy", "cannot be applied to an LSTM"},
      {"explain " + lstm + "uni.onnx " + small + " --rule z --out /tmp/o.npy", "takes 3-D input [N,7,5]"},
  };
}

INSTANTIATE_TEST_SUITE_P(Cases, CliBadInput, ::testing::ValuesIn(bad_cases()));

}  // namespace
}  // namespace lrp
