#include "lrp/graph/canonize.hpp"

#include "lrp/layers/batch_norm.hpp"
#include "lrp/layers/conv2d.hpp"
#include "lrp/layers/linear.hpp"

namespace lrp {
namespace {

// The affine layer `prod` followed by the per-channel map y = x * scale + shift.
template <class T>
std::unique_ptr<Layer<T>> merge(const Layer<T>& prod, const BatchNorm<T>& bn) {
  const auto& affine = static_cast<const AffineLayer<T>&>(prod);
  Tensor<T> w = affine.weight();
  Tensor<T> b = affine.bias();
  const std::size_t out = w.dim(0), per = w.size() / out;
  for (std::size_t o = 0; o < out; ++o) {
    const T s = bn.scale()[o];
    for (std::size_t k = 0; k < per; ++k) w[o * per + k] *= s;
    b[o] = b[o] * s + bn.shift()[o];
  }
  if (prod.kind() == LayerKind::Linear) return std::make_unique<Linear<T>>(std::move(w), std::move(b));
  const auto& conv = static_cast<const Conv2d<T>&>(prod);
  return std::make_unique<Conv2d<T>>(std::move(w), std::move(b), conv.window(), conv.groups());
}

}  // namespace

template <class T>
void compact_values(Model<T>& model) {
  std::vector<std::size_t> map(model.num_values(), static_cast<std::size_t>(-1));
  map[0] = 0;
  std::size_t next = 1;
  for (Node<T>& n : model.nodes()) {
    for (std::size_t& v : n.inputs) v = map.at(v);
    map.at(n.output) = next;
    n.output = next++;
  }
  model.set_values(next, map.at(model.output_value()));
}

template <class T>
std::vector<FoldedBatchNorm> fold_batch_norms(Model<T>& model) {
  std::vector<FoldedBatchNorm> folded;
  auto& nodes = model.nodes();
  for (std::size_t i = 0; i < nodes.size();) {
    Node<T>& bn_node = nodes[i];
    if (bn_node.layer->kind() != LayerKind::BatchNorm) {
      ++i;
      continue;
    }
    const auto& bn = static_cast<const BatchNorm<T>&>(*bn_node.layer);
    long p = model.producer(bn_node.inputs[0]);
    // A Reshape between them is looked through (a 1-D convolution's [C, 1, L] back to [C, L]):
    // the BatchNorm's channels are the Reshape's first axis, and the producer's channel count
    // must equal theirs (below), so that axis keeps the producer's channels, each entry in its own.
    long relabel = -1;
    if (p >= 0 && nodes[static_cast<std::size_t>(p)].layer->kind() == LayerKind::Reshape &&
        model.consumers(nodes[static_cast<std::size_t>(p)].output) == 1) {
      relabel = p;
      p = model.producer(nodes[static_cast<std::size_t>(p)].inputs[0]);
    }
    if (p < 0) {
      ++i;
      continue;
    }
    Node<T>& prod = nodes[static_cast<std::size_t>(p)];
    const LayerKind k = prod.layer->kind();
    // A Conv2d or Linear with its channels first in its output (a Linear over a channels-last
    // map has them last).
    const bool affine = k == LayerKind::Conv2d ||
                        (k == LayerKind::Linear && !static_cast<const Linear<T>&>(*prod.layer).rows_of_last_axis());
    if (!affine || model.consumers(prod.output) != 1 ||
        static_cast<const AffineLayer<T>&>(*prod.layer).weight().dim(0) != bn.scale().size()) {
      ++i;
      continue;
    }
    prod.layer = merge(*prod.layer, bn);
    // The merged node (or the Reshape after it) now produces the BN's output value; readers of
    // that value are unchanged.
    nodes[static_cast<std::size_t>(relabel >= 0 ? relabel : p)].output = bn_node.output;
    folded.push_back({bn_node.name, prod.name});
    nodes.erase(nodes.begin() + static_cast<long>(i));
  }
  if (!folded.empty()) compact_values(model);
  return folded;
}

template std::vector<FoldedBatchNorm> fold_batch_norms(Model<float>&);
template std::vector<FoldedBatchNorm> fold_batch_norms(Model<double>&);
template void compact_values(Model<float>&);
template void compact_values(Model<double>&);

template <class T>
void prune_to_output(Model<T>& model, std::size_t out) {
  model.set_output_value(out);
  std::vector<bool> needed(model.num_values(), false);
  needed.at(out) = true;
  auto& nodes = model.nodes();
  for (std::size_t i = nodes.size(); i-- > 0;)
    if (needed[nodes[i].output])
      for (std::size_t v : nodes[i].inputs) needed[v] = true;
  nodes.erase(std::remove_if(nodes.begin(), nodes.end(), [&](const Node<T>& n) { return !needed[n.output]; }), nodes.end());
  compact_values(model);
}

template void prune_to_output(Model<float>&, std::size_t);
template void prune_to_output(Model<double>&, std::size_t);

}  // namespace lrp
