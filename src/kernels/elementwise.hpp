#pragma once
// Elementwise loops of the LRP rules on contiguous rows, compiled for AVX-512, AVX2 and the
// baseline ISA (chosen at run time), since the library itself targets plain x86-64.
// Stabiliser: stab(z) = z + eps * sign(z) with sign(0) = +1 (also for -0); with eps == 0 the
// quotient is 0 where z == 0 (the toolbox's "no stabiliser" rules).
#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace lrp::kernels {

// f(first, len) over [0, n) in chunks of 4096 elements, one vectorised kernel call each, on the
// OpenMP threads once n is large enough to pay for them.
template <class F>
void in_chunks(std::size_t n, F&& f) {
  const long long chunks = static_cast<long long>((n + 4095) / 4096);
#pragma omp parallel for schedule(static) if (n >= 65536)
  for (long long c = 0; c < chunks; ++c) {
    const std::size_t first = static_cast<std::size_t>(c) * 4096;
    f(first, std::min<std::size_t>(4096, n - first));
  }
}

// g = coef * r / stab(z); g may be r.
void ratio(const float* r, const float* z, float* g, std::size_t n, float eps, float coef);
void ratio(const double* r, const double* z, double* g, std::size_t n, double eps, double coef);
// The same for z = y - shift - c formed here, so z is never written (alpha-beta's z- = y - z+;
// zbox: y - b = Wx, c = the bound terms): bit for bit ratio(r, y - shift - c, ...). g may be r.
void ratio_of_difference(const float* r, const float* y, const float* c, float* g, std::size_t n, float eps, float coef,
                         float shift = 0.0f);
void ratio_of_difference(const double* r, const double* y, const double* c, double* g, std::size_t n, double eps,
                         double coef, double shift = 0.0);
// A sum's two shares: o0 = x0 * r / stab(y), o1 = x1 * r / stab(y) with y = x0 + x1 formed
// here, as the forward formed it (so the sum itself need not be kept). o1 may be r itself.
void sum_shares(const float* r, const float* x0, const float* x1, float* o0, float* o1, std::size_t n, float eps);
void sum_shares(const double* r, const double* x0, const double* x1, double* o0, double* o1, std::size_t n, double eps);
// Gamma rule for x >= 0 with c = W+ x: where y > 0, g1 = r / stab(y + gamma (c + b+)), g3 = 0;
// where y < 0, g3 = r / stab(y + gamma (y - b - c + b-)), g1 = 0; else both 0. g1 may be r.
// Returns whether any g3 is nonzero (or NaN). With bias_in_z false (the rule's /nobias) both
// denominators leave the bias out: y - b + gamma c and y - b + gamma (y - b - c).
bool gamma_ratio(const float* r, const float* y, const float* c, float* g1, float* g3, std::size_t n, float gamma, float eps,
                 float b, bool bias_in_z = true);
bool gamma_ratio(const double* r, const double* y, const double* c, double* g1, double* g3, std::size_t n, double gamma,
                 double eps, double b, bool bias_in_z = true);
// y = x > 0 ? x : 0 (the ReLU layer's expression: NaN and -0 become +0); y may be x.
void relu(const float* x, float* y, std::size_t n);
void relu(const double* x, double* y, std::size_t n);
// y = relu(a + b); y may be a or b.
void add_relu(const float* a, const float* b, float* y, std::size_t n);
void add_relu(const double* a, const double* b, double* y, std::size_t n);
// a *= x
void mul(float* a, const float* x, std::size_t n);
void mul(double* a, const double* x, std::size_t n);
// a = (a + b) * x: two transposed maps' sum times the input, in one pass
void add_mul(float* a, const float* b, const float* x, std::size_t n);
void add_mul(double* a, const double* b, const double* x, std::size_t n);
// a += s * b
void axpy(float* a, const float* b, std::size_t n, float s);
void axpy(double* a, const double* b, std::size_t n, double s);
// c[0, n) += sum_q s[q] * b[rows[q] * ldb + 0, n): a sum of a few of B's rows.
void axpy_rows(float* c, std::size_t n, const float* b, std::size_t ldb, const std::uint32_t* rows, const float* s,
               std::size_t count);
// a = a * u + b * v
void combine2(float* a, const float* u, const float* b, const float* v, std::size_t n);
void combine2(double* a, const double* u, const double* b, const double* v, std::size_t n);
// a = (x - h) * a + (h - l) * b  (zbox)
void zbox_combine(float* a, const float* x, const float* b, std::size_t n, float l, float h);
void zbox_combine(double* a, const double* x, const double* b, std::size_t n, double l, double h);

// y = 1 / (1 + exp(-x)) in float32 with a vectorisable exp (Cephes' expf polynomial after
// range reduction, within 2 ulp of exp over the clamped range [-87.3, 88.3]); std::exp per
// element was the whole cost of EfficientNet's SiLU layers.
void sigmoid(const float* x, float* y, std::size_t n);
// One row of a softmax in float32, y = exp(x - max x) / sum, with that exp (x = -inf, a masked
// score, gives exactly 0); std::exp per element was most of an attention SoftMax's time.
void softmax_row(const float* x, float* y, std::size_t n);
// tanh(x) in float32, vectorisable (Cephes' tanhf polynomial for |x| < 0.625, else through
// exp_approx; relative error within a few ulp): the recurrent layers' gates and cells.
void tanh(const float* x, float* y, std::size_t n);
// erf(x) and GELU x (1 + erf(x / sqrt 2)) / 2 in float32 with a vectorisable erf (absolute error
// below 4e-7: Numerical Recipes' erfc polynomial with exp_approx); std::erf per element made
// ConvNeXt's GELUs a quarter of its forward pass.
void erf(const float* x, float* y, std::size_t n);
void gelu(const float* x, float* y, std::size_t n);
// d = g * erf'(x) = g * 2 / sqrt(pi) * exp(-x^2)
void erf_gradient(const float* x, const float* g, float* d, std::size_t n);

// Pooling rows with windows of kw side by side (stride kw): s[o] += sum_j row[o * kw + j] and
// out[o * kw + j] = (x ? x[o * kw + j] : 1) * c[o], for o in [0, n).
void window_row_sum(const float* row, float* s, std::size_t n, std::size_t kw);
void window_row_sum(const double* row, double* s, std::size_t n, std::size_t kw);
void window_row_spread(const float* x, const float* c, float* out, std::size_t n, std::size_t kw);
void window_row_spread(const double* x, const double* c, double* out, std::size_t n, std::size_t kw);
// One row of 2x2 stride-2 max-pool windows (x0, x1: the two input rows): y[o] = the maximum
// of window o, taps in row-major order from -inf with a strict > (NaNs skipped).
void max2x2(const float* x0, const float* x1, float* y, std::size_t n);
void max2x2(const double* x0, const double* x1, double* y, std::size_t n);
// One row of 2x2 stride-2 max-pool windows (x0, x1: the two input rows, m: the window maxima):
// o0/o1[2o + j] = r[o] at the window's first maximum in row-major order, 0 at its other three
// entries (none if m[o] is not in the window: a NaN plane). The gradient of a max pool without
// a branch per window.
void max2x2_route(const float* x0, const float* x1, const float* m, const float* r, float* o0, float* o1, std::size_t n);
void max2x2_route(const double* x0, const double* x1, const double* m, const double* r, double* o0, double* o1,
                  std::size_t n);
// One row of 2x2 stride-2 max-pool windows: mask[o] = the taps of window o equal to its maximum
// m[o] as bits (1, 2: row x0; 4, 8: row x1), a sum of distinct powers of two (exact).
void max2x2_masks(const float* x0, const float* x1, const float* m, float* mask, std::size_t n);
void max2x2_masks(const double* x0, const double* x1, const double* m, double* mask, std::size_t n);
// max2x2_route from those masks: o0/o1[2o + j] = r[o] at the lowest set bit of mask[o] (the
// first maximum), 0 at the window's other entries.
void max2x2_route_masks(const float* mask, const float* r, float* o0, float* o1, std::size_t n);
void max2x2_route_masks(const double* mask, const double* r, double* o0, double* o1, std::size_t n);

}  // namespace lrp::kernels
