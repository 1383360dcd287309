#include "explain/grad_cam.hpp"

#include <algorithm>

#include "lrp/core/error.hpp"
#include "lrp/layers/resize.hpp"

namespace lrp {

template <class T>
std::size_t grad_cam_value(const Model<T>& model, const Shape& sample_shape, const std::string& layer) {
  const auto& nodes = model.nodes();
  const std::vector<Shape> shapes = model.infer_shapes(sample_shape);
  const auto spatial = [&](std::size_t v) { return shapes[v].size() == 3 && shapes[v][1] * shapes[v][2] > 1; };
  if (sample_shape.size() != 3) throw ConfigError("grad-cam needs an image input [C, H, W]; the model's is " + shape_str(sample_shape));
  if (layer.empty()) {
    for (std::size_t i = nodes.size(); i-- > 0;)
      if (spatial(nodes[i].output)) return nodes[i].output;
    throw ConfigError("grad-cam: no layer of the model has a spatial output [C, H, W]");
  }
  const std::optional<std::size_t> i = model.find_node(layer);
  if (!i) throw ConfigError("grad-cam: layer '" + layer + "' names no layer of the model (see `lrp info`)");
  const std::size_t v = nodes[*i].output;
  if (!spatial(v))
    throw ConfigError("grad-cam: " + model.node_label(*i) + " has output " + shape_str(shapes[v]) + ", not a spatial map [C, H, W]");
  return v;
}

namespace {

// Bilinear resize of [R, 1, h, w] maps to [R, 1, H, W] (F.interpolate, align_corners=False).
template <class T>
Tensor<T> upsample(const Tensor<T>& cam, std::size_t out_h, std::size_t out_w) {
  const std::size_t h = cam.dim(2), w = cam.dim(3);
  if (h == out_h && w == out_w) return cam;
  const auto taps = [](std::size_t in, std::size_t out) {
    return resize_taps(in, out, static_cast<double>(out) / static_cast<double>(in), ResizeCoordinates::HalfPixel, true,
                       ResizeRounding::Floor);
  };
  const Resize2d<T> resize(h, w, taps(h, out_h), taps(w, out_w), "linear");
  Tensor<T> out;
  resize.forward({&cam}, out);
  return out;
}

}  // namespace

template <class T>
Tensor<T> grad_cam(Executor<T>& ex, const Tensor<T>& seeds, std::size_t value, std::size_t out_h, std::size_t out_w, bool relu) {
  const std::vector<Rule> rules(ex.model().nodes().size(), Rule::gradient());
  const Tensor<T> g = ex.propagate_to(seeds, rules, value);  // [N * k, C, h, w]
  const Tensor<T>& a = ex.value(value);                       // [N, C, h, w]
  if (a.rank() != 4 || g.rank() != 4 || a.dim(0) == 0 || g.dim(0) % a.dim(0) != 0)
    throw ConfigError("internal: grad-cam needs the layer's activations kept (Executor::keep_value)");
  const std::size_t rows = g.dim(0), k = rows / a.dim(0), c = a.dim(1), plane = a.dim(2) * a.dim(3);
  Tensor<T> cam({rows, 1, a.dim(2), a.dim(3)});
  for (std::size_t r = 0; r < rows; ++r) {
    T* out = cam.data() + r * plane;
    for (std::size_t ch = 0; ch < c; ++ch) {
      const T* gc = g.data() + (r * c + ch) * plane;
      double mean = 0;
      for (std::size_t p = 0; p < plane; ++p) mean += static_cast<double>(gc[p]);
      const T weight = static_cast<T>(mean / static_cast<double>(plane));
      const T* ac = a.data() + ((r / k) * c + ch) * plane;
      for (std::size_t p = 0; p < plane; ++p) out[p] += weight * ac[p];
    }
    if (relu)
      for (std::size_t p = 0; p < plane; ++p) out[p] = std::max(out[p], T(0));
  }
  return upsample(cam, out_h, out_w);
}

template std::size_t grad_cam_value(const Model<float>&, const Shape&, const std::string&);
template std::size_t grad_cam_value(const Model<double>&, const Shape&, const std::string&);
template Tensor<float> grad_cam(Executor<float>&, const Tensor<float>&, std::size_t, std::size_t, std::size_t, bool);
template Tensor<double> grad_cam(Executor<double>&, const Tensor<double>&, std::size_t, std::size_t, std::size_t, bool);

}  // namespace lrp
