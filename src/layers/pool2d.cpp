#include "lrp/layers/pool2d.hpp"

#include <cmath>
#include <limits>
#include <vector>

#include "kernels/elementwise.hpp"
#include "layers/pool_plane.hpp"

namespace lrp {

template <class T>
Pool2d<T>::Pool2d(PoolSpec spec) : spec_(std::move(spec)) {
  if (!spec_.global && (spec_.window.kh == 0 || spec_.window.kw == 0 || spec_.window.sh == 0 || spec_.window.sw == 0))
    throw ShapeError(spec_.type_name + ": pool size and stride must be positive");
  if (spec_.divisor < 0 || !std::isfinite(spec_.divisor)) throw ShapeError(spec_.type_name + ": bad divisor");
}

template <class T>
std::string Pool2d<T>::describe() const {
  return spec_.global ? std::string("global") : spec_.window.str();
}

template <class T>
Window2d Pool2d<T>::window_for(std::size_t h, std::size_t w) const {
  if (!spec_.global) return spec_.window;
  Window2d k;
  k.kh = h;
  k.kw = w;
  return k;
}

template <class T>
double Pool2d<T>::divisor_at(const Window2d& k, std::size_t h, std::size_t w, std::size_t oy, std::size_t ox) const {
  if (spec_.divisor > 0) return spec_.divisor;  // a fixed divisor (1: a sum), global or not
  if (spec_.global) return static_cast<double>(h * w);
  std::size_t count = 0;
  for (std::size_t i = 0; i < k.kh; ++i) {
    const long long iy = static_cast<long long>(oy * k.sh + i * k.dh) - static_cast<long long>(k.pt);
    if (iy < 0 || iy >= static_cast<long long>(h)) continue;
    for (std::size_t j = 0; j < k.kw; ++j) {
      const long long ix = static_cast<long long>(ox * k.sw + j * k.dw) - static_cast<long long>(k.pl);
      if (ix >= 0 && ix < static_cast<long long>(w)) ++count;
    }
  }
  return static_cast<double>(count);
}

template <class T>
Shape Pool2d<T>::output_shape(const std::vector<Shape>& in) const {
  const Shape& x = in.at(0);
  if (x.size() != 3) throw ShapeError(spec_.type_name + " expects a [C,H,W] input per sample, got " + shape_str(x));
  const Window2d k = window_for(x[1], x[2]);
  const std::string what = spec_.type_name + " " + describe();
  return {x[0], k.out_h(x[1], what), k.out_w(x[2], what)};
}

template <class T>
void Pool2d<T>::forward(const TensorRefs<T>& in, Tensor<T>& out) const {
  run_forward(in, out, nullptr);
}

template <class T>
void Pool2d<T>::forward_saving(const TensorRefs<T>& in, Tensor<T>& out, Tensor<T>& saved) const {
  saved = Tensor<T>();
  run_forward(in, out, winner_masks() ? &saved : nullptr);
}

template <class T>
void Pool2d<T>::run_forward(const TensorRefs<T>& in, Tensor<T>& out, Tensor<T>* masks) const {
  const Tensor<T>& x = *in[0];
  const Shape os = output_shape({Shape(x.shape().begin() + 1, x.shape().end())});
  const std::size_t n = x.dim(0), c = os[0], h = x.dim(2), w = x.dim(3), oh = os[1], ow = os[2];
  const Window2d k = window_for(h, w);
  const long long planes = static_cast<long long>(n * c);
  const std::size_t hw = h * w, ohw = oh * ow;
  const T* xp = x.data();
  const pool::Plane geo(k, h, w, oh, ow);  // tap ranges, once per call
  if (is_max()) {
    const bool fast2x2 = geo.disjoint_2x2();
    // 2x2 tiles write every output (each window has inputs); other windows start from -inf
    out = fast2x2 ? Tensor<T>::uninitialized({n, c, oh, ow}) : Tensor<T>({n, c, oh, ow}, -std::numeric_limits<T>::infinity());
    if (masks) *masks = Tensor<T>::uninitialized(out.shape());
    T* yp = out.data();
    T* mp = masks ? masks->data() : nullptr;
#pragma omp parallel for schedule(static) if (n * c * hw >= 32768)
    for (long long pp = 0; pp < planes; ++pp) {
      const std::size_t p = static_cast<std::size_t>(pp);
      const T* xs = xp + p * hw;
      T* ys = yp + p * ohw;
      if (fast2x2) {
        for (std::size_t oy = 0; oy < oh; ++oy) {  // each row pair once: maxima, then masks while in cache
          const T* x0 = xs + 2 * oy * w;
          kernels::max2x2(x0, x0 + w, ys + oy * ow, ow);
          if (mp) kernels::max2x2_masks(x0, x0 + w, ys + oy * ow, mp + p * ohw + oy * ow, ow);
        }
      } else {
        pool::max_forward(geo, xs, ys);
        if (mp) pool::winner_masks(geo, xs, ys, mp + p * ohw);
      }
    }
  } else {
    out = Tensor<T>({n, c, oh, ow});
    T* yp = out.data();
    std::vector<T> div(ohw);
    for (std::size_t oy = 0; oy < oh; ++oy)
      for (std::size_t ox = 0; ox < ow; ++ox) div[oy * ow + ox] = static_cast<T>(divisor_at(k, h, w, oy, ox));
    const bool disjoint = k.sh == k.kh && k.sw == k.kw && k.dh == 1 && k.dw == 1 && k.pt == 0 && k.pl == 0 &&
                          oh * k.kh <= h && ow * k.kw <= w;
#pragma omp parallel for schedule(static) if (n * c * hw >= 32768)
    for (long long pp = 0; pp < planes; ++pp) {
      const std::size_t p = static_cast<std::size_t>(pp);
      const T* xs = xp + p * hw;
      T* ys = yp + p * ohw;
      if (disjoint) {
        for (std::size_t oy = 0; oy < oh; ++oy)
          for (std::size_t i = 0; i < k.kh; ++i) kernels::window_row_sum(xs + (oy * k.kh + i) * w, ys + oy * ow, ow, k.kw);
      } else {
        pool::sum_forward(geo, xs, ys);
      }
      for (std::size_t o = 0; o < ohw; ++o) ys[o] /= div[o];
    }
  }
}

template <class T>
bool Pool2d<T>::winner_masks() const {
  return is_max() && !spec_.global && spec_.window.kh * spec_.window.kw <= pool::kMaxMaskTaps;
}

template <class T>
std::size_t Pool2d<T>::saved_numel(const std::vector<Shape>& inputs) const {
  return winner_masks() ? shape_numel(output_shape(inputs)) : 0;
}

template <class T>
void Pool2d<T>::backward(const TensorRefs<T>& in, const Tensor<T>& out, const Tensor<T>& dout,
                         std::vector<Tensor<T>>& din) const {
  const Tensor<T>& x = *in[0];
  const std::size_t n = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3), oh = out.dim(2), ow = out.dim(3);
  const Window2d k = window_for(h, w);
  din.assign(1, Tensor<T>(x.shape()));
  const pool::Plane geo(k, h, w, oh, ow);
  std::vector<T> div;  // Sum: divisor per output position (the same for every plane)
  if (!is_max()) {
    div.resize(oh * ow);
    for (std::size_t oy = 0; oy < oh; ++oy)
      for (std::size_t ox = 0; ox < ow; ++ox) div[oy * ow + ox] = static_cast<T>(divisor_at(k, h, w, oy, ox));
  }
  const T* xp = x.data();
  const T* yp = out.data();
  const T* gp = dout.data();
  T* dxp = din[0].data();
  const std::size_t hw = h * w, ohw = oh * ow;
  const long long planes = static_cast<long long>(n * c);
  // Planes are independent: each thread owns whole planes of dx.
#pragma omp parallel if (n * c * hw >= 32768)
  {
    std::vector<T> g(is_max() ? 0 : ohw);  // dy / divisor of one plane
#pragma omp for schedule(static)
    for (long long pp = 0; pp < planes; ++pp) {
      const std::size_t p = static_cast<std::size_t>(pp);
      if (is_max() && geo.disjoint_2x2()) {
        pool::first_max_route_2x2(geo, xp + p * hw, yp + p * ohw, gp + p * ohw, dxp + p * hw);
      } else if (is_max()) {
        pool::first_max_add(geo, xp + p * hw, yp + p * ohw, gp + p * ohw, dxp + p * hw);
      } else {
        for (std::size_t o = 0; o < ohw; ++o) g[o] = gp[p * ohw + o] / div[o];
        pool::spread(geo, static_cast<const T*>(nullptr), g.data(), dxp + p * hw);
      }
    }
  }
}

template class Pool2d<float>;
template class Pool2d<double>;

}  // namespace lrp
