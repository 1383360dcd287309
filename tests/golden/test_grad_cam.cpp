// Grad-CAM and Guided Grad-CAM against PyTorch autograd (float64) on a small residual CNN with
// BatchNorm, odd input width and bilinear upsampling (tests/fixtures/grad_cam, README there):
// the predicted class, two listed classes at once, named layers (one without the ReLU).
// Error metric max|ours - ref| / max|ref|: <= 1e-9 in double, <= 1e-5 in float.
#include <gtest/gtest.h>

#include "lrp/core/error.hpp"
#include "lrp/explain/explain.hpp"
#include "lrp/io/arrays.hpp"
#include "lrp/io/onnx.hpp"
#include "lrp/io/toolbox_text.hpp"
#include "support/compare.hpp"
#include "support/run_cli.hpp"
#include "support/test_paths.hpp"

namespace lrp::test {
namespace {

std::string fixture(const std::string& file) { return source_path("tests/fixtures/grad_cam/" + file); }

struct CamCase {
  Method method;
  std::string target, layer;
  bool relu;
  std::string reference;
};

template <class T>
void check_cases(double tol) {
  const Model<double> md = io::read_onnx_model(fixture("model.onnx"));
  const Model<T> model = md.template convert<T>();
  const Tensor<T> x = io::read_npy(fixture("input.npy")).template cast<T>();
  const std::vector<CamCase> cases = {
      {Method::GradCam, "predicted", "", true, "gradcam_predicted"},
      {Method::GradCam, "1,3", "", true, "gradcam_1_3"},
      {Method::GradCam, "predicted", "/relu2/Relu", false, "gradcam_relu2_norelu"},
      {Method::GradCam, "predicted", "5", false, "gradcam_relu2_norelu"},  // the same layer by index (BatchNorm is node 1)
      {Method::GradCam, "predicted", "/conv3/Conv", true, "gradcam_conv3"},  // only the Add reads it: kept for Grad-CAM alone
      {Method::GuidedGradCam, "1,3", "", true, "guided_gradcam_1_3"},
  };
  Explainer<T> explainer(model);
  for (const CamCase& c : cases) {
    SCOPED_TRACE(c.reference + " layer '" + c.layer + "'");
    ExplainRequest req;
    req.method = c.method;
    req.target = parse_target(c.target);
    req.options.layer = c.layer;
    req.options.cam_relu = c.relu;
    const Explanation<T> e = explainer.explain(x, req);
    const Tensor<double> ref = io::read_npy(fixture(c.reference + ".npy"));  // [N, (K,) 1 or C, H, W]
    const std::size_t k = e.targets_per_sample, plane = 16 * 15, channels = 3;
    ASSERT_EQ(e.relevance.size(), 2 * k * channels * plane);
    if (c.method == Method::GuidedGradCam) {
      EXPECT_LE(max_rel_error(e.relevance, ref), tol);
      continue;
    }
    // Grad-CAM writes its one map to every input channel.
    for (std::size_t row = 0; row < 2 * k; ++row)
      for (std::size_t ch = 0; ch < channels; ++ch) {
        const Tensor<T> map = e.relevance.reshaped({2 * k * channels, plane}).rows(row * channels + ch, 1);
        const Tensor<double> want = ref.reshaped({2 * k, plane}).rows(row, 1);
        ASSERT_EQ(map.size(), want.size());
        EXPECT_LE(max_rel_error(map, want), tol) << "row " << row << " channel " << ch;
      }
  }
}

TEST(GradCam, MatchesPyTorchInDouble) { check_cases<double>(1e-9); }
TEST(GradCam, MatchesPyTorchInFloat) { check_cases<float>(1e-5); }

TEST(GradCam, LayersWithoutASpatialMapAreRefusedByName) {
  const Model<double> model = io::read_onnx_model(fixture("model.onnx"));
  const Tensor<double> x = io::read_npy(fixture("input.npy"));
  ExplainRequest req;
  req.method = Method::GradCam;
  for (const std::string layer : {"/fc/Gemm", "99", "nope"}) {
    req.options.layer = layer;
    try {
      explain(model, x, req);
      ADD_FAILURE() << layer << " was accepted";
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(layer == "/fc/Gemm" ? "not a spatial map" : "names no layer"), std::string::npos) << e.what();
    }
  }
  // A dense network has no image input.
  const Model<double> mlp = io::read_toolbox_model(shared_path("reference/lrp_toolbox/synth-mlp-rect/model.txt"));
  req.options.layer.clear();
  EXPECT_THROW(explain(mlp, Tensor<double>({1, 784}, 0.5), req), ConfigError);
}

TEST(GradCam, CommandLineWritesTheMapAndRefusesBadLayers) {
  const std::string out = temp_path("gradcam.npy");
  CliResult r = run_cli("explain " + fixture("model.onnx") + " " + fixture("input.npy") +
                        " --method grad-cam --cam-layer /relu2/Relu --cam-no-relu --quiet --out " + out);
  ASSERT_EQ(r.code, 0) << r.output;
  const Tensor<double> got = io::read_npy(out), ref = io::read_npy(fixture("gradcam_relu2_norelu.npy"));
  ASSERT_EQ(got.shape(), (Shape{2, 3, 16, 15}));
  EXPECT_LE(max_rel_error(got.rows(0, 1).reshaped({3, 16 * 15}).rows(2, 1), ref.rows(0, 1)), 1e-5);
  std::remove(out.c_str());
  r = run_cli("explain " + fixture("model.onnx") + " " + fixture("input.npy") + " --method grad-cam --cam-layer /fc/Gemm --out " + out);
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("/fc/Gemm"), std::string::npos) << r.output;
  r = run_cli("explain " + fixture("model.onnx") + " " + fixture("input.npy") + " --method grad-cam --rule epsilon --out " + out);
  EXPECT_EQ(r.code, 2) << r.output;
}

}  // namespace
}  // namespace lrp::test
