#pragma once
// Small strict parsers for command-line and file values; errors name `what`.
#include <string>
#include <vector>

namespace lrp {

// Whole-string number ("1e-3", "-2"); NaN/Inf and trailing junk rejected.
double parse_number(const std::string& text, const std::string& what);
// Whole-string non-negative integer that fits size_t.
std::size_t parse_index(const std::string& text, const std::string& what);
// Comma-separated numbers.
std::vector<double> parse_number_list(const std::string& text, const std::string& what);
// Shortest text that reads back as the same double.
std::string format_number(double v);
std::vector<std::string> split(const std::string& text, char sep);
// The lines of a text file's content: split at '\n', a trailing '\r' dropped (Windows line
// ends), no empty last line after a final newline.
std::vector<std::string> split_lines(const std::string& text);

}  // namespace lrp
