// Einsum of two computed values, imported as Transpose / Reshape / MatMul layers: the forward
// against a direct evaluation of the equation (every label assignment summed), the gradient
// against central differences (exact for a bilinear function, up to rounding), LRP's
// conservation through the product, and the forms that are refused by name.
#include <gtest/gtest.h>

#include <map>
#include <utility>
#include <string>
#include <tuple>
#include <vector>

#include "lrp/core/error.hpp"
#include "lrp/explain/explain.hpp"
#include "lrp/io/onnx.hpp"
#include "lrp/layers/matmul.hpp"
#include "support/onnx_test_util.hpp"

namespace lrp::test {
namespace {

using B = OnnxBuilder;

struct Case {
  std::string equation;  // as the exporter writes it (spaces allowed)
  std::string a, b, out;  // the terms without spaces, the batch label n first
  std::map<char, std::size_t> size;
};

std::size_t numel(const std::string& term, const Case& k) {
  std::size_t n = 1;
  for (char ch : term.substr(1)) n *= k.size.at(ch);
  return n;
}

std::vector<std::int64_t> dims(const std::string& term, const Case& k) {
  std::vector<std::int64_t> d{0};  // Reshape's 0: the batch as it is
  for (char ch : term.substr(1)) d.push_back(static_cast<std::int64_t>(k.size.at(ch)));
  return d;
}

// The input [N, |A| + |B|] split into A and B, each reshaped to its term's axes, then the Einsum.
B einsum_model(const Case& k) {
  const auto na = static_cast<std::int64_t>(numel(k.a, k)), nb = static_cast<std::int64_t>(numel(k.b, k));
  B b;
  b.input("x", {-1, na + nb}).output("y");
  b.init_i64("a_from", {1}, {0}).init_i64("a_to", {1}, {na}).init_i64("b_from", {1}, {na}).init_i64("b_to", {1}, {na + nb});
  b.init_i64("axis", {1}, {1});
  b.init_i64("a_shape", {static_cast<std::int64_t>(k.a.size())}, dims(k.a, k));
  b.init_i64("b_shape", {static_cast<std::int64_t>(k.b.size())}, dims(k.b, k));
  b.node("Slice", {"x", "a_from", "a_to", "axis"}, {"a_flat"}, "a_slice");
  b.node("Slice", {"x", "b_from", "b_to", "axis"}, {"b_flat"}, "b_slice");
  b.node("Reshape", {"a_flat", "a_shape"}, {"a"}, "a_reshape");
  b.node("Reshape", {"b_flat", "b_shape"}, {"b"}, "b_reshape");
  B::attr(b.node("Einsum", {"a", "b"}, {"y"}, "einsum"), "equation", k.equation);
  return b;
}

// out (labels `to`) += a (labels `ta`) * b (labels `tb`) by the definition: for every
// assignment of all labels, the product of the two entries the terms pick is added to the
// output entry (row-major offsets per term; no batch label here).
void by_definition(const std::string& ta, const double* a, const std::string& tb, const double* b, const std::string& to,
                   const std::map<char, std::size_t>& size, double* out) {
  std::string labels;
  for (char ch : ta + tb)
    if (labels.find(ch) == std::string::npos) labels += ch;
  const auto offset = [&](const std::string& term, const std::map<char, std::size_t>& at) {
    std::size_t o = 0;
    for (char ch : term) o = o * size.at(ch) + at.at(ch);
    return o;
  };
  std::size_t total = 1;
  for (char ch : labels) total *= size.at(ch);
  for (std::size_t flat = 0; flat < total; ++flat) {
    std::map<char, std::size_t> at;
    std::size_t rest = flat;
    for (char ch : labels) {
      at[ch] = rest % size.at(ch);
      rest /= size.at(ch);
    }
    out[offset(to, at)] += a[offset(ta, at)] * b[offset(tb, at)];
  }
}

// y of every sample of x (A, then B, in each row), the batch label dropped from the terms.
std::vector<double> reference(const Case& k, const Tensor<double>& x) {
  const std::size_t na = numel(k.a, k), nb = numel(k.b, k), no = numel(k.out, k), samples = x.shape()[0];
  std::vector<double> y(samples * no, 0.0);
  for (std::size_t n = 0; n < samples; ++n) {
    const double* row = x.data() + n * (na + nb);
    by_definition(k.a.substr(1), row, k.b.substr(1), row + na, k.out.substr(1), k.size, y.data() + n * no);
  }
  return y;
}

const std::vector<Case>& cases() {
  static const std::vector<Case> all = {
      // MaxViT's attention scores and weighted values (batch axes g, h).
      {"n g h i d, n g h j d -> n g h i j", "nghid", "nghjd", "nghij", {{'g', 2}, {'h', 2}, {'i', 3}, {'j', 4}, {'d', 5}}},
      {"nghij,nghjd->nghid", "nghij", "nghjd", "nghid", {{'g', 1}, {'h', 3}, {'i', 2}, {'j', 4}, {'d', 3}}},
      // Two contracted labels in different orders, the output's free axes swapped.
      {"nabc,ncdb->nda", "nabc", "ncdb", "nda", {{'a', 3}, {'b', 2}, {'c', 4}, {'d', 5}}},
      // Nothing contracted (an outer product), and nothing free in B (a matrix times a vector).
      {"ni,nj->nij", "ni", "nj", "nij", {{'i', 3}, {'j', 4}}},
      {"nab,nb->na", "nab", "nb", "na", {{'a', 4}, {'b', 3}}},
      // Free labels of both inputs interleaved in the output; a batch label after them.
      {"nipk,nkqp->nqip", "nipk", "nkqp", "nqip", {{'i', 2}, {'p', 3}, {'k', 4}, {'q', 2}}},
      // Ellipses: the batch and the heads under "...", explicit and implicit outputs.
      {"...ij,...jk->...ik", "nhij", "nhjk", "nhik", {{'h', 2}, {'i', 3}, {'j', 4}, {'k', 5}}},
      {"... i j, ... k j", "nhij", "nhkj", "nhik", {{'h', 3}, {'i', 2}, {'j', 4}, {'k', 3}}},
      {"n...d,n...e->n...de", "nabd", "nabe", "nabde", {{'a', 2}, {'b', 3}, {'d', 2}, {'e', 3}}},
  };
  return all;
}

TEST(OnnxEinsum, ForwardMatchesTheEquation) {
  for (const Case& k : cases()) {
    SCOPED_TRACE(k.equation);
    const Model<double> m = io::parse_onnx_model(einsum_model(k).bytes(), "einsum.onnx");
    const Tensor<double> x = random_tensor({3, numel(k.a, k) + numel(k.b, k)}, 11);
    const Tensor<double> y = run_forward<double>(m, x);
    ASSERT_EQ(y.size(), 3 * numel(k.out, k));
    EXPECT_EQ(y.shape()[1], k.size.at(k.out[1]));
    const std::vector<double> want = reference(k, x);
    for (std::size_t e = 0; e < want.size(); ++e) EXPECT_NEAR(y[e], want[e], 1e-12) << "element " << e;
  }
}

// d/dx of sum(R * y(x)) by the engine against central differences; y is bilinear in x, so the
// difference quotient is exact but for rounding (tolerance 1e-7 at h = 1e-3).
TEST(OnnxEinsum, GradientMatchesCentralDifferences) {
  for (const Case& k : cases()) {
    SCOPED_TRACE(k.equation);
    const Model<double> m = io::parse_onnx_model(einsum_model(k).bytes(), "einsum.onnx");
    const Tensor<double> x = random_tensor({2, numel(k.a, k) + numel(k.b, k)}, 12);
    const Tensor<double> y = run_forward<double>(m, x);
    const Tensor<double> seed = random_tensor(y.shape(), 13);
    ExplainRequest req;
    req.method = Method::Gradient;
    req.target.kind = Target::Kind::Relevance;
    req.target.relevance = seed;
    const Explanation<double> e = explain(m, x, req);
    const auto f = [&](const Tensor<double>& at) {
      const Tensor<double> out = run_forward<double>(m, at);
      double s = 0;
      for (std::size_t i = 0; i < out.size(); ++i) s += seed[i] * out[i];
      return s;
    };
    const double h = 1e-3;
    for (std::size_t i = 0; i < x.size(); ++i) {
      Tensor<double> up = x, down = x;
      up[i] += h;
      down[i] -= h;
      EXPECT_NEAR(e.relevance[i], (f(up) - f(down)) / (2 * h), 1e-7) << "input " << i;
    }
  }
}

// The product's relevance is split between its factors (each share by the epsilon rule), the
// slices and reshapes pass it on: the input's relevance sums to the output's per sample.
TEST(OnnxEinsum, RelevanceIsConserved) {
  for (const Case& k : cases()) {
    SCOPED_TRACE(k.equation);
    const Model<double> m = io::parse_onnx_model(einsum_model(k).bytes(), "einsum.onnx");
    const Tensor<double> x = random_tensor({2, numel(k.a, k) + numel(k.b, k)}, 14, 0.5, 1.5);  // no product near 0
    ExplainRequest req;
    req.rules.assign(m.nodes().size(), Rule::epsilon_rule(1e-9));
    req.target.kind = Target::Kind::Relevance;
    req.target.relevance = random_tensor(run_forward<double>(m, x).shape(), 15);
    const Explanation<double> e = explain(m, x, req);
    const std::size_t per_in = x.size() / 2, per_out = req.target.relevance.size() / 2;
    for (std::size_t n = 0; n < 2; ++n) {
      double in = 0, out = 0;
      for (std::size_t i = 0; i < per_in; ++i) in += e.relevance[n * per_in + i];
      for (std::size_t i = 0; i < per_out; ++i) out += req.target.relevance[n * per_out + i];
      EXPECT_NEAR(in, out, 1e-6 * (1 + std::abs(out))) << "sample " << n;
    }
  }
}

// A model run as a batch of one may move its batch axis: "inj,njk->nik" (A's batch axis moved
// by its Reshape), "nij,mjk->nmik" (both batch-first, but B's first label is not the batch) and
// ellipses of different lengths take the whole tensors as labelled; the output, its batch axis
// back in front, is [1, ..., i, k].
TEST(OnnxEinsum, BatchOfOneMovesTheBatchAxis) {
  const auto run = [](const std::vector<std::int64_t>& a_shape, const std::string& equation,
                      const std::vector<std::int64_t>& b_shape = {1, 3, 4}) {
    B b;
    b.input("x", {1, 18}).output("y");
    b.init_i64("a_from", {1}, {0}).init_i64("a_to", {1}, {6}).init_i64("b_from", {1}, {6}).init_i64("b_to", {1}, {18});
    b.init_i64("axis", {1}, {1}).init_i64("a_shape", {static_cast<std::int64_t>(a_shape.size())}, a_shape);
    b.init_i64("b_shape", {static_cast<std::int64_t>(b_shape.size())}, b_shape);
    b.node("Slice", {"x", "a_from", "a_to", "axis"}, {"a_flat"}, "a_slice");
    b.node("Slice", {"x", "b_from", "b_to", "axis"}, {"b_flat"}, "b_slice");
    b.node("Reshape", {"a_flat", "a_shape"}, {"a"}, "a_reshape");
    b.node("Reshape", {"b_flat", "b_shape"}, {"b"}, "b_reshape");
    B::attr(b.node("Einsum", {"a", "b"}, {"y"}, "einsum"), "equation", equation);
    return run_forward<double>(io::parse_onnx_model(b.bytes(), "einsum.onnx"), random_tensor({1, 18}, 16));
  };
  const Tensor<double> x = random_tensor({1, 18}, 16);
  for (const auto& [a_shape, equation, shape] :
       {std::tuple{std::vector<std::int64_t>{2, 1, 3}, "inj,njk->nik", Shape{1, 2, 4}},
        std::tuple{std::vector<std::int64_t>{1, 2, 3}, "nij,mjk->nmik", Shape{1, 1, 2, 4}}}) {
    SCOPED_TRACE(equation);
    const Tensor<double> y = run(a_shape, equation);
    ASSERT_EQ(y.shape(), shape);
    for (std::size_t i = 0; i < 2; ++i)
      for (std::size_t k = 0; k < 4; ++k) {
        double want = 0;
        for (std::size_t j = 0; j < 3; ++j) want += x[i * 3 + j] * x[6 + j * 4 + k];
        EXPECT_NEAR(y[i * 4 + k], want, 1e-12) << i << k;
      }
  }
  // Ellipses of different lengths align from the right, as NumPy broadcasts: A [1, 2, 1, 3]
  // "...ij" (under "...": 1, 2) and B [2, 3, 2] "...jk" (2) share the axis of 2.
  const Tensor<double> y = run({1, 2, 1, 3}, "...ij,...jk->...ik", {2, 3, 2});
  ASSERT_EQ(y.shape(), (Shape{1, 2, 1, 2}));
  for (std::size_t h = 0; h < 2; ++h)
    for (std::size_t k = 0; k < 2; ++k) {
      double want = 0;
      for (std::size_t j = 0; j < 3; ++j) want += x[h * 3 + j] * x[6 + h * 6 + j * 2 + k];
      EXPECT_NEAR(y[h * 2 + k], want, 1e-12) << h << k;
    }
}

// Attention weights (a SoftMax output) feeding the product stay marked as its gate (CP-LRP holds
// them constant), through the transposes the lowering adds.
TEST(OnnxEinsum, MarksSoftmaxWeightsAsTheGate) {
  for (const bool weights_first : {true, false}) {
    Case k{weights_first ? "nij,nkj->nik" : "nkj,nij->nik", "nij", "nkj", "nik", {{'i', 2}, {'j', 3}, {'k', 4}}};
    if (!weights_first) std::swap(k.a, k.b);
    const std::string weights = weights_first ? "a" : "b";  // the Einsum input "nij"
    onnx::ModelProto proto;
    ASSERT_TRUE(proto.ParseFromString(einsum_model(k).bytes()));
    onnx::GraphProto& g = *proto.mutable_graph();
    for (onnx::NodeProto& n : *g.mutable_node())
      if (n.name() == weights + "_reshape") n.set_output(0, weights + "_raw");
    onnx::NodeProto& sm = *g.add_node();
    sm.set_op_type("Softmax"), sm.set_name("weights"), sm.add_input(weights + "_raw"), sm.add_output(weights);
    std::string bytes;
    proto.SerializeToString(&bytes);
    const Model<double> m = io::parse_onnx_model(bytes, "einsum.onnx");
    int gates = 0;
    for (const auto& node : m.nodes())
      if (node.layer->kind() == LayerKind::MatMul) {
        EXPECT_EQ(dynamic_cast<const MatMul<double>&>(*node.layer).gate(), weights_first ? 0 : 1);
        ++gates;
      }
    EXPECT_EQ(gates, 1);
  }
}

// A constant input becomes a Linear over the rows of the other's last axis: the forward by the
// definition, and every input's relevance by the epsilon rule summing to the output's (no bias).
TEST(OnnxEinsum, ConstantInputBecomesALinearLayer) {
  struct ConstCase {
    std::string equation;
    bool constant_first;
    std::string x, w, out;  // terms without the batch label
    std::map<char, std::size_t> size;
  };
  const std::vector<ConstCase> all = {
      {"nld,dh->nlh", false, "ld", "dh", "lh", {{'l', 3}, {'d', 4}, {'h', 5}}},
      {"dh,nld->nhl", true, "ld", "dh", "hl", {{'l', 3}, {'d', 4}, {'h', 5}}},
      {"nd,dhk->nhk", false, "d", "dhk", "hk", {{'d', 4}, {'h', 2}, {'k', 3}}},
      {"nabc,cbe->nea", false, "abc", "cbe", "ea", {{'a', 2}, {'b', 3}, {'c', 4}, {'e', 2}}},
      {"ndl,dh->nlh", false, "dl", "dh", "lh", {{'l', 3}, {'d', 4}, {'h', 5}}},  // x's axes moved first
      {"...d,dh", false, "ld", "dh", "lh", {{'l', 3}, {'d', 4}, {'h', 5}}},
  };
  for (const ConstCase& k : all) {
    SCOPED_TRACE(k.equation);
    const auto dims_of = [&](const std::string& t) {
      std::vector<std::int64_t> d;
      for (char ch : t) d.push_back(static_cast<std::int64_t>(k.size.at(ch)));
      return d;
    };
    std::vector<std::int64_t> x_dims = dims_of(k.x), w_dims = dims_of(k.w);
    x_dims.insert(x_dims.begin(), -1);
    std::size_t nw = 1, nx = 1, no = 1;
    for (std::int64_t d : w_dims) nw *= static_cast<std::size_t>(d);
    for (char ch : k.x) nx *= k.size.at(ch);
    for (char ch : k.out) no *= k.size.at(ch);
    const Tensor<double> wt = random_tensor({nw}, 21);
    B b;
    b.input("x", x_dims).output("y");
    b.init("w", w_dims, std::vector<float>(wt.begin(), wt.end()));
    B::attr(b.node("Einsum", k.constant_first ? std::vector<std::string>{"w", "x"} : std::vector<std::string>{"x", "w"}, {"y"}, "einsum"),
            "equation", k.equation);
    const Model<double> m = io::parse_onnx_model(b.bytes(), "einsum.onnx");
    Shape xs{2};
    for (char ch : k.x) xs.push_back(k.size.at(ch));
    const Tensor<double> x = random_tensor(xs, 22, 0.5, 1.5);
    const Tensor<double> y = run_forward<double>(m, x);
    ASSERT_EQ(y.size(), 2 * no);
    std::vector<double> w(wt.begin(), wt.end());
    for (double& v : w) v = static_cast<double>(static_cast<float>(v));  // as stored in the file
    for (std::size_t n = 0; n < 2; ++n) {
      std::vector<double> want(no, 0.0);
      by_definition(k.x, x.data() + n * nx, k.w, w.data(), k.out, k.size, want.data());
      for (std::size_t e = 0; e < no; ++e) EXPECT_NEAR(y[n * no + e], want[e], 1e-12) << "sample " << n << " element " << e;
    }
    ExplainRequest req;
    req.rules.assign(m.nodes().size(), Rule::epsilon_rule(1e-9));
    req.target.kind = Target::Kind::Relevance;
    req.target.relevance = random_tensor(y.shape(), 23);
    const Explanation<double> e = explain(m, x, req);
    for (std::size_t n = 0; n < 2; ++n) {
      double in = 0, out = 0;
      for (std::size_t i = 0; i < nx; ++i) in += e.relevance[n * nx + i];
      for (std::size_t i = 0; i < no; ++i) out += req.target.relevance[n * no + i];
      EXPECT_NEAR(in, out, 1e-6 * (1 + std::abs(out))) << "sample " << n;
    }
  }
}

void expect_refused(const std::string& equation, const std::vector<std::string>& needles, const std::string& a = "nij",
                    const std::string& b = "njk") {
  Case k{equation, a, b, "", {{'i', 2}, {'j', 3}, {'k', 4}}};
  try {
    io::parse_onnx_model(einsum_model(k).bytes(), "einsum.onnx");
    ADD_FAILURE() << "no FormatError for " << equation;
  } catch (const FormatError& e) {
    const std::string msg = e.what();
    for (const std::string& s : needles) EXPECT_NE(msg.find(s), std::string::npos) << "'" << s << "' not in: " << msg;
  }
}

TEST(OnnxEinsum, RefusesWhatItCannotLower) {
  expect_refused("..ij,njk->nik", {"einsum", "a '.' outside one '...'"});
  expect_refused("...ij,...jk->...i.k", {"a '.' outside one '...'"});
  expect_refused("n...ijk,njk->nik", {"term 'n...ijk' names 4 axes of an input of rank 3"});
  expect_refused("...ij,...jk->ik", {"batch axis"});  // the ellipsis, batch included, summed over
  expect_refused("nii,nik->nk", {"appears twice", "diagonals"}, "nij", "nik");
  expect_refused("nij,njk->nk", {"'i' is summed over in one input only"});
  expect_refused("nij,njk->nij", {"'k' is summed over in one input only"});
  expect_refused("nij,njk->nix", {"output label 'x' is in no input"});
  expect_refused("nij,njk", {"batch axis"});  // implicit output "ik": the batch label is dropped
  expect_refused("inj,njk->nik", {"batch axis"});
  expect_refused("nij,njk,nkl->nil", {"3 terms for 2 inputs"});
  expect_refused("nij,nik->njk", {"label 'i' has sizes 2 and 3"}, "nij", "nji");
  expect_refused("nijk,njk->nik", {"term 'nijk' has 4 labels for an input of rank 3"});
  expect_refused("n1j,njk->nk", {"'1' is not a label"});
  // With a constant input.
  const auto refused_with_constant = [](const std::string& equation, const std::string& needle) {
    B b;
    b.input("x", {-1, 2, 3}).output("y");
    b.init("w", {2, 3}, std::vector<float>(6, 1.0f));
    B::attr(b.node("Einsum", {"x", "w"}, {"y"}, "with_weight"), "equation", equation);
    try {
      io::parse_onnx_model(b.bytes(), "einsum.onnx");
      ADD_FAILURE() << "no FormatError for " << equation;
    } catch (const FormatError& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  refused_with_constant("nij,ij->nij", "label 'i' of both inputs is in the output (an elementwise scale)");
  refused_with_constant("nij,ik->nj", "'k' is summed over in one input only");
  refused_with_constant("nij,nj->ni", "the batch axis (the first of the computed input)");
  refused_with_constant("nij,jkl->nikl", "term 'jkl' has 3 labels for a constant of shape [2,3]");
  refused_with_constant("nij,jk->nik", "label 'j' has sizes 3 and 2");
}

}  // namespace
}  // namespace lrp::test
