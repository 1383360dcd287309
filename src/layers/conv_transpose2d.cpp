#include "lrp/layers/conv_transpose2d.hpp"

#include <type_traits>

#include "kernels/conv.hpp"
#include "kernels/dnnl_conv.hpp"

namespace lrp {
namespace {

// The Conv2d whose backward-data pass this layer is: its input is our output (n, out channels,
// oh x ow), its output our input (in channels, h x w).
template <class T>
kernels::ConvShape adjoint_shape(const ConvTranspose2d<T>& layer, std::size_t op_h, std::size_t op_w, const Shape& x,
                                 const std::string& what) {
  if (x.size() != 4) throw ShapeError(what + " expects a 4-D NCHW input, got " + shape_str(x));
  if (x[1] != layer.in_channels())
    throw ShapeError(what + " expects " + std::to_string(layer.in_channels()) + " input channels, got " + std::to_string(x[1]));
  const Window2d& k = layer.window();
  const auto extent = [&](std::size_t in, std::size_t kk, std::size_t s, std::size_t d, std::size_t p0, std::size_t p1,
                          std::size_t op) {
    const std::size_t full = s * (in - 1) + d * (kk - 1) + 1 + op;
    if (in == 0 || full <= p0 + p1)
      throw ShapeError(what + ": an input of " + std::to_string(in) + " leaves no output after padding " +
                       std::to_string(p0 + p1));
    return full - p0 - p1;
  };
  kernels::ConvShape s;
  s.n = x[0];
  s.c = layer.out_channels();
  s.h = extent(x[2], k.kh, k.sh, k.dh, k.pt, k.pb, op_h);
  s.w = extent(x[3], k.kw, k.sw, k.dw, k.pl, k.pr, op_w);
  s.oc = layer.in_channels();
  s.groups = layer.groups();
  s.win = k;
  s.oh = k.out_h(s.h, what);
  s.ow = k.out_w(s.w, what);
  return s;
}

template <class T>
void add_bias(const Tensor<T>* b, Tensor<T>& z) {
  if (!b) return;
  const std::size_t c = z.dim(1), plane = z.size() / (z.dim(0) * c);
  T* p = z.data();
  for (std::size_t i = 0; i < z.dim(0) * c; ++i) {
    const T v = (*b)[i % c];
    for (std::size_t q = 0; q < plane; ++q) p[i * plane + q] += v;
  }
}

}  // namespace

template <class T>
ConvTranspose2d<T>::ConvTranspose2d(Tensor<T> weight, Tensor<T> bias, Window2d window, std::size_t groups, std::size_t output_pad_h,
                                    std::size_t output_pad_w)
    : weight_(std::move(weight)), bias_(std::move(bias)), window_(window), groups_(groups), output_pad_h_(output_pad_h),
      output_pad_w_(output_pad_w) {
  if (weight_.rank() != 4)
    throw ShapeError("ConvTranspose weight must be 4-D [in, out/groups, kh, kw], got " + shape_str(weight_.shape()));
  if (groups_ == 0 || weight_.dim(0) % groups_ != 0)
    throw ShapeError("ConvTranspose: " + std::to_string(weight_.dim(0)) + " input channels cannot be split into " +
                     std::to_string(groups_) + " groups");
  if (weight_.dim(2) != window_.kh || weight_.dim(3) != window_.kw)
    throw ShapeError("ConvTranspose: weight shape " + shape_str(weight_.shape()) + " does not match kernel " + window_.str());
  if (bias_.rank() != 1 || bias_.dim(0) != out_channels())
    throw ShapeError("ConvTranspose bias has shape " + shape_str(bias_.shape()) + ", expected [" + std::to_string(out_channels()) + "]");
  if (output_pad_h_ >= window_.sh || output_pad_w_ >= window_.sw)
    throw ShapeError("ConvTranspose: output_padding " + std::to_string(output_pad_h_) + "," + std::to_string(output_pad_w_) +
                     " must be smaller than the stride " + std::to_string(window_.sh) + "," + std::to_string(window_.sw));
}

template <class T>
ConvTranspose2d<T>::~ConvTranspose2d() {
  if constexpr (std::is_same_v<T, float>) kernels::dnnl_conv_forget_weights(weight_.data());
}

template <class T>
std::string ConvTranspose2d<T>::describe() const {
  std::string s = std::to_string(in_channels()) + " -> " + std::to_string(out_channels()) + ", " + window_.str();
  if (groups_ != 1) s += ", groups " + std::to_string(groups_);
  if (output_pad_h_ || output_pad_w_) s += ", output padding " + std::to_string(output_pad_h_) + "," + std::to_string(output_pad_w_);
  return s;
}

template <class T>
Shape ConvTranspose2d<T>::output_shape(const std::vector<Shape>& in) const {
  Shape x = in.at(0);
  x.insert(x.begin(), 1);
  const kernels::ConvShape s = adjoint_shape(*this, output_pad_h_, output_pad_w_, x, "ConvTranspose " + describe());
  return {s.c, s.h, s.w};
}

template <class T>
void ConvTranspose2d<T>::apply(const Tensor<T>& x, const Tensor<T>& w, const Tensor<T>* b, Tensor<T>& z) const {
  const kernels::ConvShape s = adjoint_shape(*this, output_pad_h_, output_pad_w_, x.shape(), "ConvTranspose " + describe());
  z = Tensor<T>::uninitialized({s.n, s.c, s.h, s.w});  // backward-data writes all of it
  kernels::conv2d_backward_data<T>(s, x.data(), w.data(), z.data());
  add_bias(b, z);
}

template <class T>
void ConvTranspose2d<T>::apply_transposed(const Tensor<T>& g, const Tensor<T>& w, const Shape& x_shape, Tensor<T>& dx) const {
  const kernels::ConvShape s = adjoint_shape(*this, output_pad_h_, output_pad_w_, x_shape, "ConvTranspose " + describe());
  dx = Tensor<T>::uninitialized(x_shape);
  kernels::conv2d_forward<T>(s, g.data(), w.data(), nullptr, dx.data());
}

template <class T>
void ConvTranspose2d<T>::apply_mapped(const Tensor<T>& x, WeightMap map, T param, const typename AffineLayer<T>::PlainWeights& plain,
                                      const Tensor<T>* b, Tensor<T>& z) const {
  if constexpr (std::is_same_v<T, float>) {
    const kernels::ConvShape s = adjoint_shape(*this, output_pad_h_, output_pad_w_, x.shape(), "ConvTranspose " + describe());
    z = Tensor<T>::uninitialized({s.n, s.c, s.h, s.w});
    if (kernels::conv2d_backward_data_mapped(s, x.data(), weight_.data(), z.data(), map, param)) {
      add_bias(b, z);
      return;
    }
  }
  apply(x, plain(), b, z);
}

template <class T>
bool ConvTranspose2d<T>::mapped_passes_exact(const Shape& x_shape) const {
  if constexpr (std::is_same_v<T, float>)
    return !kernels::conv2d_mapped_in_bf16(adjoint_shape(*this, output_pad_h_, output_pad_w_, x_shape, "ConvTranspose " + describe()));
  return true;
}

template <class T>
void ConvTranspose2d<T>::apply_transposed_mapped(const Tensor<T>& g, WeightMap map, T param,
                                                 const typename AffineLayer<T>::PlainWeights& plain, const Shape& x_shape,
                                                 Tensor<T>& dx) const {
  if constexpr (std::is_same_v<T, float>) {
    const kernels::ConvShape s = adjoint_shape(*this, output_pad_h_, output_pad_w_, x_shape, "ConvTranspose " + describe());
    dx = Tensor<T>::uninitialized(x_shape);
    if (kernels::conv2d_forward_mapped(s, g.data(), weight_.data(), nullptr, dx.data(), map, param)) return;
  }
  apply_transposed(g, plain(), x_shape, dx);
}

template <class T>
void ConvTranspose2d<T>::param_grads(const TensorRefs<T>& in, const Tensor<T>& dout, std::vector<Tensor<T>>& grads) const {
  const kernels::ConvShape s = adjoint_shape(*this, output_pad_h_, output_pad_w_, in[0]->shape(), "ConvTranspose " + describe());
  grads.assign(2, Tensor<T>());
  grads[0] = Tensor<T>(weight_.shape());
  // The adjoint convolution reads dout and produces x: its weight gradient is ours.
  std::vector<T> unused(s.oc);
  kernels::conv2d_backward_weights<T>(s, dout.data(), in[0]->data(), grads[0].data(), unused.data());
  grads[1] = Tensor<T>(bias_.shape());
  const std::size_t plane = s.h * s.w;
  for (std::size_t i = 0; i < s.n * s.c; ++i)
    for (std::size_t q = 0; q < plane; ++q) grads[1][i % s.c] += dout[i * plane + q];
}

template <class T>
std::unique_ptr<Layer<float>> ConvTranspose2d<T>::to_float() const {
  return std::make_unique<ConvTranspose2d<float>>(weight_.template cast<float>(), bias_.template cast<float>(), window_, groups_,
                                                  output_pad_h_, output_pad_w_);
}
template <class T>
std::unique_ptr<Layer<double>> ConvTranspose2d<T>::to_double() const {
  return std::make_unique<ConvTranspose2d<double>>(weight_.template cast<double>(), bias_.template cast<double>(), window_,
                                                   groups_, output_pad_h_, output_pad_w_);
}

template class ConvTranspose2d<float>;
template class ConvTranspose2d<double>;

}  // namespace lrp
