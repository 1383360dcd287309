#pragma once
// How good is a relevance map? The measures LRP papers and the peers' toolkits report:
//  * region perturbation / pixel flipping (Samek et al. 2017, "Evaluating the visualization of
//    what a deep neural network has learned"; iNNvestigate's PerturbationAnalysis): regions are
//    replaced in order of their relevance and the target's score is followed. A faithful map
//    makes the score fall fast when the most relevant regions go first (MoRF; large AOPC) and
//    slowly when the least relevant go first (LeRF); ABPC is the area between the two curves;
//  * infidelity (Yeh et al. 2019; Captum's metrics.infidelity): how well relevance . I predicts
//    the score's change f(x) - f(x - I) under random perturbations I (smaller is better);
//  * max-sensitivity (Yeh et al. 2019; Captum's metrics.sensitivity_max): how much the map
//    changes under small input perturbations, relative to its norm (smaller is more stable);
//  * model parameter randomization (Adebayo et al. 2018): how much the map still resembles
//    itself once the model's weights are random (less is better);
//  * localization against ground-truth masks: relevance mass and rank accuracy, the pointing game.
// Every score is the explanation's own: the sum of the model output over the target's elements
// (score_masks), the SoftMax-free output the relevance started from.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "lrp/core/tensor.hpp"
#include "lrp/explain/explain.hpp"

namespace lrp::evaluate {

// How one sample's values are grouped for perturbation: channels of a height x width grid,
// stored channel-major (element c*H*W + h*W + w). Images [C, H, W] are their own grid; a 1-D
// network's signals [C, L] are C channels of 1 x L; other inputs of two axes [A, B] one channel
// of A x B; feature vectors of square length (MNIST MLPs) a square, other vectors 1 x D.
struct Grid {
  std::size_t channels = 1, height = 1, width = 1;
  std::size_t size() const { return channels * height * width; }
};
Grid grid_of(const Shape& sample_shape, bool signals);

// Masks [N*K, outputs...] of 1 on the elements each (sample, target) scores, 0 elsewhere, from
// the unperturbed output y [N, outputs...] (so "predicted" stays the class first predicted);
// `classes` gets the chosen class per (sample, target), k the targets per sample. Explicit
// relevance targets (Target::Kind::Relevance) have no score and are refused.
template <class T>
Tensor<T> score_masks(const Tensor<T>& y, const Target& target, std::vector<std::size_t>& classes, std::size_t& k);

// Replacement values for perturbed elements.
struct Fill {
  enum class Kind { Constant, RegionMean, Uniform };
  Kind kind = Kind::Constant;
  double value = 0.0;  // Constant
};
// "mean" (each region's own per-channel mean, iNNvestigate's "mean"), "uniform" (uniform noise
// in the sample's [min, max], Samek et al.), or a number.
Fill parse_fill(const std::string& text);

enum class Order { MostRelevantFirst, LeastRelevantFirst, Random };

struct PerturbationOptions {
  std::size_t region = 1;   // side of the square regions (length on 1 x D grids); 1: pixel flipping
  std::size_t steps = 100;  // points of the curve after the unperturbed one (at most the regions)
  // Fraction of all regions perturbed by the last step: 1 perturbs everything; Samek et al.
  // follow the first 100 of 9x9 regions of a 224x224 image (about 0.16).
  double fraction = 1.0;
  Fill fill;
  std::vector<Order> orders{Order::MostRelevantFirst, Order::LeastRelevantFirst};
  std::uint64_t seed = 0;  // uniform fill and random order
  // Perturbed copies held and run at once (0: as many as one explanation pass takes, at most
  // 64); the figures do not depend on it, the memory does.
  std::size_t rows_per_pass = 0;
};

struct PerturbationResult {
  std::size_t maps = 0;                      // N*K: one per (sample, target)
  std::vector<double> perturbed_fraction;    // per curve point (steps + 1), 0 first
  // Per order (as requested), per map, the score at each point: curves[o][m * points + s].
  std::vector<std::vector<double>> curves;
  // Per order and map: AOPC = mean over the points of (score at 0 - score at s).
  std::vector<std::vector<double>> aopc;
};

// relevance: [N*K, sample...] (engine layout), K maps per sample of x [N, sample...], scored by
// `masks` (score_masks). Every step's perturbed inputs of all maps and orders run as batched
// forward passes.
template <class T>
PerturbationResult perturbation_curves(Explainer<T>& explainer, const Tensor<T>& x, const Tensor<T>& relevance,
                                       const Tensor<T>& masks, const Grid& grid, const PerturbationOptions& options);

struct InfidelityOptions {
  std::size_t samples = 10;     // perturbations per map (Captum's n_perturb_samples)
  double noise_level = 0.1;     // Gaussian I with sigma = noise_level * (max - min) of the sample
  std::uint64_t seed = 0;
  std::size_t rows_per_pass = 0;  // as in PerturbationOptions
};
struct InfidelityResult {
  std::vector<double> infidelity;             // per map: mean of (R . I - (f(x) - f(x - I)))^2
  std::vector<double> normalized_infidelity;  // the same with R scaled by the best beta (Captum's normalize=True)
};
template <class T>
InfidelityResult infidelity(Explainer<T>& explainer, const Tensor<T>& x, const Tensor<T>& relevance, const Tensor<T>& masks,
                            const InfidelityOptions& options);

struct SensitivityOptions {
  std::size_t samples = 10;  // perturbations per map (Captum's n_perturb_samples)
  double radius = 0.02;      // uniform noise in [-radius, radius] per element (Captum's default)
  std::uint64_t seed = 0;
  std::size_t rows_per_pass = 0;  // as in PerturbationOptions
};
// Per map: max over the perturbations of ||R(x + d) - R(x)|| / ||R(x)|| (Frobenius norms; a
// zero map divides by 1). The request is rerun on each perturbed copy for the same targets
// (`classes` per map, from score_masks); `relevance` is R(x) from that request.
template <class T>
std::vector<double> max_sensitivity(Explainer<T>& explainer, const Tensor<T>& x, const Tensor<T>& relevance,
                                    const ExplainRequest& request, const std::vector<std::size_t>& classes,
                                    const SensitivityOptions& options);

// Localization against ground-truth masks (which input regions hold the evidence): relevance
// mass and rank accuracy (Arras et al. 2022, CLEVR-XAI) and the pointing game (Zhang et al.
// 2018; Quantus' PointingGame). Relevance is pooled over the grid's channels first (summed per
// position); a position is inside when the mask is nonzero there (in any channel, for masks of
// the whole sample).
struct LocalizationResult {
  std::vector<double> mass_accuracy;  // per map: positive relevance inside / positive relevance (0 without any)
  std::vector<double> rank_accuracy;  // per map: share of the |mask| most relevant positions inside (ties: first position first)
  std::vector<double> pointing_hit;   // per map: 1 when the most relevant position (first on ties) is inside, else 0
};
// relevance [N*K, sample...]; mask [N or 1, positions] or [N or 1, sample...] (a mask given once
// serves every sample), read as values per sample: grid.height * grid.width or grid.size().
// A sample whose mask is empty is a ShapeError naming it.
template <class T>
LocalizationResult localization(const Tensor<T>& relevance, std::size_t samples, const Grid& grid, const Tensor<double>& mask);

// Model parameter randomization (Adebayo et al. 2018, "Sanity checks for saliency maps";
// Quantus' ModelParameterRandomisation): the weighted layers (Linear, Conv, ConvTranspose) are
// re-drawn from the top down, cumulatively, each parameter tensor from a normal distribution
// with its own mean and standard deviation; after each layer the request is explained again for
// the same targets and compared with the original maps. A map that depends on what the model
// learned should lose its resemblance as the layers are randomized.
struct RandomizationOptions {
  std::uint64_t seed = 0;
};
struct RandomizationStep {
  std::string layer;                  // the node randomized last (every weighted node above it too)
  std::vector<double> spearman;       // per map: Spearman rank correlation with the original map
  std::vector<double> spearman_abs;   // the same on absolute values
};
// Spearman's rank correlation of two equally long series (average ranks for ties; 0 when
// either is constant).
double spearman(const std::vector<double>& a, const std::vector<double>& b);
// `relevance` [N*K, sample...] from `request` on x for `classes` (one per map).
template <class T>
std::vector<RandomizationStep> parameter_randomization(const Model<T>& model, const Tensor<T>& x, const Tensor<T>& relevance,
                                                       const ExplainRequest& request, const std::vector<std::size_t>& classes,
                                                       const RandomizationOptions& options);

}  // namespace lrp::evaluate
