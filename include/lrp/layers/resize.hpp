#pragma once
// Resizing of the two spatial axes of [N, C, H, W] by nearest-neighbour or (bi)linear
// interpolation (ONNX Resize/Upsample, PyTorch nn.Upsample / F.interpolate). Each output row
// (column) reads at most two input rows (columns) with fixed weights, so the layer is a linear
// map A per plane. Its relevance is A^T R for every method, as in Zennit (which leaves such
// modules unhooked): the interpolation weights of an output sum to 1, so A^T conserves relevance.
#include <string>
#include <vector>

#include "lrp/graph/layer.hpp"

namespace lrp {

// Where output index o of one axis reads: (1 - w1) * in[i0] + w1 * in[i1].
struct ResizeTap {
  std::size_t i0 = 0, i1 = 0;
  double w1 = 0.0;
};

// How output coordinates map to input coordinates (ONNX coordinate_transformation_mode).
enum class ResizeCoordinates { HalfPixel, PytorchHalfPixel, AlignCorners, Asymmetric, TfHalfPixelForNearest };
// How a fractional input coordinate picks its neighbour (ONNX nearest_mode).
enum class ResizeRounding { RoundPreferFloor, RoundPreferCeil, Floor, Ceil };

// The taps of one axis from `in` to `out` entries; `scale` is out / in unless the model gives
// it explicitly (then align_corners, as ONNX, divides by in * scale - 1, not by out - 1).
// `linear` false: nearest neighbour with `rounding`.
std::vector<ResizeTap> resize_taps(std::size_t in, std::size_t out, double scale, ResizeCoordinates coords, bool linear,
                                   ResizeRounding rounding);

template <class T>
class Resize2d final : public Layer<T> {
 public:
  // rows: taps of the H axis (one per output row, indices < in_h); cols: of the W axis.
  Resize2d(std::size_t in_h, std::size_t in_w, std::vector<ResizeTap> rows, std::vector<ResizeTap> cols, std::string method);
  LayerKind kind() const override { return LayerKind::Resize; }
  std::string type_name() const override { return "Resize"; }
  std::string describe() const override;
  Shape output_shape(const std::vector<Shape>& in) const override;
  void forward(const TensorRefs<T>& in, Tensor<T>& out) const override;
  void backward(const TensorRefs<T>& in, const Tensor<T>& out, const Tensor<T>& dout,
                std::vector<Tensor<T>>& din) const override;
  bool backward_from_shapes(const std::vector<Shape>& in_shapes, const Tensor<T>& dout, std::vector<Tensor<T>>& din) const override;
  std::unique_ptr<Layer<float>> to_float() const override {
    return std::make_unique<Resize2d<float>>(in_h_, in_w_, rows_, cols_, method_);
  }
  std::unique_ptr<Layer<double>> to_double() const override {
    return std::make_unique<Resize2d<double>>(in_h_, in_w_, rows_, cols_, method_);
  }

 private:
  std::size_t in_h_, in_w_;
  std::vector<ResizeTap> rows_, cols_;
  std::string method_;  // for describe()
};

}  // namespace lrp
