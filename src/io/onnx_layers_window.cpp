// Layer converters for 2-D windows on [N, C, H, W] maps: Conv, ConvTranspose, pooling
// (MaxPool, AveragePool, their global forms and ReduceMean/ReduceMax/ReduceSum), Resize/Upsample, Pad.
// Conv, ConvTranspose, the pools and Pad take 1-D windows on [N, C, L] too, as 2-D ones of height 1.
#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "io/onnx_layers.hpp"
#include "lrp/layers/pad.hpp"
#include "lrp/layers/pool2d.hpp"
#include "lrp/layers/reshape.hpp"
#include "lrp/layers/resize.hpp"

namespace lrp::io::onnx_detail {
namespace {

const Value& image_input(NodeCtx& c, const std::string& what) {
  const Value& x = c.runtime_input(0, "input X");
  if (x.shape.size() != 3)
    c.fail("only 2-D " + what + " on [N,C,H,W] inputs is supported; the input is " + runtime_shape_str(x));
  return x;
}

// The input of a window operator with `spatial` axes: [N, C, H, W] (2) or [N, C, L] (1).
const Value& window_input(NodeCtx& c, const std::string& what, std::size_t spatial) {
  if (spatial == 2) return image_input(c, what);
  const Value& x = c.runtime_input(0, "input X");
  if (x.shape.size() != 2 || x.moved_batch)
    c.fail("1-D " + what + " needs an [N,C,L] input; the input is " + runtime_shape_str(x));
  return x;
}

// 1-D windows run as 2-D ones over a map of height 1: [N, C, L] relabelled [N, C, 1, L] before
// the layer (a Reshape, which moves the storage where nothing else reads it) ...
Value as_plane(NodeCtx& c, const Value& x) {
  return c.add_hidden(std::make_unique<Reshape<double>>(Shape{x.shape[0], 1, x.shape[1]}), {&x}, BatchAxis::Inherit,
                      " (as 2-D)");
}

// ... and the layer's [N, C', 1, L'] output, just bound to the node's output, relabelled
// [N, C', L'] in its place.
void back_to_1d(NodeCtx& c) {
  const Value plane = c.importer().values.at(c.node().output(0));
  c.add_layer(std::make_unique<Reshape<double>>(Shape{plane.shape[0], plane.shape[2]}), {&plane});
  c.importer().id_uses.at(plane.id) = 1;  // read by the Reshape only
}

// Pads, strides and dilations of a 2-D window (Conv, MaxPool, AveragePool) over an input plane
// of h x w, from pads/auto_pad/strides/dilations; ceil_mode widens the end padding so that the
// last partial window is kept (only where that window starts inside the input). With
// `pads_from_attributes` false the pads stay 0 (the caller derives them: ConvTranspose).
// With `spatial` = 1 the attributes have one value per end of one axis (L), and the window is
// 2-D with kh = 1 over a map of height h = 1 (as_plane).
Window2d window_from_attributes(NodeCtx& c, std::size_t h, std::size_t w, std::size_t kh, std::size_t kw, bool ceil_mode,
                                bool pads_from_attributes = true, std::size_t spatial = 2) {
  Window2d win;
  win.kh = kh;
  win.kw = kw;
  const std::vector<std::int64_t> ones(spatial, 1);
  std::vector<std::int64_t> strides = c.attr_ints("strides", ones);
  std::vector<std::int64_t> dilations = c.attr_ints("dilations", ones);
  const std::string count = spatial == 2 ? "2 values" : "1 value (1-D)";
  if (strides.size() != spatial) c.fail("attribute 'strides' needs " + count + ", found " + std::to_string(strides.size()));
  if (dilations.size() != spatial) c.fail("attribute 'dilations' needs " + count + ", found " + std::to_string(dilations.size()));
  if (spatial == 1) {
    strides.insert(strides.begin(), 1);
    dilations.insert(dilations.begin(), 1);
  }
  for (std::int64_t s : strides)
    if (s < 1 || s > (1 << 20)) c.fail("attribute 'strides' must be positive, found " + std::to_string(s));
  for (std::int64_t d : dilations)
    if (d < 1 || d > (1 << 20)) c.fail("attribute 'dilations' must be positive, found " + std::to_string(d));
  win.sh = to_size(strides[0]);
  win.sw = to_size(strides[1]);
  win.dh = to_size(dilations[0]);
  win.dw = to_size(dilations[1]);
  if (!pads_from_attributes) return win;
  const std::string auto_pad = c.attr_string("auto_pad", "NOTSET");
  if (auto_pad == "NOTSET") {
    std::vector<std::int64_t> pads = c.attr_ints("pads", std::vector<std::int64_t>(2 * spatial, 0));
    if (pads.size() != 2 * spatial)
      c.fail(std::string("attribute 'pads' needs ") + (spatial == 2 ? "4 values [top, left, bottom, right]" : "2 values [begin, end] (1-D)") +
             ", found " + std::to_string(pads.size()));
    if (spatial == 1) pads = {0, pads[0], 0, pads[1]};
    for (std::int64_t p : pads)
      if (p < 0 || p > (1 << 20)) c.fail("attribute 'pads' must be non-negative, found " + std::to_string(p));
    win.pt = to_size(pads[0]);
    win.pl = to_size(pads[1]);
    win.pb = to_size(pads[2]);
    win.pr = to_size(pads[3]);
  } else if (auto_pad == "VALID") {
    // no padding
  } else if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
    const auto same = [&](std::size_t in, std::size_t k, std::size_t s, std::size_t d, std::size_t& begin, std::size_t& end) {
      const std::size_t out = (in + s - 1) / s;
      const std::size_t need = (out - 1) * s + (k - 1) * d + 1;
      const std::size_t total = need > in ? need - in : 0;
      begin = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      end = total - begin;
    };
    same(h, kh, win.sh, win.dh, win.pt, win.pb);
    same(w, kw, win.sw, win.dw, win.pl, win.pr);
  } else {
    c.fail("attribute 'auto_pad' = '" + auto_pad + "' is not supported (NOTSET, VALID, SAME_UPPER, SAME_LOWER)");
  }
  if (c.has_attr("pads") && auto_pad != "NOTSET") {
    for (std::int64_t p : c.attr_ints("pads"))
      if (p != 0) c.fail("attributes 'pads' and 'auto_pad' = '" + auto_pad + "' cannot be combined");
  }
  if (ceil_mode) {
    const auto widen = [&](std::size_t in, std::size_t k, std::size_t s, std::size_t d, std::size_t begin, std::size_t& end) {
      const std::size_t span = (k - 1) * d + 1, padded = in + begin + end;
      if (padded < span) return;  // the shape check reports it
      const std::size_t floor_out = (padded - span) / s + 1, ceil_out = (padded - span + s - 1) / s + 1;
      if (ceil_out == floor_out) return;
      if ((ceil_out - 1) * s >= in + begin)
        c.fail("ceil_mode=1 would add a window that starts in the padding; not supported");
      end += (ceil_out - 1) * s + span - padded;
    };
    widen(h, kh, win.sh, win.dh, win.pt, win.pb);
    widen(w, kw, win.sw, win.dw, win.pl, win.pr);
  }
  return win;
}

std::size_t checked_kernel(NodeCtx& c, std::int64_t v) {
  if (v < 1 || v > (1 << 20)) c.fail("kernel size " + std::to_string(v) + " is not between 1 and 2^20");
  return to_size(v);
}

// What Conv and ConvTranspose read alike: the 4-D weight (input 1) checked against the input's
// channels, group, kernel size (and the optional kernel_shape that must agree), and the bias
// (input 2, zero if absent) with one value per output channel.
struct ConvParams {
  std::size_t group = 1, kh = 1, kw = 1;
  Tensor<double> bias;
};

// `spatial` 1: a 3-D weight [.., .., kL], taken as kH = 1, kW = kL.
ConvParams conv_params(NodeCtx& c, std::size_t channels, const std::string& weight_layout, bool transposed, std::size_t spatial = 2) {
  const ConstTensor& w = c.weight_input(1, "weight W");
  if (w.dims.size() != 2 + spatial) c.fail("weight W must be " + std::to_string(2 + spatial) + "-D " + weight_layout + ", got " + dims_str(w.dims));
  c.require_finite(w, "weight W");
  const std::int64_t group = c.attr_int("group", 1);
  if (group < 1) c.fail("attribute 'group' must be positive, found " + std::to_string(group));
  ConvParams p;
  p.group = to_size(group);
  p.kh = spatial == 2 ? checked_kernel(c, w.dims[2]) : 1;
  p.kw = checked_kernel(c, w.dims[1 + spatial]);
  if (c.has_attr("kernel_shape")) {
    const std::vector<std::int64_t> ks = c.attr_ints("kernel_shape");
    if (ks.size() != spatial || to_size(ks.back()) != p.kw || (spatial == 2 && to_size(ks[0]) != p.kh))
      c.fail("attribute 'kernel_shape' " + dims_str(ks) + " does not match the weight " + dims_str(w.dims));
  }
  // Input channels: Conv [M, C/group, ...], ConvTranspose [C, M/group, ...].
  const bool fits = transposed ? to_size(w.dims[0]) == channels && channels % p.group == 0
                               : to_size(w.dims[1]) * p.group == channels;
  if (!fits)
    c.fail("weight W " + dims_str(w.dims) + " with group " + std::to_string(group) + " does not fit " + std::to_string(channels) +
           " input channels");
  const std::size_t m = transposed ? to_size(w.dims[1]) * p.group : to_size(w.dims[0]);
  p.bias = Tensor<double>({m});
  if (c.has_input(2)) {
    const ConstTensor& b = c.const_input(2, "bias B");
    if (b.numel() != m) c.fail("bias B has shape " + dims_str(b.dims) + ", expected [" + std::to_string(m) + "]");
    c.require_finite(b, "bias B");
    for (std::size_t k = 0; k < m; ++k) p.bias[k] = b.value(k);
  }
  return p;
}

// Resize / Upsample of H and W from constant scales or sizes (N and C unchanged).
void add_resize(NodeCtx& c, const Value& x, const std::vector<double>& scales, const std::vector<std::int64_t>& sizes,
                const std::string& mode, ResizeCoordinates coords, ResizeRounding rounding) {
  const std::size_t in_h = x.shape[1], in_w = x.shape[2];
  std::size_t out_h = 0, out_w = 0;
  double sh = 0, sw = 0;
  if (!sizes.empty()) {
    if (sizes.size() != 4) c.fail("'sizes' needs 4 values [N, C, H, W], found " + std::to_string(sizes.size()));
    if (sizes[1] != static_cast<std::int64_t>(x.shape[0]))
      c.fail("'sizes' " + dims_str(sizes) + " changes the channels of " + runtime_shape_str(x));
    if (sizes[2] < 1 || sizes[3] < 1 || sizes[2] > (1 << 20) || sizes[3] > (1 << 20))
      c.fail("'sizes' " + dims_str(sizes) + " must be positive");
    out_h = to_size(sizes[2]);
    out_w = to_size(sizes[3]);
    sh = static_cast<double>(out_h) / static_cast<double>(in_h);
    sw = static_cast<double>(out_w) / static_cast<double>(in_w);
  } else {
    if (scales.size() != 4) c.fail("'scales' needs 4 values [N, C, H, W], found " + std::to_string(scales.size()));
    if (scales[0] != 1.0 || scales[1] != 1.0) c.fail("only H and W can be scaled; scales are not 1 on N and C");
    for (std::size_t k = 2; k < 4; ++k)
      if (!(scales[k] > 0.0) || !std::isfinite(scales[k]) || scales[k] > 4096.0)
        c.fail("scale " + std::to_string(scales[k]) + " must be positive and at most 4096");
    sh = scales[2];
    sw = scales[3];
    out_h = static_cast<std::size_t>(std::floor(static_cast<double>(in_h) * sh));
    out_w = static_cast<std::size_t>(std::floor(static_cast<double>(in_w) * sw));
    if (out_h == 0 || out_w == 0) c.fail("scales leave no output of the " + runtime_shape_str(x) + " input");
  }
  const bool linear = mode == "linear";
  c.add_layer(std::make_unique<Resize2d<double>>(in_h, in_w, resize_taps(in_h, out_h, sh, coords, linear, rounding),
                                                 resize_taps(in_w, out_w, sw, coords, linear, rounding), linear ? "linear" : "nearest"),
              {&x});
}

std::string resize_mode(NodeCtx& c) {
  const std::string mode = c.attr_string("mode", "nearest");
  if (mode != "nearest" && mode != "linear") c.fail("mode '" + mode + "' is not supported (nearest, linear)");
  return mode;
}

std::vector<double> floats_of(const ConstTensor& t) {
  std::vector<double> v(t.numel());
  for (std::size_t k = 0; k < v.size(); ++k) v[k] = t.value(k);
  return v;
}

void pool(NodeCtx& c, bool max) {
  if (max) c.allow_attributes({"auto_pad", "ceil_mode", "dilations", "kernel_shape", "pads", "storage_order", "strides"});
  else c.allow_attributes({"auto_pad", "ceil_mode", "count_include_pad", "kernel_shape", "pads", "strides"});
  const std::vector<std::int64_t> ks = c.attr_ints("kernel_shape");
  if (ks.size() != 1 && ks.size() != 2)
    c.fail("attribute 'kernel_shape' must have 2 values (2-D pooling) or 1 (1-D), found " + std::to_string(ks.size()));
  const std::size_t spatial = ks.size();
  const Value& input = window_input(c, "pooling", spatial);
  const Value x = spatial == 2 ? input : as_plane(c, input);
  if (max) {
    c.limit_outputs(1, "the Indices output of MaxPool is not supported");
    if (c.attr_int("storage_order", 0) != 0) c.fail("attribute 'storage_order' = 1 is not supported");
  }
  const std::int64_t ceil_mode = c.attr_int("ceil_mode", 0);
  const bool count_pad = c.attr_int("count_include_pad", 0) != 0;
  PoolSpec spec;
  spec.mode = max ? PoolMode::Max : PoolMode::Sum;
  spec.type_name = max ? "MaxPool" : "AveragePool";
  const std::size_t kh = spatial == 2 ? checked_kernel(c, ks[0]) : 1, kw = checked_kernel(c, ks.back());
  spec.window = window_from_attributes(c, x.shape[1], x.shape[2], kh, kw, false, true, spatial);
  if (ceil_mode != 0) {
    const Window2d wide = window_from_attributes(c, x.shape[1], x.shape[2], kh, kw, true, true, spatial);
    if (!max && count_pad && (wide.pb != spec.window.pb || wide.pr != spec.window.pr))
      c.fail("ceil_mode=1 together with count_include_pad=1 is not supported");
    spec.window = wide;
  }
  spec.divisor = !max && count_pad ? static_cast<double>(kh * kw) : 0.0;
  c.add_layer(std::make_unique<Pool2d<double>>(spec), {&x});
  if (spatial == 1) back_to_1d(c);
}

// What a global pool or a reduction takes of each plane: its maximum, mean or sum.
enum class Reduction { Max, Mean, Sum };

PoolSpec global_pool_spec(Reduction r) {
  PoolSpec spec;
  spec.mode = r == Reduction::Max ? PoolMode::Max : PoolMode::Sum;
  spec.global = true;
  spec.divisor = r == Reduction::Sum ? 1.0 : 0.0;  // 0: the count of inputs, a mean
  spec.type_name = r == Reduction::Max ? "GlobalMaxPool" : r == Reduction::Mean ? "GlobalAveragePool" : "GlobalSumPool";
  return spec;
}

void add_global_pool(NodeCtx& c, const Value& x, Reduction r) {
  c.add_layer(std::make_unique<Pool2d<double>>(global_pool_spec(r)), {&x});
}

void global_pool(NodeCtx& c, bool max) {
  c.allow_attributes({});
  const Value& x = c.runtime_input(0, "input X");
  const Reduction r = max ? Reduction::Max : Reduction::Mean;
  if (x.shape.size() == 2 && !x.moved_batch) {  // [N, C, L] -> [N, C, 1]
    add_global_pool(c, as_plane(c, x), r);
    back_to_1d(c);
    return;
  }
  add_global_pool(c, image_input(c, "global pooling"), r);
}

// ReduceMean / ReduceMax / ReduceSum over the two spatial axes of an image are global pools (PyTorch's
// x.mean([2, 3]) in MnasNet-style heads); keepdims=0 adds a Flatten. Over other axes (a
// transformer's mean over its tokens) the reduced axes are moved last and pooled as one plane:
// Transpose, Reshape to [kept, reduced, 1], global pool, Reshape to the result. Axes are an
// attribute (opset < 18) or a constant input.
void reduce_spatial(NodeCtx& c, Reduction r) {
  c.allow_attributes({"axes", "keepdims", "noop_with_empty_axes"});
  const Value& x = c.runtime_input(0, "data");
  const std::size_t rank = onnx_rank(x);
  std::vector<std::int64_t> axes = c.attr_ints("axes");
  if (c.has_input(1)) axes = c.ints_of(c.const_input(1, "axes"), "axes");
  if (axes.empty() && c.attr_int("noop_with_empty_axes", 0) != 0) return c.alias(x);  // no axes: the input as it is
  if (axes.empty()) c.fail("a reduction over every axis (no 'axes') is not supported");
  for (std::int64_t& a : axes) a = norm_axis(c, a, rank, "axes");
  std::sort(axes.begin(), axes.end());
  if (std::adjacent_find(axes.begin(), axes.end()) != axes.end()) c.fail("axes " + dims_str(axes) + " repeat an axis");
  const bool keep = c.attr_int("keepdims", 1) != 0;
  if (!x.moved_batch && rank == 4 && axes == std::vector<std::int64_t>{2, 3}) {
    add_global_pool(c, x, r);
    if (keep) return;
    const Value pooled = c.importer().values.at(c.node().output(0));
    c.add_layer(std::make_unique<Flatten<double>>(false), {&pooled});
    c.importer().id_uses.at(pooled.id) = 1;  // read by the Flatten only
    return;
  }
  if (!x.moved_batch && axes[0] == 0) c.fail("a reduction over the batch axis is not supported");
  const std::size_t off = x.moved_batch ? 0 : 1;
  std::vector<char> reduced(x.shape.size(), 0);
  for (std::int64_t a : axes) reduced[to_size(a) - off] = 1;
  std::vector<std::size_t> order;
  std::size_t kept = 1, pooled = 1;
  Shape out;
  for (std::size_t k = 0; k < x.shape.size(); ++k)
    if (!reduced[k]) {
      order.push_back(k);
      kept *= x.shape[k];
    }
  for (std::size_t k = 0; k < x.shape.size(); ++k) {
    if (reduced[k]) {
      order.push_back(k);
      pooled *= x.shape[k];
    }
    if (!reduced[k] || keep) out.push_back(reduced[k] ? 1 : x.shape[k]);
  }
  if (out.empty()) c.fail("would leave a scalar per sample (keepdims=0 over every axis)");
  Value v = x;
  bool in_order = true;
  for (std::size_t k = 0; k < order.size(); ++k) in_order = in_order && order[k] == k;
  if (!in_order) v = c.add_hidden(std::make_unique<Transpose<double>>(order), {&v}, BatchAxis::Inherit);
  v = c.add_hidden(std::make_unique<Reshape<double>>(Shape{kept, pooled, 1}), {&v}, BatchAxis::Inherit);
  v = c.add_hidden(std::make_unique<Pool2d<double>>(global_pool_spec(r)), {&v}, BatchAxis::Inherit);
  c.add_layer(std::make_unique<Reshape<double>>(out), {&v});
}

}  // namespace

// Conv over [N, C, H, W] with W [M, C/group, kH, kW], or over [N, C, L] with W [M, C/group, kL]
// (Conv1d: a Conv2d with a kernel of height 1 between two Reshapes).
void conv(NodeCtx& c) {
  c.allow_attributes({"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"});
  const std::size_t spatial = c.weight_input(1, "weight W").dims.size() == 3 ? 1 : 2;
  const Value& input = window_input(c, "convolution", spatial);
  const Value x = spatial == 2 ? input : as_plane(c, input);
  const ConvParams p = conv_params(c, x.shape[0], spatial == 2 ? "[M, C/group, kH, kW]" : "[M, C/group, kL]", false, spatial);
  const Window2d win = window_from_attributes(c, x.shape[1], x.shape[2], p.kh, p.kw, false, true, spatial);
  ConstTensor w = c.take_const_input(1, "weight W");
  if (spatial == 1) w.dims.insert(w.dims.begin() + 2, 1);  // [M, C/group, 1, kL]: the same values
  c.add_conv(std::move(w), p.bias, win, p.group, x);
  if (spatial == 1) back_to_1d(c);
}

// ConvTranspose: W [C, M/group, kH, kW]; pads explicit (or VALID), or derived from
// output_shape or SAME_UPPER/SAME_LOWER (output = input * stride) as the ONNX spec says: the
// full output minus the wanted one is split between the two ends (SAME_UPPER: the odd one at
// the end); a wanted output larger than the full one adds output padding at the end.
// 1-D on [N, C, L] with W [C, M/group, kL], as Conv.
void conv_transpose(NodeCtx& c) {
  c.allow_attributes({"auto_pad", "dilations", "group", "kernel_shape", "output_padding", "output_shape", "pads", "strides"});
  const std::size_t spatial = c.weight_input(1, "weight W").dims.size() == 3 ? 1 : 2;
  const Value& input = window_input(c, "transposed convolution", spatial);
  const Value x = spatial == 2 ? input : as_plane(c, input);
  const ConvParams p = conv_params(c, x.shape[0], spatial == 2 ? "[C, M/group, kH, kW]" : "[C, M/group, kL]", true, spatial);
  const std::string auto_pad = c.attr_string("auto_pad", "NOTSET");
  if (auto_pad != "NOTSET" && auto_pad != "VALID" && auto_pad != "SAME_UPPER" && auto_pad != "SAME_LOWER")
    c.fail("attribute 'auto_pad' = '" + auto_pad + "' is not supported");
  std::vector<std::int64_t> out_pad = c.attr_ints("output_padding", std::vector<std::int64_t>(spatial, 0));
  if (out_pad.size() != spatial)
    c.fail("attribute 'output_padding' needs " + std::string(spatial == 2 ? "2 values" : "1 value (1-D)") + ", found " + std::to_string(out_pad.size()));
  if (spatial == 1) out_pad.insert(out_pad.begin(), 0);
  for (std::int64_t v : out_pad)
    if (v < 0 || v > (1 << 20)) c.fail("attribute 'output_padding' must be non-negative, found " + std::to_string(v));
  const bool derived = c.has_attr("output_shape") || auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER";
  Window2d win = window_from_attributes(c, x.shape[1], x.shape[2], p.kh, p.kw, false, !derived, spatial);
  if (derived) {
    std::vector<std::int64_t> wanted;
    if (c.has_attr("output_shape")) {
      wanted = c.attr_ints("output_shape");
      if (wanted.size() == 2 + spatial) wanted.erase(wanted.begin(), wanted.begin() + 2);
      if (wanted.size() != spatial)
        c.fail("attribute 'output_shape' needs " + std::string(spatial == 2 ? "2 values [H, W]" : "1 value [L] (1-D)") + ", found " +
               std::to_string(wanted.size()));
      if (spatial == 1) wanted.insert(wanted.begin(), 1);
    } else {
      wanted = {static_cast<std::int64_t>(x.shape[1] * win.sh), static_cast<std::int64_t>(x.shape[2] * win.sw)};
    }
    const auto axis = [&](std::size_t in, std::size_t k, std::size_t stride, std::size_t dilation, std::int64_t& op,
                          std::int64_t want, std::size_t& begin, std::size_t& end) {
      if (want < 1 || want > (1 << 30)) c.fail("output size " + std::to_string(want) + " must be positive");
      const std::int64_t full = static_cast<std::int64_t>(stride * (in - 1) + dilation * (k - 1) + 1) + op;
      const std::int64_t total = full - want;
      if (total < 0) {
        op -= total;  // the extra rows or columns at the end get the bias only
        begin = end = 0;
        return;
      }
      const std::int64_t half = total / 2;
      begin = static_cast<std::size_t>(auto_pad == "SAME_UPPER" ? half : total - half);
      end = static_cast<std::size_t>(total) - begin;
    };
    axis(x.shape[1], p.kh, win.sh, win.dh, out_pad[0], wanted[0], win.pt, win.pb);
    axis(x.shape[2], p.kw, win.sw, win.dw, out_pad[1], wanted[1], win.pl, win.pr);
  }
  ConstTensor w = c.take_const_input(1, "weight W");
  if (spatial == 1) w.dims.insert(w.dims.begin() + 2, 1);  // [C, M/group, 1, kL]: the same values
  c.add_conv_transpose(std::move(w), p.bias, win, p.group, to_size(out_pad[0]), to_size(out_pad[1]), x);
  if (spatial == 1) back_to_1d(c);
}

void resize(NodeCtx& c) {
  c.allow_attributes({"antialias", "axes", "coordinate_transformation_mode", "cubic_coeff_a", "exclude_outside",
                      "extrapolation_value", "keep_aspect_ratio_policy", "mode", "nearest_mode"});
  const Value& x = image_input(c, "resizing");
  const std::string mode = resize_mode(c);
  if (c.attr_int("antialias", 0) != 0) c.fail("attribute 'antialias' = 1 is not supported");
  if (c.has_attr("axes")) c.fail("attribute 'axes' is not supported (give scales or sizes for all 4 axes)");
  if (c.attr_string("keep_aspect_ratio_policy", "stretch") != "stretch")
    c.fail("attribute 'keep_aspect_ratio_policy' other than 'stretch' is not supported");
  // Opset 10's Resize has Upsample's semantics; opset 11 added the modes below.
  ResizeCoordinates coords = ResizeCoordinates::Asymmetric;
  ResizeRounding rounding = ResizeRounding::Floor;
  if (c.opset() >= 11) {
    const std::string ct = c.attr_string("coordinate_transformation_mode", "half_pixel");
    const std::map<std::string, ResizeCoordinates> known = {
        {"half_pixel", ResizeCoordinates::HalfPixel},       {"pytorch_half_pixel", ResizeCoordinates::PytorchHalfPixel},
        {"align_corners", ResizeCoordinates::AlignCorners}, {"asymmetric", ResizeCoordinates::Asymmetric},
        {"tf_half_pixel_for_nearest", ResizeCoordinates::TfHalfPixelForNearest},
        {"tf_half_pixel_for_nn", ResizeCoordinates::TfHalfPixelForNearest}};  // its name in opset 11's first release
    const auto it = known.find(ct);
    if (it == known.end()) c.fail("coordinate_transformation_mode '" + ct + "' is not supported");
    coords = it->second;
    const std::string nm = c.attr_string("nearest_mode", "round_prefer_floor");
    const std::map<std::string, ResizeRounding> modes = {{"round_prefer_floor", ResizeRounding::RoundPreferFloor},
                                                         {"round_prefer_ceil", ResizeRounding::RoundPreferCeil},
                                                         {"floor", ResizeRounding::Floor},
                                                         {"ceil", ResizeRounding::Ceil}};
    const auto jt = modes.find(nm);
    if (jt == modes.end()) c.fail("nearest_mode '" + nm + "' is not supported");
    rounding = jt->second;
  }
  std::vector<double> scales;
  std::vector<std::int64_t> sizes;
  const std::size_t scales_at = c.opset() >= 11 ? 2 : 1;
  if (c.has_input(scales_at + 1)) sizes = c.ints_of(c.const_input(scales_at + 1, "sizes"), "sizes");
  if (c.has_input(scales_at)) {
    const ConstTensor& t = c.const_input(scales_at, "scales");
    if (t.numel() > 0) scales = floats_of(t);  // an empty scales tensor means "use sizes"
  }
  if (scales.empty() == sizes.empty()) c.fail("give exactly one of 'scales' and 'sizes'");
  add_resize(c, x, scales, sizes, mode, coords, rounding);
}

// Upsample (opset 7-9): Resize with asymmetric coordinates, nearest rounding down.
void upsample(NodeCtx& c) {
  c.allow_attributes({"mode", "scales"});
  const Value& x = image_input(c, "upsampling");
  const std::string mode = resize_mode(c);
  const std::vector<double> scales = c.has_attr("scales") ? c.attr_floats("scales") : floats_of(c.const_input(1, "scales"));
  add_resize(c, x, scales, {}, mode, ResizeCoordinates::Asymmetric, ResizeRounding::Floor);
}

void max_pool(NodeCtx& c) { pool(c, true); }

void average_pool(NodeCtx& c) { pool(c, false); }

void global_average_pool(NodeCtx& c) { global_pool(c, false); }

void global_max_pool(NodeCtx& c) { global_pool(c, true); }

void reduce_mean(NodeCtx& c) {
  if (!layer_norm_mean(c)) reduce_spatial(c, Reduction::Mean);
}

void reduce_max(NodeCtx& c) { reduce_spatial(c, Reduction::Max); }

void reduce_sum(NodeCtx& c) { reduce_spatial(c, Reduction::Sum); }

void pad(NodeCtx& c) {
  c.allow_attributes({"mode", "pads", "paddings", "value"});
  const std::string mode = c.attr_string("mode", "constant");
  if (mode != "constant") c.fail("mode '" + mode + "' is not supported (only 'constant')");
  const Value& x = c.runtime_input(0, "data");
  std::vector<std::int64_t> pads;
  double value = 0.0;
  if (c.opset() < 11) {
    pads = c.attr_ints(c.has_attr("paddings") ? "paddings" : "pads");
    value = c.attr_float("value", 0.0);
  } else {
    pads = c.ints_of(c.const_input(1, "pads"), "pads");
    if (c.has_input(2)) value = c.scalar_of(c.const_input(2, "constant_value"), "constant_value");
    if (c.has_input(3)) c.fail("the 'axes' input is not supported");
  }
  if (!std::isfinite(value)) c.fail("the pad value is not finite");
  const std::size_t rank = x.shape.size() + 1;
  if (pads.size() != 2 * rank) c.fail("pads has " + std::to_string(pads.size()) + " values, the input " + runtime_shape_str(x) + " needs " + std::to_string(2 * rank));
  for (std::int64_t p : pads)
    if (p < 0 || p > (1 << 20)) c.fail("pads " + dims_str(pads) + " are not supported (negative pads crop)");
  bool any = false;
  for (std::int64_t p : pads) any = any || p != 0;
  if (!any) return c.alias(x);
  if (rank == 3 && !x.moved_batch && !pads[0] && !pads[1] && !pads[3] && !pads[4]) {  // [N, C, L]: the L axis
    const Value plane = as_plane(c, x);
    c.add_layer(std::make_unique<Pad<double>>(0, to_size(pads[2]), 0, to_size(pads[5]), value), {&plane});
    return back_to_1d(c);
  }
  if (rank != 4 || pads[0] || pads[1] || pads[4] || pads[5])
    c.fail("only padding of the two spatial axes of [N,C,H,W] is supported; pads " + dims_str(pads) + " on " + runtime_shape_str(x));
  c.add_layer(std::make_unique<Pad<double>>(to_size(pads[2]), to_size(pads[3]), to_size(pads[6]), to_size(pads[7]), value), {&x});
}

}  // namespace lrp::io::onnx_detail
