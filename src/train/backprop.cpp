// The backward sweep: vector-Jacobian products through the graph, parameter gradients per node.
#include <cmath>

#include "lrp/core/error.hpp"
#include "lrp/layers/linear.hpp"
#include "train/train_detail.hpp"

namespace lrp::train {
namespace detail {

template <class T>
double backprop(const Model<T>& model, const Executor<T>& ex, const Tensor<T>& targets, Loss loss, Grads<T>& grads,
                bool toolbox_backward) {
  LossSeed<T> seed;
  const double total = batch_loss(model, ex, targets, loss, &seed);
  const auto& nodes = model.nodes();
  grads.assign(nodes.size(), {});
  std::vector<Tensor<T>> dval(model.num_values());
  dval[seed.value] = std::move(seed.grad);
  for (std::size_t ii = nodes.size(); ii-- > 0;) {
    const Node<T>& n = nodes[ii];
    Tensor<T>& dout = dval[n.output];
    if (dout.empty()) continue;  // not on a path to the loss (e.g. a trailing SoftMax under cross-entropy)
    TensorRefs<T> in;
    for (std::size_t v : n.inputs) in.push_back(&ex.value(v));
    if (!n.layer->params().empty()) {
      n.layer->param_grads(in, dout, grads[ii]);
      if (grads[ii].size() != n.layer->params().size()) grads[ii].clear();  // a layer without gradients stays fixed
    }
    bool needed = false;  // the model input needs no gradient
    for (std::size_t v : n.inputs) needed = needed || v != 0;
    if (needed) {
      std::vector<Tensor<T>> din;
      n.layer->backward(in, ex.value(n.output), dout, din);
      if (toolbox_backward) {
        if (const auto* lin = dynamic_cast<const Linear<T>*>(n.layer.get())) {
          const T s = static_cast<T>(std::sqrt(static_cast<double>(lin->in_features())) /
                                     std::sqrt(static_cast<double>(lin->out_features())));
          for (T& v : din[0]) v *= s;
        }
      }
      for (std::size_t k = 0; k < n.inputs.size(); ++k) {
        const std::size_t v = n.inputs[k];
        if (v == 0) continue;
        Tensor<T>& dst = dval[v];
        if (dst.empty()) {
          dst = std::move(din[k]);
        } else {
          for (std::size_t i = 0; i < dst.size(); ++i) dst[i] += din[k][i];
        }
      }
    }
    dout = Tensor<T>();
  }
  return total;
}

template double backprop(const Model<float>&, const Executor<float>&, const Tensor<float>&, Loss, Grads<float>&, bool);
template double backprop(const Model<double>&, const Executor<double>&, const Tensor<double>&, Loss, Grads<double>&, bool);

}  // namespace detail

template <class T>
double loss_and_gradients(const Model<T>& model, const Tensor<T>& x, const Tensor<T>& targets, Loss loss,
                          std::vector<std::vector<Tensor<T>>>& grads, bool toolbox_backward) {
  Executor<T> ex(model);
  ex.forward(x);
  return detail::backprop(model, ex, targets, detail::resolve(model, loss), grads, toolbox_backward);
}

template double loss_and_gradients(const Model<float>&, const Tensor<float>&, const Tensor<float>&, Loss,
                                   std::vector<std::vector<Tensor<float>>>&, bool);
template double loss_and_gradients(const Model<double>&, const Tensor<double>&, const Tensor<double>&, Loss,
                                   std::vector<std::vector<Tensor<double>>>&, bool);

}  // namespace lrp::train
