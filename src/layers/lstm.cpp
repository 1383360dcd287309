#include "lrp/layers/lstm.hpp"

#include <algorithm>
#include <cmath>

#include "kernels/gemm.hpp"
#include "layers/recurrent_math.hpp"
#include "lrp/core/error.hpp"

namespace lrp {
namespace {

// The gates' blocks of a [4H] row, in ONNX's order i, o, f, c.
enum Gate : std::size_t { kI = 0, kO = 1, kF = 2, kC = 3 };

}  // namespace

template <class T>
Lstm<T>::Lstm(Tensor<T> w, Tensor<T> r, Tensor<T> b, Tensor<T> h0, Tensor<T> c0, RecurrentDirection direction)
    : Base(std::move(w), std::move(r), std::move(b), std::move(h0), direction, 4, "LSTM"), c0_(std::move(c0)) {
  this->check_state(c0_, "LSTM", "initial cell state");
  if (!h0_.empty() && !c0_.empty() && h0_.dim(1) != c0_.dim(1)) throw ShapeError("LSTM initial states differ in their batch");
  const std::size_t h = hidden_size(), d_in = input_size();
  for (std::size_t d = 0; d < directions(); ++d) {
    Tensor<T> wc({h, d_in + h}), bc({h});
    for (std::size_t j = 0; j < h; ++j) {
      const std::size_t row = kC * h + j;
      std::copy_n(w_.data() + (d * 4 * h + row) * d_in, d_in, wc.data() + j * (d_in + h));
      std::copy_n(r_.data() + (d * 4 * h + row) * h, h, wc.data() + j * (d_in + h) + d_in);
      bc[j] = b_[d * 8 * h + row] + b_[d * 8 * h + 4 * h + row];
    }
    candidates_.emplace_back(std::move(wc), std::move(bc));
  }
}

template <class T>
std::size_t Lstm<T>::state_sequences() const {
  return h0_.empty() ? (c0_.empty() ? 0 : c0_.dim(1)) : h0_.dim(1);
}

template <class T>
const T* Lstm<T>::initial_cell(std::size_t d, std::size_t b) const {
  return c0_.empty() ? this->zeros_.data() : c0_.data() + (d * c0_.dim(1) + b) * hidden_size();
}

template <class T>
typename Lstm<T>::Trace Lstm<T>::trace(const Tensor<T>& x, const Tensor<T>* saved, bool states_only) const {
  check_input(x, nullptr, saved);
  const std::size_t n_samples = x.dim(0), steps = x.dim(1), seqs = x.dim(2), d_in = x.dim(3);
  const std::size_t h = hidden_size(), dirs = directions(), rows = n_samples * seqs;
  const Shape ts{n_samples, dirs, steps, seqs, h};
  const auto traced = [&] { return states_only ? Tensor<T>() : Tensor<T>::uninitialized(ts); };
  Trace tr{traced(), traced(), traced(), traced(), traced(), traced(), traced(), Tensor<T>::uninitialized(ts), {}};
  if (!saved) tr.gate_inputs = Tensor<T>::uninitialized(this->gate_inputs_shape(x));
  const T* gate_inputs = saved ? saved->data() : tr.gate_inputs.data();
  // Every time step's input terms of every direction at once: x rows [N * T * B, D] times W^T
  // ([dirs * 4H, D]), each row [dirs, 4H].
  const std::size_t xw_row = dirs * 4 * h;
  std::vector<T> xw(saved ? 0 : n_samples * steps * seqs * xw_row);
  if (!saved) kernels::gemm<T>(false, true, n_samples * steps * seqs, xw_row, d_in, T(1), x.data(), d_in, w_.data(), d_in, T(0), xw.data(), xw_row);
  recurrent::for_each_chain(dirs, rows, rows * 4 * h * h, saved != nullptr, [&](const recurrent::Chain& ch) {
    const std::size_t d = ch.d, m = ch.rows();  // rows q = n * B + b in [begin, end), local q - begin
    std::vector<T> h_prev(m * h), c_prev(m * h), act(4 * h), tanh_c(h);
    const T* bias = b_.data() + d * 8 * h;
    for (std::size_t q = ch.begin; q < ch.end; ++q) {
      std::copy_n(initial_hidden(d, q % seqs), h, h_prev.data() + (q - ch.begin) * h);
      std::copy_n(initial_cell(d, q % seqs), h, c_prev.data() + (q - ch.begin) * h);
    }
    for (std::size_t s = 0; s < steps; ++s) {
      const std::size_t t = reversed(d) ? steps - 1 - s : s;
      const std::size_t step = (d * steps + t) * rows * 4 * h;
      if (!saved) {  // this step's gate inputs: W x_t + R h_{t-1} + biases
        T* pre = tr.gate_inputs.data() + step;
        for (std::size_t q = ch.begin; q < ch.end; ++q) {
          const T* src = xw.data() + (((q / seqs) * steps + t) * seqs + q % seqs) * xw_row + d * 4 * h;
          T* dst = pre + q * 4 * h;
          for (std::size_t k = 0; k < 4 * h; ++k) dst[k] = src[k] + bias[k] + bias[4 * h + k];
        }
        kernels::gemm<T>(false, true, m, 4 * h, h, T(1), h_prev.data(), h, r_.data() + d * 4 * h * h, h, T(1), pre + ch.begin * 4 * h, 4 * h);
      }
      for (std::size_t q = ch.begin; q < ch.end; ++q) {
        const std::size_t n = q / seqs, b = q % seqs, i = q - ch.begin, at = (((n * dirs + d) * steps + t) * seqs + b) * h;
        const T* p = gate_inputs + step + q * 4 * h;
        T* c = c_prev.data() + i * h;
        recurrent::sigmoid_row(p, act.data(), 3 * h);  // i, o, f
        recurrent::tanh_row(p + kC * h, act.data() + kC * h, h);
        for (std::size_t j = 0; j < h; ++j) c[j] = act[kF * h + j] * c[j] + act[kI * h + j] * act[kC * h + j];
        recurrent::tanh_row(c, tanh_c.data(), h);
        for (std::size_t j = 0; j < h; ++j) tr.h[at + j] = h_prev[i * h + j] = act[kO * h + j] * tanh_c[j];
        if (states_only) continue;
        std::copy_n(act.data() + kI * h, h, tr.i.data() + at);
        std::copy_n(act.data() + kO * h, h, tr.o.data() + at);
        std::copy_n(act.data() + kF * h, h, tr.f.data() + at);
        std::copy_n(act.data() + kC * h, h, tr.g.data() + at);
        std::copy_n(p + kC * h, h, tr.pre_g.data() + at);
        std::copy_n(c, h, tr.c.data() + at);
        std::copy_n(tanh_c.data(), h, tr.tanh_c.data() + at);
      }
    }
  });
  return tr;
}

template <class T>
void Lstm<T>::backward_saved(const Tensor<T>& x, const Tensor<T>* gate_inputs, const Tensor<T>& dout, std::vector<Tensor<T>>& din) const {
  check_input(x, &dout);
  const Trace tr = trace(x, gate_inputs);
  const std::size_t n_samples = x.dim(0), steps = x.dim(1), seqs = x.dim(2), d_in = x.dim(3);
  const std::size_t h = hidden_size(), dirs = directions(), rows = n_samples * seqs;
  din.assign(1, Tensor<T>(x.shape()));
  // Every step's gate-input gradient, rows [N * T * B] of [dirs, 4H]: x's share is one product
  // over all steps and directions.
  const std::size_t dpre_row = dirs * 4 * h;
  std::vector<T> dpre_all(n_samples * steps * seqs * dpre_row);
  recurrent::for_each_chain(dirs, rows, rows * 4 * h * h, true, [&](const recurrent::Chain& ch) {
    const std::size_t d = ch.d, m = ch.rows();  // rows q in [begin, end), local q - begin
    std::vector<T> dstep(m * 4 * h), dh_rec(m * h), dc_next(m * h);
    for (std::size_t s = steps; s-- > 0;) {
      const std::size_t t = reversed(d) ? steps - 1 - s : s;
      for (std::size_t q = ch.begin; q < ch.end; ++q) {
        const std::size_t n = q / seqs, b = q % seqs, l = q - ch.begin, at = (((n * dirs + d) * steps + t) * seqs + b) * h;
        // c_{t-1} in the direction's order: the previous step's cell, or the initial one.
        const T* c_before = s == 0 ? initial_cell(d, b) : tr.c.data() + (((n * dirs + d) * steps + (reversed(d) ? t + 1 : t - 1)) * seqs + b) * h;
        const T* dy = dout.data() + (((n * steps + t) * dirs + d) * seqs + b) * h;
        T* dp = dstep.data() + l * 4 * h;
        for (std::size_t j = 0; j < h; ++j) {
          const T i = tr.i[at + j], o = tr.o[at + j], f = tr.f[at + j], g = tr.g[at + j];
          const T tc = tr.tanh_c[at + j];
          const T dh = dy[j] + dh_rec[l * h + j];
          const T dc = dh * o * (T(1) - tc * tc) + dc_next[l * h + j];
          dp[kI * h + j] = dc * g * i * (T(1) - i);
          dp[kO * h + j] = dh * tc * o * (T(1) - o);
          dp[kF * h + j] = dc * c_before[j] * f * (T(1) - f);
          dp[kC * h + j] = dc * i * (T(1) - g * g);
          dc_next[l * h + j] = dc * f;
        }
        std::copy_n(dp, 4 * h, dpre_all.data() + ((n * steps + t) * seqs + b) * dpre_row + d * 4 * h);
      }
      kernels::gemm<T>(false, false, m, h, 4 * h, T(1), dstep.data(), 4 * h, r_.data() + d * 4 * h * h, h, T(0), dh_rec.data(), h);
    }
  });
  kernels::gemm<T>(false, false, n_samples * steps * seqs, d_in, dpre_row, T(1), dpre_all.data(), dpre_row, w_.data(), d_in, T(0),
                   din[0].data(), d_in);
}

template <class T>
std::unique_ptr<Layer<float>> Lstm<T>::to_float() const {
  return std::make_unique<Lstm<float>>(w_.template cast<float>(), r_.template cast<float>(), b_.template cast<float>(),
                                       initial_state_as<float>(h0_), initial_state_as<float>(c0_), direction_);
}

template <class T>
std::unique_ptr<Layer<double>> Lstm<T>::to_double() const {
  return std::make_unique<Lstm<double>>(w_.template cast<double>(), r_.template cast<double>(), b_.template cast<double>(),
                                        initial_state_as<double>(h0_), initial_state_as<double>(c0_), direction_);
}

template class Lstm<float>;
template class Lstm<double>;

}  // namespace lrp
