#pragma once
// Keras import (docs/FORMATS.md, "Keras"): a whole model saved by Keras 2 (`model.save("m.h5")`,
// tf.keras or standalone Keras; Keras 3's legacy `.h5` too), i.e. an HDF5 file holding the
// architecture as JSON (`model_config`) and the weights under `model_weights`, becomes the same
// in-memory Model every importer produces. These are the models iNNvestigate explains.
//
// Models: Sequential and Functional graphs of one input and one output (a graph with several
// outputs takes `output`, a layer name), in channels_last layout (NHWC images, as Keras stores
// them: the model's data files stay NHWC, like the LRP Toolbox's).
// Layers: InputLayer, Dense, Conv2D (groups, dilation), DepthwiseConv2D, SeparableConv2D,
// MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D, GlobalMaxPooling2D, Flatten,
// BatchNormalization, Activation, ReLU, LeakyReLU, PReLU (slopes per channel), ELU, Softmax,
// Add, Maximum, Minimum, Multiply, Concatenate, Reshape, ZeroPadding2D, Cropping2D, Rescaling,
// Normalization, nested Sequential and Functional models, and the layers that
// are identities at test time (Dropout, SpatialDropout2D, GaussianNoise, GaussianDropout,
// AlphaDropout, ActivityRegularization). Activations: linear, relu, relu6, tanh, sigmoid,
// hard_sigmoid, softmax (on features), elu, selu, softplus, softsign, gelu.
//
// Every error is a FormatError (IoError for an unreadable file) naming the file, the layer (name
// and class) and the field or weight.
#include <string>
#include <vector>

#include "lrp/graph/model.hpp"

namespace lrp::io {

// `data_shape`, the shape of the data to explain in the file's layout ([N, H, W, C], or one
// sample without N), sizes the input dimensions the model leaves unknown (None); the model is
// then marked Model::sized_by_data.
Model<double> read_keras_model(const std::string& path, const std::string& output = "", const Shape& data_shape = {});
// The same in float32: weights go from the file into float layers without a double copy.
Model<float> read_keras_model_float(const std::string& path, const std::string& output = "", const Shape& data_shape = {});

// The layer classes the importer converts.
std::vector<std::string> keras_supported_layers();

}  // namespace lrp::io
