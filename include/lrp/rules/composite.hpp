#pragma once
// Which rule each node of a model gets: one rule for all layers, named composites (Zennit's
// and the toolbox/Caffe ones) and per-layer overrides by index, name or layer type.
#include <string>
#include <vector>

#include "lrp/graph/model.hpp"
#include "lrp/rules/rule.hpp"

namespace lrp {

// An override "I=RULE": I is a layer index (as in the model file / `lrp info`), a node name,
// or "type:NAME" with a layer type name (Linear, Convolution, MaxPool, ...).
struct RuleOverride {
  std::string selector;
  Rule rule;
};
RuleOverride parse_rule_override(const std::string& text);

// The same rule for every node (the toolbox's nn.lrp(R, rule, param)).
template <class T>
std::vector<Rule> uniform_rules(const Model<T>& model, const Rule& rule);

// A named composite "NAME[:PARAMS]" (see composite_names()). Throws ConfigError.
template <class T>
std::vector<Rule> composite_rules(const Model<T>& model, const std::string& spec);
std::string composite_help();

// Applies overrides in order; an override that matches no node is an error.
template <class T>
void apply_overrides(const Model<T>& model, std::vector<Rule>& rules, const std::vector<RuleOverride>& overrides);

}  // namespace lrp
