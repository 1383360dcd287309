// Reading Caffe files into the NetParameter the TEST phase runs (caffe_detail.hpp).
#include <fcntl.h>
#include <unistd.h>

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/io/zero_copy_stream_impl.h>
#include <google/protobuf/text_format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>

#include "io/caffe_detail.hpp"
#include "lrp/core/error.hpp"
#include "lrp/io/atomic_file.hpp"

namespace lrp::io::caffe_detail {
namespace {

bool is_text(const std::string& path) {
  const std::string e = lower_extension(path);
  return e == "prototxt" || e == "pbtxt";
}

// Text-format errors carry the line and column; warnings (the unknown fields that are skipped)
// are not errors.
class TextErrors final : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, google::protobuf::io::ColumnNumber column, const std::string& message) override {
    if (first.empty()) first = "line " + std::to_string(line + 1) + ", column " + std::to_string(column + 1) + ": " + message;
  }
  std::string first;
};

void parse_text(const std::string& path, caffe::NetParameter& net) {
  const std::string text = read_file_bytes(path);
  google::protobuf::TextFormat::Parser parser;
  TextErrors errors;
  parser.RecordErrorsTo(&errors);
  // Data sources, fillers, learning rates and the params of layers lrp does not import are not
  // in lrp's schema; a layer type lrp cannot convert is refused by name when the model is built.
  parser.AllowUnknownField(true);
  if (!parser.ParseFromString(text, &net))
    throw FormatError("Caffe definition '" + path + "': " + (errors.first.empty() ? "cannot be parsed" : errors.first));
}

// Binary files are parsed from the file descriptor, so a large .caffemodel is not held twice.
void parse_binary(const std::string& path, caffe::NetParameter& net) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw IoError("cannot open Caffe model '" + path + "': " + std::strerror(errno));
  google::protobuf::io::FileInputStream in(fd);
  in.SetCloseOnDelete(true);
  if (!net.ParseFromZeroCopyStream(&in)) {
    if (in.GetErrno() != 0) throw IoError("cannot read Caffe model '" + path + "': " + std::strerror(in.GetErrno()));
    throw FormatError("Caffe model '" + path + "' is not a binary NetParameter (truncated, corrupt, or a text file: " +
                      "definitions are read as text when named .prototxt)");
  }
}

void parse_file(const std::string& path, caffe::NetParameter& net) {
  if (is_text(path)) parse_text(path, net);
  else parse_binary(path, net);
}

const char* v1_type_name(caffe::V1LayerParameter::LayerType t) {
  using V1 = caffe::V1LayerParameter;
  switch (t) {
    case V1::CONCAT: return "Concat";
    case V1::CONVOLUTION: return "Convolution";
    case V1::DECONVOLUTION: return "Deconvolution";
    case V1::DROPOUT: return "Dropout";
    case V1::ELTWISE: return "Eltwise";
    case V1::FLATTEN: return "Flatten";
    case V1::INNER_PRODUCT: return "InnerProduct";
    case V1::LRN: return "LRN";
    case V1::POOLING: return "Pooling";
    case V1::POWER: return "Power";
    case V1::RELU: return "ReLU";
    case V1::SIGMOID: return "Sigmoid";
    case V1::SLICE: return "Slice";
    case V1::SOFTMAX: return "Softmax";
    case V1::SPLIT: return "Split";
    case V1::TANH: return "TanH";
    case V1::DATA: return "Data";
    case V1::IMAGE_DATA: return "ImageData";
    case V1::HDF5_DATA: return "HDF5Data";
    case V1::MEMORY_DATA: return "MemoryData";
    case V1::DUMMY_DATA: return "DummyData";
    case V1::WINDOW_DATA: return "WindowData";
    case V1::SOFTMAX_LOSS: return "SoftmaxWithLoss";
    case V1::ACCURACY: return "Accuracy";
    default: return nullptr;
  }
}

// V1 → LayerParameter, as Caffe's upgrade_net_proto tools do; the blobs are moved, not copied.
void upgrade_v1(caffe::NetParameter& net, const std::string& path) {
  if (net.layers_size() == 0) return;
  if (net.layer_size() > 0)
    throw FormatError("Caffe model '" + path + "' mixes V1 'layers' and current 'layer' entries");
  for (caffe::V1LayerParameter& v1 : *net.mutable_layers()) {
    caffe::LayerParameter& l = *net.add_layer();
    l.set_name(v1.name());
    const char* type = v1_type_name(v1.type());
    l.set_type(type ? type : "V1 " + caffe::V1LayerParameter::LayerType_Name(v1.type()));
    *l.mutable_bottom() = v1.bottom();
    *l.mutable_top() = v1.top();
    *l.mutable_include() = v1.include();
    *l.mutable_exclude() = v1.exclude();
    l.mutable_blobs()->Swap(v1.mutable_blobs());
    if (v1.has_concat_param()) *l.mutable_concat_param() = v1.concat_param();
    if (v1.has_convolution_param()) *l.mutable_convolution_param() = v1.convolution_param();
    if (v1.has_dropout_param()) *l.mutable_dropout_param() = v1.dropout_param();
    if (v1.has_inner_product_param()) *l.mutable_inner_product_param() = v1.inner_product_param();
    if (v1.has_lrn_param()) *l.mutable_lrn_param() = v1.lrn_param();
    if (v1.has_pooling_param()) *l.mutable_pooling_param() = v1.pooling_param();
    if (v1.has_power_param()) *l.mutable_power_param() = v1.power_param();
    if (v1.has_eltwise_param()) *l.mutable_eltwise_param() = v1.eltwise_param();
    if (v1.has_relu_param()) *l.mutable_relu_param() = v1.relu_param();
    if (v1.has_softmax_param()) *l.mutable_softmax_param() = v1.softmax_param();
    if (v1.has_slice_param()) *l.mutable_slice_param() = v1.slice_param();
  }
  net.clear_layers();
}

// Caffe's StateMeetsRule for the state a deploy net runs in: phase TEST, level 0, no stages.
bool test_state_meets(const caffe::NetStateRule& r) {
  if (r.has_phase() && r.phase() != caffe::TEST) return false;
  if (r.has_min_level() && 0 < r.min_level()) return false;
  if (r.has_max_level() && 0 > r.max_level()) return false;
  return r.stage_size() == 0;  // no stage is set; not_stage rules are then always met
}

bool runs_in_test(const caffe::LayerParameter& l) {
  if (l.include_size() > 0)
    return std::any_of(l.include().begin(), l.include().end(), test_state_meets);
  return std::none_of(l.exclude().begin(), l.exclude().end(), test_state_meets);
}

void keep_test_layers(caffe::NetParameter& net) {
  auto* layers = net.mutable_layer();
  int kept = 0;
  for (int i = 0; i < layers->size(); ++i)
    if (runs_in_test(layers->Get(i))) layers->SwapElements(i, kept++);
  while (layers->size() > kept) layers->RemoveLast();
}

}  // namespace

caffe::NetParameter read_net(const std::string& definition, const std::string& weights) {
  caffe::NetParameter net;
  parse_file(definition, net);
  upgrade_v1(net, definition);
  keep_test_layers(net);
  if (weights.empty()) return net;
  if (is_text(weights)) throw ConfigError("Caffe weights '" + weights + "' must be a binary .caffemodel");
  caffe::NetParameter trained;
  parse_binary(weights, trained);
  upgrade_v1(trained, weights);
  std::map<std::string, caffe::LayerParameter*> by_name;
  for (caffe::LayerParameter& l : *trained.mutable_layer())
    if (l.blobs_size() > 0) by_name.emplace(l.name(), &l);  // the first layer of a name
  for (caffe::LayerParameter& l : *net.mutable_layer()) {
    const auto it = by_name.find(l.name());
    if (it == by_name.end()) continue;
    if (l.blobs_size() > 0)
      throw FormatError("Caffe layer '" + l.name() + "' has weights both in '" + definition + "' and in '" + weights + "'");
    l.mutable_blobs()->Swap(it->second->mutable_blobs());
  }
  return net;
}

}  // namespace lrp::io::caffe_detail
