#include "lrp/layers/masked_fill.hpp"

#include <cmath>

#include "lrp/core/error.hpp"

namespace lrp {

template <class T>
MaskedFill<T>::MaskedFill(Tensor<T> keep, Tensor<T> fill) : keep_(std::move(keep)), fill_(std::move(fill)) {
  if (keep_.shape() != fill_.shape())
    throw ShapeError("MaskedFill: mask " + shape_str(keep_.shape()) + " and fill " + shape_str(fill_.shape()) + " differ in shape");
  for (T v : keep_)
    if (v != T(0) && v != T(1)) throw ConfigError("MaskedFill: the mask must hold only 0 and 1");
  for (T v : fill_)
    if (std::isnan(v)) throw ConfigError("MaskedFill: the fill value is NaN");
}

template <class T>
std::string MaskedFill<T>::describe() const {
  std::size_t kept = 0;
  for (T v : keep_) kept += v != T(0);
  return shape_str(keep_.shape()) + ", " + std::to_string(kept) + " of " + std::to_string(keep_.size()) + " kept";
}

template <class T>
Shape MaskedFill<T>::output_shape(const std::vector<Shape>& in) const {
  if (in.at(0) != keep_.shape())
    throw ShapeError("MaskedFill of shape " + shape_str(keep_.shape()) + " cannot be applied to " + shape_str(in[0]));
  return in[0];
}

template <class T>
void MaskedFill<T>::forward(const TensorRefs<T>& in, Tensor<T>& out) const {
  const Tensor<T>& x = *in[0];
  if (x.sample_size() != keep_.size())
    throw ShapeError("MaskedFill of shape " + shape_str(keep_.shape()) + " cannot be applied to " + shape_str(x.shape()));
  out = Tensor<T>::uninitialized(x.shape());
  const std::size_t per = keep_.size();
  const T *keep = keep_.data(), *fill = fill_.data();
  for (std::size_t s = 0; s < x.dim(0); ++s) {  // sample by sample: no index arithmetic per element
    const T* xs = x.data() + s * per;
    T* ys = out.data() + s * per;
    for (std::size_t i = 0; i < per; ++i) ys[i] = keep[i] != T(0) ? xs[i] : fill[i];
  }
}

template <class T>
void MaskedFill<T>::zero_filled(Tensor<T>& t) const {
  const std::size_t per = keep_.size();
  if (per == 0 || t.size() % per != 0) throw ShapeError("MaskedFill: " + shape_str(t.shape()) + " is not a whole number of samples");
  // A select, not a product: entries arriving for filled positions may be NaN (a SoftMax rule's
  // x (r - s sum r) at x = -inf), and must not leak.
  const T* keep = keep_.data();
  for (std::size_t s = 0; s < t.size() / per; ++s) {
    T* ts = t.data() + s * per;
    for (std::size_t i = 0; i < per; ++i) ts[i] = keep[i] == T(0) ? T(0) : ts[i];
  }
}

template <class T>
void MaskedFill<T>::backward(const TensorRefs<T>& /*in*/, const Tensor<T>& /*out*/, const Tensor<T>& dout,
                             std::vector<Tensor<T>>& din) const {
  din.assign(1, dout);
  zero_filled(din[0]);
}

template class MaskedFill<float>;
template class MaskedFill<double>;

}  // namespace lrp
