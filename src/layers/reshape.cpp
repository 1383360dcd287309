#include "lrp/layers/reshape.hpp"

#include "kernels/permute.hpp"

#include <algorithm>
#include <utility>

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

std::vector<std::size_t> strides(const Shape& s) {
  std::vector<std::size_t> st(s.size(), 1);
  for (std::size_t k = s.size(); k-- > 1;) st[k - 1] = st[k] * s[k];
  return st;
}

// Where a gather's output sample (C order) comes from, as runs of `run` consecutive elements
// that are also consecutive in the input sample: run i starts at src[i]. Output axis k steps
// `src_strides[k]` in the input; the trailing axes that step as the output does form the run
// (ShuffleNet's channel shuffle and split move whole H x W planes: one copy per plane, not
// per element).
struct Runs {
  std::vector<std::size_t> src;
  std::size_t run = 1;
};

Runs runs_of(const Shape& out, const std::vector<std::size_t>& src_strides, std::size_t base) {
  Runs r;
  std::size_t j = out.size();
  while (j > 0 && src_strides[j - 1] == r.run) r.run *= out[--j];
  const Shape outer(out.begin(), out.begin() + static_cast<long>(j));
  r.src.resize(shape_numel(outer));
  std::vector<std::size_t> idx(j, 0);
  for (std::size_t i = 0; i < r.src.size(); ++i) {
    std::size_t off = base;
    for (std::size_t k = 0; k < j; ++k) off += idx[k] * src_strides[k];
    r.src[i] = off;
    for (std::size_t k = j; k-- > 0;) {
      if (++idx[k] < outer[k]) break;
      idx[k] = 0;
    }
  }
  return r;
}

// Copies for every (sample, run), on the OpenMP threads when there is enough to copy.
template <class F>
void for_runs(std::size_t samples, const Runs& r, F&& copy) {
  const long long total = static_cast<long long>(samples * r.src.size());
#pragma omp parallel for schedule(static) if (static_cast<std::size_t>(total) * r.run >= (std::size_t(1) << 16))
  for (long long t = 0; t < total; ++t) {
    const std::size_t n = static_cast<std::size_t>(t) / r.src.size(), i = static_cast<std::size_t>(t) % r.src.size();
    copy(n, i);
  }
}

template <class T>
void gather(const Tensor<T>& x, const Shape& out_sample, const Runs& r, Tensor<T>& out) {
  Shape s = out_sample;
  s.insert(s.begin(), x.dim(0));
  out = Tensor<T>::uninitialized(s);
  const std::size_t in_per = x.sample_size(), out_per = r.src.size() * r.run;
  const T* xp = x.data();
  T* op = out.data();
  for_runs(x.dim(0), r, [&](std::size_t n, std::size_t i) {
    std::copy_n(xp + n * in_per + r.src[i], r.run, op + n * out_per + i * r.run);
  });
}

// The adjoint of gather: every output element back to its source (each source is read at most
// once), the rest 0.
template <class T>
Tensor<T> scatter(const Tensor<T>& dout, const Shape& in_shape, const Runs& r) {
  const std::size_t out_per = r.src.size() * r.run;
  Tensor<T> din = out_per * in_shape[0] == shape_numel(in_shape) ? Tensor<T>::uninitialized(in_shape) : Tensor<T>(in_shape);
  const std::size_t in_per = din.sample_size();
  const T* dp = dout.data();
  T* ip = din.data();
  for_runs(din.dim(0), r, [&](std::size_t n, std::size_t i) {
    std::copy_n(dp + n * out_per + i * r.run, r.run, ip + n * in_per + r.src[i]);
  });
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
// The permutation of a whole batch: the batch axis stays first.
std::vector<std::size_t> with_batch(const std::vector<std::size_t>& perm) {
  std::vector<std::size_t> full{0};
  for (std::size_t p : perm) full.push_back(p + 1);
  return full;
}
}  // namespace

template <class T>
void Transpose<T>::forward(const TensorRefs<T>& in, Tensor<T>& out) const {
  const Tensor<T>& x = *in[0];
  Shape s = output_shape({sample_of(x.shape())});
  s.insert(s.begin(), x.dim(0));
  out = Tensor<T>::uninitialized(s);
  kernels::permute(x.data(), out.data(), x.shape(), with_batch(perm_));
}

// The adjoint of a permutation is the inverse permutation.
template <class T>
bool Transpose<T>::backward_from_shapes(const std::vector<Shape>& in_shapes, const Tensor<T>& dout,
                                        std::vector<Tensor<T>>& din) const {
  if (shape_numel(in_shapes.at(0)) != dout.size()) throw ShapeError("Transpose: gradient " + shape_str(dout.shape()) + " for an input " + shape_str(in_shapes[0]));
  std::vector<std::size_t> inverse(perm_.size());
  for (std::size_t k = 0; k < perm_.size(); ++k) inverse[perm_[k]] = k;
  din.assign(1, Tensor<T>::uninitialized(in_shapes[0]));
  kernels::permute(dout.data(), din[0].data(), dout.shape(), with_batch(inverse));
  return true;
}

template <class T>
void Transpose<T>::backward(const TensorRefs<T>& in, const Tensor<T>& /*out*/, const Tensor<T>& dout,
                            std::vector<Tensor<T>>& din) const {
  backward_from_shapes({in[0]->shape()}, dout, din);
}

template <class T>
Shape Slice<T>::output_shape(const std::vector<Shape>& in) const {
  const Shape& x = in.at(0);
  if (x.size() != begin_.size() || x.size() != size_.size() || (!step_.empty() && step_.size() != x.size()))
    throw ShapeError("Slice of " + shape_str(size_) + " cannot take " + shape_str(x));
  for (std::size_t k = 0; k < x.size(); ++k) {
    if (step(k) == 0) throw ShapeError("Slice with step 0");
    // the last element taken, begin + (size - 1) * step, must lie inside x (size 0 takes none)
    const bool fits = size_[k] == 0 ? begin_[k] <= x[k] : begin_[k] < x[k] && size_[k] - 1 <= (x[k] - 1 - begin_[k]) / step(k);
    if (!fits)
      throw ShapeError("Slice from " + shape_str(begin_) + " of size " + shape_str(size_) +
                       (step_.empty() ? "" : " with step " + shape_str(step_)) + " does not fit " + shape_str(x));
  }
  if (out_.empty()) return size_;
  if (shape_numel(out_) != shape_numel(size_)) throw ShapeError("Slice of size " + shape_str(size_) + " cannot be shaped " + shape_str(out_));
  return out_;
}

namespace {
Runs slice_runs(const Shape& begin, const Shape& size, const Shape& step, const Shape& in_sample) {
  std::vector<std::size_t> st = strides(in_sample);
  std::size_t base = 0;
  for (std::size_t k = 0; k < begin.size(); ++k) {
    base += begin[k] * st[k];
    if (!step.empty()) st[k] *= step[k];
  }
  return runs_of(size, st, base);
}
}  // namespace

template <class T>
void Slice<T>::forward(const TensorRefs<T>& in, Tensor<T>& out) const {
  const Shape xs = sample_of(in[0]->shape());
  gather(*in[0], output_shape({xs}), slice_runs(begin_, size_, step_, xs), out);
}

template <class T>
bool Slice<T>::backward_from_shapes(const std::vector<Shape>& in_shapes, const Tensor<T>& dout, std::vector<Tensor<T>>& din) const {
  const Shape& xs = in_shapes.at(0);
  if (xs.empty() || xs[0] != dout.dim(0)) throw ShapeError("Slice: gradient " + shape_str(dout.shape()) + " for an input " + shape_str(xs));
  din.assign(1, scatter(dout, xs, slice_runs(begin_, size_, step_, sample_of(xs))));
  return true;
}

template <class T>
void Slice<T>::backward(const TensorRefs<T>& in, const Tensor<T>& /*out*/, const Tensor<T>& dout,
                        std::vector<Tensor<T>>& din) const {
  backward_from_shapes({in[0]->shape()}, dout, din);
}

template <class T>
void Slice<T>::add_backward(const Tensor<T>& dout, Tensor<T>& din) const {
  const Runs r = slice_runs(begin_, size_, step_, sample_of(din.shape()));
  const std::size_t out_per = r.src.size() * r.run, in_per = din.sample_size();
  if (dout.size() != din.dim(0) * out_per) throw ShapeError("Slice: relevance of " + shape_str(dout.shape()) + " for " + shape_str(din.shape()));
  const T* dp = dout.data();
  T* ip = din.data();
  for_runs(din.dim(0), r, [&](std::size_t n, std::size_t i) {
    const T* s = dp + n * out_per + i * r.run;
    T* d = ip + n * in_per + r.src[i];
    for (std::size_t j = 0; j < r.run; ++j) d[j] += s[j];
  });
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
