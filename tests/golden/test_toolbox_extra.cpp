// Random models the shared references do not cover (Tanh and SumPool on signed inputs, unequal
// strides, non-square windows), computed by the original toolbox (tests/fixtures/toolbox_extra).
#include <gtest/gtest.h>

#include "lrp/explain/explain.hpp"
#include "lrp/io/arrays.hpp"
#include "lrp/io/toolbox_text.hpp"
#include "lrp/rules/composite.hpp"
#include "support/compare.hpp"
#include "support/test_paths.hpp"

namespace lrp {
namespace {

class ToolboxExtra : public ::testing::TestWithParam<std::string> {};

TEST_P(ToolboxExtra, EveryRuleInDoubleAndFloat) {
  const std::string dir = test::source_path("tests/fixtures/toolbox_extra/" + GetParam() + "/");
  Model<double> md = io::read_toolbox_model(dir + "model.txt");
  md.drop_trailing_softmax();
  const Model<float> mf = md.convert<float>();
  Tensor<double> x = io::read_npy(dir + "input.npy");
  if (md.layout == DataLayout::NHWC) x = nhwc_to_nchw(x);
  for (const auto& [file, text] : std::vector<std::pair<std::string, std::string>>{
           {"simple", "z"}, {"epsilon_0.1", "epsilon:0.1"}, {"alpha2_beta1", "alphabeta:2"}, {"alpha1_beta0", "alphabeta:1"},
           {"alpha3_beta2", "alphabeta:3"}, {"ww", "w2"}, {"flat", "flat"}}) {
    ExplainRequest req;
    req.rules = uniform_rules(md, parse_rule(text));
    Tensor<double> rd = explain(md, x, req).relevance;
    Tensor<float> rf = explain(mf, x.cast<float>(), req).relevance;
    if (md.layout == DataLayout::NHWC) {
      rd = nchw_to_nhwc(rd);
      rf = nchw_to_nhwc(rf);
    }
    const Tensor<double> ref = io::read_npy(dir + file + ".npy");
    EXPECT_LT(test::max_rel_error(rd, ref), 1e-9) << GetParam() << " " << text;
    EXPECT_LT(test::max_rel_error(rf, ref), 1e-3) << GetParam() << " " << text << " (float)";
  }
}

INSTANTIATE_TEST_SUITE_P(Models, ToolboxExtra, ::testing::Values("tanh-sumpool-signed", "maxpool-signed-linear", "mlp-tanh"),
                         [](const auto& param_info) {
                           std::string s = param_info.param;
                           for (char& c : s)
                             if (c == '-') c = '_';
                           return s;
                         });

}  // namespace
}  // namespace lrp
