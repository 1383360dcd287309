#pragma once
// The entry point: explain a batch with LRP or another attribution method, for the predicted
// class, given classes, all classes, or an explicit initial relevance.
//
// Every method starts from the same seed, the target's score (output * one-hot(target)).
// LRP treats it as relevance; gradient methods use it as the output gradient, so
// `gradient` yields score * d(score)/dx (as the toolbox's Caffe tool and Zennit do).
// Grad-CAM and Guided Grad-CAM take the gradient of the target itself (seed one-hot(target)),
// as Captum does: the map's ReLU keeps what raises the target, whatever the score's sign.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "lrp/graph/model.hpp"
#include "lrp/rules/rule.hpp"

namespace lrp {

enum class Method {
  LRP,
  Gradient,
  GradientXInput,
  Sensitivity,  // per-pixel L2 norm of the gradient over channels, written to every channel
  DeconvNet,
  GuidedBackprop,
  SmoothGrad,
  IntegratedGradients,
  Occlusion,
  GradCam,        // Grad-CAM at MethodOptions::layer, upsampled to the input, written to every channel
  GuidedGradCam,  // guided backprop times the Grad-CAM map
  DeepLift,       // DeepLIFT's Rescale rule from the baseline, times (x - baseline)
  DeepLiftShap,   // DeepLIFT averaged over every sample of a baseline distribution (Captum's DeepLiftShap)
  GradientShap,   // expected gradients from random baselines and points (Captum's GradientShap)
  FeatureAblation,  // score change when a group of inputs is set to the baseline (Captum's)
  ShapleySampling,  // Shapley values of input groups from random orders (Captum's ShapleyValueSampling)
  Lime,             // a sparse linear surrogate of the score on random group coalitions (Captum's Lime)
  KernelShap,       // Shapley values of input groups as a weighted linear regression (Captum's KernelShap)
};
Method parse_method(const std::string& text);
std::string method_names();
// How a method reads MethodOptions' baseline: one per sample (integrated gradients, DeepLIFT,
// feature ablation, Shapley sampling, LIME, KernelSHAP), as draws of a distribution (DeepLiftShap, GradientShap),
// or not at all; and whether it reads the feature mask.
enum class BaselineUse { None, PerSample, Draws };
BaselineUse baseline_use(Method m);
bool uses_feature_mask(Method m);
// Whether a method applies to a model whose input holds token ids (Model::token_input): LRP,
// the gradient-type sweeps (per token: the gradient times the embedding, summed) and the
// perturbation methods (tokens replaced by the baseline's id) read the ids themselves.
bool reads_token_ids(Method m);
// Methods that scale the input or add noise to it run on such a model's embedding output
// instead (Captum's LayerIntegratedGradients on the word embeddings): integrated gradients,
// SmoothGrad, gradient x input, DeepLIFT, DeepLiftShap and GradientShap. Their baseline is given
// as token ids (the constant `baseline` is an id, by default 0), embedded like the input; a
// token's map value is its attribution summed over the embedding (SmoothGrad's mean gradient
// times the embedding first, as the token gradient is).
bool runs_in_embedding_space(Method m);

struct Target {
  enum class Kind { Predicted, Classes, All, PerSample, Relevance };
  Kind kind = Kind::Predicted;
  std::vector<std::size_t> classes;   // Classes: one map per listed class; PerSample: one class per sample
  Tensor<double> relevance;           // Relevance: explicit initial relevance [N, outputs...]
  // What a class is. Unit: one output element (its flat index). On an output with channels,
  // [N, K, positions...] (segmentation, dense prediction): Channel, channel K at every position;
  // Segment, channel K at the positions where it is the largest channel (the pixels predicted
  // as K). The predicted class is then the one with the largest score, the sum of its seed.
  // Position: on an output with a position axis, [N, T, V] (a language model's logits for every
  // token), entry K of row `position` (negative: from the end, -1 the last token): the next
  // token K predicted there.
  enum class Region { Unit, Channel, Segment, Position };
  Region region = Region::Unit;
  long position = -1;  // Position
  // A PerSample entry asking for that sample's predicted class (a batch mixing labelled and
  // unlabelled inputs).
  static constexpr std::size_t kPredicted = static_cast<std::size_t>(-1);
};
// "predicted" | "all" | "K" | "K1,K2,..." (several classes; one map each), optionally after
// "channel:" or "segment:" (the Region), or "position:P:" (P alone: the predicted token there). Labels and relevance files are read by the caller and
// given as PerSample / Relevance targets.
Target parse_target(const std::string& text);

// Concept relevance (CRP: Achtibat et al. 2023, zennit-crp's conditional attributions): the share
// of an LRP map that flows through chosen channels of one layer's output, one map per concept.
// The relevance arriving at the layer is masked to the concept's channels and swept down to the
// input from there alone; relevance that bypasses the layer (a residual connection around it)
// belongs to no concept. So the maps of all channels add up to the part of the LRP map that
// passes through the layer: all of it where every path does. Channels are the entries of one
// axis of the layer's per-sample output: `axis` 0 by default, C of [N, C, ...] (a CNN's channels,
// a dense layer's units); -1 the last (a transformer's hidden units of [N, T, D]).
struct ConceptRequest {
  std::string layer;  // a layer index as `lrp info` shows it, or a node name; empty: no concepts
  enum class Pick { Listed, Top, All };
  Pick pick = Pick::Top;
  std::vector<std::vector<std::size_t>> sets;  // Listed: one map per set of channels
  std::size_t top = 5;                         // Top: each sample's most relevant channels
  long axis = 0;                               // of the per-sample output; negative: from the end
  // CRP's conditions on other layers: every sweep keeps, at each such layer, only the relevance
  // on its channels (same axis), so each map is the share that flows through its concept and
  // through these channels too; at a layer above the concept layer they also decide top:K.
  struct Condition {
    std::string layer;
    std::vector<std::size_t> channels;
  };
  std::vector<Condition> conditions;
  bool empty() const { return layer.empty(); }
};
// "C1,C2+C3,..." (one map per item; '+' joins channels into one concept) | "top:K" | "all".
ConceptRequest parse_concepts(const std::string& layer, const std::string& spec);
// "LAYER:C1+C2+..." (split at the last ':'): a condition on LAYER's channels.
ConceptRequest::Condition parse_concept_condition(const std::string& text);

// What SmoothGrad keeps of the sweeps over its noisy copies (Captum's NoiseTunnel types): their
// mean, the mean of their squares (SmoothGrad^2), or their variance (VarGrad).
enum class NoiseType { SmoothGrad, SmoothGradSquared, VarGrad };
NoiseType parse_noise_type(const std::string& text);

struct MethodOptions {
  // SmoothGrad (Zennit's defaults): noise sigma = noise_level * (max - min) per sample.
  // `samples` and `seed` serve GradientShap too, whose input noise has the absolute `stdevs`.
  double noise_level = 0.1;
  NoiseType noise_type = NoiseType::SmoothGrad;
  std::size_t samples = 20;
  std::uint64_t seed = 0;
  double stdevs = 0.0;
  // Integrated gradients: right Riemann sum over steps alpha = 1/n .. 1 from the baseline, which
  // DeepLIFT compares with too: the input `baseline_input` when given (the input's shape, or one
  // sample's [1, ...] for every sample), else the constant `baseline`. DeepLiftShap and
  // GradientShap take every sample of `baseline_input` [M, ...] as one draw of a distribution.
  std::size_t steps = 20;
  double baseline = 0.0;
  Tensor<double> baseline_input;
  // Feature ablation, Shapley sampling, LIME, KernelSHAP: a group id (integer >= 0) per input
  // element, one sample's shape [1, ...] or the input's; empty: every element its own group.
  // Shapley sampling draws `samples` orders with `seed`, LIME and KernelSHAP `samples`
  // coalitions (Captum's defaults: 50 and 25).
  Tensor<double> feature_mask;
  // LIME: the width of its cosine-distance kernel and the Lasso penalty of its surrogate model
  // (0: least squares), Captum's defaults.
  double kernel_width = 1.0;
  double lasso_alpha = 0.01;
  // Occlusion: window and stride over the spatial axes; value for the occluded part.
  std::size_t window = 8, stride = 8;
  double occlusion_value = 0.0;
  // Grad-CAM: the layer (index as in `lrp info`, or node name) whose output it weighs; empty:
  // the last layer with a spatial output [C, H, W]. cam_relu: keep the positive part of the map
  // (the paper's and Captum's GuidedGradCam; Captum's LayerGradCam leaves it off by default).
  std::string layer;
  bool cam_relu = true;
};

template <class T>
struct Explanation {
  Tensor<T> output;                    // model output (trailing SoftMax dropped) [N, C]
  Tensor<T> relevance;                 // [N, ...input] or [N, K, ...input] for several targets
  std::vector<std::size_t> targets;    // chosen class per (sample, target), empty for Relevance
  std::vector<double> scores;          // the score explained per (sample, target): the sum of its seed
  std::size_t targets_per_sample = 1;
  std::size_t sample_passes = 1;       // the samples ran in this many passes (sample_pass_bytes)
  std::map<std::string, Tensor<T>> layers;  // relevance at each node's output (if requested)
  // Concepts (ExplainRequest::concepts): per (sample, map) the map's channels and the relevance
  // they hold at the layer. targets and scores then repeat the sample's target per map.
  std::vector<std::vector<std::size_t>> concepts;
  std::vector<double> concept_relevance;
  // Concepts: the relevance every channel of the layer holds, [N * channels] (for reference
  // samples over a data set: the inputs where a channel holds the most).
  std::vector<double> channel_relevance;
};

struct ExplainRequest {
  Method method = Method::LRP;
  std::vector<Rule> rules;  // LRP (and rule-based SmoothGrad/IG): one per node
  Target target;
  MethodOptions options;
  bool dump_layers = false;
  ConceptRequest concepts;  // LRP with one target per sample: one map per concept instead
  // Several targets per sample run as one batched backward pass, which holds every layer's
  // relevance for all of them at once; above this many bytes of activations the targets are
  // split into passes (1000 ImageNet classes would otherwise need gigabytes). SmoothGrad and
  // integrated gradients likewise stack as many of their input copies into one pass as fit
  // this budget (at most 64).
  double target_pass_bytes = 512.0 * 1024 * 1024;
  // A batch whose activations (and relevance rows) exceed this many bytes runs in passes of as
  // many samples as fit (all methods but SmoothGrad, whose noise is drawn across the batch, and
  // dump_layers requests): a file of 1000 images explained at once would otherwise need tens of
  // gigabytes. Larger than target_pass_bytes because bigger batches run faster per sample.
  double sample_pass_bytes = 4096.0 * 1024 * 1024;
};

template <class T>
class ParamCache;

// Explains batches for one model, keeping what can be reused across calls: the rules' derived
// parameters (W+, W-, W^2, gamma variants, the flat and zbox denominators) and, through them,
// the fast kernels' reordered weights. Use one Explainer for many calls on the same model;
// call clear_cache() after changing the model's weights. Not thread-safe (one call at a time).
template <class T>
class Explainer {
 public:
  // Refers to `model`, which must outlive the Explainer.
  explicit Explainer(const Model<T>& model);
  // Owns the model.
  explicit Explainer(Model<T>&& model);
  ~Explainer();
  Explainer(const Explainer&) = delete;
  Explainer& operator=(const Explainer&) = delete;

  const Model<T>& model() const { return *model_; }
  // x is an engine-layout batch [N, ...]. The model must not end in SoftMax (drop it first).
  Explanation<T> explain(const Tensor<T>& x, const ExplainRequest& request);
  // The model output for x; keeps no activations beyond what the forward pass needs.
  Tensor<T> predict(const Tensor<T>& x);
  void clear_cache();
  // Bytes held by the derived-parameter cache.
  std::size_t cache_bytes() const;
  // How many samples of `sample_shape` (without the batch axis) one call should take so that
  // every value of the model, for the request's targets per sample, fits the request's
  // target_pass_bytes (1 to 64): the batch size for explaining a long list of inputs.
  std::size_t samples_per_pass(const Shape& sample_shape, const ExplainRequest& request) const;

 private:
  // Several targets split into passes of at most `chunk` targets each.
  Explanation<T> explain_in_passes(const Tensor<T>& x, const ExplainRequest& req, const std::vector<std::size_t>& classes,
                                   std::size_t chunk);
  // Samples of `sample_shape` whose values and relevance rows fit `budget` bytes (at least 1).
  std::size_t samples_fitting(const Shape& sample_shape, const ExplainRequest& req, double budget) const;
  // Many samples split into passes of at most `per_pass` samples each.
  Explanation<T> explain_sample_passes(const Tensor<T>& x, const ExplainRequest& req, std::size_t per_pass);
  // DeepLiftShap: the mean of DeepLIFT's maps from each baseline sample.
  Explanation<T> explain_deeplift_shap(const Tensor<T>& x, const ExplainRequest& req);
  // Concept relevance (ExplainRequest::concepts): src/explain/concepts.cpp.
  Explanation<T> explain_concepts(const Tensor<T>& x, const ExplainRequest& req);
  // Token ids explained on the embedding output (runs_in_embedding_space).
  Explanation<T> explain_embedded(const Tensor<T>& ids, const ExplainRequest& req);
  std::unique_ptr<Model<T>> owned_;
  const Model<T>* model_;
  std::unique_ptr<ParamCache<T>> cache_;
  // The model after its Embedding node (built on first use) and that node's index.
  std::unique_ptr<Explainer<T>> embedded_;
  std::size_t embedding_node_ = 0;
};

// One-shot form: an Explainer for this call only.
template <class T>
Explanation<T> explain(const Model<T>& model, const Tensor<T>& x, const ExplainRequest& request);

}  // namespace lrp
