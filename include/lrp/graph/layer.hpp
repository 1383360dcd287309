#pragma once
// A layer of a network: what it computes forward, its vector-Jacobian product (for gradients
// and training), and its parameters. Relevance rules live in lrp/rules, not here: a layer only
// exposes the primitives the rules are built from.
#include <memory>
#include <string>
#include <vector>

#include "lrp/core/tensor.hpp"

namespace lrp {

enum class LayerKind {
  Linear,
  Conv2d,
  ConvTranspose2d,
  Pool2d,     // max, sum or average pooling
  Activation, // elementwise: ReLU, LeakyReLU, Tanh, Sigmoid, Clip, HardSigmoid, HardSwish, Erf, GELU
  SoftMax,
  Flatten,
  Reshape,
  BatchNorm,  // per-channel affine (a BatchNorm that could not be folded)
  Add,
  Concat,
  Pad,
  Mul,        // elementwise product of two computed values (gates: squeeze-excitation, SiLU)
  Transpose,  // per-sample axes permuted
  Slice,      // a box of each sample
  Resize,     // nearest or (bi)linear interpolation of H, W
  LayerNorm,  // normalisation over the last axis
  LRN,        // local response normalisation across channels
  PRelu,      // parametric ReLU: a learned slope for x < 0, per channel or shared
  Bias,       // a constant of one sample's shape added (position embeddings)
  MatMul,     // matrix product of two computed values (attention)
  Embedding,  // token ids -> rows of a table (text transformers)
  Extremum,   // elementwise maximum or minimum of computed values (maxout)
  MaskedFill, // a constant written where a constant mask says so (a decoder's causal mask)
  Scale,      // elementwise product with a constant of one sample's shape (rotary embeddings)
  Lstm,       // long short-term memory over [T, B, D] (ONNX LSTM)
  Gru,        // gated recurrent unit over [T, B, D] (ONNX GRU)
  Rnn,        // simple recurrent layer over [T, B, D] (ONNX RNN)
};

const char* layer_kind_name(LayerKind kind);

template <class T>
using TensorRefs = std::vector<const Tensor<T>*>;

// Parameters are kept as tensors; `params()` lists them in a fixed order for training and
// for writing models.
template <class T>
class Layer {
 public:
  virtual ~Layer() = default;
  virtual LayerKind kind() const = 0;
  // The layer's type as written in model files / shown by `lrp info` ("Linear", "Convolution", ...).
  virtual std::string type_name() const = 0;
  // Short human description of the configuration ("784 -> 10", "5x5x1x10 stride 1,1").
  virtual std::string describe() const = 0;
  virtual std::size_t num_inputs() const { return 1; }
  // Per-sample output shape (no batch dimension) for per-sample input shapes; throws ShapeError.
  virtual Shape output_shape(const std::vector<Shape>& inputs) const = 0;

  // Batch forward: inputs [N, ...] → out [N, ...].
  virtual void forward(const TensorRefs<T>& in, Tensor<T>& out) const = 0;
  // The forward, also giving what the layer's rules would otherwise recompute from the inputs
  // (an LSTM's gate inputs: the products of every time step); the executor keeps it for the
  // rules that ask (RuleNeeds::saved). Layers with nothing to save leave `saved` empty.
  virtual void forward_saving(const TensorRefs<T>& in, Tensor<T>& out, Tensor<T>& saved) const {
    forward(in, out);
    saved = Tensor<T>();
  }
  // Elements per sample, for per-sample input shapes, that the layer holds beside its inputs and
  // output in a backward sweep: what forward_saving saves (held from the forward to the layer's
  // rule), and what its rule builds while it runs (transient). The memory budgets of many
  // targets or samples per pass count them. 0 for most layers.
  virtual std::size_t saved_numel(const std::vector<Shape>& /*inputs*/) const { return 0; }
  virtual std::size_t transient_numel(const std::vector<Shape>& /*inputs*/) const { return 0; }
  // Vector-Jacobian product: given the forward inputs/output and dL/dout, dL/din for every input.
  virtual void backward(const TensorRefs<T>& in, const Tensor<T>& out, const Tensor<T>& dout,
                        std::vector<Tensor<T>>& din) const = 0;
  // The same from the inputs' shapes alone (`in_shapes` with as many rows as dout), for layers
  // that only move, copy or pad elements; false (nothing computed) where the values are needed.
  // Lets a backward sweep release such a layer's input and output after the forward.
  virtual bool backward_from_shapes(const std::vector<Shape>& /*in_shapes*/, const Tensor<T>& /*dout*/,
                                    std::vector<Tensor<T>>& /*din*/) const {
    return false;
  }

  // Trainable parameters (weights first, then bias) and their gradients from the last
  // `accumulate_param_grads` call.
  virtual std::vector<Tensor<T>*> params() { return {}; }
  virtual std::vector<const Tensor<T>*> params() const { return {}; }
  // dL/dparams for the given forward input and dL/dout (summed over the batch).
  virtual void param_grads(const TensorRefs<T>& /*in*/, const Tensor<T>& /*dout*/, std::vector<Tensor<T>>& /*grads*/) const {}
  std::size_t param_count() const {
    std::size_t n = 0;
    for (const Tensor<T>* p : params()) n += p->size();
    return n;
  }

  // Deep copies, in the same or the other precision.
  virtual std::unique_ptr<Layer<float>> to_float() const = 0;
  virtual std::unique_ptr<Layer<double>> to_double() const = 0;
};

// layer.output_shape(in), refused (ShapeError) beyond kMaxSampleElements values per sample:
// Model::infer_shapes and the importers' own shape tracking all infer shapes through it.
template <class T>
Shape checked_output_shape(const Layer<T>& layer, const std::vector<Shape>& in) {
  Shape out = layer.output_shape(in);
  sample_numel(out);
  return out;
}

}  // namespace lrp
