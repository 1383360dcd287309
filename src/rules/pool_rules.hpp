#pragma once
#include "lrp/layers/pool2d.hpp"
#include "lrp/rules/apply.hpp"

namespace lrp {
RuleNeeds pool_rule_needs(const Rule& rule);
template <class T>
std::vector<Tensor<T>> pool_relevance(const Rule& rule, const Pool2d<T>& pool, const RuleInput<T>& in);
}  // namespace lrp
