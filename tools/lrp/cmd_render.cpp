// lrp render: relevance arrays (.npy) to PNG heatmaps, optionally beside the input images.
#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "commands.hpp"
#include "lrp/core/error.hpp"
#include "lrp/core/tensor.hpp"
#include "lrp/io/arrays.hpp"
#include "lrp/io/image.hpp"
#include "lrp/render/colormap.hpp"
#include "lrp/render/heatmap.hpp"
#include "lrp/render/png.hpp"
#include "lrp/render/signal.hpp"

namespace lrp::cli {

namespace {

// An array file: .npy, or FILE.npz:NAME for one array of an .npz (a model with several inputs
// writes its relevance so; --dump-layers too).
Tensor<double> read_array_entry(const std::string& spec) {
  const std::size_t cut = spec.rfind(".npz:");
  if (cut == std::string::npos) return io::read_npy(spec);
  const std::string path = spec.substr(0, cut + 4), name = spec.substr(cut + 5);
  const std::map<std::string, Tensor<double>> arrays = io::read_npz(path);
  const auto it = arrays.find(name);
  if (it != arrays.end()) return it->second;
  std::string names;
  for (const auto& [key, t] : arrays) names += " '" + key + "'";
  throw ShapeError(path + ": no array '" + name + "'; it holds" + (names.empty() ? " none" : names));
}

struct RenderArgs {
  std::string relevance, out, input;
  std::string colormap = "bwr", input_colormap = "binary";
  std::string normalization = "toolbox", reduce = "sum", layout = "nchw";
  std::vector<double> input_range{0.0, 1.0};
  std::size_t scale = 1, sample = 0, columns = 0, gap = 2;
  bool grid = false, outline = false, signal = false;
  std::size_t strip_height = 48;
  double sigma = 2.0;
  double overlay = -1.0;  // opacity of the heatmap over the input; < 0: side by side
};

// An array split into samples of shape [C,H,W].
struct Samples {
  std::size_t n = 0, c = 0, h = 0, w = 0;
  Tensor<double> data;  // [N,C,H,W]

  Tensor<double> sample(std::size_t i) const {
    const std::size_t size = c * h * w;
    return Tensor<double>({c, h, w}, std::vector<double>(data.begin() + i * size, data.begin() + (i + 1) * size));
  }
};

Samples split_samples(const Tensor<double>& a, const std::string& layout, const std::string& what) {
  Samples s;
  const Shape& d = a.shape();
  auto bad = [&] {
    return ShapeError(what + " has shape " + shape_str(d) + ", which layout '" + layout +
                      "' cannot read (see 'lrp render --help')");
  };
  if (a.rank() == 2) {
    s.n = 1, s.c = 1, s.h = d[0], s.w = d[1];
    s.data = a.reshaped({1, 1, d[0], d[1]});
  } else if (a.rank() == 3) {
    if (layout == "nchw" || layout == "nhwc") {
      s.n = d[0], s.c = 1, s.h = d[1], s.w = d[2];
      s.data = a.reshaped({d[0], 1, d[1], d[2]});
    } else if (layout == "chw") {
      s.n = 1, s.c = d[0], s.h = d[1], s.w = d[2];
      s.data = a.reshaped({1, d[0], d[1], d[2]});
    } else {  // hwc
      s.n = 1, s.c = d[2], s.h = d[0], s.w = d[1];
      s.data = nhwc_to_nchw(a.reshaped({1, d[0], d[1], d[2]}));
    }
  } else if (a.rank() == 4 && layout == "nchw") {
    s.n = d[0], s.c = d[1], s.h = d[2], s.w = d[3];
    s.data = a;
  } else if (a.rank() == 4 && layout == "nhwc") {
    s.n = d[0], s.c = d[3], s.h = d[1], s.w = d[2];
    s.data = nhwc_to_nchw(a);
  } else {
    throw bad();
  }
  if (s.n == 0 || s.c == 0 || s.h == 0 || s.w == 0) throw ShapeError(what + " is empty: shape " + shape_str(d));
  return s;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// --input as an image file (PNG/JPEG): one [C,H,W] sample with values pixel / 255.
Samples image_samples(const std::string& path) {
  const Tensor<double> x = io::read_image(path).cast<double>();  // [1,C,H,W]
  Samples s;
  s.n = 1, s.c = x.dim(1), s.h = x.dim(2), s.w = x.dim(3);
  s.data = x;
  return s;
}

// --signal: [N, C, L] (or one [C, L]) relevance with the signals of the same shape (--input),
// drawn as strips, the signal over its relevance (render::render_signal); one sample per row.
void render_signals(const RenderArgs& a) {
  if (a.input.empty()) throw ConfigError("--signal needs --input (the signals, .npy of the relevance's shape)");
  const Tensor<double> r = read_array_entry(a.relevance), x = read_array_entry(a.input);
  if (r.shape() != x.shape() || (r.rank() != 2 && r.rank() != 3) || r.empty())
    throw ShapeError("--signal: relevance '" + a.relevance + "' has shape " + shape_str(r.shape()) + ", input '" + a.input + "' " +
                     shape_str(x.shape()) + "; both must be [N, C, L] (or [C, L]) of one shape");
  const std::size_t n = r.rank() == 3 ? r.dim(0) : 1, per = r.size() / n;
  const Shape sample(r.shape().end() - 2, r.shape().end());
  if (!a.grid && a.sample >= n)
    throw ConfigError("--sample " + std::to_string(a.sample) + " is out of range: '" + a.relevance + "' holds " + std::to_string(n) +
                      " sample(s)");
  render::SignalPlotOptions opt;
  opt.colormap = a.colormap;
  opt.normalization = a.normalization;
  opt.strip_height = a.strip_height;
  std::vector<render::RgbImage> rows;
  for (std::size_t i = a.grid ? 0 : a.sample; i < (a.grid ? n : a.sample + 1); ++i) {
    Tensor<double> ri(sample), xi(sample);
    std::copy_n(r.data() + i * per, per, ri.data());
    std::copy_n(x.data() + i * per, per, xi.data());
    rows.push_back(render::render_signal(xi, ri, opt));
  }
  render::write_png(a.out, rows.size() == 1 ? rows.front() : render::grid(rows, a.columns ? a.columns : 1, a.gap));
}

void run_render(const RenderArgs& a) {
  const render::Colormap probe = render::get_colormap(a.colormap);  // ConfigError listing the maps
  (void)probe;
  if (a.signal) return render_signals(a);
  if (a.outline && a.input.empty()) throw ConfigError("--outline needs --input (the image whose edges are drawn)");
  if (a.overlay >= 0.0 && a.input.empty()) throw ConfigError("--overlay needs --input (the image under the heatmap)");
  if (!(a.input_range[1] > a.input_range[0]))
    throw ConfigError("--input-range needs MIN < MAX, got " + std::to_string(a.input_range[0]) + " " +
                      std::to_string(a.input_range[1]));

  const Samples R = split_samples(read_array_entry(a.relevance), a.layout, "relevance '" + a.relevance + "'");
  Samples X;
  if (!a.input.empty()) {
    const bool is_array = ends_with(a.input, ".npy") || ends_with(a.input, ".NPY") || a.input.find(".npz:") != std::string::npos;
    X = is_array ? split_samples(read_array_entry(a.input), a.layout, "input '" + a.input + "'") : image_samples(a.input);
    if ((X.n != R.n && X.n != 1) || X.h != R.h || X.w != R.w)
      throw ShapeError("input '" + a.input + "' holds " + std::to_string(X.n) + " image(s) of " + std::to_string(X.h) +
                       "x" + std::to_string(X.w) + ", relevance '" + a.relevance + "' " + std::to_string(R.n) +
                       " map(s) of " + std::to_string(R.h) + "x" + std::to_string(R.w));
    if (X.c != 1 && X.c != 3)
      throw ShapeError("input '" + a.input + "' must have 1 or 3 channels, has " + std::to_string(X.c));
    if (is_array) {  // map the input range onto [0,1]
      const double lo = a.input_range[0], span = a.input_range[1] - a.input_range[0];
      for (double& v : X.data) v = (v - lo) / span;
    }
  }

  std::vector<std::size_t> which;
  if (a.grid) {
    for (std::size_t i = 0; i < R.n; ++i) which.push_back(i);
  } else {
    if (a.sample >= R.n)
      throw ConfigError("--sample " + std::to_string(a.sample) + " is out of range: '" + a.relevance + "' holds " +
                        std::to_string(R.n) + " sample(s)");
    which.push_back(a.sample);
  }

  render::HeatmapOptions opt;
  opt.colormap = a.colormap;
  opt.normalization = a.normalization;
  opt.reduce = a.reduce;
  opt.scale = a.scale;
  std::vector<render::RgbImage> rows;
  for (std::size_t i : which) {
    render::RgbImage heat = render::render_heatmap(R.sample(i), opt);
    if (X.n == 0) {
      rows.push_back(std::move(heat));
      continue;
    }
    const Tensor<double> x = X.sample(X.n == 1 ? 0 : i);
    render::RgbImage picture = render::render_input(x, a.scale, a.input_colormap);
    if (a.overlay >= 0.0) {
      heat = render::blend(picture, heat, a.overlay);
      if (a.outline) render::draw_outline(heat, x, a.scale, a.sigma);
      rows.push_back(std::move(heat));
      continue;
    }
    if (a.outline) render::draw_outline(heat, x, a.scale, a.sigma);
    rows.push_back(render::hconcat({std::move(picture), heat}, a.gap));
  }

  render::RgbImage image;
  if (rows.size() == 1) {
    image = std::move(rows.front());
  } else {
    std::size_t columns = a.columns;
    if (columns == 0)
      columns = X.n ? 1 : std::max<std::size_t>(1, static_cast<std::size_t>(std::sqrt(double(rows.size()))));
    image = render::grid(rows, columns, a.gap);
  }
  render::write_png(a.out, image);
}

std::string colormap_footer() {
  std::string s =
      "Arrays (.npy, float32/float64): [H,W] is one map. With --layout nchw (default) [N,H,W] is a batch of\n"
      "single-channel maps (the Toolbox's summed heatmaps) and [N,C,H,W] a batch with channels; --layout nhwc\n"
      "reads [N,H,W] and [N,H,W,C] (Toolbox layout); --layout chw / hwc read one sample [C,H,W] / [H,W,C].\n"
      "Channels are reduced with --reduce. Without --grid only sample --sample (default 0) is drawn; --grid\n"
      "draws every sample, one tile per sample (input | heatmap when --input is given, one tile per row by\n"
      "default; heatmaps alone fill a square grid), gaps of --gap black pixels. Each heatmap is normalised on\n"
      "its own. --input arrays (.npy) use the same layout, 1 or 3 channels, values mapped from --input-range to\n"
      "[0,1]; --input may also be a PNG/JPEG image of the heatmap's size (pixel / 255). One input image is\n"
      "shown beside every heatmap of a batch.\n"
      "Pixels: colour * 255 truncated, as the Toolbox's save_image; with the Toolbox maps and normalisation the\n"
      "PNG equals render.hm_to_rgb(R, scaling=S, cmap=NAME) saved by render.save_image.\n\n"
      "Colour maps (--colormap; a Zennit CMSL string such as '00f,80:fff,f00' works too):\n";
  for (const auto& info : render::colormap_catalog())
    s += "  " + info.name + std::string(info.name.size() < 18 ? 18 - info.name.size() : 1, ' ') + info.description +
         "\n";
  return s;
}

}  // namespace

void add_render_command(CLI::App& app) {
  auto args = std::make_shared<RenderArgs>();
  CLI::App* cmd =
      app.add_subcommand("render", "Draw relevance maps (.npy) as PNG heatmaps, optionally beside the inputs");
  cmd->add_option("relevance", args->relevance,
                  "Relevance array (.npy), or FILE.npz:NAME for one array of an .npz (a model with several inputs, --dump-layers)")
      ->required();
  cmd->add_option("-o,--out", args->out, "Output PNG file")->required();
  cmd->add_option("-c,--colormap", args->colormap,
                  "Colour map (default bwr; 'bwr'/'seismic' are matplotlib's as in the LRP Toolbox, Zennit's are "
                  "'zennit-bwr'/'zennit-seismic'; list below)");
  cmd->add_option("--normalization", args->normalization,
                  "toolbox: (R/max|R|+1)/2 (default); symmetric: Zennit's symmetric=True; absolute: |R|/max|R|; "
                  "unaligned: (R-min)/(max-min), Zennit's default. Custom Toolbox maps ignore it")
      ->check(CLI::IsMember({"toolbox", "symmetric", "absolute", "unaligned"}));
  cmd->add_option("--reduce", args->reduce, "Channel reduction: sum (default), abs-sum, l2")
      ->check(CLI::IsMember({"sum", "abs-sum", "l2"}));
  cmd->add_option("--layout", args->layout, "Array layout: nchw (default), nhwc, chw, hwc (see below)")
      ->check(CLI::IsMember({"nchw", "nhwc", "chw", "hwc"}));
  cmd->add_option("-s,--scale", args->scale, "Nearest-neighbour enlargement factor (default 1)")
      ->check(CLI::Range(std::size_t(1), std::size_t(64)));
  cmd->add_option("-i,--input", args->input, "Input images (.npy, FILE.npz:NAME, or a PNG/JPEG file) drawn left of each heatmap");
  cmd->add_option("--input-range", args->input_range,
                  "Value range of --input mapped to [0,1] (default 0 1; Toolbox MNIST: -1 1)")
      ->expected(2);
  cmd->add_option("--input-colormap", args->input_colormap, "Colour map for single-channel inputs (default binary)");
  cmd->add_flag("--outline", args->outline, "Draw the input's edges (Canny) in black over the heatmap; needs --input");
  cmd->add_option("--sigma", args->sigma, "Smoothing of the outline's edge detector (default 2)")
      ->check(CLI::Range(0.0, 100.0));
  cmd->add_option("--overlay", args->overlay,
                  "Lay the heatmap over --input with this opacity (0 to 1, e.g. 0.5) instead of drawing them side by side")
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_flag("--signal", args->signal,
                "Signals: [N, C, L] relevance with --input signals of the same shape (a 1-D network's), drawn as one strip per "
                "channel, the signal in black over its relevance (--layout, --reduce, --scale and --outline do not apply)");
  cmd->add_option("--strip-height", args->strip_height, "With --signal: pixels per channel (default 48)")
      ->check(CLI::Range(std::size_t(8), std::size_t(4096)));
  cmd->add_flag("--grid", args->grid, "Draw every sample of a batch in a grid");
  cmd->add_option("--sample", args->sample, "Sample drawn without --grid (default 0)");
  cmd->add_option("--columns", args->columns, "Grid columns (default: 1 with --input, else floor(sqrt(N)))");
  cmd->add_option("--gap", args->gap, "Black pixels between images (default 2)")
      ->check(CLI::Range(std::size_t(0), std::size_t(1000)));
  cmd->footer(colormap_footer());
  cmd->callback([args] { run_render(*args); });
}

}  // namespace lrp::cli
