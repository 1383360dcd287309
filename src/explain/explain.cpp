#include "lrp/explain/explain.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <random>
#include <type_traits>

#include "lrp/core/error.hpp"
#include "lrp/core/kernels.hpp"
#include "lrp/layers/conv2d.hpp"
#include "lrp/core/parse.hpp"
#include "lrp/explain/executor.hpp"
#include "explain/baselines.hpp"
#include "explain/grad_cam.hpp"
#include "explain/seeds.hpp"
#include "explain/perturbation.hpp"
#include "rules/tensor_ops.hpp"

namespace lrp {

using baselines::baseline_draws;
using baselines::baseline_for;

Method parse_method(const std::string& t) {
  if (t == "lrp") return Method::LRP;
  if (t == "gradient" || t == "sensitivity-raw") return Method::Gradient;
  if (t == "gradient-x-input" || t == "gradient_x_input" || t == "inputxgrad") return Method::GradientXInput;
  if (t == "sensitivity") return Method::Sensitivity;
  if (t == "deconvnet") return Method::DeconvNet;
  if (t == "guided-backprop" || t == "guided_backprop") return Method::GuidedBackprop;
  if (t == "smoothgrad") return Method::SmoothGrad;
  if (t == "integrated-gradients" || t == "integrated_gradients" || t == "integrads") return Method::IntegratedGradients;
  if (t == "occlusion") return Method::Occlusion;
  if (t == "grad-cam" || t == "gradcam") return Method::GradCam;
  if (t == "guided-grad-cam" || t == "guided-gradcam") return Method::GuidedGradCam;
  if (t == "deeplift" || t == "deep-lift") return Method::DeepLift;
  if (t == "deeplift-shap" || t == "deepliftshap" || t == "deeplift_shap") return Method::DeepLiftShap;
  if (t == "gradient-shap" || t == "gradientshap" || t == "gradient_shap") return Method::GradientShap;
  if (t == "feature-ablation" || t == "feature_ablation") return Method::FeatureAblation;
  if (t == "shapley-sampling" || t == "shapley_sampling" || t == "shapley") return Method::ShapleySampling;
  if (t == "lime") return Method::Lime;
  if (t == "kernel-shap" || t == "kernel_shap" || t == "kernelshap") return Method::KernelShap;
  throw ConfigError("unknown method '" + t + "' (expected " + method_names() + ")");
}

std::string method_names() {
  return "lrp, gradient, gradient-x-input, sensitivity, deconvnet, guided-backprop, smoothgrad, integrated-gradients, occlusion, "
         "grad-cam, guided-grad-cam, deeplift, deeplift-shap, gradient-shap, feature-ablation, shapley-sampling, lime, kernel-shap";
}

BaselineUse baseline_use(Method m) {
  switch (m) {
    case Method::IntegratedGradients:
    case Method::DeepLift:
    case Method::FeatureAblation:
    case Method::ShapleySampling:
    case Method::Lime:
    case Method::KernelShap: return BaselineUse::PerSample;
    case Method::DeepLiftShap:
    case Method::GradientShap: return BaselineUse::Draws;
    default: return BaselineUse::None;
  }
}

bool reads_token_ids(Method m) {
  switch (m) {
    case Method::LRP:
    case Method::Gradient:
    case Method::DeconvNet:
    case Method::GuidedBackprop:
    case Method::Occlusion:
    case Method::FeatureAblation:
    case Method::ShapleySampling:
    case Method::Lime:
    case Method::KernelShap: return true;
    default: return false;
  }
}

bool runs_in_embedding_space(Method m) {
  switch (m) {
    case Method::GradientXInput:
    case Method::SmoothGrad:
    case Method::IntegratedGradients:
    case Method::DeepLift:
    case Method::DeepLiftShap:
    case Method::GradientShap: return true;
    default: return false;
  }
}

bool uses_feature_mask(Method m) {
  return m == Method::FeatureAblation || m == Method::ShapleySampling || m == Method::Lime || m == Method::KernelShap;
}

NoiseType parse_noise_type(const std::string& t) {
  if (t == "smoothgrad") return NoiseType::SmoothGrad;
  if (t == "smoothgrad-sq" || t == "smoothgrad_sq") return NoiseType::SmoothGradSquared;
  if (t == "vargrad") return NoiseType::VarGrad;
  throw ConfigError("unknown noise type '" + t + "' (expected smoothgrad, smoothgrad-sq, vargrad)");
}

// "position:P" or "position:P:REST": P an integer (negative from the end), REST the rest.
std::pair<long, std::string> split_position(const std::string& text) {
  const std::string body = text.substr(9);
  const std::size_t colon = body.find(':');
  const std::string p = body.substr(0, colon);
  char* end = nullptr;
  errno = 0;
  const long position = std::strtol(p.c_str(), &end, 10);
  if (p.empty() || *end != '\0' || errno != 0 || position < -(1L << 40) || position > (1L << 40))
    throw ConfigError("target '" + text + "': position '" + p + "' is not an integer (position:P or position:P:CLASSES)");
  return {position, colon == std::string::npos ? "predicted" : body.substr(colon + 1)};
}

Target parse_target(const std::string& text) {
  if (text.rfind("position:", 0) == 0) {
    const auto [position, rest] = split_position(text);
    Target t = parse_target(rest);
    if (t.region != Target::Region::Unit) throw ConfigError("target '" + text + "' names two regions");
    t.region = Target::Region::Position;
    t.position = position;
    return t;
  }
  for (const auto& [prefix, region] : {std::pair{"channel:", Target::Region::Channel}, std::pair{"segment:", Target::Region::Segment}})
    if (text.rfind(prefix, 0) == 0) {
      Target t = parse_target(text.substr(std::string(prefix).size()));
      if (t.region != Target::Region::Unit) throw ConfigError("target '" + text + "' names two regions");
      t.region = region;
      return t;
    }
  Target t;
  if (text == "predicted") return t;
  if (text == "all") {
    t.kind = Target::Kind::All;
    return t;
  }
  t.kind = Target::Kind::Classes;
  for (const std::string& s : split(text, ',')) t.classes.push_back(parse_index(s, "target"));
  if (t.classes.empty()) throw ConfigError("target '" + text + "' names no class");
  return t;
}

namespace {


using ops::repeat_rows;

// a above b along the batch.
template <class T>
Tensor<T> stack_rows(const Tensor<T>& a, const Tensor<T>& b) {
  Shape s = a.shape();
  s[0] += b.dim(0);
  Tensor<T> out = Tensor<T>::uninitialized(s);
  std::copy(a.begin(), a.end(), out.data());
  std::copy(b.begin(), b.end(), out.data() + a.size());
  return out;
}

// The baseline of every sample of x (integrated gradients' path start, DeepLIFT's reference):
// the baseline input (x's shape, or one sample's broadcast to all) or the constant.
// One forward on x and one backward sweep (k seeds per sample).
template <class T>
Tensor<T> backward_pass(Executor<T>& ex, const Tensor<T>& x, const Tensor<T>& seeds, const std::vector<Rule>& rules,
                        std::map<std::string, Tensor<T>>* layers) {
  ex.forward(x);
  return ex.propagate(seeds, rules, layers);
}

// The mean over `count` copies of x (copy s filled by make(s, dst)) of the gradient-rule sweep,
// with up to `per_pass` copies stacked into one batch per forward/backward pass (CPU kernels
// run larger batches more efficiently; SmoothGrad and integrated gradients at batch 1 are
// dozens of such passes). Copies are made and summed in order s = 0, 1, ..., as one pass each
// would.
// With `mean_square`, that also receives the mean of the squared sweeps; with `weigh`, each
// copy's sweep g first goes through weigh(s, g.data()) (rows sample-major, k per sample).
template <class T, class Make, class Weigh = std::nullptr_t>
Tensor<T> mean_gradient(Executor<T>& ex, const Tensor<T>& x, std::size_t count, std::size_t per_pass, const Tensor<T>& seeds,
                        const std::vector<Rule>& rules, const Shape& rshape, Make&& make, Tensor<T>* mean_square = nullptr,
                        Weigh weigh = nullptr) {
  Tensor<T> r(rshape);
  if (mean_square) *mean_square = Tensor<T>(rshape);
  const std::size_t xs = x.size(), rs = r.size();
  for (std::size_t s0 = 0; s0 < count; s0 += per_pass) {
    const std::size_t m = std::min(per_pass, count - s0);
    Shape bs = x.shape();
    bs[0] *= m;
    Tensor<T> xb = Tensor<T>::uninitialized(bs);
    for (std::size_t j = 0; j < m; ++j) make(s0 + j, xb.data() + j * xs);
    Shape ss = seeds.shape();
    ss[0] *= m;
    Tensor<T> sb = Tensor<T>::uninitialized(ss);  // the seeds once per copy: rows (copy, sample, target)
    for (std::size_t j = 0; j < m; ++j) std::copy(seeds.begin(), seeds.end(), sb.data() + j * seeds.size());
    Tensor<T> g = backward_pass<T>(ex, xb, sb, rules, nullptr);
    if constexpr (!std::is_same_v<Weigh, std::nullptr_t>)
      for (std::size_t j = 0; j < m; ++j) weigh(s0 + j, g.data() + j * rs);
    for (std::size_t j = 0; j < m; ++j)
      for (std::size_t i = 0; i < rs; ++i) r[i] += g[j * rs + i] / static_cast<T>(count);
    if (mean_square)
      for (std::size_t j = 0; j < m; ++j)
        for (std::size_t i = 0; i < rs; ++i) (*mean_square)[i] += g[j * rs + i] * g[j * rs + i] / static_cast<T>(count);
  }
  return r;
}

// Per-sample shapes of every value of the model for the input x.
template <class T>
std::vector<Shape> value_shapes(const Model<T>& model, const Tensor<T>& x) {
  return model.infer_shapes(Shape(x.shape().begin() + 1, x.shape().end()));
}

// Bytes of every value of the model for `batch` rows (one forward pass, or one relevance row
// per sample), with what its layers hold beside them in the sweep: every layer's saved state,
// and the largest transient one (Layer::saved_numel, transient_numel).
template <class T>
double activation_bytes(const Model<T>& model, const std::vector<Shape>& shapes, std::size_t batch) {
  double per_sample = 0, transient = 0;
  for (const Shape& s : shapes) per_sample += static_cast<double>(shape_numel(s));
  for (const Node<T>& n : model.nodes()) {
    std::vector<Shape> in;
    for (std::size_t v : n.inputs) in.push_back(shapes.at(v));
    per_sample += static_cast<double>(n.layer->saved_numel(in));
    transient = std::max(transient, static_cast<double>(n.layer->transient_numel(in)));
  }
  return (per_sample + transient) * sizeof(T) * static_cast<double>(batch);
}

// How many items of `bytes_each` fit `budget`: 1 to `cap`.
std::size_t fit_in_budget(double bytes_each, double budget, std::size_t cap) {
  const double fit = std::floor(budget / std::max(bytes_each, 1.0));
  return static_cast<std::size_t>(std::clamp(fit, 1.0, static_cast<double>(cap)));
}
// Copies or list inputs stacked into one pass stop at 64: beyond that the kernels gain nothing.
constexpr std::size_t kMaxStacked = 64;

// How many copies of x fit one pass of `budget` bytes: each holds every value of the model for
// its rows, plus the relevance rows of k targets.
template <class T>
std::size_t copies_per_pass(const Model<T>& model, const Tensor<T>& x, std::size_t k, double budget, std::size_t count) {
  const double per_copy = activation_bytes<T>(model, value_shapes(model, x), x.dim(0)) * static_cast<double>(1 + k);
  return std::min(fit_in_budget(per_copy, budget, kMaxStacked), std::max<std::size_t>(count, 1));
}

template <class T>
void sensitivity_norm(Tensor<T>& g) {
  if (g.rank() != 4) {
    for (T& v : g) v = std::abs(v);
    return;
  }
  const std::size_t n = g.dim(0), c = g.dim(1), plane = g.dim(2) * g.dim(3);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t p = 0; p < plane; ++p) {
      T s = 0;
      for (std::size_t ch = 0; ch < c; ++ch) s += g[(i * c + ch) * plane + p] * g[(i * c + ch) * plane + p];
      s = std::sqrt(s);
      for (std::size_t ch = 0; ch < c; ++ch) g[(i * c + ch) * plane + p] = s;
    }
}

// The float path keeps rule-mapped weight copies in oneDNN layouts: size their budget to the model.
template <class T>
void fit_kernel_caches(const Model<T>& model) {
  if constexpr (std::is_same_v<T, float>) {
    std::size_t bytes = 0;
    for (const Node<T>& n : model.nodes())
      if (n.layer->kind() == LayerKind::Conv2d || n.layer->kind() == LayerKind::ConvTranspose2d)
        bytes += static_cast<const AffineLayer<T>&>(*n.layer).weight().size() * sizeof(T);
    fit_weight_cache_to_model(bytes);
  }
}

// Grad-CAM and Guided Grad-CAM (explain/grad_cam.hpp), the map written to every input channel
// ([N * k, C, H, W]); Guided Grad-CAM multiplies it into guided backprop's relevance.
template <class T>
Explanation<T> explain_grad_cam(const Model<T>& model, ParamCache<T>* cache, const Tensor<T>& x, const ExplainRequest& req) {
  const std::size_t value = grad_cam_value(model, Shape(x.shape().begin() + 1, x.shape().end()), req.options.layer);
  // Grad-CAM alone keeps what its gradient sweep needs, and the layer's output. Guided Grad-CAM
  // sweeps twice over one forward pass (to the layer, then guided backprop to the input), so it
  // keeps every activation (the executor's default).
  const bool guided = req.method == Method::GuidedGradCam;
  Executor<T> ex(model, cache);
  if (!guided) {
    ex.plan_backward(std::vector<Rule>(model.nodes().size(), Rule::gradient()));
    ex.keep_value(value);
  }
  Explanation<T> out;
  out.output = ex.forward(x);
  std::size_t k = 1;
  const Tensor<T> seeds = make_seeds(out.output, req.target, out.targets, out.scores, k, true);
  out.targets_per_sample = k;
  const std::size_t c = x.dim(1), plane = x.dim(2) * x.dim(3), rows = x.dim(0) * k;
  const Tensor<T> cam = grad_cam(ex, seeds, value, x.dim(2), x.dim(3), req.options.cam_relu);
  Tensor<T> r;
  if (guided) {
    r = ex.propagate(seeds, std::vector<Rule>(model.nodes().size(), Rule::guided_backprop()));
    for (std::size_t i = 0; i < rows; ++i)
      for (std::size_t ch = 0; ch < c; ++ch)
        for (std::size_t p = 0; p < plane; ++p) r[(i * c + ch) * plane + p] *= cam[i * plane + p];
  } else {
    r = Tensor<T>({rows, c, x.dim(2), x.dim(3)});
    for (std::size_t i = 0; i < rows; ++i)
      for (std::size_t ch = 0; ch < c; ++ch) std::copy_n(cam.data() + i * plane, plane, r.data() + (i * c + ch) * plane);
  }
  if (k > 1) r.reshape({x.dim(0), k, c, x.dim(2), x.dim(3)});
  out.relevance = std::move(r);
  return out;
}

}  // namespace

template <class T>
Explainer<T>::Explainer(const Model<T>& model) : model_(&model), cache_(std::make_unique<ParamCache<T>>()) {
  fit_kernel_caches(*model_);
}

template <class T>
Explainer<T>::Explainer(Model<T>&& model)
    : owned_(std::make_unique<Model<T>>(std::move(model))), model_(owned_.get()), cache_(std::make_unique<ParamCache<T>>()) {
  fit_kernel_caches(*model_);
}

template <class T>
Explainer<T>::~Explainer() = default;

template <class T>
void Explainer<T>::clear_cache() {
  cache_->clear();
  embedded_.reset();  // a copy of the layers: rebuilt from the changed weights on next use
}

template <class T>
std::size_t Explainer<T>::cache_bytes() const {
  return cache_->bytes() + (embedded_ ? embedded_->cache_bytes() : 0);
}

template <class T>
std::size_t Explainer<T>::samples_fitting(const Shape& sample_shape, const ExplainRequest& req, double budget) const {
  const std::vector<Shape> shapes = model_->infer_shapes(sample_shape);
  std::size_t k = 1;
  if (req.target.kind == Target::Kind::Classes) k = std::max<std::size_t>(req.target.classes.size(), 1);
  if (req.target.kind == Target::Kind::All) k = class_count(shapes[model_->output_value()], req.target);
  const double stacked = req.method == Method::DeepLift ? 2.0 : 1.0;  // each sample with its baseline
  return fit_in_budget(activation_bytes<T>(*model_, shapes, 1) * stacked * static_cast<double>(1 + k), budget, std::size_t(1) << 40);
}

template <class T>
std::size_t Explainer<T>::samples_per_pass(const Shape& sample_shape, const ExplainRequest& req) const {
  return std::min(samples_fitting(sample_shape, req, req.target_pass_bytes), kMaxStacked);
}

template <class T>
Tensor<T> Explainer<T>::predict(const Tensor<T>& x) {
  Executor<T> ex(*model_, cache_.get());
  ex.plan_forward_only();
  return ex.forward(x);
}

template <class T>
Explanation<T> Explainer<T>::explain(const Tensor<T>& x, const ExplainRequest& req) {
  const Model<T>& model = *model_;
  if (!all_finite(x)) throw NumericError("the input contains NaN or Inf");
  if (model.token_input && !reads_token_ids(req.method)) {
    if (runs_in_embedding_space(req.method)) return explain_embedded(x, req);
    throw ConfigError("the model's input holds token ids, for which this method has no meaning (use lrp, gradient, "
                      "gradient-x-input, deconvnet, guided-backprop, smoothgrad, integrated-gradients, deeplift, deeplift-shap, "
                      "gradient-shap, occlusion, feature-ablation, shapley-sampling, lime or kernel-shap)");
  }
  if (req.method == Method::DeepLiftShap) return explain_deeplift_shap(x, req);
  // Many samples run in passes that fit the budget (a file of 10000 inputs would otherwise hold
  // every layer's activations for all of them). SmoothGrad and GradientShap draw their random
  // numbers across the whole batch in order, so splitting would change them; they bound their
  // passes by copies instead.
  const bool random = req.method == Method::SmoothGrad || req.method == Method::GradientShap;
  if (x.rank() > 0 && x.dim(0) > 1 && !req.dump_layers && !random) {
    const std::size_t per_pass = samples_fitting(Shape(x.shape().begin() + 1, x.shape().end()), req, req.sample_pass_bytes);
    if (x.dim(0) > per_pass) return explain_sample_passes(x, req, per_pass);
  }
  if (!req.concepts.empty()) return explain_concepts(x, req);
  if (req.target.kind == Target::Kind::All || req.target.kind == Target::Kind::Classes) {
    const std::vector<Shape> shapes = value_shapes(model, x);
    const double per_target = activation_bytes<T>(model, shapes, x.dim(0));
    std::vector<std::size_t> classes = req.target.classes;
    if (req.target.kind == Target::Kind::All)
      for (std::size_t c = 0; c < class_count(shapes[model.output_value()], req.target); ++c) classes.push_back(c);
    const auto chunk = static_cast<std::size_t>(std::max(1.0, req.target_pass_bytes / std::max(per_target, 1.0)));
    if (classes.size() > chunk && !req.dump_layers) return explain_in_passes(x, req, classes, chunk);
  }
  if (req.method == Method::GradCam || req.method == Method::GuidedGradCam) return explain_grad_cam(model, cache_.get(), x, req);
  std::vector<Rule> rules;
  switch (req.method) {
    case Method::LRP:
      rules = req.rules;
      if (rules.size() != model.nodes().size()) throw ConfigError("LRP needs a rule for every layer");
      break;
    case Method::DeconvNet: rules.assign(model.nodes().size(), Rule::deconvnet()); break;
    case Method::GuidedBackprop: rules.assign(model.nodes().size(), Rule::guided_backprop()); break;
    case Method::DeepLift: rules.assign(model.nodes().size(), Rule::rescale()); break;
    case Method::SmoothGrad:
    case Method::IntegratedGradients:
      rules = req.rules.empty() ? std::vector<Rule>(model.nodes().size(), Rule::gradient()) : req.rules;
      break;
    default: rules.assign(model.nodes().size(), Rule::gradient()); break;
  }
  Executor<T> ex(model, cache_.get());
  // Perturbation methods only run forward passes: occlusion and the feature-group methods.
  const bool perturbation = req.method == Method::Occlusion || uses_feature_mask(req.method);
  if (perturbation) ex.plan_forward_only();
  else ex.plan_backward(rules);
  Explanation<T> out;
  // DeepLIFT: one forward pass on the inputs stacked above their baselines (its rule pairs them).
  const Tensor<T> base = baseline_use(req.method) == BaselineUse::PerSample ? baseline_for(x, req.options) : Tensor<T>();
  out.output = req.method == Method::DeepLift ? ex.forward(stack_rows(x, base)).rows(0, x.dim(0)) : ex.forward(x);
  std::size_t k = 1;
  const Tensor<T> seeds = make_seeds(out.output, req.target, out.targets, out.scores, k);
  out.targets_per_sample = k;

  auto* layers = req.dump_layers ? &out.layers : nullptr;
  const bool times_input =
      req.method == Method::GradientXInput || req.method == Method::IntegratedGradients || req.method == Method::DeepLift;
  const Tensor<T> xk = times_input ? repeat_rows(x, k) : Tensor<T>();
  Shape rshape = x.shape();
  rshape[0] *= k;
  Tensor<T> r;
  switch (req.method) {
    case Method::SmoothGrad: {
      const MethodOptions& o = req.options;
      if (o.samples == 0) throw ConfigError("smoothgrad needs at least one sample");
      if (!(std::isfinite(o.noise_level) && o.noise_level >= 0))
        throw ConfigError("smoothgrad: the noise level (--noise-level) must be a finite number >= 0");
      std::mt19937_64 rng(o.seed);
      std::normal_distribution<double> normal(0.0, 1.0);
      const std::size_t n = x.dim(0), per = x.sample_size();
      const auto noisy = [&](std::size_t s, T* dst) {
        std::copy(x.begin(), x.end(), dst);
        if (s + 1 == o.samples) return;  // the last sample is noise-free (Zennit: n = 1 gives the gradient)
        for (std::size_t i = 0; i < n; ++i) {
          const auto [lo, hi] = std::minmax_element(x.data() + i * per, x.data() + (i + 1) * per);
          const double sigma = o.noise_level * static_cast<double>(*hi - *lo);
          for (std::size_t j = 0; j < per; ++j) dst[i * per + j] += static_cast<T>(sigma * normal(rng));
        }
      };
      const bool squares = o.noise_type != NoiseType::SmoothGrad;
      Tensor<T> mean_square;
      r = mean_gradient(ex, x, o.samples, copies_per_pass(model, x, k, req.target_pass_bytes, o.samples), seeds, rules, rshape,
                        noisy, squares ? &mean_square : nullptr);
      if (o.noise_type == NoiseType::VarGrad)  // E[g^2] - E[g]^2, clamped at 0 against rounding
        for (std::size_t i = 0; i < r.size(); ++i) r[i] = std::max(T(0), mean_square[i] - r[i] * r[i]);
      else if (squares)
        r = std::move(mean_square);
      break;
    }
    case Method::IntegratedGradients: {
      const MethodOptions& o = req.options;
      if (o.steps == 0) throw ConfigError("integrated gradients needs at least one step");
      const auto scaled = [&](std::size_t s, T* dst) {  // step s + 1 of the path from the baseline to x
        const T alpha = static_cast<T>(static_cast<double>(s + 1) / static_cast<double>(o.steps));
        for (std::size_t i = 0; i < x.size(); ++i) dst[i] = base[i] + alpha * (x[i] - base[i]);
      };
      r = mean_gradient(ex, x, o.steps, copies_per_pass(model, x, k, req.target_pass_bytes, o.steps), seeds, rules, rshape,
                        scaled);
      const Tensor<T> base_k = repeat_rows(base, k);
      for (std::size_t i = 0; i < r.size(); ++i) r[i] *= xk[i] - base_k[i];
      break;
    }
    case Method::GradientShap: {
      // Captum's GradientShap: per copy and sample a baseline drawn from the distribution, a
      // point uniformly on the segment to the (noisy) input, its gradient times (input - baseline).
      const MethodOptions& o = req.options;
      if (o.samples == 0) throw ConfigError("gradient-shap needs at least one sample");
      if (!(std::isfinite(o.stdevs) && o.stdevs >= 0))
        throw ConfigError("gradient-shap: the noise's standard deviation (--stdevs) must be a finite number >= 0");
      const Tensor<T> dist = baseline_draws(x.shape(), o).template cast<T>();
      const std::size_t n = x.dim(0), per = x.sample_size(), draws = dist.dim(0);
      const std::size_t per_pass = copies_per_pass(model, x, k, req.target_pass_bytes, o.samples);
      std::vector<T> diffs(per_pass * x.size());  // (input - baseline) of the copies of one pass
      std::mt19937_64 rng(o.seed);
      std::uniform_int_distribution<std::size_t> pick(0, draws - 1);
      std::uniform_real_distribution<double> unit(0.0, 1.0);
      std::normal_distribution<double> noise(0.0, 1.0);
      const auto point = [&](std::size_t s, T* dst) {
        T* diff = diffs.data() + (s % per_pass) * x.size();
        for (std::size_t i = 0; i < n; ++i) {
          const T* b = dist.data() + pick(rng) * per;
          const T alpha = static_cast<T>(unit(rng));
          for (std::size_t j = 0; j < per; ++j) {
            const T xi = x[i * per + j] + static_cast<T>(o.stdevs > 0 ? o.stdevs * noise(rng) : 0.0);
            const T bj = b[j];
            diff[i * per + j] = xi - bj;
            dst[i * per + j] = bj + alpha * (xi - bj);
          }
        }
      };
      const auto times_diff = [&](std::size_t s, T* g) {
        const T* diff = diffs.data() + (s % per_pass) * x.size();
        for (std::size_t row = 0; row < n * k; ++row)
          for (std::size_t j = 0; j < per; ++j) g[row * per + j] *= diff[(row / k) * per + j];
      };
      r = mean_gradient(ex, x, o.samples, per_pass, seeds, rules, rshape, point, static_cast<Tensor<T>*>(nullptr), times_diff);
      break;
    }
    case Method::Occlusion:
      r = occlusion(ex, x, seeds, k, req.options);
      break;
    case Method::FeatureAblation:
      r = feature_ablation(ex, x, base, seeds, k, req.options);
      break;
    case Method::ShapleySampling:
      r = shapley_sampling(ex, x, base, seeds, k, req.options);
      break;
    case Method::Lime:
    case Method::KernelShap:  // forward passes only: k = 0 relevance rows per copy
      r = surrogate_attribution(req.method, ex, x, base, seeds, k, req.options,
                                copies_per_pass(model, x, 0, req.target_pass_bytes, req.options.samples));
      break;
    case Method::DeepLift: {
      // The baselines' rows get no seed; the inputs' rows of the result are their multipliers.
      r = ex.propagate(stack_rows(seeds, Tensor<T>(seeds.shape())), rules).rows(0, seeds.dim(0));
      const Tensor<T> base_k = repeat_rows(base, k);
      for (std::size_t i = 0; i < r.size(); ++i) r[i] *= xk[i] - base_k[i];
      break;
    }
    default:
      r = ex.propagate(seeds, rules, layers);
      break;
  }
  if (req.method == Method::GradientXInput)
    for (std::size_t i = 0; i < r.size(); ++i) r[i] *= xk[i];
  if (req.method == Method::Sensitivity) sensitivity_norm(r);
  if (k > 1) {
    Shape s = x.shape();
    s.insert(s.begin() + 1, k);
    r.reshape(s);
  }
  out.relevance = std::move(r);
  return out;
}

template <class T>
Explanation<T> Explainer<T>::explain_in_passes(const Tensor<T>& x, const ExplainRequest& req,
                                               const std::vector<std::size_t>& classes, std::size_t chunk) {
  const std::size_t n = x.dim(0), k = classes.size(), per = x.sample_size();
  Explanation<T> out;
  Shape rs = x.shape();
  rs.insert(rs.begin() + 1, k);
  out.relevance = Tensor<T>(rs);
  out.targets.assign(n * k, 0);
  out.scores.assign(n * k, 0.0);
  out.targets_per_sample = k;
  for (std::size_t first = 0; first < k; first += chunk) {
    ExplainRequest part = req;
    part.target.kind = Target::Kind::Classes;
    part.target.classes.assign(classes.begin() + static_cast<long>(first), classes.begin() + static_cast<long>(std::min(k, first + chunk)));
    const std::size_t m = part.target.classes.size();
    Explanation<T> e = explain(x, part);
    if (first == 0) out.output = std::move(e.output);
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = 0; j < m; ++j) {
        const T* src = e.relevance.data() + (i * m + j) * per;
        std::copy_n(src, per, out.relevance.data() + (i * k + first + j) * per);
        out.targets[i * k + first + j] = e.targets[i * m + j];
        out.scores[i * k + first + j] = e.scores[i * m + j];
      }
  }
  return out;
}

template <class T>
Explanation<T> Explainer<T>::explain_sample_passes(const Tensor<T>& x, const ExplainRequest& req, std::size_t per_pass) {
  const std::size_t n = x.dim(0);
  if (req.target.kind == Target::Kind::PerSample && req.target.classes.size() != n)
    throw ShapeError("got " + std::to_string(req.target.classes.size()) + " labels for " + std::to_string(n) + " samples");
  Explanation<T> out;
  for (std::size_t first = 0; first < n; first += per_pass) {
    const std::size_t m = std::min(per_pass, n - first);
    ExplainRequest part = req;
    if (req.target.kind == Target::Kind::PerSample)
      part.target.classes.assign(req.target.classes.begin() + static_cast<long>(first),
                                 req.target.classes.begin() + static_cast<long>(first + m));
    if (req.target.kind == Target::Kind::Relevance) {
      if (req.target.relevance.rank() == 0 || req.target.relevance.dim(0) != n)
        throw ShapeError("initial relevance has shape " + shape_str(req.target.relevance.shape()) + " for " + std::to_string(n) +
                         " samples");
      part.target.relevance = req.target.relevance.rows(first, m);
    }
    // Per-sample baselines and masks split with the samples (one row is every sample's).
    const Tensor<double>& base = req.options.baseline_input;
    if (baseline_use(req.method) == BaselineUse::PerSample && base.rank() > 0 && base.dim(0) == n)
      part.options.baseline_input = base.rows(first, m);
    const Tensor<double>& mask = req.options.feature_mask;
    if (mask.rank() > 0 && mask.dim(0) == n) part.options.feature_mask = mask.rows(first, m);
    Explanation<T> e = explain(x.rows(first, m), part);
    if (first == 0) {
      Shape os = e.output.shape(), rs = e.relevance.shape();
      os[0] = n;
      rs[0] = n;
      out.output = Tensor<T>::uninitialized(os);
      out.relevance = Tensor<T>::uninitialized(rs);
      out.targets_per_sample = e.targets_per_sample;
    }
    std::copy(e.output.begin(), e.output.end(), out.output.data() + first * out.output.sample_size());
    std::copy(e.relevance.begin(), e.relevance.end(), out.relevance.data() + first * out.relevance.sample_size());
    out.targets.insert(out.targets.end(), e.targets.begin(), e.targets.end());
    out.scores.insert(out.scores.end(), e.scores.begin(), e.scores.end());
    out.concepts.insert(out.concepts.end(), e.concepts.begin(), e.concepts.end());
    out.concept_relevance.insert(out.concept_relevance.end(), e.concept_relevance.begin(), e.concept_relevance.end());
    out.channel_relevance.insert(out.channel_relevance.end(), e.channel_relevance.begin(), e.channel_relevance.end());
    out.sample_passes = first / per_pass + 1;
  }
  return out;
}

template <class T>
Explanation<T> Explainer<T>::explain_deeplift_shap(const Tensor<T>& x, const ExplainRequest& req) {
  const Tensor<double> dist = baseline_draws(x.shape(), req.options);
  const std::size_t draws = dist.dim(0);
  ExplainRequest one = req;
  one.method = Method::DeepLift;
  Explanation<T> out;
  for (std::size_t m = 0; m < draws; ++m) {
    one.options.baseline_input = dist.rows(m, 1);  // broadcast to every sample
    Explanation<T> e = explain(x, one);
    if (m == 0) {
      out = std::move(e);
      continue;
    }
    for (std::size_t i = 0; i < out.relevance.size(); ++i) out.relevance[i] += e.relevance[i];
  }
  for (T& v : out.relevance) v /= static_cast<T>(draws);
  return out;
}

template <class T>
Explanation<T> explain(const Model<T>& model, const Tensor<T>& x, const ExplainRequest& request) {
  Explainer<T> e(model);
  return e.explain(x, request);
}

template class Explainer<float>;
template class Explainer<double>;
template Explanation<float> explain(const Model<float>&, const Tensor<float>&, const ExplainRequest&);
template Explanation<double> explain(const Model<double>&, const Tensor<double>&, const ExplainRequest&);

}  // namespace lrp
