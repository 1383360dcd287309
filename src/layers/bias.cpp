#include "lrp/layers/bias.hpp"

#include "lrp/core/error.hpp"

namespace lrp {

template <class T>
Shape Bias<T>::output_shape(const std::vector<Shape>& in) const {
  if (in.at(0) != value_.shape())
    throw ShapeError("Bias of shape " + shape_str(value_.shape()) + " cannot be added to " + shape_str(in[0]));
  return in[0];
}

template <class T>
void Bias<T>::forward(const TensorRefs<T>& in, Tensor<T>& out) const {
  const Tensor<T>& x = *in[0];
  out = Tensor<T>::uninitialized(x.shape());
  const std::size_t per = value_.size();
  const T* b = value_.data();
  for (std::size_t s = 0; s < x.size() / per; ++s) {  // sample by sample: no index arithmetic per element
    const T* xs = x.data() + s * per;
    T* ys = out.data() + s * per;
    for (std::size_t i = 0; i < per; ++i) ys[i] = xs[i] + b[i];
  }
}

template <class T>
void Bias<T>::backward(const TensorRefs<T>& /*in*/, const Tensor<T>& /*out*/, const Tensor<T>& dout,
                       std::vector<Tensor<T>>& din) const {
  din.assign(1, dout);
}

template class Bias<float>;
template class Bias<double>;

}  // namespace lrp
