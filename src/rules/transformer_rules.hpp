#pragma once
// Relevance through a transformer's own layers (AttnLRP, Achtibat et al. 2024): products of two
// computed values, the attention SoftMax, and constants added to the tokens.
#include "lrp/layers/bias.hpp"
#include "lrp/layers/matmul.hpp"
#include "lrp/rules/apply.hpp"

namespace lrp {
RuleNeeds matmul_rule_needs(const Rule& rule);
RuleNeeds softmax_rule_needs(const Rule& rule);
RuleNeeds bias_rule_needs(const Rule& rule);
template <class T>
std::vector<Tensor<T>> matmul_relevance(const Rule& rule, const RuleInput<T>& in);
template <class T>
std::vector<Tensor<T>> softmax_relevance(const Rule& rule, const RuleInput<T>& in);
template <class T>
std::vector<Tensor<T>> bias_relevance(const Rule& rule, const RuleInput<T>& in);
}  // namespace lrp
