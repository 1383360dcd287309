// Whitespace-separated numbers, one matrix row per line (numpy.loadtxt/savetxt,
// MATLAB load/save -ascii). Parsing uses from_chars/to_chars: independent of the C locale.
#include <charconv>
#include <ostream>

#include "io/array_detail.hpp"
#include "lrp/io/arrays.hpp"
#include "lrp/io/atomic_file.hpp"

namespace lrp::io {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

// One token as a double; Python's float() also takes a leading '+', from_chars does not.
bool parse_number(std::string_view tok, double& v) {
  if (tok.size() > 1 && tok[0] == '+' && tok[1] != '-' && tok[1] != '+') tok.remove_prefix(1);
  const auto [end, ec] = std::from_chars(tok.data(), tok.data() + tok.size(), v);
  return ec == std::errc() && end == tok.data() + tok.size();
}

}  // namespace

Tensor<double> read_txt_array(const std::string& path) {
  const std::string text = read_file_bytes(path);
  const std::string what = detail::quoted(path);
  std::vector<double> values;
  std::size_t rows = 0, cols = 0, first_row_line = 0, line_no = 0;
  for (std::size_t pos = 0; pos < text.size();) {
    std::size_t eol = text.find('\n', pos);
    if (eol == std::string::npos) eol = text.size();
    std::string_view line(text.data() + pos, eol - pos);
    pos = eol + 1;
    ++line_no;
    if (const std::size_t hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
    std::size_t count = 0;
    for (std::size_t i = 0; i < line.size();) {
      if (is_space(line[i])) {
        ++i;
        continue;
      }
      std::size_t j = i;
      while (j < line.size() && !is_space(line[j])) ++j;
      const std::string_view tok = line.substr(i, j - i);
      double v = 0;
      if (!parse_number(tok, v))
        detail::format_error(what, "line " + std::to_string(line_no), "cannot read '" + std::string(tok.substr(0, 40)) + "' as a number");
      values.push_back(v);
      ++count;
      i = j;
    }
    if (count == 0) continue;  // blank or comment-only line
    if (rows == 0) {
      cols = count;
      first_row_line = line_no;
    } else if (count != cols) {
      detail::format_error(what, "line " + std::to_string(line_no),
                           std::to_string(count) + " values where line " + std::to_string(first_row_line) + " has " +
                               std::to_string(cols) + " (rows must have equal length)");
    }
    ++rows;
  }
  if (rows == 0) detail::format_error(what, "data", "no numbers in the file");
  return Tensor<double>({rows, cols}, std::move(values));
}

void write_txt_array(const std::string& path, const Tensor<double>& t) {
  if (shape_numel(t.shape()) != t.size()) throw ShapeError("cannot write " + detail::quoted(path) + ": malformed tensor");
  // savetxt layout: rank 0 → 1 value, rank 1 → a column, rank ≥ 2 → [dim0, rest].
  const std::size_t rows = t.rank() == 0 ? 1 : t.dim(0);
  const std::size_t cols = rows == 0 ? 0 : (t.rank() <= 1 ? 1 : t.size() / rows);
  write_file_atomic(path, [&](std::ostream& out) {
    std::string line;
    char buf[64];
    for (std::size_t r = 0; r < rows; ++r) {
      line.clear();
      for (std::size_t c = 0; c < cols; ++c) {
        if (c) line += ' ';
        const auto res = std::to_chars(buf, buf + sizeof buf, t[r * cols + c], std::chars_format::scientific, 18);
        line.append(buf, res.ptr);  // "%.18e" as savetxt writes it
      }
      line += '\n';
      out.write(line.data(), static_cast<std::streamsize>(line.size()));
    }
  });
}

}  // namespace lrp::io
