#include <gtest/gtest.h>

#include "lrp/core/error.hpp"
#include "lrp/core/tensor.hpp"

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
