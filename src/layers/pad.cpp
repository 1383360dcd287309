#include "lrp/layers/pad.hpp"

#include <algorithm>

namespace lrp {

template <class T>
std::string Pad<T>::describe() const {
  return std::to_string(t_) + "," + std::to_string(l_) + "," + std::to_string(b_) + "," + std::to_string(r_) +
         " value " + std::to_string(value_);
}

template <class T>
Shape Pad<T>::output_shape(const std::vector<Shape>& in) const {
  const Shape& x = in.at(0);
  if (x.size() != 3) throw ShapeError("Pad expects a [C,H,W] input per sample, got " + shape_str(x));
  return {x[0], x[1] + t_ + b_, x[2] + l_ + r_};
}

template <class T>
void Pad<T>::forward(const TensorRefs<T>& in, Tensor<T>& out) const {
  const Tensor<T>& x = *in[0];
  const Shape os = output_shape({Shape(x.shape().begin() + 1, x.shape().end())});
  const std::size_t planes = x.dim(0) * x.dim(1), h = x.dim(2), w = x.dim(3), oh = os[1], ow = os[2];
  out = Tensor<T>({x.dim(0), os[0], oh, ow}, static_cast<T>(value_));
  for (std::size_t p = 0; p < planes; ++p)
    for (std::size_t i = 0; i < h; ++i)
      std::copy_n(x.data() + (p * h + i) * w, w, out.data() + (p * oh + i + t_) * ow + l_);
}

template <class T>
bool Pad<T>::backward_from_shapes(const std::vector<Shape>& in_shapes, const Tensor<T>& dout, std::vector<Tensor<T>>& din) const {
  const Shape& xs = in_shapes.at(0);
  if (xs.size() != 4 || dout.rank() != 4 || xs[0] != dout.dim(0) || xs[1] != dout.dim(1))
    throw ShapeError("Pad: gradient " + shape_str(dout.shape()) + " for an input " + shape_str(xs));
  const std::size_t planes = xs[0] * xs[1], h = xs[2], w = xs[3], oh = dout.dim(2), ow = dout.dim(3);
  din.assign(1, Tensor<T>::uninitialized(xs));  // every element is copied from dout
  for (std::size_t p = 0; p < planes; ++p)
    for (std::size_t i = 0; i < h; ++i)
      std::copy_n(dout.data() + (p * oh + i + t_) * ow + l_, w, din[0].data() + (p * h + i) * w);
  return true;
}

template <class T>
void Pad<T>::backward(const TensorRefs<T>& in, const Tensor<T>& /*out*/, const Tensor<T>& dout,
                      std::vector<Tensor<T>>& din) const {
  backward_from_shapes({in[0]->shape()}, dout, din);
}

template class Pad<float>;
template class Pad<double>;

}  // namespace lrp
