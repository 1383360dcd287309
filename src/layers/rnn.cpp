#include "lrp/layers/rnn.hpp"

#include <algorithm>
#include <cmath>

#include "kernels/gemm.hpp"
#include "layers/recurrent_math.hpp"
#include "lrp/core/error.hpp"

namespace lrp {
namespace {

// f'(pre) from f(pre) = h.
template <class T>
T slope(RnnActivation f, T h) {
  return f == RnnActivation::Tanh ? T(1) - h * h : T(h > T(0));
}

}  // namespace

template <class T>
Rnn<T>::Rnn(Tensor<T> w, Tensor<T> r, Tensor<T> b, Tensor<T> h0, RecurrentDirection direction, RnnActivation activation)
    : Base(std::move(w), std::move(r), std::move(b), std::move(h0), direction, 1, "RNN"), activation_(activation) {
  const std::size_t h = hidden_size(), d_in = input_size();
  for (std::size_t d = 0; d < directions(); ++d) {
    Tensor<T> wr({h, d_in + h}), bias({h});
    for (std::size_t j = 0; j < h; ++j) {
      std::copy_n(w_.data() + (d * h + j) * d_in, d_in, wr.data() + j * (d_in + h));
      std::copy_n(r_.data() + (d * h + j) * h, h, wr.data() + j * (d_in + h) + d_in);
      bias[j] = b_[d * 2 * h + j] + b_[d * 2 * h + h + j];
    }
    maps_.emplace_back(std::move(wr), std::move(bias));
  }
}

template <class T>
std::string Rnn<T>::describe() const {
  return Base::describe() + (activation_ == RnnActivation::Relu ? ", ReLU" : ", tanh");
}

template <class T>
typename Rnn<T>::Trace Rnn<T>::trace(const Tensor<T>& x, const Tensor<T>* saved, bool states_only) const {
  check_input(x, nullptr, saved);
  const std::size_t n_samples = x.dim(0), steps = x.dim(1), seqs = x.dim(2), d_in = x.dim(3);
  const std::size_t h = hidden_size(), dirs = directions(), rows = n_samples * seqs;
  const Shape ts{n_samples, dirs, steps, seqs, h};
  Trace tr{states_only ? Tensor<T>() : Tensor<T>::uninitialized(ts), Tensor<T>::uninitialized(ts), {}};
  if (!saved) tr.gate_inputs = Tensor<T>::uninitialized(this->gate_inputs_shape(x));
  const T* gate_inputs = saved ? saved->data() : tr.gate_inputs.data();
  // Every time step's input terms of every direction at once: rows [N * T * B] of [dirs, H].
  const std::size_t xw_row = dirs * h;
  std::vector<T> xw(saved ? 0 : n_samples * steps * seqs * xw_row);
  if (!saved) kernels::gemm<T>(false, true, n_samples * steps * seqs, xw_row, d_in, T(1), x.data(), d_in, w_.data(), d_in, T(0), xw.data(), xw_row);
  recurrent::for_each_chain(dirs, rows, rows * h * h, saved != nullptr, [&](const recurrent::Chain& ch) {
    const std::size_t d = ch.d, m = ch.rows();  // rows q = n * B + b in [begin, end), local q - begin
    std::vector<T> h_prev(m * h);
    const T* bias = maps_[d].bias().data();
    for (std::size_t q = ch.begin; q < ch.end; ++q) std::copy_n(initial_hidden(d, q % seqs), h, h_prev.data() + (q - ch.begin) * h);
    for (std::size_t s = 0; s < steps; ++s) {
      const std::size_t t = reversed(d) ? steps - 1 - s : s;
      const std::size_t step = (d * steps + t) * rows * h;
      if (!saved) {  // this step's W x_t + R h_{t-1} + b
        T* pre = tr.gate_inputs.data() + step;
        for (std::size_t q = ch.begin; q < ch.end; ++q)
          for (std::size_t j = 0; j < h; ++j) pre[q * h + j] = xw[(((q / seqs) * steps + t) * seqs + q % seqs) * xw_row + d * h + j] + bias[j];
        kernels::gemm<T>(false, true, m, h, h, T(1), h_prev.data(), h, r_.data() + d * h * h, h, T(1), pre + ch.begin * h, h);
      }
      for (std::size_t q = ch.begin; q < ch.end; ++q) {
        const std::size_t n = q / seqs, b = q % seqs, at = (((n * dirs + d) * steps + t) * seqs + b) * h;
        const T* pre = gate_inputs + step + q * h;
        if (activation_ == RnnActivation::Tanh) recurrent::tanh_row(pre, tr.h.data() + at, h);
        else
          for (std::size_t j = 0; j < h; ++j) tr.h[at + j] = std::max(pre[j], T(0));
        std::copy_n(tr.h.data() + at, h, h_prev.data() + (q - ch.begin) * h);
        if (!states_only) std::copy_n(pre, h, tr.pre.data() + at);
      }
    }
  });
  return tr;
}

template <class T>
void Rnn<T>::backward_saved(const Tensor<T>& x, const Tensor<T>* gate_inputs, const Tensor<T>& dout, std::vector<Tensor<T>>& din) const {
  check_input(x, &dout);
  const Trace tr = trace(x, gate_inputs);
  const std::size_t n_samples = x.dim(0), steps = x.dim(1), seqs = x.dim(2), d_in = x.dim(3);
  const std::size_t h = hidden_size(), dirs = directions(), rows = n_samples * seqs;
  din.assign(1, Tensor<T>(x.shape()));
  // Rows [N * T * B] of [dirs, H]: x's share is one product over all steps and directions.
  const std::size_t dpre_row = dirs * h;
  std::vector<T> dpre_all(n_samples * steps * seqs * dpre_row);
  recurrent::for_each_chain(dirs, rows, rows * h * h, true, [&](const recurrent::Chain& ch) {
    const std::size_t d = ch.d, m = ch.rows();  // rows q = n * B + b in [begin, end), local q - begin
    std::vector<T> dstep(m * h), dh_rec(m * h);
    for (std::size_t s = steps; s-- > 0;) {
      const std::size_t t = reversed(d) ? steps - 1 - s : s;
      for (std::size_t q = ch.begin; q < ch.end; ++q) {
        const std::size_t n = q / seqs, b = q % seqs, l = q - ch.begin, at = (((n * dirs + d) * steps + t) * seqs + b) * h;
        const T* dy = dout.data() + (((n * steps + t) * dirs + d) * seqs + b) * h;
        for (std::size_t j = 0; j < h; ++j) {
          dstep[l * h + j] = (dy[j] + dh_rec[l * h + j]) * slope(activation_, tr.h[at + j]);
          dpre_all[((n * steps + t) * seqs + b) * dpre_row + d * h + j] = dstep[l * h + j];
        }
      }
      kernels::gemm<T>(false, false, m, h, h, T(1), dstep.data(), h, r_.data() + d * h * h, h, T(0), dh_rec.data(), h);
    }
  });
  kernels::gemm<T>(false, false, n_samples * steps * seqs, d_in, dpre_row, T(1), dpre_all.data(), dpre_row, w_.data(), d_in, T(0),
                   din[0].data(), d_in);
}

template <class T>
std::unique_ptr<Layer<float>> Rnn<T>::to_float() const {
  return std::make_unique<Rnn<float>>(w_.template cast<float>(), r_.template cast<float>(), b_.template cast<float>(),
                                      initial_state_as<float>(h0_), direction_, activation_);
}

template <class T>
std::unique_ptr<Layer<double>> Rnn<T>::to_double() const {
  return std::make_unique<Rnn<double>>(w_.template cast<double>(), r_.template cast<double>(), b_.template cast<double>(),
                                       initial_state_as<double>(h0_), direction_, activation_);
}

template class Rnn<float>;
template class Rnn<double>;

}  // namespace lrp
