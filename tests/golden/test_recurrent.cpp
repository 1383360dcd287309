// Recurrent networks exported from PyTorch (tests/fixtures/lstm, gru and rnn, make_fixtures.py in
// each, on recurrent_reference.py): nn.LSTM, nn.GRU and nn.RNN(batch_first=True), one layer read at
// its last step (uni), two bidirectional layers read through h_n (bi2; the RNN's with ReLU), and
// an LSTM token classifier (lstm/text: embedding, LSTM, h_n), sequence-first copies of some
// (batch_first=False: the input [T, B, ...], its batch on axis 1), and gru/uni with ONNX's
// linear_before_reset 0 (gru/before_reset0: no PyTorch module computes it; its references come
// from the equations written out in PyTorch). The forward and the input gradient against PyTorch in float64; LRP with
// epsilon (1e-6) on every layer against the rule computed independently as input times a modified
// gradient (gates held constant, tanh passing relevance on, every affine output and sum
// stabilised: Arras et al.'s for the LSTM). Refusals of what the importer cannot represent name
// the node and the attribute.
#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <string>
#include <utility>

#include "lrp/core/error.hpp"
#include "lrp/explain/explain.hpp"
#include "lrp/io/arrays.hpp"
#include "lrp/io/onnx.hpp"
#include "lrp/rules/composite.hpp"
#include "support/compare.hpp"
#include "support/onnx_test_util.hpp"
#include "support/pytorch_reference.hpp"
#include "support/test_paths.hpp"

namespace lrp::test {
namespace {

std::string fixture(const std::string& file) { return source_path("tests/fixtures/" + file); }

const char* const kGradientModels[] = {"lstm/uni", "lstm/bi2", "gru/uni", "gru/bi2", "gru/before_reset0", "rnn/uni", "rnn/bi2"};
const char* const kLrpModels[] = {"lstm/uni", "lstm/bi2", "lstm/text", "gru/uni", "gru/bi2", "gru/before_reset0", "rnn/uni", "rnn/bi2"};

// Sequence-first copies of fixtures (the recurrent module without batch_first: [T, B, ...] in,
// the batch on input axis 1, dynamic, or fixed to 1 in bi2_seq_first1) with the same weights, and
// the batch-first fixture whose references hold for them. Their samples are [T, D] (ids [T]) too.
const std::pair<const char*, const char*> kSequenceFirst[] = {{"lstm/uni_seq_first", "lstm/uni"},
                                                              {"lstm/bi2_seq_first1", "lstm/bi2"},
                                                              {"lstm/text_seq_first", "lstm/text"},
                                                              {"gru/bi2_seq_first", "gru/bi2"},
                                                              {"rnn/uni_seq_first", "rnn/uni"}};

// `model` against the references of `reference` (the same name but for sequence-first copies).
template <class T>
void check_forward_and_gradient(const std::string& model, double tol, const std::string& reference = "") {
  SCOPED_TRACE(model);
  const std::string ref = reference.empty() ? model : reference;
  expect_matches_pytorch<T>(fixture(model + ".onnx"), fixture(ref + "_input.npy"), fixture(ref + "_logits.npy"),
                            fixture(ref + "_gradient.npy"), 1, tol);
}

// Measured: 2e-16 (double), 6e-8 (float).
TEST(RecurrentPyTorch, ForwardAndGradientMatchInDouble) {
  for (const std::string name : kGradientModels) check_forward_and_gradient<double>(name, 1e-12);
  for (const auto& [model, ref] : kSequenceFirst)
    if (std::string(ref) != "lstm/text") check_forward_and_gradient<double>(model, 1e-12, ref);
}
TEST(RecurrentPyTorch, ForwardAndGradientMatchInFloat) {
  for (const std::string name : kGradientModels) check_forward_and_gradient<float>(name, 1e-5);
  for (const auto& [model, ref] : kSequenceFirst)
    if (std::string(ref) != "lstm/text") check_forward_and_gradient<float>(model, 1e-5, ref);
}

// Measured: 7e-16 (double), 7e-7 (float).
template <class T>
void check_epsilon_lrp(const std::string& name, double tol, const std::string& reference = "") {
  SCOPED_TRACE(name);
  const std::string ref = reference.empty() ? name : reference;
  const Model<double> md = io::read_onnx_model(fixture(name + ".onnx"));
  EXPECT_TRUE(md.batch_of_one);  // the Transpose in front of the recurrent layer moves the batch axis (or the input has it on axis 1)
  const Model<T> model = md.template convert<T>();
  ExplainRequest req;
  req.rules = composite_rules(model, "epsilon");
  req.target = parse_target("1");
  const Tensor<double> want = io::read_npy(fixture(ref + "_lrp_eps.npy"));
  ASSERT_GT(max_rel_error(want, Tensor<double>(want.shape())), 0.0);
  const Explanation<T> e = explain(model, io::read_npy(fixture(ref + "_input.npy")).template cast<T>(), req);
  EXPECT_LE(max_rel_error(e.relevance, want), tol);
}

TEST(RecurrentPyTorch, EpsilonLrpMatchesTheReferenceInDouble) {
  for (const std::string name : kLrpModels) check_epsilon_lrp<double>(name, 1e-12);
  for (const auto& [model, ref] : kSequenceFirst) check_epsilon_lrp<double>(model, 1e-12, ref);
}
TEST(RecurrentPyTorch, EpsilonLrpMatchesTheReferenceInFloat) {
  for (const std::string name : kLrpModels) check_epsilon_lrp<float>(name, 1e-5);
  for (const auto& [model, ref] : kSequenceFirst) check_epsilon_lrp<float>(model, 1e-5, ref);
}

// uni exported with its number of steps dynamic (batch first, and a sequence-first copy): sized by
// the data, 4 steps here, against the references on those 4 steps in float64.
TEST(RecurrentPyTorch, DynamicStepCountSizedByTheData) {
  const Tensor<double> x = io::read_npy(fixture("lstm/uni_any_length_input4.npy"));
  io::OnnxReadOptions options;
  options.data_shape = x.shape();
  for (const std::string name : {"lstm/uni_any_length", "lstm/uni_seq_first_any_length"}) {
    SCOPED_TRACE(name);
    const Model<double> md = io::read_onnx_model(fixture(name + ".onnx"), options);
    EXPECT_EQ(md.input_shape, (Shape{4, 5}));
    ExplainRequest req;
    req.rules = composite_rules(md, "epsilon");
    req.target = parse_target("1");
    const Explanation<double> e = explain(md, x, req);
    EXPECT_LE(max_rel_error(e.relevance, io::read_npy(fixture("lstm/uni_any_length_lrp_eps4.npy"))), 1e-12);
    EXPECT_LE(max_rel_error(e.output, io::read_npy(fixture("lstm/uni_any_length_logits4.npy"))), 1e-12);
  }
}

// A sequence-first model takes samples [T, D] as the batch-first one does: the input's axis 1,
// its batch, is not part of them.
TEST(RecurrentPyTorch, SequenceFirstModelsTakeSamplesWithoutTheBatchAxis) {
  EXPECT_EQ(io::read_onnx_model(fixture("lstm/uni_seq_first.onnx")).input_shape, (Shape{7, 5}));
  EXPECT_EQ(io::read_onnx_model(fixture("lstm/bi2_seq_first1.onnx")).input_shape, (Shape{7, 5}));
  EXPECT_EQ(io::read_onnx_model(fixture("lstm/text_seq_first.onnx")).input_shape, (Shape{9}));
}

// All three classes in one batched sweep equal three single-class sweeps.
TEST(RecurrentPyTorch, AllTargetsEqualOneAtATime) {
  for (const std::string name : {"lstm/bi2", "gru/bi2", "rnn/bi2"}) {
    SCOPED_TRACE(name);
    const Model<double> model = io::read_onnx_model(fixture(name + ".onnx"));
    const Tensor<double> x = io::read_npy(fixture(name + "_input.npy"));
    ExplainRequest req;
    req.rules = composite_rules(model, "epsilon_alpha2_beta1");
    req.target = parse_target("all");
    const Tensor<double> all = explain(model, x, req).relevance;
    ASSERT_EQ(all.shape(), (Shape{2, 3, 7, 5}));
    for (std::size_t k = 0; k < 3; ++k) {
      req.target = parse_target(std::to_string(k));
      const Tensor<double> one = explain(model, x, req).relevance;
      for (std::size_t n = 0; n < 2; ++n)
        for (std::size_t i = 0; i < 35; ++i) EXPECT_NEAR(all[(n * 3 + k) * 35 + i], one[n * 35 + i], 1e-12);
    }
  }
}

// Sequence-first inputs that cannot be read as samples [T, ...]: a batch of 4 fixed on axis 1 (a
// sample would be four sequences and the logits [4, 3]), a dynamic sequence length.
TEST(RecurrentPyTorch, SequenceFirstInputsWithoutAFixedLengthOrBatchOneAreRefused) {
  onnx::ModelProto base;
  std::ifstream file(fixture("lstm/uni_seq_first.onnx"), std::ios::binary);
  ASSERT_TRUE(base.ParseFromIstream(&file));
  const auto message = [&](const std::function<void(onnx::TensorShapeProto&)>& change) {
    onnx::ModelProto m = base;
    change(*m.mutable_graph()->mutable_input(0)->mutable_type()->mutable_tensor_type()->mutable_shape());
    try {
      io::parse_onnx_model(m.SerializeAsString(), "seq.onnx");
    } catch (const FormatError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const std::string four = message([](onnx::TensorShapeProto& s) { s.mutable_dim(1)->set_dim_value(4); });
  EXPECT_NE(four.find("seq.onnx"), std::string::npos) << four;
  EXPECT_NE(four.find("'/lstm/LSTM' (LSTM)"), std::string::npos) << four;
  EXPECT_NE(four.find("the batch (dynamic or 1) on axis 1"), std::string::npos) << four;
  const std::string dynamic_length = message([](onnx::TensorShapeProto& s) { s.mutable_dim(0)->set_dim_param("steps"); });
  EXPECT_NE(dynamic_length.find("dimension"), std::string::npos) << dynamic_length;
  EXPECT_NE(dynamic_length.find("is dynamic"), std::string::npos) << dynamic_length;
}

TEST(RecurrentPyTorch, UnsupportedVariantsAreRefusedByName) {
  const auto message = [](const std::string& file) {
    try {
      io::read_onnx_model(fixture(file));
    } catch (const FormatError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const std::string clip = message("lstm/clip.onnx"), peephole = message("lstm/peephole.onnx");
  EXPECT_NE(clip.find("clip.onnx"), std::string::npos) << clip;
  EXPECT_NE(clip.find("'/lstm/LSTM' (LSTM)"), std::string::npos) << clip;
  EXPECT_NE(clip.find("'clip'"), std::string::npos) << clip;
  EXPECT_NE(peephole.find("'/lstm/LSTM' (LSTM)"), std::string::npos) << peephole;
  EXPECT_NE(peephole.find("peephole"), std::string::npos) << peephole;
}

// linear_before_reset other than 0 or 1 names the node and the attribute.
TEST(RecurrentPyTorch, GruResetOtherThanZeroOrOneIsRefused) {
  onnx::ModelProto m;
  std::ifstream file(fixture("gru/before_reset0.onnx"), std::ios::binary);
  ASSERT_TRUE(m.ParseFromIstream(&file));
  for (onnx::NodeProto& n : *m.mutable_graph()->mutable_node())
    for (onnx::AttributeProto& a : *n.mutable_attribute())
      if (a.name() == "linear_before_reset") a.set_i(2);
  try {
    io::parse_onnx_model(m.SerializeAsString(), "bad.onnx");
    ADD_FAILURE() << "imported";
  } catch (const FormatError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("'/gru/GRU' (GRU)"), std::string::npos) << msg;
    EXPECT_NE(msg.find("linear_before_reset must be 0 or 1, got 2"), std::string::npos) << msg;
  }
}

// The RNN fixture with its RNN node changed: what the importer cannot represent is refused by
// name, never imported as something else.
TEST(RecurrentPyTorch, ChangedRnnNodesAreRefusedByName) {
  onnx::ModelProto base;
  std::ifstream file(fixture("rnn/uni.onnx"), std::ios::binary);
  ASSERT_TRUE(base.ParseFromIstream(&file));
  const auto refused = [&](const std::function<void(onnx::ModelProto&, onnx::NodeProto&)>& change, const std::string& needle) {
    onnx::ModelProto m = base;
    for (onnx::NodeProto& n : *m.mutable_graph()->mutable_node())
      if (n.op_type() == "RNN") change(m, n);
    try {
      io::parse_onnx_model(m.SerializeAsString(), "bad.onnx");
      ADD_FAILURE() << "imported; expected: " << needle;
    } catch (const FormatError& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find("'/rnn/RNN' (RNN)"), std::string::npos) << msg;
      EXPECT_NE(msg.find(needle), std::string::npos) << msg;
    }
  };
  refused([](onnx::ModelProto&, onnx::NodeProto& n) { n.mutable_attribute(0)->set_strings(0, "Sigmoid"); }, "activation 'Sigmoid' is not supported");
  refused([](onnx::ModelProto&, onnx::NodeProto& n) { n.mutable_attribute(0)->add_strings("Tanh"); }, "must list 1 functions per direction");
  refused([](onnx::ModelProto&, onnx::NodeProto& n) { OnnxBuilder::attr(n, "layout", std::int64_t{1}); }, "layout 1 is not supported");
  refused([](onnx::ModelProto&, onnx::NodeProto& n) { OnnxBuilder::attr(n, "clip", 2.0); }, "'clip'");
  refused([](onnx::ModelProto&, onnx::NodeProto& n) { n.mutable_attribute(1)->set_i(7); }, "hidden_size 7 does not match R");
  refused([](onnx::ModelProto&, onnx::NodeProto& n) { n.set_input(0, "input"); }, "time first; export the model with batch_first=True");
  refused([](onnx::ModelProto&, onnx::NodeProto& n) { n.set_input(5, "/rnn/Transpose_output_0"); }, "initial_h must be a constant");
  refused([](onnx::ModelProto&, onnx::NodeProto& n) { n.set_input(3, "onnx::RNN_40"); }, "B has shape");
  refused(
      [](onnx::ModelProto& m, onnx::NodeProto& n) {
        onnx::TensorProto* lens = m.mutable_graph()->add_initializer();
        lens->set_name("lens");
        lens->set_data_type(onnx::TensorProto::INT32);
        lens->add_dims(1);
        lens->add_int32_data(3);
        n.set_input(4, "lens");
      },
      "sequence_lens [3] shorter than the sequence (7 steps)");
}

}  // namespace
}  // namespace lrp::test
