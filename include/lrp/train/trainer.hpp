#pragma once
// Training of sequential (and other DAG) models with mini-batch SGD, following the LRP Toolbox's
// Sequential.train (docs/TRAINING.md): networks built from a layer spec in the toolbox's header
// syntax, the toolbox's initialisation and per-layer update scalings, periodic evaluation, early
// stopping and restoring the best model. Everything is deterministic for a given seed.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "lrp/graph/model.hpp"

namespace lrp::train {

// --- networks ------------------------------------------------------------------------------

// Builds a network from layer headers of the toolbox text format separated by ';' (or newlines),
// e.g. "Linear 784 100; Rect; Linear 100 10; SoftMax" or
// "Convolution 5 5 1 10 1 1; Rect; SumPool 2 2 2 2; ...; Flatten". Layers: Linear m n,
// Convolution h w d n s0 s1, SumPool hp wp s0 s1, MaxPool hp wp s0 s1, Flatten, Rect, Tanh, SoftMax.
// Weights are drawn as the toolbox does (Linear W ~ N(0, 1/sqrt(m)), Convolution
// W ~ N(0, 1/sqrt(h*w*d)), in the toolbox's C order of W[m,n] / W[h,w,d,n]); biases are 0.
// The same seed gives the same weights. The model equals one read from a toolbox file with these
// weights (node names, input shape, NHWC layout). Throws FormatError naming the offending token,
// ShapeError when consecutive Linear sizes do not fit.
Model<double> build_network(const std::string& spec, std::uint64_t seed);

// Redraws every Linear / Convolution parameter of `model` with the toolbox initialisation.
void initialize_parameters(Model<double>& model, std::uint64_t seed);

// --- losses --------------------------------------------------------------------------------

enum class Loss {
  Auto,          // cross-entropy when the model ends in SoftMax, squared error otherwise
  CrossEntropy,  // -sum t log softmax(z); on a trailing SoftMax its input z is used
  SquaredError,  // 1/2 sum (y - t)^2 on the model output
};
Loss resolve_loss(const Model<double>& model, Loss loss);
const char* loss_name(Loss loss);

// One-hot targets [N, classes]; throws ConfigError for a label >= classes.
Tensor<double> one_hot(const std::vector<std::size_t>& labels, std::size_t classes);
// Class indices from a label array: [N] or [N,1] integer class indices, or one-hot / score rows
// [N,C] (argmax). Throws FormatError naming `what` for anything else.
std::vector<std::size_t> labels_from_array(const Tensor<double>& y, const std::string& what);

// Gradients of the summed loss over the batch w.r.t. every parameter: grads[node][k] matches
// model.nodes()[node].layer->params()[k] (empty for layers without trainable parameters).
// Returns the summed loss. With `toolbox_backward` the gradient reaching a Linear layer's input is
// multiplied by sqrt(in/out) as the toolbox's Linear.backward does (not a true gradient).
// A trailing SoftMax under cross-entropy passes the error signal p - t straight to the logits.
template <class T>
double loss_and_gradients(const Model<T>& model, const Tensor<T>& x, const Tensor<T>& targets, Loss loss,
                          std::vector<std::vector<Tensor<T>>>& grads, bool toolbox_backward = false);

// --- training ------------------------------------------------------------------------------

enum class LrateDecay { None, Sublinear, Linear };
enum class Optimizer {
  Toolbox,   // SGD on the summed batch loss with the toolbox's per-layer scalings (default)
  Sgd,       // plain SGD on the mean batch loss: p -= lrate * grad
  Momentum,  // v = momentum * v + grad; p -= lrate * v (mean batch loss)
};
enum class Precision { Double, Float };

struct Evaluation {
  std::size_t iteration = 0;  // iterations done when evaluated (0 = the initial model)
  double accuracy = 0;        // fraction of argmax(output) == argmax(target)
  double loss = 0;            // mean loss per sample
};

struct Progress {
  std::size_t iteration = 0;  // iterations done (1-based after the first update)
  std::size_t iterations = 0; // planned
  double batch_loss = 0;      // mean loss per sample of the last batch
  double lrate = 0;           // learning rate of the last update (after decay)
  bool evaluated = false;     // this iteration ended with an evaluation...
  bool improved = false;      // ...that became the new best model
  bool stopping = false;      // ...after which early stopping ends training
  bool has_evaluation = false;
  Evaluation last;            // latest evaluation (valid when has_evaluation)
  Evaluation best;            // best so far (valid when has_evaluation)
  bool on_validation = false; // evaluations use validation data (else the training data)
  double elapsed_s = 0, eta_s = 0;
};

struct TrainOptions {
  std::size_t batch = 25;       // samples per update (all samples when larger than the data)
  std::size_t iterations = 10000;
  double lrate = 0.005;
  LrateDecay lrate_decay = LrateDecay::None;  // on each improvement: lrate * (1 - acc^2) / (1 - acc)
  std::size_t status = 250;     // evaluate every `status` iterations (0: only at the end)
  long convergence = -1;        // stop after this many evaluations without improvement (<= 0: never)
  std::uint64_t seed = 0;       // mini-batch sampling
  Optimizer optimizer = Optimizer::Toolbox;
  double momentum = 0.9;
  Loss loss = Loss::Auto;
  Precision precision = Precision::Double;
  std::size_t eval_chunk = 1000;  // samples per forward pass during evaluation
  std::function<void(const Progress&)> on_progress;  // called after every iteration
};

// Training (or validation) data in the engine layout: x [N, ...] (NCHW images), targets [N, C].
struct Dataset {
  Tensor<double> x;
  Tensor<double> targets;
};

struct TrainResult {
  Model<double> model;      // the best model (lowest evaluation loss; later ties win)
  Evaluation best;
  Evaluation last;          // the model when training ended (before restoring the best)
  std::vector<Evaluation> history;
  std::size_t iterations = 0;  // iterations run
  bool stopped_early = false;
  double seconds = 0;
};

// Trains a copy of `init`. Evaluates every `status` iterations (and after the last iteration) on
// `validation` when it has samples, otherwise on the training data. Throws ShapeError when data,
// targets and model do not fit, ConfigError for bad options, NumericError when the loss diverges.
TrainResult train(const Model<double>& init, const Dataset& data, const Dataset& validation, const TrainOptions& options);

// Accuracy and mean loss of `model` on `data`.
Evaluation evaluate(const Model<double>& model, const Dataset& data, Loss loss, Precision precision = Precision::Double,
                    std::size_t chunk = 1000);

}  // namespace lrp::train
