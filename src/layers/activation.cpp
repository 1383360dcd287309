#include "lrp/layers/activation.hpp"

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "kernels/elementwise.hpp"

namespace lrp {

template <class T>
std::string Activation<T>::type_name() const {
  switch (spec_.kind) {
    case ActivationKind::ReLU: return "Rect";
    case ActivationKind::LeakyReLU: return "LeakyReLU";
    case ActivationKind::Tanh: return "Tanh";
    case ActivationKind::Sigmoid: return "Sigmoid";
    case ActivationKind::Clip: return "Clip";
    case ActivationKind::HardSigmoid: return "HardSigmoid";
    case ActivationKind::HardSwish: return "HardSwish";
    case ActivationKind::Erf: return "Erf";
    case ActivationKind::Gelu: return "Gelu";
    case ActivationKind::GeluTanh: return "GeluTanh";
    case ActivationKind::Elu: return "Elu";
    case ActivationKind::Selu: return "Selu";
    case ActivationKind::Softplus: return "Softplus";
    case ActivationKind::Softsign: return "Softsign";
    case ActivationKind::Power: return "Power";
  }
  return "Activation";
}

template <class T>
std::string Activation<T>::describe() const {
  if (spec_.kind == ActivationKind::LeakyReLU) return "alpha " + std::to_string(spec_.alpha);
  if (spec_.kind == ActivationKind::Clip) return "[" + std::to_string(spec_.lo) + ", " + std::to_string(spec_.hi) + "]";
  if (spec_.kind == ActivationKind::HardSigmoid) return "alpha " + std::to_string(spec_.alpha) + ", beta " + std::to_string(spec_.beta);
  if (spec_.kind == ActivationKind::Elu) return "alpha " + std::to_string(spec_.alpha);
  if (spec_.kind == ActivationKind::Selu) return "alpha " + std::to_string(spec_.alpha) + ", gamma " + std::to_string(spec_.gamma);
  if (spec_.kind == ActivationKind::Power) return "x^" + std::to_string(spec_.exponent);
  return "";
}

namespace {
template <class T>
constexpr T kInvSqrt2 = T(0.70710678118654752440);
template <class T>
constexpr T kInvSqrt2Pi = T(0.39894228040143267794);  // 1 / sqrt(2 pi)
template <class T>
constexpr T kTwoOverSqrtPi = T(1.12837916709551257390);
template <class T>
constexpr T kSqrt2OverPi = T(0.79788456080286535588);

template <class T>
T gelu_tanh_arg(T x) {
  return kSqrt2OverPi<T> * (x + T(0.044715) * x * x * x);
}

// x^p for an integer p >= 0 by repeated multiplication (exact for p <= 2, as PyTorch's pow).
template <class T>
T integer_power(T x, int p) {
  T r = T(1);
  for (int k = 0; k < p; ++k) r *= x;
  return r;
}

// f(i) for i in [0, n): vectorised, and on the OpenMP threads for large tensors (a plain loop
// here made ReLU6's backward 28% of MobileNetV2's gradient while the other thread waited).
// Callers capture by value and each thread runs its own copy: captured references, or a
// shared functor, could alias the output as far as the compiler knows, which stops the
// vectoriser.
template <class F>
void each(std::size_t n, F f) {
  const long long nn = static_cast<long long>(n);
#pragma omp parallel if (n >= 65536)
  {
    const F g = f;  // a thread-local copy: its fields stay in registers (no store can alias them)
#pragma omp for simd schedule(static)
    for (long long i = 0; i < nn; ++i) g(static_cast<std::size_t>(i));
  }
}
}  // namespace

template <class T>
void Activation<T>::forward(const TensorRefs<T>& in, Tensor<T>& out) const {
  const Tensor<T>& x = *in[0];
  out = Tensor<T>::uninitialized(x.shape());  // every case writes all elements
  const std::size_t n = x.size();
  const T a = static_cast<T>(spec_.alpha), lo = static_cast<T>(spec_.lo), hi = static_cast<T>(spec_.hi),
          b = static_cast<T>(spec_.beta);
  const T* xp = x.data();
  T* op = out.data();
  switch (spec_.kind) {
    case ActivationKind::ReLU:
      each(n, [=](std::size_t i) { op[i] = xp[i] > T(0) ? xp[i] : T(0); });
      break;
    case ActivationKind::LeakyReLU:
      each(n, [=](std::size_t i) { op[i] = xp[i] >= T(0) ? xp[i] : a * xp[i]; });
      break;
    case ActivationKind::Tanh:
      each(n, [=](std::size_t i) { op[i] = std::tanh(xp[i]); });
      break;
    case ActivationKind::Sigmoid:
      if constexpr (std::is_same_v<T, float>) {  // the fast path: vectorised, on the OpenMP threads
        kernels::in_chunks(n, [=](std::size_t first, std::size_t len) { kernels::sigmoid(xp + first, op + first, len); });
      } else {  // the double reference path stays the plain formula
        for (std::size_t i = 0; i < n; ++i) op[i] = T(1) / (T(1) + std::exp(-xp[i]));
      }
      break;
    case ActivationKind::Clip:
      each(n, [=](std::size_t i) { op[i] = std::min(std::max(xp[i], lo), hi); });
      break;
    case ActivationKind::HardSigmoid:
      each(n, [=](std::size_t i) { op[i] = std::min(std::max(a * xp[i] + b, T(0)), T(1)); });
      break;
    case ActivationKind::HardSwish:
      each(n, [=](std::size_t i) { op[i] = xp[i] * std::min(std::max(xp[i] / T(6) + T(0.5), T(0)), T(1)); });
      break;
    case ActivationKind::Erf:
    case ActivationKind::Gelu:
      if constexpr (std::is_same_v<T, float>) {  // vectorised, on the OpenMP threads
        const bool erf_only = spec_.kind == ActivationKind::Erf;
        kernels::in_chunks(n, [=](std::size_t first, std::size_t len) {
          if (erf_only) kernels::erf(xp + first, op + first, len);
          else kernels::gelu(xp + first, op + first, len);
        });
      } else if (spec_.kind == ActivationKind::Erf) {  // the double reference path: std::erf
        for (std::size_t i = 0; i < n; ++i) op[i] = std::erf(xp[i]);
      } else {
        for (std::size_t i = 0; i < n; ++i) op[i] = T(0.5) * xp[i] * (T(1) + std::erf(xp[i] * kInvSqrt2<T>));
      }
      break;
    case ActivationKind::GeluTanh:
      each(n, [=](std::size_t i) { op[i] = T(0.5) * xp[i] * (T(1) + std::tanh(gelu_tanh_arg(xp[i]))); });
      break;
    case ActivationKind::Elu:
    case ActivationKind::Selu: {
      const T scale = spec_.kind == ActivationKind::Selu ? static_cast<T>(spec_.gamma) : T(1);
      each(n, [=](std::size_t i) { op[i] = scale * (xp[i] > T(0) ? xp[i] : a * std::expm1(xp[i])); });
      break;
    }
    case ActivationKind::Softplus:  // max(x, 0) + log1p(exp(-|x|)): no overflow for large |x|
      each(n, [=](std::size_t i) { op[i] = std::max(xp[i], T(0)) + std::log1p(std::exp(-std::abs(xp[i]))); });
      break;
    case ActivationKind::Softsign:
      each(n, [=](std::size_t i) { op[i] = xp[i] / (T(1) + std::abs(xp[i])); });
      break;
    case ActivationKind::Power: {
      const int p = spec_.exponent;
      each(n, [=](std::size_t i) { op[i] = integer_power(xp[i], p); });
      break;
    }
  }
}

template <class T>
void Activation<T>::backward(const TensorRefs<T>& in, const Tensor<T>& out, const Tensor<T>& dout,
                             std::vector<Tensor<T>>& din) const {
  const Tensor<T>& x = *in[0];
  din.assign(1, Tensor<T>::uninitialized(x.shape()));  // every case below writes every element
  const std::size_t n = x.size();
  const T a = static_cast<T>(spec_.alpha), lo = static_cast<T>(spec_.lo), hi = static_cast<T>(spec_.hi),
          b = static_cast<T>(spec_.beta);
  const T* xp = x.data();
  const T* yp = out.data();
  const T* gp = dout.data();
  T* dp = din[0].data();
  switch (spec_.kind) {
    case ActivationKind::ReLU:
      each(n, [=](std::size_t i) {
        const T g = gp[i];  // loaded unconditionally: a select vectorises, a conditional load does not
        dp[i] = xp[i] > T(0) ? g : T(0);
      });
      break;
    case ActivationKind::LeakyReLU:
      each(n, [=](std::size_t i) { dp[i] = xp[i] >= T(0) ? gp[i] : a * gp[i]; });
      break;
    case ActivationKind::Tanh:
      each(n, [=](std::size_t i) { dp[i] = gp[i] * (T(1) - yp[i] * yp[i]); });
      break;
    case ActivationKind::Sigmoid:
      each(n, [=](std::size_t i) { dp[i] = gp[i] * yp[i] * (T(1) - yp[i]); });
      break;
    case ActivationKind::Clip:
      each(n, [=](std::size_t i) {
        const T g = gp[i], v = xp[i];
        dp[i] = (v > lo) & (v < hi) ? g : T(0);
      });
      break;
    case ActivationKind::HardSigmoid:
      each(n, [=](std::size_t i) {
        const T z = a * xp[i] + b, g = a * gp[i];
        dp[i] = (z > T(0)) & (z < T(1)) ? g : T(0);
      });
      break;
    case ActivationKind::HardSwish:  // d/dx x (x/6 + 1/2) = x/3 + 1/2 on (-3, 3); 0 below, 1 above
      each(n, [=](std::size_t i) { dp[i] = gp[i] * (xp[i] <= T(-3) ? T(0) : xp[i] >= T(3) ? T(1) : xp[i] / T(3) + T(0.5)); });
      break;
    case ActivationKind::Erf:  // 2/sqrt(pi) exp(-x^2)
      if constexpr (std::is_same_v<T, float>) {  // vectorised exp, on the OpenMP threads
        kernels::in_chunks(n, [=](std::size_t first, std::size_t len) { kernels::erf_gradient(xp + first, gp + first, dp + first, len); });
      } else {
        each(n, [=](std::size_t i) { dp[i] = gp[i] * kTwoOverSqrtPi<T> * std::exp(-xp[i] * xp[i]); });
      }
      break;
    case ActivationKind::Gelu:  // Phi(x) + x phi(x)
      each(n, [=](std::size_t i) {
        const T v = xp[i];
        dp[i] = gp[i] * (T(0.5) * (T(1) + std::erf(v * kInvSqrt2<T>)) + v * kInvSqrt2Pi<T> * std::exp(T(-0.5) * v * v));
      });
      break;
    case ActivationKind::GeluTanh:  // with u = gelu_tanh_arg(x): (1 + tanh u) / 2 + x (1 - tanh^2 u) u'(x) / 2
      each(n, [=](std::size_t i) {
        const T v = xp[i], t = std::tanh(gelu_tanh_arg(v));
        const T du = kSqrt2OverPi<T> * (T(1) + T(3) * T(0.044715) * v * v);
        dp[i] = gp[i] * (T(0.5) * (T(1) + t) + T(0.5) * v * (T(1) - t * t) * du);
      });
      break;
    case ActivationKind::Elu:
    case ActivationKind::Selu: {  // scale for x > 0, scale alpha exp(x) below
      const T scale = spec_.kind == ActivationKind::Selu ? static_cast<T>(spec_.gamma) : T(1);
      each(n, [=](std::size_t i) { dp[i] = gp[i] * scale * (xp[i] > T(0) ? T(1) : a * std::exp(xp[i])); });
      break;
    }
    case ActivationKind::Softplus:  // sigmoid(x)
      each(n, [=](std::size_t i) { dp[i] = gp[i] / (T(1) + std::exp(-xp[i])); });
      break;
    case ActivationKind::Softsign: {  // 1 / (1 + |x|)^2
      each(n, [=](std::size_t i) {
        const T d = T(1) + std::abs(xp[i]);
        dp[i] = gp[i] / (d * d);
      });
      break;
    }    case ActivationKind::Power: {  // p x^(p-1)
      const int p = spec_.exponent;
      each(n, [=](std::size_t i) { dp[i] = gp[i] * static_cast<T>(p) * integer_power(xp[i], p - 1); });
      break;
    }
  }
}

template <class T>
Shape SoftMax<T>::output_shape(const std::vector<Shape>& in) const {
  if (in.at(0).empty()) throw ShapeError("SoftMax needs an axis to normalise over, got a scalar per sample");
  return in[0];
}

template <class T>
void SoftMax<T>::forward(const TensorRefs<T>& in, Tensor<T>& out) const {
  const Tensor<T>& x = *in[0];
  out = Tensor<T>::uninitialized(x.shape());  // every row is written below
  const std::size_t d = x.shape().back();
  const long long n = static_cast<long long>(x.size() / d);
  // Rows in parallel: attention has heads x queries of them in every layer.
#pragma omp parallel for schedule(static) if (x.size() >= 65536)
  for (long long r = 0; r < n; ++r) {
    const std::size_t i = static_cast<std::size_t>(r);
    const T* xi = x.data() + i * d;
    T* yi = out.data() + i * d;
    if constexpr (std::is_same_v<T, float>) {
      kernels::softmax_row(xi, yi, d);
      continue;
    }
    const T m = *std::max_element(xi, xi + d);  // the double reference path: std::exp
    T s = 0;
    for (std::size_t j = 0; j < d; ++j) s += (yi[j] = std::exp(xi[j] - m));
    for (std::size_t j = 0; j < d; ++j) yi[j] /= s;
  }
}

template <class T>
void SoftMax<T>::backward(const TensorRefs<T>& in, const Tensor<T>& out, const Tensor<T>& dout,
                          std::vector<Tensor<T>>& din) const {
  din.assign(1, Tensor<T>(in[0]->shape()));
  const std::size_t d = out.shape().back();
  const long long n = static_cast<long long>(out.size() / d);
#pragma omp parallel for schedule(static) if (out.size() >= 65536)
  for (long long r = 0; r < n; ++r) {
    const std::size_t i = static_cast<std::size_t>(r);
    const T* y = out.data() + i * d;
    const T* g = dout.data() + i * d;
    T dot = 0;
    for (std::size_t j = 0; j < d; ++j) dot += y[j] * g[j];
    for (std::size_t j = 0; j < d; ++j) din[0][i * d + j] = y[j] * (g[j] - dot);
  }
}

template class Activation<float>;
template class Activation<double>;
template class SoftMax<float>;
template class SoftMax<double>;

}  // namespace lrp
