#pragma once
// The surrogate models of LIME and KernelSHAP: linear models with an intercept fitted to weighted
// samples, as scikit-learn fits them for Captum (LinearRegression, Lasso).
#include <cstddef>
#include <vector>

namespace lrp::linear_fit {

// Samples: `rows` rows of `cols` features (z, row-major), targets y and weights w >= 0 (not all 0).
struct Samples {
  std::size_t rows = 0, cols = 0;
  std::vector<double> z, y, w;
};

// Weighted least squares: the coefficients c minimising sum_i w_i (y_i - b - z_i . c)^2 over c and
// the intercept b; of several minimisers, the one of least norm (as LAPACK's gelsd gives
// scikit-learn's LinearRegression when there are fewer samples than features).
std::vector<double> least_squares(const Samples& s);

// scikit-learn's Lasso with sample weights: the weights scaled to sum to `rows`, then
// (1 / (2 rows)) sum_i w_i (y_i - b - z_i . c)^2 + alpha |c|_1 minimised by coordinate descent.
// alpha = 0 is least squares (not necessarily of least norm).
std::vector<double> lasso(const Samples& s, double alpha);

}  // namespace lrp::linear_fit
