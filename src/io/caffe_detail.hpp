#pragma once
// Internals of the Caffe importer: reading the files (caffe_read.cpp) and building the Model
// (caffe_layers.cpp).
#include <string>

#include "caffe.pb.h"
#include "lrp/graph/model.hpp"

namespace lrp::io::caffe_detail {

// The net as the TEST phase sees it: the definition parsed (text or binary by extension), V1
// layers upgraded to LayerParameter, layers the TEST state excludes dropped, and each layer's
// blobs moved in from the weights file's layer of the same name.
caffe::NetParameter read_net(const std::string& definition, const std::string& weights);

// Converts the layers in order; releases each layer's blobs once its weights are copied.
template <class T>
Model<T> build_model(caffe::NetParameter& net, const std::string& source, const std::string& output);

}  // namespace lrp::io::caffe_detail
