// set_flush_denormals: denormal numbers read and written as zero on the calling thread and on
// every thread of the OpenMP pool, and back to IEEE behaviour when turned off.
#include <gtest/gtest.h>
#include <omp.h>

#include <limits>

#include "lrp/core/kernels.hpp"

namespace lrp {
namespace {

// On each pool thread: whether the thread reports the setting, and what x * 0.5f gives for the
// denormal x (volatile, so that the product is computed at run time, on that thread).
struct PerThread {
  int threads = 0, reporting = 0, flushed = 0, exact = 0;
};

PerThread probe(float x) {
  int threads = 0, reporting = 0, flushed = 0, exact = 0;
#pragma omp parallel reduction(+ : threads, reporting, flushed, exact)
  {
    volatile float v = x;
    const float half = v * 0.5f;
    threads += 1;
    reporting += flush_denormals() ? 1 : 0;
    flushed += half == 0.0f ? 1 : 0;
    exact += half == x / 2 ? 1 : 0;
  }
  return {threads, reporting, flushed, exact};
}

TEST(FlushDenormals, EveryPoolThreadFlushesAndTurningItOffRestoresDenormals) {
#if !defined(__x86_64__)
  GTEST_SKIP() << "only x86-64 has the MXCSR flags";
#endif
  const float tiny = std::numeric_limits<float>::denorm_min() * 1024;  // a denormal, halved exactly
  ASSERT_LT(tiny, std::numeric_limits<float>::min());
  const int old_threads = omp_get_max_threads();
  omp_set_num_threads(3);  // more threads than a 2-CPU machine has: the pool is not just the caller

  set_flush_denormals(true);
  EXPECT_TRUE(flush_denormals());
  const PerThread on = probe(tiny);
  EXPECT_EQ(on.threads, 3);
  EXPECT_EQ(on.reporting, 3);
  EXPECT_EQ(on.flushed, 3);

  set_flush_denormals(false);
  EXPECT_FALSE(flush_denormals());
  const PerThread off = probe(tiny);
  EXPECT_EQ(off.reporting, 0);
  EXPECT_EQ(off.exact, 3);
  omp_set_num_threads(old_threads);
}

}  // namespace
}  // namespace lrp
