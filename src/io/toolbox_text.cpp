#include "lrp/io/toolbox_text.hpp"

#include <charconv>
#include <cmath>
#include <ostream>
#include <sstream>

#include "lrp/core/error.hpp"
#include "lrp/core/parse.hpp"
#include "lrp/io/atomic_file.hpp"
#include "lrp/layers/activation.hpp"
#include "lrp/layers/conv2d.hpp"
#include "lrp/layers/linear.hpp"
#include "lrp/layers/pool2d.hpp"
#include "lrp/layers/reshape.hpp"

namespace lrp::io {
namespace {

struct Line {
  std::size_t number;  // 1-based
  std::string text;
};

std::vector<Line> numbered_lines(const std::string& text) {
  std::vector<Line> lines;
  std::size_t n = 1;
  for (std::string& t : split_lines(text)) lines.push_back({n++, std::move(t)});
  return lines;
}

bool blank(const std::string& s) { return s.find_first_not_of(" \t") == std::string::npos; }

std::vector<std::string> tokens(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  std::string t;
  while (in >> t) out.push_back(t);
  return out;
}

class Reader {
 public:
  Reader(const std::string& text, const std::string& source) : lines_(numbered_lines(text)), source_(source), size_(text.size()) {}

  Model<double> read() {
    Model<double> model;
    model.source = source_;
    bool input_known = false;
    bool spatial = false;
    int index = 0;
    while (pos_ < lines_.size()) {
      if (blank(lines_[pos_].text)) {
        // A blank line ends the model; anything but more blank lines after it is an error.
        for (std::size_t p = pos_; p < lines_.size(); ++p)
          if (!blank(lines_[p].text))
            throw FormatError(where(lines_[p].number) + ": layer after a blank line (line " +
                              std::to_string(lines_[pos_].number) + "); the original toolbox would silently drop it");
        break;
      }
      const Line& header = lines_[pos_++];
      const std::vector<std::string> tok = tokens(header.text);
      const std::string& type = tok[0];
      layer_ = "layer " + std::to_string(index) + " (" + type + ")";
      std::unique_ptr<Layer<double>> layer;
      if (type == "Linear") {
        const std::vector<std::size_t> d = ints(tok, 2, header.number);
        layer = read_linear(d[0], d[1], header.number);
        if (!input_known) model.input_shape = {d[0]};
      } else if (type == "Convolution") {
        const std::vector<std::size_t> d = ints(tok, 6, header.number);
        layer = read_conv(d, header.number);
        if (!input_known) model.input_shape = {d[2], 0, 0};
        spatial = true;
      } else if (type == "SumPool" || type == "MaxPool") {
        layer = make_toolbox_layer(type, ints(tok, 4, header.number));
        spatial = true;
      } else if (type == "Rect" || type == "Tanh" || type == "SoftMax" || type == "Flatten") {
        layer = make_toolbox_layer(type, ints(tok, 0, header.number));
      } else {
        throw FormatError(where(header.number) + ": unknown layer type '" + type +
                          "' (expected Linear, Convolution, SumPool, MaxPool, Flatten, Rect, Tanh or SoftMax)");
      }
      input_known = input_known || type == "Linear" || type == "Convolution";
      model.add(std::to_string(index) + "_" + type, std::move(layer), {}, index);
      ++index;
    }
    if (model.nodes().empty()) throw FormatError(source_ + ": no layers found");
    model.layout = spatial ? DataLayout::NHWC : DataLayout::Features;
    if (spatial && model.input_shape.size() != 3) model.input_shape = {0, 0, 0};
    return model;
  }

 private:
  std::string where(std::size_t line) const { return source_ + ":" + std::to_string(line); }

  // Exactly `count` positive integer parameters after the layer name.
  std::vector<std::size_t> ints(const std::vector<std::string>& tok, std::size_t count, std::size_t line) const {
    if (tok.size() != count + 1)
      throw FormatError(where(line) + ": " + layer_ + " header needs " + std::to_string(count) + " integer parameters, found " +
                        std::to_string(tok.size() - 1));
    std::vector<std::size_t> v;
    for (std::size_t i = 1; i < tok.size(); ++i) {
      std::size_t x = 0;
      const auto [p, ec] = std::from_chars(tok[i].data(), tok[i].data() + tok[i].size(), x);
      if (ec != std::errc() || p != tok[i].data() + tok[i].size() || x == 0)
        throw FormatError(where(line) + ": " + layer_ + " parameter '" + tok[i] + "' is not a positive integer");
      v.push_back(x);
    }
    return v;
  }

  // Product of declared dimensions, rejected when it could not fit in the file (absurd sizes
  // are caught before anything is allocated).
  std::size_t declared(const std::vector<std::size_t>& dims, std::size_t line) const {
    std::size_t n = 1;
    for (std::size_t d : dims) {
      if (n > size_ / d) throw FormatError(where(line) + ": " + layer_ + " declares more values than the file can hold");
      n *= d;
    }
    return n;
  }

  void check_count(std::size_t count, std::size_t line) const {
    if (count > size_) throw FormatError(where(line) + ": " + layer_ + " declares " + std::to_string(count) +
                                         " values, more than the file can hold");
  }

  std::vector<double> numbers(const Line& line, const std::string& what) const {
    std::vector<double> v;
    std::istringstream in(line.text);
    std::string t;
    while (in >> t) {
      double x = 0;
      const auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), x);
      if (ec != std::errc() || p != t.data() + t.size())
        throw FormatError(where(line.number) + ": " + layer_ + " " + what + ": '" + t + "' is not a number");
      if (!std::isfinite(x)) throw FormatError(where(line.number) + ": " + layer_ + " " + what + " contains " + t);
      v.push_back(x);
    }
    return v;
  }

  const Line& next_line(const std::string& what) {
    if (pos_ >= lines_.size() || blank(lines_[pos_].text))
      throw FormatError(where(pos_ < lines_.size() ? lines_[pos_].number : lines_.size() + 1) + ": " + layer_ + ": missing " +
                        what + " line (file truncated?)");
    return lines_[pos_++];
  }

  std::vector<double> values(std::size_t expected, const std::string& what) {
    const Line& line = next_line(what);
    std::vector<double> v = numbers(line, what);
    if (v.size() != expected)
      throw FormatError(where(line.number) + ": " + layer_ + ": expected " + std::to_string(expected) + " " + what + ", found " +
                        std::to_string(v.size()));
    return v;
  }

  std::unique_ptr<Layer<double>> read_linear(std::size_t m, std::size_t n, std::size_t line) {
    check_count(declared({m, n}, line), line);
    std::vector<double> w;
    const Line& first = next_line("weights");
    std::vector<double> row = numbers(first, "weights");
    if (row.size() == m * n) {
      w = std::move(row);
    } else if (row.size() == n && m > 1) {
      // legacy layout: m lines of n weights
      w = std::move(row);
      for (std::size_t i = 1; i < m; ++i) {
        std::vector<double> r = values(n, "weights (legacy row " + std::to_string(i) + ")");
        w.insert(w.end(), r.begin(), r.end());
      }
    } else {
      throw FormatError(where(first.number) + ": " + layer_ + ": expected " + std::to_string(m * n) + " weights, found " +
                        std::to_string(row.size()));
    }
    std::vector<double> b = values(n, "biases");
    Tensor<double> wt({n, m});
    for (std::size_t i = 0; i < m; ++i)
      for (std::size_t j = 0; j < n; ++j) wt[j * m + i] = w[i * n + j];
    return std::make_unique<Linear<double>>(std::move(wt), Tensor<double>({n}, std::move(b)));
  }

  std::unique_ptr<Layer<double>> read_conv(const std::vector<std::size_t>& d, std::size_t line) {
    const std::size_t h = d[0], w = d[1], c = d[2], n = d[3];
    check_count(declared({h, w, c, n}, line), line);
    std::vector<double> wv = values(h * w * c * n, "weights");
    std::vector<double> b = values(n, "biases");
    Tensor<double> wt({n, c, h, w});
    for (std::size_t a = 0; a < h; ++a)
      for (std::size_t bb = 0; bb < w; ++bb)
        for (std::size_t cc = 0; cc < c; ++cc)
          for (std::size_t f = 0; f < n; ++f) wt[((f * c + cc) * h + a) * w + bb] = wv[((a * w + bb) * c + cc) * n + f];
    Window2d win;
    win.kh = h;
    win.kw = w;
    win.sh = d[4];
    win.sw = d[5];
    return std::make_unique<Conv2d<double>>(std::move(wt), Tensor<double>({n}, std::move(b)), win, 1);
  }

  std::vector<Line> lines_;
  std::string source_;
  std::size_t size_;
  std::size_t pos_ = 0;
  std::string layer_;
};

void write_values(std::ostream& out, const std::vector<double>& v) {
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i) out << ' ';
    out << format_number(v[i]);
  }
  out << '\n';
}

}  // namespace

std::unique_ptr<Layer<double>> make_toolbox_layer(const std::string& type, const std::vector<std::size_t>& d) {
  if ((type == "SumPool" || type == "MaxPool") && d.size() == 4) {
    PoolSpec spec;
    spec.mode = type == "MaxPool" ? PoolMode::Max : PoolMode::Sum;
    spec.type_name = type;
    spec.window.kh = d[0];
    spec.window.kw = d[1];
    spec.window.sh = d[2];
    spec.window.sw = d[3];
    spec.divisor = std::sqrt(static_cast<double>(d[0]) * static_cast<double>(d[1]));  // the toolbox's SumPool
    return std::make_unique<Pool2d<double>>(spec);
  }
  if (!d.empty()) return nullptr;
  if (type == "Rect") return std::make_unique<Activation<double>>(ActivationSpec{ActivationKind::ReLU});
  if (type == "Tanh") return std::make_unique<Activation<double>>(ActivationSpec{ActivationKind::Tanh});
  if (type == "SoftMax") return std::make_unique<SoftMax<double>>();
  if (type == "Flatten") return std::make_unique<Flatten<double>>(true);
  return nullptr;
}

Model<double> parse_toolbox_model(const std::string& text, const std::string& source) {
  return Reader(text, source).read();
}

Model<double> read_toolbox_model(const std::string& path) { return parse_toolbox_model(read_file_bytes(path), path); }

std::string format_toolbox_model(const Model<double>& model) {
  std::ostringstream out;
  for (std::size_t i = 0; i < model.nodes().size(); ++i) {
    const Node<double>& node = model.nodes()[i];
    const Layer<double>& l = *node.layer;
    const std::string what = model.node_label(i);
    if (node.inputs.size() != 1 || node.inputs[0] != (i == 0 ? 0 : model.nodes()[i - 1].output))
      throw ConfigError(what + ": the toolbox format holds only sequential models");
    if (const auto* lin = dynamic_cast<const Linear<double>*>(&l)) {
      const std::size_t m = lin->in_features(), n = lin->out_features();
      out << "Linear " << m << ' ' << n << '\n';
      std::vector<double> w(m * n);
      for (std::size_t a = 0; a < m; ++a)
        for (std::size_t b = 0; b < n; ++b) w[a * n + b] = lin->weight()[b * m + a];
      write_values(out, w);
      write_values(out, lin->bias().vec());
    } else if (const auto* conv = dynamic_cast<const Conv2d<double>*>(&l)) {
      const Window2d& k = conv->window();
      if (conv->groups() != 1 || k.pt || k.pl || k.pb || k.pr || k.dh != 1 || k.dw != 1)
        throw ConfigError(what + ": the toolbox format has no padding, dilation or groups");
      const std::size_t n = conv->out_channels(), c = conv->in_channels(), h = k.kh, w = k.kw;
      out << "Convolution " << h << ' ' << w << ' ' << c << ' ' << n << ' ' << k.sh << ' ' << k.sw << '\n';
      std::vector<double> wv(h * w * c * n);
      for (std::size_t a = 0; a < h; ++a)
        for (std::size_t b = 0; b < w; ++b)
          for (std::size_t cc = 0; cc < c; ++cc)
            for (std::size_t f = 0; f < n; ++f) wv[((a * w + b) * c + cc) * n + f] = conv->weight()[((f * c + cc) * h + a) * w + b];
      write_values(out, wv);
      write_values(out, conv->bias().vec());
    } else if (const auto* pool = dynamic_cast<const Pool2d<double>*>(&l)) {
      const PoolSpec& s = pool->spec();
      const Window2d& k = s.window;
      const bool sum_ok = s.mode == PoolMode::Sum && s.divisor == std::sqrt(static_cast<double>(k.kh * k.kw));
      if (s.global || k.pt || k.pl || k.pb || k.pr || k.dh != 1 || k.dw != 1 || (s.mode == PoolMode::Sum && !sum_ok))
        throw ConfigError(what + ": the toolbox format has only unpadded MaxPool and SumPool");
      out << (s.mode == PoolMode::Max ? "MaxPool " : "SumPool ") << k.kh << ' ' << k.kw << ' ' << k.sh << ' ' << k.sw << '\n';
    } else if (const auto* act = dynamic_cast<const Activation<double>*>(&l)) {
      if (act->spec().kind == ActivationKind::ReLU) out << "Rect\n";
      else if (act->spec().kind == ActivationKind::Tanh) out << "Tanh\n";
      else throw ConfigError(what + ": the toolbox format has no " + act->type_name() + " layer");
    } else if (dynamic_cast<const SoftMax<double>*>(&l)) {
      out << "SoftMax\n";
    } else if (const auto* fl = dynamic_cast<const Flatten<double>*>(&l)) {
      if (!fl->channels_last() && model.layout == DataLayout::NHWC)
        throw ConfigError(what + ": a channels-first Flatten cannot be written in the toolbox format");
      out << "Flatten\n";
    } else {
      throw ConfigError(what + ": the toolbox format has no " + l.type_name() + " layer");
    }
  }
  return out.str();
}

void write_toolbox_model(const Model<double>& model, const std::string& path) {
  const std::string text = format_toolbox_model(model);
  write_file_atomic(path, [&](std::ostream& out) { out << text; });
}

}  // namespace lrp::io
