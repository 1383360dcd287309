#pragma once
// A model's output and input gradient against what a fixture script computed with PyTorch in
// float64: `model` (an ONNX file, or a model already read); `input`, `logits` and `gradient`
// (d logits[:, cls] / d input, summed over the batch) are files; errors relative to the
// reference's largest value.
#include <string>

#include <gtest/gtest.h>

#include "lrp/explain/explain.hpp"
#include "lrp/io/arrays.hpp"
#include "lrp/io/onnx.hpp"
#include "support/compare.hpp"

namespace lrp::test {

// `md` is the model (its trailing SoftMax, if any, dropped); `label` names it in messages.
template <class T>
void expect_model_matches_pytorch(const Model<double>& md, const std::string& label, const std::string& input,
                                  const std::string& logits, const std::string& gradient, std::size_t cls, double tol) {
  const Model<T> model = md.template convert<T>();
  const Tensor<T> x = io::read_npy(input).template cast<T>();
  const Tensor<double> want_y = io::read_npy(logits);
  ExplainRequest req;
  req.method = Method::Gradient;
  req.target.kind = Target::Kind::Relevance;
  req.target.relevance = Tensor<double>(want_y.shape());
  const std::size_t classes = want_y.sample_size();
  for (std::size_t n = 0; n < want_y.dim(0); ++n) req.target.relevance[n * classes + cls] = 1.0;
  const Explanation<T> e = explain(model, x, req);
  const Tensor<double> want_g = io::read_npy(gradient);
  ASSERT_GT(max_rel_error(want_g, Tensor<double>(want_g.shape())), 0.0) << label << ": the reference gradient is all zero";
  EXPECT_LE(max_rel_error(e.output, want_y), tol) << label;
  EXPECT_LE(max_rel_error(e.relevance, want_g), tol) << label;
}

template <class T>
void expect_matches_pytorch(const std::string& model_file, const std::string& input, const std::string& logits,
                            const std::string& gradient, std::size_t cls, double tol) {
  expect_model_matches_pytorch<T>(io::read_onnx_model(model_file), model_file, input, logits, gradient, cls, tol);
}

}  // namespace lrp::test
