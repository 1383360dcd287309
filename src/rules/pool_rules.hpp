#pragma once
#include "lrp/layers/pool2d.hpp"
#include "lrp/rules/apply.hpp"

namespace lrp {
// Max pools with winner masks (Pool2d::winner_masks) need those instead of input and output.
template <class T>
RuleNeeds pool_rule_needs(const Rule& rule, const Pool2d<T>& pool);
template <class T>
std::vector<Tensor<T>> pool_relevance(const Rule& rule, const Pool2d<T>& pool, const RuleInput<T>& in);
}  // namespace lrp
