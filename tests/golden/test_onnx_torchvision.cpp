// torchvision parity: when PyTorch, torchvision and onnx are importable (Debian's
// /usr/bin/python3, or python3 on PATH), tests/fixtures/torchvision/make_models.py exports
// resnet18, vgg11_bn, densenet121, mobilenet_v2, swin_t and maxvit_t with random weights into a scratch
// folder (nothing is committed: vgg11_bn alone is ~0.5 GB). Each ONNX file is loaded as the CLI
// does and its logits must match PyTorch's: max|ours - torch| / max|torch| <= 1e-4, in double on
// the plain graph and in float after folding the BatchNorms (swin_t has none: LayerNorms, a
// shifted-window mask folded from Mod, ScatterND and Where, strided Slices in its patch merging;
// maxvit_t's attention is written as Einsum).
// Otherwise GTEST_SKIP with the reason.
// Set LRP_SKIP_TORCHVISION=1 to skip (e.g. under sanitizers; the export takes ~40 s).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <memory>

#include "lrp/graph/canonize.hpp"
#include "lrp/io/arrays.hpp"
#include "lrp/io/onnx.hpp"
#include "support/onnx_test_util.hpp"

namespace lrp::test {
namespace {

const std::vector<std::string> kModels = {"resnet18", "vgg11_bn", "densenet121", "mobilenet_v2", "swin_t", "maxvit_t"};
bool has_batch_norms(const std::string& model) { return model != "swin_t"; }

// The exported models, made once for the whole suite.
struct Exports {
  std::unique_ptr<ScratchDir> dir;
  std::string skip_reason;
};

std::string find_python() {
  for (const char* py : {"/usr/bin/python3", "python3"})
    if (std::system((std::string(py) + " -c \"import torch, torchvision, onnx\" >/dev/null 2>&1").c_str()) == 0) return py;
  return "";
}

std::string find_script() {
  // In the repository once the fixtures branch is merged; until then in its worktree.
  for (const std::string& p : {source_path("tests/fixtures/torchvision/make_models.py"),
                               std::string("/work/wt-fixtures/tests/fixtures/torchvision/make_models.py")})
    if (std::filesystem::exists(p)) return p;
  return "";
}

const Exports& exports() {
  static Exports e = [] {
    Exports x;
    if (const char* s = std::getenv("LRP_SKIP_TORCHVISION"); s && *s && std::string(s) != "0") {
      x.skip_reason = "LRP_SKIP_TORCHVISION is set";
      return x;
    }
    const std::string py = find_python();
    if (py.empty()) {
      x.skip_reason = "python3 with torch, torchvision and onnx is not available";
      return x;
    }
    const std::string script = find_script();
    if (script.empty()) {
      x.skip_reason = "tests/fixtures/torchvision/make_models.py not found";
      return x;
    }
    x.dir = std::make_unique<ScratchDir>();
    std::string models;
    for (const std::string& m : kModels) models += (models.empty() ? "" : ",") + m;
    const std::string cmd = py + " " + script + " " + x.dir->path() + " --models " + models + " >" + x.dir->file("export.log") + " 2>&1";
    if (std::system(cmd.c_str()) != 0) x.skip_reason = "make_models.py failed: " + read_file(x.dir->file("export.log"));
    return x;
  }();
  return e;
}

// One test for all models: ctest runs every test in its own process, and the export is the
// slow part.
TEST(TorchvisionParity, LogitsMatchPyTorch) {
  const Exports& e = exports();
  if (!e.skip_reason.empty()) GTEST_SKIP() << e.skip_reason;
  for (const std::string& name : kModels) {
    const std::string dir = e.dir->file(name);
    ASSERT_TRUE(std::filesystem::exists(dir + "/model.onnx")) << read_file(e.dir->file("export.log"));
    Model<double> model = io::read_onnx_model(dir + "/model.onnx");
    const Tensor<double> x = io::read_npy(dir + "/input.npy");
    const Tensor<double> logits = io::read_npy(dir + "/logits.npy");
    const double err_plain = max_rel_error(run_forward<double>(model, x), logits);
    EXPECT_LE(err_plain, 1e-4) << name;
    const std::size_t folded = fold_batch_norms(model).size();
    if (has_batch_norms(name)) {
      EXPECT_GT(folded, 0u) << name;
    }
    const double err_folded = max_rel_error(run_forward<float>(model, x), logits);
    EXPECT_LE(err_folded, 1e-4) << name;
    std::cout << "[ torchvision ] " << name << ": " << model.nodes().size() << " nodes, " << folded
              << " BatchNorms folded; logits error double " << err_plain << ", float folded " << err_folded << "\n";
    std::filesystem::remove(dir + "/model.onnx");  // free the disk early (vgg11_bn ~0.5 GB)
  }
}

}  // namespace
}  // namespace lrp::test
