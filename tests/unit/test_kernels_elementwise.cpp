// The fused elementwise kernels of the rules equal the unfused sequence they replace, bit for
// bit, on every element class (zeros, -0, NaN, stabiliser edge) and on lengths that leave
// vector remainders; float and double.
#include <gtest/gtest.h>

#include <bit>
#include <cstdint>
#include <limits>
#include <random>
#include <type_traits>
#include <vector>

#include "kernels/elementwise.hpp"

namespace lrp {
namespace {

template <class T>
using Bits = std::conditional_t<sizeof(T) == 8, std::uint64_t, std::uint32_t>;

template <class T>
std::vector<Bits<T>> bits(const std::vector<T>& v) {
  std::vector<Bits<T>> b(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) b[i] = std::bit_cast<Bits<T>>(v[i]);
  return b;
}

template <class T>
std::vector<T> random_values(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> d;
  std::vector<T> v(n);
  for (T& x : v) x = static_cast<T>(d(rng));
  return v;
}

template <class T>
class KernelsElementwise : public ::testing::Test {};
using Types = ::testing::Types<float, double>;
TYPED_TEST_SUITE(KernelsElementwise, Types);

// ratio_of_difference(r, y, c, shift) == ratio(r, y - shift - c): alpha-beta's z- = y - z+ and
// zbox's y - b - c formed inside the ratio instead of in a tensor of their own.
TYPED_TEST(KernelsElementwise, RatioOfADifferenceEqualsTheRatioOfTheFormedDifference) {
  using T = TypeParam;
  const std::size_t n = 4096 + 37;
  const std::vector<T> r = random_values<T>(n, 1), y = random_values<T>(n, 2);
  std::vector<T> c = random_values<T>(n, 3);
  c[0] = y[0];                                     // z = 0
  c[1] = T(0);                                     // z = y
  c[2] = y[2] + T(1e-7);                           // |z| below the stabiliser
  std::vector<T> yy = y;
  yy[3] = T(-0.0), c[3] = T(0);                    // z = -0
  yy[4] = std::numeric_limits<T>::quiet_NaN();     // NaN in y
  c[5] = std::numeric_limits<T>::infinity();       // z = -inf
  for (const T shift : {T(0), T(0.5)})  // zbox: y - b - c
    for (const T eps : {T(0), T(1e-6), T(0.25)})
      for (const T coef : {T(1), T(-1), T(2)}) {
        SCOPED_TRACE(testing::Message() << "shift " << shift << " eps " << eps << " coef " << coef);
        std::vector<T> z(n), want(n), got(n);
        for (std::size_t i = 0; i < n; ++i) z[i] = yy[i] - shift - c[i];
        kernels::ratio(r.data(), z.data(), want.data(), n, eps, coef);
        kernels::ratio_of_difference(r.data(), yy.data(), c.data(), got.data(), n, eps, coef, shift);
        EXPECT_EQ(bits(got), bits(want));
        std::vector<T> in_place = r;  // g may be r
        kernels::ratio_of_difference(in_place.data(), yy.data(), c.data(), in_place.data(), n, eps, coef, shift);
        EXPECT_EQ(bits(in_place), bits(want));
        if (eps == T(0) && shift == T(0)) {
          EXPECT_EQ(got[0], T(0));  // no stabiliser: 0 where z == 0
        }
      }
}

// add_mul(a, b, x) == (a + b) then * x: two transposed maps' sum times the input in one pass.
TYPED_TEST(KernelsElementwise, AddMulEqualsAddThenMultiply) {
  using T = TypeParam;
  const std::size_t n = 4096 + 19;
  std::vector<T> a = random_values<T>(n, 4);
  const std::vector<T> b = random_values<T>(n, 5);
  std::vector<T> x = random_values<T>(n, 6);
  x[0] = T(0), x[1] = T(-0.0), a[2] = std::numeric_limits<T>::quiet_NaN(), x[3] = std::numeric_limits<T>::infinity();
  std::vector<T> want(n);
  for (std::size_t i = 0; i < n; ++i) {
    const T s = a[i] + b[i];
    want[i] = s * x[i];
  }
  kernels::add_mul(a.data(), b.data(), x.data(), n);
  EXPECT_EQ(bits(a), bits(want));
}

}  // namespace
}  // namespace lrp
