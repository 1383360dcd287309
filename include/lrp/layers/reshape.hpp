#pragma once
// Layers that only move data: Flatten, Reshape, Transpose and Slice. Relevance and gradients
// are routed back by the inverse map (a slice's dropped elements get none).
#include <algorithm>

#include "lrp/graph/layer.hpp"

namespace lrp {

// [N, C, H, W] → [N, C*H*W]. With `channels_last` the features are ordered (h, w, c) as the
// toolbox's NHWC Flatten does, so toolbox Linear weights after a Flatten keep their meaning.
template <class T>
class Flatten final : public Layer<T> {
 public:
  explicit Flatten(bool channels_last = false) : channels_last_(channels_last) {}
  LayerKind kind() const override { return LayerKind::Flatten; }
  std::string type_name() const override { return "Flatten"; }
  std::string describe() const override { return channels_last_ ? "channels-last order" : ""; }
  Shape output_shape(const std::vector<Shape>& in) const override;
  void forward(const TensorRefs<T>& in, Tensor<T>& out) const override;
  void backward(const TensorRefs<T>& in, const Tensor<T>& out, const Tensor<T>& dout,
                std::vector<Tensor<T>>& din) const override;
  std::unique_ptr<Layer<float>> to_float() const override { return std::make_unique<Flatten<float>>(channels_last_); }
  std::unique_ptr<Layer<double>> to_double() const override { return std::make_unique<Flatten<double>>(channels_last_); }
  bool channels_last() const { return channels_last_; }

 private:
  bool channels_last_;
};

// Per-sample reshape to a fixed shape (C order, element count preserved).
template <class T>
class Reshape final : public Layer<T> {
 public:
  explicit Reshape(Shape target) : target_(std::move(target)) {}
  LayerKind kind() const override { return LayerKind::Reshape; }
  std::string type_name() const override { return "Reshape"; }
  std::string describe() const override { return "to " + shape_str(target_); }
  Shape output_shape(const std::vector<Shape>& in) const override;
  void forward(const TensorRefs<T>& in, Tensor<T>& out) const override;
  void backward(const TensorRefs<T>& in, const Tensor<T>& out, const Tensor<T>& dout,
                std::vector<Tensor<T>>& din) const override;
  std::unique_ptr<Layer<float>> to_float() const override { return std::make_unique<Reshape<float>>(target_); }
  std::unique_ptr<Layer<double>> to_double() const override { return std::make_unique<Reshape<double>>(target_); }

 private:
  Shape target_;
};

// Per-sample axes permuted (the batch stays first): out axis k is input axis perm[k]
// (ShuffleNet's channel shuffle: [g, C/g, H, W] → [C/g, g, H, W]).
template <class T>
class Transpose final : public Layer<T> {
 public:
  explicit Transpose(std::vector<std::size_t> perm) : perm_(std::move(perm)) {}
  LayerKind kind() const override { return LayerKind::Transpose; }
  std::string type_name() const override { return "Transpose"; }
  std::string describe() const override;
  Shape output_shape(const std::vector<Shape>& in) const override;
  void forward(const TensorRefs<T>& in, Tensor<T>& out) const override;
  void backward(const TensorRefs<T>& in, const Tensor<T>& out, const Tensor<T>& dout,
                std::vector<Tensor<T>>& din) const override;
  bool backward_from_shapes(const std::vector<Shape>& in_shapes, const Tensor<T>& dout, std::vector<Tensor<T>>& din) const override;
  std::unique_ptr<Layer<float>> to_float() const override { return std::make_unique<Transpose<float>>(perm_); }
  std::unique_ptr<Layer<double>> to_double() const override { return std::make_unique<Transpose<double>>(perm_); }

 private:
  std::vector<std::size_t> perm_;
};

// A box of each sample: elements [begin[k], begin[k] + size[k]) along per-sample axis k
// (ShuffleNet's channel split).
template <class T>
class Slice final : public Layer<T> {
 public:
  // `out` (optional, as many elements as `size`): the output's shape, the box with axes of one
  // entry dropped (ONNX Gather of one index). `step` (optional, one positive entry per axis):
  // every step-th element from `begin` (Swin's patch merging takes every second row and column).
  Slice(Shape begin, Shape size, Shape out = {}, Shape step = {})
      : begin_(std::move(begin)), size_(std::move(size)), out_(std::move(out)), step_(std::move(step)) {
    if (std::all_of(step_.begin(), step_.end(), [](std::size_t s) { return s == 1; })) step_.clear();  // a plain box
  }
  LayerKind kind() const override { return LayerKind::Slice; }
  std::string type_name() const override { return "Slice"; }
  std::string describe() const override {
    return "from " + shape_str(begin_) + ", size " + shape_str(size_) + (step_.empty() ? "" : ", step " + shape_str(step_)) +
           (out_.empty() ? "" : " as " + shape_str(out_));
  }
  Shape output_shape(const std::vector<Shape>& in) const override;
  void forward(const TensorRefs<T>& in, Tensor<T>& out) const override;
  void backward(const TensorRefs<T>& in, const Tensor<T>& out, const Tensor<T>& dout,
                std::vector<Tensor<T>>& din) const override;
  bool backward_from_shapes(const std::vector<Shape>& in_shapes, const Tensor<T>& dout, std::vector<Tensor<T>>& din) const override;
  // din += backward's result, added where the box lies only: several slices of one value (a
  // transformer's q, k, v) add into one tensor instead of each filling a zero tensor of the
  // input's size. din has the input's shape (its rows may be a multiple of the batch).
  void add_backward(const Tensor<T>& dout, Tensor<T>& din) const;
  std::unique_ptr<Layer<float>> to_float() const override { return std::make_unique<Slice<float>>(begin_, size_, out_, step_); }
  std::unique_ptr<Layer<double>> to_double() const override { return std::make_unique<Slice<double>>(begin_, size_, out_, step_); }

 private:
  std::size_t step(std::size_t axis) const { return step_.empty() ? 1 : step_[axis]; }
  Shape begin_, size_, out_, step_;
};

}  // namespace lrp
