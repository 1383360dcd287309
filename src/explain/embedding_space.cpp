// Token models explained in embedding space: methods that scale the input or add noise to it
// have no meaning on token ids, so they run on the model after its Embedding node, whose input
// is the embedded tokens (Captum's LayerIntegratedGradients on the word embeddings), and each
// token's attribution is summed over the embedding.
#include <algorithm>
#include <limits>
#include <type_traits>

#include "explain/baselines.hpp"
#include "lrp/core/error.hpp"
#include "lrp/explain/explain.hpp"

namespace lrp {
namespace {

template <class T>
std::unique_ptr<Layer<T>> copy_of(const Layer<T>& layer) {
  if constexpr (std::is_same_v<T, float>) return layer.to_float();
  else return layer.to_double();
}

// The model after the one Embedding node that reads its token ids: the node's output becomes
// the input; every other node is copied with its values renumbered.
template <class T>
Model<T> embedding_tail(const Model<T>& m, std::size_t& embedding_node) {
  long found = -1;
  for (std::size_t i = 0; i < m.nodes().size(); ++i) {
    const Node<T>& n = m.nodes()[i];
    if (std::find(n.inputs.begin(), n.inputs.end(), std::size_t{0}) == n.inputs.end()) continue;
    if (n.layer->kind() != LayerKind::Embedding || found >= 0)
      throw ConfigError("the token ids are read by " + m.node_label(i) +
                        "; explaining in embedding space needs them read by one Embedding layer only");
    found = static_cast<long>(i);
  }
  if (found < 0) throw ConfigError("no Embedding layer reads the model's token ids");
  embedding_node = static_cast<std::size_t>(found);
  const Node<T>& embedding = m.nodes()[embedding_node];
  constexpr std::size_t kNone = std::numeric_limits<std::size_t>::max();
  std::vector<std::size_t> renamed(m.num_values(), kNone);
  renamed[embedding.output] = 0;
  Model<T> tail;
  for (std::size_t i = 0; i < m.nodes().size(); ++i) {
    if (i == embedding_node) continue;
    const Node<T>& n = m.nodes()[i];
    std::vector<std::size_t> inputs;
    for (std::size_t v : n.inputs) inputs.push_back(renamed.at(v));
    renamed[n.output] = tail.add(n.name, copy_of(*n.layer), std::move(inputs), n.source_index);
  }
  if (renamed[m.output_value()] == kNone) throw ConfigError("the model's output is its embedding");
  tail.set_output_value(renamed[m.output_value()]);
  tail.input_shape = embedding.layer->output_shape({m.input_shape});
  tail.layout = DataLayout::Features;
  tail.source = m.source;
  tail.name = m.name;
  tail.batch_of_one = m.batch_of_one;
  return tail;
}

}  // namespace

template <class T>
Explanation<T> Explainer<T>::explain_embedded(const Tensor<T>& ids, const ExplainRequest& req) {
  if (!embedded_) {
    std::size_t node = 0;
    Model<T> tail = embedding_tail(*model_, node);
    embedding_node_ = node;
    embedded_ = std::make_unique<Explainer<T>>(std::move(tail));
  }
  const Layer<T>& embedding = *model_->nodes()[embedding_node_].layer;
  const auto embed = [&](const Tensor<T>& t, const char* what) {
    Tensor<T> e;
    try {
      embedding.forward({&t}, e);
    } catch (const NumericError& err) {
      throw ConfigError(std::string(what) + ": " + err.what());
    }
    return e;
  };
  ExplainRequest sub = req;
  const MethodOptions& o = req.options;
  switch (baseline_use(req.method)) {  // baselines are token ids, embedded like the input
    case BaselineUse::PerSample:
      sub.options.baseline_input = embed(baselines::baseline_for(ids, o), "the baseline").template cast<double>();
      break;
    case BaselineUse::Draws:
      sub.options.baseline_input =
          embed(baselines::baseline_draws(ids.shape(), o).template cast<T>(), "the baseline").template cast<double>();
      break;
    case BaselineUse::None: break;
  }
  if (!sub.rules.empty()) {  // rule-based SmoothGrad / integrated gradients: one rule per node
    if (sub.rules.size() != model_->nodes().size()) throw ConfigError("the rules must name one rule per layer");
    sub.rules.erase(sub.rules.begin() + static_cast<std::ptrdiff_t>(embedding_node_));
  }
  const Tensor<T> e = embed(ids, "the input");
  Explanation<T> out = embedded_->explain(e, sub);
  Tensor<T>& r = out.relevance;
  if (req.method == Method::SmoothGrad) {
    // A gradient, not an attribution: times the embedding, as the token gradient is.
    const std::size_t per = e.sample_size(), k = out.targets_per_sample;
    for (std::size_t i = 0; i < r.size(); ++i) r[i] *= e[i / (k * per) * per + i % per];
  }
  // Per token: the attribution summed over the embedding axis (the last).
  Shape tokens(r.shape().begin(), r.shape().end() - 1);
  const std::size_t d = r.shape().back();
  Tensor<T> per_token(tokens);
  for (std::size_t t = 0; t < per_token.size(); ++t) {
    T s = 0;
    for (std::size_t j = 0; j < d; ++j) s += r[t * d + j];
    per_token[t] = s;
  }
  out.relevance = std::move(per_token);
  return out;
}

template Explanation<float> Explainer<float>::explain_embedded(const Tensor<float>&, const ExplainRequest&);
template Explanation<double> Explainer<double>::explain_embedded(const Tensor<double>&, const ExplainRequest&);

}  // namespace lrp
