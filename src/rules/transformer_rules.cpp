#include "rules/transformer_rules.hpp"

#include "kernels/gemm.hpp"
#include "rules/tensor_ops.hpp"

namespace lrp {
namespace {

bool epsilon_like(const Rule& rule) { return rule.kind == RuleKind::Epsilon || rule.kind == RuleKind::Norm; }

// The rule's epsilon (or stabiliser); 1e-6 for rules without one (pass).
template <class T>
T stabiliser(const Rule& rule) {
  return static_cast<T>(rule.epsilon > 0 ? rule.epsilon : 1e-6);
}

// R / stab(y), elementwise.
template <class T>
Tensor<T> ratio(const Tensor<T>& r, const Tensor<T>& y, T eps) {
  Tensor<T> s = Tensor<T>::uninitialized(r.shape());
  const T* rp = r.data();
  const T* yp = y.data();
  T* sp = s.data();
  ops::for_range(r.size(), [&](std::size_t b, std::size_t e) {
    for (std::size_t i = b; i < e; ++i) sp[i] = rp[i] / stabilize(yp[i], eps);
  });
  return s;
}

// matmul_relevance for many products (heads, windows): each product q in one task, all its
// steps while its matrices are in cache: S = R_q / stab(C_q), then MatMul::backward's two
// products S B_q^T and A_q^T S, each times its factor and share. The tasks run in parallel and
// each product on one thread (one product is too small to split well, as in MatMul::forward).
template <class T>
std::vector<Tensor<T>> matmul_relevance_per_product(const RuleInput<T>& in, const typename MatMul<T>::Dims& d, T eps,
                                                    T share_a, T share_b) {
  const Tensor<T>& a = *in.inputs[0];
  const Tensor<T>& b = *in.inputs[1];
  std::vector<Tensor<T>> out;
  out.push_back(Tensor<T>::uninitialized(a.shape()));  // every product writes its block (beta 0)
  out.push_back(Tensor<T>::uninitialized(b.shape()));
  const std::size_t mk = d.m * d.k, kp = d.k * d.p, mp = d.m * d.p;
  const long long count = static_cast<long long>(d.count);
#pragma omp parallel
  {
    std::vector<T> s(mp);
#pragma omp for schedule(static)
    for (long long qq = 0; qq < count; ++qq) {
      const std::size_t q = static_cast<std::size_t>(qq);
      const T* r = in.relevance.data() + q * mp;
      const T* c = in.output.data() + q * mp;
      for (std::size_t i = 0; i < mp; ++i) s[i] = r[i] / stabilize(c[i], eps);
      const T* aq = a.data() + q * mk;
      const T* bq = b.data() + q * kp;
      T* ra = out[0].data() + q * mk;
      T* rb = out[1].data() + q * kp;
      kernels::gemm<T>(false, true, d.m, d.k, d.p, T(1), s.data(), d.p, bq, d.p, T(0), ra, d.k);
      kernels::gemm<T>(true, false, d.k, d.p, d.m, T(1), aq, d.k, s.data(), d.p, T(0), rb, d.p);
      for (std::size_t i = 0; i < mk; ++i) ra[i] *= aq[i] * share_a;
      for (std::size_t i = 0; i < kp; ++i) rb[i] *= bq[i] * share_b;
    }
  }
  return out;
}

}  // namespace

RuleNeeds matmul_rule_needs(const Rule& rule) {
  (void)rule;
  return {};  // both factors (and, for LRP, the product)
}

RuleNeeds softmax_rule_needs(const Rule& rule) {
  RuleNeeds nothing{false, false, true};
  return rule.kind == RuleKind::Pass ? nothing : RuleNeeds{};
}

RuleNeeds bias_rule_needs(const Rule& rule) {
  RuleNeeds nothing{false, false, true};
  return is_gradient_kind(rule.kind) || !epsilon_like(rule) || rule.zero_bias ? nothing : RuleNeeds{};
}

// AttnLRP's uniform rule for a bilinear product C = A B: each factor takes half of the
// relevance, by the epsilon rule with the other factor held fixed:
// R_A = A * (S B^T) / 2, R_B = B * (A^T S) / 2 with S = R / stab(C). Every LRP rule uses it but
// pass on a product of attention weights and values: CP-LRP (Ali et al. 2022) holds the weights
// constant, the values take all of R (R_V = V * (A^T S)) and the weights none. Gradient methods
// take the gradient.
template <class T>
std::vector<Tensor<T>> matmul_relevance(const Rule& rule, const RuleInput<T>& in) {
  std::vector<Tensor<T>> out;
  if (is_gradient_kind(rule.kind)) {
    in.layer.backward(in.inputs, in.output, in.relevance, out);
    return out;
  }
  const int gate = static_cast<const MatMul<T>&>(in.layer).gate();
  const bool conservative = rule.kind == RuleKind::Pass && gate >= 0;
  const auto share = [&](std::size_t k) { return conservative ? (static_cast<int>(k) == gate ? T(0) : T(1)) : T(0.5); };
  const typename MatMul<T>::Dims d = MatMul<T>::dims(in.inputs[0]->shape(), in.inputs[1]->shape());
  if (d.count > 1 && d.count * d.m * d.k * d.p >= (1u << 18))
    return matmul_relevance_per_product(in, d, stabiliser<T>(rule), share(0), share(1));
  const Tensor<T> s = ratio(in.relevance, in.output, stabiliser<T>(rule));
  in.layer.backward(in.inputs, in.output, s, out);
  for (std::size_t k = 0; k < 2; ++k) {
    const T* x = in.inputs[k]->data();
    T* o = out[k].data();
    const T sk = share(k);
    ops::for_range(out[k].size(), [&](std::size_t b, std::size_t e) {
      for (std::size_t i = b; i < e; ++i) o[i] *= x[i] * sk;
    });
  }
  return out;
}

// The attention SoftMax s = softmax(x) over the last axis (AttnLRP, Proposition 3.1):
// R_in,i = x_i (R_i - s_i sum_j R_j) per row. The Pass rule passes the relevance on instead (as
// Zennit does with a SoftMax); gradient methods take the gradient.
template <class T>
std::vector<Tensor<T>> softmax_relevance(const Rule& rule, const RuleInput<T>& in) {
  if (rule.kind == RuleKind::Pass) {
    if (in.relevance_scratch) return ops::only(std::move(*in.relevance_scratch));
    return ops::only(Tensor<T>(in.relevance));
  }
  if (is_gradient_kind(rule.kind)) {
    std::vector<Tensor<T>> out;
    in.layer.backward(in.inputs, in.output, in.relevance, out);
    return out;
  }
  const Tensor<T>& x = *in.inputs[0];
  const Tensor<T>& s = in.output;
  const Tensor<T>& r = in.relevance;
  Tensor<T> out = Tensor<T>::uninitialized(x.shape());
  const std::size_t d = x.shape().back();
  const long long rows = static_cast<long long>(x.size() / d);
#pragma omp parallel for schedule(static) if (x.size() >= 65536)
  for (long long row = 0; row < rows; ++row) {
    const std::size_t q = static_cast<std::size_t>(row);
    T total = 0;
    for (std::size_t j = 0; j < d; ++j) total += r[q * d + j];
    for (std::size_t j = 0; j < d; ++j) out[q * d + j] = x[q * d + j] * (r[q * d + j] - s[q * d + j] * total);
  }
  return ops::only(std::move(out));
}

// y = x + b: epsilon (and norm) give x the share x / stab(y) of the relevance, the constant
// absorbing the rest (as the gradient times the input does); other rules, and epsilon with the
// bias taken as zero (/nobias), pass it on.
template <class T>
std::vector<Tensor<T>> bias_relevance(const Rule& rule, const RuleInput<T>& in) {
  if (is_gradient_kind(rule.kind) || !epsilon_like(rule) || rule.zero_bias) {
    if (in.relevance_scratch) return ops::only(std::move(*in.relevance_scratch));
    return ops::only(Tensor<T>(in.relevance));
  }
  Tensor<T> out = ratio(in.relevance, in.output, stabiliser<T>(rule));
  const Tensor<T>& x = *in.inputs[0];
  for (std::size_t i = 0; i < out.size(); ++i) out[i] *= x[i];
  return ops::only(std::move(out));
}

template std::vector<Tensor<float>> matmul_relevance(const Rule&, const RuleInput<float>&);
template std::vector<Tensor<double>> matmul_relevance(const Rule&, const RuleInput<double>&);
template std::vector<Tensor<float>> softmax_relevance(const Rule&, const RuleInput<float>&);
template std::vector<Tensor<double>> softmax_relevance(const Rule&, const RuleInput<double>&);
template std::vector<Tensor<float>> bias_relevance(const Rule&, const RuleInput<float>&);
template std::vector<Tensor<double>> bias_relevance(const Rule&, const RuleInput<double>&);

}  // namespace lrp
