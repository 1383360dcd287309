#include "lrp/rules/composite.hpp"

#include "lrp/core/error.hpp"
#include "lrp/core/parse.hpp"
#include "lrp/layers/activation.hpp"
#include "lrp/layers/pool2d.hpp"

namespace lrp {
namespace {

// Zennit's `Convolution` type covers transposed convolutions too. Recurrent layers take the
// dense layers' rule, which applies to the affine maps inside them (rules/recurrent_rules.cpp).
bool is_conv(LayerKind k) { return k == LayerKind::Conv2d || k == LayerKind::ConvTranspose2d; }
bool is_recurrent(LayerKind k) { return k == LayerKind::Lstm || k == LayerKind::Gru || k == LayerKind::Rnn; }
bool is_affine(LayerKind k) { return k == LayerKind::Linear || is_recurrent(k) || is_conv(k); }

// Zennit's layer_map_base: activations and BatchNorm pass, sums and average pools get Norm,
// max pools their gradient; affine layers are set by the composite.
template <class T>
std::vector<Rule> zennit_base(const Model<T>& model) {
  std::vector<Rule> rules;
  for (const Node<T>& n : model.nodes()) {
    switch (n.layer->kind()) {
      case LayerKind::Add: rules.push_back(Rule::norm()); break;
      case LayerKind::Pool2d:
        rules.push_back(static_cast<const Pool2d<T>&>(*n.layer).is_max() ? Rule::gradient() : Rule::norm());
        break;
      default: rules.push_back(Rule::pass()); break;
    }
  }
  return rules;
}

// Fills affine layers: `first` for the first matching layer (if given), then conv/linear rules.
template <class T>
void fill_affine(const Model<T>& model, std::vector<Rule>& rules, const Rule& conv, const Rule& linear,
                 const Rule* first, bool first_conv_only) {
  bool first_done = first == nullptr;
  for (std::size_t i = 0; i < model.nodes().size(); ++i) {
    const LayerKind k = model.nodes()[i].layer->kind();
    if (!is_affine(k)) continue;
    if (!first_done && (!first_conv_only || is_conv(k))) {
      rules[i] = *first;
      first_done = true;
      continue;
    }
    rules[i] = is_conv(k) ? conv : linear;
  }
}

// Index of the lowest affine layer (the "first layer" of the toolbox/Caffe composites).
template <class T>
long first_affine(const Model<T>& model) {
  for (std::size_t i = 0; i < model.nodes().size(); ++i)
    if (is_affine(model.nodes()[i].layer->kind())) return static_cast<long>(i);
  return -1;
}

}  // namespace

std::string composite_help() {
  return "COMPOSITE (Zennit names and layer maps; stabiliser and epsilon 1e-6):\n"
         "  epsilon                     Epsilon on every Linear/Conv\n"
         "  epsilon_plus                ZPlus on Conv, Epsilon on Linear\n"
         "  epsilon_plus_flat           as epsilon_plus, Flat on the first Linear/Conv\n"
         "  epsilon_alpha2_beta1        AlphaBeta(2,1) on Conv, Epsilon on Linear\n"
         "  epsilon_alpha2_beta1_flat   as epsilon_alpha2_beta1, Flat on the first Linear/Conv\n"
         "  epsilon_gamma_box:LOW,HIGH  ZBox(LOW,HIGH) on the first Conv, Gamma(0.25) on Conv, Epsilon on Linear\n"
         "  deep_taylor                 ZPlus without bias on Linear/Conv (iNNvestigate's deep_taylor)\n"
         "  deep_taylor_bounded:LOW,HIGH as deep_taylor, ZBox(LOW,HIGH) on the first Linear/Conv\n"
         "  sequential_preset_a[:EPS]   iNNvestigate's lrp.sequential_preset_a: AlphaBeta(1,0) on Conv, Epsilon(EPS = 0.1) on Linear\n"
         "  sequential_preset_b[:EPS]   iNNvestigate's lrp.sequential_preset_b: AlphaBeta(2,1) on Conv, Epsilon(EPS = 0.1) on Linear\n"
         "  sequential_preset_a_flat, sequential_preset_b_flat[:EPS]  the same with Flat on the first Linear/Conv\n"
         "                              (also by iNNvestigate's names, lrp.sequential_preset_a and so on)\n"
         "  (all: activations and BatchNorm Pass, Add and average pools Norm, max pools gradient)\n"
         "  excitation_backprop         ZPlus on Linear/Conv, Add and average pools Norm, every other layer its gradient\n"
         "  deconvnet, guided_backprop  DeconvNet / Guided Backprop on ReLUs, every other layer its gradient\n"
         "  beta_smooth[:BETA]          ReLUs take the gradient of softplus, sigmoid(BETA x) (BETA = 10), every other layer\n"
         "                              its gradient: smooth surrogate gradients (Dombrowski et al. 2019)\n"
         "  attnlrp[:EPS]               AttnLRP for transformers (Achtibat et al. 2024; LXT): Epsilon(EPS) on Linear/Conv,\n"
         "                              LayerNorm, SoftMax, products of computed values (uniform rule) and added constants,\n"
         "                              Add and average pools Norm(EPS), activations Pass (EPS = 1e-6)\n"
         "  cp_lrp[:EPS]                CP-LRP (Ali et al. 2022): as attnlrp, but the attention weights are held constant\n"
         "                              (products with them give the values all relevance, the SoftMax gets none)\n"
         "Toolbox/Caffe composites (toolbox stabilisers, all layers of the model file):\n"
         "  alphabeta_epsilon[:A,E]      AlphaBeta(A, A-1) on Conv, Epsilon(E) on Linear (Caffe code 100; A=2, E=1)\n"
         "  alphabeta_epsilon_flat[:A,E] the same with Flat on the lowest Linear/Conv (Caffe 102)\n"
         "  alphabeta_epsilon_w2[:A,E]   the same with w2 on the lowest Linear/Conv (Caffe 104)\n"
         "COMPOSITE/nobias: every rule of the composite takes the layers' biases as zero (Zennit's zero_params='bias')";
}

template <class T>
std::vector<Rule> uniform_rules(const Model<T>& model, const Rule& rule) {
  return std::vector<Rule>(model.nodes().size(), rule);
}

template <class T>
std::vector<Rule> composite_rules(const Model<T>& model, const std::string& full_spec) {
  std::string spec = full_spec;
  const bool zero_bias = strip_zero_bias(spec);
  const std::size_t colon = spec.find(':');
  std::string name = spec.substr(0, colon);
  if (name.starts_with("lrp.sequential_preset_")) name.erase(0, 4);  // iNNvestigate's analyzer names
  const std::vector<double> params =
      colon == std::string::npos ? std::vector<double>{} : parse_number_list(spec.substr(colon + 1), "composite '" + spec + "'");
  const auto need = [&](std::size_t lo, std::size_t hi) {
    if (params.size() < lo || params.size() > hi)
      throw ConfigError("composite '" + spec + "' takes " + std::to_string(lo) + (lo == hi ? "" : " to " + std::to_string(hi)) +
                        " parameter(s)\n" + composite_help());
  };
  std::vector<Rule> rules = zennit_base(model);
  const Rule eps = Rule::epsilon_rule(1e-6);
  if (name == "epsilon") {
    need(0, 0);
    fill_affine(model, rules, eps, eps, nullptr, false);
  } else if (name == "epsilon_plus") {
    need(0, 0);
    fill_affine(model, rules, Rule::zplus(), eps, nullptr, false);
  } else if (name == "epsilon_plus_flat") {
    need(0, 0);
    const Rule flat = Rule::flat();
    fill_affine(model, rules, Rule::zplus(), eps, &flat, false);
  } else if (name == "epsilon_alpha2_beta1") {
    need(0, 0);
    fill_affine(model, rules, Rule::alpha_beta(2, 1), eps, nullptr, false);
  } else if (name == "epsilon_alpha2_beta1_flat") {
    need(0, 0);
    const Rule flat = Rule::flat();
    fill_affine(model, rules, Rule::alpha_beta(2, 1), eps, &flat, false);
  } else if (name == "epsilon_gamma_box") {
    need(2, 2);
    if (params[0] > params[1]) throw ConfigError("composite '" + spec + "': LOW must not exceed HIGH");
    const Rule box = Rule::zbox({params[0]}, {params[1]});
    fill_affine(model, rules, Rule::gamma_rule(0.25), eps, &box, true);
  } else if (name == "deep_taylor" || name == "deep_taylor_bounded") {
    // iNNvestigate's DeepTaylor analyzers: its ZPlus ignores the bias (an alpha1-beta0 rule
    // without bias), the bounded variant takes z^B on the first layer.
    need(name == "deep_taylor" ? 0 : 2, name == "deep_taylor" ? 0 : 2);
    Rule zplus = Rule::zplus();
    zplus.zero_bias = true;
    zplus.text = "zplus/nobias";
    if (name == "deep_taylor") {
      fill_affine(model, rules, zplus, zplus, nullptr, false);
    } else {
      if (params[0] > params[1]) throw ConfigError("composite '" + spec + "': LOW must not exceed HIGH");
      const Rule box = Rule::zbox({params[0]}, {params[1]});
      fill_affine(model, rules, zplus, zplus, &box, false);
    }
  } else if (name == "excitation_backprop") {
    // Zennit's layer map has no base here: activations, BatchNorm and max pools keep their gradient.
    need(0, 0);
    for (std::size_t i = 0; i < rules.size(); ++i)
      if (rules[i].kind != RuleKind::Norm) rules[i] = Rule::gradient();
    fill_affine(model, rules, Rule::zplus(), Rule::zplus(), nullptr, false);
  } else if (name == "deconvnet" || name == "guided_backprop") {
    need(0, 0);
    rules = uniform_rules(model, name == "deconvnet" ? Rule::deconvnet() : Rule::guided_backprop());
  } else if (name == "beta_smooth") {
    need(0, 1);
    if (!params.empty() && !(params[0] > 0)) throw ConfigError("composite '" + spec + "': BETA must be positive");
    const Rule smooth = Rule::beta_smooth(params.empty() ? 10.0 : params[0]);
    rules = uniform_rules(model, Rule::gradient());
    for (std::size_t i = 0; i < rules.size(); ++i) {
      const Layer<T>& layer = *model.nodes()[i].layer;
      if (layer.kind() == LayerKind::Activation && static_cast<const Activation<T>&>(layer).is_relu()) rules[i] = smooth;
    }
  } else if (name == "attnlrp" || name == "cp_lrp") {
    need(0, 1);
    if (!params.empty() && !(params[0] > 0)) throw ConfigError("composite '" + spec + "': EPS must be positive");
    const double e = params.empty() ? 1e-6 : params[0];
    for (std::size_t i = 0; i < rules.size(); ++i) {
      const LayerKind k = model.nodes()[i].layer->kind();
      if (is_affine(k) || k == LayerKind::LayerNorm || k == LayerKind::SoftMax || k == LayerKind::MatMul || k == LayerKind::Bias ||
          k == LayerKind::BatchNorm)
        rules[i] = Rule::epsilon_rule(e);
      else if (rules[i].kind == RuleKind::Norm)  // sums and average pools (a mean over the tokens)
        rules[i] = Rule::norm(e);
      if (name == "cp_lrp" && k == LayerKind::MatMul) {  // attention weights held constant
        rules[i] = Rule::pass();
        rules[i].epsilon = e;
      }
    }
  } else if (name == "sequential_preset_a" || name == "sequential_preset_b" || name == "sequential_preset_a_flat" ||
             name == "sequential_preset_b_flat") {
    // iNNvestigate's LRPSequentialPreset{A,B}[Flat]: AlphaBeta(1,0) (A) or (2,1) (B) on Conv,
    // Epsilon(0.1) on Dense, Flat on the input layer. Its own rule for BatchNorm is not copied:
    // BatchNorm is folded into the convolution before it, as for every composite.
    need(0, 1);
    const double alpha = name.starts_with("sequential_preset_a") ? 1.0 : 2.0;
    const Rule flat = Rule::flat();
    fill_affine(model, rules, Rule::alpha_beta(alpha, alpha - 1.0), Rule::epsilon_rule(params.empty() ? 0.1 : params[0]),
                name.ends_with("_flat") ? &flat : nullptr, false);
  } else if (name == "alphabeta_epsilon" || name == "alphabeta_epsilon_flat" || name == "alphabeta_epsilon_w2") {
    need(0, 2);
    const double a = params.size() > 0 ? params[0] : 2.0;
    const double e = params.size() > 1 ? params[1] : 1.0;
    const Rule ab = parse_rule("alphabeta:" + format_number(a));
    const Rule ep = parse_rule("epsilon:" + format_number(e));
    rules = uniform_rules(model, ep);
    for (std::size_t i = 0; i < model.nodes().size(); ++i)
      if (is_conv(model.nodes()[i].layer->kind())) rules[i] = ab;
    const long first = first_affine(model);
    if (first >= 0 && name != "alphabeta_epsilon")
      rules[static_cast<std::size_t>(first)] = parse_rule(name == "alphabeta_epsilon_flat" ? "flat" : "w2");
  } else {
    throw ConfigError("unknown composite '" + spec + "'\n" + composite_help());
  }
  if (zero_bias) {
    if (name == "deconvnet" || name == "guided_backprop" || name == "beta_smooth")
      throw ConfigError("composite '" + full_spec + "': '/nobias' applies to the LRP composites, not to '" + name + "'");
    for (Rule& r : rules)
      if (takes_zero_bias(r.kind) && !r.zero_bias) {
        r.zero_bias = true;
        r.text += "/nobias";
      }
  }
  return rules;
}

RuleOverride parse_rule_override(const std::string& text) {
  const std::size_t eq = text.find('=');
  if (eq == std::string::npos || eq == 0)
    throw ConfigError("layer rule '" + text + "' must have the form I=RULE (I: layer index, name or type:NAME)");
  return {text.substr(0, eq), parse_rule(text.substr(eq + 1))};
}

template <class T>
void apply_overrides(const Model<T>& model, std::vector<Rule>& rules, const std::vector<RuleOverride>& overrides) {
  for (const RuleOverride& o : overrides) {
    bool matched = false;
    const bool by_type = o.selector.rfind("type:", 0) == 0;
    const bool by_index = !by_type && o.selector.find_first_not_of("0123456789") == std::string::npos;
    for (std::size_t i = 0; i < model.nodes().size(); ++i) {
      const Node<T>& n = model.nodes()[i];
      bool hit = false;
      if (by_type) {
        const std::string t = o.selector.substr(5);
        hit = n.layer->type_name() == t || layer_kind_name(n.layer->kind()) == t;
      } else if (by_index) {
        hit = std::to_string(model.display_index(i)) == o.selector;
      } else {
        hit = n.name == o.selector;
      }
      if (hit) {
        rules[i] = o.rule;
        matched = true;
      }
    }
    if (!matched) {
      if (by_index) {
        // The toolbox's trailing SoftMax is dropped for explaining; overriding it is harmless.
        const std::size_t idx = parse_index(o.selector, "layer index");
        if (idx < model.nodes().size() + 1 && !model.nodes().empty() &&
            model.nodes().back().source_index + 1 == static_cast<int>(idx))
          continue;
      }
      throw ConfigError("layer rule '" + o.selector + "=" + o.rule.text + "' matches no layer of the model (see `lrp info`)");
    }
  }
}

template std::vector<Rule> uniform_rules(const Model<float>&, const Rule&);
template std::vector<Rule> uniform_rules(const Model<double>&, const Rule&);
template std::vector<Rule> composite_rules(const Model<float>&, const std::string&);
template std::vector<Rule> composite_rules(const Model<double>&, const std::string&);
template void apply_overrides(const Model<float>&, std::vector<Rule>&, const std::vector<RuleOverride>&);
template void apply_overrides(const Model<double>&, std::vector<Rule>&, const std::vector<RuleOverride>&);

}  // namespace lrp
