#pragma once
// Runs a model forward, keeping the activations the backward sweep needs, and sweeps relevance
// (or gradients) back through the graph with one rule per node. Fan-out values sum the
// relevance of their consumers; multi-input nodes hand each input its share.
//
// Memory: by default every activation is kept (value(v) works for all v after forward()).
// After plan_backward(rules), forward() drops each activation as soon as the forward pass no
// longer reads it unless the backward sweep with those rules needs it, and propagate() drops
// activations and relevance as soon as the sweep is past their last use (one propagate per
// forward then). An activation function's output that the sweep needs is not kept either when
// its input is: the sweep recomputes it from that input where a rule reads it. A max pool keeps
// its winner masks instead of its input. plan_forward_only() keeps nothing but the output.
//
// Fusion: under either plan, a convolution or a sum (Add) whose output nothing reads but a
// ReLU, and that neither the sweep nor keep_value() needs, runs with the ReLU as one kernel
// call; its own output is then never stored (value() of it is empty, like a released one). A
// fused sum is formed in place in a summand that nothing reads after it (a residual branch;
// under the forward-only plan, since LRP's sum rule reads both summands).
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "lrp/graph/model.hpp"
#include "lrp/rules/apply.hpp"

namespace lrp {

// Wall time spent in each node (indexed like Model::nodes()), summed over the calls made while
// the sink is installed (set_node_profile). For `lrp bench --profile`; off (nullptr) by default.
struct NodeTimes {
  std::vector<double> forward_ms, backward_ms;
  std::size_t calls = 0;
};
void set_node_profile(NodeTimes* sink);
NodeTimes* node_profile();

template <class T>
class Executor {
 public:
  // `cache` holds the rules' derived parameters; without one the executor owns its own, which
  // then lives as long as the executor. An Explainer passes its persistent cache.
  explicit Executor(const Model<T>& model, ParamCache<T>* cache = nullptr);

  void plan_backward(const std::vector<Rule>& rules);
  void plan_forward_only();
  void keep_all();

  // Forward pass on an engine-layout batch [N, ...]; returns the model output.
  const Tensor<T>& forward(const Tensor<T>& input);
  const Tensor<T>& output() const { return values_.at(model_.output_value()); }
  const Model<T>& model() const { return model_; }
  // A stored activation (empty if the plan released it).
  const Tensor<T>& value(std::size_t v) const { return values_.at(v); }
  // What node i's layer saved in the forward for its rule (Layer::forward_saving; empty when
  // its rule did not ask, the plan is not a backward one, or the sweep has used and freed it).
  const Tensor<T>& saved(std::size_t i) const { return saved_.at(i); }
  std::size_t batch() const { return batch_; }
  // Convolution + ReLU and sum + ReLU pairs the last forward() ran as one call.
  std::size_t fused_relus() const { return fused_relus_; }
  // Reshapes (and plain Flattens) the last forward() ran without a copy (reshape_in_place).
  std::size_t relabelled_in_place() const { return relabelled_in_place_; }

  // Repeats every stored activation (and max pools' winner masks) k times along the batch
  // (sample n becomes rows n*k..n*k+k-1).
  // Not needed for several targets: propagate() takes k seeds per sample directly.
  void repeat_samples(std::size_t k);

  // Backward sweep from `seed` with rules[i] for node i. The seed is [N * k, outputs...]: k
  // relevance rows per sample (row n*k + j belongs to sample n), e.g. one per target class;
  // the result is [N * k, input...]. When `layer_relevance` is given, it receives the
  // relevance arriving at each node's output, keyed by node name.
  Tensor<T> propagate(const Tensor<T>& seed, const std::vector<Rule>& rules,
                      std::map<std::string, Tensor<T>>* layer_relevance = nullptr);

  // Grad-CAM's sweep: only down to value v (a node's output), returning the relevance arriving
  // there, [N * k, ...v]; the nodes below v are not visited.
  Tensor<T> propagate_to(const Tensor<T>& seed, const std::vector<Rule>& rules, std::size_t v);
  // The sweep from value v (a node's output) down: `relevance` [N * k, ...v] arrives at v and
  // nothing else enters the graph, so the result is the share of the input's relevance that
  // flows through v (concept relevance: v's relevance masked to some channels). After
  // propagate_to(.., v) on the same forward pass; use keep_all() to run it more than once.
  Tensor<T> propagate_from(std::size_t v, const Tensor<T>& relevance, const std::vector<Rule>& rules);
  // Called in every sweep with a node's output value and the relevance arriving there, once
  // complete and before the node's rule takes it (concept conditions mask it); none by default.
  using RelevanceFilter = std::function<void(std::size_t value, Tensor<T>& relevance)>;
  void set_relevance_filter(RelevanceFilter filter) { filter_ = std::move(filter); }
  // Keeps value v through forward() and the sweep, whatever the plan (call after plan_*).
  void keep_value(std::size_t v);

  ParamCache<T>& cache() { return *cache_; }

 private:
  // propagate / propagate_to / propagate_from (from: the value the seed arrives at; stop: the
  // value to stop at, or num_values() for none).
  Tensor<T> sweep(std::size_t from, const Tensor<T>& seed, const std::vector<Rule>& rules,
                  std::map<std::string, Tensor<T>>* layer_relevance, std::size_t stop);
  void compute_sign_flags();

  const Model<T>& model_;
  ParamCache<T> own_cache_;
  RelevanceFilter filter_;
  ParamCache<T>* cache_;
  std::vector<Tensor<T>> values_;
  std::vector<Shape> shapes_;              // [N, ...] of every value (kept when a value is released)
  std::vector<signed char> non_negative_;  // per value: 1 known >= 0
  std::size_t batch_ = 0;
  // Plan: keep_[v] = the backward needs v; release_after_[v] = index of the last forward node
  // reading v (-1: none); backward_last_[v] = node after whose rule v can go (-1: never needed).
  enum class Mode { KeepAll, Backward, ForwardOnly } mode_ = Mode::KeepAll;
  std::vector<char> keep_;
  std::vector<long> forward_last_, backward_last_;
  // sole_reader_[v] = the one node reading v (once), -1 when none, several, or v is the output.
  std::vector<long> sole_reader_;
  std::size_t fused_relus_ = 0, relabelled_in_place_ = 0;
  // The ReLU node that node i (a convolution or a sum) can run fused with under the current
  // plan, or -1.
  long fusable_relu(std::size_t i) const;
  // For a fused sum (node i): when a summand is dead after node i, moves its storage into `out`
  // and points `in` at it first, so that the sum is formed in place; otherwise leaves both.
  void sum_in_place(std::size_t i, TensorRefs<T>& in, Tensor<T>& out);
  // Node i only relabels its input's shape (Reshape, a plain Flatten) and the input is dead
  // after it: moves the input's storage into the output instead of copying it; false otherwise.
  // Also when the sweep keeps the input but the forward reads it nowhere else (a Linear's output
  // split into heads): the output then borrows the storage until the forward releases it.
  bool reshape_in_place(std::size_t i);
  // Drops value v after its last forward reader, or returns borrowed storage to its owner.
  void release_forward_value(std::size_t v);
  // Per value: the value whose storage it holds (reshape_in_place's borrow), -1 for its own.
  std::vector<long> lent_from_;
  // Per node: whether its rule asks for what the layer's forward saves, and what it saved.
  std::vector<char> save_;
  std::vector<Tensor<T>> saved_;
  // Per value: the Activation node that recomputes it in the sweep from its input, which the
  // sweep keeps anyway (a convolution's z under epsilon, gamma or alpha-beta), instead of a
  // second copy of the layer's values kept from the forward; -1 for values kept as they are.
  std::vector<long> derived_by_;
  void plan_derived_values();
  // Recomputes value v where it is derived and not (or no longer) stored.
  void restore_derived(std::size_t v);
};

}  // namespace lrp
