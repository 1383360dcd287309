// Convolution kernels: the oneDNN fast path against the im2col + GEMM reference, forward and
// backward-data (the transposed convolution of every LRP rule), float32.
//   lrp_microbench --benchmark_filter=Conv
#include <benchmark/benchmark.h>

#include <vector>

#include "kernels/conv.hpp"
#include "kernels/dnnl_conv.hpp"
#include "lrp/core/kernels.hpp"

#include "random_input.hpp"

namespace {

using lrp::kernels::ConvShape;

// Shapes: VGG16 conv3_2 (256->256, 56x56), ResNet-50 bottleneck 1x1 (256->64, 56x56),
// ResNet-50 3x3 stride 2 (128->128, 56->28), LeNet-5 conv2 (10->25, 14x14, 5x5), the MNIST
// CNN's conv2 (32->64, 14x14, 5x5, padding 2) and conv1 (1->32, 28x28, 5x5, padding 2: our
// single-channel kernels).
ConvShape shape(int which, std::size_t batch) {
  ConvShape s;
  s.n = batch;
  switch (which) {
    case 0: s.c = 256, s.h = s.w = 56, s.oc = 256, s.win.kh = s.win.kw = 3, s.win.pt = s.win.pl = s.win.pb = s.win.pr = 1; break;
    case 1: s.c = 256, s.h = s.w = 56, s.oc = 64, s.win.kh = s.win.kw = 1; break;
    case 2:
      s.c = 128, s.h = s.w = 56, s.oc = 128, s.win.kh = s.win.kw = 3, s.win.sh = s.win.sw = 2;
      s.win.pt = s.win.pl = s.win.pb = s.win.pr = 1;
      break;
    case 3: s.c = 10, s.h = s.w = 14, s.oc = 25, s.win.kh = s.win.kw = 5; break;
    case 4:
      s.c = 32, s.h = s.w = 14, s.oc = 64, s.win.kh = s.win.kw = 5;
      s.win.pt = s.win.pl = s.win.pb = s.win.pr = 2;
      break;
    default:
      s.c = 1, s.h = s.w = 28, s.oc = 32, s.win.kh = s.win.kw = 5;
      s.win.pt = s.win.pl = s.win.pb = s.win.pr = 2;
      break;
  }
  s.oh = s.win.out_h(s.h, "bench");
  s.ow = s.win.out_w(s.w, "bench");
  return s;
}

using lrp::bench::random_vector;

double conv_flops(const ConvShape& s) {
  return 2.0 * static_cast<double>(s.n * s.oc * s.oh * s.ow * (s.c / s.groups) * s.win.kh * s.win.kw);
}

// mode 0: reference, 1: oneDNN direct, 2: oneDNN Winograd (falls back to direct where unsupported)
void BM_ConvForward(benchmark::State& st) {
  const ConvShape s = shape(static_cast<int>(st.range(0)), static_cast<std::size_t>(st.range(1)));
  const int mode = static_cast<int>(st.range(2));
  const auto x = random_vector(s.n * s.c * s.h * s.w, 1), w = random_vector(s.oc * s.c * s.win.kh * s.win.kw, 2),
             b = random_vector(s.oc, 3);
  std::vector<float> y(s.n * s.oc * s.oh * s.ow);
  lrp::set_conv_algorithm(mode == 2 ? lrp::ConvAlgorithm::Winograd : lrp::ConvAlgorithm::Direct);
  for (auto _ : st) {
    if (mode == 0) lrp::kernels::conv2d_forward_reference<float>(s, x.data(), w.data(), b.data(), y.data());
    else lrp::kernels::conv2d_forward<float>(s, x.data(), w.data(), b.data(), y.data());
    benchmark::DoNotOptimize(y.data());
  }
  st.counters["GFLOP/s"] = benchmark::Counter(conv_flops(s), benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
  lrp::set_conv_algorithm(lrp::ConvAlgorithm::Direct);
}

void BM_ConvBackwardData(benchmark::State& st) {
  const ConvShape s = shape(static_cast<int>(st.range(0)), static_cast<std::size_t>(st.range(1)));
  const int mode = static_cast<int>(st.range(2));
  const auto g = random_vector(s.n * s.oc * s.oh * s.ow, 4), w = random_vector(s.oc * s.c * s.win.kh * s.win.kw, 5);
  std::vector<float> dx(s.n * s.c * s.h * s.w);
  lrp::set_conv_algorithm(mode == 2 ? lrp::ConvAlgorithm::Winograd : lrp::ConvAlgorithm::Direct);
  for (auto _ : st) {
    if (mode == 0) lrp::kernels::conv2d_backward_data_reference<float>(s, g.data(), w.data(), dx.data());
    else lrp::kernels::conv2d_backward_data<float>(s, g.data(), w.data(), dx.data());
    benchmark::DoNotOptimize(dx.data());
  }
  st.counters["GFLOP/s"] = benchmark::Counter(conv_flops(s), benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
  lrp::set_conv_algorithm(lrp::ConvAlgorithm::Direct);
}

// Args: shape, batch, mode (0 reference, 1 oneDNN direct, 2 oneDNN Winograd)
void conv_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"shape", "batch", "mode"});
  for (int shape_id = 0; shape_id < 6; ++shape_id)
    for (int mode = 0; mode < 3; ++mode) {
      if (mode == 2 && shape_id != 0) continue;  // Winograd: 3x3 stride 1 only
      b->Args({shape_id, 1, mode});
    }
  b->Unit(benchmark::kMillisecond)->UseRealTime();
}

BENCHMARK(BM_ConvForward)->Apply(conv_args);
BENCHMARK(BM_ConvBackwardData)->Apply(conv_args);

}  // namespace
