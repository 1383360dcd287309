#include "lrp/layers/merge.hpp"

#include <algorithm>

namespace lrp {

template <class T>
Shape Add<T>::output_shape(const std::vector<Shape>& in) const {
  if (in.size() != inputs_) throw ShapeError("Add expects " + std::to_string(inputs_) + " inputs");
  for (const Shape& s : in)
    if (s != in[0]) throw ShapeError("Add inputs differ in shape: " + shape_str(in[0]) + " and " + shape_str(s));
  return in[0];
}

template <class T>
void Add<T>::forward(const TensorRefs<T>& in, Tensor<T>& out) const {
  for (std::size_t k = 1; k < in.size(); ++k)
    if (in[k]->shape() != in[0]->shape()) throw ShapeError("Add inputs differ in shape");
  if (in.size() < 2) {
    out = *in[0];
    return;
  }
  // out = in0 + in1 (+ in2 ...), summed in input order, one parallel pass per extra input.
  out = Tensor<T>::uninitialized(in[0]->shape());
  T* o = out.data();
  const T* a = in[0]->data();
  const T* b = in[1]->data();
  const long long n = static_cast<long long>(out.size());
#pragma omp parallel for schedule(static) if (n >= 65536)
  for (long long i = 0; i < n; ++i) o[i] = a[i] + b[i];
  for (std::size_t k = 2; k < in.size(); ++k) {
    const T* c = in[k]->data();
#pragma omp parallel for schedule(static) if (n >= 65536)
    for (long long i = 0; i < n; ++i) o[i] += c[i];
  }
}

template <class T>
void Add<T>::backward(const TensorRefs<T>& in, const Tensor<T>& /*out*/, const Tensor<T>& dout,
                      std::vector<Tensor<T>>& din) const {
  din.assign(in.size(), dout);
}

template <class T>
Shape Concat<T>::output_shape(const std::vector<Shape>& in) const {
  if (in.size() != inputs_) throw ShapeError("Concat expects " + std::to_string(inputs_) + " inputs");
  Shape out = in.at(0);
  if (axis_ >= out.size()) throw ShapeError("Concat axis " + std::to_string(axis_ + 1) + " is out of range for " + shape_str(out));
  for (std::size_t k = 1; k < in.size(); ++k) {
    if (in[k].size() != out.size()) throw ShapeError("Concat inputs differ in rank");
    for (std::size_t d = 0; d < out.size(); ++d)
      if (d != axis_ && in[k][d] != out[d])
        throw ShapeError("Concat inputs " + shape_str(in[0]) + " and " + shape_str(in[k]) + " differ outside the axis");
    out[axis_] += in[k][axis_];
  }
  return out;
}

namespace {
// Number of contiguous blocks (outer) and the size of one input's block along the axis.
std::size_t outer_count(const Shape& s, std::size_t axis) {
  std::size_t n = 1;
  for (std::size_t d = 0; d <= axis; ++d) n *= s[d];  // s includes the batch dim at 0
  return n;
}
}  // namespace

template <class T>
void Concat<T>::forward(const TensorRefs<T>& in, Tensor<T>& out) const {
  std::vector<Shape> ps;
  for (const Tensor<T>* t : in) ps.emplace_back(t->shape().begin() + 1, t->shape().end());
  Shape os = output_shape(ps);
  os.insert(os.begin(), in[0]->dim(0));
  out = Tensor<T>(os);
  const std::size_t outer = outer_count(os, axis_);
  std::size_t offset = 0;
  const std::size_t out_block = out.size() / outer;
  for (const Tensor<T>* t : in) {
    const std::size_t block = t->size() / outer;
    for (std::size_t o = 0; o < outer; ++o) std::copy_n(t->data() + o * block, block, out.data() + o * out_block + offset);
    offset += block;
  }
}

template <class T>
void Concat<T>::backward(const TensorRefs<T>& in, const Tensor<T>& out, const Tensor<T>& dout,
                         std::vector<Tensor<T>>& din) const {
  const std::size_t outer = outer_count(out.shape(), axis_);
  const std::size_t out_block = out.size() / outer;
  din.clear();
  std::size_t offset = 0;
  for (const Tensor<T>* t : in) {
    Tensor<T> d(t->shape());
    const std::size_t block = t->size() / outer;
    for (std::size_t o = 0; o < outer; ++o) std::copy_n(dout.data() + o * out_block + offset, block, d.data() + o * block);
    offset += block;
    din.push_back(std::move(d));
  }
}


namespace {
// Which factor is broadcast and how: element j of a sample of the full factor meets element
// j / inner of the small one's sample (inner = full size / small size).
struct Broadcast {
  std::size_t full = 0;  // index of the factor with the output's shape
  std::size_t inner = 1;
};

// Per-sample shapes: the small one equals the full one on its leading axes and is 1 after.
bool trails_with_ones(const Shape& small, const Shape& full) {
  if (small.size() != full.size()) return false;
  std::size_t d = 0;
  while (d < small.size() && small[d] == full[d]) ++d;
  for (; d < small.size(); ++d)
    if (small[d] != 1) return false;
  return true;
}

Broadcast broadcast_of(const Shape& a, const Shape& b) {  // per-sample shapes
  if (trails_with_ones(b, a)) return {0, shape_numel(a) / std::max<std::size_t>(shape_numel(b), 1)};
  if (trails_with_ones(a, b)) return {1, shape_numel(b) / std::max<std::size_t>(shape_numel(a), 1)};
  throw ShapeError("Mul inputs " + shape_str(a) + " and " + shape_str(b) +
                   " do not broadcast (a factor may only be 1 on the axes after those it shares)");
}

Shape per_sample(const Shape& s) { return Shape(s.begin() + 1, s.end()); }
}  // namespace

template <class T>
Shape Mul<T>::output_shape(const std::vector<Shape>& in) const {
  if (in.size() != 2) throw ShapeError("Mul expects 2 inputs");
  return in[broadcast_of(in[0], in[1]).full];
}

template <class T>
void Mul<T>::forward(const TensorRefs<T>& in, Tensor<T>& out) const {
  const Broadcast bc = broadcast_of(per_sample(in[0]->shape()), per_sample(in[1]->shape()));
  const Tensor<T>& full = *in[bc.full];
  const Tensor<T>& small = *in[1 - bc.full];
  out = Tensor<T>::uninitialized(full.shape());
  const std::size_t inner = bc.inner;
  const long long blocks = static_cast<long long>(small.size());  // one small element meets `inner` full ones
  const T* f = full.data();
  const T* s = small.data();
  T* o = out.data();
  if (inner == 1) {  // equal shapes (SiLU, HardSwish): one flat, vectorisable loop
#pragma omp parallel for simd schedule(static) if (blocks >= 65536)
    for (long long i = 0; i < blocks; ++i) o[i] = f[i] * s[i];
    return;
  }
#pragma omp parallel for schedule(static) if (full.size() >= 65536)
  for (long long j = 0; j < blocks; ++j) {
    const std::size_t base = static_cast<std::size_t>(j) * inner;
    const T sj = s[j];
    for (std::size_t k = 0; k < inner; ++k) o[base + k] = f[base + k] * sj;
  }
}

template <class T>
void Mul<T>::backward(const TensorRefs<T>& in, const Tensor<T>& /*out*/, const Tensor<T>& dout,
                      std::vector<Tensor<T>>& din) const {
  const Broadcast bc = broadcast_of(per_sample(in[0]->shape()), per_sample(in[1]->shape()));
  const Tensor<T>& full = *in[bc.full];
  const Tensor<T>& small = *in[1 - bc.full];
  din.assign(2, Tensor<T>());
  Tensor<T>& dfull = din[bc.full];
  Tensor<T>& dsmall = din[1 - bc.full];
  dfull = Tensor<T>::uninitialized(full.shape());
  dsmall = Tensor<T>::uninitialized(small.shape());
  const std::size_t inner = bc.inner;
  const long long blocks = static_cast<long long>(small.size());
  const T *g = dout.data(), *f = full.data(), *sm = small.data();
  T *df = dfull.data(), *ds = dsmall.data();
  if (inner == 1) {  // equal shapes (SiLU, GELU written out): one flat, vectorisable loop
#pragma omp parallel for simd schedule(static) if (blocks >= 65536)
    for (long long i = 0; i < blocks; ++i) {
      df[i] = g[i] * sm[i];
      ds[i] = g[i] * f[i];
    }
    return;
  }
#pragma omp parallel for schedule(static) if (full.size() >= 65536)
  for (long long jj = 0; jj < blocks; ++jj) {
    const std::size_t j = static_cast<std::size_t>(jj), base = j * inner;
    T sum = 0;
    for (std::size_t k = 0; k < inner; ++k) {
      df[base + k] = g[base + k] * sm[j];
      sum += g[base + k] * f[base + k];
    }
    ds[j] = sum;
  }
}

template class Add<float>;
template class Add<double>;
template class Concat<float>;
template class Concat<double>;
template class Mul<float>;
template class Mul<double>;

}  // namespace lrp
