#include "lrp/render/colormap.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <optional>
#include <utility>

#include "lrp/core/error.hpp"

namespace lrp::render {

namespace {

// ---------------------------------------------------------------------------------------------
// matplotlib LinearSegmentedColormap tables (256 entries, gamma 1), computed with the same
// floating-point operations as matplotlib's _create_lookup_table so that the tables are equal
// bit for bit: anchors x scaled by 255, sample points 255 * (i * (1/255)), linear interpolation
// between y1 of the left anchor and y0 of the right one, first entry y1[0], last entry y0[-1].

struct Anchor {
  double x, y0, y1;
};
using Channel = std::vector<Anchor>;

std::vector<double> segment_lut(const Channel& data) {
  constexpr std::size_t n = 256;
  const double nm1 = static_cast<double>(n - 1);
  std::vector<double> xs(data.size());
  for (std::size_t k = 0; k < data.size(); ++k) xs[k] = data[k].x * nm1;
  std::vector<double> lut(n);
  lut.front() = data.front().y1;
  lut.back() = data.back().y0;
  const double step = 1.0 / nm1;  // numpy.linspace(0, 1, 256): i * step
  for (std::size_t i = 1; i + 1 < n; ++i) {
    const double xi = nm1 * (static_cast<double>(i) * step);
    // numpy.searchsorted(xs, xi, side='left'): first k with xs[k] >= xi
    const std::size_t k = static_cast<std::size_t>(std::lower_bound(xs.begin(), xs.end(), xi) - xs.begin());
    const double distance = (xi - xs[k - 1]) / (xs[k] - xs[k - 1]);
    lut[i] = distance * (data[k].y0 - data[k - 1].y1) + data[k - 1].y1;
  }
  for (double& v : lut) v = std::clamp(v, 0.0, 1.0);
  return lut;
}

std::vector<Rgb> segment_table(const Channel& r, const Channel& g, const Channel& b) {
  const std::vector<double> lr = segment_lut(r), lg = segment_lut(g), lb = segment_lut(b);
  std::vector<Rgb> t(256);
  for (std::size_t i = 0; i < 256; ++i) t[i] = {lr[i], lg[i], lb[i]};
  return t;
}

// LinearSegmentedColormap.from_list: colours evenly spaced at linspace(0, 1, n).
std::vector<Rgb> from_list(const std::vector<Rgb>& colours) {
  const std::size_t n = colours.size();
  const double step = 1.0 / static_cast<double>(n - 1);
  Channel ch[3];
  for (std::size_t k = 0; k < n; ++k) {
    const double x = (k + 1 == n) ? 1.0 : static_cast<double>(k) * step;
    for (std::size_t c = 0; c < 3; ++c) ch[c].push_back({x, colours[k][c], colours[k][c]});
  }
  return segment_table(ch[0], ch[1], ch[2]);
}

std::vector<Rgb> jet_table() {
  // matplotlib's _jet_data
  const Channel r{{0.00, 0, 0}, {0.35, 0, 0}, {0.66, 1, 1}, {0.89, 1, 1}, {1.00, 0.5, 0.5}};
  const Channel g{{0.000, 0, 0}, {0.125, 0, 0}, {0.375, 1, 1}, {0.640, 1, 1}, {0.910, 0, 0}, {1.000, 0, 0}};
  const Channel b{{0.00, 0.5, 0.5}, {0.11, 1, 1}, {0.34, 1, 1}, {0.65, 0, 0}, {1.00, 0, 0}};
  return segment_table(r, g, b);
}

std::vector<Rgb> binary_table() {
  // matplotlib's _binary_data: white to black
  const Channel c{{0.0, 1.0, 1.0}, {1.0, 0.0, 0.0}};
  return segment_table(c, c, c);
}

std::vector<Rgb> seismic_table() {
  // matplotlib's _seismic_data (a colour list)
  return from_list({{0.0, 0.0, 0.3}, {0.0, 0.0, 1.0}, {1.0, 1.0, 1.0}, {1.0, 0.0, 0.0}, {0.5, 0.0, 0.0}});
}

std::vector<Rgb> bwr_table() {
  // matplotlib's _bwr_data (a colour list)
  return from_list({{0.0, 0.0, 1.0}, {1.0, 1.0, 1.0}, {1.0, 0.0, 0.0}});
}

// ---------------------------------------------------------------------------------------------
// Zennit's colour-map specification language (CMSL), re-implemented from its description:
// tokens are 6-digit colours, 3-digit colours (each digit doubled), 1-2 digit hex indices
// followed by ':', ',' separators and whitespace. A colour without an index is spaced evenly
// between its indexed neighbours; the first and last default to 0x00 and 0xff. The 8-bit
// palette samples 256 points of [0,1] like zennit.cmap.ColorMap.palette(level=1).

struct Node {
  std::optional<int> index;
  std::array<double, 3> value;
};

int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return c - 'A' + 10;
}

[[noreturn]] void cmsl_error(const std::string& source, const std::string& why) {
  throw ConfigError("invalid colour map specification '" + source + "': " + why);
}

std::vector<Node> cmsl_parse(const std::string& src) {
  enum class Tok { None, Index, Colon, Colour };
  std::vector<Node> nodes;
  // State within one comma-separated item: what the last token was.
  Tok last = Tok::None;
  std::optional<int> pending_index;
  std::size_t i = 0;
  while (i < src.size()) {
    const char c = src[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
      continue;
    }
    if (std::isxdigit(static_cast<unsigned char>(c))) {
      std::size_t run = 0;
      while (i + run < src.size() && std::isxdigit(static_cast<unsigned char>(src[i + run]))) ++run;
      if (run >= 3) {  // a colour: 6 digits when available, else 3
        const std::size_t len = run >= 6 ? 6 : 3;
        if (!(last == Tok::None || last == Tok::Colon))
          cmsl_error(src, "unexpected colour at position " + std::to_string(i));
        std::array<double, 3> v{};
        for (std::size_t ch = 0; ch < 3; ++ch) {
          const int hi = hexval(src[i + (len == 6 ? 2 * ch : ch)]);
          const int lo = hexval(src[i + (len == 6 ? 2 * ch + 1 : ch)]);
          v[ch] = static_cast<double>(hi * 16 + lo);
        }
        nodes.push_back({last == Tok::Colon ? pending_index : std::nullopt, v});
        pending_index.reset();
        last = Tok::Colour;
        i += len;
      } else {  // an index of 1 or 2 digits (one digit is doubled: "8" means 0x88)
        if (last != Tok::None) cmsl_error(src, "unexpected index at position " + std::to_string(i));
        const int hi = hexval(src[i]);
        const int lo = hexval(src[i + run - 1]);
        pending_index = hi * 16 + lo;
        last = Tok::Index;
        i += run;
      }
      continue;
    }
    if (c == ':' && last == Tok::Index) {
      last = Tok::Colon;
      ++i;
      continue;
    }
    if (c == ',' && last == Tok::Colour) {
      last = Tok::None;
      ++i;
      continue;
    }
    cmsl_error(src, std::string("unexpected '") + c + "' at position " + std::to_string(i));
  }
  if (last == Tok::Index || last == Tok::Colon) cmsl_error(src, "index without a colour at the end");
  return nodes;
}

std::vector<Rgb> cmsl_palette(const std::string& src) {
  std::vector<Node> nodes = cmsl_parse(src);
  if (nodes.size() < 2) cmsl_error(src, "a colour map needs at least 2 colours");
  // Anchor list (index, colour), as Zennit's ColorMap._make_palette.
  std::vector<std::pair<int, std::array<double, 3>>> res;
  res.push_back({0, nodes[0].value});
  if (nodes[0].index && *nodes[0].index > 0) res.push_back({*nodes[0].index, nodes[0].value});
  std::vector<Node> pending;
  for (std::size_t n = 1; n < nodes.size(); ++n) {
    Node node = nodes[n];
    if (!node.index) {
      if (n + 1 < nodes.size()) {
        pending.push_back(node);
        continue;
      }
      node.index = 255;
    } else if (*node.index < res.back().first) {
      cmsl_error(src, "indices must be in ascending order");
    }
    if (!pending.empty()) {
      const double left = static_cast<double>(res.back().first);
      const double right = static_cast<double>(*node.index);
      const std::size_t m = pending.size() + 2;  // numpy.linspace(0, 1, m)[1:-1]
      const double step = 1.0 / static_cast<double>(m - 1);
      for (std::size_t k = 0; k < pending.size(); ++k) {
        const double alpha = static_cast<double>(k + 1) * step;
        res.push_back({static_cast<int>(left * (1.0 - alpha) + right * alpha), pending[k].value});
      }
      pending.clear();
    }
    res.push_back({*node.index, node.value});
  }
  res.push_back({256, res.back().second});

  std::vector<Rgb> table(256);
  const double step = 2.0 / 255.0;  // numpy.linspace(-1, 1, 256)
  for (std::size_t i = 0; i < 256; ++i) {
    const double lin = (i == 255) ? 1.0 : static_cast<double>(i) * step + -1.0;
    const double v = std::clamp((lin + 1.0) / 2.0, 0.0, 1.0);
    const double x = std::clamp(v * 255.0, 0.0, 255.0);
    // numpy.searchsorted(indices[:-1], x, side='right')
    std::size_t k = 0;
    while (k + 1 < res.size() && static_cast<double>(res[k].first) <= x) ++k;
    const double i0 = res[k - 1].first, i1 = res[k].first;
    const double alpha = (x - i0) / (i1 - i0);
    for (std::size_t c = 0; c < 3; ++c) {
      const double colour = (res[k - 1].second[c] * (1.0 - alpha) + res[k].second[c] * alpha) / 255.0;
      // Zennit: (x * 255).round(12).clip(0, 255).astype(uint8)
      double q = std::nearbyint(colour * 255.0 * 1e12) / 1e12;
      q = std::clamp(q, 0.0, 255.0);
      table[i][c] = std::trunc(q) / 255.0;
    }
  }
  return table;
}

// ---------------------------------------------------------------------------------------------
// The Toolbox's custom maps (render.py). They work on the raw relevance. Arithmetic follows the
// original operation by operation; a 0/0 (an all-zero map) is taken as 0.

double safe_div(double a, double b) {
  const double q = a / b;
  return std::isnan(q) ? 0.0 : q;
}

double max_of(const double* r, std::size_t n) {
  double m = -std::numeric_limits<double>::infinity();
  for (std::size_t i = 0; i < n; ++i) m = std::max(m, r[i]);
  return m;
}

double clip(double x, double lo, double hi) { return std::min(std::max(x, lo), hi); }

void gray_red(const double* r, std::size_t n, double* rgb) {
  const double base = 0.8;
  const double m = max_of(r, n);
  for (std::size_t i = 0; i < n; ++i) {
    const double t = clip(safe_div(r[i], m), -1.0, 1.0);
    double* o = rgb + 3 * i;
    if (r[i] < 0) {
      o[0] = base + t * base;
      o[1] = base + t * base;
      o[2] = base + -t * (1 - base);
    } else {
      o[0] = base + t * (1 - base);
      o[1] = base + -t * base;
      o[2] = base + -t * base;
    }
  }
}

void black_green(const double* r, std::size_t n, double* rgb) {
  const double m = max_of(r, n);
  for (std::size_t i = 0; i < n; ++i) {
    double* o = rgb + 3 * i;
    o[0] = o[1] = o[2] = 0.0;
    if (r[i] < 0)
      o[2] = safe_div(-r[i], m);
    else
      o[1] = safe_div(r[i], m);
  }
}

void blue_black_yellow(const double* r, std::size_t n, double* rgb) {
  const double m = max_of(r, n);
  for (std::size_t i = 0; i < n; ++i) {
    double* o = rgb + 3 * i;
    o[0] = o[1] = o[2] = 0.0;
    if (r[i] < 0) {
      o[2] = safe_div(-r[i], m);
    } else {
      o[0] = safe_div(r[i], m);
      o[1] = o[0];
    }
  }
}

void black_firered(const double* r, std::size_t n, double* rgb) {
  double m = 0.0;
  for (std::size_t i = 0; i < n; ++i) m = std::max(m, std::abs(r[i]));
  for (std::size_t i = 0; i < n; ++i) {
    const double x = safe_div(r[i], m);
    const double hrp = clip(x - 0.00, 0, 0.25) / 0.25;
    const double hgp = clip(x - 0.25, 0, 0.25) / 0.25;
    const double hbp = clip(x - 0.50, 0, 0.50) / 0.50;
    const double hbn = clip(-x - 0.00, 0, 0.25) / 0.25;
    const double hgn = clip(-x - 0.25, 0, 0.25) / 0.25;
    const double hrn = clip(-x - 0.50, 0, 0.50) / 0.50;
    double* o = rgb + 3 * i;
    o[0] = hrp + hrn;
    o[1] = hgp + hgn;
    o[2] = hbp + hbn;
  }
}

void gray_red2(const double* r, std::size_t n, double* rgb) {
  // Population variance, two passes in long double.
  long double sum = 0;
  for (std::size_t i = 0; i < n; ++i) sum += r[i];
  const long double mean = n ? sum / static_cast<long double>(n) : 0;
  long double sq = 0;
  for (std::size_t i = 0; i < n; ++i) sq += (r[i] - mean) * (r[i] - mean);
  const double var = n ? static_cast<double>(sq / static_cast<long double>(n)) : 0.0;
  // Values above 10 var and all negatives are zeroed, then scaled by the maximum.
  std::vector<double> x(r, r + n);
  for (double& v : x) {
    if (v > 10 * var) v = 0;
    if (v < 0) v = 0;
  }
  const double m = max_of(x.data(), n);
  for (std::size_t i = 0; i < n; ++i) {
    const double v = safe_div(x[i], m);  // v >= 0: only the original's positive branch applies
    double* o = rgb + 3 * i;
    o[0] = 0.9 - clip(v - 0.3, 0, 0.7) / 0.7 * 0.5;
    o[1] = 0.9 - clip(v - 0.0, 0, 0.3) / 0.3 * 0.5 - clip(v - 0.3, 0, 0.7) / 0.7 * 0.4;
    o[2] = o[1];
  }
}

struct Entry {
  ColormapInfo info;
  std::function<Colormap()> make;
};

Colormap palette_map(const std::string& name, const char* source) {
  return Colormap(name, Colormap::Kind::Palette, cmsl_palette(source));
}

const std::vector<Entry>& registry() {
  static const std::vector<Entry> entries = [] {
    std::vector<Entry> e;
    auto table = [&e](const char* name, const char* desc, std::vector<Rgb> (*fn)()) {
      const std::string n = name;
      e.push_back({{n, desc}, [n, fn] { return Colormap(n, Colormap::Kind::Table, fn()); }});
    };
    auto custom = [&e](const char* name, const char* desc, void (*fn)(const double*, std::size_t, double*)) {
      const std::string n = name;
      e.push_back({{n, desc}, [n, fn] { return Colormap(n, Colormap::CustomFn(fn)); }});
    };
    auto zennit = [&e](const char* name, const char* desc, const char* src) {
      const std::string n = name;
      e.push_back({{n, std::string(desc) + " (Zennit, CMSL '" + src + "')"}, [n, src] { return palette_map(n, src); }});
    };
    table("bwr", "blue-white-red (matplotlib, LRP Toolbox)", bwr_table);
    table("seismic", "dark blue-blue-white-red-dark red (matplotlib, LRP Toolbox)", seismic_table);
    table("jet", "blue-cyan-yellow-red rainbow (matplotlib, LRP Toolbox default)", jet_table);
    table("binary", "white to black (matplotlib, LRP Toolbox input images)", binary_table);
    custom("gray-red", "Toolbox custom: gray, positive towards red, negative towards blue (scaled by max R)", gray_red);
    custom("gray-red2",
           "Toolbox custom: gray to dark red for positive relevance (outliers > 10 var(R) and negatives dropped)",
           gray_red2);
    custom("black-green", "Toolbox custom: black, positive green, negative blue (scaled by max R)", black_green);
    custom("black-firered",
           "Toolbox custom: black, positive red-yellow-white, negative blue-cyan-white (scaled by max|R|)",
           black_firered);
    custom("blue-black-yellow", "Toolbox custom: black, positive yellow, negative blue (scaled by max R)",
           blue_black_yellow);
    zennit("zennit-bwr", "blue-white-red", "00f,80:fff,f00");
    zennit("zennit-seismic", "blue-white-red with brightness 0xd0", "0000d0,80:d0d0d0,d00000");
    zennit("coldnhot", "cyan-blue-black-red-yellow-white", "0ff,00f,80:000,f00,ff0,fff");
    zennit("france", "blue-white-red of the French flag", "0055a4,80:fff,ef4135");
    zennit("hot", "black-red-yellow-white", "000,f00,ff0,fff");
    zennit("cold", "black-blue-cyan", "000,00f,0ff");
    zennit("gray", "black to white", "000,fff");
    zennit("wred", "white to red", "fff,f00");
    zennit("wblue", "white to blue", "fff,00f");
    zennit("coolio", "cyan-white-magenta with brightness 0xd0", "00d0d0,80:d0d0d0,d000d0");
    zennit("coleus", "green-white-magenta with brightness 0xd0", "00d000,80:d0d0d0,d000d0");
    return e;
  }();
  return entries;
}

std::string joined_names() {
  std::string s;
  for (const Entry& e : registry()) s += (s.empty() ? "" : ", ") + e.info.name;
  return s;
}

}  // namespace

Colormap::Colormap(std::string name, Kind kind, std::vector<Rgb> table)
    : name_(std::move(name)), kind_(kind), table_(std::move(table)) {
  if (kind_ == Kind::Custom || table_.size() != 256)
    throw ConfigError("colour map '" + name_ + "' needs a 256-entry table");
}

Colormap::Colormap(std::string name, CustomFn fn)
    : name_(std::move(name)), kind_(Kind::Custom), custom_(std::move(fn)) {}

std::size_t Colormap::index(double v) const {
  if (kind_ == Kind::Custom) throw ConfigError("colour map '" + name_ + "' has no table");
  if (!(v > 0)) return 0;  // also NaN; callers handle NaN before
  if (kind_ == Kind::Table) {
    // matplotlib Colormap.__call__: v * N, v == 1 → N - 1, above → "over" = last entry
    const double x = v * 256.0;
    return x >= 255.0 ? 255 : static_cast<std::size_t>(x);
  }
  // Zennit imgify: (v * 255).clip(0, 255).astype(uint8)
  const double x = v * 255.0;
  return x >= 255.0 ? 255 : static_cast<std::size_t>(x);
}

Rgb Colormap::operator()(double v) const {
  if (std::isnan(v)) return {0.0, 0.0, 0.0};
  return table_[index(v)];
}

void Colormap::apply_custom(const double* r, std::size_t n, double* rgb) const {
  if (kind_ != Kind::Custom) throw ConfigError("colour map '" + name_ + "' is not a custom map");
  custom_(r, n, rgb);
}

const std::vector<ColormapInfo>& colormap_catalog() {
  static const std::vector<ColormapInfo> infos = [] {
    std::vector<ColormapInfo> v;
    for (const Entry& e : registry()) v.push_back(e.info);
    return v;
  }();
  return infos;
}

std::vector<std::string> colormap_names() {
  std::vector<std::string> names;
  for (const Entry& e : registry()) names.push_back(e.info.name);
  return names;
}

Colormap colormap_from_cmsl(const std::string& source, const std::string& name) {
  return Colormap(name.empty() ? source : name, Colormap::Kind::Palette, cmsl_palette(source));
}

Colormap get_colormap(const std::string& name) {
  for (const Entry& e : registry())
    if (e.info.name == name) return e.make();
  // A CMSL source has at least two colours, hence a comma.
  if (name.find(',') != std::string::npos) {
    try {
      return colormap_from_cmsl(name);
    } catch (const ConfigError& e) {
      throw ConfigError(std::string(e.what()) + " (and it is no colour map name; valid names: " + joined_names() + ")");
    }
  }
  throw ConfigError("unknown colour map '" + name + "'; valid names: " + joined_names() +
                    ", or a Zennit CMSL string such as '00f,80:fff,f00'");
}

}  // namespace lrp::render
