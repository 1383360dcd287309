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

namespace {

// For each element of an output sample (C order), the offset of its source in the input sample.
using SourceMap = std::vector<std::size_t>;

std::vector<std::size_t> strides(const Shape& s) {
  std::vector<std::size_t> st(s.size(), 1);
  for (std::size_t k = s.size(); k-- > 1;) st[k - 1] = st[k] * s[k];
  return st;
}

// Walks the output sample's indices in C order; `offset(idx)` gives the source offset.
template <class F>
SourceMap map_sources(const Shape& out, F&& offset) {
  SourceMap src(shape_numel(out));
  std::vector<std::size_t> idx(out.size(), 0);
  for (std::size_t o = 0; o < src.size(); ++o) {
    src[o] = offset(idx);
    for (std::size_t k = out.size(); k-- > 0;) {
      if (++idx[k] < out[k]) break;
      idx[k] = 0;
    }
  }
  return src;
}

template <class T>
void gather(const Tensor<T>& x, const Shape& out_sample, const SourceMap& src, Tensor<T>& out) {
  Shape s = out_sample;
  s.insert(s.begin(), x.dim(0));
  out = Tensor<T>::uninitialized(s);
  const std::size_t in_per = x.sample_size(), out_per = src.size();
  for (std::size_t n = 0; n < x.dim(0); ++n)
    for (std::size_t o = 0; o < out_per; ++o) out[n * out_per + o] = x[n * in_per + src[o]];
}

// The adjoint of gather: every output element back to its source, the rest 0.
template <class T>
Tensor<T> scatter(const Tensor<T>& dout, const Shape& in_shape, const SourceMap& src) {
  Tensor<T> din(in_shape);
  const std::size_t in_per = din.sample_size(), out_per = src.size();
  for (std::size_t n = 0; n < din.dim(0); ++n)
    for (std::size_t o = 0; o < out_per; ++o) din[n * in_per + src[o]] += dout[n * out_per + o];
  return din;
}

Shape sample_of(const Shape& s) { return Shape(s.begin() + 1, s.end()); }

}  // namespace

template <class T>
std::string Transpose<T>::describe() const {
  std::string s = "perm";
  for (std::size_t p : perm_) s += " " + std::to_string(p + 1);
  return s;
}

template <class T>
Shape Transpose<T>::output_shape(const std::vector<Shape>& in) const {
  const Shape& x = in.at(0);
  if (x.size() != perm_.size()) throw ShapeError("Transpose of " + std::to_string(perm_.size()) + " axes cannot take " + shape_str(x));
  Shape out(x.size());
  for (std::size_t k = 0; k < x.size(); ++k) out[k] = x.at(perm_[k]);
  return out;
}

namespace {
template <class L>
SourceMap transpose_sources(const L& layer, const std::vector<std::size_t>& perm, const Shape& in_sample) {
  const std::vector<std::size_t> st = strides(in_sample);
  return map_sources(layer.output_shape({in_sample}), [&](const std::vector<std::size_t>& idx) {
    std::size_t off = 0;
    for (std::size_t k = 0; k < idx.size(); ++k) off += idx[k] * st[perm[k]];
    return off;
  });
}
}  // namespace

template <class T>
void Transpose<T>::forward(const TensorRefs<T>& in, Tensor<T>& out) const {
  const Shape xs = sample_of(in[0]->shape());
  gather(*in[0], output_shape({xs}), transpose_sources(*this, perm_, xs), out);
}

template <class T>
void Transpose<T>::backward(const TensorRefs<T>& in, const Tensor<T>& /*out*/, const Tensor<T>& dout,
                            std::vector<Tensor<T>>& din) const {
  din.assign(1, scatter(dout, in[0]->shape(), transpose_sources(*this, perm_, sample_of(in[0]->shape()))));
}

template <class T>
Shape Slice<T>::output_shape(const std::vector<Shape>& in) const {
  const Shape& x = in.at(0);
  if (x.size() != begin_.size() || x.size() != size_.size()) throw ShapeError("Slice of " + shape_str(size_) + " cannot take " + shape_str(x));
  for (std::size_t k = 0; k < x.size(); ++k)
    if (begin_[k] > x[k] || size_[k] > x[k] - begin_[k])
      throw ShapeError("Slice from " + shape_str(begin_) + " of size " + shape_str(size_) + " does not fit " + shape_str(x));
  return size_;
}

namespace {
SourceMap slice_sources(const Shape& begin, const Shape& size, const Shape& in_sample) {
  const std::vector<std::size_t> st = strides(in_sample);
  return map_sources(size, [&](const std::vector<std::size_t>& idx) {
    std::size_t off = 0;
    for (std::size_t k = 0; k < idx.size(); ++k) off += (begin[k] + idx[k]) * st[k];
    return off;
  });
}
}  // namespace

template <class T>
void Slice<T>::forward(const TensorRefs<T>& in, Tensor<T>& out) const {
  const Shape xs = sample_of(in[0]->shape());
  gather(*in[0], output_shape({xs}), slice_sources(begin_, size_, xs), out);
}

template <class T>
void Slice<T>::backward(const TensorRefs<T>& in, const Tensor<T>& /*out*/, const Tensor<T>& dout,
                        std::vector<Tensor<T>>& din) const {
  din.assign(1, scatter(dout, in[0]->shape(), slice_sources(begin_, size_, sample_of(in[0]->shape()))));
}

template class Flatten<float>;
template class Flatten<double>;
template class Reshape<float>;
template class Reshape<double>;
template class Transpose<float>;
template class Transpose<double>;
template class Slice<float>;
template class Slice<double>;

}  // namespace lrp
