#include <gtest/gtest.h>

#include "lrp/core/error.hpp"
#include "lrp/core/tensor.hpp"
#include "lrp/graph/model.hpp"
#include "lrp/layers/pad.hpp"

using lrp::Shape;
using lrp::ShapeError;
using lrp::Tensor;

TEST(Tensor, NhwcRoundTrip) {
  Tensor<double> x({2, 3, 4, 5});
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<double>(i);
  const Tensor<double> y = lrp::nhwc_to_nchw(x);
  EXPECT_EQ(y.shape(), (lrp::Shape{2, 5, 3, 4}));
  // element (n=1, h=2, w=3, c=4) of x sits at (n=1, c=4, h=2, w=3) of y
  EXPECT_EQ(y[((1 * 5 + 4) * 3 + 2) * 4 + 3], x[((1 * 3 + 2) * 4 + 3) * 5 + 4]);
  EXPECT_EQ(lrp::nchw_to_nhwc(y).vec(), x.vec());
}

TEST(Tensor, AbsurdShapeIsRejected) {
  EXPECT_THROW(Tensor<float>({1u << 20, 1u << 20, 1u << 20}), lrp::ShapeError);
}

TEST(Tensor, SampleLimitIsInclusiveAndNamesTheShape) {
  EXPECT_EQ(lrp::sample_numel({1024, 1024, 1024}), lrp::kMaxSampleElements);
  try {
    (void)lrp::sample_numel({1024, 1024, 1025});
    ADD_FAILURE() << "no exception";
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("[1024,1024,1025]"), std::string::npos) << e.what();
  }
}

// Shape inference refuses a layer output beyond the per-sample limit, naming the layer.
TEST(Tensor, ShapeInferenceRefusesAbsurdSamples) {
  lrp::Model<double> m;
  m.input_shape = {4, 4, 4};
  m.add("bigpad", std::make_unique<lrp::Pad<double>>(12000, 12000, 12000, 12000, 0.0));  // 4 x 24004^2 values
  try {
    (void)m.infer_shapes(m.input_shape);
    ADD_FAILURE() << "no exception";
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("'bigpad'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("limit per sample"), std::string::npos) << e.what();
  }
  EXPECT_THROW((void)m.infer_shapes({1u << 16, 1u << 16, 1}), ShapeError);  // the input itself
  EXPECT_EQ(m.infer_shapes({1, 4, 4}).back(), (Shape{1, 24004, 24004}));  // one channel fits
}

TEST(Tensor, RowsCopiesSamplesAndChecksTheRange) {
  Tensor<float> t({3, 2});
  for (std::size_t i = 0; i < t.size(); ++i) t[i] = static_cast<float>(i);
  const Tensor<float> r = t.rows(1, 2);
  EXPECT_EQ(r.shape(), (Shape{2, 2}));
  EXPECT_EQ(r.vec(), (std::vector<float>{2, 3, 4, 5}));
  EXPECT_THROW(t.rows(2, 2), ShapeError);
  EXPECT_THROW(t.rows(1, static_cast<std::size_t>(-1)), ShapeError);
}

TEST(Tensor, ReshapeChecksCount) {
  Tensor<float> x({2, 6});
  EXPECT_NO_THROW(x.reshape({3, 4}));
  EXPECT_THROW(x.reshape({5}), lrp::ShapeError);
}
