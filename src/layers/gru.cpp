#include "lrp/layers/gru.hpp"

#include <algorithm>
#include <cmath>

#include "kernels/gemm.hpp"
#include "layers/recurrent_math.hpp"
#include "lrp/core/error.hpp"

namespace lrp {
namespace {

// The gates' blocks of a [3H] row, in ONNX's order z, r, h.
enum Gate : std::size_t { kZ = 0, kR = 1, kH = 2 };

}  // namespace

template <class T>
Gru<T>::Gru(Tensor<T> w, Tensor<T> r, Tensor<T> b, Tensor<T> h0, RecurrentDirection direction, bool linear_before_reset)
    : Base(std::move(w), std::move(r), std::move(b), std::move(h0), direction, 3, "GRU"), linear_before_reset_(linear_before_reset) {
  const std::size_t h = hidden_size(), d_in = input_size();
  for (std::size_t d = 0; d < directions(); ++d) {
    Tensor<T> wh({h, d_in}), rh({h, h}), wb({h}), rb({h});
    std::copy_n(w_.data() + (d * 3 + kH) * h * d_in, h * d_in, wh.data());
    std::copy_n(r_.data() + (d * 3 + kH) * h * h, h * h, rh.data());
    std::copy_n(b_.data() + d * 6 * h + kH * h, h, wb.data());
    std::copy_n(b_.data() + d * 6 * h + 3 * h + kH * h, h, rb.data());
    input_maps_.emplace_back(std::move(wh), std::move(wb));
    recurrent_maps_.emplace_back(std::move(rh), std::move(rb));
  }
}

template <class T>
std::string Gru<T>::describe() const {
  return Base::describe() + (linear_before_reset_ ? "" : ", reset before R");
}

template <class T>
typename Gru<T>::Trace Gru<T>::trace(const Tensor<T>& x, const Tensor<T>* saved, bool states_only) const {
  check_input(x, nullptr, saved);
  const std::size_t n_samples = x.dim(0), steps = x.dim(1), seqs = x.dim(2), d_in = x.dim(3);
  const std::size_t h = hidden_size(), dirs = directions(), rows = n_samples * seqs;
  const Shape ts{n_samples, dirs, steps, seqs, h};
  const auto traced = [&] { return states_only ? Tensor<T>() : Tensor<T>::uninitialized(ts); };
  Trace tr{traced(), traced(), traced(), traced(), traced(), Tensor<T>::uninitialized(ts), {}};
  if (!saved) tr.gate_inputs = Tensor<T>::uninitialized(this->gate_inputs_shape(x));
  const T* gate_inputs = saved ? saved->data() : tr.gate_inputs.data();
  // Every time step's input terms of every direction at once: x rows [N * T * B, D] times W^T
  // ([dirs * 3H, D]), each row [dirs, 3H].
  const std::size_t xw_row = dirs * 3 * h;
  std::vector<T> xw(saved ? 0 : n_samples * steps * seqs * xw_row);
  if (!saved) kernels::gemm<T>(false, true, n_samples * steps * seqs, xw_row, d_in, T(1), x.data(), d_in, w_.data(), d_in, T(0), xw.data(), xw_row);
  recurrent::for_each_chain(dirs, rows, rows * 3 * h * h, saved != nullptr, [&](const recurrent::Chain& ch) {
    const std::size_t d = ch.d, m = ch.rows();  // rows q = n * B + b in [begin, end), local q - begin
    std::vector<T> hr(saved ? 0 : m * 3 * h), h_prev(m * h), act(3 * h), cand(h);
    std::vector<T> reset_h(saved || linear_before_reset_ ? 0 : m * h);  // r * h_{t-1}
    const T* wb = b_.data() + d * 6 * h;
    const T* rb = wb + 3 * h;
    for (std::size_t q = ch.begin; q < ch.end; ++q) std::copy_n(initial_hidden(d, q % seqs), h, h_prev.data() + (q - ch.begin) * h);
    for (std::size_t s = 0; s < steps; ++s) {
      const std::size_t t = reversed(d) ? steps - 1 - s : s;
      const std::size_t step = (d * steps + t) * rows * 4 * h;
      if (!saved) {
        // The recurrent terms R h_{t-1} + Rb, kept apart: r multiplies the candidate's (or, with
        // linear_before_reset 0, h_{t-1} in it, so R_h's product waits for r).
        const T* r_d = r_.data() + d * 3 * h * h;
        for (std::size_t l = 0; l < m; ++l) std::copy_n(rb, 3 * h, hr.data() + l * 3 * h);
        kernels::gemm<T>(false, true, m, linear_before_reset_ ? 3 * h : 2 * h, h, T(1), h_prev.data(), h, r_d, h, T(1), hr.data(), 3 * h);
        const auto xp_of = [&](std::size_t q) { return xw.data() + (((q / seqs) * steps + t) * seqs + q % seqs) * xw_row + d * 3 * h; };
        for (std::size_t q = ch.begin; q < ch.end; ++q) {
          const std::size_t l = q - ch.begin;
          const T* xp = xp_of(q);
          const T* hp = hr.data() + l * 3 * h;
          T* gi = tr.gate_inputs.data() + step + q * 4 * h;
          for (std::size_t k = 0; k < 2 * h; ++k) gi[k] = xp[k] + wb[k] + hp[k];  // z, r
          if (!linear_before_reset_) {
            recurrent::sigmoid_row(gi + kR * h, act.data(), h);
            for (std::size_t j = 0; j < h; ++j) reset_h[l * h + j] = act[j] * h_prev[l * h + j];
          }
        }
        if (!linear_before_reset_)
          kernels::gemm<T>(false, true, m, h, h, T(1), reset_h.data(), h, r_d + kH * h * h, h, T(1), hr.data() + kH * h, 3 * h);
        for (std::size_t q = ch.begin; q < ch.end; ++q) {
          const T* xp = xp_of(q);
          const T* hp = hr.data() + (q - ch.begin) * 3 * h;
          T* gi = tr.gate_inputs.data() + step + q * 4 * h;
          for (std::size_t j = 0; j < h; ++j) gi[2 * h + j] = xp[kH * h + j] + wb[kH * h + j], gi[3 * h + j] = hp[kH * h + j];  // a, b
        }
      }
      for (std::size_t q = ch.begin; q < ch.end; ++q) {
        const std::size_t n = q / seqs, b = q % seqs, l = q - ch.begin, at = (((n * dirs + d) * steps + t) * seqs + b) * h;
        const T* gi = gate_inputs + step + q * 4 * h;  // z's and r's pre-activations, a, b
        const T* z = act.data() + kZ * h;
        const T* r = act.data() + kR * h;
        recurrent::sigmoid_row(gi, act.data(), 2 * h);
        for (std::size_t j = 0; j < h; ++j) act[kH * h + j] = gi[2 * h + j] + (linear_before_reset_ ? r[j] * gi[3 * h + j] : gi[3 * h + j]);
        recurrent::tanh_row(act.data() + kH * h, cand.data(), h);
        for (std::size_t j = 0; j < h; ++j) tr.h[at + j] = h_prev[l * h + j] = (T(1) - z[j]) * cand[j] + z[j] * h_prev[l * h + j];
        if (states_only) continue;
        std::copy_n(z, h, tr.z.data() + at);
        std::copy_n(r, h, tr.r.data() + at);
        std::copy_n(gi + 2 * h, h, tr.a.data() + at);
        std::copy_n(gi + 3 * h, h, tr.b.data() + at);
        std::copy_n(cand.data(), h, tr.n.data() + at);
      }
    }
  });
  return tr;
}

template <class T>
void Gru<T>::backward_saved(const Tensor<T>& x, const Tensor<T>* gate_inputs, const Tensor<T>& dout, std::vector<Tensor<T>>& din) const {
  check_input(x, &dout);
  const Trace tr = trace(x, gate_inputs);
  const std::size_t n_samples = x.dim(0), steps = x.dim(1), seqs = x.dim(2), d_in = x.dim(3);
  const std::size_t h = hidden_size(), dirs = directions(), rows = n_samples * seqs;
  din.assign(1, Tensor<T>(x.shape()));
  // dx_pre: the gradient at the input terms (W x), dh_pre at the recurrent ones (R h), per gate.
  // Rows [N * T * B] of [dirs, 3H]: x's share is one product over all steps and directions.
  const std::size_t dx_row = dirs * 3 * h;
  std::vector<T> dx_pre_all(n_samples * steps * seqs * dx_row);
  const bool lbr = linear_before_reset_;
  recurrent::for_each_chain(dirs, rows, rows * 3 * h * h, true, [&](const recurrent::Chain& ch) {
    const std::size_t d = ch.d, m = ch.rows();  // rows q = n * B + b in [begin, end), local q - begin
    T* dx_pre = dx_pre_all.data() + d * 3 * h;  // row 0 of direction d, rows dx_row apart
    std::vector<T> dh_pre(m * 3 * h), dh_rec(m * h), dh_direct(m * h);
    std::vector<T> d_reset_h(lbr ? 0 : m * h);  // at r * h_{t-1} (linear_before_reset 0)
    const T* r_d = r_.data() + d * 3 * h * h;
    for (std::size_t s = steps; s-- > 0;) {
      const std::size_t t = reversed(d) ? steps - 1 - s : s;
      const auto h_before = [&](std::size_t n, std::size_t b) {
        return s == 0 ? initial_hidden(d, b) : tr.h.data() + (((n * dirs + d) * steps + (reversed(d) ? t + 1 : t - 1)) * seqs + b) * h;
      };
      for (std::size_t q = ch.begin; q < ch.end; ++q) {
        const std::size_t n = q / seqs, b = q % seqs, l = q - ch.begin, at = (((n * dirs + d) * steps + t) * seqs + b) * h;
        const T* hb = h_before(n, b);
        const T* dy = dout.data() + (((n * steps + t) * dirs + d) * seqs + b) * h;
        T* dxp = dx_pre + ((n * steps + t) * seqs + b) * dx_row;
        T* dhp = dh_pre.data() + l * 3 * h;
        for (std::size_t j = 0; j < h; ++j) {
          const T z = tr.z[at + j], r = tr.r[at + j], cand = tr.n[at + j], bt = tr.b[at + j];
          const T dh = dy[j] + dh_rec[l * h + j];
          const T dpre = dh * (T(1) - z) * (T(1) - cand * cand);
          const T dz = dh * (hb[j] - cand) * z * (T(1) - z);
          dxp[kZ * h + j] = dhp[kZ * h + j] = dz;
          dxp[kH * h + j] = dpre;
          dh_direct[l * h + j] = dh * z;
          if (lbr) {
            dxp[kR * h + j] = dhp[kR * h + j] = dpre * bt * r * (T(1) - r);
            dhp[kH * h + j] = dpre * r;
          } else {
            dhp[kH * h + j] = dpre;  // at b = R_h (r * h_{t-1}) + Rb_h
          }
        }
      }
      if (!lbr) {
        // The gradient at r * h_{t-1} reaches r (its gate) and h_{t-1} directly.
        kernels::gemm<T>(false, false, m, h, h, T(1), dh_pre.data() + kH * h, 3 * h, r_d + kH * h * h, h, T(0), d_reset_h.data(), h);
        for (std::size_t q = ch.begin; q < ch.end; ++q) {
          const std::size_t n = q / seqs, b = q % seqs, l = q - ch.begin, at = (((n * dirs + d) * steps + t) * seqs + b) * h;
          const T* hb = h_before(n, b);
          T* dxp = dx_pre + ((n * steps + t) * seqs + b) * dx_row;
          for (std::size_t j = 0; j < h; ++j) {
            const T r = tr.r[at + j], g = d_reset_h[l * h + j];
            dxp[kR * h + j] = dh_pre[l * 3 * h + kR * h + j] = g * hb[j] * r * (T(1) - r);
            dh_direct[l * h + j] += g * r;
          }
        }
      }
      std::copy(dh_direct.begin(), dh_direct.end(), dh_rec.begin());
      kernels::gemm<T>(false, false, m, h, lbr ? 3 * h : 2 * h, T(1), dh_pre.data(), 3 * h, r_d, h, T(1), dh_rec.data(), h);
    }
  });
  kernels::gemm<T>(false, false, n_samples * steps * seqs, d_in, dx_row, T(1), dx_pre_all.data(), dx_row, w_.data(), d_in, T(0),
                   din[0].data(), d_in);
}

template <class T>
std::unique_ptr<Layer<float>> Gru<T>::to_float() const {
  return std::make_unique<Gru<float>>(w_.template cast<float>(), r_.template cast<float>(), b_.template cast<float>(), initial_state_as<float>(h0_),
                                      direction_, linear_before_reset_);
}

template <class T>
std::unique_ptr<Layer<double>> Gru<T>::to_double() const {
  return std::make_unique<Gru<double>>(w_.template cast<double>(), r_.template cast<double>(), b_.template cast<double>(),
                                       initial_state_as<double>(h0_), direction_, linear_before_reset_);
}

template class Gru<float>;
template class Gru<double>;

}  // namespace lrp
