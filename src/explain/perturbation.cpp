#include "explain/perturbation.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "lrp/core/error.hpp"
#include "rules/tensor_ops.hpp"

namespace lrp {
namespace {

// The target's score of sample i in row i * k + j: the outputs where the row's seed is nonzero.
template <class T>
T target_score(const Tensor<T>& y, const Tensor<T>& seeds, std::size_t i, std::size_t row) {
  const std::size_t outs = seeds.sample_size();
  T score = 0;
  for (std::size_t q = 0; q < outs; ++q)
    if (seeds[row * outs + q] != T(0)) score += y[i * outs + q];
  return score;
}

// Group id of every element of one sample ([per]) or of every sample ([n * per]), and the count.
struct Groups {
  std::vector<std::size_t> id;
  std::size_t count = 0;
  bool per_sample = false;
};

template <class T>
Groups groups_of(const Tensor<T>& x, const Tensor<double>& mask) {
  const std::size_t per = x.sample_size();
  Groups g;
  // One forward pass per group (per order, for Shapley sampling): elements of an image by the
  // hundred thousand would run for hours where grouped pixels take seconds.
  if (mask.empty() && per > 4096)
    throw ConfigError("the input has " + std::to_string(per) +
                      " elements, one forward pass each without groups; give a feature mask (--feature-mask FILE)");
  if (mask.empty()) {
    g.id.resize(per);
    std::iota(g.id.begin(), g.id.end(), std::size_t{0});
    g.count = per;
    return g;
  }
  const bool one = mask.rank() == x.rank() && mask.dim(0) == 1 && mask.sample_size() == per;
  g.per_sample = mask.shape() == x.shape() && x.dim(0) > 1;
  if (!one && !g.per_sample)
    throw ShapeError("the feature mask has shape " + shape_str(mask.shape()) + ", the input " + shape_str(x.shape()) +
                     " (give one sample's shape or the input's)");
  // Ids are numbered densely in increasing order: ids 0, 7 and 1000 are three groups, not 1001.
  std::vector<double> ids(mask.begin(), mask.end());
  for (const double v : ids)
    if (!(v >= 0) || v != std::floor(v)) throw ConfigError("the feature mask holds " + std::to_string(v) + ": group ids must be integers >= 0");
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  g.id.resize(mask.size());
  for (std::size_t i = 0; i < mask.size(); ++i)
    g.id[i] = static_cast<std::size_t>(std::lower_bound(ids.begin(), ids.end(), mask[i]) - ids.begin());
  g.count = ids.size();
  return g;
}

// x with the elements of the groups where `from_base[g]` taken from base.
template <class T>
void mix(const Tensor<T>& x, const Tensor<T>& base, const Groups& g, const std::vector<char>& from_base, Tensor<T>& out) {
  const std::size_t per = x.sample_size();
  for (std::size_t i = 0; i < x.size(); ++i) {
    const std::size_t group = g.id[g.per_sample ? i : i % per];
    out[i] = from_base[group] ? base[i] : x[i];
  }
}

// Adds value(i, row) to every element of group `group` in every row of the result.
template <class T, class Value>
void credit(Tensor<T>& result, const Groups& g, std::size_t group, std::size_t n, std::size_t k, std::size_t per, Value&& value) {
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < k; ++j) {
      const std::size_t row = i * k + j;
      const T v = value(i, row);
      T* r = result.data() + row * per;
      for (std::size_t e = 0; e < per; ++e)
        if (g.id[g.per_sample ? i * per + e : e] == group) r[e] += v;
    }
}

}  // namespace

// Zennit's Occlusion: windows wrap at the border, as torch.roll does.
template <class T>
Tensor<T> occlusion(Executor<T>& ex, const Tensor<T>& x, const Tensor<T>& seeds, std::size_t k, const MethodOptions& o) {
  const std::size_t n = x.dim(0);
  const std::size_t h = x.rank() == 4 ? x.dim(2) : 1;
  const std::size_t w = x.rank() == 4 ? x.dim(3) : x.sample_size();
  const std::size_t c = x.sample_size() / (h * w);
  const std::size_t wh = std::min(o.window, h), ww = std::min(o.window, w);
  const std::size_t sh = std::min(o.stride, h), sw = std::min(o.stride, w);
  if (o.window == 0 || o.stride == 0) throw ConfigError("occlusion window and stride must be positive");
  Tensor<T> result = ops::repeat_rows(Tensor<T>(x.shape()), k);
  std::vector<char> mask(h * w);
  for (std::size_t y0 = 0; y0 < h; y0 += sh)
    for (std::size_t x0 = 0; x0 < w; x0 += sw) {
      std::fill(mask.begin(), mask.end(), 0);
      for (std::size_t i = 0; i < wh; ++i)
        for (std::size_t j = 0; j < ww; ++j) mask[((y0 + i) % h) * w + (x0 + j) % w] = 1;
      Tensor<T> xo = x;
      for (std::size_t s = 0; s < n * c; ++s)
        for (std::size_t p = 0; p < h * w; ++p)
          if (!mask[p]) xo[s * h * w + p] = static_cast<T>(o.occlusion_value);
      const Tensor<T>& y = ex.forward(xo);
      for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < k; ++j) {
          const std::size_t row = i * k + j;
          const T score = target_score(y, seeds, i, row);
          T* r = result.data() + row * c * h * w;
          for (std::size_t ch = 0; ch < c; ++ch)
            for (std::size_t p = 0; p < h * w; ++p)
              if (mask[p]) r[ch * h * w + p] += score;
        }
    }
  return result;
}

template <class T>
Tensor<T> feature_ablation(Executor<T>& ex, const Tensor<T>& x, const Tensor<T>& base, const Tensor<T>& seeds, std::size_t k,
                           const MethodOptions& o) {
  const Groups g = groups_of(x, o.feature_mask);
  const std::size_t n = x.dim(0), per = x.sample_size();
  const Tensor<T> y = ex.forward(x);
  Tensor<T> result = ops::repeat_rows(Tensor<T>(x.shape()), k);
  Tensor<T> xa = Tensor<T>::uninitialized(x.shape());
  std::vector<char> off(g.count, 0);
  for (std::size_t group = 0; group < g.count; ++group) {
    off[group] = 1;
    mix(x, base, g, off, xa);
    off[group] = 0;
    const Tensor<T>& ya = ex.forward(xa);
    credit(result, g, group, n, k, per,
           [&](std::size_t i, std::size_t row) { return target_score(y, seeds, i, row) - target_score(ya, seeds, i, row); });
  }
  return result;
}

template <class T>
Tensor<T> shapley_sampling(Executor<T>& ex, const Tensor<T>& x, const Tensor<T>& base, const Tensor<T>& seeds, std::size_t k,
                           const MethodOptions& o) {
  if (o.samples == 0) throw ConfigError("shapley sampling needs at least one sample (--samples)");
  const Groups g = groups_of(x, o.feature_mask);
  const std::size_t n = x.dim(0), per = x.sample_size();
  Tensor<T> result = ops::repeat_rows(Tensor<T>(x.shape()), k);
  const Tensor<T> y_base = ex.forward(base);
  std::vector<std::size_t> order(g.count);
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::mt19937_64 rng(o.seed);
  Tensor<T> xm = Tensor<T>::uninitialized(x.shape());
  const T share = T(1) / static_cast<T>(o.samples);
  for (std::size_t s = 0; s < o.samples; ++s) {
    std::shuffle(order.begin(), order.end(), rng);
    std::vector<char> from_base(g.count, 1);
    Tensor<T> before = y_base;
    for (const std::size_t group : order) {
      from_base[group] = 0;
      mix(x, base, g, from_base, xm);
      Tensor<T> after = ex.forward(xm);
      credit(result, g, group, n, k, per, [&](std::size_t i, std::size_t row) {
        return share * (target_score(after, seeds, i, row) - target_score(before, seeds, i, row));
      });
      before = std::move(after);
    }
  }
  return result;
}

template Tensor<float> occlusion(Executor<float>&, const Tensor<float>&, const Tensor<float>&, std::size_t, const MethodOptions&);
template Tensor<double> occlusion(Executor<double>&, const Tensor<double>&, const Tensor<double>&, std::size_t, const MethodOptions&);
template Tensor<float> feature_ablation(Executor<float>&, const Tensor<float>&, const Tensor<float>&, const Tensor<float>&, std::size_t,
                                        const MethodOptions&);
template Tensor<double> feature_ablation(Executor<double>&, const Tensor<double>&, const Tensor<double>&, const Tensor<double>&,
                                         std::size_t, const MethodOptions&);
template Tensor<float> shapley_sampling(Executor<float>&, const Tensor<float>&, const Tensor<float>&, const Tensor<float>&, std::size_t,
                                        const MethodOptions&);
template Tensor<double> shapley_sampling(Executor<double>&, const Tensor<double>&, const Tensor<double>&, const Tensor<double>&,
                                         std::size_t, const MethodOptions&);

}  // namespace lrp
