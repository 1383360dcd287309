#include "common.hpp"

#include <algorithm>
#include <cmath>

#include "lrp/core/error.hpp"
#include "lrp/graph/canonize.hpp"
#include "lrp/io/arrays.hpp"
#include "lrp/io/toolbox_text.hpp"

#if __has_include("lrp/io/onnx.hpp")
#include "lrp/io/onnx.hpp"
#define LRP_CLI_HAS_ONNX 1
#endif

namespace lrp::cli {
namespace {
std::string lower_extension(const std::string& path) {
  const std::size_t dot = path.find_last_of('.');
  const std::size_t slash = path.find_last_of('/');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) return "";
  std::string e = path.substr(dot + 1);
  std::transform(e.begin(), e.end(), e.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return e;
}
}  // namespace

Tensor<double> read_input_array(const std::string& path) { return io::read_npy(path); }

Model<double> load_model(const std::string& path, bool canonize) {
  const std::string ext = lower_extension(path);
  Model<double> m;
  if (ext == "txt") {
    m = io::read_toolbox_model(path);
#ifdef LRP_CLI_HAS_ONNX
  } else if (ext == "onnx") {
    m = io::read_onnx_model(path);
    if (canonize) fold_batch_norms(m);
#endif
  } else {
    throw ConfigError("cannot tell the format of model '" + path + "': expected a .txt (LRP Toolbox) or .onnx file");
  }
  m.validate();
  return m;
}

Tensor<double> load_input(const Model<double>& model, const std::string& path) {
  Tensor<double> x = read_input_array(path);
  const std::size_t per_rank = model.input_shape.size();
  if (x.rank() == per_rank) {  // a single sample without batch dimension
    Shape s = x.shape();
    s.insert(s.begin(), 1);
    x.reshape(s);
  }
  if (x.rank() != per_rank + 1)
    throw ShapeError(path + ": input has shape " + shape_str(x.shape()) + ", but model '" + model.source + "' takes " +
                     std::to_string(per_rank + 1) + "-D input " +
                     (model.layout == DataLayout::NHWC ? "[N,H,W,C]" : model.layout == DataLayout::NCHW ? "[N,C,H,W]" : "[N,D]"));
  if (!all_finite(x)) throw NumericError(path + ": input contains NaN or Inf");
  if (model.layout == DataLayout::NHWC) x = nhwc_to_nchw(x);
  // Known dims must match; unknown (0) dims come from the data. Shape inference names the layer.
  const Shape per(x.shape().begin() + 1, x.shape().end());
  for (std::size_t d = 0; d < per_rank; ++d)
    if (model.input_shape[d] != 0 && model.input_shape[d] != per[d])
      throw ShapeError(path + ": input has per-sample shape " + shape_str(per) + " (engine layout), model '" + model.source +
                       "' expects " + shape_str(model.input_shape));
  model.infer_shapes(per);
  return x;
}

template <class T>
Tensor<T> to_model_layout(const Model<double>& model, const Tensor<T>& t, std::size_t extra_dims) {
  if (model.layout != DataLayout::NHWC) return t;
  if (extra_dims == 0) return nchw_to_nhwc(t);
  // [N, K, C, H, W] → [N, K, H, W, C]
  Shape s = t.shape();
  const std::size_t lead = s[0] * s[1];
  Tensor<T> flat = t.reshaped({lead, s[2], s[3], s[4]});
  Tensor<T> r = nchw_to_nhwc(flat);
  r.reshape({s[0], s[1], s[3], s[4], s[2]});
  return r;
}

template Tensor<float> to_model_layout(const Model<double>&, const Tensor<float>&, std::size_t);
template Tensor<double> to_model_layout(const Model<double>&, const Tensor<double>&, std::size_t);

std::vector<std::size_t> load_labels(const std::string& path) {
  const Tensor<double> y = read_input_array(path);
  std::vector<std::size_t> out;
  if (y.rank() == 1 || (y.rank() == 2 && y.dim(1) == 1)) {
    for (double v : y) {
      if (!(v >= 0) || v != std::floor(v) || v > 1e9) throw FormatError(path + ": label " + std::to_string(v) + " is not a class index");
      out.push_back(static_cast<std::size_t>(v));
    }
  } else if (y.rank() == 2) {
    const std::size_t c = y.dim(1);
    for (std::size_t i = 0; i < y.dim(0); ++i)
      out.push_back(static_cast<std::size_t>(std::max_element(y.data() + i * c, y.data() + (i + 1) * c) - (y.data() + i * c)));
  } else {
    throw FormatError(path + ": labels must be [N], [N,1] or one-hot [N,C], got " + shape_str(y.shape()));
  }
  return out;
}

}  // namespace lrp::cli
