#pragma once
// Caffe import (docs/FORMATS.md, "Caffe"): a deploy definition (.prototxt, text) with its trained
// weights (.caffemodel, binary), or a .caffemodel alone when it declares its input, becomes the
// same in-memory Model every importer produces.
//
// Layers: Input (or the net's input/input_shape/input_dim), Convolution, Deconvolution, Crop,
// Power (power 1), InnerProduct, Pooling (MAX, AVE, global; Caffe's ceil rounding), ReLU (leaky
// with negative_slope), PReLU, Sigmoid, TanH, Softmax, LRN (across channels), Concat, Eltwise
// (SUM with unit coefficients, PROD), BatchNorm, Scale, Bias, Flatten, Dropout and Split
// (aliases). Models in the V1 format (Caffe before 2015, `layers { type: CONVOLUTION }`) are read
// too. Layers excluded from the TEST phase are left out, as Caffe does at test time. Weights come
// from the layer of the same name in the weights file.
//
// Every error is a FormatError (IoError for an unreadable file) naming the file, the layer (name
// and type) and the field or blob.
#include <string>
#include <vector>

#include "lrp/graph/model.hpp"

namespace lrp::io {

// `weights` may be empty when `definition` is a .caffemodel (definition and weights in one) or
// a definition whose layers carry their blobs. `output` names the blob to explain when the net
// has several unconsumed blobs ("" : the only one); layers it does not need are left out.
Model<double> read_caffe_model(const std::string& definition, const std::string& weights = "",
                               const std::string& output = "");
// The same in float32: weights go from the file into float layers without a double copy.
Model<float> read_caffe_model_float(const std::string& definition, const std::string& weights = "",
                                    const std::string& output = "");

// The layer types the importer converts.
std::vector<std::string> caffe_supported_layers();

}  // namespace lrp::io
