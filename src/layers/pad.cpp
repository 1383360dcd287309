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
void Pad<T>::backward(const TensorRefs<T>& in, const Tensor<T>& out, const Tensor<T>& dout,
                      std::vector<Tensor<T>>& din) const {
  const Tensor<T>& x = *in[0];
  const std::size_t planes = x.dim(0) * x.dim(1), h = x.dim(2), w = x.dim(3), oh = out.dim(2), ow = out.dim(3);
  din.assign(1, Tensor<T>(x.shape()));
  for (std::size_t p = 0; p < planes; ++p)
    for (std::size_t i = 0; i < h; ++i)
      std::copy_n(dout.data() + (p * oh + i + t_) * ow + l_, w, din[0].data() + (p * h + i) * w);
}

template class Pad<float>;
template class Pad<double>;

}  // namespace lrp
