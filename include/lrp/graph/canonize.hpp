#pragma once
// Canonizers: graph rewrites that keep what a model computes but give LRP the structure its
// rules expect (Zennit's canonizers, done once on the graph instead of hooking modules).
//
// fold_batch_norms is Zennit's SequentialMergeBatchNorm on a graph: every BatchNorm whose
// input is produced by a Conv2d or Linear whose output nothing else reads is merged into it,
//   W'[o] = W[o] * s[o],   b'[o] = b[o] * s[o] + t[o]      (BN: y = x * s + t per channel),
// and removed (also through a Reshape between them that keeps the channels first, as a 1-D
// convolution's back to [C, L]); the merged node keeps its name and now produces the BN's output, values are
// renumbered densely (Model::validate() holds). The rules then see the merged parameters, as
// in Zennit (W'+ / b'+ are splits of the merged weights). A BN that cannot be merged (after a
// ReLU, pooling or a Concat, as in DenseNet) stays a BatchNorm layer, which the composites
// give the Pass rule, like Zennit's BatchNorm modules.
//
// Residual additions need no canonizer here: ONNX Add nodes already are explicit Add layers,
// which the composites give the Norm rule (Zennit's ResNet canonizer makes them Sum modules).
// The CLI runs fold_batch_norms on every ONNX model it loads (`--no-canonize` skips it).
#include <string>
#include <vector>

#include "lrp/graph/model.hpp"

namespace lrp {

struct FoldedBatchNorm {
  std::string batch_norm;  // name of the removed BatchNorm node
  std::string into;        // name of the Conv2d/Linear node it was merged into
};

template <class T>
std::vector<FoldedBatchNorm> fold_batch_norms(Model<T>& model);

// Renumbers values densely in node order (0 = input), dropping values nothing defines.
template <class T>
void compact_values(Model<T>& model);

// Makes value `out` the model's output and keeps only the nodes it depends on (an importer's
// --output: an auxiliary head, or what follows the chosen value, is left out).
template <class T>
void prune_to_output(Model<T>& model, std::size_t out);

}  // namespace lrp
