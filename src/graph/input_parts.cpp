#include "lrp/graph/input_parts.hpp"

#include <algorithm>

#include "lrp/core/error.hpp"

namespace lrp {
namespace {

template <class M>
std::string parts_text(const Model<M>& model) {
  std::string s;
  for (const InputPart& p : model.input_parts) s += (s.empty() ? "'" : ", '") + p.name + "' [N," + shape_str(p.shape).substr(1);
  return s;
}

}  // namespace

template <class M>
Tensor<double> pack_input_parts(const Model<M>& model, const std::map<std::string, Tensor<double>>& arrays, const std::string& source) {
  const auto needs = [&] { return "model '" + model.source + "' takes " + parts_text(model); };
  std::size_t total = 0;
  for (const InputPart& p : model.input_parts) total += shape_numel(p.shape);
  std::size_t n = 0;
  bool have_n = false;
  for (const InputPart& p : model.input_parts) {
    const auto it = arrays.find(p.name);
    if (it == arrays.end()) throw ShapeError(source + ": no array '" + p.name + "' for the input of that name; " + needs());
    const Shape& s = it->second.shape();
    const bool one_sample = s == p.shape;
    if (!one_sample && (s.size() != p.shape.size() + 1 || !std::equal(p.shape.begin(), p.shape.end(), s.begin() + 1)))
      throw ShapeError(source + ": array '" + p.name + "' has shape " + shape_str(s) + "; " + needs());
    const std::size_t rows = one_sample ? 1 : s[0];
    if (have_n && rows != n)
      throw ShapeError(source + ": array '" + p.name + "' holds " + std::to_string(rows) + " samples, the one before it " + std::to_string(n));
    n = rows;
    have_n = true;
  }
  for (const auto& [name, t] : arrays) {
    const bool known = std::any_of(model.input_parts.begin(), model.input_parts.end(), [&](const InputPart& p) { return p.name == name; });
    if (!known) throw ShapeError(source + ": array '" + name + "' is no input of the model; " + needs());
  }
  Tensor<double> packed({n, total});
  std::size_t offset = 0;
  for (const InputPart& p : model.input_parts) {
    const Tensor<double>& a = arrays.at(p.name);
    const std::size_t size = shape_numel(p.shape);
    for (std::size_t row = 0; row < n; ++row) std::copy_n(a.data() + row * size, size, packed.data() + row * total + offset);
    offset += size;
  }
  return packed;
}

template <class M, class T>
std::map<std::string, Tensor<T>> split_input_parts(const Model<M>& model, const Tensor<T>& packed) {
  std::size_t total = 0;
  for (const InputPart& p : model.input_parts) total += shape_numel(p.shape);
  if (packed.rank() < 1 || packed.shape().back() != total)
    throw ShapeError("internal: a packed tensor of " + shape_str(packed.shape()) + " for inputs of " + std::to_string(total) + " values");
  const std::size_t rows = packed.size() / total;
  const Shape lead(packed.shape().begin(), packed.shape().end() - 1);
  std::map<std::string, Tensor<T>> out;
  std::size_t offset = 0;
  for (const InputPart& p : model.input_parts) {
    const std::size_t size = shape_numel(p.shape);
    Shape s = lead;
    s.insert(s.end(), p.shape.begin(), p.shape.end());
    Tensor<T> t(s);
    for (std::size_t row = 0; row < rows; ++row) std::copy_n(packed.data() + row * total + offset, size, t.data() + row * size);
    out.emplace(p.name, std::move(t));
    offset += size;
  }
  return out;
}

template Tensor<double> pack_input_parts(const Model<double>&, const std::map<std::string, Tensor<double>>&, const std::string&);
template Tensor<double> pack_input_parts(const Model<float>&, const std::map<std::string, Tensor<double>>&, const std::string&);
template std::map<std::string, Tensor<float>> split_input_parts(const Model<float>&, const Tensor<float>&);
template std::map<std::string, Tensor<double>> split_input_parts(const Model<double>&, const Tensor<double>&);
template std::map<std::string, Tensor<float>> split_input_parts(const Model<double>&, const Tensor<float>&);
template std::map<std::string, Tensor<double>> split_input_parts(const Model<float>&, const Tensor<double>&);

}  // namespace lrp
