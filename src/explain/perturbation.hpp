#pragma once
// Attribution by perturbing the input and watching the target's score, no gradients: occlusion
// (Zennit's), feature ablation, Shapley value sampling, LIME and KernelSHAP (Captum's). The
// score of row n * k + j is the sum of the model outputs where its seed is nonzero (the
// target's output).
#include <cstddef>

#include "lrp/explain/executor.hpp"
#include "lrp/explain/explain.hpp"

namespace lrp {

// Occlusion: each window (`window`, `stride`, wrapping at the border) keeps the input, the rest
// is `occlusion_value`; the window's inputs receive the score of that input. [N * k, ...x].
template <class T>
Tensor<T> occlusion(Executor<T>& ex, const Tensor<T>& x, const Tensor<T>& seeds, std::size_t k, const MethodOptions& o);

// Feature groups: `feature_mask` holds a group id (a non-negative integer; any gaps between ids
// are skipped) per input element, one sample's shape [1, ...] (every sample) or x's; empty:
// every element its own group. The
// ablated value is the baseline's `base` (x's shape).
//
// Feature ablation: every element of group g gets score(x) - score(x with g set to the baseline).
template <class T>
Tensor<T> feature_ablation(Executor<T>& ex, const Tensor<T>& x, const Tensor<T>& base, const Tensor<T>& seeds, std::size_t k,
                           const MethodOptions& o);
// Shapley value sampling: over `samples` random orders of the groups (`seed`), the groups are
// switched from the baseline to the input one by one; every element of group g gets the mean
// change of the score when g was switched. Per order the changes sum to score(x) - score(base).
template <class T>
Tensor<T> shapley_sampling(Executor<T>& ex, const Tensor<T>& x, const Tensor<T>& base, const Tensor<T>& seeds, std::size_t k,
                           const MethodOptions& o);

// LIME and KernelSHAP (method Lime or KernelShap, Captum's): `samples` coalitions of the groups
// (`seed`), evaluated `per_pass` at a time; every element of group g gets g's coefficient in a
// linear model fitted to the scores. KernelSHAP: coalitions drawn by the Shapley kernel,
// weighted least squares (Shapley values in the limit). LIME: coalitions of independent halves,
// weighted by the cosine kernel of `kernel_width`, Lasso of `lasso_alpha` (0: least squares).
template <class T>
Tensor<T> surrogate_attribution(Method method, Executor<T>& ex, const Tensor<T>& x, const Tensor<T>& base, const Tensor<T>& seeds,
                                std::size_t k, const MethodOptions& o, std::size_t per_pass);

}  // namespace lrp
