// LRP end to end on the toolbox's LeNet-5 (shared/data/lrp_toolbox/models/MNIST/LeNet-5.txt):
// forward, epsilon-LRP for the predicted class, and all 10 classes at once, batch 1 and 100.
//   lrp_microbench --benchmark_filter=LeNet
#include <benchmark/benchmark.h>

#include <memory>
#include <random>

#include "lrp/core/kernels.hpp"
#include "lrp/explain/explain.hpp"
#include "lrp/io/toolbox_text.hpp"
#include "lrp/rules/composite.hpp"

namespace {

const lrp::Model<float>& lenet() {
  static const lrp::Model<float> m = [] {
    lrp::Model<double> md = lrp::io::read_toolbox_model(std::string(LRP_SHARED_DIR) + "/data/lrp_toolbox/models/MNIST/LeNet-5.txt");
    md.drop_trailing_softmax();
    return md.convert<float>();
  }();
  return m;
}

lrp::Tensor<float> input(std::size_t batch) {
  lrp::Tensor<float> x({batch, 1, 32, 32});
  std::mt19937 rng(0);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  for (float& v : x) v = nd(rng);
  return x;
}

// Args: batch, what (0 forward, 1 epsilon LRP predicted class, 2 epsilon LRP all 10 classes,
// 3 gradient)
void BM_LeNet5(benchmark::State& st) {
  const std::size_t batch = static_cast<std::size_t>(st.range(0));
  const int what = static_cast<int>(st.range(1));
  lrp::Explainer<float> ex(lenet());
  const lrp::Tensor<float> x = input(batch);
  lrp::ExplainRequest req;
  req.method = what == 3 ? lrp::Method::Gradient : lrp::Method::LRP;
  if (what != 3) req.rules = lrp::uniform_rules(lenet(), lrp::parse_rule("epsilon:0.01"));
  if (what == 2) req.target = lrp::parse_target("all");
  for (auto _ : st) {
    if (what == 0) {
      benchmark::DoNotOptimize(ex.predict(x).data());
    } else {
      benchmark::DoNotOptimize(ex.explain(x, req).relevance.data());
    }
  }
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations()) * static_cast<std::int64_t>(batch));
}

BENCHMARK(BM_LeNet5)
    ->ArgNames({"batch", "what"})
    ->ArgsProduct({{1, 100}, {0, 1, 2, 3}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
  lrp::tune_allocator_for_reuse();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
