#include "lrp/layers/merge.hpp"

#include <algorithm>

#include "kernels/elementwise.hpp"

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
  sum(in, out, false);
}

template <class T>
void Add<T>::forward_relu(const TensorRefs<T>& in, Tensor<T>& out) const {
  sum(in, out, true);
}

template <class T>
void Add<T>::sum(const TensorRefs<T>& in, Tensor<T>& out, bool relu) const {
  for (std::size_t k = 1; k < in.size(); ++k)
    if (in[k]->shape() != in[0]->shape()) throw ShapeError("Add inputs differ in shape");
  const std::size_t n = in[0]->size();
  if (in.size() < 2) {
    if (&out != in[0]) out = *in[0];
    T* o = out.data();
    if (relu) kernels::in_chunks(n, [o](std::size_t first, std::size_t len) { kernels::relu(o + first, o + first, len); });
    return;
  }
  // out = in0 + in1 (+ in2 ...), summed in input order, one parallel pass per extra input; the
  // ReLU rides on the last pass.
  if (&out != in[0]) out = Tensor<T>::uninitialized(in[0]->shape());
  T* o = out.data();
  const long long nn = static_cast<long long>(n);
  for (std::size_t k = 1; k < in.size(); ++k) {
    const T* a = k == 1 ? in[0]->data() : o;
    const T* b = in[k]->data();
    if (relu && k + 1 == in.size()) {
      kernels::in_chunks(n, [=](std::size_t first, std::size_t len) { kernels::add_relu(a + first, b + first, o + first, len); });
    } else {
#pragma omp parallel for simd schedule(static) if (nn >= 65536)
      for (long long i = 0; i < nn; ++i) o[i] = a[i] + b[i];
    }
  }
}

template <class T>
void Add<T>::backward(const TensorRefs<T>& in, const Tensor<T>& /*out*/, const Tensor<T>& dout,
                      std::vector<Tensor<T>>& din) const {
  din.assign(in.size(), dout);
}

template <class T>
std::vector<typename Concat<T>::Part> Concat<T>::parts() const {
  std::vector<Part> p;
  std::size_t next_input = 0, next_constant = 0;
  while (next_input < inputs_ || next_constant < constants_.size()) {
    if (next_constant < constants_.size() && constants_[next_constant].position == p.size()) {
      p.push_back({-1, &constants_[next_constant++].value});
    } else if (next_input < inputs_) {
      p.push_back({static_cast<long>(next_input++), nullptr});
    } else {
      throw ShapeError("Concat: constant position " + std::to_string(constants_[next_constant].position) + " is beyond its parts");
    }
  }
  return p;
}

template <class T>
std::vector<Tensor<T>*> Concat<T>::params() {
  std::vector<Tensor<T>*> p;
  for (Constant& k : constants_) p.push_back(&k.value);
  return p;
}

template <class T>
std::vector<const Tensor<T>*> Concat<T>::params() const {
  std::vector<const Tensor<T>*> p;
  for (const Constant& k : constants_) p.push_back(&k.value);
  return p;
}

template <class T>
Shape Concat<T>::output_shape(const std::vector<Shape>& in) const {
  if (in.size() != inputs_) throw ShapeError("Concat expects " + std::to_string(inputs_) + " inputs");
  Shape out;
  bool first = true;
  for (const Part& part : parts()) {
    const Shape& s = part.input >= 0 ? in[static_cast<std::size_t>(part.input)] : part.constant->shape();
    if (first) {
      out = s;
      first = false;
      if (axis_ >= out.size()) throw ShapeError("Concat axis " + std::to_string(axis_ + 1) + " is out of range for " + shape_str(out));
      continue;
    }
    if (s.size() != out.size()) throw ShapeError("Concat inputs differ in rank");
    for (std::size_t d = 0; d < out.size(); ++d)
      if (d != axis_ && s[d] != out[d])
        throw ShapeError("Concat inputs " + shape_str(out) + " and " + shape_str(s) + " differ outside the axis");
    out[axis_] += s[axis_];
  }
  return out;
}

namespace {
// Number of contiguous blocks per sample (the product of the axes before the concatenation axis).
std::size_t blocks_per_sample(const Shape& per_sample, std::size_t axis) {
  std::size_t n = 1;
  for (std::size_t d = 0; d < axis; ++d) n *= per_sample[d];
  return n;
}
}  // namespace

template <class T>
void Concat<T>::forward(const TensorRefs<T>& in, Tensor<T>& out) const {
  std::vector<Shape> ps;
  for (const Tensor<T>* t : in) ps.emplace_back(t->shape().begin() + 1, t->shape().end());
  const Shape per = output_shape(ps);
  const std::size_t n = in[0]->dim(0), blocks = blocks_per_sample(per, axis_), out_block = shape_numel(per) / blocks;
  Shape os = per;
  os.insert(os.begin(), n);
  out = Tensor<T>::uninitialized(os);
  std::size_t offset = 0;
  for (const Part& part : parts()) {
    const T* src = part.input >= 0 ? in[static_cast<std::size_t>(part.input)]->data() : part.constant->data();
    const std::size_t block = (part.input >= 0 ? in[static_cast<std::size_t>(part.input)]->sample_size() : part.constant->size()) / blocks;
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t o = 0; o < blocks; ++o) {
        const std::size_t from = part.input >= 0 ? (i * blocks + o) * block : o * block;  // constants: every sample alike
        std::copy_n(src + from, block, out.data() + (i * blocks + o) * out_block + offset);
      }
    offset += block;
  }
}

template <class T>
bool Concat<T>::backward_from_shapes(const std::vector<Shape>& in_shapes, const Tensor<T>& dout, std::vector<Tensor<T>>& din) const {
  const Shape per(dout.shape().begin() + 1, dout.shape().end());
  const std::size_t n = dout.dim(0), blocks = blocks_per_sample(per, axis_), out_block = shape_numel(per) / blocks;
  din.assign(inputs_, Tensor<T>());
  std::size_t offset = 0;
  for (const Part& part : parts()) {
    if (part.input < 0) {  // a constant takes its share of dout with it
      offset += part.constant->size() / blocks;
      continue;
    }
    const Shape& xs = in_shapes.at(static_cast<std::size_t>(part.input));
    if (xs.empty() || xs[0] != n) throw ShapeError("Concat: gradient " + shape_str(dout.shape()) + " for an input " + shape_str(xs));
    Tensor<T> d = Tensor<T>::uninitialized(xs);
    const std::size_t block = d.sample_size() / blocks;
    for (std::size_t q = 0; q < n * blocks; ++q) std::copy_n(dout.data() + q * out_block + offset, block, d.data() + q * block);
    offset += block;
    din[static_cast<std::size_t>(part.input)] = std::move(d);
  }
  return true;
}

template <class T>
void Concat<T>::backward(const TensorRefs<T>& in, const Tensor<T>& /*out*/, const Tensor<T>& dout,
                         std::vector<Tensor<T>>& din) const {
  std::vector<Shape> shapes;
  for (const Tensor<T>* t : in) shapes.push_back(t->shape());
  backward_from_shapes(shapes, dout, din);
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

template <class T>
Shape Extremum<T>::output_shape(const std::vector<Shape>& in) const {
  if (in.size() != inputs_ || inputs_ == 0) throw ShapeError(type_name() + " expects " + std::to_string(inputs_) + " inputs");
  for (const Shape& s : in)
    if (s != in[0]) throw ShapeError(type_name() + " inputs differ in shape: " + shape_str(in[0]) + " and " + shape_str(s));
  return in[0];
}

template <class T>
void Extremum<T>::forward(const TensorRefs<T>& in, Tensor<T>& out) const {
  std::vector<Shape> shapes;
  for (const Tensor<T>* t : in) shapes.push_back(t->shape());
  output_shape(shapes);
  out = *in[0];
  T* o = out.data();
  const long long n = static_cast<long long>(out.size());
  const bool lower = minimum_;
  for (std::size_t k = 1; k < in.size(); ++k) {
    const T* c = in[k]->data();
    // Strict comparison: the first input holding the extremum keeps it (ties go to it); a NaN
    // never wins (its comparison is false).
#pragma omp parallel for schedule(static) if (n >= 65536)
    for (long long i = 0; i < n; ++i) o[i] = (lower ? c[i] < o[i] : c[i] > o[i]) ? c[i] : o[i];
  }
}

template <class T>
void Extremum<T>::backward(const TensorRefs<T>& in, const Tensor<T>& out, const Tensor<T>& dout,
                           std::vector<Tensor<T>>& din) const {
  din.assign(in.size(), Tensor<T>(dout.shape()));
  std::vector<char> taken(out.size(), 0);
  for (std::size_t k = 0; k < in.size(); ++k) {
    const T* x = in[k]->data();
    T* d = din[k].data();
    for (std::size_t i = 0; i < out.size(); ++i)
      if (!taken[i] && x[i] == out[i]) {
        d[i] = dout[i];
        taken[i] = 1;
      }
  }
}

template class Extremum<float>;
template class Extremum<double>;

}  // namespace lrp
