#include "lrp/layers/conv_geometry.hpp"

#include "lrp/core/error.hpp"

namespace lrp {
namespace {
std::size_t extent(std::size_t in, std::size_t k, std::size_t s, std::size_t p0, std::size_t p1, std::size_t d,
                   const std::string& what) {
  const std::size_t span = d * (k - 1) + 1;
  if (k == 0 || s == 0 || d == 0) throw ShapeError(what + ": window, stride and dilation must be positive");
  if (in + p0 + p1 < span)
    throw ShapeError(what + ": window of " + std::to_string(span) + " does not fit an input of " + std::to_string(in) +
                     (p0 + p1 ? " (padded by " + std::to_string(p0 + p1) + ")" : ""));
  return (in + p0 + p1 - span) / s + 1;
}
}  // namespace

std::size_t Window2d::out_h(std::size_t h, const std::string& what) const { return extent(h, kh, sh, pt, pb, dh, what); }
std::size_t Window2d::out_w(std::size_t w, const std::string& what) const { return extent(w, kw, sw, pl, pr, dw, what); }

std::string Window2d::str() const {
  std::string s = std::to_string(kh) + "x" + std::to_string(kw) + " stride " + std::to_string(sh) + "," + std::to_string(sw);
  if (pt || pl || pb || pr)
    s += " pad " + std::to_string(pt) + "," + std::to_string(pl) + "," + std::to_string(pb) + "," + std::to_string(pr);
  if (dh != 1 || dw != 1) s += " dilation " + std::to_string(dh) + "," + std::to_string(dw);
  return s;
}

}  // namespace lrp
