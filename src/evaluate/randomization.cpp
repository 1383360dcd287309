// Model parameter randomization (Adebayo et al. 2018), cascading from the output down.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <string>

#include "evaluate/scoring.hpp"
#include "lrp/core/error.hpp"

namespace lrp::evaluate {
namespace {

// Ranks 1..n, ties sharing their average rank.
std::vector<double> ranks(const std::vector<double>& v) {
  std::vector<std::size_t> idx(v.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::stable_sort(idx.begin(), idx.end(), [&](std::size_t a, std::size_t b) { return v[a] < v[b]; });
  std::vector<double> r(v.size());
  for (std::size_t i = 0; i < idx.size();) {
    std::size_t j = i;
    while (j + 1 < idx.size() && v[idx[j + 1]] == v[idx[i]]) ++j;
    const double avg = (static_cast<double>(i) + static_cast<double>(j)) / 2.0 + 1.0;
    for (std::size_t t = i; t <= j; ++t) r[idx[t]] = avg;
    i = j + 1;
  }
  return r;
}

bool weighted(LayerKind k) { return k == LayerKind::Linear || k == LayerKind::Conv2d || k == LayerKind::ConvTranspose2d; }

// Every parameter tensor of the layer re-drawn from N(its mean, its standard deviation).
template <class T>
void randomize(Layer<T>& layer, std::mt19937_64& rng) {
  for (Tensor<T>* p : layer.params()) {
    if (p->empty()) continue;
    double mean = 0, sq = 0;
    for (T v : *p) mean += static_cast<double>(v);
    mean /= static_cast<double>(p->size());
    for (T v : *p) sq += (static_cast<double>(v) - mean) * (static_cast<double>(v) - mean);
    const double sd = std::sqrt(sq / static_cast<double>(p->size()));
    std::normal_distribution<double> normal(mean, sd > 0 ? sd : 1e-2);
    for (T& v : *p) v = static_cast<T>(normal(rng));
  }
}

}  // namespace

double spearman(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) throw ShapeError("spearman: series of " + std::to_string(a.size()) + " and " + std::to_string(b.size()) + " values");
  const std::vector<double> ra = ranks(a), rb = ranks(b);
  const double mean = (static_cast<double>(a.size()) + 1.0) / 2.0;
  double ab = 0, aa = 0, bb = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    ab += (ra[i] - mean) * (rb[i] - mean), aa += (ra[i] - mean) * (ra[i] - mean), bb += (rb[i] - mean) * (rb[i] - mean);
  }
  return aa > 0 && bb > 0 ? ab / std::sqrt(aa * bb) : 0.0;
}

template <class T>
std::vector<RandomizationStep> parameter_randomization(const Model<T>& model, const Tensor<T>& x, const Tensor<T>& relevance,
                                                       const ExplainRequest& request, const std::vector<std::size_t>& classes,
                                                       const RandomizationOptions& o) {
  const std::size_t k = maps_per_sample(x, relevance, classes), maps = relevance.dim(0), per = x.sample_size();
  std::vector<std::size_t> layers;  // weighted nodes, from the output down
  for (std::size_t i = model.nodes().size(); i-- > 0;)
    if (weighted(model.nodes()[i].layer->kind())) layers.push_back(i);
  if (layers.empty()) throw ConfigError("the model has no Linear or convolution layer whose weights could be randomized");
  // The same targets on the randomized models: each sample's class (one map per sample), or the
  // request's class list (several), which does not depend on what the model predicts.
  ExplainRequest req = request;
  req.dump_layers = false;
  if (k == 1) {
    req.target.kind = Target::Kind::PerSample;
    req.target.classes = classes;
  } else if (req.target.kind != Target::Kind::Classes && req.target.kind != Target::Kind::All) {
    throw ConfigError("parameter randomization explains several maps per sample for a class list or 'all' only");
  }
  std::vector<std::vector<double>> original(maps), original_abs(maps);
  for (std::size_t m = 0; m < maps; ++m) {
    original[m].assign(relevance.data() + m * per, relevance.data() + (m + 1) * per);
    for (double v : original[m]) original_abs[m].push_back(std::abs(v));
  }
  std::vector<RandomizationStep> steps;
  for (std::size_t upto = 1; upto <= layers.size(); ++upto) {
    // A fresh copy per step, the top `upto` layers drawn from their own seeds: the same draws
    // at every step, and no weights changed under a cache that holds copies of them.
    Model<T> random = model;
    for (std::size_t l = 0; l < upto; ++l) {
      std::mt19937_64 rng = map_rng(o.seed, layers[l], 2);
      randomize(*random.nodes()[layers[l]].layer, rng);
    }
    Explainer<T> explainer(random);
    const Explanation<T> e = explainer.explain(x, req);
    if (e.relevance.size() != relevance.size()) throw ShapeError("the explanation of the randomized model has shape " + shape_str(e.relevance.shape()));
    RandomizationStep step;
    step.layer = model.nodes()[layers[upto - 1]].name;
    for (std::size_t m = 0; m < maps; ++m) {
      std::vector<double> r(e.relevance.data() + m * per, e.relevance.data() + (m + 1) * per), ra(per);
      for (std::size_t i = 0; i < per; ++i) ra[i] = std::abs(r[i]);
      step.spearman.push_back(spearman(original[m], r));
      step.spearman_abs.push_back(spearman(original_abs[m], ra));
    }
    steps.push_back(std::move(step));
  }
  return steps;
}

template std::vector<RandomizationStep> parameter_randomization(const Model<float>&, const Tensor<float>&, const Tensor<float>&,
                                                                const ExplainRequest&, const std::vector<std::size_t>&,
                                                                const RandomizationOptions&);
template std::vector<RandomizationStep> parameter_randomization(const Model<double>&, const Tensor<double>&, const Tensor<double>&,
                                                                const ExplainRequest&, const std::vector<std::size_t>&,
                                                                const RandomizationOptions&);

}  // namespace lrp::evaluate
