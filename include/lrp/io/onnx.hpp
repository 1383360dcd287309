#pragma once
// ONNX import (docs/ONNX.md): an .onnx file becomes the same in-memory Model every importer
// produces. The graph's one data input is value 0 (batch dimension dynamic or fixed, every
// other dimension fixed); 4-D inputs are NCHW, anything else is [N, features...].
//
// Operators (default domain, opsets 6 to 18; the full table with every attribute is
// docs/ONNX.md): Conv and ConvTranspose (2-D), Gemm, MatMul, BatchNormalization, LRN, activations
// (Relu, LeakyRelu, PRelu, Sigmoid, Tanh, Clip, HardSigmoid, HardSwish), pooling (Max, Average,
// Global*, spatial ReduceMean/ReduceMax), Resize/Upsample (nearest, linear), Add/Sub/Sum/Mul of
// computed values or with per-channel constants, Concat, Flatten, Reshape, Transpose, Slice,
// Pad, Softmax, Dropout/Identity (aliases), Constant.
// Subgraphs that only compute constants (Shape, Gather, Unsqueeze, Squeeze, Concat, Reshape,
// Slice, Transpose, Cast, ConstantOfShape, Add/Sub/Mul/Div/Neg on constants, ...) are folded
// at load time; Shape of a runtime value is known except for its batch entry, which may only
// flow into the first entry of a Reshape shape.
//
// One graph output (or the one chosen among several, below).
// Node names become layer names (the node's output name when it has none; duplicates get a
// "#k" suffix); Identity/Dropout and all-zero Pads leave no layer. Every error is a
// FormatError (IoError for an unreadable file) naming the file, the node (name and index) and
// its operator, and what is missing or unsupported.
#include <map>
#include <string>
#include <vector>

#include "lrp/graph/model.hpp"

namespace lrp::io {

Model<double> read_onnx_model(const std::string& path);

// The same, with some graph inputs bound to constants (ONNX's node tests feed weights as
// graph inputs): every input named in `constant_inputs` is treated like an initializer, and
// exactly one unbound, non-initializer input must remain as the data input.
Model<double> read_onnx_model(const std::string& path, const std::map<std::string, Tensor<double>>& constant_inputs);

// The same model built in float32 directly: weights go from the file's bytes into the layers
// without a double copy (half the loading memory of read_onnx_model + convert<float>). Layers
// hold the same values; biases that an Add folds into a Conv/Linear are summed in double and
// rounded once, as convert<float> would.
Model<float> read_onnx_model_float(const std::string& path);

// A model with several graph outputs (torchvision's segmentation nets with their auxiliary
// head, detection heads): `output` names the one to build; the nodes only the others need are
// left out (nodes that reach no output are built and checked as always). An empty name asks
// for the only output (an error listing them when there are more).
Model<double> read_onnx_model(const std::string& path, const std::string& output);
Model<float> read_onnx_model_float(const std::string& path, const std::string& output);
// Both: one output, and graph inputs bound to constants (a text model's attention mask).
Model<double> read_onnx_model(const std::string& path, const std::string& output,
                              const std::map<std::string, Tensor<double>>& constant_inputs);
Model<float> read_onnx_model_float(const std::string& path, const std::string& output,
                                   const std::map<std::string, Tensor<double>>& constant_inputs);

// All the choices above, and the sizes of input dimensions that the file leaves dynamic other
// than the batch (a text model exported with a dynamic sequence length): `data_shape` is the
// shape of the data the model will take, [N, ...] or one sample's [...], in the input's axis
// order (a sequence-first recurrent model's [N, T, ...] too); empty: such dimensions are refused.
struct OnnxReadOptions {
  std::string output;
  std::map<std::string, Tensor<double>> constant_inputs;
  Shape data_shape;
};
Model<double> read_onnx_model(const std::string& path, const OnnxReadOptions& options);
Model<float> read_onnx_model_float(const std::string& path, const OnnxReadOptions& options);

// From the serialized bytes of a ModelProto; `source` names it in messages.
Model<double> parse_onnx_model(const std::string& bytes, const std::string& source,
                               const std::map<std::string, Tensor<double>>& constant_inputs = {});

Model<float> parse_onnx_model_float(const std::string& bytes, const std::string& source);

// A serialized onnx::TensorProto (the input_K.pb / output_K.pb files of ONNX's test data):
// float, double and integer types (integers converted to double).
Tensor<double> read_onnx_tensor(const std::string& path);

// Names of the operators the importer converts to layers, and of those it folds when all
// their inputs are constants.
std::vector<std::string> onnx_supported_ops();
std::vector<std::string> onnx_foldable_ops();

}  // namespace lrp::io
