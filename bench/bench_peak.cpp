// The machine's float32 FMA peak per core (12 independent AVX-512 FMA chains), the yardstick
// for the convolution GFLOP/s in docs/PERFORMANCE.md.
//   lrp_microbench --benchmark_filter=PeakFma
#include <benchmark/benchmark.h>

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>

namespace {

__attribute__((target("avx512f"))) float fma_chains(long iters) {
  float init[16];
  for (float& v : init) v = 1.0000001f;
  const __m512 b = _mm512_loadu_ps(init);
  for (float& v : init) v = 1e-7f;
  const __m512 c = _mm512_loadu_ps(init);
  // Twelve independent accumulators (2 FMA pipes x 4-6 cycles latency), kept in registers.
  __m512 a0 = c, a1 = c, a2 = c, a3 = c, a4 = c, a5 = c, a6 = c, a7 = c, a8 = c, a9 = c, a10 = c, a11 = c;
  for (long k = 0; k < iters; ++k) {
    a0 = _mm512_fmadd_ps(a0, b, c);
    a1 = _mm512_fmadd_ps(a1, b, c);
    a2 = _mm512_fmadd_ps(a2, b, c);
    a3 = _mm512_fmadd_ps(a3, b, c);
    a4 = _mm512_fmadd_ps(a4, b, c);
    a5 = _mm512_fmadd_ps(a5, b, c);
    a6 = _mm512_fmadd_ps(a6, b, c);
    a7 = _mm512_fmadd_ps(a7, b, c);
    a8 = _mm512_fmadd_ps(a8, b, c);
    a9 = _mm512_fmadd_ps(a9, b, c);
    a10 = _mm512_fmadd_ps(a10, b, c);
    a11 = _mm512_fmadd_ps(a11, b, c);
    asm volatile("" : "+v"(a0), "+v"(a1), "+v"(a2), "+v"(a3), "+v"(a4), "+v"(a5));  // keep the chains alive
    asm volatile("" : "+v"(a6), "+v"(a7), "+v"(a8), "+v"(a9), "+v"(a10), "+v"(a11));
  }
  const __m512 sum = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
                                   _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)));
  const __m512 all = _mm512_add_ps(sum, _mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11)));
  _mm512_storeu_ps(init, all);
  float s = 0;
  for (float v : init) s += v;
  return s;
}

void BM_PeakFmaAvx512(benchmark::State& st) {
  if (!__builtin_cpu_supports("avx512f")) {
    st.SkipWithError("no AVX-512");
    return;
  }
  const long iters = 1 << 20;
  for (auto _ : st) benchmark::DoNotOptimize(fma_chains(iters));
  st.counters["GFLOP/s"] = benchmark::Counter(12.0 * 16 * 2 * static_cast<double>(iters), benchmark::Counter::kIsIterationInvariantRate,
                                              benchmark::Counter::kIs1000);
}
BENCHMARK(BM_PeakFmaAvx512)->Unit(benchmark::kMillisecond);

}  // namespace
#endif
