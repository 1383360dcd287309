#pragma once
// Dense, contiguous, row-major (C order) tensor of float or double.
// Batch tensors are [N, ...]; image tensors inside the engine are NCHW.
#include <cstddef>
#include <algorithm>
#include <numeric>
#include <limits>
#include <memory>
#include <new>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "lrp/core/error.hpp"

namespace lrp {

using Shape = std::vector<std::size_t>;

// Number of elements of a shape; throws ShapeError when the count would overflow or exceed
// `limit` (guards against absurd sizes read from files before anything is allocated).
std::size_t shape_numel(const Shape& shape, std::size_t limit = std::size_t(1) << 34);
std::string shape_str(const Shape& shape);

// Most values one sample of a model's input or of any layer's output may hold (4 GiB as
// float32, far beyond any network this engine can run): larger shapes come from broken model
// files, and importers and shape inference (checked_output_shape) refuse them before anything
// of that size exists.
inline constexpr std::size_t kMaxSampleElements = std::size_t(1) << 30;
// Element count of one sample's shape; ShapeError saying so when it exceeds kMaxSampleElements.
std::size_t sample_numel(const Shape& per_sample);

// std::allocator that leaves new elements of trivial types uninitialised when no value is
// given (vector::resize(n)), so that outputs a kernel overwrites entirely skip a zero fill.
template <class T>
struct DefaultInitAllocator : std::allocator<T> {
  using std::allocator<T>::allocator;
  template <class U>
  struct rebind {
    using other = DefaultInitAllocator<U>;
  };
  template <class U>
  void construct(U* p) noexcept(std::is_nothrow_default_constructible_v<U>) {
    ::new (static_cast<void*>(p)) U;
  }
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};

template <class T>
class Tensor {
 public:
  using value_type = T;
  using Storage = std::vector<T, DefaultInitAllocator<T>>;

  Tensor() = default;
  // Every element set to `fill` (0 by default).
  explicit Tensor(Shape shape, T fill = T(0)) : shape_(std::move(shape)), data_(shape_numel(shape_), fill) {}
  Tensor(Shape shape, const std::vector<T>& data) : shape_(std::move(shape)), data_(data.begin(), data.end()) {
    if (data_.size() != shape_numel(shape_)) throw ShapeError("tensor data size does not match shape " + shape_str(shape_));
  }
  // Takes the elements over without copying (large weights while a model is imported).
  static Tensor adopt(Shape shape, Storage&& data) {
    if (data.size() != shape_numel(shape)) throw ShapeError("tensor data size does not match shape " + shape_str(shape));
    Tensor t;
    t.shape_ = std::move(shape);
    t.data_ = std::move(data);
    return t;
  }
  // Elements left unset: only for outputs that are then written completely.
  static Tensor uninitialized(Shape shape) {
    Tensor t;
    t.data_.resize(shape_numel(shape));
    t.shape_ = std::move(shape);
#ifdef LRP_POISON_UNINITIALIZED  // sanitizer builds: unwritten elements become visible
    if constexpr (std::is_floating_point_v<T>) t.fill(std::numeric_limits<T>::quiet_NaN());
#endif
    return t;
  }

  const Shape& shape() const { return shape_; }
  std::size_t rank() const { return shape_.size(); }
  std::size_t dim(std::size_t i) const { return shape_.at(i); }
  std::size_t size() const { return data_.size(); }
  bool empty() const { return data_.empty(); }

  T* data() { return data_.data(); }
  const T* data() const { return data_.data(); }
  T& operator[](std::size_t i) { return data_[i]; }
  const T& operator[](std::size_t i) const { return data_[i]; }
  T* begin() { return data_.data(); }
  T* end() { return data_.data() + data_.size(); }
  const T* begin() const { return data_.data(); }
  const T* end() const { return data_.data() + data_.size(); }
  // A copy of the elements.
  std::vector<T> vec() const { return std::vector<T>(data_.begin(), data_.end()); }

  // Same data, new shape with the same element count.
  void reshape(Shape shape) {
    if (shape_numel(shape) != data_.size())
      throw ShapeError("cannot reshape " + shape_str(shape_) + " to " + shape_str(shape));
    shape_ = std::move(shape);
  }
  Tensor reshaped(Shape shape) const {
    Tensor t = *this;
    t.reshape(std::move(shape));
    return t;
  }
  void fill(T v) { std::fill(data_.begin(), data_.end(), v); }
  // A copy of samples [first, first + count) along the batch axis.
  Tensor rows(std::size_t first, std::size_t count) const {
    if (rank() == 0 || first + count > shape_[0] || first + count < first)
      throw ShapeError("rows " + std::to_string(first) + "+" + std::to_string(count) + " of " + shape_str(shape_));
    Shape s = shape_;
    s[0] = count;
    const std::size_t per = sample_size();
    Tensor t = uninitialized(std::move(s));
    std::copy_n(data_.data() + first * per, count * per, t.data());
    return t;
  }

  // Elements per sample ([N, ...] → product of the trailing dims).
  std::size_t sample_size() const { return rank() == 0 ? 0 : (shape_[0] == 0 ? 0 : data_.size() / shape_[0]); }

  template <class U>
  Tensor<U> cast() const {
    Tensor<U> out = Tensor<U>::uninitialized(shape_);
    for (std::size_t i = 0; i < data_.size(); ++i) out[i] = static_cast<U>(data_[i]);
    return out;
  }

 private:
  Shape shape_;
  Storage data_;
};

// NHWC <-> NCHW for a rank-4 tensor (toolbox layout <-> engine layout).
template <class T>
Tensor<T> nhwc_to_nchw(const Tensor<T>& x);
template <class T>
Tensor<T> nchw_to_nhwc(const Tensor<T>& x);

// True when every element is finite.
template <class T>
bool all_finite(const Tensor<T>& x);

}  // namespace lrp
