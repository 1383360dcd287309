#include "explain/linear_fit.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include <Eigen/Dense>

#include "lrp/core/error.hpp"

namespace lrp::linear_fit {
namespace {

// The intercept is fitted by centring z and y on their weighted means, as scikit-learn does.
struct Centred {
  Eigen::MatrixXd z;
  Eigen::VectorXd y, w;
};

Centred centre(const Samples& s) {
  if (s.z.size() != s.rows * s.cols || s.y.size() != s.rows || s.w.size() != s.rows)
    throw ShapeError("surrogate fit: samples, targets and weights disagree in size");
  const double total = std::accumulate(s.w.begin(), s.w.end(), 0.0);
  if (!(total > 0) || !std::isfinite(total)) throw NumericError("surrogate fit: the sample weights sum to " + std::to_string(total));
  Centred c;
  c.z = Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
      s.z.data(), static_cast<Eigen::Index>(s.rows), static_cast<Eigen::Index>(s.cols));
  c.y = Eigen::Map<const Eigen::VectorXd>(s.y.data(), static_cast<Eigen::Index>(s.rows));
  c.w = Eigen::Map<const Eigen::VectorXd>(s.w.data(), static_cast<Eigen::Index>(s.rows));
  const Eigen::RowVectorXd z_mean = (c.w.transpose() * c.z) / total;
  c.z.rowwise() -= z_mean;
  c.y.array() -= c.w.dot(c.y) / total;
  return c;
}

std::vector<double> to_vector(const Eigen::VectorXd& v) { return std::vector<double>(v.data(), v.data() + v.size()); }

}  // namespace

std::vector<double> least_squares(const Samples& s) {
  Centred c = centre(s);
  const Eigen::VectorXd root = c.w.array().sqrt();
  const Eigen::MatrixXd a = root.asDiagonal() * c.z;
  const Eigen::VectorXd b = root.cwiseProduct(c.y);
  return to_vector(a.completeOrthogonalDecomposition().solve(b));
}

std::vector<double> lasso(const Samples& s, double alpha) {
  if (!(alpha >= 0) || !std::isfinite(alpha)) throw ConfigError("lasso: alpha must be a finite number >= 0");
  Centred c = centre(s);
  const double n = static_cast<double>(s.rows);
  c.w *= n / c.w.sum();
  const Eigen::Index m = c.z.cols();
  Eigen::VectorXd coef = Eigen::VectorXd::Zero(m);
  Eigen::VectorXd residual = c.y;  // y - z coef
  const Eigen::MatrixXd wz = c.w.asDiagonal() * c.z;
  const Eigen::VectorXd norms = (wz.cwiseProduct(c.z)).colwise().sum();
  // Cyclic coordinate descent until no coefficient moves by more than 1e-12 of the largest
  // (scikit-learn stops on a duality gap of 1e-4; the tighter stop costs little at these sizes).
  for (int sweep = 0; sweep < 100000; ++sweep) {
    double moved = 0, largest = 0;
    for (Eigen::Index j = 0; j < m; ++j) {
      if (norms[j] <= 0) continue;
      const double rho = wz.col(j).dot(residual) + norms[j] * coef[j];
      const double shrunk = std::copysign(std::max(std::abs(rho) - n * alpha, 0.0), rho) / norms[j];
      const double step = shrunk - coef[j];
      if (step != 0) {
        residual -= step * c.z.col(j);
        coef[j] = shrunk;
      }
      moved = std::max(moved, std::abs(step));
      largest = std::max(largest, std::abs(shrunk));
    }
    if (moved <= 1e-12 * std::max(largest, 1e-300)) break;
  }
  return to_vector(coef);
}

}  // namespace lrp::linear_fit
