// ONNX backend conformance: every node test of libonnx-testdata for a supported operator and
// the PyTorch-converted cases for the layers lrp has, run forward in double and float and
// compared with ONNX's own tolerances (rtol 1e-3, atol 1e-7). Node tests feed weights as graph
// inputs; all inputs but the first are bound as constants (read_onnx_model's test path).
//
// Cases that use something lrp does not support are skipped by name, with the reason, in
// kSkipped below; nothing is skipped silently: a case is either in that list or must pass,
// and every listed name must exist.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <set>

#include "lrp/core/error.hpp"
#include "lrp/io/onnx.hpp"
#include "support/onnx_test_util.hpp"

namespace lrp::test {
namespace {

namespace fs = std::filesystem;
const std::string kData = "/usr/share/libonnx-testdata/data";

// Operators lrp converts; every node/ case whose name starts with test_<op> is tried.
const std::vector<std::string> kOpPrefixes = {
    "test_add", "test_averagepool", "test_batchnorm", "test_clip", "test_concat", "test_constant", "test_conv", "test_convtranspose",
    "test_dropout", "test_flatten", "test_gemm", "test_globalaveragepool", "test_globalmaxpool", "test_identity",
    "test_leakyrelu", "test_matmul", "test_maxpool", "test_relu", "test_reshape", "test_resize", "test_upsample", "test_sigmoid", "test_softmax",
    "test_sub", "test_sum", "test_tanh", "test_transpose", "test_slice", "test_erf", "test_div", "test_elu", "test_selu",
    "test_softplus", "test_softsign", "test_hardsigmoid", "test_hardswish", "test_neg", "test_expand", "test_reduce_sum",
};

const char* const kCubic = "Resize mode cubic (nearest and linear only)";
const char* const kRank1 = "rank-1 data: no dimension besides the batch";
const char* const kTwoInputs =
    "two data inputs; lrp models take one (Add/Sub/Sum/Concat of two computed values: test_onnx_import.cpp)";

// Case name → why it is skipped. "_expanded" cases (the op decomposed into other operators)
// are skipped by rule, see is_skipped().
const char* const kBatchAxis = "moves or slices the batch axis (lrp keeps every sample whole, batch first)";
const std::map<std::string, std::string> kSkipped = {
    {"test_add", kTwoInputs},
    {"test_neg_example", kRank1},
    {"test_expand_dim_changed", "Expand of a computed value to more axes (only to its own rank)"},
    {"test_div", "a divisor of the input's whole shape (one value per channel, or a scalar)"},
    {"test_div_bcast", "a divisor along the last axis of [N,4,5] (one value per channel, or a scalar)"},
    {"test_div_example", kRank1},
    {"test_div_uint8", "uint8 data"},
    {"test_transpose_default", kBatchAxis},
    {"test_transpose_all_permutations_2", kBatchAxis},
    {"test_transpose_all_permutations_3", kBatchAxis},
    {"test_transpose_all_permutations_4", kBatchAxis},
    {"test_transpose_all_permutations_5", kBatchAxis},
    {"test_slice", kBatchAxis},
    {"test_slice_default_axes", kBatchAxis},
    {"test_slice_default_steps", kBatchAxis},
    {"test_slice_neg_steps", kBatchAxis},
    {"test_slice_negative_axes", kBatchAxis},
    {"test_slice_start_out_of_bounds", "an empty slice (no output elements)"},
    {"test_resize_downsample_scales_cubic", kCubic},
    {"test_resize_downsample_scales_cubic_A_n0p5_exclude_outside", kCubic},
    {"test_resize_downsample_scales_cubic_align_corners", kCubic},
    {"test_resize_downsample_sizes_cubic", kCubic},
    {"test_resize_upsample_scales_cubic", kCubic},
    {"test_resize_upsample_scales_cubic_A_n0p5_exclude_outside", kCubic},
    {"test_resize_upsample_scales_cubic_align_corners", kCubic},
    {"test_resize_upsample_scales_cubic_asymmetric", kCubic},
    {"test_resize_upsample_sizes_cubic", kCubic},
    {"test_resize_tf_crop_and_resize", "Resize tf_crop_and_resize (a region of interest)"},
    {"test_convtranspose_3d", "3-D transposed convolution (2-D only)"},
    {"test_add_bcast", kTwoInputs},
    {"test_add_uint8", "uint8 data"},
    {"test_sub", kTwoInputs},
    {"test_sub_bcast", kTwoInputs},
    {"test_sub_example", kTwoInputs},
    {"test_sub_uint8", "uint8 data"},
    {"test_sum_example", kTwoInputs},
    {"test_sum_two_inputs", kTwoInputs},
    {"test_clip_default_inbounds", kRank1},
    {"test_clip_example", kRank1},
    {"test_clip_inbounds", kRank1},
    {"test_clip_outbounds", kRank1},
    {"test_clip_splitbounds", kRank1},
    {"test_dropout_default_old", kRank1},
    {"test_leakyrelu_example", kRank1},
    {"test_elu_example", kRank1},
    {"test_selu_example", kRank1},
    {"test_softplus_example", kRank1},
    {"test_softsign_example", kRank1},
    {"test_hardsigmoid_example", kRank1},
    {"test_sigmoid_example", kRank1},
    {"test_sum_one_input", kRank1},
    {"test_tanh_example", kRank1},
    {"test_concat_2d_axis_1", kTwoInputs},
    {"test_concat_2d_axis_negative_1", kTwoInputs},
    {"test_concat_3d_axis_1", kTwoInputs},
    {"test_concat_3d_axis_2", kTwoInputs},
    {"test_concat_3d_axis_negative_1", kTwoInputs},
    {"test_concat_3d_axis_negative_2", kTwoInputs},
    {"test_flatten_negative_axis1", "Flatten axis -1 merges the batch with other dimensions"},
    {"test_concat_1d_axis_0", "concatenation along the batch axis"},
    {"test_concat_1d_axis_negative_1", "concatenation along the batch axis (1-D)"},
    {"test_concat_2d_axis_0", "concatenation along the batch axis"},
    {"test_concat_2d_axis_negative_2", "concatenation along the batch axis"},
    {"test_concat_3d_axis_0", "concatenation along the batch axis"},
    {"test_concat_3d_axis_negative_3", "concatenation along the batch axis"},
    {"test_averagepool_3d_default", "3-D pooling"},
    {"test_maxpool_3d_default", "3-D pooling"},
    {"test_maxpool_2d_uint8", "uint8 data"},
    {"test_maxpool_with_argmax_2d_precomputed_pads", "the Indices output of MaxPool"},
    {"test_maxpool_with_argmax_2d_precomputed_strides", "the Indices output of MaxPool"},
    {"test_batchnorm_epsilon_training_mode", "training-mode BatchNormalization"},
    {"test_batchnorm_example_training_mode", "training-mode BatchNormalization"},
    {"test_clip_default_int8_inbounds", "int8 data"},
    {"test_clip_default_int8_max", "int8 data"},
    {"test_clip_default_int8_min", "int8 data"},
    {"test_constant", "the graph output is a constant"},
    {"test_dropout_default_mask", "the mask output of Dropout"},
    {"test_dropout_default_mask_ratio", "the mask output of Dropout"},
    {"test_flatten_axis0", "Flatten axis 0 moves the batch dimension"},
    {"test_flatten_axis2", "Flatten axis 2 merges the batch with other dimensions"},
    {"test_flatten_axis3", "Flatten axis 3 merges the batch with other dimensions"},
    {"test_flatten_negative_axis2", "Flatten axis -2 merges the batch with other dimensions"},
    {"test_flatten_negative_axis4", "Flatten axis -4 moves the batch dimension"},
    {"test_gemm_all_attributes", "transA=1 transposes the batch dimension"},
    {"test_gemm_transposeA", "transA=1 transposes the batch dimension"},
    {"test_gemm_default_matrix_bias", "a bias C that differs per batch row"},
    {"test_identity_opt", "optional-typed values"},
    {"test_identity_sequence", "sequence-typed values"},
    {"test_matmul_3d", "MatMul of rank-3 tensors"},
    {"test_matmul_4d", "MatMul of rank-4 tensors"},
    {"test_reshape_allowzero_reordered", "a Reshape that changes the batch dimension"},
    {"test_reshape_negative_extended_dims", "a Reshape that changes the batch dimension"},
    {"test_reshape_one_dim", "a Reshape that changes the batch dimension"},
    {"test_reshape_reordered_all_dims", "a Reshape that changes the batch dimension"},
    {"test_reduce_sum_default_axes_keepdims_example", "a reduction over every axis, the batch's included"},
    {"test_reduce_sum_default_axes_keepdims_random", "a reduction over every axis, the batch's included"},
    {"test_softmax_axis_0", "Softmax over the batch axis"},
    {"test_softmax_axis_1", "Softmax over an axis of a rank-3 input"},
    {"test_softmax_axis_2", "Softmax over an axis of a rank-3 input"},
    {"test_softmax_default_axis", "Softmax over an axis of a rank-3 input"},
    {"test_softmax_negative_axis", "Softmax over an axis of a rank-3 input"},
};

// PyTorch-converted cases (weights as initializers) for the layers lrp has.
const std::vector<std::string> kPytorchCases = {
    "test_AvgPool2d", "test_AvgPool2d_stride", "test_BatchNorm1d_3d_input_eval", "test_BatchNorm2d_eval",
    "test_BatchNorm2d_momentum_eval", "test_ConstantPad2d", "test_Conv2d", "test_Conv2d_depthwise",
    "test_Conv2d_depthwise_padded", "test_Conv2d_depthwise_strided", "test_Conv2d_depthwise_with_multiplier",
    "test_Conv2d_dilated", "test_Conv2d_groups", "test_Conv2d_groups_thnn", "test_Conv2d_no_bias", "test_Conv2d_padding",
    "test_Conv2d_strided", "test_ConvTranspose2d", "test_ConvTranspose2d_no_bias", "test_LeakyReLU", "test_LeakyReLU_with_negval", "test_Linear", "test_Linear_no_bias",
    "test_MaxPool2d", "test_MaxPool2d_stride_padding_dilation", "test_ReLU", "test_Sigmoid", "test_Softmax", "test_Tanh",
    "test_ZeroPad2d", "test_softmax_lastdim", "test_AvgPool1d", "test_AvgPool1d_stride", "test_Conv1d", "test_Conv1d_dilated",
    "test_Conv1d_groups", "test_Conv1d_pad1", "test_Conv1d_pad1size1", "test_Conv1d_pad2", "test_Conv1d_pad2size1",
    "test_Conv1d_stride", "test_MaxPool1d", "test_MaxPool1d_stride", "test_MaxPool1d_stride_padding_dilation",
};

bool is_skipped(const std::string& name, std::string* reason) {
  if (name.rfind("test_reduce_sum_square", 0) == 0) {
    *reason = "ReduceSumSquare (another operator under the ReduceSum prefix)";
    return true;
  }
  if (name.size() > 9 && name.compare(name.size() - 9, 9, "_expanded") == 0) {
    *reason = "the operator expanded into other operators (ONNX function body)";
    return true;
  }
  const auto it = kSkipped.find(name);
  if (it == kSkipped.end()) return false;
  *reason = it->second;
  return true;
}

bool has_data() { return fs::is_directory(kData + "/node"); }

// Runs one case directory; returns an empty string on success, else what went wrong.
std::string run_case(const std::string& dir) {
  onnx::ModelProto mp;
  if (!mp.ParseFromString(read_file(dir + "/model.onnx"))) return "cannot parse model.onnx";
  std::vector<std::string> inputs;
  std::set<std::string> inits;
  for (const auto& t : mp.graph().initializer()) inits.insert(t.name());
  for (const auto& vi : mp.graph().input())
    if (!inits.count(vi.name())) inputs.push_back(vi.name());
  std::string failures;
  std::size_t sets = 0;
  for (std::size_t s = 0; fs::is_directory(dir + "/test_data_set_" + std::to_string(s)); ++s, ++sets) {
    const std::string set = dir + "/test_data_set_" + std::to_string(s);
    std::map<std::string, Tensor<double>> bound;
    for (std::size_t k = 1; k < inputs.size(); ++k)
      bound[inputs[k]] = io::read_onnx_tensor(set + "/input_" + std::to_string(k) + ".pb");
    const Tensor<double> x = io::read_onnx_tensor(set + "/input_0.pb");
    const Tensor<double> expected = io::read_onnx_tensor(set + "/output_0.pb");
    Model<double> model;
    try {
      model = io::read_onnx_model(dir + "/model.onnx", bound);
    } catch (const Error& e) {
      return std::string("import failed: ") + e.what();
    }
    const Tensor<double> yd = run_forward<double>(model, x);
    const Tensor<double> yf = run_forward<float>(model, x);
    if (yd.shape() != expected.shape()) {
      failures += "set " + std::to_string(s) + ": output shape " + shape_str(yd.shape()) + ", expected " + shape_str(expected.shape()) + "; ";
      continue;
    }
    const auto rd = allclose(yd, expected, 1e-3, 1e-7);
    const auto rf = allclose(yf, expected, 1e-3, 1e-7);
    if (!rd) failures += "set " + std::to_string(s) + " double: " + rd.message() + "; ";
    if (!rf) failures += "set " + std::to_string(s) + " float: " + rf.message() + "; ";
  }
  if (sets == 0) return "no test data sets";
  return failures;
}

TEST(OnnxConformance, NodeTestsOfSupportedOperators) {
  if (!has_data()) GTEST_SKIP() << "libonnx-testdata is not installed (" << kData << ")";
  std::size_t passed = 0, skipped = 0;
  std::set<std::string> seen;
  for (const auto& entry : fs::directory_iterator(kData + "/node")) {
    const std::string name = entry.path().filename().string();
    const bool ours = std::any_of(kOpPrefixes.begin(), kOpPrefixes.end(), [&](const std::string& p) {
      return name.rfind(p, 0) == 0 && (name.size() == p.size() || name[p.size()] == '_');
    });
    if (!ours) continue;
    seen.insert(name);
    std::string reason;
    if (is_skipped(name, &reason)) {
      ++skipped;
      continue;
    }
    const std::string err = run_case(entry.path().string());
    EXPECT_EQ(err, "") << name;
    passed += err.empty();
  }
  for (const auto& [name, reason] : kSkipped) EXPECT_TRUE(seen.count(name)) << "skip-list entry " << name << " is not a case";
  std::cout << "[ onnx node tests ] " << passed << " passed, " << skipped << " skipped by name (see kSkipped)\n";
  EXPECT_GE(passed, 60u);
}

TEST(OnnxConformance, PytorchConvertedLayers) {
  if (!has_data()) GTEST_SKIP() << "libonnx-testdata is not installed (" << kData << ")";
  for (const std::string& name : kPytorchCases) {
    const std::string dir = kData + "/pytorch-converted/" + name;
    ASSERT_TRUE(fs::is_directory(dir)) << dir;
    EXPECT_EQ(run_case(dir), "") << name;
  }
}

}  // namespace
}  // namespace lrp::test
