#pragma once
// Internals shared by the training sources: loss seeds, the backward sweep, the optimizers.
#include <cstddef>
#include <vector>

#include "lrp/explain/executor.hpp"
#include "lrp/train/trainer.hpp"

namespace lrp::train::detail {

template <class T>
using Grads = std::vector<std::vector<Tensor<T>>>;

// Index of a trailing SoftMax node producing the model output, or -1.
template <class T>
long trailing_softmax(const Model<T>& model);

template <class T>
Loss resolve(const Model<T>& model, Loss loss);

// Where the backward sweep starts: dL/d(value) for one value of the graph.
template <class T>
struct LossSeed {
  std::size_t value = 0;
  Tensor<T> grad;
};

// Summed loss of the batch the executor last ran forward, and (when `seed` is given) the
// gradient to start the backward sweep from. `loss` must be resolved (not Auto).
template <class T>
double batch_loss(const Model<T>& model, const Executor<T>& ex, const Tensor<T>& targets, Loss loss, LossSeed<T>* seed);

// Number of samples whose output argmax equals the target argmax (first maximum on ties).
template <class T>
std::size_t count_correct(const Tensor<T>& output, const Tensor<T>& targets);

// Backward sweep after ex.forward(): fills grads (see loss_and_gradients) and returns the
// summed loss.
template <class T>
double backprop(const Model<T>& model, const Executor<T>& ex, const Tensor<T>& targets, Loss loss, Grads<T>& grads,
                bool toolbox_backward);

// Parameter updates. `shapes` are the per-sample value shapes (for the toolbox's convolution
// scaling by the output size).
template <class T>
class Updater {
 public:
  Updater(Optimizer optimizer, double momentum) : optimizer_(optimizer), momentum_(momentum) {}
  void step(Model<T>& model, const Grads<T>& grads, const std::vector<Shape>& shapes, double lrate, std::size_t batch);

 private:
  Optimizer optimizer_;
  double momentum_;
  Grads<T> velocity_;
};

}  // namespace lrp::train::detail
