#include "lrp/layers/scale.hpp"

#include <cmath>

#include "lrp/core/error.hpp"

namespace lrp {

template <class T>
Scale<T>::Scale(Tensor<T> factor) : factor_(std::move(factor)) {
  if (factor_.size() == 0) throw ShapeError("Scale: the factor is empty");
  for (T v : factor_)
    if (!std::isfinite(v)) throw ConfigError("Scale: the factor holds a value that is not finite");
}

template <class T>
Shape Scale<T>::output_shape(const std::vector<Shape>& in) const {
  if (in.at(0) != factor_.shape())
    throw ShapeError("Scale of shape " + shape_str(factor_.shape()) + " cannot multiply " + shape_str(in[0]));
  return in[0];
}

template <class T>
void Scale<T>::forward(const TensorRefs<T>& in, Tensor<T>& out) const {
  const Tensor<T>& x = *in[0];
  if (x.sample_size() != factor_.size())
    throw ShapeError("Scale of shape " + shape_str(factor_.shape()) + " cannot multiply " + shape_str(x.shape()));
  out = Tensor<T>::uninitialized(x.shape());
  const std::size_t per = factor_.size();
  const T* k = factor_.data();
  for (std::size_t s = 0; s < x.dim(0); ++s) {  // sample by sample: no index arithmetic per element
    const T* xs = x.data() + s * per;
    T* ys = out.data() + s * per;
    for (std::size_t i = 0; i < per; ++i) ys[i] = xs[i] * k[i];
  }
}

template <class T>
void Scale<T>::backward(const TensorRefs<T>& /*in*/, const Tensor<T>& /*out*/, const Tensor<T>& dout,
                        std::vector<Tensor<T>>& din) const {
  const std::size_t per = factor_.size();
  if (dout.size() % per != 0) throw ShapeError("Scale: gradient of " + shape_str(dout.shape()) + " is not a whole number of samples");
  din.assign(1, Tensor<T>::uninitialized(dout.shape()));
  const T* k = factor_.data();
  for (std::size_t s = 0; s < dout.size() / per; ++s) {
    const T* g = dout.data() + s * per;
    T* d = din[0].data() + s * per;
    for (std::size_t i = 0; i < per; ++i) d[i] = g[i] * k[i];
  }
}

template <class T>
void Scale<T>::pass_relevance(Tensor<T>& r) const {
  const std::size_t per = factor_.size();
  if (r.size() % per != 0) throw ShapeError("Scale: relevance of " + shape_str(r.shape()) + " is not a whole number of samples");
  const T* k = factor_.data();
  for (std::size_t s = 0; s < r.size() / per; ++s) {
    T* rs = r.data() + s * per;
    for (std::size_t i = 0; i < per; ++i) rs[i] = k[i] == T(0) ? T(0) : rs[i];
  }
}

template class Scale<float>;
template class Scale<double>;

}  // namespace lrp
