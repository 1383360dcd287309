#include "lrp/graph/simplify.hpp"

#include <optional>

#include "lrp/layers/conv2d.hpp"

namespace lrp {
namespace {

// The live taps [first, last] of one axis: tap i reads input index o * stride - pad + i * dilation
// for outputs o in [0, out); live if some of those lie in [0, in).
struct LiveTaps {
  std::size_t first = 0, last = 0;
};

std::optional<LiveTaps> live_taps(std::size_t in, std::size_t out, std::size_t k, std::size_t stride, std::size_t pad,
                                  std::size_t dilation) {
  std::optional<LiveTaps> live;
  for (std::size_t i = 0; i < k; ++i) {
    // Reads span [i d - pad, (out - 1) s + i d - pad]; live if it meets [0, in).
    const long long lo = static_cast<long long>(i * dilation) - static_cast<long long>(pad);
    const long long hi = lo + static_cast<long long>((out - 1) * stride);
    if (hi < 0 || lo >= static_cast<long long>(in)) continue;
    if (!live) live = LiveTaps{i, i};
    live->last = i;
  }
  return live;
}

// The window and kernel offsets after trimming one axis to `live`, or nothing when the trimmed
// window would need negative padding or change the output size.
struct Trim {
  std::size_t first, size, pad_begin, pad_end;
};

std::optional<Trim> trim_axis(std::size_t in, std::size_t out, std::size_t k, std::size_t stride, std::size_t p0, std::size_t p1,
                              std::size_t dilation) {
  const std::optional<LiveTaps> live = live_taps(in, out, k, stride, p0, dilation);
  if (!live) return std::nullopt;  // every tap dead: the output is the bias; left alone
  const std::size_t cut_begin = live->first * dilation, cut_end = (k - 1 - live->last) * dilation;
  if (cut_begin > p0 || cut_end > p1) return std::nullopt;
  Trim t{live->first, live->last - live->first + 1, p0 - cut_begin, p1 - cut_end};
  const std::size_t span = dilation * (t.size - 1) + 1;
  if (in + t.pad_begin + t.pad_end < span || (in + t.pad_begin + t.pad_end - span) / stride + 1 != out) return std::nullopt;
  return t;
}

}  // namespace

template <class T>
std::size_t trim_dead_taps(Model<T>& model) {
  const std::vector<Shape> shapes = model.infer_shapes(model.input_shape);
  std::size_t trimmed = 0;
  for (Node<T>& n : model.nodes()) {
    if (n.layer->kind() != LayerKind::Conv2d) continue;
    const auto& conv = static_cast<const Conv2d<T>&>(*n.layer);
    const Shape& in = shapes.at(n.inputs.at(0));
    const Shape& out = shapes.at(n.output);
    if (in.size() != 3 || out.size() != 3) continue;
    const Window2d& w = conv.window();
    const std::optional<Trim> th = trim_axis(in[1], out[1], w.kh, w.sh, w.pt, w.pb, w.dh);
    const std::optional<Trim> tw = trim_axis(in[2], out[2], w.kw, w.sw, w.pl, w.pr, w.dw);
    if (!th || !tw || (th->size == w.kh && tw->size == w.kw)) continue;
    Window2d win = w;
    win.kh = th->size;
    win.kw = tw->size;
    win.pt = th->pad_begin;
    win.pb = th->pad_end;
    win.pl = tw->pad_begin;
    win.pr = tw->pad_end;
    const Tensor<T>& wt = conv.weight();
    const std::size_t planes = wt.dim(0) * wt.dim(1);
    Tensor<T> kept({wt.dim(0), wt.dim(1), win.kh, win.kw});
    for (std::size_t p = 0; p < planes; ++p)
      for (std::size_t i = 0; i < win.kh; ++i)
        for (std::size_t j = 0; j < win.kw; ++j)
          kept[(p * win.kh + i) * win.kw + j] = wt[(p * w.kh + th->first + i) * w.kw + tw->first + j];
    n.layer = std::make_unique<Conv2d<T>>(std::move(kept), conv.bias(), win, conv.groups());
    ++trimmed;
  }
  return trimmed;
}

template std::size_t trim_dead_taps(Model<float>&);
template std::size_t trim_dead_taps(Model<double>&);

}  // namespace lrp
