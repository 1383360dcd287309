// The table of layer converters by ONNX operator name; the converters themselves are in
// onnx_layers_*.cpp (declared in onnx_layers.hpp), the recurrent ones in onnx_recurrent.cpp and
// the steps of normalisations written out in onnx_norm_written_out.cpp.
#include <map>
#include <string>

#include "io/onnx_layers.hpp"

namespace lrp::io::onnx_detail {

const std::map<std::string, LayerConverter>& layer_converters() {
  static const std::map<std::string, LayerConverter> table = {
      {"Add", add},
      {"AveragePool", average_pool},
      {"BatchNormalization", batch_normalization},
      {"Clip", clip},
      {"Concat", concat},
      {"Conv", conv},
      {"Resize", resize},
      {"RNN", rnn},
      {"Upsample", upsample},
      {"ConvTranspose", conv_transpose},
      {"Div", div},
      {"Einsum", einsum},
      {"Dropout", dropout},
      {"Erf", erf_op},
      {"Flatten", flatten},
      {"Gather", gather},
      {"Gelu", gelu},
      {"Gemm", gemm},
      {"GRU", gru},
      {"GlobalAveragePool", global_average_pool},
      {"GlobalMaxPool", global_max_pool},
      {"HardSigmoid", hard_sigmoid},
      {"HardSwish", hard_swish},
      {"Identity", identity},
      {"LayerNormalization", layer_normalization},
      {"LeakyRelu", leaky_relu},
      {"LRN", lrn},
      {"LSTM", lstm},
      {"MatMul", matmul},
      {"Max", max_op},
      {"Neg", neg},
      {"Cast", cast_op},
      {"Expand", expand_op},
      {"Pow", pow_op},
      {"Reciprocal", reciprocal_op},
      {"Sqrt", sqrt_op},
      {"Where", where_op},
      {"MaxPool", max_pool},
      {"Min", min_op},
      {"Mul", mul},
      {"Pad", pad},
      {"PRelu", prelu},
      {"ReduceMax", reduce_max},
      {"ReduceMean", reduce_mean},
      {"ReduceSum", reduce_sum},
      {"Relu", relu},
      {"Reshape", reshape},
      {"Sigmoid", sigmoid},
      {"Elu", elu},
      {"Selu", selu},
      {"Softplus", softplus},
      {"Softsign", softsign},
      {"Slice", slice},
      {"Softmax", softmax},
      {"Split", split},
      {"Squeeze", squeeze},
      {"Sub", sub},
      {"Sum", sum},
      {"Tanh", tanh_op},
      {"Transpose", transpose},
      {"Unsqueeze", unsqueeze},
  };
  return table;
}

}  // namespace lrp::io::onnx_detail
