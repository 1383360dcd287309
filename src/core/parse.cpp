#include "lrp/core/parse.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "lrp/core/error.hpp"

namespace lrp {

double parse_number(const std::string& text, const std::string& what) {
  double v = 0;
  const char* b = text.data();
  const char* e = b + text.size();
  const auto [ptr, ec] = std::from_chars(b, e, v);
  if (text.empty() || ec != std::errc() || ptr != e) throw ConfigError(what + ": '" + text + "' is not a number");
  if (!std::isfinite(v)) throw ConfigError(what + ": '" + text + "' is not a finite number");
  return v;
}

std::size_t parse_index(const std::string& text, const std::string& what) {
  std::size_t v = 0;
  const char* b = text.data();
  const char* e = b + text.size();
  const auto [ptr, ec] = std::from_chars(b, e, v);
  if (text.empty() || ec != std::errc() || ptr != e) throw ConfigError(what + ": '" + text + "' is not a non-negative integer");
  return v;
}

std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (true) {
    const std::size_t p = text.find(sep, start);
    out.push_back(text.substr(start, p - start));
    if (p == std::string::npos) break;
    start = p + 1;
  }
  return out;
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  for (std::size_t start = 0; start < text.size();) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(std::move(line));
    start = end + 1;
  }
  return lines;
}

std::vector<double> parse_number_list(const std::string& text, const std::string& what) {
  std::vector<double> v;
  if (text.empty()) return v;
  for (const std::string& s : split(text, ',')) v.push_back(parse_number(s, what));
  return v;
}

std::string format_number(double v) {
  char buf[64];
  // Without a precision, to_chars writes the shortest text that reads back as the same double.
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc() ? std::string(buf, end) : std::string("nan");
}

}  // namespace lrp
