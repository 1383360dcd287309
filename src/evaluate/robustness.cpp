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
  // Rows: the unperturbed sample of every map, then (perturbation j, map m) at maps + j * maps + m.
  const std::size_t rows = maps * (1 + o.samples);
  Shape shape = x.shape();
  shape[0] = rows;
  Tensor<T> inputs = Tensor<T>::uninitialized(shape);
  std::vector<double> projected(maps * o.samples);  // R . I per (j, m)
  std::vector<std::size_t> mask_of_row(rows);
  std::mt19937_64 rng(o.seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  for (std::size_t m = 0; m < maps; ++m) {
    std::copy_n(x.data() + (m / k) * per, per, inputs.data() + m * per);
    mask_of_row[m] = m;
  }
  for (std::size_t j = 0; j < o.samples; ++j)
    for (std::size_t m = 0; m < maps; ++m) {
      const std::size_t row = maps + j * maps + m;
      const T* xs = x.data() + (m / k) * per;
      const T* r = relevance.data() + m * per;
      const auto [lo, hi] = value_range(xs, per);
      const double sigma = o.noise_level * (hi - lo > 0 ? hi - lo : 1.0);
      T* out = inputs.data() + row * per;
      double dot = 0;
      for (std::size_t i = 0; i < per; ++i) {
        const auto noise = static_cast<T>(sigma * normal(rng));
        out[i] = xs[i] - noise;
        dot += static_cast<double>(r[i]) * static_cast<double>(noise);
      }
      projected[j * maps + m] = dot;
      mask_of_row[row] = m;
    }
  const std::vector<double> f = masked_scores(explainer, inputs, masks, mask_of_row);
  InfidelityResult res;
  for (std::size_t m = 0; m < maps; ++m) {
    const auto p = [&](std::size_t j) { return projected[j * maps + m]; };
    const auto d = [&](std::size_t j) { return f[m] - f[maps + j * maps + m]; };
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
  const std::size_t n = x.dim(0), per = x.sample_size();
  if (n == 0 || relevance.rank() == 0 || relevance.sample_size() != per || relevance.dim(0) % n != 0 || classes.size() != relevance.dim(0))
    throw ShapeError("the relevance has shape " + shape_str(relevance.shape()) + " for " + std::to_string(classes.size()) +
                     " targets of an input " + shape_str(x.shape()));
  if (o.samples == 0) throw ConfigError("max-sensitivity needs at least one perturbation per map");
  if (!(o.radius > 0.0) || !std::isfinite(o.radius)) throw ConfigError("the sensitivity radius must be a positive number");
  const std::size_t maps = relevance.dim(0), k = maps / n;
  // One perturbed copy per (perturbation j, map m), explained for that map's class alone.
  ExplainRequest req = request;
  req.target.kind = Target::Kind::PerSample;
  req.target.classes.clear();
  req.dump_layers = false;
  Shape shape = x.shape();
  shape[0] = maps * o.samples;
  Tensor<T> inputs = Tensor<T>::uninitialized(shape);
  std::mt19937_64 rng(o.seed);
  std::uniform_real_distribution<double> noise(-o.radius, o.radius);
  for (std::size_t j = 0; j < o.samples; ++j)
    for (std::size_t m = 0; m < maps; ++m) {
      const T* xs = x.data() + (m / k) * per;
      T* out = inputs.data() + (j * maps + m) * per;
      for (std::size_t i = 0; i < per; ++i) out[i] = static_cast<T>(static_cast<double>(xs[i]) + noise(rng));
      req.target.classes.push_back(classes[m]);
    }
  const Explanation<T> e = explainer.explain(inputs, req);
  if (e.relevance.size() != inputs.size())
    throw ShapeError("the explanation of the perturbed inputs has shape " + shape_str(e.relevance.shape()));
  std::vector<double> out(maps, 0.0);
  for (std::size_t m = 0; m < maps; ++m) {
    const T* r0 = relevance.data() + m * per;
    double norm = 0;
    for (std::size_t i = 0; i < per; ++i) norm += static_cast<double>(r0[i]) * static_cast<double>(r0[i]);
    norm = norm > 0 ? std::sqrt(norm) : 1.0;
    for (std::size_t j = 0; j < o.samples; ++j) {
      const T* r = e.relevance.data() + (j * maps + m) * per;
      double diff = 0;
      for (std::size_t i = 0; i < per; ++i) {
        const double d = static_cast<double>(r[i]) - static_cast<double>(r0[i]);
        diff += d * d;
      }
      out[m] = std::max(out[m], std::sqrt(diff) / norm);
    }
    if (!std::isfinite(out[m])) throw NumericError("the sensitivity of map " + std::to_string(m) + " is NaN or Inf");
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
