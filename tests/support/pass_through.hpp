#pragma once
// The check shared by the tests of layers that every LRP rule passes relevance through (LRN,
// PRelu, as the activations): exactly unchanged, so its sum is conserved too.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "lrp/explain/explain.hpp"
#include "lrp/rules/rule.hpp"
#include "support/compare.hpp"

namespace lrp::test {

// `single` holds only the layer: relevance r given at its output comes back unchanged at its
// input for every LRP rule, in double and (to float rounding) in float.
inline void expect_every_lrp_rule_passes_through(const Model<double>& single, const Tensor<double>& x, const Tensor<double>& r) {
  for (const std::string rule : {"epsilon:0.01", "z", "alphabeta:2", "zplus", "gamma", "flat", "w2", "pass"}) {
    SCOPED_TRACE(rule);
    ExplainRequest req;
    req.target.kind = Target::Kind::Relevance;
    req.target.relevance = r;
    req.rules = {parse_rule(rule)};
    const Tensor<double> got = explain(single, x, req).relevance;
    EXPECT_LE(max_rel_error(got, r), 0.0);
    EXPECT_NEAR(sum(got), sum(r), 1e-12);
    const Tensor<float> gotf = explain(single.convert<float>(), x.cast<float>(), req).relevance;
    EXPECT_LE(max_rel_error(gotf, r), 1e-7);
  }
}

// Inside `model` with `rules`, two classes at once, where `name` is the first node: the input
// relevance equals the relevance arriving at that node's output.
inline void expect_input_relevance_equals_node(const Model<double>& model, const std::vector<Rule>& rules, const Tensor<double>& x,
                                               const std::string& name) {
  ExplainRequest req;
  req.rules = rules;
  req.target.kind = Target::Kind::Classes;
  req.target.classes = {0, 3};
  req.dump_layers = true;
  const Explanation<double> e = explain(model, x, req);
  EXPECT_LE(max_rel_error(e.relevance.reshaped(e.layers.at(name).shape()), e.layers.at(name)), 0.0);
}

}  // namespace lrp::test
