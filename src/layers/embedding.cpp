#include "lrp/layers/embedding.hpp"

#include <cmath>

#include "lrp/core/error.hpp"
#include "lrp/core/parse.hpp"

namespace lrp {

template <class T>
Embedding<T>::Embedding(Tensor<T> table) : table_(std::move(table)) {
  if (table_.rank() != 2) throw ShapeError("Embedding table must be [V, D], got " + shape_str(table_.shape()));
}

template <class T>
std::string Embedding<T>::describe() const {
  return std::to_string(table_.dim(0)) + " tokens of " + std::to_string(table_.dim(1));
}

template <class T>
Shape Embedding<T>::output_shape(const std::vector<Shape>& in) const {
  Shape out = in.at(0);
  out.push_back(table_.dim(1));
  return out;
}

namespace {
// The row of a token id, or a NumericError naming it.
template <class T>
std::size_t row_of(T id, std::size_t rows) {
  const double v = static_cast<double>(id);
  if (!(v >= 0) || v >= static_cast<double>(rows) || v != std::floor(v))
    throw NumericError("token id " + format_number(v) + " is not an integer in [0, " + std::to_string(rows) + ")");
  return static_cast<std::size_t>(v);
}
}  // namespace

template <class T>
void Embedding<T>::forward(const TensorRefs<T>& in, Tensor<T>& out) const {
  const Tensor<T>& ids = *in[0];
  Shape s = ids.shape();
  const std::size_t d = table_.dim(1);
  s.push_back(d);
  out = Tensor<T>::uninitialized(s);
  for (std::size_t t = 0; t < ids.size(); ++t) {
    const T* row = table_.data() + row_of(ids[t], table_.dim(0)) * d;
    std::copy(row, row + d, out.data() + t * d);
  }
}

template <class T>
void Embedding<T>::backward(const TensorRefs<T>& in, const Tensor<T>& out, const Tensor<T>& dout,
                            std::vector<Tensor<T>>& din) const {
  const std::size_t d = table_.dim(1);
  din.assign(1, Tensor<T>(in[0]->shape()));
  for (std::size_t t = 0; t < din[0].size(); ++t) {
    T s = 0;
    for (std::size_t j = 0; j < d; ++j) s += dout[t * d + j] * out[t * d + j];
    din[0][t] = s;
  }
}

template class Embedding<float>;
template class Embedding<double>;

}  // namespace lrp
