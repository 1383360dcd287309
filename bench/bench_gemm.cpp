// Dense layers at batch 1 (the peer benchmark's: the MNIST CNN's 3136 -> 1024, 12.8 MB of
// weights, and the MLP's 784 -> 1296 and 1296 -> 1296), whose weights stream from L3 on every
// call: reading them is the cost of both products.
//   lrp_microbench --benchmark_filter=Dense
#include <benchmark/benchmark.h>

#include <vector>

#include "kernels/gemm.hpp"

#include "random_input.hpp"

namespace {

struct Dims {
  std::size_t in, out;
};
Dims dims(int which) { return which == 0 ? Dims{3136, 1024} : which == 1 ? Dims{784, 1296} : Dims{1296, 1296}; }

using lrp::bench::random_vector;

// y[1, out] = x[1, in] W[out, in]^T
void BM_DenseForwardBatch1(benchmark::State& st) {
  const auto [kIn, kOut] = dims(static_cast<int>(st.range(0)));
  const std::vector<float> w = random_vector(kOut * kIn, 1), x = random_vector(kIn, 2);
  std::vector<float> y(kOut);
  for (auto _ : st) {
    lrp::kernels::gemm<float>(false, true, 1, kOut, kIn, 1.0f, x.data(), kIn, w.data(), kIn, 0.0f, y.data(), kOut);
    benchmark::DoNotOptimize(y.data());
  }
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations() * w.size() * sizeof(float)));
}

// dx[1, in] = g[1, out] W[out, in], g zero for the half of the outputs a ReLU switched off:
// the relevance (or gradient) product, which reads only the weight rows of nonzero g.
void BM_DenseRelevanceBatch1(benchmark::State& st) {
  const auto [kIn, kOut] = dims(static_cast<int>(st.range(0)));
  const std::vector<float> w = random_vector(kOut * kIn, 1);
  std::vector<float> g = random_vector(kOut, 3), dx(kIn);
  for (float& v : g) v = v > 0.0f ? v : 0.0f;
  for (auto _ : st) {
    lrp::kernels::gemm<float>(false, false, 1, kIn, kOut, 1.0f, g.data(), kOut, w.data(), kIn, 0.0f, dx.data(), kIn);
    benchmark::DoNotOptimize(dx.data());
  }
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations() * w.size() * sizeof(float) / 2));
}

}  // namespace

// Arg: 0 the MNIST CNN's 3136 -> 1024, 1 the MLP's 784 -> 1296, 2 its 1296 -> 1296
BENCHMARK(BM_DenseForwardBatch1)->DenseRange(0, 2)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_DenseRelevanceBatch1)->DenseRange(0, 2)->Unit(benchmark::kMicrosecond)->UseRealTime();
