// Pooling with tiling, overlapping, padded or dilated windows (src/layers/pool_plane.cpp and
// the disjoint paths) against the straightforward loop written out here: outputs in row-major order, each window's
// inputs in row-major order, padding skipped. Forward, the layer's gradient and the pooling
// relevance rules must agree bit for bit (a NaN matches any NaN) for float and double, on
// inputs full of ties (ReLU zeros, -0, repeated values) and, in a second round, NaNs. The
// rules run once with every value kept and once planned for the sweep, where max pools route
// by the winner masks their forward saved.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "lrp/explain/executor.hpp"
#include "lrp/layers/pool2d.hpp"
#include "lrp/rules/apply.hpp"
#include "lrp/rules/rule.hpp"

namespace lrp {
namespace {

struct Case {
  std::string name;
  Window2d k;
  bool global;
  Shape x;  // [N, C, H, W]
};

Window2d window(std::size_t kh, std::size_t kw, std::size_t sh, std::size_t sw, std::size_t pt, std::size_t pl, std::size_t pb,
                std::size_t pr, std::size_t dh = 1, std::size_t dw = 1) {
  Window2d k;
  k.kh = kh;
  k.kw = kw;
  k.sh = sh;
  k.sw = sw;
  k.pt = pt;
  k.pl = pl;
  k.pb = pb;
  k.pr = pr;
  k.dh = dh;
  k.dw = dw;
  return k;
}

// Overlapping, padded, dilated or gapped windows: rows of >= 8 outputs take the vectorised
// kernels, narrower ones the per-output loops. Windows that tile the plane (stride = size, no
// padding) take the disjoint paths, which write every input once, leftover rows and columns too.
std::vector<Case> cases() {
  return {
      {"resnet stem 3x3 s2 p1", window(3, 3, 2, 2, 1, 1, 1, 1), false, {2, 3, 13, 23}},
      {"3x3 s1 p1", window(3, 3, 1, 1, 1, 1, 1, 1), false, {2, 2, 9, 10}},
      {"2x3 s1,2 pad 0,1,1,0", window(2, 3, 1, 2, 0, 1, 1, 0), false, {1, 3, 7, 21}},
      {"3x3 s2 unpadded", window(3, 3, 2, 2, 0, 0, 0, 0), false, {2, 2, 12, 19}},
      {"2x2 s1", window(2, 2, 1, 1, 0, 0, 0, 0), false, {1, 2, 6, 20}},
      {"3x3 dilation 2 pad 2", window(3, 3, 1, 1, 2, 2, 2, 2, 2, 2), false, {1, 2, 11, 12}},
      {"3x2 dilation 2,3 s2,1", window(3, 2, 2, 1, 1, 2, 0, 1, 2, 3), false, {2, 1, 10, 14}},
      {"2x2 s3 (gaps)", window(2, 2, 3, 3, 0, 0, 0, 0), false, {1, 2, 8, 29}},
      {"3x3 s2 end padding only", window(3, 3, 2, 2, 0, 0, 1, 1), false, {1, 2, 8, 18}},
      {"5x5 s1 p2", window(5, 5, 1, 1, 2, 2, 2, 2), false, {1, 1, 9, 18}},
      {"2x2 s1 p2 (windows all padding)", window(2, 2, 1, 1, 2, 2, 2, 2), false, {1, 2, 4, 9}},
      {"narrow 3x3 s2 p1", window(3, 3, 2, 2, 1, 1, 1, 1), false, {2, 2, 7, 5}},
      {"narrow 2x2 s1", window(2, 2, 1, 1, 0, 0, 0, 0), false, {1, 2, 3, 4}},
      {"global", Window2d(), true, {2, 3, 7, 7}},
      {"tiling 2x2 s2", window(2, 2, 2, 2, 0, 0, 0, 0), false, {2, 3, 8, 20}},
      {"tiling 2x2 s2, odd sizes", window(2, 2, 2, 2, 0, 0, 0, 0), false, {1, 2, 9, 19}},
      // 2x2 max pools route rows in blocks of four windows, the last block overlapping: rows of
      // 1-3 windows (scalar), 4, 7 (MNIST's second pool) and 14.
      {"tiling 2x2 s2, rows of 1-3", window(2, 2, 2, 2, 0, 0, 0, 0), false, {2, 2, 5, 7}},
      {"tiling 2x2 s2, rows of 2", window(2, 2, 2, 2, 0, 0, 0, 0), false, {1, 2, 4, 4}},
      {"tiling 2x2 s2, rows of 4", window(2, 2, 2, 2, 0, 0, 0, 0), false, {1, 3, 6, 9}},
      {"tiling 2x2 s2, rows of 7", window(2, 2, 2, 2, 0, 0, 0, 0), false, {2, 2, 14, 14}},
      {"tiling 2x2 s2, rows of 14", window(2, 2, 2, 2, 0, 0, 0, 0), false, {1, 2, 28, 29}},
      {"tiling 3x3 s3, leftovers", window(3, 3, 3, 3, 0, 0, 0, 0), false, {1, 2, 11, 29}},
      {"tiling 2x3 s2,3", window(2, 3, 2, 3, 0, 0, 0, 0), false, {2, 1, 6, 13}},
  };
}

// Inputs with many ties: ReLU-like (half zeros, some of them -0) or signed values on a coarse
// grid; optionally a few NaNs.
template <class T>
Tensor<T> tied_input(const Shape& s, std::mt19937_64& rng, bool relu, bool nans) {
  Tensor<T> t(s);
  std::uniform_int_distribution<int> level(-4, 4);
  std::uniform_int_distribution<int> pick(0, 19);
  for (T& v : t) {
    const int l = level(rng);
    v = static_cast<T>(relu ? std::max(l, 0) : l) / T(4);
    if (v == T(0) && pick(rng) < 5) v = -T(0);
    if (nans && pick(rng) == 0) v = std::numeric_limits<T>::quiet_NaN();
  }
  return t;
}

template <class T>
Tensor<T> seed(const Shape& s, std::mt19937_64& rng) {
  Tensor<T> t(s);
  std::uniform_real_distribution<double> u(-1, 1);
  for (T& v : t) v = u(rng) < -0.8 ? T(0) : static_cast<T>(u(rng));
  return t;
}

template <class T>
void expect_identical(const Tensor<T>& got, const Tensor<T>& want, const std::string& what) {
  ASSERT_EQ(got.shape(), want.shape()) << what;
  std::size_t bad = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const bool same = (std::isnan(got[i]) && std::isnan(want[i])) || std::memcmp(&got[i], &want[i], sizeof(T)) == 0;
    if (!same && bad++ < 3) ADD_FAILURE() << what << ": element " << i << " is " << got[i] << ", want " << want[i];
  }
  EXPECT_EQ(bad, 0u) << what;
}

// The reference: geometry and (output, input) pairs of one plane by the plain loop.
struct Reference {
  std::size_t n, c, h, w, oh, ow;
  std::vector<std::pair<std::size_t, std::size_t>> pairs;  // (o, i), outputs row-major, inputs row-major
  std::vector<std::size_t> count;                          // non-padding inputs, per output
  std::vector<double> divisor;                             // Sum mode, per output

  Reference(const Case& cs, const PoolSpec& spec) : n(cs.x[0]), c(cs.x[1]), h(cs.x[2]), w(cs.x[3]) {
    Window2d k = cs.k;
    if (cs.global) {
      k = Window2d();
      k.kh = h;
      k.kw = w;
    }
    oh = (h + k.pt + k.pb - (k.dh * (k.kh - 1) + 1)) / k.sh + 1;
    ow = (w + k.pl + k.pr - (k.dw * (k.kw - 1) + 1)) / k.sw + 1;
    count.assign(oh * ow, 0);
    for (std::size_t oy = 0; oy < oh; ++oy)
      for (std::size_t ox = 0; ox < ow; ++ox)
        for (std::size_t i = 0; i < k.kh; ++i)
          for (std::size_t j = 0; j < k.kw; ++j) {
            const long long iy = static_cast<long long>(oy * k.sh + i * k.dh) - static_cast<long long>(k.pt);
            const long long ix = static_cast<long long>(ox * k.sw + j * k.dw) - static_cast<long long>(k.pl);
            if (iy < 0 || ix < 0 || iy >= static_cast<long long>(h) || ix >= static_cast<long long>(w)) continue;
            pairs.emplace_back(oy * ow + ox, static_cast<std::size_t>(iy) * w + static_cast<std::size_t>(ix));
            ++count[oy * ow + ox];
          }
    for (std::size_t o = 0; o < oh * ow; ++o)
      divisor.push_back(spec.global           ? static_cast<double>(h * w)
                        : spec.divisor > 0 ? spec.divisor
                                           : static_cast<double>(count[o]));
  }
  std::size_t hw() const { return h * w; }
  std::size_t ohw() const { return oh * ow; }

  template <class T>
  Tensor<T> forward(const PoolSpec& spec, const Tensor<T>& x) const {
    Tensor<T> y({n, c, oh, ow});
    for (std::size_t p = 0; p < n * c; ++p) {
      const T* xs = x.data() + p * hw();
      T* ys = y.data() + p * ohw();
      if (spec.mode == PoolMode::Max) {
        for (std::size_t o = 0; o < ohw(); ++o) ys[o] = -std::numeric_limits<T>::infinity();
        for (const auto& [o, i] : pairs)
          if (xs[i] > ys[o]) ys[o] = xs[i];
      } else {
        for (const auto& [o, i] : pairs) ys[o] += xs[i];
        for (std::size_t o = 0; o < ohw(); ++o) ys[o] /= static_cast<T>(divisor[o]);
      }
    }
    return y;
  }

  // Relevance (or gradient) rows r, `rows` per sample, through the rules' formulas written out
  // pair by pair; `rule` null means the layer's own gradient.
  template <class T>
  Tensor<T> backward(const PoolSpec& spec, const Rule* rule, const Tensor<T>& x, const Tensor<T>& y, const Tensor<T>& r,
                     std::size_t rows) const {
    Tensor<T> out({n * rows, c, h, w});
    const bool max = spec.mode == PoolMode::Max;
    const RuleKind kind = rule ? rule->kind : RuleKind::Gradient;
    const bool toolbox = rule && rule->style == StabilizerStyle::Toolbox;
    const T eps = rule ? static_cast<T>(rule->epsilon) : T(0);
    for (std::size_t p = 0; p < n * rows * c; ++p) {
      const std::size_t dp = (p / c / rows) * c + p % c;  // the sample-channel plane of the data
      const T* xs = x.data() + dp * hw();
      const T* ys = y.data() + dp * ohw();
      const T* rs = r.data() + p * ohw();
      T* os = out.data() + p * hw();
      std::vector<T> a(ohw(), T(0)), b(ohw(), T(0));
      if (kind == RuleKind::Flat) {  // uniform over the window
        for (std::size_t o = 0; o < ohw(); ++o) {
          const T cnt = static_cast<T>(count[o]);
          a[o] = max || eps == T(0) ? safe_div(rs[o], cnt) : rs[o] / stabilize(cnt, eps);
        }
        for (const auto& [o, i] : pairs) os[i] += a[o];
      } else if (max && toolbox && kind != RuleKind::Gradient) {  // ties share
        for (const auto& [o, i] : pairs) a[o] += xs[i] == ys[o];
        for (const auto& [o, i] : pairs)
          if (xs[i] == ys[o]) os[i] += rs[o] / a[o];
      } else if (max) {  // the gradient: to the first maximum
        for (const auto& [o, i] : pairs)
          if (a[o] == T(0) && xs[i] == ys[o]) {
            os[i] += rs[o];
            a[o] = T(1);
          }
      } else if (kind == RuleKind::Gradient) {
        for (const auto& [o, i] : pairs) os[i] += rs[o] / static_cast<T>(divisor[o]);
      } else if (kind == RuleKind::AlphaBeta) {
        const T alpha = static_cast<T>(rule->alpha), beta = static_cast<T>(rule->beta);
        for (const auto& [o, i] : pairs) (xs[i] > T(0) ? a[o] : b[o]) += xs[i];
        for (std::size_t o = 0; o < ohw(); ++o) {
          a[o] = alpha * rs[o] / stabilize(a[o], eps);
          b[o] = beta * rs[o] / stabilize(b[o], eps);
        }
        for (const auto& [o, i] : pairs) {
          if (xs[i] > T(0)) os[i] += xs[i] * a[o];
          else if (xs[i] < T(0)) os[i] -= xs[i] * b[o];
        }
      } else {  // epsilon family: toolbox on the window sum, Zennit's Norm
        for (std::size_t o = 0; o < ohw(); ++o) {
          const T d = static_cast<T>(divisor[o]);
          a[o] = toolbox ? rs[o] / stabilize(ys[o] * d, static_cast<T>(rule->pool_epsilon)) : rs[o] / (d * stabilize(ys[o], eps));
        }
        for (const auto& [o, i] : pairs) os[i] += xs[i] * a[o];
      }
    }
    return out;
  }
};

template <class T>
void check_case(const Case& cs, const PoolSpec& spec, bool nans, std::mt19937_64& rng) {
  const Pool2d<T> pool(spec);
  const Reference ref(cs, spec);
  const std::string what = cs.name + " " + spec.type_name + (nans ? " with NaNs" : "") + (sizeof(T) == 4 ? " float" : " double");
  const Tensor<T> x = tied_input<T>(cs.x, rng, spec.mode == PoolMode::Max, nans);

  // Forward.
  Tensor<T> y;
  pool.forward({&x}, y);
  const Tensor<T> y_ref = ref.forward(spec, x);
  expect_identical(y, y_ref, what + " forward");

  // The layer's gradient.
  const Tensor<T> g = seed<T>(y.shape(), rng);
  std::vector<Tensor<T>> din;
  pool.backward({&x}, y, g, din);
  ASSERT_EQ(din.size(), 1u);
  expect_identical(din[0], ref.backward(spec, nullptr, x, y_ref, g, 1), what + " backward");

  // Relevance rules through the public API, with one and with two relevance rows per sample.
  Model<T> m;
  m.input_shape = {cs.x[1], cs.x[2], cs.x[3]};
  m.add("pool", std::make_unique<Pool2d<T>>(spec));
  // Max: first maximum, ties shared (toolbox), flat. Sum: also Norm, both epsilons, alpha-beta.
  std::vector<Rule> rules = {Rule::gradient(), parse_rule("epsilon:0.01"), parse_rule("flat"), Rule::flat()};
  if (spec.mode == PoolMode::Sum)
    for (const Rule& extra : {Rule::norm(), Rule::epsilon_rule(0.01), parse_rule("z"), Rule::alpha_beta(2, 1)})
      rules.push_back(extra);
  for (const std::size_t rows : {std::size_t{1}, std::size_t{2}}) {
    Shape rs = y.shape();
    rs[0] *= rows;
    const Tensor<T> r = seed<T>(rs, rng);
    for (const Rule& rule : rules) {
      const std::string label = what + " rule " + (rule.text.empty() ? std::to_string(static_cast<int>(rule.kind)) : rule.text) +
                                " rows " + std::to_string(rows);
      const Tensor<T> want = ref.backward(spec, &rule, x, y_ref, r, rows);
      Executor<T> ex(m);  // keeps every value: the rules read x and y
      ex.forward(x);
      expect_identical(ex.propagate(r, {rule}), want, label);
      // Planned for the sweep: a max pool of <= 24 taps keeps winner masks instead of its input
      // (flat needs neither); larger and global windows keep the input.
      Executor<T> planned(m);
      planned.plan_backward({rule});
      planned.forward(x);
      const bool max = spec.mode == PoolMode::Max, flat = rule.kind == RuleKind::Flat;
      const bool masks = max && !flat && !cs.global && cs.k.kh * cs.k.kw <= 24;
      EXPECT_EQ(planned.saved(0).empty(), !masks) << label;
      EXPECT_EQ(planned.value(0).empty(), max && (masks || flat)) << label;
      expect_identical(planned.propagate(r, {rule}), want, label + " (planned)");
      // The same with every sample repeated `rows` times beforehand, one relevance row each.
      Executor<T> repeated(m);
      repeated.plan_backward({rule});
      repeated.forward(x);
      repeated.repeat_samples(rows);
      expect_identical(repeated.propagate(r, {rule}), want, label + " (planned, samples repeated)");
    }
  }
}

template <class T>
void check_all() {
  std::mt19937_64 rng(11);
  for (const Case& cs : cases())
    for (const bool nans : {false, true}) {
      PoolSpec max;
      max.window = cs.k;
      max.global = cs.global;
      check_case<T>(cs, max, nans, rng);
      PoolSpec avg = max;  // count_include_pad = 0: divide by the non-padding inputs
      avg.mode = PoolMode::Sum;
      avg.type_name = cs.global ? "GlobalAveragePool" : "AveragePool";
      check_case<T>(cs, avg, nans, rng);
      if (cs.global) continue;
      PoolSpec with_pad = avg;  // count_include_pad = 1 (ONNX import: divisor kh * kw)
      with_pad.divisor = static_cast<double>(cs.k.kh * cs.k.kw);
      check_case<T>(cs, with_pad, nans, rng);
      PoolSpec sum = avg;  // the toolbox's SumPool
      sum.type_name = "SumPool";
      sum.divisor = std::sqrt(static_cast<double>(cs.k.kh * cs.k.kw));
      check_case<T>(cs, sum, nans, rng);
    }
}

TEST(PoolFastPaths, FloatMatchesThePlainLoopBitForBit) { check_all<float>(); }
TEST(PoolFastPaths, DoubleMatchesThePlainLoopBitForBit) { check_all<double>(); }

}  // namespace
}  // namespace lrp
