// Parameter updates: the toolbox's scaled SGD, plain SGD and momentum SGD.
#include <cmath>

#include "lrp/layers/conv2d.hpp"
#include "lrp/layers/linear.hpp"
#include "train/train_detail.hpp"

namespace lrp::train::detail {
namespace {

// The toolbox's divisors (§2.5): Linear W / sqrt(m), B / n^(1/4); Convolution
// W / sqrt(h w d Hy Wy), B / sqrt(Hy Wy). Other layers: 1.
template <class T>
std::vector<double> toolbox_scales(const Layer<T>& layer, const Shape& out_shape, std::size_t count) {
  std::vector<double> s(count, 1.0);
  if (const auto* lin = dynamic_cast<const Linear<T>*>(&layer)) {
    s[0] = 1.0 / std::sqrt(static_cast<double>(lin->in_features()));
    s[1] = 1.0 / std::pow(static_cast<double>(lin->out_features()), 0.25);
  } else if (const auto* conv = dynamic_cast<const Conv2d<T>*>(&layer)) {
    const Shape& w = conv->weight().shape();  // [n, d, h, w]
    const double plane = out_shape.size() == 3 ? static_cast<double>(out_shape[1] * out_shape[2]) : 1.0;
    s[0] = 1.0 / std::sqrt(static_cast<double>(w[1] * w[2] * w[3]) * plane);
    s[1] = 1.0 / std::sqrt(plane);
  }
  return s;
}

}  // namespace

template <class T>
void Updater<T>::step(Model<T>& model, const Grads<T>& grads, const std::vector<Shape>& shapes, double lrate, std::size_t batch) {
  auto& nodes = model.nodes();
  if (optimizer_ == Optimizer::Momentum && velocity_.empty()) velocity_.assign(nodes.size(), {});
  for (std::size_t ii = 0; ii < nodes.size(); ++ii) {
    const std::vector<Tensor<T>>& g = grads[ii];
    if (g.empty()) continue;
    std::vector<Tensor<T>*> params = nodes[ii].layer->params();
    if (optimizer_ == Optimizer::Toolbox) {
      const std::vector<double> s = toolbox_scales(*nodes[ii].layer, shapes.at(nodes[ii].output), params.size());
      for (std::size_t k = 0; k < params.size(); ++k) {
        const T f = static_cast<T>(lrate * s[k]);
        T* p = params[k]->data();
        const T* gk = g[k].data();
        for (std::size_t i = 0; i < params[k]->size(); ++i) p[i] -= f * gk[i];
      }
    } else if (optimizer_ == Optimizer::Sgd) {
      const T f = static_cast<T>(lrate / static_cast<double>(batch));
      for (std::size_t k = 0; k < params.size(); ++k) {
        T* p = params[k]->data();
        const T* gk = g[k].data();
        for (std::size_t i = 0; i < params[k]->size(); ++i) p[i] -= f * gk[i];
      }
    } else {
      std::vector<Tensor<T>>& v = velocity_[ii];
      if (v.empty())
        for (const Tensor<T>* p : params) v.emplace_back(p->shape());
      const T mu = static_cast<T>(momentum_), inv_b = static_cast<T>(1.0 / static_cast<double>(batch)), lr = static_cast<T>(lrate);
      for (std::size_t k = 0; k < params.size(); ++k) {
        T* p = params[k]->data();
        T* vk = v[k].data();
        const T* gk = g[k].data();
        for (std::size_t i = 0; i < params[k]->size(); ++i) {
          vk[i] = mu * vk[i] + inv_b * gk[i];
          p[i] -= lr * vk[i];
        }
      }
    }
  }
}

template class Updater<float>;
template class Updater<double>;

}  // namespace lrp::train::detail
