#pragma once
// Relevance rules as values. A rule says how a layer redistributes the relevance arriving at
// its output onto its inputs; how it applies to each kind of layer is in rules/apply.hpp.
//
// Two stabiliser conventions share one implementation (docs/RULES.md):
//  * Toolbox: the LRP Toolbox's rules (z, epsilon, alphabeta, w2, flat): tiny stabilisers
//    (1e-16; SumPool z: 1e-12 on the window sum), pooling rules on the window sum, MaxPool ties
//    split equally, w2 without bias.
//  * Zennit: Zennit's rules (zplus, gamma, zbox, pass, norm and the named composites):
//    stab(z) = z + eps*sign(z), sign(0) = +1, eps = 1e-6, MaxPool by its gradient.
#include <string>
#include <vector>

namespace lrp {

enum class RuleKind {
  Gradient,        // plain vector-Jacobian product
  Pass,            // relevance copied through unchanged
  Epsilon,         // z-rule (eps tiny) and epsilon-rule
  AlphaBeta,       // alpha * positive - beta * negative contributions
  ZPlus,           // alpha = 1, beta = 0 (accepts negative inputs, Zennit)
  Gamma,           // generalised gamma rule (Zennit)
  ZBox,            // bounded-input rule for the first layer
  Flat,            // uniform over the receptive field
  WSquare,         // proportional to squared weights
  Norm,            // parameter-free epsilon rule for sums and average pools
  DeconvNet,       // ReLU: max(R, 0)
  GuidedBackprop,  // ReLU: gradient * [R > 0]
  BetaSmooth,      // ReLU: gradient * sigmoid(beta x), the softplus's (Dombrowski et al. 2019)
  Rescale,         // DeepLIFT: elementwise nonlinearities' secant slopes to a baseline (Method::DeepLift)
};

// The rules that take a layer's (possibly modified) gradient instead of redistributing
// relevance: they need no stabiliser, and every layer they do not modify gets its gradient.
bool is_gradient_kind(RuleKind k);

enum class StabilizerStyle { Toolbox, Zennit };

struct Rule {
  RuleKind kind = RuleKind::Epsilon;
  StabilizerStyle style = StabilizerStyle::Zennit;
  double epsilon = 1e-6;       // epsilon of Epsilon; the stabiliser of every other rule
  double pool_epsilon = 1e-6;  // stabiliser used on pooling sums (toolbox z: 1e-12)
  double alpha = 1.0, beta = 0.0;
  double gamma = 0.25;
  double smooth_beta = 10.0;      // BetaSmooth: the softplus's beta
  std::vector<double> low, high;  // ZBox bounds: one value, or one per input channel
  // The layer's bias taken as zero in the rule's denominators ("/nobias", Zennit's
  // zero_params='bias', iNNvestigate's *_IB rules): the bias absorbs no relevance, so the rule
  // conserves it. Gamma still picks its positive or negative part by the sign of the output
  // with the bias, as Zennit does.
  bool zero_bias = false;
  std::string text;               // as written by the user, for messages and `lrp info`

  // Constructors for the Zennit-convention rules (also used by the named composites).
  static Rule gradient();
  static Rule pass();
  static Rule epsilon_rule(double eps = 1e-6);
  static Rule zplus(double stabilizer = 1e-6);
  static Rule alpha_beta(double alpha, double beta, double stabilizer = 1e-6);
  static Rule gamma_rule(double gamma = 0.25, double stabilizer = 1e-6);
  static Rule zbox(std::vector<double> low, std::vector<double> high, double stabilizer = 1e-6);
  static Rule flat(double stabilizer = 1e-6);
  static Rule wsquare(double stabilizer = 1e-6);
  static Rule norm(double stabilizer = 1e-6);
  static Rule deconvnet();
  static Rule guided_backprop();
  static Rule beta_smooth(double beta = 10.0);
  // DeepLIFT's Rescale rule. Only for a forward pass on inputs stacked above their baselines
  // (Method::DeepLift does that): row r's baseline is row r + rows / 2.
  static Rule rescale();
};

// Whether "/nobias" means anything for a rule of this kind (the rules with a z of the layer's
// map: epsilon, z, alpha-beta, zplus, gamma, w2; zbox and flat, whose z never holds the bias,
// take it too, so that a composite can pass it to all its rules).
bool takes_zero_bias(RuleKind k);
// Splits a trailing "/nobias" off a rule or composite text; true if it was there.
bool strip_zero_bias(std::string& text);

// Parses RULE of the command line (grammar in rule_grammar()); throws ConfigError naming the
// text and what is wrong.
Rule parse_rule(const std::string& text);
std::string rule_grammar();

}  // namespace lrp
