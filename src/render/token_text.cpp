// Token relevance as coloured HTML text or as a table.
#include "lrp/render/token_text.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ostream>

#include "lrp/core/error.hpp"
#include "lrp/render/colormap.hpp"

namespace lrp::render {
namespace {

const std::string kWordPieceContinuation = "##";
const std::string kBpeSpace = "\xC4\xA0";               // U+0120 'Ġ': GPT-2's byte-level space
const std::string kSentencePieceSpace = "\xE2\x96\x81";  // U+2581 '▁'

bool starts_with(const std::string& s, const std::string& prefix) { return s.compare(0, prefix.size(), prefix) == 0; }

std::string html_escape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (const char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string table_escape(const std::string& s) {
  std::string out;
  for (const char c : s) {
    if (c == '\t') out += "\\t";
    else if (c == '\n') out += "\\n";
    else if (c == '\r') out += "\\r";
    else if (c == '\\') out += "\\\\";
    else out += c;
  }
  return out;
}

// Black text on light backgrounds, white on dark ones (relative luminance, ITU-R BT.709).
const char* text_colour(const Rgb& c) { return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2] > 0.5 ? "#000" : "#fff"; }

std::string hex(const Rgb& c) {
  char buf[16];
  const auto byte = [](double v) { return static_cast<int>(std::lround(std::clamp(v, 0.0, 1.0) * 255.0)); };
  std::snprintf(buf, sizeof buf, "#%02x%02x%02x", byte(c[0]), byte(c[1]), byte(c[2]));
  return buf;
}

Rgb colour_of(double relevance, double max_abs, const Colormap& map) {
  const double v = max_abs > 0 ? (relevance / max_abs + 1.0) / 2.0 : 0.5;
  return map(v);
}

double max_abs_of(const TokenMap& m) {
  double a = 0;
  for (const double r : m.relevance) {
    if (!std::isfinite(r)) throw NumericError("token map '" + m.heading + "': the relevance contains NaN or Inf");
    a = std::max(a, std::abs(r));
  }
  return a;
}

void check_sizes(const TokenMap& m) {
  if (m.tokens.size() != m.relevance.size())
    throw ShapeError("token map '" + m.heading + "': " + std::to_string(m.tokens.size()) + " tokens but " +
                     std::to_string(m.relevance.size()) + " relevance values");
}

Colormap colour_map(const std::string& name) {
  Colormap map = get_colormap(name);
  if (map.is_custom()) throw ConfigError("colour map '" + name + "' colours whole images; token text needs a table or palette map");
  return map;
}

}  // namespace

TokenPiece token_piece(const std::string& token, bool word_start_marks) {
  if (!word_start_marks) {
    if (starts_with(token, kWordPieceContinuation) && token.size() > kWordPieceContinuation.size())
      return {token.substr(kWordPieceContinuation.size()), false};
    return {token, true};
  }
  for (const std::string& mark : {kBpeSpace, kSentencePieceSpace})
    if (starts_with(token, mark)) return {token.substr(mark.size()), true};
  return {token, false};
}

std::string token_colour(double relevance, double max_abs, const std::string& colormap) {
  return hex(colour_of(relevance, max_abs, colour_map(colormap)));
}

void write_token_html(std::ostream& out, const std::vector<TokenMap>& maps, bool word_start_marks, const std::string& colormap) {
  const Colormap map = colour_map(colormap);
  out << "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>lrp: token relevance</title>\n"
         "<style>body{font-family:sans-serif;line-height:2.2;max-width:60em;margin:1em auto}"
         "h3{font-size:1em;margin:1.2em 0 0}span{padding:2px 1px;border-radius:3px;white-space:pre}</style>\n"
         "</head><body>\n";
  for (const TokenMap& m : maps) {
    check_sizes(m);
    const double max_abs = max_abs_of(m);
    out << "<h3>" << html_escape(m.heading) << "</h3>\n<p>";
    for (std::size_t i = 0; i < m.tokens.size(); ++i) {
      const TokenPiece piece = token_piece(m.tokens[i], word_start_marks);
      const Rgb c = colour_of(m.relevance[i], max_abs, map);
      char value[32];
      std::snprintf(value, sizeof value, "%.6g", m.relevance[i]);
      if (i > 0 && piece.space_before) out << ' ';
      out << "<span style=\"background:" << hex(c) << ";color:" << text_colour(c) << "\" title=\"" << value << "\">"
          << html_escape(piece.text) << "</span>";
    }
    out << "</p>\n";
  }
  out << "</body></html>\n";
}

void write_token_table(std::ostream& out, const std::vector<TokenMap>& maps) {
  out << "map\tposition\ttoken\trelevance\n";
  for (const TokenMap& m : maps) {
    check_sizes(m);
    max_abs_of(m);  // refuses NaN and Inf
    for (std::size_t i = 0; i < m.tokens.size(); ++i) {
      char value[32];
      std::snprintf(value, sizeof value, "%.9g", m.relevance[i]);
      out << table_escape(m.heading) << '\t' << i << '\t' << table_escape(m.tokens[i]) << '\t' << value << '\n';
    }
  }
}

}  // namespace lrp::render
