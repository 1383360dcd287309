#include "lrp/layers/resize.hpp"

#include <algorithm>
#include <cmath>

#include "lrp/core/error.hpp"

namespace lrp {

std::vector<ResizeTap> resize_taps(std::size_t in, std::size_t out, double scale, ResizeCoordinates coords, bool linear,
                                   ResizeRounding rounding) {
  std::vector<ResizeTap> taps(out);
  const double last = static_cast<double>(in) - 1.0;
  for (std::size_t o = 0; o < out; ++o) {
    const double d = static_cast<double>(o);
    double x = 0.0;  // the output index's coordinate in the input
    switch (coords) {
      case ResizeCoordinates::HalfPixel: x = (d + 0.5) / scale - 0.5; break;
      case ResizeCoordinates::PytorchHalfPixel: x = out > 1 ? (d + 0.5) / scale - 0.5 : 0.0; break;
      case ResizeCoordinates::AlignCorners: {
        const double span = static_cast<double>(in) * scale - 1.0;
        x = out > 1 && span > 0.0 ? d * last / span : 0.0;
        break;
      }
      case ResizeCoordinates::Asymmetric: x = d / scale; break;
      case ResizeCoordinates::TfHalfPixelForNearest: x = (d + 0.5) / scale; break;
    }
    ResizeTap& t = taps[o];
    if (linear) {
      x = std::clamp(x, 0.0, last);  // edge values beyond the border (as ONNX and PyTorch)
      const double f = std::floor(x);
      t.i0 = static_cast<std::size_t>(f);
      t.i1 = std::min(t.i0 + 1, in - 1);
      t.w1 = t.i1 == t.i0 ? 0.0 : x - f;
    } else {
      double r = 0.0;
      switch (rounding) {
        case ResizeRounding::RoundPreferFloor: r = x == std::floor(x) + 0.5 ? std::floor(x) : std::round(x); break;
        case ResizeRounding::RoundPreferCeil: r = std::round(x); break;  // halves away from zero: up for x >= 0
        case ResizeRounding::Floor: r = std::floor(x); break;
        case ResizeRounding::Ceil: r = std::ceil(x); break;
      }
      t.i0 = t.i1 = static_cast<std::size_t>(std::clamp(r, 0.0, last));
    }
  }
  return taps;
}

template <class T>
Resize2d<T>::Resize2d(std::size_t in_h, std::size_t in_w, std::vector<ResizeTap> rows, std::vector<ResizeTap> cols,
                      std::string method)
    : in_h_(in_h), in_w_(in_w), rows_(std::move(rows)), cols_(std::move(cols)), method_(std::move(method)) {
  if (in_h_ == 0 || in_w_ == 0 || rows_.empty() || cols_.empty()) throw ShapeError("Resize: empty input or output plane");
  for (const ResizeTap& t : rows_)
    if (t.i0 >= in_h_ || t.i1 >= in_h_) throw ShapeError("Resize: a row tap lies outside the input");
  for (const ResizeTap& t : cols_)
    if (t.i0 >= in_w_ || t.i1 >= in_w_) throw ShapeError("Resize: a column tap lies outside the input");
}

template <class T>
std::string Resize2d<T>::describe() const {
  return std::to_string(in_h_) + "x" + std::to_string(in_w_) + " -> " + std::to_string(rows_.size()) + "x" +
         std::to_string(cols_.size()) + ", " + method_;
}

template <class T>
Shape Resize2d<T>::output_shape(const std::vector<Shape>& in) const {
  const Shape& x = in.at(0);
  if (x.size() != 3 || x[1] != in_h_ || x[2] != in_w_)
    throw ShapeError("Resize " + describe() + " expects [C, " + std::to_string(in_h_) + ", " + std::to_string(in_w_) +
                     "] per sample, got " + shape_str(x));
  return {x[0], rows_.size(), cols_.size()};
}

template <class T>
void Resize2d<T>::forward(const TensorRefs<T>& in, Tensor<T>& out) const {
  const Tensor<T>& x = *in[0];
  const Shape s = output_shape({Shape(x.shape().begin() + 1, x.shape().end())});
  out = Tensor<T>::uninitialized({x.dim(0), s[0], s[1], s[2]});
  const std::size_t planes = x.dim(0) * s[0], oh = s[1], ow = s[2];
  const long long np = static_cast<long long>(planes);
#pragma omp parallel for schedule(static) if (planes * oh * ow > (1u << 16))
  for (long long pp = 0; pp < np; ++pp) {
    const std::size_t p = static_cast<std::size_t>(pp);
    const T* src = x.data() + p * in_h_ * in_w_;
    T* dst = out.data() + p * oh * ow;
    for (std::size_t y = 0; y < oh; ++y) {
      const ResizeTap& r = rows_[y];
      const T* a = src + r.i0 * in_w_;
      const T* b = src + r.i1 * in_w_;
      const T wr = static_cast<T>(r.w1);
      for (std::size_t c = 0; c < ow; ++c) {
        const ResizeTap& k = cols_[c];
        const T wc = static_cast<T>(k.w1);
        const T top = a[k.i0] + wc * (a[k.i1] - a[k.i0]);
        const T bottom = b[k.i0] + wc * (b[k.i1] - b[k.i0]);
        dst[y * ow + c] = top + wr * (bottom - top);
      }
    }
  }
}

template <class T>
bool Resize2d<T>::backward_from_shapes(const std::vector<Shape>& in_shapes, const Tensor<T>& dout,
                                       std::vector<Tensor<T>>& din) const {
  const std::size_t oh = rows_.size(), ow = cols_.size(), planes = dout.size() / (oh * ow);
  if (shape_numel(in_shapes.at(0)) != planes * in_h_ * in_w_)
    throw ShapeError("Resize: gradient " + shape_str(dout.shape()) + " for an input " + shape_str(in_shapes[0]));
  din.assign(1, Tensor<T>(in_shapes[0]));
  const long long np = static_cast<long long>(planes);
#pragma omp parallel for schedule(static) if (planes * oh * ow > (1u << 16))
  for (long long pp = 0; pp < np; ++pp) {
    const std::size_t p = static_cast<std::size_t>(pp);
    const T* g = dout.data() + p * oh * ow;
    T* dx = din[0].data() + p * in_h_ * in_w_;
    for (std::size_t y = 0; y < oh; ++y) {
      const ResizeTap& r = rows_[y];
      const T wr1 = static_cast<T>(r.w1), wr0 = T(1) - wr1;
      T* a = dx + r.i0 * in_w_;
      T* b = dx + r.i1 * in_w_;
      for (std::size_t c = 0; c < ow; ++c) {
        const ResizeTap& k = cols_[c];
        const T wc1 = static_cast<T>(k.w1), wc0 = T(1) - wc1, v = g[y * ow + c];
        a[k.i0] += wr0 * wc0 * v;
        a[k.i1] += wr0 * wc1 * v;
        b[k.i0] += wr1 * wc0 * v;
        b[k.i1] += wr1 * wc1 * v;
      }
    }
  }
  return true;
}

template <class T>
void Resize2d<T>::backward(const TensorRefs<T>& in, const Tensor<T>& /*out*/, const Tensor<T>& dout,
                           std::vector<Tensor<T>>& din) const {
  backward_from_shapes({in[0]->shape()}, dout, din);
}

template class Resize2d<float>;
template class Resize2d<double>;

}  // namespace lrp
