#pragma once
#include "lrp/layers/lstm.hpp"
#include "lrp/rules/apply.hpp"

namespace lrp {
RuleNeeds lstm_rule_needs(const Rule& rule);
// LRP through an LSTM (Arras et al. 2017, "Explaining Recurrent Neural Network Predictions in
// Sentiment Analysis"); gradient-type rules take its gradient.
template <class T>
std::vector<Tensor<T>> lstm_relevance(const Rule& rule, const Lstm<T>& layer, const RuleInput<T>& in);
}  // namespace lrp
