// Networks from a layer spec in the toolbox's header syntax, with the toolbox's initialisation.
#include <charconv>
#include <cmath>
#include <optional>
#include <random>
#include <sstream>

#include "lrp/core/error.hpp"
#include "lrp/core/parse.hpp"
#include "lrp/io/toolbox_text.hpp"
#include "lrp/layers/activation.hpp"
#include "lrp/layers/conv2d.hpp"
#include "lrp/layers/linear.hpp"
#include "lrp/layers/pool2d.hpp"
#include "lrp/layers/reshape.hpp"
#include "lrp/train/trainer.hpp"

namespace lrp::train {
namespace {

std::vector<std::string> tokens(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  std::string t;
  while (in >> t) out.push_back(t);
  return out;
}

std::string join(const std::vector<std::string>& tok) {
  std::string s;
  for (const std::string& t : tok) s += (s.empty() ? "" : " ") + t;
  return s;
}

class SpecParser {
 public:
  explicit SpecParser(const std::string& spec) : spec_(spec) {}

  Model<double> parse() {
    std::string text = spec_;
    for (char& c : text)
      if (c == '\n' || c == '\r') c = ';';
    Model<double> model;
    model.source = "layer spec";
    bool input_known = false, spatial = false;
    for (const std::string& part : split(text, ';')) {
      const std::vector<std::string> tok = tokens(part);
      if (tok.empty()) continue;  // empty entries (a trailing ';') are ignored
      const std::string& type = tok[0];
      layer_ = "layer " + std::to_string(index_) + " '" + join(tok) + "'";
      std::unique_ptr<Layer<double>> layer;
      if (type == "Linear") {
        const std::vector<std::size_t> d = ints(tok, 2);
        if (features_ && *features_ != d[0])
          throw ShapeError("layer spec: " + layer_ + " takes " + std::to_string(d[0]) + " inputs, but the layer before it gives " +
                           std::to_string(*features_));
        layer = std::make_unique<Linear<double>>(Tensor<double>({d[1], d[0]}), Tensor<double>({d[1]}));
        if (!input_known) model.input_shape = {d[0]};
        features_ = d[1];
        channels_.reset();
      } else if (type == "Convolution") {
        const std::vector<std::size_t> d = ints(tok, 6);
        if (channels_ && *channels_ != d[2])
          throw ShapeError("layer spec: " + layer_ + " takes " + std::to_string(d[2]) + " input channels, but the layer before it gives " +
                           std::to_string(*channels_));
        Window2d win;
        win.kh = d[0];
        win.kw = d[1];
        win.sh = d[4];
        win.sw = d[5];
        layer = std::make_unique<Conv2d<double>>(Tensor<double>({d[3], d[2], d[0], d[1]}), Tensor<double>({d[3]}), win, 1);
        if (!input_known) model.input_shape = {d[2], 0, 0};
        spatial = true;
        channels_ = d[3];
        features_.reset();
      } else if (type == "SumPool" || type == "MaxPool") {
        layer = io::make_toolbox_layer(type, ints(tok, 4));
        spatial = true;
        features_.reset();
      } else if (type == "Rect" || type == "Tanh" || type == "SoftMax" || type == "Flatten") {
        layer = io::make_toolbox_layer(type, ints(tok, 0));
        if (type == "Flatten") channels_.reset();
      } else {
        throw FormatError("layer spec: " + layer_ + ": unknown layer type '" + type +
                          "' (expected Linear, Convolution, SumPool, MaxPool, Flatten, Rect, Tanh or SoftMax)");
      }
      input_known = input_known || type == "Linear" || type == "Convolution";
      model.add(std::to_string(index_) + "_" + type, std::move(layer), {}, static_cast<int>(index_));
      ++index_;
    }
    if (model.nodes().empty()) throw FormatError("layer spec: no layers given");
    if (!input_known) throw FormatError("layer spec: no Linear or Convolution layer, nothing to train");
    model.layout = spatial ? DataLayout::NHWC : DataLayout::Features;
    if (spatial && model.input_shape.size() != 3) model.input_shape = {0, 0, 0};
    model.validate();
    if (!spatial) model.infer_shapes(model.input_shape);
    return model;
  }

 private:
  std::vector<std::size_t> ints(const std::vector<std::string>& tok, std::size_t count) const {
    if (tok.size() != count + 1)
      throw FormatError("layer spec: " + layer_ + ": " + tok[0] + " needs " + std::to_string(count) + " integer parameters, found " +
                        std::to_string(tok.size() - 1));
    std::vector<std::size_t> v;
    for (std::size_t i = 1; i < tok.size(); ++i) {
      std::size_t x = 0;
      const auto [p, ec] = std::from_chars(tok[i].data(), tok[i].data() + tok[i].size(), x);
      if (ec != std::errc() || p != tok[i].data() + tok[i].size() || x == 0 || x > (std::size_t(1) << 24))
        throw FormatError("layer spec: " + layer_ + ": parameter '" + tok[i] + "' is not a positive integer (at most 2^24)");
      v.push_back(x);
    }
    return v;
  }

  const std::string& spec_;
  std::size_t index_ = 0;
  std::string layer_;
  std::optional<std::size_t> features_;  // output features of the last Linear, when known
  std::optional<std::size_t> channels_;  // output channels of the last Convolution, when known
};

}  // namespace

void initialize_parameters(Model<double>& model, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  for (Node<double>& node : model.nodes()) {
    if (const auto* lin = dynamic_cast<const Linear<double>*>(node.layer.get())) {
      const std::size_t m = lin->in_features(), n = lin->out_features();
      std::normal_distribution<double> normal(0.0, 1.0 / std::sqrt(static_cast<double>(m)));
      Tensor<double> w({n, m});
      for (std::size_t i = 0; i < m; ++i)  // toolbox order: W[m, n] in C order
        for (std::size_t j = 0; j < n; ++j) w[j * m + i] = normal(rng);
      node.layer = std::make_unique<Linear<double>>(std::move(w), Tensor<double>({n}));
    } else if (const auto* conv = dynamic_cast<const Conv2d<double>*>(node.layer.get())) {
      const Shape& s = conv->weight().shape();  // [n, d, h, w] (d = input channels per group)
      const std::size_t n = s[0], d = s[1], h = s[2], w = s[3];
      std::normal_distribution<double> normal(0.0, 1.0 / std::sqrt(static_cast<double>(h * w * d)));
      Tensor<double> wt(s);
      for (std::size_t a = 0; a < h; ++a)  // toolbox order: W[h, w, d, n] in C order
        for (std::size_t b = 0; b < w; ++b)
          for (std::size_t c = 0; c < d; ++c)
            for (std::size_t f = 0; f < n; ++f) wt[((f * d + c) * h + a) * w + b] = normal(rng);
      node.layer = std::make_unique<Conv2d<double>>(std::move(wt), Tensor<double>({n}), conv->window(), conv->groups());
    }
  }
}

Model<double> build_network(const std::string& spec, std::uint64_t seed) {
  Model<double> model = SpecParser(spec).parse();
  initialize_parameters(model, seed);
  return model;
}

}  // namespace lrp::train
