#pragma once
#include "lrp/layers/affine.hpp"
#include "lrp/rules/apply.hpp"

namespace lrp {
RuleNeeds affine_rule_needs(const Rule& rule);
template <class T>
std::vector<Tensor<T>> affine_relevance(const Rule& rule, const AffineLayer<T>& layer, const RuleInput<T>& in);
}  // namespace lrp
