// trim_dead_taps: convolutions whose outer taps read only padding (DeepLab's ASPP on a small
// map) lose those taps, and nothing a model computes or explains changes: the forward output,
// and the relevance under every rule, against the untrimmed model (double, 1e-12).
#include <gtest/gtest.h>

#include <random>

#include "lrp/explain/explain.hpp"
#include "lrp/graph/simplify.hpp"
#include "lrp/layers/activation.hpp"
#include "lrp/layers/conv2d.hpp"
#include "lrp/rules/composite.hpp"
#include "lrp/rules/rule.hpp"
#include "support/compare.hpp"
#include "support/random_model.hpp"

namespace lrp {
namespace {

Window2d window(std::size_t kh, std::size_t kw, std::size_t d, std::size_t pad) {
  Window2d w;
  w.kh = kh;
  w.kw = kw;
  w.dh = w.dw = d;
  w.pt = w.pb = w.pl = w.pr = pad;
  return w;
}

// Input 3 x 6 x 5: a plain 3x3 (nothing to trim), a 3x3 with dilation 6 (only the centre tap is
// live: 1x1), one with dilation 5 (all 6 rows reach the map, of the 5 columns only the centre)
// and a 3x3 dilation 2 stride 2 with asymmetric padding (nothing dead).
Model<double> aspp_like(std::mt19937_64& rng) {
  Model<double> m;
  m.input_shape = {3, 6, 5};
  m.layout = DataLayout::NCHW;
  m.add("plain", std::make_unique<Conv2d<double>>(test::random_tensor({4, 3, 3, 3}, rng), test::random_tensor({4}, rng, 0.1),
                                                  window(3, 3, 1, 1)));
  m.add("relu1", std::make_unique<Activation<double>>(ActivationSpec{}));
  m.add("wide", std::make_unique<Conv2d<double>>(test::random_tensor({5, 4, 3, 3}, rng), test::random_tensor({5}, rng, 0.1),
                                                 window(3, 3, 6, 6)));
  m.add("relu2", std::make_unique<Activation<double>>(ActivationSpec{}));
  Window2d mid = window(3, 3, 5, 5);
  m.add("mid", std::make_unique<Conv2d<double>>(test::random_tensor({4, 5, 3, 3}, rng), test::random_tensor({4}, rng, 0.1), mid));
  m.add("relu3", std::make_unique<Activation<double>>(ActivationSpec{}));
  Window2d strided = window(3, 3, 2, 2);
  strided.sh = strided.sw = 2;
  strided.pb = 1;
  m.add("strided", std::make_unique<Conv2d<double>>(test::random_tensor({3, 4, 3, 3}, rng), test::random_tensor({3}, rng, 0.1),
                                                    strided));
  return m;
}

TEST(GraphSimplify, DeadTapsGoAndNothingChanges) {
  std::mt19937_64 rng(21);
  const Model<double> full = aspp_like(rng);
  Model<double> trimmed = full;
  EXPECT_EQ(trim_dead_taps(trimmed), 2u);
  const auto window_of = [&](const std::string& name) {
    for (const Node<double>& n : trimmed.nodes())
      if (n.name == name) return static_cast<const Conv2d<double>&>(*n.layer).window();
    return Window2d{};
  };
  EXPECT_EQ(window_of("plain").kh, 3u);
  EXPECT_EQ(window_of("wide").kh, 1u);
  EXPECT_EQ(window_of("wide").kw, 1u);
  EXPECT_EQ(window_of("wide").pt, 0u);
  EXPECT_EQ(window_of("mid").kh, 3u);  // row 5 reads row 0 through the upper tap
  EXPECT_EQ(window_of("mid").kw, 1u);  // column offsets of 5 leave a 5-wide map
  EXPECT_EQ(window_of("strided").kh, 3u);
  EXPECT_EQ(trim_dead_taps(trimmed), 0u) << "a second pass finds nothing";

  const Tensor<double> x = test::random_tensor({2, 3, 6, 5}, rng);
  for (const std::string rule : {"epsilon:0.01", "zplus", "alphabeta:2", "gamma:0.25", "flat", "w2", "zbox:-2,3", "z"}) {
    SCOPED_TRACE(rule);
    ExplainRequest req;
    req.rules = uniform_rules(full, parse_rule(rule));
    req.target.kind = Target::Kind::All;
    const Explanation<double> a = explain(full, x, req);
    const Explanation<double> b = explain(trimmed, x, req);
    EXPECT_LE(test::max_rel_error(b.output, a.output), 1e-12);
    EXPECT_LE(test::max_rel_error(b.relevance, a.relevance), 1e-12);
  }
  ExplainRequest grad;
  grad.method = Method::Gradient;
  EXPECT_LE(test::max_rel_error(explain(trimmed, x, grad).relevance, explain(full, x, grad).relevance), 1e-12);
}

}  // namespace
}  // namespace lrp
