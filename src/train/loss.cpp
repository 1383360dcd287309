// Losses (softmax cross-entropy, squared error), targets and accuracy.
#include <algorithm>
#include <cmath>

#include "lrp/core/error.hpp"
#include "lrp/layers/activation.hpp"
#include "train/train_detail.hpp"

namespace lrp::train {
namespace detail {

template <class T>
long trailing_softmax(const Model<T>& model) {
  const auto& nodes = model.nodes();
  for (std::size_t i = nodes.size(); i-- > 0;)
    if (nodes[i].output == model.output_value())
      return nodes[i].layer->kind() == LayerKind::SoftMax ? static_cast<long>(i) : -1;
  return -1;
}

template <class T>
Loss resolve(const Model<T>& model, Loss loss) {
  if (loss != Loss::Auto) return loss;
  return trailing_softmax(model) >= 0 ? Loss::CrossEntropy : Loss::SquaredError;
}

template <class T>
double batch_loss(const Model<T>& model, const Executor<T>& ex, const Tensor<T>& targets, Loss loss, LossSeed<T>* seed) {
  const Tensor<T>& y = ex.output();
  const std::size_t n = y.dim(0), c = y.sample_size();
  if (targets.dim(0) != n || targets.sample_size() != c)
    throw ShapeError("targets " + shape_str(targets.shape()) + " do not match the model output " + shape_str(y.shape()));
  double total = 0;
  if (loss == Loss::SquaredError) {
    if (seed) {
      seed->value = model.output_value();
      seed->grad = Tensor<T>(y.shape());
    }
    for (std::size_t i = 0; i < y.size(); ++i) {
      const double d = static_cast<double>(y[i]) - static_cast<double>(targets[i]);
      total += 0.5 * d * d;
      if (seed) seed->grad[i] = static_cast<T>(d);
    }
    return total;
  }
  // Cross-entropy of softmax(z): on a trailing SoftMax z is its input, otherwise the output.
  const long sm = trailing_softmax(model);
  const std::size_t zv = sm >= 0 ? model.nodes()[static_cast<std::size_t>(sm)].inputs[0] : model.output_value();
  const Tensor<T>& z = ex.value(zv);
  if (z.sample_size() != c) throw ShapeError("SoftMax input and output differ in size");
  if (seed) {
    seed->value = zv;
    seed->grad = Tensor<T>(z.shape());
  }
  std::vector<double> logp(c);
  for (std::size_t i = 0; i < n; ++i) {
    const T* zi = z.data() + i * c;
    const T* ti = targets.data() + i * c;
    const double m = static_cast<double>(*std::max_element(zi, zi + c));
    double s = 0;
    for (std::size_t j = 0; j < c; ++j) s += std::exp(static_cast<double>(zi[j]) - m);
    const double log_s = std::log(s);
    double tsum = 0;
    for (std::size_t j = 0; j < c; ++j) {
      logp[j] = static_cast<double>(zi[j]) - m - log_s;
      if (ti[j] != T(0)) total -= static_cast<double>(ti[j]) * logp[j];
      tsum += static_cast<double>(ti[j]);
    }
    // d/dz of -sum t log softmax(z) = p * sum(t) - t  (= p - t for one-hot targets)
    if (seed)
      for (std::size_t j = 0; j < c; ++j)
        seed->grad[i * c + j] = static_cast<T>(std::exp(logp[j]) * tsum - static_cast<double>(ti[j]));
  }
  return total;
}

template <class T>
std::size_t count_correct(const Tensor<T>& output, const Tensor<T>& targets) {
  const std::size_t n = output.dim(0), c = output.sample_size();
  std::size_t correct = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const T* y = output.data() + i * c;
    const T* t = targets.data() + i * c;
    correct += std::max_element(y, y + c) - y == std::max_element(t, t + c) - t;
  }
  return correct;
}

template long trailing_softmax(const Model<float>&);
template long trailing_softmax(const Model<double>&);
template Loss resolve(const Model<float>&, Loss);
template Loss resolve(const Model<double>&, Loss);
template double batch_loss(const Model<float>&, const Executor<float>&, const Tensor<float>&, Loss, LossSeed<float>*);
template double batch_loss(const Model<double>&, const Executor<double>&, const Tensor<double>&, Loss, LossSeed<double>*);
template std::size_t count_correct(const Tensor<float>&, const Tensor<float>&);
template std::size_t count_correct(const Tensor<double>&, const Tensor<double>&);

}  // namespace detail

Loss resolve_loss(const Model<double>& model, Loss loss) { return detail::resolve(model, loss); }

const char* loss_name(Loss loss) {
  switch (loss) {
    case Loss::Auto: return "auto";
    case Loss::CrossEntropy: return "cross-entropy";
    case Loss::SquaredError: return "squared error";
  }
  return "?";
}

Tensor<double> one_hot(const std::vector<std::size_t>& labels, std::size_t classes) {
  Tensor<double> t({labels.size(), classes});
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] >= classes)
      throw ConfigError("label " + std::to_string(labels[i]) + " of sample " + std::to_string(i) + " is not a class of a model with " +
                        std::to_string(classes) + " outputs");
    t[i * classes + labels[i]] = 1.0;
  }
  return t;
}

std::vector<std::size_t> labels_from_array(const Tensor<double>& y, const std::string& what) {
  std::vector<std::size_t> out;
  if (y.rank() == 1 || (y.rank() == 2 && y.dim(1) == 1)) {
    out.reserve(y.size());
    for (std::size_t i = 0; i < y.size(); ++i) {
      const double v = y[i];
      if (!(v >= 0) || v != std::floor(v) || v > 1e9)
        throw FormatError(what + ": label " + std::to_string(v) + " of sample " + std::to_string(i) + " is not a class index");
      out.push_back(static_cast<std::size_t>(v));
    }
  } else if (y.rank() == 2 && y.dim(1) > 1) {
    const std::size_t c = y.dim(1);
    for (std::size_t i = 0; i < y.dim(0); ++i) {
      const double* row = y.data() + i * c;
      if (!std::all_of(row, row + c, [](double v) { return std::isfinite(v); }))
        throw FormatError(what + ": row " + std::to_string(i) + " contains NaN or Inf");
      out.push_back(static_cast<std::size_t>(std::max_element(row, row + c) - row));
    }
  } else {
    throw FormatError(what + ": labels must be class indices [N] / [N,1] or one-hot rows [N,C], got " + shape_str(y.shape()));
  }
  return out;
}

}  // namespace lrp::train
