// Layer converters: one function per ONNX operator, registered in a static table. Each reads
// its node through NodeCtx (which names the node in every error) and adds layers to the model,
// aliases its output, or fails with what is not supported.
#include <algorithm>
#include <cmath>
#include <optional>
#include <limits>

#include "io/onnx_detail.hpp"
#include "lrp/layers/activation.hpp"
#include "lrp/layers/batch_norm.hpp"
#include "lrp/layers/bias.hpp"
#include "lrp/layers/conv2d.hpp"
#include "lrp/layers/embedding.hpp"
#include "lrp/layers/layer_norm.hpp"
#include "lrp/layers/masked_fill.hpp"
#include "lrp/layers/scale.hpp"
#include "lrp/layers/linear.hpp"
#include "lrp/layers/lrn.hpp"
#include "lrp/layers/matmul.hpp"
#include "lrp/layers/merge.hpp"
#include "lrp/layers/pad.hpp"
#include "lrp/layers/prelu.hpp"
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

// Pads, strides and dilations of a 2-D window (Conv, MaxPool, AveragePool) over an input plane
// of h x w, from pads/auto_pad/strides/dilations; ceil_mode widens the end padding so that the
// last partial window is kept (only where that window starts inside the input). With
// `pads_from_attributes` false the pads stay 0 (the caller derives them: ConvTranspose).
Window2d window_from_attributes(NodeCtx& c, std::size_t h, std::size_t w, std::size_t kh, std::size_t kw, bool ceil_mode,
                                bool pads_from_attributes = true) {
  Window2d win;
  win.kh = kh;
  win.kw = kw;
  const std::vector<std::int64_t> strides = c.attr_ints("strides", {1, 1});
  const std::vector<std::int64_t> dilations = c.attr_ints("dilations", {1, 1});
  if (strides.size() != 2) c.fail("attribute 'strides' needs 2 values, found " + std::to_string(strides.size()));
  if (dilations.size() != 2) c.fail("attribute 'dilations' needs 2 values, found " + std::to_string(dilations.size()));
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
    const std::vector<std::int64_t> pads = c.attr_ints("pads", {0, 0, 0, 0});
    if (pads.size() != 4) c.fail("attribute 'pads' needs 4 values [top, left, bottom, right], found " + std::to_string(pads.size()));
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

ConvParams conv_params(NodeCtx& c, std::size_t channels, const std::string& weight_layout, bool transposed) {
  const ConstTensor& w = c.weight_input(1, "weight W");
  if (w.dims.size() != 4) c.fail("weight W must be 4-D " + weight_layout + ", got " + dims_str(w.dims));
  c.require_finite(w, "weight W");
  const std::int64_t group = c.attr_int("group", 1);
  if (group < 1) c.fail("attribute 'group' must be positive, found " + std::to_string(group));
  ConvParams p;
  p.group = to_size(group);
  p.kh = checked_kernel(c, w.dims[2]);
  p.kw = checked_kernel(c, w.dims[3]);
  if (c.has_attr("kernel_shape")) {
    const std::vector<std::int64_t> ks = c.attr_ints("kernel_shape");
    if (ks.size() != 2 || to_size(ks[0]) != p.kh || to_size(ks[1]) != p.kw)
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

void conv(NodeCtx& c) {
  c.allow_attributes({"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"});
  const Value& x = image_input(c, "convolution");
  const ConvParams p = conv_params(c, x.shape[0], "[M, C/group, kH, kW]", false);
  const Window2d win = window_from_attributes(c, x.shape[1], x.shape[2], p.kh, p.kw, false);
  c.add_conv(c.take_const_input(1, "weight W"), p.bias, win, p.group, x);
}

// ConvTranspose: W [C, M/group, kH, kW]; pads explicit (or VALID), or derived from
// output_shape or SAME_UPPER/SAME_LOWER (output = input * stride) as the ONNX spec says: the
// full output minus the wanted one is split between the two ends (SAME_UPPER: the odd one at
// the end); a wanted output larger than the full one adds output padding at the end.
void conv_transpose(NodeCtx& c) {
  c.allow_attributes({"auto_pad", "dilations", "group", "kernel_shape", "output_padding", "output_shape", "pads", "strides"});
  const Value& x = image_input(c, "transposed convolution");
  const ConvParams p = conv_params(c, x.shape[0], "[C, M/group, kH, kW]", true);
  const std::string auto_pad = c.attr_string("auto_pad", "NOTSET");
  if (auto_pad != "NOTSET" && auto_pad != "VALID" && auto_pad != "SAME_UPPER" && auto_pad != "SAME_LOWER")
    c.fail("attribute 'auto_pad' = '" + auto_pad + "' is not supported");
  std::vector<std::int64_t> out_pad = c.attr_ints("output_padding", {0, 0});
  if (out_pad.size() != 2) c.fail("attribute 'output_padding' needs 2 values, found " + std::to_string(out_pad.size()));
  for (std::int64_t v : out_pad)
    if (v < 0 || v > (1 << 20)) c.fail("attribute 'output_padding' must be non-negative, found " + std::to_string(v));
  const bool derived = c.has_attr("output_shape") || auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER";
  Window2d win = window_from_attributes(c, x.shape[1], x.shape[2], p.kh, p.kw, false, !derived);
  if (derived) {
    std::vector<std::int64_t> wanted;
    if (c.has_attr("output_shape")) {
      wanted = c.attr_ints("output_shape");
      if (wanted.size() == 4) wanted.erase(wanted.begin(), wanted.begin() + 2);
      if (wanted.size() != 2) c.fail("attribute 'output_shape' needs 2 values [H, W], found " + std::to_string(wanted.size()));
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
  c.add_conv_transpose(c.take_const_input(1, "weight W"), p.bias, win, p.group, to_size(out_pad[0]), to_size(out_pad[1]), x);
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

// Linear from W [out, in] (already transposed/scaled) and bias.
void add_linear(NodeCtx& c, const Value& x, ConstTensor&& w, const Tensor<double>& b) {
  if (x.shape.size() != 1) c.fail("the input must be [N, features], got " + runtime_shape_str(x));
  const std::size_t in = to_size(w.dims[1]);
  if (in != x.shape[0]) c.fail("weight has " + std::to_string(in) + " input features, the input has " + std::to_string(x.shape[0]));
  c.add_linear(std::move(w), b, x);
}

// [out, in] from the elements of a [r, s] constant: W = alpha * B^T, or alpha * B when B is
// already [out, in] (the copy is skipped when alpha is 1 and the constant is not shared).
ConstTensor linear_weight(NodeCtx& c, std::size_t k, const std::string& role, bool already_out_in, double alpha) {
  if (already_out_in && alpha == 1.0) return c.take_const_input(k, role);
  const ConstTensor& b = c.weight_input(k, role);
  const std::size_t r = to_size(b.dims[0]), s = to_size(b.dims[1]);
  std::vector<float> bytes;  // a pending constant read once, not element by element
  if (b.pending) {
    bytes.resize(r * s);
    b.read_floats(0, r * s, bytes.data());
  }
  const auto at = [&](std::size_t e) { return b.pending ? static_cast<double>(bytes[e]) : b.value(e); };
  ConstTensor w;
  w.dims = already_out_in ? b.dims : std::vector<std::int64_t>{b.dims[1], b.dims[0]};
  w.f.resize(r * s);
  for (std::size_t i = 0; i < r; ++i)
    for (std::size_t j = 0; j < s; ++j) (already_out_in ? w.f[i * s + j] : w.f[j * r + i]) = alpha * at(i * s + j);
  return w;
}

void gemm(NodeCtx& c) {
  c.allow_attributes({"alpha", "beta", "transA", "transB", "broadcast"});
  if (c.attr_int("transA", 0) != 0) c.fail("transA=1 would transpose the batch dimension; not supported");
  const Value& a = c.runtime_input(0, "input A");
  const ConstTensor& b = c.weight_input(1, "weight B");
  if (b.dims.size() != 2) c.fail("weight B must be 2-D, got " + dims_str(b.dims));
  c.require_finite(b, "weight B");
  const double alpha = c.attr_float("alpha", 1.0), beta = c.attr_float("beta", 1.0);
  if (!std::isfinite(alpha) || !std::isfinite(beta)) c.fail("attributes 'alpha' and 'beta' must be finite");
  const bool trans_b = c.attr_int("transB", 0) != 0;
  const std::size_t out = to_size(trans_b ? b.dims[0] : b.dims[1]);
  Tensor<double> bias({out});
  if (c.has_input(2)) {
    const ConstTensor& cc = c.const_input(2, "bias C");
    c.require_finite(cc, "bias C");
    const bool vector = cc.numel() == out && (cc.dims.size() == 1 || (cc.dims.size() == 2 && cc.dims[0] == 1));
    if (cc.numel() == 1) {
      bias.fill(beta * cc.value(0));
    } else if (vector) {
      for (std::size_t k = 0; k < out; ++k) bias[k] = beta * cc.value(k);
    } else {
      c.fail("bias C of shape " + dims_str(cc.dims) + " varies along the batch; only [" + std::to_string(out) + "], [1," +
             std::to_string(out) + "] or scalar biases are supported");
    }
  }
  if (a.moved_batch) {  // [rows, K] of a batch of one whose batch axis moved: every row mapped
    if (a.shape.size() != 2) c.fail("input A must be 2-D, got " + runtime_shape_str(a));
    ConstTensor w = linear_weight(c, 1, "weight B", trans_b, alpha);
    if (to_size(w.dims[1]) != a.shape[1]) c.fail("weight B has " + std::to_string(w.dims[1]) + " input features, the input " + std::to_string(a.shape[1]));
    return c.add_linear(std::move(w), bias, a, true);
  }
  add_linear(c, a, linear_weight(c, 1, "weight B", trans_b, alpha), bias);
}

// [N, K] x [K, M] with a constant B: a Linear layer. On [N, ..., K] (a channels-last map:
// ConvNeXt's pointwise layers after a Transpose) the Linear maps every row of the last axis.
void matmul(NodeCtx& c) {
  c.allow_attributes({});
  if (!c.is_const(0) && !c.is_const(1)) {  // attention: scores and weighted values
    const bool moved = c.input(0, "A").moved_batch || c.input(1, "B").moved_batch;
    const Value a = moved ? c.with_moved_batch(c.input(0, "A")) : c.input(0, "A");
    const Value b = moved ? c.with_moved_batch(c.input(1, "B")) : c.input(1, "B");
    if (a.shape.size() < 2 || b.shape.size() != a.shape.size())
      c.fail("a product of computed values needs [N, ..., M, K] x [N, ..., K, P] of one rank, got " + runtime_shape_str(a) + " and " +
             runtime_shape_str(b));
    const auto softmax_output = [&](const Value& v) {
      return v.node >= 0 && c.importer().with_model([&](const auto& model) {
        return model.nodes()[static_cast<std::size_t>(v.node)].layer->kind() == LayerKind::SoftMax;
      });
    };
    const bool ga = softmax_output(a), gb = softmax_output(b);
    return c.add_layer(std::make_unique<MatMul<double>>(ga == gb ? -1 : ga ? 0 : 1), {&a, &b});
  }
  const Value& a = c.runtime_input(0, "input A");
  const ConstTensor& b = c.weight_input(1, "weight B");
  if (b.dims.size() != 2) c.fail("only [N, ..., K] x [K, M] with a constant 2-D B is supported; B is " + dims_str(b.dims));
  c.require_finite(b, "weight B");
  const std::size_t m = to_size(b.dims[1]);
  if (a.shape.size() <= 1) return add_linear(c, a, linear_weight(c, 1, "weight B", false, 1.0), Tensor<double>({m}));
  if (to_size(b.dims[0]) != a.shape.back())
    c.fail("weight B is " + dims_str(b.dims) + ", the input's last axis has " + std::to_string(a.shape.back()) + " entries");
  c.add_linear(linear_weight(c, 1, "weight B", false, 1.0), Tensor<double>({m}), a, true);
}

void activation(NodeCtx& c, ActivationSpec spec) {
  const Value& x = c.runtime_input(0, "input X");
  c.add_layer(std::make_unique<Activation<double>>(spec), {&x});
}

void relu(NodeCtx& c) {
  c.allow_attributes({});
  activation(c, ActivationSpec{ActivationKind::ReLU});
}
void sigmoid(NodeCtx& c) {
  c.allow_attributes({});
  activation(c, ActivationSpec{ActivationKind::Sigmoid});
}
void hard_sigmoid(NodeCtx& c) {
  c.allow_attributes({"alpha", "beta"});
  ActivationSpec s{ActivationKind::HardSigmoid};
  s.alpha = c.attr_float("alpha", 0.2);
  s.beta = c.attr_float("beta", 0.5);
  if (!std::isfinite(s.alpha) || !std::isfinite(s.beta)) c.fail("attributes 'alpha' and 'beta' must be finite");
  activation(c, s);
}
void hard_swish(NodeCtx& c) {
  c.allow_attributes({});
  activation(c, ActivationSpec{ActivationKind::HardSwish});
}
void elu(NodeCtx& c) {
  c.allow_attributes({"alpha"});
  ActivationSpec s{ActivationKind::Elu};
  s.alpha = c.attr_float("alpha", 1.0);
  if (!std::isfinite(s.alpha)) c.fail("attribute 'alpha' must be finite");
  activation(c, s);
}
void selu(NodeCtx& c) {
  c.allow_attributes({"alpha", "gamma"});
  ActivationSpec s{ActivationKind::Selu};
  s.alpha = c.attr_float("alpha", 1.67326319217681884765625);
  s.gamma = c.attr_float("gamma", 1.05070102214813232421875);
  if (!std::isfinite(s.alpha) || !std::isfinite(s.gamma)) c.fail("attributes 'alpha' and 'gamma' must be finite");
  activation(c, s);
}
void softplus(NodeCtx& c) {
  c.allow_attributes({});
  activation(c, ActivationSpec{ActivationKind::Softplus});
}
void softsign(NodeCtx& c) {
  c.allow_attributes({});
  activation(c, ActivationSpec{ActivationKind::Softsign});
}
void erf_op(NodeCtx& c) {
  c.allow_attributes({});
  activation(c, ActivationSpec{ActivationKind::Erf});
}
// Gelu (opset 20); older exporters write it out as x * (1 + erf(x / sqrt 2)) * 0.5, which imports
// as Div (a scale), Erf, Add (a shift), Mul with that shifted erf as the gate, Mul (a scale).
void gelu(NodeCtx& c) {
  c.allow_attributes({"approximate"});
  const std::string approx = c.attr_string("approximate", "none");
  if (approx != "none" && approx != "tanh") c.fail("attribute 'approximate' must be 'none' or 'tanh', got '" + approx + "'");
  activation(c, ActivationSpec{approx == "tanh" ? ActivationKind::GeluTanh : ActivationKind::Gelu});
}
void tanh_op(NodeCtx& c) {
  c.allow_attributes({});
  activation(c, ActivationSpec{ActivationKind::Tanh});
}
void leaky_relu(NodeCtx& c) {
  c.allow_attributes({"alpha"});
  ActivationSpec s{ActivationKind::LeakyReLU};
  s.alpha = c.attr_float("alpha", 0.01);
  if (!std::isfinite(s.alpha)) c.fail("attribute 'alpha' is not finite");
  activation(c, s);
}

void clip(NodeCtx& c) {
  ActivationSpec s{ActivationKind::Clip};
  s.lo = -std::numeric_limits<double>::infinity();
  s.hi = std::numeric_limits<double>::infinity();
  if (c.opset() < 11) {
    c.allow_attributes({"min", "max"});
    if (c.has_attr("min")) s.lo = c.attr_float("min", s.lo);
    if (c.has_attr("max")) s.hi = c.attr_float("max", s.hi);
  } else {
    c.allow_attributes({});
    if (c.has_input(1)) s.lo = c.scalar_of(c.const_input(1, "min"), "min");
    if (c.has_input(2)) s.hi = c.scalar_of(c.const_input(2, "max"), "max");
  }
  if (std::isnan(s.lo) || std::isnan(s.hi)) c.fail("Clip bounds are NaN");
  activation(c, s);
}

void pool(NodeCtx& c, bool max) {
  if (max) c.allow_attributes({"auto_pad", "ceil_mode", "dilations", "kernel_shape", "pads", "storage_order", "strides"});
  else c.allow_attributes({"auto_pad", "ceil_mode", "count_include_pad", "kernel_shape", "pads", "strides"});
  const Value& x = image_input(c, "pooling");
  if (max) {
    c.limit_outputs(1, "the Indices output of MaxPool is not supported");
    if (c.attr_int("storage_order", 0) != 0) c.fail("attribute 'storage_order' = 1 is not supported");
  }
  const std::vector<std::int64_t> ks = c.attr_ints("kernel_shape");
  if (ks.size() != 2) c.fail("attribute 'kernel_shape' must have 2 values (2-D pooling), found " + std::to_string(ks.size()));
  const std::int64_t ceil_mode = c.attr_int("ceil_mode", 0);
  const bool count_pad = c.attr_int("count_include_pad", 0) != 0;
  PoolSpec spec;
  spec.mode = max ? PoolMode::Max : PoolMode::Sum;
  spec.type_name = max ? "MaxPool" : "AveragePool";
  const std::size_t kh = checked_kernel(c, ks[0]), kw = checked_kernel(c, ks[1]);
  spec.window = window_from_attributes(c, x.shape[1], x.shape[2], kh, kw, false);
  if (ceil_mode != 0) {
    const Window2d wide = window_from_attributes(c, x.shape[1], x.shape[2], kh, kw, true);
    if (!max && count_pad && (wide.pb != spec.window.pb || wide.pr != spec.window.pr))
      c.fail("ceil_mode=1 together with count_include_pad=1 is not supported");
    spec.window = wide;
  }
  spec.divisor = !max && count_pad ? static_cast<double>(kh * kw) : 0.0;
  c.add_layer(std::make_unique<Pool2d<double>>(spec), {&x});
}
void max_pool(NodeCtx& c) { pool(c, true); }
void average_pool(NodeCtx& c) { pool(c, false); }

void add_global_pool(NodeCtx& c, const Value& x, bool max) {
  PoolSpec spec;
  spec.mode = max ? PoolMode::Max : PoolMode::Sum;
  spec.global = true;
  spec.type_name = max ? "GlobalMaxPool" : "GlobalAveragePool";
  c.add_layer(std::make_unique<Pool2d<double>>(spec), {&x});
}
void global_pool(NodeCtx& c, bool max) {
  c.allow_attributes({});
  add_global_pool(c, image_input(c, "global pooling"), max);
}
void global_average_pool(NodeCtx& c) { global_pool(c, false); }
void global_max_pool(NodeCtx& c) { global_pool(c, true); }

// ReduceMean / ReduceMax over the two spatial axes of an image are global pools (PyTorch's
// x.mean([2, 3]) in MnasNet-style heads); keepdims=0 adds a Flatten. Over other axes (a
// transformer's mean over its tokens) the reduced axes are moved last and pooled as one plane:
// Transpose, Reshape to [kept, reduced, 1], global pool, Reshape to the result. Axes are an
// attribute (opset < 18) or a constant input.
void reduce_spatial(NodeCtx& c, bool max) {
  c.allow_attributes({"axes", "keepdims", "noop_with_empty_axes"});
  const Value& x = c.runtime_input(0, "data");
  const std::size_t rank = onnx_rank(x);
  std::vector<std::int64_t> axes = c.attr_ints("axes");
  if (c.has_input(1)) axes = c.ints_of(c.const_input(1, "axes"), "axes");
  if (axes.empty()) c.fail("a reduction over every axis (no 'axes') is not supported");
  for (std::int64_t& a : axes) a = norm_axis(c, a, rank, "axes");
  std::sort(axes.begin(), axes.end());
  if (std::adjacent_find(axes.begin(), axes.end()) != axes.end()) c.fail("axes " + dims_str(axes) + " repeat an axis");
  const bool keep = c.attr_int("keepdims", 1) != 0;
  if (!x.moved_batch && rank == 4 && axes == std::vector<std::int64_t>{2, 3}) {
    add_global_pool(c, x, max);
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
  PoolSpec spec;
  spec.mode = max ? PoolMode::Max : PoolMode::Sum;
  spec.global = true;
  spec.type_name = max ? "GlobalMaxPool" : "GlobalAveragePool";
  v = c.add_hidden(std::make_unique<Pool2d<double>>(spec), {&v}, BatchAxis::Inherit);
  c.add_layer(std::make_unique<Reshape<double>>(out), {&v});
}
void reduce_mean(NodeCtx& c) {
  if (!layer_norm_mean(c)) reduce_spatial(c, false);
}
void reduce_max(NodeCtx& c) { reduce_spatial(c, true); }

void flatten(NodeCtx& c) {
  c.allow_attributes({"axis"});
  const Value& x = c.runtime_input(0, "input");
  const std::int64_t axis = norm_axis(c, c.attr_int("axis", 1), x.shape.size() + 1, "axis");
  if (axis != 1)
    c.fail("Flatten with axis " + std::to_string(c.attr_int("axis", 1)) + " on " + runtime_shape_str(x) +
           " would change the batch dimension; only axis 1 is supported");
  c.add_layer(std::make_unique<Flatten<double>>(false), {&x});
}

// A permutation of a computed value's axes. One that moves the batch axis (attention with the
// tokens first) is taken on a batch of one: the sample as the whole ONNX tensor.
void transpose(NodeCtx& c) {
  c.allow_attributes({"perm"});
  const Value& x = c.runtime_input(0, "data");
  const std::vector<std::int64_t> perm = transpose_perm(c, onnx_rank(x));
  if (!x.moved_batch && perm[0] == 0) {
    std::vector<std::size_t> per_sample;
    for (std::size_t k = 1; k < perm.size(); ++k) per_sample.push_back(to_size(perm[k]) - 1);
    return c.add_layer(std::make_unique<Transpose<double>>(per_sample), {&x});
  }
  if (!x.moved_batch && c.importer().static_batch != std::size_t{1})
    c.fail("the permutation " + dims_str(perm) + " moves the batch axis; it must stay first (or the model run as a batch of one)");
  const Value m = c.with_moved_batch(x);
  std::vector<std::size_t> full;
  for (std::int64_t p : perm) full.push_back(to_size(p));
  c.add_layer(std::make_unique<Transpose<double>>(full), {&m});
}

// A box of a computed value (constant bounds, step 1, the batch axis whole).
void slice(NodeCtx& c) {
  c.allow_attributes({"starts", "ends", "axes"});
  const Value& x = c.runtime_input(0, "data");
  std::vector<std::int64_t> dims;
  if (!x.moved_batch) dims.push_back(std::numeric_limits<std::int32_t>::max());  // the batch: any size
  for (std::size_t d : x.shape) dims.push_back(static_cast<std::int64_t>(d));
  const SlicePlan plan = slice_plan(c, dims);
  if (!x.moved_batch && (plan.first[0] != 0 || plan.count[0] != dims[0])) c.fail("slicing the batch axis is not supported");
  Shape begin, size;
  for (std::size_t k = x.moved_batch ? 0 : 1; k < dims.size(); ++k) {
    if (plan.step[k] != 1) c.fail("only step 1 is supported on a computed value, found " + std::to_string(plan.step[k]));
    if (plan.count[k] == 0) c.fail("the slice along axis " + std::to_string(k) + " is empty");
    begin.push_back(to_size(plan.first[k]));
    size.push_back(to_size(plan.count[k]));
  }
  if (size == x.shape) return c.alias(x);
  c.add_layer(std::make_unique<Slice<double>>(begin, size), {&x});
}

// Resolves a Reshape target over a whole ONNX shape `dims` (a batch of one included): 0 copies,
// one -1 infers. Used where the batch axis does not stay first.
Shape whole_target(NodeCtx& c, const std::vector<std::int64_t>& target, const Shape& dims, bool allow_zero) {
  Shape out;
  long infer = -1;
  std::size_t known = 1;
  for (std::size_t k = 0; k < target.size(); ++k) {
    const std::int64_t t = target[k];
    if (t == -1) {
      if (infer >= 0) c.fail("the target shape " + dims_str(target) + " has more than one -1");
      infer = static_cast<long>(k);
      out.push_back(1);
      continue;
    }
    if (t == 0 && !allow_zero) {
      if (k >= dims.size()) c.fail("entry " + std::to_string(k) + " of the target shape copies a dimension the input does not have");
      out.push_back(dims[k]);
    } else if (t <= 0 || t > (std::int64_t(1) << 40)) {
      c.fail("the target shape " + dims_str(target) + " has the invalid entry " + (t == kBatchDim ? std::string("N") : std::to_string(t)));
    } else {
      out.push_back(to_size(t));
    }
    known *= out.back();
  }
  const std::size_t numel = shape_numel(dims);
  if (infer >= 0) {
    if (known == 0 || numel % known != 0) c.fail("cannot reshape " + dims_str(std::vector<std::int64_t>(dims.begin(), dims.end())) + " to " + dims_str(target));
    out[static_cast<std::size_t>(infer)] = numel / known;
  } else if (known != numel) {
    c.fail("cannot reshape " + dims_str(std::vector<std::int64_t>(dims.begin(), dims.end())) + " to " + dims_str(target));
  }
  return out;
}

// Whether x is the model's input holding token ids.
bool reads_token_ids(NodeCtx& c, const Value& x) { return c.importer().token_input && x.node == c.importer().input_node && !x.moved_batch; }

void reshape(NodeCtx& c) {
  c.allow_attributes({"allowzero", "shape"});
  const Value& x = c.runtime_input(0, "data");
  std::vector<std::int64_t> target;
  if (c.opset() < 5) {
    target = c.attr_ints("shape");
  } else {
    target = c.ints_of(c.const_input(1, "shape"), "shape");
  }
  const bool allow_zero = c.attr_int("allowzero", 0) != 0;
  if (target.empty()) c.fail("the target shape is empty; the batch dimension must stay first");
  // A batch of one that leaves the front, or was moved before: the sample is the whole tensor.
  const bool one = c.importer().static_batch == std::size_t{1};
  // -1 first that takes in more than the batch of one (GPT-2's Conv1D: x.view(-1, D) merges it with the tokens).
  std::int64_t rest = 1;
  for (std::size_t k = 1; k < target.size(); ++k) rest *= target[k] > 0 ? target[k] : 1;
  const bool merges = one && target[0] == -1 && rest > 0 && static_cast<std::size_t>(rest) != shape_numel(x.shape) &&
                      std::none_of(target.begin() + 1, target.end(), [](std::int64_t t) { return t <= 0; });
  if (x.moved_batch || merges || (one && target[0] != 1 && target[0] != 0 && target[0] != -1 && target[0] != kBatchDim)) {
    if (reads_token_ids(c, x)) c.fail("moves the batch axis of the model's input, which holds token ids");
    Shape whole = x.shape;
    if (!x.moved_batch) whole.insert(whole.begin(), 1);
    const Shape to = whole_target(c, target, whole, allow_zero);
    return c.add_layer(std::make_unique<Reshape<double>>(to), {&x}, BatchAxis::Moved);
  }
  const std::size_t per_numel = shape_numel(x.shape);
  // Entry 0 must be the batch: 0 (copy), the batch marker from Shape, -1, or the fixed batch size.
  Shape per;
  long infer = -1;
  bool batch_inferred = false;
  const std::int64_t t0 = target[0];
  if (t0 == -1) {
    batch_inferred = true;
  } else if (t0 == kBatchDim || (t0 == 0 && !allow_zero)) {
    // keeps the batch
  } else if (!(c.importer().static_batch && t0 > 0 && to_size(t0) == *c.importer().static_batch)) {
    c.fail("the target shape " + dims_str(target) + " does not keep the batch dimension of " + runtime_shape_str(x) +
           " (its first entry must be 0, -1 or the batch size)");
  }
  for (std::size_t k = 1; k < target.size(); ++k) {
    const std::int64_t t = target[k];
    if (t == -1) {
      if (infer >= 0 || batch_inferred) c.fail("the target shape " + dims_str(target) + " has more than one -1");
      infer = static_cast<long>(per.size());
      per.push_back(1);
    } else if (t == 0 && !allow_zero) {
      if (k - 1 >= x.shape.size()) c.fail("entry " + std::to_string(k) + " of the target shape copies a dimension the input does not have");
      per.push_back(x.shape[k - 1]);
    } else if (t <= 0 || t > (std::int64_t(1) << 40)) {
      c.fail("the target shape " + dims_str(target) + " has the invalid entry " + (t == kBatchDim ? std::string("N") : std::to_string(t)));
    } else {
      per.push_back(to_size(t));
    }
  }
  std::size_t known = 1;
  for (std::size_t k = 0; k < per.size(); ++k)
    if (static_cast<long>(k) != infer) known *= per[k];
  if (infer >= 0) {
    if (known == 0 || per_numel % known != 0) c.fail("cannot reshape " + runtime_shape_str(x) + " to " + dims_str(target));
    per[static_cast<std::size_t>(infer)] = per_numel / known;
  } else if (known != per_numel) {
    c.fail("cannot reshape " + runtime_shape_str(x) + " to " + dims_str(target) +
           (batch_inferred ? " while keeping the batch" : ""));
  }
  if (per == x.shape) return c.alias(x);  // the shape it has (GPT-2's input_ids.view(-1, T))
  if (reads_token_ids(c, x)) c.fail("reshapes the model's input, which holds token ids, to " + dims_str(target) + "; only an embedding may read them");
  c.add_layer(std::make_unique<Reshape<double>>(per), {&x});
}

void batch_normalization(NodeCtx& c) {
  c.allow_attributes({"epsilon", "momentum", "spatial", "training_mode", "is_test", "consumed_inputs"});
  if (c.attr_int("training_mode", 0) != 0) c.fail("training_mode=1 is not supported (inference only)");
  if (c.attr_int("spatial", 1) != 1) c.fail("spatial=0 is not supported");
  c.limit_outputs(1, "the training outputs (running mean/variance) are not supported");
  const Value& x = c.runtime_input(0, "input X");
  const ConstTensor& scale = c.const_input(1, "scale");
  const ConstTensor& bias = c.const_input(2, "B");
  const ConstTensor& mean = c.const_input(3, "mean");
  const ConstTensor& var = c.const_input(4, "var");
  const double eps = c.attr_float("epsilon", 1e-5);
  if (x.shape.empty()) c.fail("the input has no channel dimension");
  const std::size_t ch = x.shape[0];
  for (const auto& [t, role] : {std::pair{&scale, "scale"}, std::pair{&bias, "B"}, std::pair{&mean, "mean"}, std::pair{&var, "var"}}) {
    if (t->numel() != ch) c.fail(std::string(role) + " has shape " + dims_str(t->dims) + ", the input has " + std::to_string(ch) + " channels");
    c.require_finite(*t, role);
  }
  if (!std::isfinite(eps) || eps < 0) c.fail("attribute 'epsilon' must be finite and non-negative");
  try {
    c.add_layer(std::make_unique<BatchNorm<double>>(BatchNorm<double>::from_statistics(to_tensor(scale), to_tensor(bias), to_tensor(mean),
                                                                                       to_tensor(var), eps)),
                {&x});
  } catch (const NumericError& e) {
    c.fail(e.what());
  }
}

Tensor<double> broadcast_to_sample(NodeCtx& c, const Value& x, const ConstTensor& k);  // below

// LayerNormalization (opset 17): a LayerNorm layer over the last axis. Over several trailing
// axes (axis < -1, e.g. nn.LayerNorm([C, H, W])) they are merged into one first (Reshape,
// LayerNorm, Reshape back); Scale and B broadcast onto the normalised axes.
void layer_normalization(NodeCtx& c) {
  c.allow_attributes({"axis", "epsilon", "stash_type"});
  c.limit_outputs(1, "the Mean and InvStdDev outputs are not supported");
  const Value& x = c.runtime_input(0, "input X");
  if (x.shape.empty()) c.fail("the input has no axis besides the batch");
  const std::size_t rank = onnx_rank(x);
  const std::int64_t axis = norm_axis(c, c.attr_int("axis", -1), rank, "axis");
  if (!x.moved_batch && axis == 0) c.fail("normalising over the batch axis is not supported");
  const std::size_t off = x.moved_batch ? 0 : 1, first = to_size(axis) - off;  // first normalised axis of x.shape
  const Shape normalised(x.shape.begin() + static_cast<std::ptrdiff_t>(first), x.shape.end());
  const std::size_t d = shape_numel(normalised);
  // Scale and B: d values over the last axis (as written); over several axes, a constant that
  // broadcasts onto them (broadcast onto the sample, then its first block of d values).
  const auto per_position = [&](const ConstTensor& k) {
    Tensor<double> t({d});
    if (normalised.size() == 1) {
      if (k.numel() != d)
        c.fail("Scale and B must have " + std::to_string(d) + " values (the last axis of " + runtime_shape_str(x) + "), got " +
               dims_str(k.dims));
      for (std::size_t i = 0; i < d; ++i) t[i] = k.value(i);
      return t;
    }
    if (k.dims.size() > normalised.size())
      c.fail("Scale and B of shape " + dims_str(k.dims) + " have more axes than the normalised " + shape_str(normalised));
    const Tensor<double> full = broadcast_to_sample(c, x, k);
    for (std::size_t i = 0; i < d; ++i) t[i] = full[i];
    return t;
  };
  Tensor<double> gamma = per_position(c.const_input(1, "Scale")), beta({d});
  if (c.has_input(2)) beta = per_position(c.const_input(2, "B"));
  for (const Tensor<double>* t : {&gamma, &beta})
    for (double v : *t)
      if (!std::isfinite(v)) c.fail("Scale and B must be finite");
  const double eps = c.attr_float("epsilon", 1e-5);
  if (!std::isfinite(eps) || eps < 0) c.fail("attribute 'epsilon' must be finite and non-negative");
  auto layer = std::make_unique<LayerNorm<double>>(std::move(gamma), std::move(beta), eps);
  if (normalised.size() == 1) {
    c.add_layer(std::move(layer), {&x});
    return;
  }
  Shape merged(x.shape.begin(), x.shape.begin() + static_cast<std::ptrdiff_t>(first));
  merged.push_back(d);
  Value v = c.add_hidden(std::make_unique<Reshape<double>>(merged), {&x}, BatchAxis::Inherit);
  v = c.add_hidden(std::move(layer), {&v}, BatchAxis::Inherit);
  c.add_layer(std::make_unique<Reshape<double>>(x.shape), {&v});
}

// LRN (opsets 1, 13) across the channels of [N, C, ...]; k is ONNX's 'bias'.
void lrn(NodeCtx& c) {
  c.allow_attributes({"alpha", "beta", "bias", "size"});
  const Value& x = c.runtime_input(0, "input X");
  if (x.shape.empty()) c.fail("the input has no channel dimension");
  if (!c.has_attr("size")) c.fail("missing attribute 'size'");
  const std::int64_t size = c.attr_int("size", 0);
  if (size < 1) c.fail("attribute 'size' must be at least 1, got " + std::to_string(size));
  const double alpha = c.attr_float("alpha", 1e-4), beta = c.attr_float("beta", 0.75), bias = c.attr_float("bias", 1.0);
  if (!std::isfinite(alpha) || alpha < 0) c.fail("attribute 'alpha' must be finite and non-negative");
  if (!std::isfinite(beta)) c.fail("attribute 'beta' must be finite");
  if (!std::isfinite(bias) || bias <= 0) c.fail("attribute 'bias' must be finite and positive (the base must stay > 0)");
  c.add_layer(std::make_unique<LocalResponseNorm<double>>(to_size(size), alpha, beta, bias), {&x});
}

// PRelu (opsets 6, 7, 9, 16): a constant slope that broadcasts (right-aligned, onto X) per
// channel of [N, C, ...]: [C, 1, 1] or [1, C, 1, 1] on [N, C, H, W], [C] on [N, C], or one value
// ([1], a scalar) shared by every element. A [C] slope on [N, C, H, W] would broadcast along W
// and is refused.
void prelu(NodeCtx& c) {
  c.allow_attributes({});
  const Value& x = c.runtime_input(0, "input X");
  const ConstTensor& k = c.const_input(1, "slope");
  c.require_finite(k, "slope");
  const std::size_t rank = x.shape.size() + 1;
  bool ok = k.dims.size() <= rank && k.numel() >= 1;
  const bool shared = ok && k.numel() == 1;
  std::size_t ch = 0;
  if (ok && !shared) {
    const std::size_t off = rank - k.dims.size();  // the axis of X that k's first axis meets
    ok = off <= 1 && x.shape.size() >= 1;
    for (std::size_t j = 0; j < k.dims.size() && ok; ++j)
      ok = off + j == 1 ? to_size(k.dims[j]) == x.shape[0] : k.dims[j] == 1;
    if (ok) ch = x.shape[0];
  }
  if (!ok)
    c.fail("slope of shape " + dims_str(k.dims) + " does not broadcast per channel onto " + runtime_shape_str(x) +
           " (supported: [C], [C,1,1], [1,C,1,1] matching the input's C channels, [1] or a scalar)");
  Tensor<double> slopes({shared ? std::size_t{1} : ch});
  for (std::size_t q = 0; q < slopes.size(); ++q) slopes[q] = k.value(q);
  c.add_layer(std::make_unique<PRelu<double>>(std::move(slopes)), {&x});
}

// A constant operand decoded (a pending one read once, not element by element) and checked.
ConstTensor decoded_operand(NodeCtx& c, const ConstTensor& stored) {
  ConstTensor k = stored;
  if (k.pending) k.decode_pending();
  c.require_finite(k, "the constant operand");
  if (k.is_int && k.has_batch_marker()) c.fail("the constant operand depends on the batch size");
  return k;
}

// The values of a constant operand per channel of a runtime x: one per channel, or a scalar
// (right-aligned broadcasting with every axis but the channel axis 1); nothing when k has
// another shape.
std::optional<std::vector<double>> per_channel_values(const Value& x, const ConstTensor& k) {
  if (x.shape.empty()) return std::nullopt;
  const std::size_t ch = x.shape[0], rank = x.shape.size() + 1;
  if (k.dims.size() > rank) return std::nullopt;
  std::vector<double> values(ch);
  if (k.numel() == 1) {
    std::fill(values.begin(), values.end(), k.value(0));
    return values;
  }
  const std::size_t off = rank - k.dims.size();
  if (off > 1) return std::nullopt;
  for (std::size_t j = 0; j < k.dims.size(); ++j) {
    const std::size_t axis = off + j;
    if (!(axis == 1 ? (to_size(k.dims[j]) == ch || k.dims[j] == 1) : k.dims[j] == 1)) return std::nullopt;
  }
  for (std::size_t q = 0; q < ch; ++q) values[q] = k.value(k.numel() == 1 ? 0 : q);
  return values;
}

// The same with a message naming the operation (`what`) when k is not per channel.
std::vector<double> channel_values(NodeCtx& c, const Value& x, const ConstTensor& stored, const std::string& what) {
  const ConstTensor k = decoded_operand(c, stored);
  if (x.shape.empty()) c.fail("the input has no channel dimension");
  if (x.moved_batch && k.numel() != 1)
    c.fail(what + " " + runtime_shape_str(x) + " (its batch axis moved) and a constant of shape " + dims_str(k.dims) +
           " is not supported (only a scalar)");
  std::optional<std::vector<double>> values = x.moved_batch ? std::vector<double>(x.shape[0], k.value(0)) : per_channel_values(x, k);
  if (!values)
    c.fail(what + " a constant of shape " + dims_str(k.dims) + " and " + runtime_shape_str(x) +
           " is not supported (only one value per channel, or a scalar)");
  return *values;
}

// A constant broadcast (NumPy rules) onto one sample of x: its axes right-aligned with
// [N, ...x], 1 or equal to x's, and 1 on the batch axis.
Tensor<double> broadcast_to_sample(NodeCtx& c, const Value& x, const ConstTensor& k) {
  // kdims[0] stands for the batch axis; a value whose batch moved has it nowhere (size 1).
  const std::size_t rank = x.shape.size() + 1;
  const auto fail = [&] { c.fail("a constant of shape " + dims_str(k.dims) + " does not broadcast onto " + runtime_shape_str(x)); };
  if (k.dims.size() > onnx_rank(x)) fail();
  const std::size_t off = rank - k.dims.size();
  std::vector<std::size_t> kdims(rank, 1);
  for (std::size_t j = 0; j < k.dims.size(); ++j) kdims[off + j] = to_size(k.dims[j]);
  if (kdims[0] != 1) fail();
  for (std::size_t d = 1; d < rank; ++d)
    if (kdims[d] != 1 && kdims[d] != x.shape[d - 1]) fail();
  Tensor<double> out(x.shape);
  std::vector<std::size_t> idx(x.shape.size(), 0);
  for (std::size_t o = 0; o < out.size(); ++o) {
    std::size_t src = 0;
    for (std::size_t d = 0; d < idx.size(); ++d) src = src * kdims[d + 1] + (kdims[d + 1] == 1 ? 0 : idx[d]);
    out[o] = k.value(src);
    for (std::size_t d = idx.size(); d-- > 0;) {
      if (++idx[d] < x.shape[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}

// x * scale + shift per channel: a BatchNorm layer (the Pass rule in the composites, as Zennit
// gives a BatchNorm it could not fold).
void add_channel_affine(NodeCtx& c, const Value& x, const std::vector<double>& scale, const std::vector<double>& shift) {
  const std::size_t ch = scale.size();
  Tensor<double> a({ch}), b({ch});
  for (std::size_t q = 0; q < ch; ++q) {
    a[q] = scale[q];
    b[q] = shift[q];
  }
  c.add_layer(std::make_unique<BatchNorm<double>>(std::move(a), std::move(b)), {&x});
}

// k's values when x is the output of a LayerNorm read by nothing else and k has one value per
// entry of its last axis (a normalisation written out, then its weight and shift).
std::optional<std::vector<double>> along_last_axis_of_norm(NodeCtx& c, const Value& x, const ConstTensor& k) {
  const std::size_t d = x.shape.empty() ? 0 : x.shape.back();
  bool along_last = d > 0 && !x.moved_batch && k.numel() == d && !k.dims.empty() && to_size(k.dims.back()) == d;
  for (std::size_t a = 0; a + 1 < k.dims.size(); ++a) along_last = along_last && k.dims[a] == 1;
  if (!along_last || x.node < 0 || c.importer().id_uses.at(x.id) != 1) return std::nullopt;
  const bool norm = c.importer().with_model(
      [&](const auto& model) { return model.nodes()[static_cast<std::size_t>(x.node)].layer->kind() == LayerKind::LayerNorm; });
  if (!norm) return std::nullopt;
  std::vector<double> v(d);
  for (std::size_t q = 0; q < d; ++q) v[q] = k.value(q);
  return v;
}

// x + k for a constant k holding infinities: an additive attention mask (0 where a key may be
// attended, -inf where not: Llama's causal mask). The infinite entries become a MaskedFill, the
// finite ones, if any is not 0, a Bias after it. False when k is finite (NaN: an error).
bool add_infinite_mask(NodeCtx& c, const Value& x, const ConstTensor& stored, double sign) {
  if (stored.is_int) return false;
  ConstTensor k = stored;
  if (k.pending) k.decode_pending();
  bool infinite = false;
  for (std::size_t i = 0; i < k.numel(); ++i) {
    const double v = k.value(i);
    if (std::isnan(v)) c.fail("the constant operand holds NaN at element " + std::to_string(i));
    infinite = infinite || std::isinf(v);
  }
  if (!infinite) return false;
  Tensor<double> full = broadcast_to_sample(c, x, k), keep(full.shape()), fill(full.shape()), rest(full.shape());
  bool shifted = false;
  for (std::size_t i = 0; i < full.size(); ++i) {
    const double v = sign * full[i];
    keep[i] = std::isinf(v) ? 0.0 : 1.0;
    fill[i] = std::isinf(v) ? v : 0.0;
    rest[i] = std::isinf(v) ? 0.0 : v;
    shifted = shifted || rest[i] != 0.0;
  }
  if (!shifted) {
    c.add_layer(std::make_unique<MaskedFill<double>>(std::move(keep), std::move(fill)), {&x});
    return true;
  }
  const Value masked = c.add_hidden(std::make_unique<MaskedFill<double>>(std::move(keep), std::move(fill)), {&x}, BatchAxis::Inherit);
  c.add_layer(std::make_unique<Bias<double>>(std::move(rest)), {&masked});
  return true;
}

// x + k (sign +1) or x - k (sign -1) for a runtime x and a constant k: one value per entry of
// the last axis after a MatMul is its bias; one per channel (or a scalar) becomes the bias of
// the producing Conv/Linear when nothing else reads its output, otherwise a per-channel shift
// layer; any other constant that broadcasts onto a sample (a position embedding) a Bias layer.
void add_constant(NodeCtx& c, const Value& x, const ConstTensor& stored, double sign) {
  if (add_infinite_mask(c, x, stored, sign)) return;
  const ConstTensor k = decoded_operand(c, stored);
  if (std::optional<std::vector<double>> shift = along_last_axis_of_norm(c, x, k)) {
    for (double& v : *shift) v *= sign;
    if (c.affine_producer_norm(x, std::vector<double>(shift->size(), 1.0), *shift)) return c.alias(x);
  }
  const bool single_reader = x.node >= 0 && c.importer().id_uses.at(x.id) == 1;
  if (x.shape.size() > 1 && c.produced_by_rows_linear(x)) {
    const std::size_t d = x.shape.back();
    const bool along_last = k.numel() == 1 || (!k.dims.empty() && to_size(k.dims.back()) == d && k.numel() == d);
    std::vector<double> shift(d);
    for (std::size_t q = 0; q < d && along_last; ++q) shift[q] = sign * k.value(k.numel() == 1 ? 0 : q);
    if (along_last && single_reader && c.add_to_producer_bias(x, shift)) return c.alias(x);
  } else if (std::optional<std::vector<double>> shift = x.moved_batch ? std::nullopt : per_channel_values(x, k)) {
    for (double& v : *shift) v *= sign;
    if (single_reader && c.add_to_producer_bias(x, *shift)) return c.alias(x);
    return add_channel_affine(c, x, std::vector<double>(shift->size(), 1.0), *shift);
  }
  Tensor<double> b = broadcast_to_sample(c, x, k);
  for (double& v : b) v *= sign;
  c.add_layer(std::make_unique<Bias<double>>(std::move(b)), {&x});
}

// Values of which some had their batch axis moved, all with it moved (see Value::moved_batch).
std::vector<Value> same_batch_axis(NodeCtx& c, const std::vector<const Value*>& xs) {
  bool moved = false;
  for (const Value* v : xs) moved = moved || v->moved_batch;
  std::vector<Value> out;
  for (const Value* v : xs) out.push_back(moved ? c.with_moved_batch(*v) : *v);
  return out;
}

std::vector<const Value*> pointers(const std::vector<Value>& vs) {
  std::vector<const Value*> p;
  for (const Value& v : vs) p.push_back(&v);
  return p;
}

void add_runtime(NodeCtx& c, const std::vector<const Value*>& inputs) {
  const std::vector<Value> held = same_batch_axis(c, inputs);
  const std::vector<const Value*> xs = pointers(held);
  for (const Value* v : xs)
    if (v->shape != xs[0]->shape)
      c.fail("inputs of shapes " + runtime_shape_str(*xs[0]) + " and " + runtime_shape_str(*v) +
             " would need broadcasting; only equal shapes are supported");
  c.add_layer(std::make_unique<Add<double>>(xs.size()), xs);
}

void add_or_sub(NodeCtx& c, double sign) {
  c.allow_attributes({"axis", "broadcast", "consumed_inputs"});
  if (c.num_inputs() != 2) c.fail("expects 2 inputs");
  const bool c0 = c.is_const(0), c1 = c.is_const(1);
  if (!c0 && !c1) {
    if (sign < 0) c.fail("the difference of two computed values is not supported");
    add_runtime(c, {&c.input(0, "A"), &c.input(1, "B")});
  } else if (!c0) {
    add_constant(c, c.input(0, "A"), c.input(1, "B").c, sign);
  } else {
    if (sign < 0) c.fail("subtracting a computed value from a constant is not supported");
    add_constant(c, c.input(1, "B"), c.input(0, "A").c, sign);
  }
}
void add(NodeCtx& c) { add_or_sub(c, 1.0); }
void sub(NodeCtx& c) { add_or_sub(c, -1.0); }

// Whether a computed value is a gate, a factor that only scales the other: the output of a
// sigmoid-type activation (in [0, 1]), or a shifted and scaled erf or tanh (GELU written out,
// 0.5 (1 + erf(x / sqrt 2)), or its tanh approximation), possibly through per-channel affine
// layers (BatchNorm: the folded Add and Mul of constants).
bool is_gate(NodeCtx& c, const Value& v) {
  if (v.node < 0) return false;
  return c.importer().with_model([&](const auto& model) {
    using T = typename std::remove_reference_t<decltype(model)>::Scalar;
    long at = v.node;
    bool affine = false;
    while (at >= 0) {
      const Node<T>& node = model.nodes()[static_cast<std::size_t>(at)];
      if (node.layer->kind() == LayerKind::Activation) {
        const ActivationKind k = static_cast<const Activation<T>&>(*node.layer).spec().kind;
        if (k == ActivationKind::Sigmoid || k == ActivationKind::HardSigmoid) return true;
        return affine && (k == ActivationKind::Erf || k == ActivationKind::Tanh);
      }
      if (node.layer->kind() != LayerKind::BatchNorm || node.inputs.size() != 1) return false;
      affine = true;
      at = model.producer(node.inputs[0]);
    }
    return false;
  });
}

// x * k for a runtime x and a constant k: one value per entry of the last axis after a
// LayerNorm/RMSNorm read by nothing else is its weight (an RMSNorm written out ends so); one per
// channel (or a scalar) a per-channel scale; any other k that broadcasts onto a sample (rotary
// embeddings' cosines and sines) a Scale layer.
void mul_constant(NodeCtx& c, const Value& x, const ConstTensor& stored) {
  const ConstTensor k = decoded_operand(c, stored);
  if (std::optional<std::vector<double>> scale = along_last_axis_of_norm(c, x, k)) {
    if (c.affine_producer_norm(x, *scale, std::vector<double>(scale->size(), 0.0))) return c.alias(x);
  }
  if (std::optional<std::vector<double>> scale = x.moved_batch && k.numel() == 1 ? std::vector<double>(x.shape.at(0), k.value(0))
                                                : x.moved_batch ? std::nullopt
                                                                : per_channel_values(x, k))
    return add_channel_affine(c, x, *scale, std::vector<double>(scale->size(), 0.0));
  c.add_layer(std::make_unique<Scale<double>>(broadcast_to_sample(c, x, k)), {&x});
}

// Cast of a computed value to a floating type (`x.to(x.dtype)`, `.float()`): the value itself,
// computed in the model's precision. Casts to integers would round the activations: refused.
void cast_op(NodeCtx& c) {
  c.allow_attributes({"to", "saturate"});
  const std::int64_t to = c.attr_int("to", -1);
  using TP = onnx::TensorProto;
  if (to != TP::FLOAT && to != TP::DOUBLE && to != TP::FLOAT16 && to != TP::BFLOAT16)
    c.fail("a cast of a computed value to " + std::string(data_type_name(static_cast<int>(to))) + " is not supported (only to a floating type)");
  c.alias(c.runtime_input(0, "input"));
}

// Expand of a computed value to a constant shape: each axis of size 1 that grows to n becomes a
// Concat of n copies (grouped-query attention's repeat_kv: [N, kv, 1, T, d] to [N, kv, r, T, d]);
// relevance and gradients of the copies add up at the value. The batch entry stays (the batch
// size from Shape, or 1); the rank may not grow.
void expand_op(NodeCtx& c) {
  c.allow_attributes({});
  const Value x = c.runtime_input(0, "input");
  const ConstTensor& shape = c.const_input(1, "shape");
  std::vector<std::int64_t> target = shape.i;
  if (!shape.is_int) target = c.ints_of(shape, "shape");
  if (x.moved_batch) c.fail("expanding a value whose batch axis moved is not supported");
  if (target.size() != x.shape.size() + 1)
    c.fail("expanding " + runtime_shape_str(x) + " to " + std::to_string(target.size()) + " axes is not supported (only to its own rank)");
  if (target[0] != kBatchDim && target[0] != 1 && !(c.importer().static_batch && target[0] == static_cast<std::int64_t>(*c.importer().static_batch)))
    c.fail("expanding along the batch axis is not supported");
  std::vector<std::pair<std::size_t, std::size_t>> repeats;  // (axis of the sample, copies)
  for (std::size_t k = 0; k < x.shape.size(); ++k) {
    const std::int64_t t = target[k + 1];
    if (t == 1 || t == static_cast<std::int64_t>(x.shape[k])) continue;
    if (x.shape[k] != 1 || t < 1 || t > 4096)
      c.fail("cannot expand " + runtime_shape_str(x) + " to " + dims_str(target) + " (axis " + std::to_string(k + 1) + ")");
    repeats.emplace_back(k, to_size(t));
  }
  if (repeats.empty()) return c.alias(x);
  Value cur = x;
  for (std::size_t r = 0; r < repeats.size(); ++r) {
    const auto [axis, copies] = repeats[r];
    std::vector<const Value*> parts(copies, &cur);
    auto layer = std::make_unique<Concat<double>>(copies, axis);
    if (r + 1 == repeats.size()) return c.add_layer(std::move(layer), parts);
    cur = c.add_hidden(std::move(layer), parts, BatchAxis::Inherit);
  }
}

// -x: a per-channel scale by -1 (rotary embeddings' rotate_half negates half of the features).
void neg(NodeCtx& c) {
  c.allow_attributes({"consumed_inputs"});
  const Value& x = c.runtime_input(0, "X");
  if (x.shape.empty()) c.fail("the input has no axes besides the batch");
  add_channel_affine(c, x, std::vector<double>(x.shape[0], -1.0), std::vector<double>(x.shape[0], 0.0));
}

// A product: of two computed values a Mul layer (squeeze-excitation, SiLU and HardSwish as
// x * sigmoid(x)), the sigmoid-type factor as its gate; by a constant, mul_constant.
void mul(NodeCtx& c) {
  c.allow_attributes({"axis", "broadcast", "consumed_inputs"});
  if (c.num_inputs() != 2) c.fail("expects 2 inputs");
  const bool c0 = c.is_const(0), c1 = c.is_const(1);
  if (c0 || c1) return mul_constant(c, c.input(c0 ? 1 : 0, c0 ? "B" : "A"), c.input(c0 ? 0 : 1, c0 ? "A" : "B").c);
  const bool ga = is_gate(c, c.input(0, "A")), gb = is_gate(c, c.input(1, "B"));
  const std::vector<Value> ab = same_batch_axis(c, {&c.input(0, "A"), &c.input(1, "B")});
  c.add_layer(std::make_unique<Mul<double>>(ga == gb ? -1 : ga ? 0 : 1), {&ab[0], &ab[1]});
}

// x / k for a constant k per channel (or a scalar): a per-channel scale by 1 / k.
void div(NodeCtx& c) {
  c.allow_attributes({});
  if (c.num_inputs() != 2) c.fail("expects 2 inputs");
  if (c.is_const(0) || !c.is_const(1)) c.fail("only a computed value divided by a constant is supported");
  const Value& x = c.input(0, "A");
  std::vector<double> scale = channel_values(c, x, c.input(1, "B").c, "dividing");
  for (double& v : scale) {
    if (v == 0.0) c.fail("divides by zero");
    v = 1.0 / v;
  }
  add_channel_affine(c, x, scale, std::vector<double>(scale.size(), 0.0));
}

void sum(NodeCtx& c) {
  c.allow_attributes({"consumed_inputs"});
  std::vector<const Value*> xs;
  for (std::size_t k = 0; k < c.num_inputs(); ++k) xs.push_back(&c.runtime_input(k, "input " + std::to_string(k)));
  if (xs.empty()) c.fail("has no inputs");
  if (xs.size() == 1) return c.alias(*xs[0]);
  add_runtime(c, xs);
}

// Max / Min of computed values of one shape: an Extremum layer (relevance to the input holding
// the extremum). One computed value against scalar constants (torch.clamp written as
// max(x, c)) is a Clip.
void extremum(NodeCtx& c, bool minimum) {
  c.allow_attributes({"consumed_inputs"});
  std::vector<const Value*> xs;
  std::vector<double> bounds;
  for (std::size_t k = 0; k < c.num_inputs(); ++k) {
    const std::string role = "input " + std::to_string(k);
    if (c.is_const(k)) bounds.push_back(c.scalar_of(c.const_input(k, role), role));
    else xs.push_back(&c.runtime_input(k, role));
  }
  if (xs.empty()) c.fail("has no computed inputs");
  if (!bounds.empty()) {
    if (xs.size() != 1) c.fail("constants beside several computed values are not supported");
    ActivationSpec spec{ActivationKind::Clip};
    spec.lo = -std::numeric_limits<double>::infinity();
    spec.hi = std::numeric_limits<double>::infinity();
    for (const double b : bounds) {
      if (std::isnan(b)) c.fail("a constant bound is NaN");
      if (minimum) spec.hi = std::min(spec.hi, b);
      else spec.lo = std::max(spec.lo, b);
    }
    c.add_layer(std::make_unique<Activation<double>>(spec), {xs[0]});
    return;
  }
  if (xs.size() == 1) return c.alias(*xs[0]);
  const std::vector<Value> held = same_batch_axis(c, xs);
  for (const Value& v : held)
    if (v.shape != held[0].shape)
      c.fail("inputs of shapes " + runtime_shape_str(held[0]) + " and " + runtime_shape_str(v) +
             " (broadcasting between computed values is not supported)");
  c.add_layer(std::make_unique<Extremum<double>>(xs.size(), minimum), pointers(held));
}
void max_op(NodeCtx& c) { extremum(c, false); }
void min_op(NodeCtx& c) { extremum(c, true); }

// Where(condition, X, Y) with a constant condition and one computed operand: a MaskedFill that
// keeps the computed value where it is chosen and writes the other, constant operand elsewhere
// (a causal mask: `scores.masked_fill(mask == 0, -inf)`, `torch.where(mask, scores, min)`). The
// fill may be infinite, not NaN. Both constant: folded; a computed condition: refused.
void where_op(NodeCtx& c) {
  c.allow_attributes({});
  if (c.num_inputs() != 3) c.fail("expects 3 inputs (condition, X, Y)");
  if (!c.is_const(0)) c.fail("a condition computed from the model input is not supported (only a constant mask)");
  if (!c.is_const(1) && !c.is_const(2)) c.fail("two computed operands are not supported (one must be a constant fill value)");
  const bool x_computed = !c.is_const(1);
  const Value& x = c.runtime_input(x_computed ? 1 : 2, x_computed ? "X" : "Y");
  ConstTensor cond = c.const_input(0, "condition");
  if (cond.has_batch_marker()) c.fail("the condition depends on the batch size");
  ConstTensor fill = c.input(x_computed ? 2 : 1, x_computed ? "Y" : "X").c;
  if (fill.pending) fill.decode_pending();
  for (std::size_t k = 0; k < fill.numel(); ++k)
    if (std::isnan(fill.value(k))) c.fail("the fill value " + std::string(x_computed ? "Y" : "X") + " holds NaN");
  Tensor<double> keep = broadcast_to_sample(c, x, cond);
  for (double& v : keep) v = (v != 0.0) == x_computed ? 1.0 : 0.0;
  c.add_layer(std::make_unique<MaskedFill<double>>(std::move(keep), broadcast_to_sample(c, x, fill)), {&x});
}

// Concatenation of computed values, and of constants that are the same for every sample (a
// class token expanded to the batch, or a batch of one in a model exported for exactly one).
void concat(NodeCtx& c) {
  c.allow_attributes({"axis"});
  std::vector<const Value*> runtime;
  std::vector<std::size_t> const_at;
  for (std::size_t k = 0; k < c.num_inputs(); ++k) {
    if (c.is_const(k)) const_at.push_back(k);
    else runtime.push_back(&c.runtime_input(k, "input " + std::to_string(k)));
  }
  if (runtime.empty()) c.fail("has no inputs");
  const std::vector<Value> held = same_batch_axis(c, runtime);
  const std::vector<const Value*> xs = pointers(held);
  const bool moved = xs[0]->moved_batch;
  if (moved && !const_at.empty()) c.fail("concatenating constants with values whose batch axis moved is not supported");
  if (!c.has_attr("axis") && c.opset() >= 4) c.fail("missing attribute 'axis'");
  // Counted as if the batch were first (a value whose batch moved has every ONNX axis per sample).
  const std::int64_t axis = norm_axis(c, c.attr_int("axis", 1), onnx_rank(*xs[0]), "axis") + (moved ? 1 : 0);
  if (axis == 0) c.fail("concatenation along the batch axis is not supported");
  if (xs.size() == 1 && const_at.empty()) return c.alias(*xs[0]);
  std::vector<Concat<double>::Constant> constants;
  for (std::size_t k : const_at) {
    ConstTensor t = c.const_input(k, "input " + std::to_string(k));
    const bool one_sample = !t.dims.empty() && t.dims[0] == 1 && (t.batch_broadcast || c.importer().static_batch == std::size_t{1});
    if (!one_sample || t.is_int || t.dims.size() != xs[0]->shape.size() + 1)
      c.fail("input " + std::to_string(k) + " is a constant of shape " + dims_str(t.dims) +
             "; only constants repeated for every sample (Expand to the batch) can be concatenated with computed values");
    c.require_finite(t, "input " + std::to_string(k));
    Shape per;
    for (std::size_t d = 1; d < t.dims.size(); ++d) per.push_back(to_size(t.dims[d]));
    constants.push_back({k, Tensor<double>::adopt(per, std::move(t.f))});
  }
  c.add_layer(std::make_unique<Concat<double>>(xs.size(), to_size(axis - 1), std::move(constants)), xs);
}

// The ONNX shape of a computed value, its batch counted as 1 (a value with the batch first) or
// as it is (a moved batch of one).
Shape whole_shape(const Value& x) {
  Shape s = x.shape;
  if (!x.moved_batch) s.insert(s.begin(), 1);
  return s;
}

// x reshaped to the ONNX shape `to` (same elements): per sample when the batch stays first,
// else as a batch of one whose batch axis moved (Value::moved_batch).
void reshape_to(NodeCtx& c, const Value& x, const Shape& to, bool batch_stays_first) {
  if (!x.moved_batch && batch_stays_first) return c.add_layer(std::make_unique<Reshape<double>>(Shape(to.begin() + 1, to.end())), {&x});
  if (!x.moved_batch && c.importer().static_batch != std::size_t{1})
    c.fail("moves the batch axis of " + runtime_shape_str(x) + "; only models run as a batch of one may (export with batch 1)");
  c.add_layer(std::make_unique<Reshape<double>>(to), {&x}, BatchAxis::Moved);
}

// Squeeze / Unsqueeze of a computed value: a Reshape (axes given; Squeeze without axes drops
// every axis of size 1 but the batch).
void squeeze(NodeCtx& c) {
  c.allow_attributes({"axes"});
  const Value& x = c.runtime_input(0, "data");
  const Shape whole = whole_shape(x);
  const std::vector<std::int64_t> axes = axes_input_or_attr(c, false);
  std::vector<char> drop(whole.size(), 0);
  for (std::int64_t a : axes) {
    const std::size_t k = to_size(norm_axis(c, a, whole.size(), "axis"));
    if (whole[k] != 1 || (k == 0 && !x.moved_batch && c.importer().static_batch != std::size_t{1}))
      c.fail("cannot squeeze axis " + std::to_string(a) + " of " + runtime_shape_str(x));
    drop[k] = 1;
  }
  if (axes.empty())
    for (std::size_t k = x.moved_batch ? 0 : 1; k < whole.size(); ++k) drop[k] = whole[k] == 1;
  Shape to;
  for (std::size_t k = 0; k < whole.size(); ++k)
    if (!drop[k]) to.push_back(whole[k]);
  if (to.empty()) c.fail("would leave a scalar");
  reshape_to(c, x, to, !drop[0]);
}

void unsqueeze(NodeCtx& c) {
  c.allow_attributes({"axes"});
  const Value& x = c.runtime_input(0, "data");
  const Shape whole = whole_shape(x);
  const std::vector<std::int64_t> axes = axes_input_or_attr(c, true);
  const std::size_t rank = whole.size() + axes.size();
  std::vector<char> one(rank, 0);
  for (std::int64_t a : axes) {
    const std::size_t k = to_size(norm_axis(c, a, rank, "axis"));
    if (one[k]) c.fail("axis " + std::to_string(a) + " is repeated");
    one[k] = 1;
  }
  Shape to;
  std::size_t src = 0;
  for (std::size_t k = 0; k < rank; ++k) to.push_back(one[k] ? 1 : whole[src++]);
  reshape_to(c, x, to, !one[0]);
}

// Split of a computed value along an axis (not the batch's): one Slice per output, sizes from
// the 'split' input (opset 13) or attribute, else equal parts.
void split(NodeCtx& c) {
  c.allow_attributes({"axis", "split", "num_outputs"});
  const Value& x = c.runtime_input(0, "input");
  const std::int64_t axis = norm_axis(c, c.attr_int("axis", 0), onnx_rank(x), "axis");
  if (axis == 0 && !x.moved_batch) c.fail("splitting the batch axis is not supported");
  const std::size_t a = to_size(axis) - (x.moved_batch ? 0 : 1), len = x.shape[a];
  const std::size_t parts = static_cast<std::size_t>(c.node().output_size());
  std::vector<std::int64_t> sizes;
  if (c.opset() >= 13 && c.has_input(1)) sizes = c.ints_of(c.const_input(1, "split"), "split");
  else if (c.opset() < 13 && c.has_attr("split")) sizes = c.attr_ints("split");
  if (sizes.empty()) {
    if (parts == 0 || len % parts != 0) c.fail("cannot split an axis of " + std::to_string(len) + " into " + std::to_string(parts) + " equal parts");
    sizes.assign(parts, static_cast<std::int64_t>(len / parts));
  }
  if (sizes.size() != parts) c.fail(std::to_string(sizes.size()) + " split sizes for " + std::to_string(parts) + " outputs");
  std::size_t begin = 0;
  for (std::size_t k = 0; k < parts; ++k) {
    if (sizes[k] <= 0 || begin + to_size(sizes[k]) > len) c.fail("split sizes " + dims_str(sizes) + " do not fit an axis of " + std::to_string(len));
    Shape from(x.shape.size(), 0), size = x.shape;
    from[a] = begin;
    size[a] = to_size(sizes[k]);
    begin += size[a];
    c.add_layer_for(k, std::make_unique<Slice<double>>(from, size), {&x});
  }
  if (begin != len) c.fail("split sizes " + dims_str(sizes) + " do not add up to the axis of " + std::to_string(len));
}

// Gather of one index along an axis of a computed value (a transformer's class token, x[:, 0]):
// a slice without that axis.
void gather(NodeCtx& c) {
  c.allow_attributes({"axis"});
  if (c.is_const(0) && !c.is_const(1)) {  // an embedding: rows of a table looked up by token ids
    const Value& ids = c.input(1, "indices");
    if (ids.node != c.importer().input_node || !c.importer().token_input)
      c.fail("looks up a table with computed indices; only the model's integer input (token ids) may index a table");
    if (c.attr_int("axis", 0) != 0) c.fail("an embedding looks up rows (axis 0), got axis " + std::to_string(c.attr_int("axis", 0)));
    const ConstTensor& table = c.weight_input(0, "data");
    if (table.dims.size() != 2 || table.is_int) c.fail("the table must be a [V, D] float tensor, got " + dims_str(table.dims));
    c.require_finite(table, "the table");
    return c.add_embedding(c.take_const_input(0, "data"), ids);
  }
  const Value& x = c.runtime_input(0, "data");
  const ConstTensor& idx = c.const_input(1, "indices");
  const std::int64_t axis = norm_axis(c, c.attr_int("axis", 0), onnx_rank(x), "axis");
  if (axis == 0 && !x.moved_batch) c.fail("gathering along the batch axis is not supported");
  if (idx.numel() != 1 || idx.dims.size() > 1) c.fail("only one index is supported on a computed value, got indices of shape " + dims_str(idx.dims));
  const std::size_t a = to_size(axis) - (x.moved_batch ? 0 : 1);
  const std::int64_t len = static_cast<std::int64_t>(x.shape[a]);
  std::int64_t i = c.ints_of(idx, "indices")[0];
  if (i < -len || i >= len) c.fail("index " + std::to_string(i) + " is out of range for an axis of " + std::to_string(len));
  if (i < 0) i += len;
  Shape begin(x.shape.size(), 0), size = x.shape, out;
  begin[a] = to_size(i);
  size[a] = 1;
  for (std::size_t d = 0; d < x.shape.size(); ++d)
    if (d != a || idx.dims.size() == 1) out.push_back(size[d]);
  if (out.empty()) c.fail("would leave a scalar per sample");
  c.add_layer(std::make_unique<Slice<double>>(begin, size, out), {&x});
}

void dropout(NodeCtx& c) {
  c.allow_attributes({"ratio", "seed", "is_test", "consumed_inputs"});
  c.limit_outputs(1, "the mask output of Dropout is not supported");
  if (c.has_input(2)) {
    if (!c.is_const(2)) c.fail("training_mode must be a constant");
    if (c.scalar_of(c.const_input(2, "training_mode"), "training_mode") != 0) c.fail("training_mode=true is not supported (inference only)");
  }
  if (c.has_input(1) && !c.is_const(1)) c.fail("ratio must be a constant");
  c.alias(c.input(0, "data"));
}

void identity(NodeCtx& c) {
  c.allow_attributes({});
  c.alias(c.input(0, "input"));
}

void softmax(NodeCtx& c) {
  c.allow_attributes({"axis"});
  const Value& x = c.runtime_input(0, "input");
  const std::int64_t axis = norm_axis(c, c.attr_int("axis", c.opset() >= 13 ? -1 : 1), onnx_rank(x), "axis");
  if (x.shape.empty() || to_size(axis) + 1 != onnx_rank(x) || (c.opset() < 13 && onnx_rank(x) != 2))
    c.fail("only Softmax over the last axis is supported (before opset 13: of a [N, C] input); the input is " + runtime_shape_str(x) +
           ", axis " + std::to_string(c.attr_int("axis", c.opset() >= 13 ? -1 : 1)));
  c.add_layer(std::make_unique<SoftMax<double>>(), {&x});
}

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
  if (rank != 4 || pads[0] || pads[1] || pads[4] || pads[5])
    c.fail("only padding of the two spatial axes of [N,C,H,W] is supported; pads " + dims_str(pads) + " on " + runtime_shape_str(x));
  c.add_layer(std::make_unique<Pad<double>>(to_size(pads[2]), to_size(pads[3]), to_size(pads[6]), to_size(pads[7]), value), {&x});
}

}  // namespace

const std::map<std::string, LayerConverter>& layer_converters() {
  static const std::map<std::string, LayerConverter> table = {
      {"Add", add},
      {"AveragePool", average_pool},
      {"BatchNormalization", batch_normalization},
      {"Clip", clip},
      {"Concat", concat},
      {"Conv", conv},
      {"Resize", resize},
      {"RNN", rnn},
      {"Upsample", upsample},
      {"ConvTranspose", conv_transpose},
      {"Div", div},
      {"Dropout", dropout},
      {"Erf", erf_op},
      {"Flatten", flatten},
      {"Gather", gather},
      {"Gelu", gelu},
      {"Gemm", gemm},
      {"GRU", gru},
      {"GlobalAveragePool", global_average_pool},
      {"GlobalMaxPool", global_max_pool},
      {"HardSigmoid", hard_sigmoid},
      {"HardSwish", hard_swish},
      {"Identity", identity},
      {"LayerNormalization", layer_normalization},
      {"LeakyRelu", leaky_relu},
      {"LRN", lrn},
      {"LSTM", lstm},
      {"MatMul", matmul},
      {"Max", max_op},
      {"Neg", neg},
      {"Cast", cast_op},
      {"Expand", expand_op},
      {"Pow", pow_op},
      {"Reciprocal", reciprocal_op},
      {"Sqrt", sqrt_op},
      {"Where", where_op},
      {"MaxPool", max_pool},
      {"Min", min_op},
      {"Mul", mul},
      {"Pad", pad},
      {"PRelu", prelu},
      {"ReduceMax", reduce_max},
      {"ReduceMean", reduce_mean},
      {"Relu", relu},
      {"Reshape", reshape},
      {"Sigmoid", sigmoid},
      {"Elu", elu},
      {"Selu", selu},
      {"Softplus", softplus},
      {"Softsign", softsign},
      {"Slice", slice},
      {"Softmax", softmax},
      {"Split", split},
      {"Squeeze", squeeze},
      {"Sub", sub},
      {"Sum", sum},
      {"Tanh", tanh_op},
      {"Transpose", transpose},
      {"Unsqueeze", unsqueeze},
  };
  return table;
}

}  // namespace lrp::io::onnx_detail
