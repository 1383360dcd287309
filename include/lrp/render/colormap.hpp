#pragma once
// Named colour maps for heatmaps and input images.
//
// Three kinds of map:
//  * Table   — the LRP Toolbox's matplotlib maps (jet, binary, seismic, bwr): a 256-entry RGB
//              table computed from matplotlib's segment data exactly as matplotlib does; a value
//              v in [0,1] gets entry min(floor(256 v), 255), v < 0 entry 0, v > 1 entry 255.
//  * Palette — Zennit's maps, written in its colour-map specification language (CMSL: comma
//              separated hex colours, optional "index:" anchors, linear interpolation): a 256-entry
//              8-bit palette; v gets entry trunc(clip(255 v, 0, 255)), as zennit.image.imgify.
//              Zennit's own "bwr" and "seismic" differ from matplotlib's; the names "bwr" and
//              "seismic" mean the matplotlib/Toolbox maps, Zennit's are "zennit-bwr" and
//              "zennit-seismic". Any other CMSL string (e.g. "00f,80:fff,f00") is accepted too.
//  * Custom  — the Toolbox's custom maps (gray-red, gray-red2, black-green, black-firered,
//              blue-black-yellow). They colour the raw relevance themselves (their own scaling by
//              max R or max|R|) and ignore the heatmap normalisation.
// Colours are doubles in [0,1] (custom maps may leave that range; conversion to 8 bit clips).
#include <array>
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

namespace lrp::render {

using Rgb = std::array<double, 3>;

class Colormap {
 public:
  enum class Kind { Table, Palette, Custom };
  // Colours a whole raw relevance map: n values in, 3n interleaved RGB values out.
  using CustomFn = std::function<void(const double* r, std::size_t n, double* rgb)>;

  Colormap(std::string name, Kind kind, std::vector<Rgb> table);
  Colormap(std::string name, CustomFn fn);

  const std::string& name() const { return name_; }
  Kind kind() const { return kind_; }
  bool is_custom() const { return kind_ == Kind::Custom; }
  // The 256 entries of a Table or Palette map (empty for Custom maps).
  const std::vector<Rgb>& table() const { return table_; }
  // Table index of a value in [0,1] (values outside are clamped); Table or Palette maps only.
  std::size_t index(double v) const;
  // Colour of a value in [0,1]; Table or Palette maps only. NaN gives black.
  Rgb operator()(double v) const;
  // Colours n raw values into 3n RGB values; Custom maps only.
  void apply_custom(const double* r, std::size_t n, double* rgb) const;

 private:
  std::string name_;
  Kind kind_;
  std::vector<Rgb> table_;
  CustomFn custom_;
};

struct ColormapInfo {
  std::string name;
  std::string description;
};

// Every built-in map with a one-line description, Toolbox maps first.
const std::vector<ColormapInfo>& colormap_catalog();
// The names of colormap_catalog().
std::vector<std::string> colormap_names();
// A built-in map by name, or a Zennit CMSL source string. Throws ConfigError listing the valid
// names for anything else.
Colormap get_colormap(const std::string& name);
// Compiles a CMSL source (Zennit's colour-map language) into a Palette map; ConfigError when
// the source is malformed.
Colormap colormap_from_cmsl(const std::string& source, const std::string& name = "");

}  // namespace lrp::render
