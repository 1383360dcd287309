// Concept relevance (CRP): one LRP sweep from the output down to the concept layer, then sweeps
// from the layer down, its relevance masked to each concept's channels, as many concepts per
// sweep as fit the request's target_pass_bytes.
#include <algorithm>
#include <numeric>
#include <optional>

#include "explain/seeds.hpp"
#include "lrp/core/error.hpp"
#include "lrp/core/parse.hpp"
#include "lrp/explain/executor.hpp"
#include "lrp/explain/explain.hpp"

namespace lrp {

ConceptRequest parse_concepts(const std::string& layer, const std::string& spec) {
  if (layer.empty()) throw ConfigError("concepts need a layer (--concept-layer)");
  ConceptRequest c;
  c.layer = layer;
  if (spec == "all") {
    c.pick = ConceptRequest::Pick::All;
    return c;
  }
  if (spec.rfind("top:", 0) == 0) {
    c.pick = ConceptRequest::Pick::Top;
    c.top = parse_index(spec.substr(4), "the number of concepts in 'top:K'");
    if (c.top == 0) throw ConfigError("concepts 'top:0' ask for no concept");
    return c;
  }
  c.pick = ConceptRequest::Pick::Listed;
  for (const std::string& item : split(spec, ',')) {
    std::vector<std::size_t> set;
    for (const std::string& channel : split(item, '+')) set.push_back(parse_index(channel, "concept channel"));
    c.sets.push_back(std::move(set));
  }
  if (c.sets.empty()) throw ConfigError("concepts '" + spec + "' name no channel (expected C1,C2+C3,..., top:K or all)");
  return c;
}

ConceptRequest::Condition parse_concept_condition(const std::string& text) {
  const std::size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size())
    throw ConfigError("concept condition '" + text + "' is not LAYER:C1+C2+...");
  ConceptRequest::Condition c;
  c.layer = text.substr(0, colon);
  for (const std::string& channel : split(text.substr(colon + 1), '+')) c.channels.push_back(parse_index(channel, "condition channel"));
  return c;
}

namespace {

// Each sample's concepts: the listed sets, every channel, or the `top` channels holding the most
// relevance (ties: the lower channel first). `held`: [n][channels] relevance per channel.
std::vector<std::vector<std::size_t>> pick_concepts(const ConceptRequest& c, const std::vector<double>& held, std::size_t n,
                                                    std::size_t channels, const std::string& layer_label) {
  std::vector<std::vector<std::size_t>> sets;
  for (std::size_t i = 0; i < n; ++i) {
    switch (c.pick) {
      case ConceptRequest::Pick::Listed:
        for (const std::vector<std::size_t>& set : c.sets) {
          for (std::size_t ch : set)
            if (ch >= channels)
              throw ConfigError("concept channel " + std::to_string(ch) + " is beyond the " + std::to_string(channels) +
                                " channels of " + layer_label);
          sets.push_back(set);
        }
        break;
      case ConceptRequest::Pick::All:
        for (std::size_t ch = 0; ch < channels; ++ch) sets.push_back({ch});
        break;
      case ConceptRequest::Pick::Top: {
        if (c.top > channels)
          throw ConfigError("concepts 'top:" + std::to_string(c.top) + "' ask for more channels than the " +
                            std::to_string(channels) + " of " + layer_label);
        std::vector<std::size_t> order(channels);
        std::iota(order.begin(), order.end(), std::size_t(0));
        const double* h = held.data() + i * channels;
        std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return h[a] > h[b]; });
        for (std::size_t j = 0; j < c.top; ++j) sets.push_back({order[j]});
        break;
      }
    }
  }
  return sets;
}

// A sample's output at the concept layer seen as [outer, channels, inner] around the concept axis.
struct ConceptAxis {
  std::size_t outer = 0, channels = 0, inner = 0;
  std::size_t per_sample() const { return outer * channels * inner; }
  std::size_t offset(std::size_t o, std::size_t channel) const { return (o * channels + channel) * inner; }
};

ConceptAxis concept_axis(const Shape& shape, long requested, const std::string& label) {
  const long rank = static_cast<long>(shape.size()), axis = requested < 0 ? requested + rank : requested;
  if (axis < 0 || axis >= rank)
    throw ConfigError("concept axis " + std::to_string(requested) + " is not an axis of the output " + shape_str(shape) + " of " + label +
                      " (per sample)");
  ConceptAxis a;
  a.channels = shape[static_cast<std::size_t>(axis)];
  if (a.channels == 0) throw ConfigError(label + " has output " + shape_str(shape) + ", without channels on concept axis " + std::to_string(axis));
  a.inner = shape_numel(Shape(shape.begin() + axis + 1, shape.end()));
  a.outer = shape_numel(shape) / (a.channels * a.inner);
  return a;
}

// [n * channels]: the relevance each channel holds in each of the n samples of `at`.
template <class T>
std::vector<double> channel_sums(const Tensor<T>& at, std::size_t n, const ConceptAxis& a) {
  std::vector<double> held(n * a.channels, 0.0);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t o = 0; o < a.outer; ++o)
      for (std::size_t c = 0; c < a.channels; ++c) {
        const T* run = at.data() + i * a.per_sample() + a.offset(o, c);
        for (std::size_t q = 0; q < a.inner; ++q) held[i * a.channels + c] += static_cast<double>(run[q]);
      }
  return held;
}

// The executor's filter for the request's conditions: at each condition's layer, every row keeps
// only the relevance on the condition's channels.
template <class T>
typename Executor<T>::RelevanceFilter condition_filter(const Model<T>& model, const ConceptRequest& req, const std::vector<Shape>& shapes,
                                                       std::size_t concept_value) {
  struct Mask {
    std::size_t value;
    ConceptAxis axis;
    std::vector<char> keep;  // per channel
  };
  std::vector<Mask> masks;
  for (const ConceptRequest::Condition& c : req.conditions) {
    const std::optional<std::size_t> node = model.find_node(c.layer);
    if (!node) throw ConfigError("condition layer '" + c.layer + "' names no layer of the model (see `lrp info`)");
    const std::string label = model.node_label(*node);
    Mask m{model.nodes()[*node].output, concept_axis(shapes[model.nodes()[*node].output], req.axis, label), {}};
    if (m.value == concept_value)
      throw ConfigError("a condition on the concept layer itself (" + label + "): list those channels in --concepts instead");
    m.keep.assign(m.axis.channels, 0);
    for (std::size_t ch : c.channels) {
      if (ch >= m.axis.channels)
        throw ConfigError("condition channel " + std::to_string(ch) + " is beyond the " + std::to_string(m.axis.channels) +
                          " channels of " + label);
      m.keep[ch] = 1;
    }
    masks.push_back(std::move(m));
  }
  if (masks.empty()) return {};
  return [masks](std::size_t value, Tensor<T>& r) {
    for (const Mask& m : masks) {
      if (m.value != value) continue;
      const std::size_t rows = r.size() / m.axis.per_sample();
      for (std::size_t row = 0; row < rows; ++row)
        for (std::size_t o = 0; o < m.axis.outer; ++o)
          for (std::size_t c = 0; c < m.axis.channels; ++c)
            if (!m.keep[c]) {
              T* run = r.data() + row * m.axis.per_sample() + m.axis.offset(o, c);
              std::fill(run, run + m.axis.inner, T(0));
            }
    }
  };
}

}  // namespace

template <class T>
Explanation<T> Explainer<T>::explain_concepts(const Tensor<T>& x, const ExplainRequest& req) {
  const Model<T>& model = *model_;
  if (req.method != Method::LRP) throw ConfigError("concepts (--concept-layer) split LRP maps; use --method lrp");
  if (req.rules.size() != model.nodes().size()) throw ConfigError("LRP needs a rule for every layer");
  if (req.dump_layers) throw ConfigError("concepts cannot be combined with --dump-layers or --at");
  const std::optional<std::size_t> node = model.find_node(req.concepts.layer);
  if (!node) throw ConfigError("concept layer '" + req.concepts.layer + "' names no layer of the model (see `lrp info`)");
  const std::string label = model.node_label(*node);
  const std::size_t v = model.nodes()[*node].output;
  if (x.rank() == 0) throw ShapeError("the input has no batch axis");
  const std::vector<Shape> shapes = model.infer_shapes(Shape(x.shape().begin() + 1, x.shape().end()));
  const Shape& layer_shape = shapes[v];
  const ConceptAxis a = concept_axis(layer_shape, req.concepts.axis, label);
  const std::size_t n = x.dim(0);

  // The executor keeps every activation: the sweep from the layer runs once per pass of concepts.
  Executor<T> ex(model, cache_.get());
  ex.set_relevance_filter(condition_filter(model, req.concepts, shapes, v));
  Explanation<T> out;
  out.output = ex.forward(x);
  std::size_t k = 1;
  const Tensor<T> seeds = make_seeds(out.output, req.target, out.targets, out.scores, k);
  if (k != 1)
    throw ConfigError("concepts split one target's map per sample; the target gives " + std::to_string(k) + " per sample");
  const Tensor<T> at = ex.propagate_to(seeds, req.rules, v);
  std::vector<double> held = channel_sums(at, n, a);

  out.concepts = pick_concepts(req.concepts, held, n, a.channels, label);
  const std::size_t maps = out.concepts.size() / n;
  std::vector<std::size_t> targets;
  std::vector<double> scores;
  for (std::size_t m = 0; m < n * maps; ++m) {
    double sum = 0;
    for (std::size_t ch : out.concepts[m]) sum += held[(m / maps) * a.channels + ch];
    out.concept_relevance.push_back(sum);
    targets.push_back(out.targets[m / maps]);
    scores.push_back(out.scores[m / maps]);
  }
  out.targets = std::move(targets);
  out.scores = std::move(scores);
  out.targets_per_sample = maps;

  // Each concept's sweep holds relevance for every value below the layer: bound the concepts
  // per sweep like targets per pass.
  double bytes_per_map = 0;
  for (const Shape& s : shapes) bytes_per_map += static_cast<double>(shape_numel(s)) * static_cast<double>(n * sizeof(T));
  const std::size_t chunk = static_cast<std::size_t>(std::max(1.0, req.target_pass_bytes / std::max(bytes_per_map, 1.0)));
  Shape rshape = x.shape();
  rshape[0] = n * maps;
  Tensor<T> r = Tensor<T>::uninitialized(rshape);
  const std::size_t per_in = x.sample_size(), per_layer = a.per_sample();
  for (std::size_t first = 0; first < maps; first += chunk) {
    const std::size_t count = std::min(chunk, maps - first);
    Shape ms = layer_shape;
    ms.insert(ms.begin(), n * count);
    Tensor<T> masked(ms);  // row i * count + j: sample i's relevance at the layer on concept first + j's channels
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = 0; j < count; ++j)
        for (std::size_t ch : out.concepts[i * maps + first + j])
          for (std::size_t o = 0; o < a.outer; ++o) {
            const T* src = at.data() + i * per_layer + a.offset(o, ch);
            std::copy(src, src + a.inner, masked.data() + (i * count + j) * per_layer + a.offset(o, ch));
          }
    const Tensor<T> part = ex.propagate_from(v, masked, req.rules);  // [n * count, input...]
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = 0; j < count; ++j)
        std::copy(part.data() + (i * count + j) * per_in, part.data() + (i * count + j + 1) * per_in,
                  r.data() + (i * maps + first + j) * per_in);
  }
  if (maps > 1) {
    Shape s = x.shape();
    s.insert(s.begin() + 1, maps);
    r.reshape(s);
  }
  out.relevance = std::move(r);
  out.channel_relevance = std::move(held);
  return out;
}

template Explanation<float> Explainer<float>::explain_concepts(const Tensor<float>&, const ExplainRequest&);
template Explanation<double> Explainer<double>::explain_concepts(const Tensor<double>&, const ExplainRequest&);

}  // namespace lrp
