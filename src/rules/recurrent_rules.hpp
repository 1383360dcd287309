#pragma once
#include "lrp/layers/gru.hpp"
#include "lrp/layers/lstm.hpp"
#include "lrp/layers/rnn.hpp"
#include "lrp/rules/apply.hpp"

namespace lrp {
RuleNeeds recurrent_rule_needs(const Rule& rule);
// LRP through an LSTM (Arras et al. 2017, "Explaining Recurrent Neural Network Predictions in
// Sentiment Analysis") and a GRU (the same principle: gates held constant, sums split in
// proportion) and a simple RNN; gradient-type rules take the layer's gradient.
template <class T>
std::vector<Tensor<T>> lstm_relevance(const Rule& rule, const Lstm<T>& layer, const RuleInput<T>& in);
template <class T>
std::vector<Tensor<T>> gru_relevance(const Rule& rule, const Gru<T>& layer, const RuleInput<T>& in);
template <class T>
std::vector<Tensor<T>> rnn_relevance(const Rule& rule, const Rnn<T>& layer, const RuleInput<T>& in);
}  // namespace lrp
