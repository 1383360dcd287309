#pragma once
// Process-wide settings of the compute kernels: the convolution algorithm of the float32
// oneDNN path, the caches of primitives and reordered weights, and the allocator.
#include <cstddef>
#include <string>

namespace lrp {

// Direct: oneDNN's direct kernels; float32 results within ~1e-6 relative of the double
// reference. Winograd: oneDNN's Winograd F(4,3)/F(2,3) for 3x3 stride-1 convolutions
// with >= 16 input and output channels (others stay direct); about 2x faster there, similar
// float32 error on such layers, weight copies 4x larger (docs/PERFORMANCE.md). Auto (default):
// Winograd only where it pays most and its weight copies stay small (>= 3136 output positions
// per call, e.g. 56x56 at batch 1), direct elsewhere. Reference: no oneDNN, the im2col + GEMM
// loops.
// Initial value: environment variable LRP_CONV_ALGO (direct | winograd | auto | reference).
enum class ConvAlgorithm { Direct, Winograd, Auto, Reference };
void set_conv_algorithm(ConvAlgorithm algo);
ConvAlgorithm conv_algorithm();
const char* conv_algorithm_name(ConvAlgorithm algo);
// "direct" | "winograd" | "auto" | "reference"; throws ConfigError otherwise.
ConvAlgorithm parse_conv_algorithm(const std::string& text);

// What the convolutions inside the LRP rules multiply on the float32 path (the rule's modified
// forward and its transposed pass: W+ x, W+^T s, ...). Float32 (default). BFloat16: activations
// and weights rounded to bfloat16, products summed in float32; on CPUs that run bfloat16 dot
// products at twice the float32 rate (AMD Zen 4/5) these convolutions run about 2x faster (LRP
// 1.1-1.6x), with AMX tiles (Intel Sapphire Rapids and later) 1.1-5x faster; on an Intel Xeon
// with AVX512-BF16 but no AMX they ran 1.9x slower. Relevance within ~0.5% of max|R|
// (docs/PERFORMANCE.md). Only there, and only on layers where it beat float32: the forward
// pass, gradient methods, dense layers, 1x1 layers under 128 channels, layers with fewer than 8
// input channels and, without AMX, layers that float32 runs with Winograd stay float32, and so
// does everything on CPUs without native bfloat16 (rule_precision_native() false). Rules avoid
// differences that would cancel bfloat16 errors (AffineLayer::mapped_passes_exact).
// Initial value: environment variable LRP_RULE_PRECISION (float32 | bf16).
enum class RulePrecision { Float32, BFloat16 };
void set_rule_precision(RulePrecision precision);
RulePrecision rule_precision();
const char* rule_precision_name(RulePrecision precision);
// "float32" | "bf16"; throws ConfigError otherwise.
RulePrecision parse_rule_precision(const std::string& text);
// Whether this CPU runs RulePrecision::BFloat16 (AVX512-BF16 and a oneDNN build).
bool rule_precision_native(RulePrecision precision);
// What multiplies bfloat16 here: "amx" (AMX tiles), "avx512_bf16" (dot-product instructions
// only) or "none".
const char* bf16_hardware();

struct KernelCacheStats {
  std::size_t primitives = 0;       // cached convolution primitives
  std::size_t weight_copies = 0;    // cached reordered weight tensors
  std::size_t weight_bytes = 0;     // their size
  std::size_t weight_reorders = 0;  // reorders done so far
};
KernelCacheStats kernel_cache_stats();
void clear_kernel_caches();
// Budget for the cached (reordered, mapped) weight copies. A budget below what one call needs
// trades memory for time: the copies that do not fit are rebuilt on every use
// (docs/PERFORMANCE.md). Default: kWeightCacheFactor x the float32 convolution weights of the
// largest model an Explainer<float> was made for (at least 128 MiB); the environment variable
// LRP_WEIGHT_CACHE_MB or set_weight_cache_limit fix it instead.
constexpr double kWeightCacheFactor = 2.5;
void set_weight_cache_limit(std::size_t bytes);
// Raises the default budget to kWeightCacheFactor x `conv_weight_bytes` (no effect on a fixed one).
void fit_weight_cache_to_model(std::size_t conv_weight_bytes);

// Keeps freed memory in the process (glibc: no mmap for large blocks, no trimming), so that
// the large activation tensors of repeated calls reuse pages instead of faulting in fresh ones
// on every call. Process-wide; the `lrp` tool calls it once the model is loaded, so that the
// large temporaries of loading (file bytes, double weights) go back to the system first.
void tune_allocator_for_reuse();

// Denormal numbers (below 1.2e-38 in float, 2.2e-308 in double) read and written as zero, on
// the calling thread and on every thread of the OpenMP pool (x86 MXCSR flags FTZ and DAZ;
// threads created later inherit them; no effect on other CPUs). Relevance and gradients
// decaying through deep networks can reach that range, where every operation on them takes
// the CPU's slow microcoded path (LR-ASPP MobileNetV3 EPF: 106 against 36 ms). What is
// flushed is below any tolerance relative to the relevance's maximum. The `lrp` tool turns it
// on at start (LRP_KEEP_DENORMALS=1 keeps denormals); a library leaves it to the host program.
void set_flush_denormals(bool on);
// The calling thread's setting.
bool flush_denormals();

}  // namespace lrp
