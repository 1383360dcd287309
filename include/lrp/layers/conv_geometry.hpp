#pragma once
// Geometry of a 2-D convolution or pooling window over an NCHW tensor.
#include <cstddef>
#include <string>

namespace lrp {

struct Window2d {
  std::size_t kh = 1, kw = 1;            // window (kernel) size
  std::size_t sh = 1, sw = 1;            // strides
  std::size_t pt = 0, pl = 0, pb = 0, pr = 0;  // padding top, left, bottom, right
  std::size_t dh = 1, dw = 1;            // dilations

  // Output extent along one axis; throws ShapeError (naming `what`) when the window does not fit.
  std::size_t out_h(std::size_t h, const std::string& what) const;
  std::size_t out_w(std::size_t w, const std::string& what) const;
  std::string str() const;
};

}  // namespace lrp
