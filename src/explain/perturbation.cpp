#include "explain/perturbation.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "explain/feature_groups.hpp"
#include "lrp/core/error.hpp"
#include "rules/tensor_ops.hpp"

namespace lrp {

using namespace feature_groups;

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
  if (!std::isfinite(o.occlusion_value)) throw ConfigError("occlusion: the value outside the window (--occlusion-value) must be finite");
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
    mix(x, base, g, off, xa.data());
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
      mix(x, base, g, from_base, xm.data());
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
