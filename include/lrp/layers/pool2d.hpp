#pragma once
// 2-D pooling on NCHW tensors: max pooling, and sum pooling y = (window sum) / divisor, which
// covers the toolbox's SumPool (divisor sqrt(kh*kw)), average pooling (divisor kh*kw, or the
// number of non-padding inputs) and global average pooling (window = whole plane).
#include "lrp/graph/layer.hpp"
#include "lrp/layers/conv_geometry.hpp"

namespace lrp {

enum class PoolMode { Max, Sum };

struct PoolSpec {
  PoolMode mode = PoolMode::Max;
  Window2d window;        // ignored when global
  bool global = false;    // window = the whole input plane
  double divisor = 0.0;   // Sum only: fixed divisor; 0 = count of non-padding inputs in the window
  std::string type_name = "MaxPool";  // "MaxPool", "SumPool", "AveragePool", "GlobalAveragePool"
};

template <class T>
class Pool2d final : public Layer<T> {
 public:
  explicit Pool2d(PoolSpec spec);
  LayerKind kind() const override { return LayerKind::Pool2d; }
  std::string type_name() const override { return spec_.type_name; }
  std::string describe() const override;
  Shape output_shape(const std::vector<Shape>& in) const override;
  void forward(const TensorRefs<T>& in, Tensor<T>& out) const override;
  // With winner_masks(): the forward and, in `saved`, each output's winner mask (bit a*kw+b set
  // where tap (a, b) of its window equals the maximum; shape of the output). The max pool's
  // rules then need neither its input nor its output.
  void forward_saving(const TensorRefs<T>& in, Tensor<T>& out, Tensor<T>& saved) const override;
  std::size_t saved_numel(const std::vector<Shape>& inputs) const override;
  // Max: to the first maximum of each window (PyTorch's choice); Sum: dy / divisor to every input.
  void backward(const TensorRefs<T>& in, const Tensor<T>& out, const Tensor<T>& dout,
                std::vector<Tensor<T>>& din) const override;
  std::unique_ptr<Layer<float>> to_float() const override { return std::make_unique<Pool2d<float>>(spec_); }
  std::unique_ptr<Layer<double>> to_double() const override { return std::make_unique<Pool2d<double>>(spec_); }

  const PoolSpec& spec() const { return spec_; }
  bool is_max() const { return spec_.mode == PoolMode::Max; }
  // Max pooling over a fixed window of at most pool::kMaxMaskTaps (24) taps: its winners fit a
  // mask per output (forward_saving). Global pooling's window is only known with the input.
  bool winner_masks() const;
  // The window resolved for an input of per-sample shape [C, H, W] (global pooling needs it).
  Window2d window_for(std::size_t h, std::size_t w) const;
  // Divisor of output (oy, ox) for an input plane h x w (Sum mode).
  double divisor_at(const Window2d& k, std::size_t h, std::size_t w, std::size_t oy, std::size_t ox) const;

 private:
  // The forward; with `masks` (max pooling only) also the winner masks of forward_saving.
  void run_forward(const TensorRefs<T>& in, Tensor<T>& out, Tensor<T>* masks) const;
  PoolSpec spec_;
};

}  // namespace lrp
