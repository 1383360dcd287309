// Dispatch of a rule to the layer kind it is applied to. Layers that only move data (Flatten,
// Reshape, Concat, Pad, Transpose, Slice) route relevance like their gradient whatever the rule; elementwise
// layers (PRelu included) and LRN pass it through for LRP rules, products to their signal factor.
#include "lrp/rules/apply.hpp"

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "kernels/dnnl_conv.hpp"
#include "kernels/elementwise.hpp"
#include "lrp/core/error.hpp"
#include "lrp/layers/activation.hpp"
#include "lrp/layers/batch_norm.hpp"
#include "lrp/layers/layer_norm.hpp"
#include "lrp/layers/masked_fill.hpp"
#include "lrp/layers/merge.hpp"
#include "lrp/layers/reshape.hpp"
#include "lrp/layers/scale.hpp"
#include "rules/affine_rules.hpp"
#include "rules/pool_rules.hpp"
#include "rules/recurrent_rules.hpp"
#include "rules/tensor_ops.hpp"
#include "rules/transformer_rules.hpp"

namespace lrp {

template <class T>
ParamCache<T>::~ParamCache() {
  clear();
}

template <class T>
void ParamCache<T>::clear() {
  if constexpr (std::is_same_v<T, float>)
    for (const auto& kv : cache_) kernels::dnnl_conv_forget_weights(kv.second.data());
  cache_.clear();
}

template <class T>
std::size_t ParamCache<T>::bytes() const {
  std::size_t n = 0;
  for (const auto& kv : cache_) n += kv.second.size() * sizeof(T);
  return n;
}

template <class T>
bool RuleInput<T>::input_non_negative(std::size_t k) const {
  if (k < non_negative.size() && non_negative[k]) return true;
  return ops::non_negative(*inputs[k]);
}

template class ParamCache<float>;
template class ParamCache<double>;
template struct RuleInput<float>;
template struct RuleInput<double>;

namespace {

template <class T>
std::vector<Tensor<T>> gradient(const RuleInput<T>& in) {
  std::vector<Tensor<T>> din;
  in.layer.backward(in.inputs, in.output, in.relevance, din);
  return din;
}

bool is_lrp(RuleKind k) {
  return !is_gradient_kind(k);
}

// The relevance itself, without a copy when the executor lets the rule consume it.
template <class T>
Tensor<T> pass_through(const RuleInput<T>& in) {
  if (in.relevance_scratch) return std::move(*in.relevance_scratch);
  return in.relevance;
}

// DeepLIFT's Rescale rule on an elementwise nonlinearity f. The batch holds the inputs and below
// them their baselines (row r's baseline is row r + rows / 2); the multiplier is the secant
// slope (f(x) - f(x0)) / (x - x0), and f'(x) where x and x0 coincide (|x - x0| <= 1e-10, as
// Captum). The baselines' rows get 0: nothing is explained for them.
template <class T>
std::vector<Tensor<T>> rescale_relevance(const RuleInput<T>& in) {
  std::vector<Tensor<T>> out = gradient(in);
  const T* x = in.inputs[0]->data();
  const T* y = in.output.data();
  const T* g = in.relevance.data();
  T* o = out[0].data();
  const std::size_t half = out[0].size() / 2;
  ops::for_range(half, [&](std::size_t b, std::size_t e) {
    for (std::size_t i = b; i < e; ++i) {
      const T dx = x[i] - x[i + half];
      if (std::abs(dx) > T(1e-10)) o[i] = g[i] * (y[i] - y[i + half]) / dx;
      o[i + half] = T(0);
    }
  });
  return out;
}

template <class T>
std::vector<Tensor<T>> activation_relevance(const Rule& rule, const Activation<T>& act, const RuleInput<T>& in) {
  if (rule.kind == RuleKind::Rescale) return rescale_relevance(in);
  if (rule.kind == RuleKind::DeconvNet && act.is_relu()) {
    Tensor<T> out = pass_through(in);
    T* p = out.data();
    ops::for_range(out.size(), [&](std::size_t b, std::size_t e) {
      for (std::size_t i = b; i < e; ++i) p[i] = p[i] > T(0) ? p[i] : T(0);
    });
    return ops::only(std::move(out));
  }
  if ((rule.kind == RuleKind::Gradient || rule.kind == RuleKind::GuidedBackprop) && act.is_relu()) {
    // The ReLU's gradient mask (guided backprop: and the incoming sign) applied in place: no
    // new tensor to allocate and fill, which cost ~18x the forward's time on large maps. It
    // reads the ReLU's output (y > 0 exactly where x > 0), so that the convolution before the
    // ReLU can run fused with it and its own output need not be kept.
    const bool guided = rule.kind == RuleKind::GuidedBackprop;
    Tensor<T> out = pass_through(in);
    const T* y = in.output.data();
    T* p = out.data();
    ops::for_range(out.size(), [&](std::size_t b, std::size_t e) {
      if (guided) {
        for (std::size_t i = b; i < e; ++i) p[i] = y[i] > T(0) && p[i] > T(0) ? p[i] : T(0);
      } else {
        for (std::size_t i = b; i < e; ++i) p[i] = y[i] > T(0) ? p[i] : T(0);
      }
    });
    return ops::only(std::move(out));
  }
  if (rule.kind == RuleKind::BetaSmooth && act.is_relu()) {
    // The softplus log(1 + exp(beta x)) / beta's derivative in place of the ReLU's step.
    Tensor<T> out = pass_through(in);
    const T* x = in.inputs[0]->data();
    T* p = out.data();
    const T beta = static_cast<T>(rule.smooth_beta);
    ops::for_range(out.size(), [&](std::size_t b, std::size_t e) {
      for (std::size_t i = b; i < e; ++i) p[i] *= T(1) / (T(1) + std::exp(-beta * x[i]));
    });
    return ops::only(std::move(out));
  }
  if (is_lrp(rule.kind)) return ops::only(pass_through(in));
  return gradient(in);
}

// Epsilon/z on a per-channel affine map: R_in = scale * x * R / stab(y) (with /nobias y - shift,
// scale * x itself).
template <class T>
std::vector<Tensor<T>> batch_norm_relevance(const Rule& rule, const BatchNorm<T>& bn, const RuleInput<T>& in) {
  if (rule.kind == RuleKind::Epsilon || rule.kind == RuleKind::Norm) {
    const bool no_shift = rule.zero_bias;
    const Tensor<T>& x = *in.inputs[0];
    const std::size_t c = bn.scale().size(), plane = x.sample_size() / c;
    Tensor<T> out = Tensor<T>::uninitialized(x.shape());
    const T eps = static_cast<T>(rule.epsilon);
    const T* xp = x.data();
    const T* rp = in.relevance.data();
    const T* yp = in.output.data();
    T* op = out.data();
    ops::for_chunks(x.size() / plane, plane, [&](std::size_t q, std::size_t b, std::size_t e) {
      const T a = bn.scale()[q % c];
      const std::size_t o = q * plane;
      if (no_shift) {
        for (std::size_t i = o + b; i < o + e; ++i) op[i] = a * xp[i] * rp[i] / stabilize(a * xp[i], eps);
        return;
      }
      for (std::size_t i = o + b; i < o + e; ++i) op[i] = a * xp[i] * rp[i] / stabilize(yp[i], eps);
    });
    return ops::only(std::move(out));
  }
  if (is_lrp(rule.kind)) return ops::only(pass_through(in));
  return gradient(in);
}

// LayerNorm: epsilon (and norm) on the linear map it is for a fixed standard deviation sigma,
// R_i = x_i / sigma (gamma_i s_i - mean_c(gamma_c s_c)) with s = R / stab(y) (Ali et al. 2022);
// other LRP rules pass the relevance on, gradient methods take the gradient. With /nobias,
// s = R / stab(y - beta).
template <class T>
std::vector<Tensor<T>> layer_norm_relevance(const Rule& rule, const LayerNorm<T>& ln, const RuleInput<T>& in) {
  if (rule.kind == RuleKind::Epsilon || rule.kind == RuleKind::Norm) {
    const Tensor<T>& x = *in.inputs[0];
    const std::size_t d = ln.gamma().size(), rows = x.size() / d;
    const std::vector<T> rstd = ln.inverse_std(x);
    Tensor<T> out = Tensor<T>::uninitialized(x.shape());
    const T eps = static_cast<T>(rule.epsilon);
    const T* gamma = ln.gamma().data();
    const T* beta = rule.zero_bias ? ln.beta().data() : nullptr;
    const long long n = static_cast<long long>(rows);
#pragma omp parallel for schedule(static) if (x.size() >= 65536)
    for (long long rr_ = 0; rr_ < n; ++rr_) {  // whole rows: the mean couples a row's entries
      const std::size_t r = static_cast<std::size_t>(rr_);
      const T* xr = x.data() + r * d;
      const T* rr = in.relevance.data() + r * d;
      const T* yr = in.output.data() + r * d;
      T* o = out.data() + r * d;
      T mean_gs = 0;
      for (std::size_t i = 0; i < d; ++i) {  // gamma_i s_i, kept in the output row
        o[i] = gamma[i] * rr[i] / stabilize(beta ? yr[i] - beta[i] : yr[i], eps);
        mean_gs += o[i];
      }
      mean_gs = ln.centered() ? mean_gs / static_cast<T>(d) : T(0);  // RMSNorm subtracts no mean
      for (std::size_t i = 0; i < d; ++i) o[i] = xr[i] * rstd[r] * (o[i] - mean_gs);
    }
    return ops::only(std::move(out));
  }
  if (is_lrp(rule.kind)) return ops::only(pass_through(in));
  return gradient(in);
}

// Sums (residual connections): relevance split in proportion to the summands (Zennit's Norm
// rule on its Sum module); the gradient copies it to every input.
template <class T>
std::vector<Tensor<T>> add_relevance(const Rule& rule, const RuleInput<T>& in) {
  if (!is_lrp(rule.kind) || rule.kind == RuleKind::Pass) {
    std::vector<Tensor<T>> out(in.inputs.size() - 1, in.relevance);
    out.push_back(pass_through(in));  // the last input takes the incoming tensor itself
    return out;
  }
  const T eps = static_cast<T>(rule.kind == RuleKind::Epsilon || rule.kind == RuleKind::Norm ? rule.epsilon : 1e-6);
  const std::size_t per = in.inputs[0]->sample_size(), rows = in.relevance.dim(0), k = in.repeat, m = in.inputs.size();
  const T* rp = in.relevance.data();
  const T* yp = in.output.data();  // the sum (kept only for other than two summands)
  // One pass: every input's share R * x_j / stab(y) is written at once (the last share may take
  // over the relevance tensor itself).
  std::vector<Tensor<T>> out(m);
  std::vector<T*> op(m);
  std::vector<const T*> xp(m);
  for (std::size_t j = 0; j < m; ++j) {
    out[j] = j + 1 == m && in.relevance_scratch ? std::move(*in.relevance_scratch) : Tensor<T>::uninitialized(in.relevance.shape());
    op[j] = out[j].data();
    xp[j] = in.inputs[j]->data();
  }
  if (in.relevance_scratch) rp = op[m - 1];  // same buffer: read before written, element by element
  ops::for_chunks(rows, per, [&](std::size_t r, std::size_t b, std::size_t e) {
    const std::size_t so = (r / k) * per, ro = r * per;
    if (m == 2) {  // residual connections: one vectorised loop
      kernels::sum_shares(rp + ro + b, xp[0] + so + b, xp[1] + so + b, op[0] + ro + b, op[1] + ro + b, e - b, eps);
      return;
    }
    for (std::size_t i = b; i < e; ++i) {
      const T g = rp[ro + i] / stabilize(yp[so + i], eps);
      for (std::size_t j = 0; j < m; ++j) op[j][ro + i] = g * xp[j][so + i];
    }
  });
  return out;
}

// R scaled by `share` and summed onto `shape` (a factor broadcast on its trailing axes).
template <class T>
Tensor<T> summed_onto(const Tensor<T>& r, const Shape& shape, T share) {
  Tensor<T> out(shape);
  const std::size_t inner = r.size() / std::max<std::size_t>(out.size(), 1);
  T* o = out.data();
  const T* p = r.data();
  if (inner == 1) {  // equal shapes (SwiGLU's product): a scaled copy, vectorised
    ops::for_range(out.size(), [&](std::size_t b, std::size_t e) {
      for (std::size_t i = b; i < e; ++i) o[i] = share * p[i];
    });
    return out;
  }
  for (std::size_t j = 0; j < out.size(); ++j) {
    T sum = 0;
    for (std::size_t q = 0; q < inner; ++q) sum += p[j * inner + q];
    o[j] = share * sum;
  }
  return out;
}

// Products: the gate (a sigmoid output scaling the other factor) is held constant and the
// other factor, the signal, takes all relevance; without a gate each factor takes half.
template <class T>
std::vector<Tensor<T>> mul_relevance(const Rule& rule, const Mul<T>& mul, const RuleInput<T>& in) {
  if (!is_lrp(rule.kind)) return gradient(in);
  const T share = mul.gate() < 0 ? T(0.5) : T(1);
  std::vector<Tensor<T>> out(2);
  for (std::size_t j = 0; j < 2; ++j) {
    const Shape s = in.relevance_shape(j);
    if (static_cast<int>(j) == mul.gate()) out[j] = Tensor<T>(s);
    else if (s == in.relevance.shape() && share == T(1)) out[j] = pass_through(in);
    else out[j] = summed_onto(in.relevance, s, share);
  }
  return out;
}

// Token ids: each token gets its row's relevance summed (LRP); gradient methods the gradient
// times the row, summed (the layer's backward).
template <class T>
std::vector<Tensor<T>> embedding_relevance(const Rule& rule, const RuleInput<T>& in) {
  if (!is_lrp(rule.kind)) return gradient(in);
  const std::size_t d = in.relevance.shape().back();
  Tensor<T> out(in.relevance_shape(0));
  for (std::size_t t = 0; t < out.size(); ++t) {
    T s = 0;
    for (std::size_t j = 0; j < d; ++j) s += in.relevance[t * d + j];
    out[t] = s;
  }
  return ops::only(std::move(out));
}

// Flatten / Reshape: the relevance gets the input's shape (only shapes are needed).
template <class T>
std::vector<Tensor<T>> reshape_relevance(const RuleInput<T>& in) {
  const Shape xs = in.relevance_shape(0);
  if (in.layer.kind() == LayerKind::Flatten && static_cast<const Flatten<T>&>(in.layer).channels_last() && xs.size() == 4) {
    Tensor<T> r = in.relevance.reshaped({xs[0], xs[2], xs[3], xs[1]});
    return ops::only(nhwc_to_nchw(r));
  }
  Tensor<T> r = pass_through(in);
  r.reshape(xs);
  return ops::only(std::move(r));
}

}  // namespace

template <class T>
RuleNeeds rule_needs(const Rule& rule, const Layer<T>& layer) {
  RuleNeeds nothing;
  nothing.inputs = nothing.output = false;
  nothing.repeat = true;
  switch (layer.kind()) {
    case LayerKind::Linear:
    case LayerKind::Conv2d:
    case LayerKind::ConvTranspose2d:
      return affine_rule_needs(rule);
    case LayerKind::Pool2d:
      return pool_rule_needs(rule, static_cast<const Pool2d<T>&>(layer));
    case LayerKind::Activation:
      if (rule.kind == RuleKind::DeconvNet && static_cast<const Activation<T>&>(layer).is_relu()) return nothing;
      if ((rule.kind == RuleKind::Gradient || rule.kind == RuleKind::GuidedBackprop) &&
          static_cast<const Activation<T>&>(layer).is_relu())
        return {.inputs = false, .output = true};  // the mask from the output
      if (rule.kind != RuleKind::GuidedBackprop && is_lrp(rule.kind)) return nothing;
      return {};
    case LayerKind::SoftMax:
      return softmax_rule_needs(rule);
    case LayerKind::MatMul:
      return matmul_rule_needs(rule);
    case LayerKind::Bias:
      return bias_rule_needs(rule);
    case LayerKind::LRN:
    case LayerKind::PRelu:
      return is_lrp(rule.kind) ? nothing : RuleNeeds{};
    case LayerKind::BatchNorm:
    case LayerKind::LayerNorm:
      if (rule.kind == RuleKind::Epsilon || rule.kind == RuleKind::Norm || !is_lrp(rule.kind)) return {};
      return nothing;
    case LayerKind::Add:
      if (!is_lrp(rule.kind) || rule.kind == RuleKind::Pass) return nothing;
      // Two summands (residual connections): the rule forms their sum again, bit for bit what
      // the forward stored, so the sum is not kept and the ReLU after it can run fused.
      return {.inputs = true, .output = layer.num_inputs() != 2, .repeat = true};
    case LayerKind::Flatten:
    case LayerKind::Reshape:
      return nothing;
    case LayerKind::Concat:
    case LayerKind::Pad:
    case LayerKind::Transpose:
    case LayerKind::Slice:
    case LayerKind::Resize:
      return nothing;  // their gradient needs the shapes alone (Layer::backward_from_shapes)
    case LayerKind::Extremum:
      return {};
    case LayerKind::Mul:
      return is_lrp(rule.kind) ? nothing : RuleNeeds{};
    case LayerKind::Embedding:
      return is_lrp(rule.kind) ? nothing : RuleNeeds{};
    case LayerKind::MaskedFill:
    case LayerKind::Scale:
      return nothing;
    case LayerKind::Lstm:
    case LayerKind::Gru:
    case LayerKind::Rnn:
      return recurrent_rule_needs(rule);
  }
  return {};
}

template <class T>
std::vector<Tensor<T>> apply_rule(const Rule& rule, const RuleInput<T>& in) {
  const Layer<T>& layer = in.layer;
  switch (layer.kind()) {
    case LayerKind::Linear:
    case LayerKind::Conv2d:
    case LayerKind::ConvTranspose2d:
      if (rule.kind == RuleKind::Pass) break;
      return affine_relevance(rule, static_cast<const AffineLayer<T>&>(layer), in);
    case LayerKind::Pool2d:
      return pool_relevance(rule, static_cast<const Pool2d<T>&>(layer), in);
    case LayerKind::Activation:
      return activation_relevance(rule, static_cast<const Activation<T>&>(layer), in);
    case LayerKind::SoftMax:
      return softmax_relevance(rule, in);
    case LayerKind::MatMul:
      return matmul_relevance(rule, in);
    case LayerKind::Bias:
      return bias_relevance(rule, in);
    case LayerKind::LRN:    // LRP: pass (Binder et al. 2016); deconvnet/guided backprop: its gradient
    case LayerKind::PRelu:  // as a LeakyReLU: pass for LRP rules, its exact gradient otherwise
      if (is_lrp(rule.kind)) return ops::only(pass_through(in));
      if (rule.kind == RuleKind::Rescale && layer.kind() == LayerKind::PRelu) return rescale_relevance(in);
      return gradient(in);
    case LayerKind::BatchNorm:
      return batch_norm_relevance(rule, static_cast<const BatchNorm<T>&>(layer), in);
    case LayerKind::LayerNorm:
      return layer_norm_relevance(rule, static_cast<const LayerNorm<T>&>(layer), in);
    case LayerKind::Add:
      return add_relevance(rule, in);
    case LayerKind::Flatten:
    case LayerKind::Reshape:
      return reshape_relevance(in);
    case LayerKind::Concat:
    case LayerKind::Pad:
    case LayerKind::Transpose:
    case LayerKind::Slice:
    case LayerKind::Resize: {  // every rule: the gradient, which moves the relevance back
      std::vector<Shape> shapes;
      for (std::size_t k = 0; k < in.inputs.size(); ++k) shapes.push_back(in.relevance_shape(k));
      std::vector<Tensor<T>> din;
      if (!layer.backward_from_shapes(shapes, in.relevance, din)) throw ConfigError("internal: no gradient from shapes");
      return din;
    }
    case LayerKind::Extremum:  // relevance to the input holding the extremum (its gradient)
      return gradient(in);
    case LayerKind::Mul:
      return mul_relevance(rule, static_cast<const Mul<T>&>(layer), in);
    case LayerKind::Embedding:
      return embedding_relevance(rule, in);
    case LayerKind::MaskedFill: {  // every rule: what reaches a kept entry, nothing for a filled one
      Tensor<T> r = pass_through(in);
      static_cast<const MaskedFill<T>&>(layer).zero_filled(r);
      return ops::only(std::move(r));
    }
    case LayerKind::Scale: {  // LRP: a linear map without bias passes relevance on; else its gradient
      if (is_gradient_kind(rule.kind)) return gradient(in);
      Tensor<T> r = pass_through(in);
      static_cast<const Scale<T>&>(layer).pass_relevance(r);
      return ops::only(std::move(r));
    }
    case LayerKind::Lstm:
      return lstm_relevance(rule, static_cast<const Lstm<T>&>(layer), in);
    case LayerKind::Gru:
      return gru_relevance(rule, static_cast<const Gru<T>&>(layer), in);
    case LayerKind::Rnn:
      return rnn_relevance(rule, static_cast<const Rnn<T>&>(layer), in);
  }
  throw ConfigError("rule '" + rule.text + "' cannot be applied to a " + layer.type_name() + " layer");
}

template RuleNeeds rule_needs(const Rule&, const Layer<float>&);
template RuleNeeds rule_needs(const Rule&, const Layer<double>&);
template std::vector<Tensor<float>> apply_rule(const Rule&, const RuleInput<float>&);
template std::vector<Tensor<double>> apply_rule(const Rule&, const RuleInput<double>&);

}  // namespace lrp
