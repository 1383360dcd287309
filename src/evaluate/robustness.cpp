// Infidelity and max-sensitivity (Yeh et al. 2019), as Captum's metrics compute them.
#include <algorithm>
#include <cmath>
#include <random>
#include <string>

#include "evaluate/scoring.hpp"
#include "lrp/core/error.hpp"

namespace lrp::evaluate {

template <class T>
InfidelityResult infidelity(Explainer<T>& explainer, const Tensor<T>& x, const Tensor<T>& relevance, const Tensor<T>& masks,
                            const InfidelityOptions& o) {
  const std::size_t k = maps_per_sample(x, relevance, masks), maps = relevance.dim(0), per = x.sample_size();
  if (o.samples == 0) throw ConfigError("infidelity needs at least one perturbation per map");
  if (!(o.noise_level > 0.0) || !std::isfinite(o.noise_level)) throw ConfigError("the infidelity noise level must be a positive number");
  // Maps `pass` at a time; rows of a pass: each map's sample, then its perturbed copies
  // (map i's copy j at count + i * samples + j). Map m's noise is part 0 of its draws.
  const Shape sample(x.shape().begin() + 1, x.shape().end());
  const std::size_t pass = std::max<std::size_t>(1, rows_per_pass(explainer, sample, o.rows_per_pass) / (1 + o.samples));
  std::vector<double> projected(maps * o.samples), change(maps * o.samples);  // R . I and f(x) - f(x - I) per (m, j)
  for (std::size_t first = 0; first < maps; first += pass) {
    const std::size_t count = std::min(pass, maps - first), rows = count * (1 + o.samples);
    Shape shape = x.shape();
    shape[0] = rows;
    Tensor<T> inputs = Tensor<T>::uninitialized(shape);
    std::vector<std::size_t> mask_of_row(rows);
    for (std::size_t i = 0; i < count; ++i) {
      const std::size_t m = first + i;
      const T* xs = x.data() + (m / k) * per;
      const T* r = relevance.data() + m * per;
      std::copy_n(xs, per, inputs.data() + i * per);
      mask_of_row[i] = m;
      const auto [lo, hi] = value_range(xs, per);
      const double sigma = o.noise_level * (hi - lo > 0 ? hi - lo : 1.0);
      std::mt19937_64 rng = map_rng(o.seed, m);
      std::normal_distribution<double> normal(0.0, 1.0);
      for (std::size_t j = 0; j < o.samples; ++j) {
        const std::size_t row = count + i * o.samples + j;
        T* out = inputs.data() + row * per;
        double dot = 0;
        for (std::size_t e = 0; e < per; ++e) {
          const auto noise = static_cast<T>(sigma * normal(rng));
          out[e] = xs[e] - noise;
          dot += static_cast<double>(r[e]) * static_cast<double>(noise);
        }
        projected[m * o.samples + j] = dot;
        mask_of_row[row] = m;
      }
    }
    const std::vector<double> f = masked_scores(explainer, inputs, masks, mask_of_row);
    for (std::size_t i = 0; i < count; ++i)
      for (std::size_t j = 0; j < o.samples; ++j) change[(first + i) * o.samples + j] = f[i] - f[count + i * o.samples + j];
  }
  InfidelityResult res;
  for (std::size_t m = 0; m < maps; ++m) {
    const auto p = [&](std::size_t j) { return projected[m * o.samples + j]; };
    const auto d = [&](std::size_t j) { return change[m * o.samples + j]; };
    double pp = 0, pd = 0;
    for (std::size_t j = 0; j < o.samples; ++j) pp += p(j) * p(j), pd += p(j) * d(j);
    // Captum's normalize=True: R scaled by the factor that fits the changes best.
    const double beta = pp > 0 ? pd / pp : 0.0;
    double plain = 0, scaled = 0;
    for (std::size_t j = 0; j < o.samples; ++j)
      plain += (p(j) - d(j)) * (p(j) - d(j)), scaled += (beta * p(j) - d(j)) * (beta * p(j) - d(j));
    const double n = static_cast<double>(o.samples);
    res.infidelity.push_back(plain / n);
    res.normalized_infidelity.push_back(scaled / n);
    if (!std::isfinite(res.infidelity.back()) || !std::isfinite(res.normalized_infidelity.back()))
      throw NumericError("the infidelity of map " + std::to_string(m) + " is NaN or Inf (the model's score or the relevance overflowed)");
  }
  return res;
}

template <class T>
std::vector<double> max_sensitivity(Explainer<T>& explainer, const Tensor<T>& x, const Tensor<T>& relevance,
                                    const ExplainRequest& request, const std::vector<std::size_t>& classes,
                                    const SensitivityOptions& o) {
  const std::size_t k = maps_per_sample(x, relevance, classes), maps = relevance.dim(0), per = x.sample_size();
  if (o.samples == 0) throw ConfigError("max-sensitivity needs at least one perturbation per map");
  if (!(o.radius > 0.0) || !std::isfinite(o.radius)) throw ConfigError("the sensitivity radius must be a positive number");
  // One perturbed copy per (map m, perturbation j), explained for that map's class alone; maps
  // `pass` at a time (copy j of the pass's map i at row i * samples + j). Map m's noise is
  // part 0 of its draws.
  ExplainRequest req = request;
  req.target.kind = Target::Kind::PerSample;
  req.dump_layers = false;
  const Shape sample(x.shape().begin() + 1, x.shape().end());
  const std::size_t pass = std::max<std::size_t>(1, rows_per_pass(explainer, sample, o.rows_per_pass) / o.samples);
  std::vector<double> out(maps, 0.0);
  for (std::size_t first = 0; first < maps; first += pass) {
    const std::size_t count = std::min(pass, maps - first);
    Shape shape = x.shape();
    shape[0] = count * o.samples;
    Tensor<T> inputs = Tensor<T>::uninitialized(shape);
    req.target.classes.clear();
    for (std::size_t i = 0; i < count; ++i) {
      const std::size_t m = first + i;
      const T* xs = x.data() + (m / k) * per;
      std::mt19937_64 rng = map_rng(o.seed, m);
      std::uniform_real_distribution<double> noise(-o.radius, o.radius);
      for (std::size_t j = 0; j < o.samples; ++j) {
        T* row = inputs.data() + (i * o.samples + j) * per;
        for (std::size_t e = 0; e < per; ++e) row[e] = static_cast<T>(static_cast<double>(xs[e]) + noise(rng));
        req.target.classes.push_back(classes[m]);
      }
    }
    const Explanation<T> e = explainer.explain(inputs, req);
    if (e.relevance.size() != inputs.size())
      throw ShapeError("the explanation of the perturbed inputs has shape " + shape_str(e.relevance.shape()));
    for (std::size_t i = 0; i < count; ++i) {
      const std::size_t m = first + i;
      const T* r0 = relevance.data() + m * per;
      double norm = 0;
      for (std::size_t e0 = 0; e0 < per; ++e0) norm += static_cast<double>(r0[e0]) * static_cast<double>(r0[e0]);
      norm = norm > 0 ? std::sqrt(norm) : 1.0;
      for (std::size_t j = 0; j < o.samples; ++j) {
        const T* r = e.relevance.data() + (i * o.samples + j) * per;
        double diff = 0;
        for (std::size_t e0 = 0; e0 < per; ++e0) {
          const double d = static_cast<double>(r[e0]) - static_cast<double>(r0[e0]);
          diff += d * d;
        }
        out[m] = std::max(out[m], std::sqrt(diff) / norm);
      }
      if (!std::isfinite(out[m])) throw NumericError("the sensitivity of map " + std::to_string(m) + " is NaN or Inf");
    }
  }
  return out;
}

template InfidelityResult infidelity(Explainer<float>&, const Tensor<float>&, const Tensor<float>&, const Tensor<float>&,
                                     const InfidelityOptions&);
template InfidelityResult infidelity(Explainer<double>&, const Tensor<double>&, const Tensor<double>&, const Tensor<double>&,
                                     const InfidelityOptions&);
template std::vector<double> max_sensitivity(Explainer<float>&, const Tensor<float>&, const Tensor<float>&, const ExplainRequest&,
                                             const std::vector<std::size_t>&, const SensitivityOptions&);
template std::vector<double> max_sensitivity(Explainer<double>&, const Tensor<double>&, const Tensor<double>&, const ExplainRequest&,
                                             const std::vector<std::size_t>&, const SensitivityOptions&);

}  // namespace lrp::evaluate
