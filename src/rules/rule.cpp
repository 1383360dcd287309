#include "lrp/rules/rule.hpp"

#include <cmath>

#include "lrp/core/error.hpp"
#include "lrp/core/parse.hpp"

namespace lrp {
namespace {
Rule make(RuleKind kind, StabilizerStyle style, double eps, const std::string& text) {
  Rule r;
  r.kind = kind;
  r.style = style;
  r.epsilon = eps;
  r.pool_epsilon = eps;
  r.text = text;
  return r;
}
}  // namespace

Rule Rule::gradient() { return make(RuleKind::Gradient, StabilizerStyle::Zennit, 0.0, "gradient"); }
Rule Rule::pass() { return make(RuleKind::Pass, StabilizerStyle::Zennit, 0.0, "pass"); }
Rule Rule::epsilon_rule(double eps) { return make(RuleKind::Epsilon, StabilizerStyle::Zennit, eps, "epsilon:" + format_number(eps)); }
Rule Rule::zplus(double s) { return make(RuleKind::ZPlus, StabilizerStyle::Zennit, s, "zplus"); }
Rule Rule::alpha_beta(double alpha, double beta, double s) {
  Rule r = make(RuleKind::AlphaBeta, StabilizerStyle::Zennit, s, "alphabeta:" + format_number(alpha) + "," + format_number(beta));
  r.alpha = alpha;
  r.beta = beta;
  return r;
}
Rule Rule::gamma_rule(double gamma, double s) {
  Rule r = make(RuleKind::Gamma, StabilizerStyle::Zennit, s, "gamma:" + format_number(gamma));
  r.gamma = gamma;
  return r;
}
Rule Rule::zbox(std::vector<double> low, std::vector<double> high, double s) {
  Rule r = make(RuleKind::ZBox, StabilizerStyle::Zennit, s, "zbox");
  r.low = std::move(low);
  r.high = std::move(high);
  return r;
}
Rule Rule::flat(double s) { return make(RuleKind::Flat, StabilizerStyle::Zennit, s, "flat"); }
Rule Rule::wsquare(double s) { return make(RuleKind::WSquare, StabilizerStyle::Zennit, s, "w2"); }
Rule Rule::norm(double s) { return make(RuleKind::Norm, StabilizerStyle::Zennit, s, "norm"); }
Rule Rule::deconvnet() { return make(RuleKind::DeconvNet, StabilizerStyle::Zennit, 0.0, "deconvnet"); }
Rule Rule::guided_backprop() { return make(RuleKind::GuidedBackprop, StabilizerStyle::Zennit, 0.0, "guided-backprop"); }
Rule Rule::beta_smooth(double beta) {
  Rule r = make(RuleKind::BetaSmooth, StabilizerStyle::Zennit, 0.0, "beta-smooth:" + format_number(beta));
  r.smooth_beta = beta;
  return r;
}

Rule Rule::rescale() { return make(RuleKind::Rescale, StabilizerStyle::Zennit, 0.0, "rescale"); }

bool is_gradient_kind(RuleKind k) {
  return k == RuleKind::Gradient || k == RuleKind::DeconvNet || k == RuleKind::GuidedBackprop || k == RuleKind::BetaSmooth ||
         k == RuleKind::Rescale;
}

bool takes_zero_bias(RuleKind k) {
  switch (k) {
    case RuleKind::Epsilon:
    case RuleKind::AlphaBeta:
    case RuleKind::ZPlus:
    case RuleKind::Gamma:
    case RuleKind::ZBox:
    case RuleKind::Flat:
    case RuleKind::WSquare:
      return true;
    default:
      return false;
  }
}

bool strip_zero_bias(std::string& text) {
  static const std::string suffix = "/nobias";
  if (text.size() < suffix.size() || text.compare(text.size() - suffix.size(), suffix.size(), suffix) != 0) return false;
  text.erase(text.size() - suffix.size());
  return true;
}

std::string rule_grammar() {
  return "RULE: z (alias simple) | epsilon:E (alias eps:E) | alphabeta:A[,B] (B defaults to A-1; alias alpha) | "
         "w2 (alias ww) | flat   [LRP Toolbox rules and stabilisers]\n"
         "      zplus | gamma[:G] (G defaults to 0.25) | zbox:LOW,HIGH | pass | norm   [Zennit rules, stabiliser 1e-6]\n"
         "      gradient | deconvnet | guided-backprop | beta-smooth[:B] (ReLU gradient sigmoid(B x), B defaults to 10)\n"
         "      RULE/nobias: the layer's bias taken as zero in the rule (epsilon, z, alphabeta, zplus, gamma, w2; zbox and flat\n"
         "      never use it): the bias absorbs no relevance";
}

Rule parse_rule(const std::string& full_text) {
  std::string text = full_text;
  const bool zero_bias = strip_zero_bias(text);
  const std::size_t colon = text.find(':');
  const std::string name = text.substr(0, colon);
  const std::string args = colon == std::string::npos ? "" : text.substr(colon + 1);
  const bool has_args = colon != std::string::npos;
  const auto numbers = [&](std::size_t min_count, std::size_t max_count) {
    std::vector<double> v = parse_number_list(args, "rule '" + text + "'");
    if (v.size() < min_count || v.size() > max_count)
      throw ConfigError("rule '" + text + "' takes " +
                        (min_count == max_count ? std::to_string(min_count) : std::to_string(min_count) + " to " + std::to_string(max_count)) +
                        " parameter(s)\n" + rule_grammar());
    return v;
  };
  const auto no_args = [&]() {
    if (has_args) throw ConfigError("rule '" + name + "' takes no parameters\n" + rule_grammar());
  };
  Rule r;
  if (name == "z" || name == "simple") {
    no_args();
    r = make(RuleKind::Epsilon, StabilizerStyle::Toolbox, 1e-16, text);
    r.pool_epsilon = 1e-12;
  } else if (name == "epsilon" || name == "eps") {
    const double e = numbers(1, 1)[0];
    if (e < 0) throw ConfigError("rule '" + text + "': epsilon must be >= 0");
    r = make(RuleKind::Epsilon, StabilizerStyle::Toolbox, e, text);
  } else if (name == "alphabeta" || name == "alpha") {
    const std::vector<double> v = numbers(1, 2);
    r = make(RuleKind::AlphaBeta, StabilizerStyle::Toolbox, 1e-16, text);
    r.alpha = v[0];
    r.beta = v.size() > 1 ? v[1] : v[0] - 1.0;
  } else if (name == "w2" || name == "ww" || name == "w^2") {
    no_args();
    r = make(RuleKind::WSquare, StabilizerStyle::Toolbox, 0.0, text);
  } else if (name == "flat") {
    no_args();
    r = make(RuleKind::Flat, StabilizerStyle::Toolbox, 0.0, text);
  } else if (name == "zplus") {
    no_args();
    r = Rule::zplus();
  } else if (name == "gamma") {
    r = Rule::gamma_rule(has_args ? numbers(1, 1)[0] : 0.25);
  } else if (name == "zbox") {
    const std::vector<double> v = numbers(2, 2);
    if (v[0] > v[1]) throw ConfigError("rule '" + text + "': LOW must not exceed HIGH");
    r = Rule::zbox({v[0]}, {v[1]});
  } else if (name == "pass") {
    no_args();
    r = Rule::pass();
  } else if (name == "norm") {
    no_args();
    r = Rule::norm();
  } else if (name == "gradient") {
    no_args();
    r = Rule::gradient();
  } else if (name == "deconvnet") {
    no_args();
    r = Rule::deconvnet();
  } else if (name == "guided-backprop" || name == "guided_backprop") {
    no_args();
    r = Rule::guided_backprop();
  } else if (name == "beta-smooth" || name == "beta_smooth") {
    const double b = has_args ? numbers(1, 1)[0] : 10.0;
    if (!(b > 0)) throw ConfigError("rule '" + text + "': beta must be a positive number");
    r = Rule::beta_smooth(b);
  } else {
    throw ConfigError("unknown rule '" + text + "'\n" + rule_grammar());
  }
  if (zero_bias && !takes_zero_bias(r.kind))
    throw ConfigError("rule '" + full_text + "': '/nobias' applies to epsilon, z, alphabeta, zplus, gamma, zbox, flat and w2, not to '" +
                      name + "'");
  r.zero_bias = zero_bias;
  r.text = full_text;
  return r;
}

}  // namespace lrp
