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
  // Max: to the first maximum of each window (PyTorch's choice); Sum: dy / divisor to every input.
  void backward(const TensorRefs<T>& in, const Tensor<T>& out, const Tensor<T>& dout,
                std::vector<Tensor<T>>& din) const override;
  std::unique_ptr<Layer<float>> to_float() const override { return std::make_unique<Pool2d<float>>(spec_); }
  std::unique_ptr<Layer<double>> to_double() const override { return std::make_unique<Pool2d<double>>(spec_); }

  const PoolSpec& spec() const { return spec_; }
  bool is_max() const { return spec_.mode == PoolMode::Max; }
  // The window resolved for an input of per-sample shape [C, H, W] (global pooling needs it).
  Window2d window_for(std::size_t h, std::size_t w) const;
  // Divisor of output (oy, ox) for an input plane h x w (Sum mode).
  double divisor_at(const Window2d& k, std::size_t h, std::size_t w, std::size_t oy, std::size_t ox) const;

  // Calls f(out_index, in_index) for every (output, input) pair of a window, padding skipped,
  // for sample-channel plane `plane` (= n*C + c); outputs in row-major order, each window's
  // inputs in row-major order. Used by the layer and by relevance rules.
  template <class F>
  static void for_each_pair(const Window2d& k, std::size_t h, std::size_t w, std::size_t oh, std::size_t ow,
                            std::size_t plane, F&& f) {
    // Valid tap range [lo, hi) of an output position along one axis (no per-element checks).
    const auto taps = [](long long start, std::size_t kn, std::size_t dil, std::size_t n, std::size_t& lo, std::size_t& hi) {
      const long long d = static_cast<long long>(dil), len = static_cast<long long>(n);
      long long a = start >= 0 ? 0 : (-start + d - 1) / d;
      long long b = start >= len ? 0 : (len - 1 - start) / d + 1;
      if (b > static_cast<long long>(kn)) b = static_cast<long long>(kn);
      if (a > b) a = b;
      lo = static_cast<std::size_t>(a);
      hi = static_cast<std::size_t>(b);
    };
    const std::size_t obase = plane * oh * ow, ibase = plane * h * w;
    for (std::size_t oy = 0; oy < oh; ++oy) {
      const long long iy0 = static_cast<long long>(oy * k.sh) - static_cast<long long>(k.pt);
      std::size_t ilo, ihi;
      taps(iy0, k.kh, k.dh, h, ilo, ihi);
      for (std::size_t ox = 0; ox < ow; ++ox) {
        const long long ix0 = static_cast<long long>(ox * k.sw) - static_cast<long long>(k.pl);
        std::size_t jlo, jhi;
        taps(ix0, k.kw, k.dw, w, jlo, jhi);
        const std::size_t o = obase + oy * ow + ox;
        for (std::size_t i = ilo; i < ihi; ++i) {
          const std::size_t row = ibase + static_cast<std::size_t>(iy0 + static_cast<long long>(i * k.dh)) * w;
          for (std::size_t j = jlo; j < jhi; ++j) f(o, row + static_cast<std::size_t>(ix0 + static_cast<long long>(j * k.dw)));
        }
      }
    }
  }

 private:
  PoolSpec spec_;
};

}  // namespace lrp
