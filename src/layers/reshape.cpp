#include "lrp/layers/reshape.hpp"

namespace lrp {

template <class T>
Shape Flatten<T>::output_shape(const std::vector<Shape>& in) const {
  return {shape_numel(in.at(0))};
}

template <class T>
void Flatten<T>::forward(const TensorRefs<T>& in, Tensor<T>& out) const {
  const Tensor<T>& x = *in[0];
  if (channels_last_ && x.rank() == 4) {
    out = nchw_to_nhwc(x);
  } else {
    out = x;
  }
  out.reshape({x.dim(0), x.sample_size()});
}

template <class T>
void Flatten<T>::backward(const TensorRefs<T>& in, const Tensor<T>& /*out*/, const Tensor<T>& dout,
                          std::vector<Tensor<T>>& din) const {
  const Shape& xs = in[0]->shape();
  din.resize(1);
  if (channels_last_ && xs.size() == 4) {
    din[0] = nhwc_to_nchw(dout.reshaped({xs[0], xs[2], xs[3], xs[1]}));
  } else {
    din[0] = dout.reshaped(xs);
  }
}

template <class T>
Shape Reshape<T>::output_shape(const std::vector<Shape>& in) const {
  if (shape_numel(in.at(0)) != shape_numel(target_))
    throw ShapeError("Reshape to " + shape_str(target_) + " cannot take an input of " + shape_str(in[0]));
  return target_;
}

template <class T>
void Reshape<T>::forward(const TensorRefs<T>& in, Tensor<T>& out) const {
  const Tensor<T>& x = *in[0];
  Shape s = output_shape({Shape(x.shape().begin() + 1, x.shape().end())});
  s.insert(s.begin(), x.dim(0));
  out = x.reshaped(s);
}

template <class T>
void Reshape<T>::backward(const TensorRefs<T>& in, const Tensor<T>& /*out*/, const Tensor<T>& dout,
                          std::vector<Tensor<T>>& din) const {
  din.assign(1, dout.reshaped(in[0]->shape()));
}

template class Flatten<float>;
template class Flatten<double>;
template class Reshape<float>;
template class Reshape<double>;

}  // namespace lrp
