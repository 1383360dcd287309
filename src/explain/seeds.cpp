#include "explain/seeds.hpp"

#include <algorithm>
#include <string>

#include "lrp/core/error.hpp"

namespace lrp {

std::size_t class_count(const Shape& out, const Target& target) {
  if (target.region == Target::Region::Unit) return shape_numel(out);
  if (target.region == Target::Region::Position) {
    if (out.size() < 2)
      throw ConfigError("target 'position:' needs an output with a position axis [N, T, V] (a language model's logits for every "
                        "token); the model's is [N, " + (out.empty() ? std::string("") : std::to_string(out[0])) + "]");
    return out.back();
  }
  if (out.size() < 2)
    throw ConfigError("targets 'channel:' and 'segment:' need an output with channels and positions [N, K, ...]; the model's is [N, " +
                      (out.empty() ? std::string("") : std::to_string(out[0])) + "]");
  return out[0];
}

template <class T>
Tensor<T> make_seeds(const Tensor<T>& y, const Target& target, std::vector<std::size_t>& chosen, std::vector<double>& scores,
                     std::size_t& k, bool unit) {
  const std::size_t n = y.dim(0), per = y.sample_size();
  chosen.clear();
  scores.clear();
  if (target.kind == Target::Kind::Relevance) {
    if (target.region != Target::Region::Unit) throw ConfigError("an explicit initial relevance takes no 'channel:'/'segment:'/'position:'");
    if (target.relevance.size() != y.size())
      throw ShapeError("initial relevance has shape " + shape_str(target.relevance.shape()) + ", the model output is " +
                       shape_str(y.shape()));
    k = 1;
    Tensor<T> s = target.relevance.template cast<T>();
    s.reshape(y.shape());
    return s;
  }
  const std::size_t c = class_count(Shape(y.shape().begin() + 1, y.shape().end()), target);
  // Class cls covers elements base + cls * plane + p, p < plane: one element of the chosen row
  // for Position, else every position of the class's channel (one for Unit).
  const bool at_position = target.region == Target::Region::Position;
  const std::size_t plane = at_position ? 1 : per / c, rows = per / c;
  const long row = target.position < 0 ? target.position + static_cast<long>(rows) : target.position;
  if (at_position && (row < 0 || row >= static_cast<long>(rows)))
    throw ConfigError("target position " + std::to_string(target.position) + " is out of range: the output has " + std::to_string(rows) +
                      " positions");
  const std::size_t base = at_position ? static_cast<std::size_t>(row) * c : 0;
  // Positions of sample i that seed class cls; the seed's sum is the class's score.
  std::vector<std::size_t> winner(plane);  // Segment: the largest channel at each position (first on ties)
  const auto winners = [&](const T* yi) {
    for (std::size_t p = 0; p < plane; ++p) {
      std::size_t best = 0;
      for (std::size_t q = 1; q < c; ++q)
        if (yi[q * plane + p] > yi[best * plane + p]) best = q;
      winner[p] = best;
    }
  };
  const auto seeded = [&](std::size_t cls, std::size_t p) { return target.region != Target::Region::Segment || winner[p] == cls; };
  const auto score = [&](const T* yi, std::size_t cls) {
    double s = 0;
    for (std::size_t p = 0; p < plane; ++p)
      if (seeded(cls, p)) s += static_cast<double>(yi[base + cls * plane + p]);
    return s;
  };
  std::vector<std::size_t> classes;  // per target slot (Classes/All) or per sample (Predicted/PerSample)
  switch (target.kind) {
    case Target::Kind::All:
      k = c;
      for (std::size_t j = 0; j < c; ++j) classes.push_back(j);
      break;
    case Target::Kind::Classes:
      k = target.classes.size();
      classes = target.classes;
      break;
    case Target::Kind::PerSample:
      k = 1;
      if (target.classes.size() != n)
        throw ShapeError("got " + std::to_string(target.classes.size()) + " labels for " + std::to_string(n) + " samples");
      break;
    default:
      k = 1;
  }
  Shape s = y.shape();
  s[0] = n * k;
  Tensor<T> seeds(s);
  for (std::size_t i = 0; i < n; ++i) {
    const T* yi = y.data() + i * per;
    if (target.region == Target::Region::Segment) winners(yi);
    const auto predicted = [&] {
      std::size_t best = 0;
      double best_score = score(yi, 0);
      for (std::size_t q = 1; q < c; ++q) {
        const double sq = score(yi, q);
        if (sq > best_score) best = q, best_score = sq;
      }
      return best;
    };
    for (std::size_t j = 0; j < k; ++j) {
      std::size_t cls = 0;
      if (target.kind == Target::Kind::Predicted) cls = predicted();
      else if (target.kind == Target::Kind::PerSample && target.classes[i] != Target::kPredicted) cls = target.classes[i];
      else if (target.kind == Target::Kind::PerSample) cls = predicted();
      else cls = classes[j];
      if (cls >= c)
        throw ConfigError("target class " + std::to_string(cls) + " is out of range: the model has " + std::to_string(c) +
                          (target.region == Target::Region::Unit ? " outputs"
                           : at_position                        ? " outputs per position"
                                                                : " output channels"));
      chosen.push_back(cls);
      scores.push_back(score(yi, cls));
      T* out_row = seeds.data() + (i * k + j) * per;
      for (std::size_t p = 0; p < plane; ++p)
        if (seeded(cls, p)) out_row[base + cls * plane + p] = unit ? T(1) : yi[base + cls * plane + p];
    }
  }
  return seeds;
}

template Tensor<float> make_seeds(const Tensor<float>&, const Target&, std::vector<std::size_t>&, std::vector<double>&, std::size_t&,
                                  bool);
template Tensor<double> make_seeds(const Tensor<double>&, const Target&, std::vector<std::size_t>&, std::vector<double>&,
                                   std::size_t&, bool);

}  // namespace lrp
