#pragma once
// float32 convolution forward and backward-data (the transposed convolution every LRP rule
// needs) on oneDNN 2.6, for NCHW activations and OIHW weights as the engine stores them.
//
// Primitives are created once per (direction, shape, algorithm, bias) and cached; weights are
// reordered into the layout the primitive prefers (oneDNN's blocked formats) and cached per
// (weight data pointer, map, layout) within a budget (below); copies over it are rebuilt per
// call in scratch. Activations are reordered NCHW <-> blocked around each
// call when the primitive wants a blocked layout.
//
// Lifetime rule for the weight cache: a weight buffer handed to these functions must keep its
// values for as long as it lives at that address, or the owner calls
// dnnl_conv_forget_weights(ptr) before changing or freeing it. The engine's owners do so:
// Conv2d on destruction, ParamCache (derived W+, W-, W^2, ...) on destruction and clear().
// As a safety net every cached copy carries a fingerprint of 256 sampled weights (and the
// element count) that is checked on each use, so in-place updates such as training steps are
// picked up; a change that leaves every sampled element untouched is not.
//
// Both functions return false when oneDNN cannot run the shape (the caller then uses the
// reference kernels), and never throw.
#include <cstddef>
#include <string>

#include "kernels/conv.hpp"
#include "lrp/core/kernels.hpp"
#include "lrp/layers/affine.hpp"

namespace lrp::kernels {

// Whether stride-1 backward-data runs as the forward convolution of the transposed, flipped
// weights: Auto where oneDNN's forward kernel is the faster one (dilated depthwise; bfloat16 on
// AMX), or Always / Never (for tests: both ways must agree on every CPU).
enum class AdjointMode { Auto, Always, Never };
void set_dnnl_adjoint_mode(AdjointMode mode);

// Which oneDNN algorithm convolutions use (see lrp/core/kernels.hpp); the initial value comes
// from the environment variable LRP_CONV_ALGO (direct | winograd | auto | reference), default auto.
using ConvAlgo = ConvAlgorithm;
void set_dnnl_conv_algorithm(ConvAlgo algo);
ConvAlgo dnnl_conv_algorithm();

// What the convolution multiplies: float32 activations and weights, or both rounded to
// bfloat16 (8-bit mantissa) with float32 products, sums and results. BF16 applies only where
// the CPU has native bfloat16 dot products (dnnl_bf16_native()) and the layer has at least 8
// input channels per group; elsewhere, and for shapes oneDNN has no bfloat16 kernel for, the
// call runs in float32. Used for the rule passes of RulePrecision::BFloat16.
enum class ConvInputs { F32, BF16 };
// True when the CPU has AVX512-BF16, where oneDNN's bfloat16 convolutions run at about twice
// the float32 rate.
bool dnnl_bf16_native();
// True when the CPU also has AMX tiles with bfloat16 (and the OS lets oneDNN use them): there
// bfloat16 convolutions run at 2-5x the float32 rate on most shapes.
bool dnnl_amx_native();
// Whether a call with ConvInputs::BF16 multiplies this shape in bfloat16 (else float32).
bool dnnl_conv_bf16_applies(const ConvShape& s);

// With a map other than Identity the convolution runs with map(w) (param: its gamma), derived
// from w inside the cached reordered copy: no map(w) tensor in the caller's layout is needed.
bool dnnl_conv_forward(const ConvShape& s, const float* x, const float* w, const float* b, float* y,
                       WeightMap map = WeightMap::Identity, float param = 0.0f, ConvInputs inputs = ConvInputs::F32);
bool dnnl_conv_backward_data(const ConvShape& s, const float* g, const float* w, float* dx,
                             WeightMap map = WeightMap::Identity, float param = 0.0f, ConvInputs inputs = ConvInputs::F32);
// y = max(0, conv(x) + b) in one primitive (the ReLU a post-op on the result in its blocked
// layout). It would keep a NaN where a ReLU layer gives 0, but oneDNN's fused multiply-adds
// give +-inf, not NaN, on finite operands that overflow; some of its kernels write -0 where a
// ReLU layer writes +0 (equal as numbers, and every rule treats them alike).
bool dnnl_conv_forward_relu(const ConvShape& s, const float* x, const float* w, const float* b, float* y);

// Budget in bytes for the cached weight copies. A copy that does not fit is built for its call
// only (in a scratch buffer), Winograd copies (costly to build) may evict blocked ones, and
// lowering the budget drops the least recently used copies. set_dnnl_weight_cache_limit (or
// LRP_WEIGHT_CACHE_MB at start-up) fixes the budget; otherwise it starts at 128 MiB and
// fit_dnnl_weight_budget(bytes) raises it to at least `bytes`.
void set_dnnl_weight_cache_limit(std::size_t bytes);
void fit_dnnl_weight_budget(std::size_t bytes);
std::size_t dnnl_weight_cache_limit();

// Drops every cached reordered copy of the weights at `w` (all maps of them).
void dnnl_conv_forget_weights(const float* w) noexcept;
// Drops all cached primitives and weights (and the thread's scratch buffers).
void dnnl_conv_clear_cache() noexcept;

struct DnnlConvStats {
  std::size_t primitives = 0;       // cached primitive plans
  std::size_t weight_copies = 0;    // cached reordered weight tensors
  std::size_t weight_bytes = 0;     // their total size
  std::size_t weight_reorders = 0;  // reorders done so far (cache misses, incl. fingerprint changes)
  std::size_t adjoint_calls = 0;    // backward-data calls run as the adjoint forward (AdjointMode)
};
DnnlConvStats dnnl_conv_stats();

// oneDNN's implementation name for the primitive that runs this shape ("brgconv:avx512_core",
// ...), or "" when none; for tests and `lrp bench --verbose`.
std::string dnnl_conv_impl(const ConvShape& s, bool backward_data, ConvInputs inputs = ConvInputs::F32);

}  // namespace lrp::kernels
