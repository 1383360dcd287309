#include "lrp/layers/conv2d.hpp"

#include <type_traits>

#include "kernels/conv.hpp"
#include "kernels/conv_single_channel.hpp"
#include "kernels/dnnl_conv.hpp"

namespace lrp {
namespace {
template <class T>
kernels::ConvShape conv_shape(const Conv2d<T>& conv, const Shape& x, const std::string& what) {
  if (x.size() != 4) throw ShapeError(what + " expects a 4-D NCHW input, got " + shape_str(x));
  kernels::ConvShape s;
  s.n = x[0];
  s.c = x[1];
  s.h = x[2];
  s.w = x[3];
  if (s.c != conv.in_channels())
    throw ShapeError(what + " expects " + std::to_string(conv.in_channels()) + " input channels, got " + std::to_string(s.c));
  s.oc = conv.out_channels();
  s.groups = conv.groups();
  s.win = conv.window();
  s.oh = s.win.out_h(s.h, what);
  s.ow = s.win.out_w(s.w, what);
  return s;
}
}  // namespace

template <class T>
Conv2d<T>::Conv2d(Tensor<T> weight, Tensor<T> bias, Window2d window, std::size_t groups)
    : weight_(std::move(weight)), bias_(std::move(bias)), window_(window), groups_(groups) {
  if (weight_.rank() != 4) throw ShapeError("Convolution weight must be 4-D [out, in/groups, kh, kw], got " + shape_str(weight_.shape()));
  if (groups_ == 0 || weight_.dim(0) % groups_ != 0)
    throw ShapeError("Convolution: " + std::to_string(weight_.dim(0)) + " filters cannot be split into " + std::to_string(groups_) + " groups");
  if (weight_.dim(2) != window_.kh || weight_.dim(3) != window_.kw)
    throw ShapeError("Convolution: weight shape " + shape_str(weight_.shape()) + " does not match kernel " + window_.str());
  if (bias_.rank() != 1 || bias_.dim(0) != weight_.dim(0))
    throw ShapeError("Convolution bias has shape " + shape_str(bias_.shape()) + ", expected [" + std::to_string(weight_.dim(0)) + "]");
}

template <class T>
Conv2d<T>::~Conv2d() {
  if constexpr (std::is_same_v<T, float>) kernels::dnnl_conv_forget_weights(weight_.data());
}

template <class T>
std::string Conv2d<T>::describe() const {
  std::string s = std::to_string(in_channels()) + " -> " + std::to_string(out_channels()) + ", " + window_.str();
  if (groups_ != 1) s += ", groups " + std::to_string(groups_);
  return s;
}

template <class T>
Shape Conv2d<T>::output_shape(const std::vector<Shape>& in) const {
  Shape x = in.at(0);
  x.insert(x.begin(), 1);
  const kernels::ConvShape s = conv_shape(*this, x, "Convolution " + describe());
  return {s.oc, s.oh, s.ow};
}

template <class T>
void Conv2d<T>::apply(const Tensor<T>& x, const Tensor<T>& w, const Tensor<T>* b, Tensor<T>& z) const {
  const kernels::ConvShape s = conv_shape(*this, x.shape(), "Convolution " + describe());
  z = Tensor<T>::uninitialized({s.n, s.oc, s.oh, s.ow});  // every kernel writes all of it
  kernels::conv2d_forward<T>(s, x.data(), w.data(), b ? b->data() : nullptr, z.data());
}

template <class T>
void Conv2d<T>::forward_relu(const Tensor<T>& x, Tensor<T>& out) const {
  const kernels::ConvShape s = conv_shape(*this, x.shape(), "Convolution " + describe());
  out = Tensor<T>::uninitialized({s.n, s.oc, s.oh, s.ow});
  kernels::conv2d_forward_relu<T>(s, x.data(), weight_.data(), bias_.data(), out.data());
}

template <class T>
void Conv2d<T>::apply_transposed(const Tensor<T>& g, const Tensor<T>& w, const Shape& x_shape, Tensor<T>& dx) const {
  const kernels::ConvShape s = conv_shape(*this, x_shape, "Convolution " + describe());
  dx = Tensor<T>::uninitialized(x_shape);
  kernels::conv2d_backward_data<T>(s, g.data(), w.data(), dx.data());
}

template <class T>
void Conv2d<T>::apply_mapped(const Tensor<T>& x, WeightMap map, T param, const typename AffineLayer<T>::PlainWeights& plain,
                             const Tensor<T>* b, Tensor<T>& z) const {
  if constexpr (std::is_same_v<T, float>) {
    const kernels::ConvShape s = conv_shape(*this, x.shape(), "Convolution " + describe());
    z = Tensor<T>::uninitialized({s.n, s.oc, s.oh, s.ow});  // every kernel writes all of it
    if (kernels::conv2d_forward_mapped(s, x.data(), weight_.data(), b ? b->data() : nullptr, z.data(), map, param)) return;
  }
  apply(x, plain(), b, z);
}

template <class T>
void Conv2d<T>::apply_transposed_mapped(const Tensor<T>& g, WeightMap map, T param,
                                        const typename AffineLayer<T>::PlainWeights& plain, const Shape& x_shape,
                                        Tensor<T>& dx) const {
  if constexpr (std::is_same_v<T, float>) {
    const kernels::ConvShape s = conv_shape(*this, x_shape, "Convolution " + describe());
    dx = Tensor<T>::uninitialized(x_shape);
    if (kernels::conv2d_backward_data_mapped(s, g.data(), weight_.data(), dx.data(), map, param)) return;
  }
  apply_transposed(g, plain(), x_shape, dx);
}

template <class T>
bool Conv2d<T>::apply_transposed_pair(const Tensor<T>& g, const typename AffineLayer<T>::PlainWeights& w1,
                                      const typename AffineLayer<T>::PlainWeights& w2, const Shape& x_shape, Tensor<T>& dx1,
                                      Tensor<T>& dx2) const {
  if constexpr (std::is_same_v<T, float>) {
    const kernels::ConvShape s = conv_shape(*this, x_shape, "Convolution " + describe());
    if (!kernels::single_channel_conv_applies(s)) return false;
    dx1 = Tensor<T>::uninitialized(x_shape);  // the kernel writes all of both
    dx2 = Tensor<T>::uninitialized(x_shape);
    return kernels::single_channel_conv_backward_data_pair(s, g.data(), w1().data(), w2().data(), dx1.data(), dx2.data());
  }
  return false;
}

template <class T>
bool Conv2d<T>::mapped_passes_exact(const Shape& x_shape) const {
  if constexpr (std::is_same_v<T, float>) return !kernels::conv2d_mapped_in_bf16(conv_shape(*this, x_shape, "Convolution " + describe()));
  return true;
}

template <class T>
void Conv2d<T>::param_grads(const TensorRefs<T>& in, const Tensor<T>& dout, std::vector<Tensor<T>>& grads) const {
  const kernels::ConvShape s = conv_shape(*this, in[0]->shape(), "Convolution " + describe());
  grads.assign(2, Tensor<T>());
  grads[0] = Tensor<T>(weight_.shape());
  grads[1] = Tensor<T>(bias_.shape());
  kernels::conv2d_backward_weights<T>(s, in[0]->data(), dout.data(), grads[0].data(), grads[1].data());
}

template <class T>
std::unique_ptr<Layer<float>> Conv2d<T>::to_float() const {
  return std::make_unique<Conv2d<float>>(weight_.template cast<float>(), bias_.template cast<float>(), window_, groups_);
}
template <class T>
std::unique_ptr<Layer<double>> Conv2d<T>::to_double() const {
  return std::make_unique<Conv2d<double>>(weight_.template cast<double>(), bias_.template cast<double>(), window_, groups_);
}

template class Conv2d<float>;
template class Conv2d<double>;

}  // namespace lrp
