#include <malloc.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>

#if defined(__x86_64__)
#include <xmmintrin.h>
#endif

#include "kernels/dnnl_conv.hpp"
#include "lrp/core/error.hpp"
#include "lrp/core/kernels.hpp"

namespace lrp {

void set_conv_algorithm(ConvAlgorithm algo) { kernels::set_dnnl_conv_algorithm(algo); }
ConvAlgorithm conv_algorithm() { return kernels::dnnl_conv_algorithm(); }

const char* conv_algorithm_name(ConvAlgorithm a) {
  switch (a) {
    case ConvAlgorithm::Direct: return "direct";
    case ConvAlgorithm::Winograd: return "winograd";
    case ConvAlgorithm::Auto: return "auto";
    case ConvAlgorithm::Reference: return "reference";
  }
  return "?";
}

ConvAlgorithm parse_conv_algorithm(const std::string& t) {
  if (t == "direct") return ConvAlgorithm::Direct;
  if (t == "winograd") return ConvAlgorithm::Winograd;
  if (t == "auto") return ConvAlgorithm::Auto;
  if (t == "reference") return ConvAlgorithm::Reference;
  throw ConfigError("unknown convolution algorithm '" + t + "' (expected direct, winograd, auto or reference)");
}

namespace {
RulePrecision rule_precision_from_env() {
  const char* e = std::getenv("LRP_RULE_PRECISION");
  if (!e || std::string(e) == "float32") return RulePrecision::Float32;
  if (std::string(e) == "bf16") return RulePrecision::BFloat16;
  std::fprintf(stderr, "lrp: LRP_RULE_PRECISION='%s' is neither float32 nor bf16; the rules run in float32\n", e);
  return RulePrecision::Float32;
}
std::atomic<int>& rule_precision_setting() {
  static std::atomic<int> p{static_cast<int>(rule_precision_from_env())};
  return p;
}
}  // namespace

void set_rule_precision(RulePrecision precision) { rule_precision_setting().store(static_cast<int>(precision)); }
RulePrecision rule_precision() { return static_cast<RulePrecision>(rule_precision_setting().load()); }

const char* rule_precision_name(RulePrecision p) { return p == RulePrecision::BFloat16 ? "bf16" : "float32"; }

RulePrecision parse_rule_precision(const std::string& t) {
  if (t == "float32") return RulePrecision::Float32;
  if (t == "bf16") return RulePrecision::BFloat16;
  throw ConfigError("unknown rule precision '" + t + "' (expected float32 or bf16)");
}

bool rule_precision_native(RulePrecision p) { return p == RulePrecision::Float32 || kernels::dnnl_bf16_native(); }
const char* bf16_hardware() {
  if (kernels::dnnl_amx_native()) return "amx";
  return kernels::dnnl_bf16_native() ? "avx512_bf16" : "none";
}

KernelCacheStats kernel_cache_stats() {
  const kernels::DnnlConvStats s = kernels::dnnl_conv_stats();
  return {s.primitives, s.weight_copies, s.weight_bytes, s.weight_reorders};
}

void clear_kernel_caches() { kernels::dnnl_conv_clear_cache(); }
void set_weight_cache_limit(std::size_t bytes) { kernels::set_dnnl_weight_cache_limit(bytes); }
void fit_weight_cache_to_model(std::size_t conv_weight_bytes) {
  kernels::fit_dnnl_weight_budget(static_cast<std::size_t>(kWeightCacheFactor * static_cast<double>(conv_weight_bytes)));
}

void tune_allocator_for_reuse() {
  if (std::getenv("LRP_DEFAULT_MALLOC")) return;  // for comparisons
  mallopt(M_MMAP_MAX, 0);
  // Never trim (mallopt(3): -1 disables trimming). A threshold of 1 GiB let a batch of 16
  // VGG16 images hand its activations back after every call and fault them in again on the
  // next: 1.6 million page faults and 6.2-7.8 s per epsilon_alpha2_beta1 call on a KVM guest,
  // against 3.5 s without trimming. The peak stays what it was.
  mallopt(M_TRIM_THRESHOLD, -1);
  mallopt(M_TOP_PAD, 64 << 20);
}

namespace {
#if defined(__x86_64__)
constexpr unsigned kFlushBits = 0x8040;  // MXCSR: FTZ (bit 15) and DAZ (bit 6)
#endif
void set_thread_flush(bool on) {
#if defined(__x86_64__)
  _mm_setcsr(on ? (_mm_getcsr() | kFlushBits) : (_mm_getcsr() & ~kFlushBits));
#else
  (void)on;
#endif
}
}  // namespace

void set_flush_denormals(bool on) {
  set_thread_flush(on);
#pragma omp parallel
  set_thread_flush(on);
}

bool flush_denormals() {
#if defined(__x86_64__)
  return (_mm_getcsr() & kFlushBits) == kFlushBits;
#else
  return false;
#endif
}

}  // namespace lrp
