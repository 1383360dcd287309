#include "lrp/explain/executor.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>

#include "lrp/core/error.hpp"
#include "lrp/layers/activation.hpp"
#include "lrp/layers/conv2d.hpp"
#include "lrp/layers/merge.hpp"
#include "lrp/layers/prelu.hpp"
#include "lrp/layers/reshape.hpp"
#include "rules/tensor_ops.hpp"

namespace lrp {
namespace {

using ops::repeat_rows;

double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::atomic<NodeTimes*>& profile_sink() {
  static std::atomic<NodeTimes*> sink{nullptr};
  return sink;
}

// Adds the time since `start` to slot i of a profile vector (grown on demand).
void charge(std::vector<double>& v, std::size_t i, double start) {
  if (v.size() <= i) v.resize(i + 1, 0.0);
  v[i] += now_ms() - start;
}

}  // namespace

void set_node_profile(NodeTimes* sink) { profile_sink().store(sink); }
NodeTimes* node_profile() { return profile_sink().load(); }

template <class T>
Executor<T>::Executor(const Model<T>& model, ParamCache<T>* cache) : model_(model), cache_(cache ? cache : &own_cache_) {}

template <class T>
void Executor<T>::keep_all() {
  mode_ = Mode::KeepAll;
}

template <class T>
void Executor<T>::plan_forward_only() {
  const std::size_t nv = model_.num_values();
  mode_ = Mode::ForwardOnly;
  derived_by_.assign(nv, -1);
  keep_.assign(nv, 0);
  keep_[model_.output_value()] = 1;
  forward_last_.assign(nv, -1);
  backward_last_.assign(nv, -1);
  const auto& nodes = model_.nodes();
  save_.assign(nodes.size(), 0);
  std::vector<std::size_t> reads(nv, 0);
  sole_reader_.assign(nv, -1);
  for (std::size_t i = 0; i < nodes.size(); ++i)
    for (std::size_t v : nodes[i].inputs) {
      forward_last_[v] = std::max(forward_last_[v], static_cast<long>(i));
      ++reads[v];
      sole_reader_[v] = static_cast<long>(i);
    }
  for (std::size_t v = 0; v < nv; ++v)
    if (reads[v] != 1 || v == model_.output_value()) sole_reader_[v] = -1;
}

template <class T>
long Executor<T>::fusable_relu(std::size_t i) const {
  const auto& nodes = model_.nodes();
  const Node<T>& n = nodes[i];
  const LayerKind kind = n.layer->kind();
  if (mode_ == Mode::KeepAll || (kind != LayerKind::Conv2d && kind != LayerKind::Add) || save_[i] || keep_[n.output]) return -1;
  const long j = sole_reader_[n.output];
  if (j < 0) return -1;
  const Layer<T>& r = *nodes[static_cast<std::size_t>(j)].layer;
  const bool relu = r.kind() == LayerKind::Activation && static_cast<const Activation<T>&>(r).is_relu();
  return relu && !save_[static_cast<std::size_t>(j)] ? j : -1;
}

template <class T>
void Executor<T>::sum_in_place(std::size_t i, TensorRefs<T>& in, Tensor<T>& out) {
  const std::vector<std::size_t>& v = model_.nodes()[i].inputs;
  const auto dead_after = [&](std::size_t k) {
    const std::size_t x = v[k];
    return forward_last_[x] == static_cast<long>(i) && !keep_[x] && lent_from_[x] < 0 && std::count(v.begin(), v.end(), x) == 1;
  };
  // Any summand of two (a + b == b + a exactly); only the first of more, which keeps the order.
  for (std::size_t k = 0; k < (v.size() == 2 ? 2 : 1); ++k) {
    if (!dead_after(k)) continue;
    out = std::move(values_[v[k]]);
    in[k] = &out;
    std::swap(in[0], in[k]);
    return;
  }
}

template <class T>
bool Executor<T>::reshape_in_place(std::size_t i) {
  const Node<T>& n = model_.nodes()[i];
  const Layer<T>& layer = *n.layer;
  const bool relabels = layer.kind() == LayerKind::Reshape ||
                        (layer.kind() == LayerKind::Flatten && !static_cast<const Flatten<T>&>(layer).channels_last());
  if (mode_ == Mode::KeepAll || !relabels || n.inputs.size() != 1) return false;
  const std::size_t x = n.inputs[0], y = n.output;
  if (forward_last_[x] != static_cast<long>(i) || values_[x].rank() == 0) return false;
  // The sweep needs x, but nothing reads it again in the forward: y borrows its storage and
  // gives it back when the forward releases y (release_forward_value), provided nothing still
  // needs y then. Storage already borrowed passes on along a chain of relabellings likewise.
  const bool released_in_forward = !keep_[y] && forward_last_[y] > static_cast<long>(i) && y != model_.output_value();
  long owner = lent_from_[x];
  if (owner < 0 && keep_[x]) {
    if (!released_in_forward || sole_reader_[x] != static_cast<long>(i) || derived_by_[x] >= 0) return false;
    owner = static_cast<long>(x);
  } else if (owner >= 0 && !released_in_forward) {
    return false;
  }
  Tensor<T> moved = std::move(values_[x]);
  Shape s = layer.output_shape({Shape(moved.shape().begin() + 1, moved.shape().end())});
  s.insert(s.begin(), moved.dim(0));
  moved.reshape(s);
  values_[y] = std::move(moved);
  lent_from_[x] = -1;
  lent_from_[y] = owner;
  ++relabelled_in_place_;
  return true;
}

template <class T>
void Executor<T>::release_forward_value(std::size_t v) {
  const long x = lent_from_[v];
  if (x < 0) {
    values_[v] = Tensor<T>();
    return;
  }
  Tensor<T> back = std::move(values_[v]);
  back.reshape(shapes_[static_cast<std::size_t>(x)]);
  values_[static_cast<std::size_t>(x)] = std::move(back);
  lent_from_[v] = -1;
}

template <class T>
void Executor<T>::plan_backward(const std::vector<Rule>& rules) {
  const auto& nodes = model_.nodes();
  if (rules.size() != nodes.size()) throw ConfigError("internal: one rule per node expected");
  plan_forward_only();
  mode_ = Mode::Backward;
  const auto need = [&](std::size_t v, std::size_t i) {
    keep_[v] = 1;
    const long node = static_cast<long>(i);
    backward_last_[v] = backward_last_[v] < 0 ? node : std::min(backward_last_[v], node);
  };
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    const RuleNeeds needs = rule_needs(rules[i], *nodes[i].layer);
    if (needs.inputs)
      for (std::size_t v : nodes[i].inputs) need(v, i);
    if (needs.output) need(nodes[i].output, i);
    save_[i] = needs.saved;
  }
  plan_derived_values();
}

template <class T>
void Executor<T>::plan_derived_values() {
  const auto& nodes = model_.nodes();
  derived_by_.assign(model_.num_values(), -1);
  for (std::size_t j = 0; j < nodes.size(); ++j) {
    const Node<T>& n = nodes[j];
    if (n.layer->kind() != LayerKind::Activation || n.inputs.size() != 1) continue;
    const std::size_t u = n.inputs[0], v = n.output;
    if (!keep_[v] || !keep_[u] || v == model_.output_value() || derived_by_[u] >= 0) continue;
    // The sweep releases u after node backward_last_[u] and reads v down to backward_last_[v]
    // (it runs from the last node to the first); -1: never released.
    const bool u_outlives_v = backward_last_[u] < 0 || (backward_last_[v] >= 0 && backward_last_[u] <= backward_last_[v]);
    if (!u_outlives_v) continue;
    derived_by_[v] = static_cast<long>(j);
    keep_[v] = 0;  // the forward drops it after its last reader
  }
}

template <class T>
void Executor<T>::restore_derived(std::size_t v) {
  if (v >= derived_by_.size() || derived_by_[v] < 0 || !values_[v].empty()) return;
  const Node<T>& n = model_.nodes()[static_cast<std::size_t>(derived_by_[v])];
  const Tensor<T>& u = values_[n.inputs[0]];
  if (u.empty()) throw ConfigError("internal: " + model_.node_label(static_cast<std::size_t>(derived_by_[v])) + ": its input is gone before the sweep recomputes its output");
  n.layer->forward({&u}, values_[v]);
}

template <class T>
const Tensor<T>& Executor<T>::forward(const Tensor<T>& input) {
  const std::size_t nv = model_.num_values();
  values_.assign(nv, Tensor<T>());
  shapes_.assign(nv, Shape());
  lent_from_.assign(nv, -1);
  values_[0] = input;
  shapes_[0] = input.shape();
  batch_ = input.rank() ? input.dim(0) : 0;
  const auto& nodes = model_.nodes();
  saved_.assign(nodes.size(), Tensor<T>());
  NodeTimes* profile = node_profile();
  if (profile) ++profile->calls;
  fused_relus_ = relabelled_in_place_ = 0;
  std::vector<char> done(nodes.size(), 0);  // ReLUs already run with their convolution
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    const Node<T>& n = nodes[i];
    TensorRefs<T> in;
    for (std::size_t v : n.inputs) in.push_back(&values_[v]);
    const double start = profile ? now_ms() : 0.0;
    const bool skipped = done[i];
    const long relu = skipped ? -1 : fusable_relu(i);
    try {
      if (done[i]) {
        // its output was written with the convolution's
      } else if (relu >= 0) {
        const std::size_t out = nodes[static_cast<std::size_t>(relu)].output;
        if (n.layer->kind() == LayerKind::Conv2d) {
          static_cast<const Conv2d<T>&>(*n.layer).forward_relu(*in.at(0), values_[out]);
        } else {
          sum_in_place(i, in, values_[out]);
          static_cast<const Add<T>&>(*n.layer).forward_relu(in, values_[out]);
        }
        shapes_[out] = values_[out].shape();
        done[static_cast<std::size_t>(relu)] = 1;
        ++fused_relus_;
      } else if (reshape_in_place(i)) {
        // the input's storage, relabelled
      } else if (mode_ == Mode::Backward && save_[i]) {
        n.layer->forward_saving(in, values_[n.output], saved_[i]);
      } else {
        n.layer->forward(in, values_[n.output]);
      }
    } catch (const ShapeError& e) {
      throw ShapeError((model_.source.empty() ? std::string() : model_.source + ": ") + model_.node_label(i) + ": " + e.what());
    }
    if (profile && !skipped) charge(profile->forward_ms, i, start);  // a fused ReLU shows exactly 0
    if (relu >= 0) shapes_[n.output] = shapes_[nodes[static_cast<std::size_t>(relu)].output];
    else if (!done[i]) shapes_[n.output] = values_[n.output].shape();
    if (mode_ != Mode::KeepAll)
      for (std::size_t v : n.inputs)
        if (forward_last_[v] == static_cast<long>(i) && !keep_[v]) release_forward_value(v);
  }
  compute_sign_flags();
  return output();
}

template <class T>
void Executor<T>::compute_sign_flags() {
  non_negative_.assign(model_.num_values(), 0);
  for (const Node<T>& n : model_.nodes()) {
    bool all_in = true;
    for (std::size_t v : n.inputs) all_in = all_in && non_negative_[v];
    signed char flag = 0;
    switch (n.layer->kind()) {
      case LayerKind::Activation: {
        const ActivationSpec& s = static_cast<const Activation<T>&>(*n.layer).spec();
        flag = s.kind == ActivationKind::ReLU || s.kind == ActivationKind::Sigmoid || s.kind == ActivationKind::HardSigmoid ||
               (s.kind == ActivationKind::Clip && s.lo >= 0.0) || (s.kind == ActivationKind::LeakyReLU && all_in);
        break;
      }
      case LayerKind::SoftMax: flag = 1; break;
      case LayerKind::PRelu: {  // y = x where x >= 0; a x >= 0 where x < 0 when every a <= 0
        const Tensor<T>& a = static_cast<const PRelu<T>&>(*n.layer).slopes();
        flag = all_in || std::all_of(a.begin(), a.end(), [](T v) { return v <= T(0); });
        break;
      }
      case LayerKind::Pool2d:
      case LayerKind::Flatten:
      case LayerKind::Reshape:
      case LayerKind::Concat:
      case LayerKind::Transpose:
      case LayerKind::Slice:
      case LayerKind::Resize:  // weights >= 0
      case LayerKind::LRN:     // positive divisor
      case LayerKind::Add:
      case LayerKind::Extremum:
      case LayerKind::Mul: flag = all_in; break;
      default: flag = 0; break;
    }
    non_negative_[n.output] = flag;
  }
}

template <class T>
void Executor<T>::repeat_samples(std::size_t k) {
  if (k == 1) return;
  for (std::size_t v = 0; v < values_.size(); ++v) {
    if (!values_[v].empty()) values_[v] = repeat_rows(values_[v], k);
    if (!shapes_[v].empty()) shapes_[v][0] *= k;
  }
  batch_ *= k;
  // A max pool's winner masks are per sample like the values; what other layers save (a
  // recurrent layer's gate inputs) is not batch-major, and their rules recompute it.
  for (std::size_t i = 0; i < saved_.size(); ++i) {
    if (saved_[i].empty()) continue;
    saved_[i] = model_.nodes()[i].layer->kind() == LayerKind::Pool2d ? repeat_rows(saved_[i], k) : Tensor<T>();
  }
}

template <class T>
void Executor<T>::keep_value(std::size_t v) {
  if (v >= model_.num_values()) throw ConfigError("internal: no value " + std::to_string(v));
  if (mode_ == Mode::KeepAll) return;
  keep_[v] = 1;
  backward_last_[v] = -1;  // the sweep drops a value only after the node it names
  if (v < derived_by_.size()) derived_by_[v] = -1;  // kept as computed, not recomputed
}

template <class T>
Tensor<T> Executor<T>::propagate(const Tensor<T>& seed, const std::vector<Rule>& rules,
                                 std::map<std::string, Tensor<T>>* layer_relevance) {
  return sweep(model_.output_value(), seed, rules, layer_relevance, model_.num_values());
}

template <class T>
Tensor<T> Executor<T>::propagate_to(const Tensor<T>& seed, const std::vector<Rule>& rules, std::size_t v) {
  if (v == 0 || v >= model_.num_values()) throw ConfigError("internal: propagate_to needs a node's output value");
  return sweep(model_.output_value(), seed, rules, nullptr, v);
}

template <class T>
Tensor<T> Executor<T>::propagate_from(std::size_t v, const Tensor<T>& relevance, const std::vector<Rule>& rules) {
  if (v == 0 || v >= model_.num_values()) throw ConfigError("internal: propagate_from needs a node's output value");
  return sweep(v, relevance, rules, nullptr, model_.num_values());
}

template <class T>
Tensor<T> Executor<T>::sweep(std::size_t from, const Tensor<T>& seed, const std::vector<Rule>& rules,
                             std::map<std::string, Tensor<T>>* layer_relevance, std::size_t stop) {
  const auto& nodes = model_.nodes();
  if (rules.size() != nodes.size()) throw ConfigError("internal: one rule per node expected");
  const Shape& out_shape = shapes_.at(from);
  const bool same_sample_shape = seed.rank() == out_shape.size() && seed.rank() > 0 &&
                                 std::equal(seed.shape().begin() + 1, seed.shape().end(), out_shape.begin() + 1);
  if (!same_sample_shape || batch_ == 0 || seed.dim(0) % batch_ != 0)
    throw ShapeError("initial relevance has shape " + shape_str(seed.shape()) + (from == model_.output_value() ? ", the model output has " : ", the layer output has ") + shape_str(out_shape));
  const std::size_t k = seed.dim(0) / batch_;
  const bool release = mode_ == Mode::Backward;

  std::vector<Tensor<T>> rel(model_.num_values());
  rel[from] = seed;
  NodeTimes* profile = node_profile();
  for (std::size_t ii = nodes.size(); ii-- > 0;) {
    const Node<T>& n = nodes[ii];
    Tensor<T>& r_out = rel[n.output];
    // Every consumer of a node's output comes after the node, so here its relevance is complete.
    if (filter_ && !r_out.empty()) filter_(n.output, r_out);
    if (n.output == stop) {
      if (!r_out.empty()) return std::move(r_out);
      Shape s = shapes_[stop];
      s[0] *= k;
      return Tensor<T>(s);
    }
    if (r_out.empty()) continue;  // nothing reaches this node (not on a path to the output)
    const double start = profile ? now_ms() : 0.0;
    if (layer_relevance) (*layer_relevance)[n.name.empty() ? std::to_string(ii) : n.name] = r_out;
    const RuleNeeds needs = rule_needs(rules[ii], *n.layer);
    if (needs.inputs)
      for (std::size_t v : n.inputs) restore_derived(v);
    if (needs.output) restore_derived(n.output);
    TensorRefs<T> in;
    std::vector<Shape> in_shapes;
    std::vector<signed char> nonneg;
    for (std::size_t v : n.inputs) {
      in.push_back(&values_[v]);
      in_shapes.push_back(shapes_[v]);
      nonneg.push_back(non_negative_[v]);
    }
    const Tensor<T>* out = &values_[n.output];
    std::size_t repeat = k;
    // Rules that do not take several rows per sample get repeated copies of this node's data.
    std::vector<Tensor<T>> repeated;
    Tensor<T> repeated_out;
    if (k > 1 && !needs.repeat) {
      repeated.reserve(in.size());
      for (std::size_t j = 0; j < in.size(); ++j) {
        repeated.push_back(in[j]->empty() ? Tensor<T>() : repeat_rows(*in[j], k));
        in[j] = &repeated.back();
        in_shapes[j][0] *= k;
      }
      if (!out->empty()) {
        repeated_out = repeat_rows(*out, k);
        out = &repeated_out;
      }
      repeat = 1;
    }
    RuleInput<T> ri{*n.layer, ii, in, *out, r_out, *cache_, repeat, in_shapes, nonneg, &r_out};
    if (ii < saved_.size() && !saved_[ii].empty() && (k == 1 || needs.repeat)) ri.saved = &saved_[ii];
    std::vector<Tensor<T>> r_in;
    // Every rule sends a slice's relevance back to where it was taken (its gradient): added
    // straight into what its input has received so far, when something has.
    const bool added = n.layer->kind() == LayerKind::Slice && !rel[n.inputs[0]].empty();
    try {
      if (added) static_cast<const Slice<T>&>(*n.layer).add_backward(r_out, rel[n.inputs[0]]);
      else r_in = apply_rule(rules[ii], ri);
    } catch (const ConfigError& e) {
      throw ConfigError(model_.node_label(ii) + ": " + e.what());
    }
    r_out = Tensor<T>();  // no longer needed
    for (std::size_t j = 0; j < r_in.size(); ++j) {
      Tensor<T>& dst = rel[n.inputs[j]];
      if (dst.empty()) {
        dst = std::move(r_in[j]);
      } else {
        ops::add_into(dst, r_in[j]);
      }
    }
    if (release) {
      const auto drop = [&](std::size_t v) {
        if (backward_last_[v] == static_cast<long>(ii) && v != model_.output_value()) values_[v] = Tensor<T>();
      };
      for (std::size_t v : n.inputs) drop(v);
      drop(n.output);
      if (ii < saved_.size()) saved_[ii] = Tensor<T>();
    }
    if (profile) charge(profile->backward_ms, ii, start);
  }
  if (rel[0].empty()) {
    Shape s = shapes_[0];
    s[0] *= k;
    return Tensor<T>(s);
  }
  return std::move(rel[0]);
}

template class Executor<float>;
template class Executor<double>;

}  // namespace lrp
