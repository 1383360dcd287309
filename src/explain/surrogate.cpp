// LIME and KernelSHAP (Captum's): a linear model fitted to the target's score on random
// coalitions of feature groups (a group present: its inputs from x, absent: from the baseline).
// Its coefficients are the groups' attributions. The coalitions are drawn once per call and
// shared by every sample, so a sample's map does not depend on the others in its batch.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "explain/feature_groups.hpp"
#include "explain/linear_fit.hpp"
#include "explain/perturbation.hpp"
#include "lrp/core/error.hpp"
#include "rules/tensor_ops.hpp"

namespace lrp {

using namespace feature_groups;

namespace {

// Captum gives the coalitions of all groups and of none this weight, in place of the infinite
// weight that makes the fitted model match the score at both ends.
constexpr double kEndpointWeight = 1e6;

// The coalitions, one row of `groups` bits each. KernelSHAP: all groups, none, then per draw a
// size k in 1..groups-1 with p(k) proportional to (groups - 1) / (k (groups - k)) and a uniform
// subset of that size (sampling proportional to the Shapley kernel, so every draw weighs 1).
// LIME: every group present with probability 1/2.
std::vector<std::vector<char>> draw_coalitions(bool kernel_shap, std::size_t groups, std::size_t count, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::vector<char>> out;
  if (!kernel_shap) {
    std::bernoulli_distribution half(0.5);
    for (std::size_t s = 0; s < count; ++s) {
      std::vector<char> z(groups);
      for (char& b : z) b = half(rng);
      out.push_back(std::move(z));
    }
    return out;
  }
  out.push_back(std::vector<char>(groups, 1));
  out.push_back(std::vector<char>(groups, 0));
  if (groups < 2) return out;  // one group: the two ends determine its coefficient
  std::vector<double> p(groups - 1);
  for (std::size_t k = 1; k < groups; ++k)
    p[k - 1] = static_cast<double>(groups - 1) / (static_cast<double>(k) * static_cast<double>(groups - k));
  std::discrete_distribution<std::size_t> size(p.begin(), p.end());
  std::vector<std::size_t> order(groups);
  while (out.size() < count) {
    const std::size_t k = size(rng) + 1;
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::vector<char> z(groups, 0);
    for (std::size_t i = 0; i < k; ++i) {  // the first k of a partial Fisher-Yates shuffle
      std::uniform_int_distribution<std::size_t> pick(i, groups - 1);
      std::swap(order[i], order[pick(rng)]);
      z[order[i]] = 1;
    }
    out.push_back(std::move(z));
  }
  return out;
}

// LIME's similarity of a perturbed sample to the input (Captum's default): exp(-d^2 / (2 width^2))
// with the cosine distance d = 1 - cos(x, perturbed) of the flattened samples.
template <class T>
double cosine_kernel(const T* x, const T* p, std::size_t n, double width) {
  double dot = 0, xx = 0, pp = 0;
  for (std::size_t i = 0; i < n; ++i) {
    dot += static_cast<double>(x[i]) * static_cast<double>(p[i]);
    xx += static_cast<double>(x[i]) * static_cast<double>(x[i]);
    pp += static_cast<double>(p[i]) * static_cast<double>(p[i]);
  }
  const double d = 1.0 - dot / std::max(std::sqrt(xx * pp), 1e-8);  // torch's CosineSimilarity eps
  return std::exp(-d * d / (2 * width * width));
}

}  // namespace

template <class T>
Tensor<T> surrogate_attribution(Method method, Executor<T>& ex, const Tensor<T>& x, const Tensor<T>& base, const Tensor<T>& seeds,
                                std::size_t k, const MethodOptions& o, std::size_t per_pass) {
  const bool kernel_shap = method == Method::KernelShap;
  const char* name = kernel_shap ? "kernel-shap" : "lime";
  if (o.samples < 2) throw ConfigError(std::string(name) + " needs at least 2 samples (--samples)");
  if (!kernel_shap && !(o.kernel_width > 0 && std::isfinite(o.kernel_width)))
    throw ConfigError("lime: the kernel width (--kernel-width) must be a finite number > 0");
  if (!kernel_shap && !(o.lasso_alpha >= 0 && std::isfinite(o.lasso_alpha)))
    throw ConfigError("lime: the lasso penalty (--lasso) must be a finite number >= 0");
  const Groups g = groups_of(x, o.feature_mask);
  const std::size_t n = x.dim(0), per = x.sample_size(), rows = n * k;
  const std::vector<std::vector<char>> coalitions = draw_coalitions(kernel_shap, g.count, o.samples, o.seed);
  const std::size_t count = coalitions.size();
  // The scores of every (coalition, row) and, for LIME, the similarity of every (coalition, sample).
  std::vector<double> score(count * rows), weight(count * n, 1.0);
  per_pass = std::max<std::size_t>(per_pass, 1);
  for (std::size_t s0 = 0; s0 < count; s0 += per_pass) {
    const std::size_t m = std::min(per_pass, count - s0);
    Shape bs = x.shape();
    bs[0] *= m;
    Tensor<T> xb = Tensor<T>::uninitialized(bs);
    for (std::size_t j = 0; j < m; ++j) {
      std::vector<char> from_base(coalitions[s0 + j].size());
      for (std::size_t q = 0; q < from_base.size(); ++q) from_base[q] = !coalitions[s0 + j][q];
      mix(x, base, g, from_base, xb.data() + j * x.size());
    }
    const Tensor<T>& y = ex.forward(xb);
    for (std::size_t j = 0; j < m; ++j) {
      const std::size_t s = s0 + j;
      const std::size_t on = static_cast<std::size_t>(std::count(coalitions[s].begin(), coalitions[s].end(), 1));
      const bool endpoint = kernel_shap && (on == 0 || on == g.count);
      for (std::size_t i = 0; i < n; ++i) {
        for (std::size_t t = 0; t < k; ++t) score[s * rows + i * k + t] = static_cast<double>(target_score(y, seeds, j * n + i, i * k + t));
        if (endpoint) weight[s * n + i] = kEndpointWeight;
        else if (!kernel_shap) weight[s * n + i] = cosine_kernel(x.data() + i * per, xb.data() + j * x.size() + i * per, per, o.kernel_width);
      }
    }
  }
  Tensor<T> result = ops::repeat_rows(Tensor<T>(x.shape()), k);
  linear_fit::Samples fit;
  fit.rows = count;
  fit.cols = g.count;
  for (const std::vector<char>& z : coalitions) fit.z.insert(fit.z.end(), z.begin(), z.end());
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t t = 0; t < k; ++t) {
      const std::size_t row = i * k + t;
      fit.y.resize(count);
      fit.w.resize(count);
      for (std::size_t s = 0; s < count; ++s) {
        fit.y[s] = score[s * rows + row];
        fit.w[s] = weight[s * n + i];
      }
      const std::vector<double> coef =
          kernel_shap || o.lasso_alpha == 0 ? linear_fit::least_squares(fit) : linear_fit::lasso(fit, o.lasso_alpha);
      T* r = result.data() + row * per;
      for (std::size_t e = 0; e < per; ++e) r[e] = static_cast<T>(coef[g.id[g.per_sample ? i * per + e : e]]);
    }
  return result;
}

template Tensor<float> surrogate_attribution(Method, Executor<float>&, const Tensor<float>&, const Tensor<float>&, const Tensor<float>&,
                                             std::size_t, const MethodOptions&, std::size_t);
template Tensor<double> surrogate_attribution(Method, Executor<double>&, const Tensor<double>&, const Tensor<double>&,
                                              const Tensor<double>&, std::size_t, const MethodOptions&, std::size_t);

}  // namespace lrp
