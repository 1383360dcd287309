// The training loop (the toolbox's Sequential.train) and evaluation.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <random>

#include "lrp/core/error.hpp"
#include "train/train_detail.hpp"

namespace lrp::train {
namespace {

using Clock = std::chrono::steady_clock;

Shape per_sample(const Tensor<double>& x) { return Shape(x.shape().begin() + 1, x.shape().end()); }

// Checks data against the model; returns the per-sample shapes of every value.
std::vector<Shape> check_data(const Model<double>& model, const Dataset& d, const std::string& what) {
  if (d.x.rank() < 2 || d.x.dim(0) == 0) throw ShapeError(what + " data must be [N, ...] with N > 0, got " + shape_str(d.x.shape()));
  if (d.targets.rank() != 2 || d.targets.dim(0) != d.x.dim(0))
    throw ShapeError(what + ": " + std::to_string(d.x.dim(0)) + " samples but targets of shape " + shape_str(d.targets.shape()));
  const std::vector<Shape> shapes = model.infer_shapes(per_sample(d.x));
  const Shape& out = shapes.at(model.output_value());
  if (out.size() != 1 || out[0] != d.targets.dim(1))
    throw ShapeError(what + ": targets have " + std::to_string(d.targets.dim(1)) + " columns, the model output per sample is " +
                     shape_str(out));
  if (!all_finite(d.x)) throw NumericError(what + " data contain NaN or Inf");
  if (!all_finite(d.targets)) throw NumericError(what + " targets contain NaN or Inf");
  return shapes;
}

template <class T>
void gather(const Tensor<T>& src, const std::vector<std::size_t>& idx, Tensor<T>& dst) {
  Shape s = src.shape();
  s[0] = idx.size();
  if (dst.shape() != s) dst = Tensor<T>(s);
  const std::size_t per = src.sample_size();
  for (std::size_t i = 0; i < idx.size(); ++i) std::copy_n(src.data() + idx[i] * per, per, dst.data() + i * per);
}

template <class T>
Evaluation evaluate_impl(const Model<T>& model, const Tensor<T>& x, const Tensor<T>& t, Loss loss, std::size_t chunk) {
  const std::size_t n = x.dim(0);
  chunk = std::max<std::size_t>(chunk, 1);
  Executor<T> ex(model);
  double total = 0;
  std::size_t correct = 0;
  std::vector<std::size_t> idx;
  Tensor<T> bx, bt;
  for (std::size_t start = 0; start < n; start += chunk) {
    const std::size_t len = std::min(chunk, n - start);
    idx.resize(len);
    std::iota(idx.begin(), idx.end(), start);
    const Tensor<T>* px = &x;
    const Tensor<T>* pt = &t;
    if (len != n) {
      gather(x, idx, bx);
      gather(t, idx, bt);
      px = &bx;
      pt = &bt;
    }
    ex.forward(*px);
    total += detail::batch_loss<T>(model, ex, *pt, loss, nullptr);
    correct += detail::count_correct(ex.output(), *pt);
  }
  Evaluation e;
  e.accuracy = static_cast<double>(correct) / static_cast<double>(n);
  e.loss = total / static_cast<double>(n);
  return e;
}

void check_options(const TrainOptions& o) {
  if (o.batch == 0) throw ConfigError("batch size must be positive");
  if (!(o.lrate > 0) || !std::isfinite(o.lrate)) throw ConfigError("learning rate must be a positive number");
  if (!(o.momentum >= 0 && o.momentum < 1)) throw ConfigError("momentum must lie in [0, 1)");
}

template <class T>
TrainResult train_impl(const Model<double>& init, const Dataset& data, const Dataset& validation, const TrainOptions& o) {
  const auto t0 = Clock::now();
  const std::vector<Shape> shapes = check_data(init, data, "training");
  const bool use_val = !validation.x.empty();
  if (use_val) check_data(init, validation, "validation");
  const Loss loss = detail::resolve(init, o.loss);

  Model<T> model = init.convert<T>();
  const Tensor<T> x = data.x.cast<T>(), t = data.targets.cast<T>();
  Tensor<T> vx, vt;
  if (use_val) {
    vx = validation.x.cast<T>();
    vt = validation.targets.cast<T>();
  }
  const Tensor<T>& ex_x = use_val ? vx : x;
  const Tensor<T>& ex_t = use_val ? vt : t;

  const std::size_t n = x.dim(0), b = std::min(o.batch, n);
  std::mt19937_64 rng(o.seed);
  std::vector<std::size_t> perm(n), idx(b);
  std::iota(perm.begin(), perm.end(), 0);

  TrainResult result;
  Model<T> best = model;
  bool has_best = false;
  double factor = 1.0;
  long until_convergence = o.convergence;
  detail::Updater<T> updater(o.optimizer, o.momentum);
  detail::Grads<T> grads;
  Executor<T> ex(model);
  Tensor<T> bx, bt;
  Progress p;
  p.iterations = o.iterations;
  p.on_validation = use_val;

  // Evaluates the current model; keeps it when the loss does not get worse. Returns whether the
  // patience for early stopping has run out.
  auto evaluate_now = [&](std::size_t iteration) {
    Evaluation e = evaluate_impl(model, ex_x, ex_t, loss, o.eval_chunk);
    e.iteration = iteration;
    if (!std::isfinite(e.loss))
      throw NumericError("training diverged: the evaluation loss is " + std::to_string(e.loss) + " after " + std::to_string(iteration) +
                         " iterations (try a smaller learning rate)");
    result.history.push_back(e);
    result.last = e;
    p.evaluated = true;
    p.has_evaluation = true;
    p.last = e;
    p.improved = !has_best || e.loss <= result.best.loss;
    bool stop = false;
    if (p.improved) {
      best = model;
      has_best = true;
      result.best = e;
      if (o.lrate_decay == LrateDecay::Sublinear) factor = 1.0 - e.accuracy * e.accuracy;
      if (o.lrate_decay == LrateDecay::Linear) factor = 1.0 - e.accuracy;
      until_convergence = o.convergence;
    } else {
      --until_convergence;
      stop = o.convergence > 0 && until_convergence <= 0;
    }
    p.best = result.best;
    return stop;
  };

  std::size_t it = 0;
  while (it < o.iterations) {
    // b distinct indices (partial Fisher-Yates), sorted like the toolbox's unique()
    for (std::size_t i = 0; i < b; ++i) {
      std::uniform_int_distribution<std::size_t> pick(i, n - 1);
      std::swap(perm[i], perm[pick(rng)]);
    }
    std::copy_n(perm.begin(), b, idx.begin());
    std::sort(idx.begin(), idx.end());
    gather(x, idx, bx);
    gather(t, idx, bt);
    ex.forward(bx);
    const double batch_loss = detail::backprop(model, ex, bt, loss, grads, o.optimizer == Optimizer::Toolbox);
    if (!std::isfinite(batch_loss))
      throw NumericError("training diverged: the batch loss is " + std::to_string(batch_loss) + " at iteration " +
                         std::to_string(it + 1) + " (try a smaller learning rate)");
    const double lrate = o.lrate * factor;
    updater.step(model, grads, shapes, lrate, b);
    ++it;

    p.iteration = it;
    p.batch_loss = batch_loss / static_cast<double>(b);
    p.lrate = lrate;
    p.evaluated = p.improved = p.stopping = false;
    const bool at_status = o.status > 0 && it % o.status == 0;
    if (at_status || it == o.iterations) {
      p.stopping = evaluate_now(it);
      if (p.stopping) result.stopped_early = true;
    }
    const double elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
    p.elapsed_s = elapsed;
    p.eta_s = result.stopped_early ? 0.0 : elapsed / static_cast<double>(it) * static_cast<double>(o.iterations - it);
    if (o.on_progress) o.on_progress(p);
    if (result.stopped_early) break;
  }
  if (!has_best) evaluate_now(0);  // no iterations: the initial model
  result.iterations = it;
  result.model = best.template convert<double>();
  result.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  return result;
}

}  // namespace

TrainResult train(const Model<double>& init, const Dataset& data, const Dataset& validation, const TrainOptions& options) {
  check_options(options);
  init.validate();
  if (options.precision == Precision::Float) return train_impl<float>(init, data, validation, options);
  return train_impl<double>(init, data, validation, options);
}

Evaluation evaluate(const Model<double>& model, const Dataset& data, Loss loss, Precision precision, std::size_t chunk) {
  check_data(model, data, "evaluation");
  loss = detail::resolve(model, loss);
  if (precision == Precision::Float)
    return evaluate_impl(model.convert<float>(), data.x.cast<float>(), data.targets.cast<float>(), loss, chunk);
  return evaluate_impl(model, data.x, data.targets, loss, chunk);
}

}  // namespace lrp::train
