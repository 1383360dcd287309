// oneDNN 2.6 convolution forward / backward-data with cached primitives and weights
// (see dnnl_conv.hpp for the caching and lifetime rules).
#include "kernels/dnnl_conv.hpp"

#ifdef LRP_WITH_DNNL

#include <algorithm>
#include <atomic>
#include <compare>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <oneapi/dnnl/dnnl.hpp>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace lrp::kernels {
namespace {

using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

ConvAlgo algo_from_env() {
  const char* e = std::getenv("LRP_CONV_ALGO");
  if (!e) return ConvAlgo::Auto;
  const std::string v(e);
  if (v == "direct") return ConvAlgo::Direct;
  if (v == "winograd") return ConvAlgo::Winograd;
  if (v == "auto") return ConvAlgo::Auto;
  if (v == "reference") return ConvAlgo::Reference;
  std::fprintf(stderr, "lrp: LRP_CONV_ALGO='%s' is none of direct, winograd, auto, reference; convolutions use auto\n", e);
  return ConvAlgo::Auto;
}

std::atomic<int>& algo_setting() {
  static std::atomic<int> a{static_cast<int>(algo_from_env())};
  return a;
}

// LRP_DNNL_VERBOSE=1: report shapes oneDNN cannot run (they fall back to the reference loops).
bool verbose() {
  static const bool v = std::getenv("LRP_DNNL_VERBOSE") != nullptr;
  return v;
}

dnnl::engine& cpu_engine() {
  static dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  return eng;
}

// 64-byte aligned grow-only buffer (blocked activations and scratchpads of one thread).
class Buffer {
 public:
  Buffer() = default;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  ~Buffer() { std::free(p_); }
  void* get(std::size_t bytes) {
    if (bytes > size_) {
      std::free(p_);
      size_ = (bytes + 63) / 64 * 64;
      p_ = std::aligned_alloc(64, size_);
      if (!p_) {
        size_ = 0;
        throw std::bad_alloc();
      }
    }
    return p_;
  }
  void release() {
    std::free(p_);
    p_ = nullptr;
    size_ = 0;
  }

 private:
  void* p_ = nullptr;
  std::size_t size_ = 0;
};

struct Scratch {
  Buffer src, dst, pad;
  Buffer weights, mapped;  // weight copies that the cache budget has no room for
};
Scratch& thread_scratch() {
  thread_local Scratch s;
  return s;
}

// kAdjointForward: backward-data run as the forward convolution of g with the transposed,
// spatially flipped weights (stride 1 only; see adjoint_shape).
enum Dir : int { kForward = 0, kBackwardData = 1, kAdjointForward = 2 };

struct Key {
  int dir, algo;
  bool bias, bf16, relu;
  std::size_t n, c, h, w, oc, oh, ow, groups, kh, kw, sh, sw, pt, pl, pb, pr, dh, dw;
  auto operator<=>(const Key&) const = default;
};

Key make_key(int dir, ConvAlgo algo, bool bias, ConvInputs inputs, const ConvShape& s, bool relu) {
  const Window2d& k = s.win;
  return Key{dir,  static_cast<int>(algo), bias, inputs == ConvInputs::BF16, relu, s.n, s.c, s.h, s.w, s.oc, s.oh, s.ow,
             s.groups, k.kh, k.kw, k.sh, k.sw, k.pt, k.pl, k.pb, k.pr, k.dh, k.dw};
}

// A ready-to-run primitive for one shape and direction. "in" is the primitive's activation
// input (src for forward, diff_dst for backward-data), "out" its activation output.
struct Plan {
  dnnl::primitive prim;
  dnnl::memory::desc user_in, user_out, user_w;  // NCHW / OIHW (GOIHW with groups)
  dnnl::memory::desc in, out, w;                 // what the primitive runs on
  std::optional<dnnl::reorder> in_reorder, out_reorder;
  std::size_t scratch_bytes = 0;
  std::string impl;
  bool adjoint = false;  // the weights are W transposed and flipped (kAdjointForward)
};

struct WeightCopy {
  const float* ptr = nullptr;
  WeightMap map = WeightMap::Identity;
  float param = 0.0f;
  bool adjoint = false;
  dnnl::memory::desc md;
  std::size_t numel = 0;
  std::uint64_t fingerprint = 0;
  dnnl::memory mem;
  std::uint64_t last_use = 0;
};

constexpr std::size_t kMaxPlans = 512;

// Budget for cached weight copies: LRP_WEIGHT_CACHE_MB or set_dnnl_weight_cache_limit() fix it;
// otherwise it starts at kDefaultBudget and fit_dnnl_weight_budget() raises it to suit the
// models in use. New copies that do not fit are built per call; lowering the budget drops the
// least recently used copies.
constexpr std::size_t kDefaultBudget = std::size_t(128) << 20;  // small models: a floor above 2.5x their weights (see docs/PERFORMANCE.md, Memory)
struct Budget {
  std::atomic<std::size_t> bytes;
  std::atomic<bool> fixed;
};
// LRP_WEIGHT_CACHE_MB in bytes; nullopt when unset or not a whole number of MiB (then the
// default applies, with a warning for the latter). Values beyond the address space saturate.
std::optional<std::size_t> budget_from_env() {
  const char* e = std::getenv("LRP_WEIGHT_CACHE_MB");
  if (!e) return std::nullopt;
  const std::string v(e);
  if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos) {
    std::fprintf(stderr, "lrp: LRP_WEIGHT_CACHE_MB='%s' is not a whole number of MiB; the default budget applies\n", e);
    return std::nullopt;
  }
  const unsigned long long mib = std::strtoull(e, nullptr, 10);
  return mib > (SIZE_MAX >> 20) ? SIZE_MAX : static_cast<std::size_t>(mib) << 20;
}
Budget& budget_state() {
  static Budget b = [] {
    const std::optional<std::size_t> env = budget_from_env();
    return Budget{env.value_or(kDefaultBudget), env.has_value()};
  }();
  return b;
}
std::atomic<std::size_t>& weight_budget() { return budget_state().bytes; }

struct Cache {
  std::mutex mu;
  std::map<Key, std::shared_ptr<const Plan>> plans;
  std::list<WeightCopy> weights;
  std::size_t weight_bytes = 0;
  std::size_t reorders = 0;
  std::atomic<std::size_t> adjoint_calls{0};
  std::uint64_t clock = 0;
};
Cache& cache() {
  static Cache* c = new Cache();  // never destroyed: used from destructors of static objects
  return *c;
}

std::uint64_t fingerprint(const float* w, std::size_t n) {
  std::uint64_t h = 0xcbf29ce484222325ull ^ (n * 0x9e3779b97f4a7c15ull);
  const std::size_t step = n <= 256 ? 1 : n / 256;
  const auto mix = [&](std::size_t i) {
    std::uint32_t bits;
    std::memcpy(&bits, w + i, sizeof bits);
    h = (h ^ bits) * 0x100000001b3ull;
  };
  for (std::size_t i = 0; i < n; i += step) mix(i);
  if (n) mix(n - 1);
  return h;
}

dnnl::memory::dims dims4(std::size_t a, std::size_t b, std::size_t c, std::size_t d) {
  return {static_cast<dnnl::memory::dim>(a), static_cast<dnnl::memory::dim>(b), static_cast<dnnl::memory::dim>(c),
          static_cast<dnnl::memory::dim>(d)};
}

dnnl::memory::desc user_weights_desc(const ConvShape& s) {
  const auto d = [](std::size_t v) { return static_cast<dnnl::memory::dim>(v); };
  const std::size_t cg = s.c / s.groups, og = s.oc / s.groups;
  if (s.groups == 1) return {dims4(s.oc, s.c, s.win.kh, s.win.kw), dt::f32, tag::oihw};
  return {{d(s.groups), d(og), d(cg), d(s.win.kh), d(s.win.kw)}, dt::f32, tag::goihw};
}

// Activation layout of float32 calls: oneDNN's blocked layouts (tag::any) run the direct JIT
// kernels and need NCHW <-> blocked reorders around each call; with plain NCHW oneDNN runs
// im2col + its own GEMM. Measured on the target machine (docs/PERFORMANCE.md), plain wins for
// few input channels (the first layer of a network: 1 or 3 channels; up to 4x for
// backward-data) and for 1x1 stride-1 convolutions (no reorders); blocked wins everywhere
// else, grouped and depthwise convolutions above all (oneDNN's depthwise kernels need the
// blocked layout; with plain NCHW each group became its own small GEMM: EfficientNet-B0's
// forward took 16.8 ms instead of 7.5).
bool one_by_one(const ConvShape& s) {
  return s.win.kh == 1 && s.win.kw == 1 && s.win.sh == 1 && s.win.sw == 1 && s.win.pt == 0 && s.win.pl == 0 && s.win.pb == 0 &&
         s.win.pr == 0 && s.groups == 1;
}
bool few_inputs(const ConvShape& s) { return s.groups == 1 && s.c < 8; }
bool plain_layout(const ConvShape& s) { return few_inputs(s) || one_by_one(s); }

// With stride 1 the transposed convolution dx = W^T g is the forward convolution of g with
// the transposed, spatially flipped weights (W'[i][o][a][b] = W[o][i][kh-1-a][kw-1-b], per
// group) and the padding d (k - 1) - p on each side; true (and that shape in `f`) where it
// applies.
bool adjoint_shape(const ConvShape& s, ConvShape& f) {
  const Window2d& k = s.win;
  if (k.kh == 0 || k.kw == 0 || k.sh != 1 || k.sw != 1) return false;
  const std::size_t span_h = k.dh * (k.kh - 1), span_w = k.dw * (k.kw - 1);
  if (k.pt > span_h || k.pb > span_h || k.pl > span_w || k.pr > span_w) return false;
  f = s;
  f.c = s.oc;
  f.oc = s.c;
  f.h = s.oh;
  f.w = s.ow;
  f.oh = s.h;
  f.ow = s.w;
  f.win.pt = span_h - k.pt;
  f.win.pb = span_h - k.pb;
  f.win.pl = span_w - k.pl;
  f.win.pr = span_w - k.pr;
  return f.h + f.win.pt + f.win.pb >= span_h + 1 && f.h + f.win.pt + f.win.pb - span_h == f.oh &&
         f.w + f.win.pl + f.win.pr - span_w == f.ow;
}

std::atomic<int>& adjoint_setting() {
  static std::atomic<int> mode{static_cast<int>(AdjointMode::Auto)};
  return mode;
}

// Where backward-data runs as that forward convolution:
// * depthwise with dilation: oneDNN has no JIT depthwise backward-data with dilation (it falls
//   back to one small GEMM per channel, 30x slower than the depthwise forward: DeepLab's and
//   LR-ASPP's dilated MobileNetV3 blocks);
// * bfloat16 on AMX: oneDNN 2.6's AMX forward kernels beat its backward-data ones on most
//   shapes (at batch 1: 0.18 against 0.27 ms for ResNet-50's 2048 -> 512 1x1 layer, 0.19
//   against 0.27 ms for its 512-channel 3x3 ones; 0.5-0.9x at batch 16).
bool adjoint_as_forward(ConvInputs inputs, const ConvShape& s) {
  ConvShape f;
  if (!adjoint_shape(s, f)) return false;
  switch (static_cast<AdjointMode>(adjoint_setting().load())) {
    case AdjointMode::Always: return true;
    case AdjointMode::Never: return false;
    case AdjointMode::Auto: break;
  }
  const bool dilated_depthwise = s.groups == s.c && s.oc == s.c && s.groups >= 2 && (s.win.dh > 1 || s.win.dw > 1);
  return dilated_depthwise || (inputs == ConvInputs::BF16 && dnnl_amx_native());
}

// t = W transposed and flipped as adjoint_shape describes, from W in its user layout; `wt` is
// the transposed user layout (OIHW of [C, OC, kh, kw], or GOIHW of [G, C/G, OC/G, kh, kw]).
void transpose_flip(const float* w, const dnnl::memory::desc& wt, float* t) {
  const auto dims = wt.dims();
  const bool grouped = dims.size() == 5;
  const auto at = [&](std::size_t i) { return static_cast<std::size_t>(dims[grouped ? i + 1 : i]); };
  const std::size_t groups = grouped ? static_cast<std::size_t>(dims[0]) : 1;
  const std::size_t cg = at(0), og = at(1), taps = at(2) * at(3);
  // In 32 x 32 tiles of (output, input) channels, so that both sides stay in cache.
  constexpr std::size_t kTile = 32;
  const std::size_t tiles_o = (og + kTile - 1) / kTile, tiles_i = (cg + kTile - 1) / kTile;
  const long long tiles = static_cast<long long>(groups * tiles_o * tiles_i);
#pragma omp parallel for schedule(static) if (tiles > 1 && groups * og * cg * taps >= 65536)
  for (long long tile = 0; tile < tiles; ++tile) {
    const std::size_t g = static_cast<std::size_t>(tile) / (tiles_o * tiles_i);
    const std::size_t o0 = static_cast<std::size_t>(tile) / tiles_i % tiles_o * kTile;
    const std::size_t i0 = static_cast<std::size_t>(tile) % tiles_i * kTile;
    for (std::size_t i = i0; i < std::min(cg, i0 + kTile); ++i)
      for (std::size_t o = o0; o < std::min(og, o0 + kTile); ++o) {
        const float* src = w + ((g * og + o) * cg + i) * taps;
        float* dst = t + ((g * cg + i) * og + o) * taps;
        for (std::size_t k = 0; k < taps; ++k) dst[k] = src[taps - 1 - k];
      }
  }
}

// With `relu` (forward only) a ReLU runs on the result inside the primitive (a post-op), before
// the output leaves its blocked layout: no separate pass over the output.
std::shared_ptr<Plan> build_plan(int dir, ConvAlgo algo, bool bias, ConvInputs inputs, const ConvShape& s, bool relu = false) {
  using dnnl::memory;
  if (dir == kAdjointForward) {
    ConvShape f;
    if (!adjoint_shape(s, f)) return nullptr;
    std::shared_ptr<Plan> plan = build_plan(kForward, algo, false, inputs, f);
    plan->adjoint = true;  // user_w is then OIHW of [C, OC, kh, kw]: W's transpose
    return plan;
  }
  dnnl::engine& eng = cpu_engine();
  const auto d = [](std::size_t v) { return static_cast<memory::dim>(v); };
  const memory::desc x_user(dims4(s.n, s.c, s.h, s.w), dt::f32, tag::nchw);
  const memory::desc y_user(dims4(s.n, s.oc, s.oh, s.ow), dt::f32, tag::nchw);
  const memory::desc w_user = user_weights_desc(s);
  // bfloat16 inputs (only on shapes the float32 call runs blocked) run on the blocked JIT
  // kernels; products accumulate and results stay in float32.
  const bool bf16 = inputs == ConvInputs::BF16;
  const bool plain = !bf16 && plain_layout(s);
  const dt mul = bf16 ? dt::bf16 : dt::f32;
  const memory::desc x_any(dims4(s.n, s.c, s.h, s.w), dir == kForward ? mul : dt::f32, plain ? tag::nchw : tag::any);
  const memory::desc y_any(dims4(s.n, s.oc, s.oh, s.ow), dir == kForward ? dt::f32 : mul, plain ? tag::nchw : tag::any);
  const memory::desc w_any(w_user.dims(), mul, tag::any);
  const memory::desc b_md({d(s.oc)}, dt::f32, tag::x);
  const memory::dims strides{d(s.win.sh), d(s.win.sw)};
  const memory::dims dilates{d(s.win.dh - 1), d(s.win.dw - 1)};
  const memory::dims pad_l{d(s.win.pt), d(s.win.pl)};
  const memory::dims pad_r{d(s.win.pb), d(s.win.pr)};
  const dnnl::algorithm alg =
      algo == ConvAlgo::Winograd ? dnnl::algorithm::convolution_winograd : dnnl::algorithm::convolution_direct;
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  if (relu) {
    dnnl::post_ops ops;
    ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
    attr.set_post_ops(ops);
  }

  auto plan = std::make_shared<Plan>();
  const auto fwd_desc = [&](dnnl::prop_kind pk) {
    return bias ? dnnl::convolution_forward::desc(pk, alg, x_any, w_any, b_md, y_any, strides, dilates, pad_l, pad_r)
                : dnnl::convolution_forward::desc(pk, alg, x_any, w_any, y_any, strides, dilates, pad_l, pad_r);
  };
  if (dir == kForward) {
    const dnnl::convolution_forward::primitive_desc pd(fwd_desc(dnnl::prop_kind::forward_inference), attr, eng);
    plan->prim = dnnl::convolution_forward(pd);
    plan->in = pd.src_desc();
    plan->out = pd.dst_desc();
    plan->w = pd.weights_desc();
    plan->user_in = x_user;
    plan->user_out = y_user;
    plan->scratch_bytes = pd.scratchpad_desc().get_size();
    plan->impl = pd.impl_info_str();
  } else {
    // The forward hint multiplies in the same type (oneDNN has no f32 x bf16 forward).
    const memory::desc x_hint(x_any.dims(), mul, plain ? tag::nchw : tag::any);
    const dnnl::convolution_forward::primitive_desc hint(
        dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, alg, x_hint, w_any, y_any, strides, dilates, pad_l,
                                        pad_r),
        eng);
    const dnnl::convolution_backward_data::desc bd(alg, x_any, w_any, y_any, strides, dilates, pad_l, pad_r);
    const dnnl::convolution_backward_data::primitive_desc pd(bd, attr, eng, hint);
    plan->prim = dnnl::convolution_backward_data(pd);
    plan->in = pd.diff_dst_desc();
    plan->out = pd.diff_src_desc();
    plan->w = pd.weights_desc();
    plan->user_in = y_user;
    plan->user_out = x_user;
    plan->scratch_bytes = pd.scratchpad_desc().get_size();
    plan->impl = pd.impl_info_str();
  }
  plan->user_w = w_user;
  if (plan->in != plan->user_in)
    plan->in_reorder = dnnl::reorder(dnnl::reorder::primitive_desc(eng, plan->user_in, eng, plan->in));
  if (plan->out != plan->user_out)
    plan->out_reorder = dnnl::reorder(dnnl::reorder::primitive_desc(eng, plan->out, eng, plan->user_out));
  return plan;
}

// The cached plan for a shape, built on first use (nullptr when oneDNN cannot run it).
std::shared_ptr<const Plan> get_plan(int dir, ConvAlgo algo, bool bias, ConvInputs inputs, const ConvShape& s,
                                     bool relu = false) {
  Cache& c = cache();
  const Key key = make_key(dir, algo, bias, inputs, s, relu);
  {
    std::lock_guard<std::mutex> lock(c.mu);
    auto it = c.plans.find(key);
    if (it != c.plans.end()) return it->second;
  }
  std::shared_ptr<const Plan> plan;
  try {
    plan = build_plan(dir, algo, bias, inputs, s, relu);
  } catch (const dnnl::error& e) {
    plan = nullptr;
    if (verbose())
      std::fprintf(stderr, "lrp: oneDNN cannot run %s %s conv n%zu c%zu %zux%zu oc%zu k%zux%zu s%zu,%zu g%zu: %s\n",
                   inputs == ConvInputs::BF16 ? "bf16" : "f32", dir == kForward ? "forward" : "backward-data", s.n, s.c,
                   s.h, s.w, s.oc, s.win.kh, s.win.kw, s.win.sh, s.win.sw, s.groups, e.what());
  }
  if (!plan && inputs == ConvInputs::BF16) return get_plan(dir, algo, bias, ConvInputs::F32, s, relu);
  if (!plan && algo != ConvAlgo::Direct) return get_plan(dir, ConvAlgo::Direct, bias, inputs, s, relu);
  std::lock_guard<std::mutex> lock(c.mu);
  if (c.plans.size() >= kMaxPlans) c.plans.clear();
  c.plans.emplace(key, plan);
  return plan;
}

void evict_weights_locked(Cache& c) {
  while (c.weight_bytes > weight_budget().load() && !c.weights.empty()) {
    auto oldest = std::min_element(c.weights.begin(), c.weights.end(),
                                   [](const WeightCopy& a, const WeightCopy& b) { return a.last_use < b.last_use; });
    c.weight_bytes -= oldest->md.get_size();
    c.weights.erase(oldest);
  }
}

bool is_winograd(const dnnl::memory::desc& md) { return md.data.format_kind == dnnl_format_kind_wino; }

// Every weight map sends 0 to 0, so on blocked layouts (a permutation of the weights plus zero
// padding) the map commutes with the reorder and can run in place on the reordered copy.
// Winograd layouts transform the weights linearly, which does not commute with the map, and
// bfloat16 copies hold no floats to map: there the map runs on a plain copy before the reorder.
template <class F>
void map_each(float* p, std::size_t n, F f) {
  const long long len = static_cast<long long>(n);
#pragma omp parallel for simd schedule(static) if (len >= 262144)
  for (long long i = 0; i < len; ++i) p[i] = f(p[i]);
}

// One vectorised loop per map: the formulas of map_weight (lrp/layers/affine.hpp) spelled out
// per case, because calling map_weight with the map as a template constant compiled to a
// scalar loop here (checked with objdump); FastConvMapped tests them against map_weight.
void map_in_place(float* p, std::size_t n, WeightMap map, float param) {
  switch (map) {
    case WeightMap::Identity: return;
    case WeightMap::Positive: return map_each(p, n, [](float v) { return v > 0.f ? v : 0.f; });
    case WeightMap::Negative: return map_each(p, n, [](float v) { return v < 0.f ? v : 0.f; });
    case WeightMap::Square: return map_each(p, n, [](float v) { return v * v; });
    case WeightMap::GammaPositive: return map_each(p, n, [param](float v) { return v + param * (v > 0.f ? v : 0.f); });
    case WeightMap::GammaNegative: return map_each(p, n, [param](float v) { return v + param * (v < 0.f ? v : 0.f); });
  }
}

// Writes map(w) in the plan's weight layout into `dst`.
void build_weights(const Plan& plan, const float* w, std::size_t numel, WeightMap map, float param, dnnl::memory& dst,
                   dnnl::stream& strm) {
  dnnl::engine& eng = cpu_engine();
  const bool map_first =
      plan.adjoint || (map != WeightMap::Identity && (is_winograd(plan.w) || plan.w.data_type() != dt::f32));
  const float* src = w;
  if (plan.adjoint) {
    float* t = static_cast<float*>(thread_scratch().mapped.get(numel * sizeof(float)));
    transpose_flip(w, plan.user_w, t);
    map_in_place(t, numel, map, param);
    src = t;
  } else if (map_first) {
    float* plain = static_cast<float*>(thread_scratch().mapped.get(numel * sizeof(float)));
    std::memcpy(plain, w, numel * sizeof(float));
    map_in_place(plain, numel, map, param);
    src = plain;
  }
  if (plan.w == plan.user_w) {
    std::memcpy(dst.get_data_handle(), src, numel * sizeof(float));
  } else {
    dnnl::memory user(plan.user_w, eng, const_cast<float*>(src));
    dnnl::reorder(user, dst).execute(strm, user, dst);
    strm.wait();
  }
  if (map != WeightMap::Identity && !map_first)
    map_in_place(static_cast<float*>(dst.get_data_handle()), plan.w.get_size() / sizeof(float), map, param);
}

// Makes room for `bytes` more: Winograd copies (costly to rebuild: a transform, 5-20x the time
// of a blocked reorder) may evict blocked ones, least recently used first; blocked copies evict
// nothing. True when the copy fits afterwards.
bool make_room_locked(Cache& c, std::size_t bytes, bool costly) {
  const std::size_t budget = weight_budget().load();
  if (bytes > budget) return false;
  while (c.weight_bytes + bytes > budget && costly) {
    auto victim = c.weights.end();
    for (auto it = c.weights.begin(); it != c.weights.end(); ++it)
      if (!is_winograd(it->md) && (victim == c.weights.end() || it->last_use < victim->last_use)) victim = it;
    if (victim == c.weights.end()) break;
    c.weight_bytes -= victim->md.get_size();
    c.weights.erase(victim);
  }
  return c.weight_bytes + bytes <= budget;
}

// map(w) in the plan's layout: the user memory itself when the layouts agree and there is no
// map, else a cached reordered (and mapped) copy, or, when the budget has no room for it, a
// copy built for this call in the thread's scratch buffer (valid until the thread's next call).
dnnl::memory weights_for(const Plan& plan, const float* w, std::size_t numel, WeightMap map, float param, dnnl::stream& strm) {
  dnnl::engine& eng = cpu_engine();
  if (map == WeightMap::Identity) param = 0.0f;
  if (plan.w == plan.user_w && map == WeightMap::Identity && !plan.adjoint)
    return dnnl::memory(plan.w, eng, const_cast<float*>(w));
  Cache& c = cache();
  const std::uint64_t fp = fingerprint(w, numel);
  const std::size_t bytes = plan.w.get_size();
  bool keep = false;
  {
    std::lock_guard<std::mutex> lock(c.mu);
    for (auto it = c.weights.begin(); it != c.weights.end(); ++it) {
      if (it->ptr != w || it->map != map || it->param != param || it->adjoint != plan.adjoint || it->md != plan.w) continue;
      if (it->fingerprint == fp && it->numel == numel) {
        it->last_use = ++c.clock;
        return it->mem;
      }
      c.weight_bytes -= it->md.get_size();  // stale: the weights changed in place
      c.weights.erase(it);
      break;
    }
    ++c.reorders;
    keep = make_room_locked(c, bytes, is_winograd(plan.w));
  }
  if (!keep) {
    // Over the budget: the copies already cached keep hitting (evicting them instead would make
    // a cyclic access pattern miss every time) and this one lives in scratch for this call.
    dnnl::memory tmp(plan.w, eng, thread_scratch().weights.get(bytes));
    build_weights(plan, w, numel, map, param, tmp, strm);
    return tmp;
  }
  WeightCopy copy;
  copy.ptr = w;
  copy.map = map;
  copy.param = param;
  copy.adjoint = plan.adjoint;
  copy.md = plan.w;
  copy.numel = numel;
  copy.fingerprint = fp;
  copy.mem = dnnl::memory(plan.w, eng);
  build_weights(plan, w, numel, map, param, copy.mem, strm);
  std::lock_guard<std::mutex> lock(c.mu);
  copy.last_use = ++c.clock;
  c.weight_bytes += bytes;
  c.weights.push_back(copy);
  return copy.mem;
}

// The algorithm a shape runs with under a setting. Winograd only for 3x3 stride-1 undilated
// ungrouped convolutions with at least 16 input and output channels: on few-channel layers
// (an image input) its float32 error reaches 1e-1 relative for small outputs, where the direct
// algorithm stays at 1e-6 (docs/PERFORMANCE.md). Auto also asks for enough output positions
// (n * oh * ow >= 3136, e.g. 56x56 at batch 1): below that Winograd's gain is small or negative
// (backward-data at 14x14) while its weight copies are 4x the size.
// bfloat16 inputs run direct (oneDNN 2.6 has no bfloat16 Winograd).
ConvAlgo effective_algo(ConvAlgo setting, ConvInputs inputs, const ConvShape& s) {
  if (setting == ConvAlgo::Direct || setting == ConvAlgo::Reference) return setting;
  if (inputs == ConvInputs::BF16) return ConvAlgo::Direct;
  const Window2d& k = s.win;
  const bool shape_ok = k.kh == 3 && k.kw == 3 && k.sh == 1 && k.sw == 1 && k.dh == 1 && k.dw == 1 && s.groups == 1 &&
                        s.c >= 16 && s.oc >= 16;
  if (!shape_ok) return ConvAlgo::Direct;
  if (setting == ConvAlgo::Winograd) return ConvAlgo::Winograd;
  return s.n * s.oh * s.ow >= 3136 ? ConvAlgo::Winograd : ConvAlgo::Direct;
}

// bfloat16 multiplies only where the CPU has native bfloat16 dot products (AVX512-BF16; without
// them oneDNN emulates bf16, slower than float32), never on few input channels (an image input:
// few products per output), and elsewhere where it beat float32 on the machines measured
// (docs/PERFORMANCE.md, "bfloat16 rule passes"):
// * 1x1 convolutions, which float32 runs on plain NCHW without reorders, only from 128 channels
//   on each side (64-channel ones at 56x56: 1.2-1.8x float32's time; 128- to 512-channel ones
//   at 28x28 without AMX: 0.85x); with AMX only up to 4096 output positions (from there on the
//   conversions cost more than the products save: 1.1-1.5x at 28x28 and 56x56, batch 16);
// * other windows: with AMX tiles (Sapphire Rapids and later) everywhere (0.2-0.9x, layers
//   float32 runs with Winograd included); with AVX512-BF16 alone (about twice the float32 rate,
//   no bfloat16 Winograd) not where float32 runs Winograd (VGG16's 256-channel 56x56 layer: 9.5
//   against 6.7 ms for its two rule passes).
bool bf16_applies(ConvInputs inputs, const ConvShape& s) {
  if (inputs != ConvInputs::BF16 || !dnnl_bf16_native() || few_inputs(s)) return false;
  if (one_by_one(s)) return std::min(s.c, s.oc) >= 128 && (!dnnl_amx_native() || s.n * s.oh * s.ow <= 4096);
  return dnnl_amx_native() ||
         effective_algo(static_cast<ConvAlgo>(algo_setting().load()), ConvInputs::F32, s) == ConvAlgo::Direct;
}

// What a call asked for (direction, inputs) runs as on this shape under the current settings:
// the inputs bf16_applies allows, their algorithm (Reference: no oneDNN call) and the direction
// (backward-data possibly as the adjoint forward).
struct Choice {
  int dir;
  ConvInputs inputs;
  ConvAlgo algo;
};
Choice choose(int dir, ConvInputs inputs, const ConvShape& s) {
  if (!bf16_applies(inputs, s)) inputs = ConvInputs::F32;
  const ConvAlgo algo = effective_algo(static_cast<ConvAlgo>(algo_setting().load()), inputs, s);
  if (dir == kBackwardData && adjoint_as_forward(inputs, s)) dir = kAdjointForward;
  return {dir, inputs, algo};
}

// `relu` (forward calls only, dnnl_conv_forward_relu): the ReLU post-op.
bool run(int asked, const ConvShape& s, const float* in, const float* w, WeightMap map, float param, const float* b, float* out,
         ConvInputs asked_inputs, bool relu = false) {
  if (s.n == 0 || s.c == 0 || s.oc == 0 || s.groups == 0 || s.c % s.groups || s.oc % s.groups) return false;
  const auto [dir, inputs, algo] = choose(asked, asked_inputs, s);
  if (algo == ConvAlgo::Reference) return false;
  try {
    const std::shared_ptr<const Plan> plan = get_plan(dir, algo, b != nullptr, inputs, s, relu);
    if (!plan) return false;
    dnnl::engine& eng = cpu_engine();
    thread_local dnnl::stream strm(eng);
    Scratch& scratch = thread_scratch();
    const std::size_t wnumel = s.oc * (s.c / s.groups) * s.win.kh * s.win.kw;
    dnnl::memory wmem = weights_for(*plan, w, wnumel, map, param, strm);

    dnnl::memory user_in(plan->user_in, eng, const_cast<float*>(in));
    dnnl::memory user_out(plan->user_out, eng, out);
    dnnl::memory in_mem = user_in, out_mem = user_out;
    if (plan->in_reorder) {
      in_mem = dnnl::memory(plan->in, eng, scratch.src.get(plan->in.get_size()));
      plan->in_reorder->execute(strm, user_in, in_mem);
    }
    if (plan->out_reorder) out_mem = dnnl::memory(plan->out, eng, scratch.dst.get(plan->out.get_size()));
    std::unordered_map<int, dnnl::memory> args;
    if (dir != kBackwardData) {
      args = {{DNNL_ARG_SRC, in_mem}, {DNNL_ARG_WEIGHTS, wmem}, {DNNL_ARG_DST, out_mem}};
      if (b) args[DNNL_ARG_BIAS] = dnnl::memory({{static_cast<dnnl::memory::dim>(s.oc)}, dt::f32, tag::x}, eng, const_cast<float*>(b));
    } else {
      args = {{DNNL_ARG_DIFF_DST, in_mem}, {DNNL_ARG_WEIGHTS, wmem}, {DNNL_ARG_DIFF_SRC, out_mem}};
    }
    if (plan->scratch_bytes)
      args[DNNL_ARG_SCRATCHPAD] = dnnl::memory({{static_cast<dnnl::memory::dim>(plan->scratch_bytes)}, dt::u8, tag::x}, eng,
                                               scratch.pad.get(plan->scratch_bytes));
    plan->prim.execute(strm, args);
    if (dir == kAdjointForward) ++cache().adjoint_calls;
    if (plan->out_reorder) plan->out_reorder->execute(strm, out_mem, user_out);
    strm.wait();
    return true;
  } catch (const dnnl::error& e) {
    if (verbose()) std::fprintf(stderr, "lrp: oneDNN convolution failed: %s\n", e.what());
    return false;
  } catch (const std::bad_alloc&) {
    if (verbose()) std::fprintf(stderr, "lrp: oneDNN convolution: out of memory\n");
    return false;
  }
}

}  // namespace

void set_dnnl_conv_algorithm(ConvAlgo algo) { algo_setting().store(static_cast<int>(algo)); }
void set_dnnl_adjoint_mode(AdjointMode mode) { adjoint_setting().store(static_cast<int>(mode)); }
ConvAlgo dnnl_conv_algorithm() { return static_cast<ConvAlgo>(algo_setting().load()); }

bool dnnl_conv_forward(const ConvShape& s, const float* x, const float* w, const float* b, float* y, WeightMap map,
                       float param, ConvInputs inputs) {
  return run(kForward, s, x, w, map, param, b, y, inputs);
}

bool dnnl_conv_forward_relu(const ConvShape& s, const float* x, const float* w, const float* b, float* y) {
  // oneDNN's GEMM-based convolution on plain NCHW (1x1 windows, few input channels) applies a
  // post-op slower than a separate pass (ResNet-50's 1x1 layers: +14 ms per forward at batch 1).
  if (plain_layout(s)) return false;
  return run(kForward, s, x, w, WeightMap::Identity, 0.0f, b, y, ConvInputs::F32, true);
}

bool dnnl_conv_backward_data(const ConvShape& s, const float* g, const float* w, float* dx, WeightMap map, float param,
                             ConvInputs inputs) {
  return run(kBackwardData, s, g, w, map, param, nullptr, dx, inputs);
}

bool dnnl_conv_bf16_applies(const ConvShape& s) { return bf16_applies(ConvInputs::BF16, s); }

namespace {
bool isa_has(dnnl::cpu_isa isa) {
  const auto need = static_cast<unsigned>(isa);
  return (static_cast<unsigned>(dnnl::get_effective_cpu_isa()) & need) == need;
}
}  // namespace

bool dnnl_bf16_native() {
  static const bool native = isa_has(dnnl::cpu_isa::avx512_core_bf16);
  return native;
}

bool dnnl_amx_native() {
  static const bool native = isa_has(dnnl::cpu_isa::avx512_core_amx);
  return native;
}

void fit_dnnl_weight_budget(std::size_t bytes) {
  Budget& b = budget_state();
  if (b.fixed.load()) return;
  std::size_t cur = b.bytes.load();
  while (bytes > cur && !b.bytes.compare_exchange_weak(cur, bytes)) {
  }
}

void set_dnnl_weight_cache_limit(std::size_t bytes) {
  budget_state().fixed.store(true);
  weight_budget().store(bytes);
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  evict_weights_locked(c);
}
std::size_t dnnl_weight_cache_limit() { return weight_budget().load(); }

void dnnl_conv_forget_weights(const float* w) noexcept {
  if (!w) return;
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  for (auto it = c.weights.begin(); it != c.weights.end();) {
    if (it->ptr == w) {
      c.weight_bytes -= it->md.get_size();
      it = c.weights.erase(it);
    } else {
      ++it;
    }
  }
}

void dnnl_conv_clear_cache() noexcept {
  Cache& c = cache();
  {
    std::lock_guard<std::mutex> lock(c.mu);
    c.plans.clear();
    c.weights.clear();
    c.weight_bytes = 0;
  }
  Scratch& s = thread_scratch();
  s.src.release();
  s.dst.release();
  s.pad.release();
  s.weights.release();
  s.mapped.release();
}

DnnlConvStats dnnl_conv_stats() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  DnnlConvStats st;
  st.primitives = c.plans.size();
  st.weight_copies = c.weights.size();
  st.weight_bytes = c.weight_bytes;
  st.weight_reorders = c.reorders;
  st.adjoint_calls = c.adjoint_calls.load();
  return st;
}

std::string dnnl_conv_impl(const ConvShape& s, bool backward_data, ConvInputs inputs) {
  const Choice c = choose(backward_data ? kBackwardData : kForward, inputs, s);
  if (c.algo == ConvAlgo::Reference) return "";
  const std::shared_ptr<const Plan> plan = get_plan(c.dir, c.algo, !backward_data, c.inputs, s);
  return plan ? plan->impl : "";
}

}  // namespace lrp::kernels

#else  // !LRP_WITH_DNNL: no oneDNN, every call falls back to the reference kernels.

namespace lrp::kernels {
void set_dnnl_conv_algorithm(ConvAlgo) {}
void set_dnnl_adjoint_mode(AdjointMode) {}
ConvAlgo dnnl_conv_algorithm() { return ConvAlgo::Reference; }
bool dnnl_conv_forward(const ConvShape&, const float*, const float*, const float*, float*, WeightMap, float, ConvInputs) {
  return false;
}
bool dnnl_conv_forward_relu(const ConvShape&, const float*, const float*, const float*, float*) { return false; }
bool dnnl_conv_backward_data(const ConvShape&, const float*, const float*, float*, WeightMap, float, ConvInputs) { return false; }
bool dnnl_bf16_native() { return false; }
bool dnnl_amx_native() { return false; }
bool dnnl_conv_bf16_applies(const ConvShape&) { return false; }
void set_dnnl_weight_cache_limit(std::size_t) {}
void fit_dnnl_weight_budget(std::size_t) {}
std::size_t dnnl_weight_cache_limit() { return 0; }
void dnnl_conv_forget_weights(const float*) noexcept {}
void dnnl_conv_clear_cache() noexcept {}
DnnlConvStats dnnl_conv_stats() { return {}; }
std::string dnnl_conv_impl(const ConvShape&, bool, ConvInputs) { return ""; }
}  // namespace lrp::kernels

#endif
