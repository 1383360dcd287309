// Small transformers. Vision transformers: one with batch-first attention as Hugging Face exports it
// (tests/fixtures/vit, make_fixtures.py): class token expanded to the batch and concatenated,
// position embedding, MatMul of computed values, SoftMax over the keys, GELU written out,
// LayerNorm, residual Adds, the class token gathered for the head; and torchvision's
// VisionTransformer (tests/fixtures/vit_torchvision), whose nn.MultiheadAttention puts the
// tokens first and reshapes with the batch size, and a timm-style one (tests/fixtures/vit_timm,
// made by vit/make_fixtures.py), both imported as a batch of one. The forward and the input gradient against PyTorch in float64; LRP with
// epsilon on every layer is AttnLRP, checked against LXT's construction of it (input times a
// modified gradient) in float64.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "lrp/core/error.hpp"
#include "lrp/explain/explain.hpp"
#include "lrp/io/arrays.hpp"
#include "lrp/io/onnx.hpp"
#include "lrp/rules/composite.hpp"
#include "support/compare.hpp"
#include "support/pytorch_reference.hpp"
#include "support/test_paths.hpp"

namespace lrp::test {
namespace {

std::string fixture(const std::string& file) { return source_path("tests/fixtures/vit/" + file); }

TEST(VisionTransformer, ForwardAndGradientMatchPyTorchInDouble) {
  expect_matches_pytorch<double>(fixture("model.onnx"), fixture("input.npy"), fixture("logits.npy"), fixture("gradient.npy"), 3, 1e-7);
}
TEST(VisionTransformer, ForwardAndGradientMatchPyTorchInFloat) {
  expect_matches_pytorch<float>(fixture("model.onnx"), fixture("input.npy"), fixture("logits.npy"), fixture("gradient.npy"), 3, 1e-5);
}

// Epsilon (1e-12, close to LXT's unstabilised ratios; the difference grows with it: 3e-7 at 1e-9)
// on every layer: the uniform rule on the attention products, AttnLRP's SoftMax rule, LayerNorm
// with its deviation held constant, the GELU gate held constant, the position embedding and sums
// by their share. Measured: 8.6e-9 (double; the file holds sqrt 2 as float32), 2.8e-7 (float).
// The composite attnlrp:EPS is the same rule map.
template <class T>
void expect_attnlrp(double tol) {
  const Model<double> md = io::read_onnx_model(fixture("model.onnx"));
  EXPECT_FALSE(md.batch_of_one);  // its batch stays first
  const Model<T> model = md.template convert<T>();
  ExplainRequest req;
  req.target.kind = Target::Kind::Classes;
  req.target.classes = {3};
  const std::vector<std::pair<std::vector<Rule>, std::string>> cases = {
      {uniform_rules(md, parse_rule("epsilon:1e-12")), "attnlrp.npy"},
      {composite_rules(md, "attnlrp:1e-12"), "attnlrp.npy"},
      {composite_rules(md, "cp_lrp:1e-12"), "cp_lrp.npy"}};
  for (const auto& [rules, file] : cases) {
    req.rules = rules;
    const Explanation<T> e = explain(model, io::read_npy(fixture("input.npy")).template cast<T>(), req);
    const Tensor<double> want = io::read_npy(fixture(file));
    ASSERT_GT(max_rel_error(want, Tensor<double>(want.shape())), 0.0);  // a reference that is not all zero
    EXPECT_LE(max_rel_error(e.relevance, want), tol) << file;
  }
  // The two variants differ (the SoftMax's share), so each comparison can fail.
  EXPECT_GT(max_rel_error(io::read_npy(fixture("cp_lrp.npy")), io::read_npy(fixture("attnlrp.npy"))), 1e-3);
}
TEST(VisionTransformer, EpsilonEverywhereIsAttnLrpInDouble) { expect_attnlrp<double>(5e-8); }
TEST(VisionTransformer, EpsilonEverywhereIsAttnLrpInFloat) { expect_attnlrp<float>(5e-6); }

// Transformers that move their batch axis (imported as a batch of one): torchvision's
// VisionTransformer from a dynamic-batch and a batch-1 export, and a timm-style one (fused qkv
// permuted with the batch second, unbound by Split + Squeeze; the head reads the mean over the
// patch tokens).
struct MovedBatchFixture {
  std::string dir;
  std::vector<std::string> models;
  std::size_t cls;
};
const std::vector<MovedBatchFixture>& moved_batch_fixtures() {
  static const std::vector<MovedBatchFixture> f = {{"vit_torchvision", {"model.onnx", "model_batch1.onnx"}, 1},
                                                   {"vit_timm", {"model.onnx"}, 2}};
  return f;
}

TEST(VisionTransformer, MovedBatchAxisForwardAndGradientMatchPyTorch) {
  for (const MovedBatchFixture& f : moved_batch_fixtures())
    for (const std::string& model : f.models) {
      SCOPED_TRACE(f.dir + "/" + model);
      const auto at = [&](const std::string& file) { return source_path("tests/fixtures/" + f.dir + "/" + file); };
      expect_matches_pytorch<double>(at(model), at("input.npy"), at("logits.npy"), at("gradient.npy"), f.cls, 1e-7);
      expect_matches_pytorch<float>(at(model), at("input.npy"), at("logits.npy"), at("gradient.npy"), f.cls, 1e-5);
    }
}

// AttnLRP and CP-LRP (the attention weights held constant). Measured: torchvision 1.4e-8 / 1.5e-8
// (double), 3.1e-7 / 3.7e-7 (float), for both exports; timm-style 4.3e-9 / 4e-9, 1.5e-7 / 1.3e-7.
TEST(VisionTransformer, MovedBatchAxisAttnLrpAndCpLrp) {
  for (const MovedBatchFixture& f : moved_batch_fixtures())
    for (const std::string& model : f.models) {
      SCOPED_TRACE(f.dir + "/" + model);
      const auto at = [&](const std::string& file) { return source_path("tests/fixtures/" + f.dir + "/" + file); };
      const Model<double> md = io::read_onnx_model(at(model));
      EXPECT_TRUE(md.batch_of_one);  // `lrp info` says so
      EXPECT_TRUE(md.convert<float>().batch_of_one);
      for (const std::string composite : {"attnlrp", "cp_lrp"}) {
        ExplainRequest req;
        req.rules = composite_rules(md, composite + ":1e-12");
        req.target.kind = Target::Kind::Classes;
        req.target.classes = {f.cls};
        const Tensor<double> x = io::read_npy(at("input.npy")), want = io::read_npy(at(composite + ".npy"));
        ASSERT_GT(max_rel_error(want, Tensor<double>(want.shape())), 0.0);  // a reference that is not all zero
        EXPECT_LE(max_rel_error(explain(md, x, req).relevance, want), 5e-8) << composite;
        EXPECT_LE(max_rel_error(explain(md.convert<float>(), x.cast<float>(), req).relevance, want), 5e-6) << composite;
      }
      EXPECT_GT(max_rel_error(io::read_npy(at("cp_lrp.npy")), io::read_npy(at("attnlrp.npy"))), 1e-3);
    }
}

// Zennit's composites and the other methods run on it too (attention products take the uniform
// rule under every LRP rule), alike in float and double.
TEST(VisionTransformer, CompositesAndMethodsRunAlikeInFloatAndDouble) {
  const Model<double> md = io::read_onnx_model(fixture("model.onnx"));
  const Model<float> mf = md.convert<float>();
  const Tensor<double> x = io::read_npy(fixture("input.npy"));
  for (const std::string spec : {"epsilon_plus_flat", "epsilon_gamma_box:-3,3", "epsilon_alpha2_beta1", "attnlrp"}) {
    SCOPED_TRACE(spec);
    ExplainRequest req;
    req.rules = composite_rules(md, spec);
    const Tensor<double> rd = explain(md, x, req).relevance;
    EXPECT_LE(max_rel_error(explain(mf, x.cast<float>(), req).relevance, rd), 1e-4);
    EXPECT_GT(max_rel_error(rd, Tensor<double>(rd.shape())), 0.0);  // not all zero
  }
  for (const Method m : {Method::IntegratedGradients, Method::SmoothGrad, Method::DeepLift, Method::GradientXInput}) {
    ExplainRequest req;
    req.method = m;
    const Tensor<double> rd = explain(md, x, req).relevance;
    EXPECT_LE(max_rel_error(explain(mf, x.cast<float>(), req).relevance, rd), 1e-4) << static_cast<int>(m);
  }
}

// Token ids in, one value per token out: the gradient (summed over each token's embedding, times
// it) and AttnLRP against PyTorch in float64. Measured: 1.4e-9 (double), 4e-8 (float).
std::string bert(const std::string& file) { return source_path("tests/fixtures/bert/" + file); }

// A token model's fixture in `dir` (PREFIXlogits.npy, PREFIXgradient.npy, PREFIXattnlrp.npy for
// input.npy): forward and gradient against PyTorch, and AttnLRP of output `cls` per token, in
// double (1e-8) and from the float import (5e-6).
void expect_token_model_matches(const std::string& model, const std::string& dir, const std::string& prefix, std::size_t cls) {
  SCOPED_TRACE(model);
  const auto file = [&](const std::string& name) { return source_path(dir + name); };
  const Model<double> md = io::read_onnx_model(model);
  EXPECT_TRUE(md.token_input);
  expect_matches_pytorch<double>(model, file("input.npy"), file(prefix + "logits.npy"), file(prefix + "gradient.npy"), cls, 1e-7);
  expect_matches_pytorch<float>(model, file("input.npy"), file(prefix + "logits.npy"), file(prefix + "gradient.npy"), cls, 1e-5);
  const Tensor<double> ids = io::read_npy(file("input.npy")), want = io::read_npy(file(prefix + "attnlrp.npy"));
  ASSERT_GT(max_rel_error(want, Tensor<double>(want.shape())), 0.0);
  ExplainRequest req;
  req.rules = composite_rules(md, "attnlrp:1e-12");
  req.target.kind = Target::Kind::Classes;
  req.target.classes = {cls};
  EXPECT_LE(max_rel_error(explain(md, ids, req).relevance, want), 1e-8);
  EXPECT_LE(max_rel_error(explain(io::read_onnx_model_float(model), ids.cast<float>(), req).relevance, want), 5e-6);
}

TEST(TextTransformer, ForwardGradientAndAttnLrpPerToken) {
  expect_token_model_matches(bert("model.onnx"), "tests/fixtures/bert/", "", 1);
}

// The same network exported at opset 14 (Hugging Face's default): its five LayerNorms written
// out, each imported as one layer; the same references.
TEST(TextTransformer, LayerNormsWrittenOutAtOpset14) {
  const Model<double> md = io::read_onnx_model(bert("model_opset14.onnx"));
  std::size_t norms = 0;
  for (const Node<double>& n : md.nodes()) norms += n.layer->type_name() == "LayerNorm";
  EXPECT_EQ(norms, 5u);
  expect_token_model_matches(bert("model_opset14.onnx"), "tests/fixtures/bert/", "", 1);
}

// The first model exported with the number of tokens dynamic too: sized by the data it is read
// for (OnnxReadOptions::data_shape), 5 tokens here, AttnLRP against PyTorch on those 5; refused
// by name without data.
TEST(TextTransformer, DynamicTokenCountSizedByTheData) {
  const Tensor<double> ids = io::read_npy(bert("input5.npy"));
  ASSERT_EQ(ids.shape(), (Shape{2, 5}));
  io::OnnxReadOptions options;
  options.data_shape = ids.shape();
  const Model<double> md = io::read_onnx_model(bert("model_any_length.onnx"), options);
  EXPECT_EQ(md.input_shape, Shape{5});
  ExplainRequest req;
  req.rules = composite_rules(md, "attnlrp:1e-12");
  req.target.kind = Target::Kind::Classes;
  req.target.classes = {1};
  EXPECT_LE(max_rel_error(explain(md, ids, req).relevance, io::read_npy(bert("attnlrp5.npy"))), 1e-8);
  options.data_shape = {5};  // one sample's shape sizes it too
  EXPECT_EQ(io::read_onnx_model_float(bert("model_any_length.onnx"), options).input_shape, Shape{5});
  try {
    io::read_onnx_model(bert("model_any_length.onnx"));
    ADD_FAILURE() << "a dynamic token count was accepted without data";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("dimension 1 is dynamic ('tokens')"), std::string::npos) << e.what();
  }
}

// BERT's attention_mask as a second graph input, bound to a constant (--bind): the last two
// tokens masked get no relevance; forward, gradient and AttnLRP against PyTorch in float64.
TEST(TextTransformer, AttentionMaskBoundToAConstant) {
  const std::map<std::string, Tensor<double>> bound = {{"attention_mask", io::read_npy(bert("mask.npy"))}};
  const Model<double> md = io::read_onnx_model(bert("model_mask.onnx"), "", bound);
  expect_model_matches_pytorch<double>(md, "model_mask.onnx", bert("input.npy"), bert("logits_mask.npy"), bert("gradient_mask.npy"), 1, 1e-7);
  const Model<float> mf = io::read_onnx_model_float(bert("model_mask.onnx"), "", bound);
  expect_model_matches_pytorch<double>(mf.convert<double>(), "model_mask.onnx (float import)", bert("input.npy"), bert("logits_mask.npy"),
                                       bert("gradient_mask.npy"), 1, 1e-6);
  ExplainRequest req;
  req.rules = composite_rules(md, "attnlrp:1e-12");
  req.target.kind = Target::Kind::Classes;
  req.target.classes = {1};
  const Tensor<double> r = explain(md, io::read_npy(bert("input.npy")), req).relevance;
  EXPECT_LE(max_rel_error(r, io::read_npy(bert("attnlrp_mask.npy"))), 1e-8);
  for (std::size_t s = 0; s < 2; ++s) {
    EXPECT_NE(r[s * 8], 0.0);
    EXPECT_LE(std::abs(r[s * 8 + 6]) + std::abs(r[s * 8 + 7]), 1e-6 * std::abs(r[s * 8]));  // masked
  }
  try {
    io::read_onnx_model(bert("model_mask.onnx"));
    ADD_FAILURE() << "a second data input was accepted";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("--bind"), std::string::npos) << e.what();
  }
}

// Token ids keep their meaning: a perturbation method replaces tokens by the baseline's id; ids
// that are not integers of the vocabulary are errors, and so is a method with no meaning there.
TEST(TextTransformer, TokenIdsStayIds) {
  const Model<double> md = io::read_onnx_model(bert("model.onnx"));
  const Tensor<double> ids = io::read_npy(bert("input.npy"));
  ExplainRequest sensitivity;
  sensitivity.method = Method::Sensitivity;
  EXPECT_THROW(explain(md, ids, sensitivity), ConfigError);
  ExplainRequest req;
  req.method = Method::FeatureAblation;  // every token replaced by token 0 in turn
  const Tensor<double> r = explain(md, ids, req).relevance;
  EXPECT_EQ(r.shape(), ids.shape());
  EXPECT_GT(max_rel_error(r, Tensor<double>(r.shape())), 0.0);
  req.options.baseline = 0.5;  // not a token id
  EXPECT_THROW(explain(md, ids, req), NumericError);
  Tensor<double> bad = ids;
  bad[3] = 50;  // one past the vocabulary
  ExplainRequest gradient;
  gradient.method = Method::Gradient;
  EXPECT_THROW(explain(md, bad, gradient), NumericError);
}

// Methods that scale the input or add noise to it run on the embedding output (Captum's
// LayerIntegratedGradients on the word embeddings): gradient x input there is the token
// gradient (the gradient times the row, summed); integrated gradients are complete: seeded with
// the score, as every gradient method here, their sum per sample is score(x) · (score(x) -
// score(baseline ids)), the baseline a constant id or a file of ids; DeepLIFT, SmoothGrad and
// GradientShap give one value per token.
TEST(TextTransformer, ContinuousMethodsRunInEmbeddingSpace) {
  const Model<double> md = io::read_onnx_model(bert("model.onnx"));
  const Tensor<double> ids = io::read_npy(bert("input.npy"));
  ExplainRequest g;
  g.method = Method::Gradient;
  g.target.kind = Target::Kind::Classes;
  g.target.classes = {1};
  ExplainRequest gx = g;
  gx.method = Method::GradientXInput;
  const Tensor<double> token_gradient = explain(md, ids, g).relevance;
  EXPECT_LE(max_rel_error(explain(md, ids, gx).relevance, token_gradient), 1e-12);
  EXPECT_GT(max_rel_error(token_gradient, Tensor<double>(token_gradient.shape())), 0.0);

  Tensor<double> partly = ids;  // a baseline file: tokens 2..5 of every sample replaced by id 7
  for (std::size_t s = 0; s < 2; ++s)
    for (std::size_t t = 2; t < 6; ++t) partly[s * 8 + t] = 7;
  for (const Tensor<double>& base : {Tensor<double>(ids.shape(), 0.0), partly}) {
    ExplainRequest ig = g;
    ig.method = Method::IntegratedGradients;
    ig.options.steps = 1024;
    ig.options.baseline_input = base;
    const Explanation<double> e = explain(md, ids, ig);
    ASSERT_EQ(e.relevance.shape(), ids.shape());
    const std::vector<double> at_base = explain(md, base, g).scores;
    for (std::size_t s = 0; s < 2; ++s) {
      double sum = 0;
      for (std::size_t t = 0; t < 8; ++t) sum += e.relevance[s * 8 + t];
      const double delta = e.scores[s] * (e.scores[s] - at_base[s]);
      EXPECT_GT(std::abs(delta), 1e-3);
      EXPECT_NEAR(sum, delta, 5e-3 * std::abs(delta)) << "sample " << s;
    }
    const Tensor<float> rf = explain(md.convert<float>(), ids.cast<float>(), ig).relevance;
    EXPECT_LE(max_rel_error(rf.cast<double>(), e.relevance), 1e-4);
  }
  ExplainRequest smooth = g;  // one noise-free sample: the token gradient
  smooth.method = Method::SmoothGrad;
  smooth.options.samples = 1;
  EXPECT_LE(max_rel_error(explain(md, ids, smooth).relevance, token_gradient), 1e-12);
  ExplainRequest every = g;  // and for every class at once ([N, K, tokens])
  every.target.kind = smooth.target.kind = Target::Kind::All;
  const Tensor<double> all_classes = explain(md, ids, every).relevance;
  ASSERT_EQ(all_classes.shape(), (Shape{2, 3, 8}));
  EXPECT_LE(max_rel_error(explain(md, ids, smooth).relevance, all_classes), 1e-12);
  for (const Method m : {Method::DeepLift, Method::SmoothGrad, Method::GradientShap, Method::DeepLiftShap}) {
    ExplainRequest req = g;
    req.method = m;
    const Tensor<double> r = explain(md, ids, req).relevance;
    EXPECT_EQ(r.shape(), ids.shape()) << static_cast<int>(m);
    EXPECT_GT(max_rel_error(r, Tensor<double>(r.shape())), 0.0) << static_cast<int>(m);
  }
  // An Explainer rebuilds its embedding-space copy of the model after clear_cache().
  Model<double> changed = io::read_onnx_model(bert("model.onnx"));
  Explainer<double> explainer(changed);
  ExplainRequest few = g;
  few.method = Method::IntegratedGradients;
  few.options.steps = 8;
  const Tensor<double> before = explainer.explain(ids, few).relevance;
  for (double& w : *changed.nodes().back().layer->params()[0]) w *= 2;
  explainer.clear_cache();
  const Tensor<double> after = explainer.explain(ids, few).relevance;
  EXPECT_LE(max_rel_error(after, explain(changed, ids, few).relevance), 1e-12);
  EXPECT_GT(max_rel_error(after, before), 1e-3);

  ExplainRequest outside = g;
  outside.method = Method::IntegratedGradients;
  outside.options.baseline = 50;  // one past the vocabulary
  try {
    explain(md, ids, outside);
    ADD_FAILURE() << "a baseline id outside the vocabulary was accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("the baseline"), std::string::npos) << e.what();
  }
}

// GPT-style decoders (tests/fixtures/gpt): token ids in, the next token's logits out, causal
// self-attention masked by Where (nanoGPT's masked_fill with -inf; Hugging Face GPT-2's
// torch.where with the float minimum, operands the other way round), positions from Range, an LM
// head tied to the word embedding. Forward, per-token gradient and AttnLRP against PyTorch in
// float64. Measured: 7e-10 (double), 1e-7 (float).
std::string gpt(const std::string& file) { return source_path("tests/fixtures/gpt/" + file); }

TEST(DecoderTransformer, CausalMaskForwardGradientAndAttnLrpPerToken) {
  for (const std::string prefix : {"", "where_"}) {
    const std::string model = gpt(prefix.empty() ? "model.onnx" : "model_where.onnx");
    const Model<double> md = io::read_onnx_model(model);
    std::size_t masks = 0;
    for (const Node<double>& n : md.nodes()) masks += n.layer->kind() == LayerKind::MaskedFill;
    EXPECT_EQ(masks, 2u) << model;  // one per block
    expect_token_model_matches(model, "tests/fixtures/gpt/", prefix, 7);
  }
}

// The same GPT returning every position's logits [N, 8, 50]: `position:P[:K]` explains token K
// (default: the predicted one) at position P. The last position with the weights of model.onnx
// reproduces its AttnLRP reference; at position 3 the later tokens, masked from it, get exactly
// nothing, under AttnLRP and the gradient alike.
TEST(DecoderTransformer, TargetOnePositionOfEveryPositionsLogits) {
  const Model<double> md = io::read_onnx_model(gpt("model_all_positions.onnx"));
  const Tensor<double> ids = io::read_npy(gpt("input.npy"));
  ExplainRequest req;
  req.rules = composite_rules(md, "attnlrp:1e-12");
  req.target = parse_target("position:-1:7");
  EXPECT_LE(max_rel_error(explain(md, ids, req).relevance, io::read_npy(gpt("attnlrp.npy"))), 1e-8);
  for (const Method method : {Method::LRP, Method::Gradient}) {
    ExplainRequest at3;
    at3.method = method;
    if (method == Method::LRP) at3.rules = req.rules;
    at3.target = parse_target("position:3");
    const Explanation<double> e = explain(md, ids, at3);
    ASSERT_EQ(e.targets.size(), 2u);
    for (std::size_t n = 0; n < 2; ++n) {
      const double* row = e.output.data() + n * 400 + 3 * 50;
      EXPECT_EQ(e.targets[n], static_cast<std::size_t>(std::max_element(row, row + 50) - row));
      EXPECT_EQ(e.scores[n], row[e.targets[n]]);
      double past = 0;
      for (std::size_t t = 0; t < 8; ++t) {
        if (t > 3) EXPECT_EQ(e.relevance[n * 8 + t], 0.0) << "sample " << n << " token " << t;
        else past += std::abs(e.relevance[n * 8 + t]);
      }
      EXPECT_GT(past, 0.0);
    }
  }
  for (const char* bad : {"position:8", "position:-9", "position:0:50"}) {
    req.target = parse_target(bad);
    EXPECT_THROW(explain(md, ids, req), ConfigError) << bad;
  }
  req.target = parse_target("position:0");  // an output without a position axis
  const Model<double> last_only = io::read_onnx_model(gpt("model.onnx"));
  req.rules = composite_rules(last_only, "attnlrp");
  EXPECT_THROW(explain(last_only, ids, req), ConfigError);
  const Target several = parse_target("position:-2:1,2");
  EXPECT_EQ(several.region, Target::Region::Position);
  EXPECT_EQ(several.position, -2);
  EXPECT_EQ(several.classes, (std::vector<std::size_t>{1, 2}));
  for (const char* bad : {"position:", "position:x:1", "position:1:channel:2", "channel:position:1"})
    EXPECT_THROW(parse_target(bad), ConfigError) << bad;
}

// GPT-2 as Hugging Face computes it (tests/fixtures/gpt2_hf), exported at opset 14: every
// LayerNorm written out, Conv1D's addmm on x.view(-1, D) (imported as a batch of one), a boolean
// causal buffer with torch.where, gelu_new with pow(x, 3), every position's logits. The logit of
// token 7 at the last position (flat index 7 * 50 + 7): forward, per-token gradient and AttnLRP
// against PyTorch. Measured: 1.4e-9 (double), 1.3e-7 (float).
TEST(DecoderTransformer, HuggingFaceStyleGpt2AtOpset14) {
  const std::string model = source_path("tests/fixtures/gpt2_hf/model.onnx");
  const Model<double> md = io::read_onnx_model(model);
  EXPECT_TRUE(md.batch_of_one);
  std::size_t norms = 0;
  for (const Node<double>& n : md.nodes()) norms += n.layer->type_name() == "LayerNorm";
  EXPECT_EQ(norms, 5u);  // written out, each one layer
  expect_token_model_matches(model, "tests/fixtures/gpt2_hf/", "", 7 * 50 + 7);
}

// Llama as Hugging Face computes it (tests/fixtures/llama_hf): RMSNorm with its casts, rotary
// tables computed in the graph from inv_freq and the positions (MatMul, Cos, Sin of constants),
// the causal mask built from full, triu and arange > cache_position, grouped-query attention
// (repeat_kv's expand of computed keys and values), SiLU, every position's logits. The logit of
// token 5 at the last position: forward, per-token gradient and AttnLRP against PyTorch.
// Measured: 5.7e-9 (double), 5e-8 (float).
TEST(DecoderTransformer, HuggingFaceStyleLlamaWithGroupedQueryAttention) {
  const std::string model = source_path("tests/fixtures/llama_hf/model.onnx");
  const Model<double> md = io::read_onnx_model(model);
  std::size_t repeats = 0;
  for (const Node<double>& n : md.nodes()) repeats += n.name.find("Expand") != std::string::npos && n.layer->kind() == LayerKind::Concat;
  EXPECT_EQ(repeats, 4u);  // keys and values of two layers
  expect_token_model_matches(model, "tests/fixtures/llama_hf/", "", 7 * 50 + 5);
}

// A Llama-style decoder (tests/fixtures/llama): RMSNorm written out, rotary position embeddings,
// an additive causal mask holding -inf, a SwiGLU MLP, no biases. Forward, per-token gradient and
// AttnLRP (as LXT computes it for Llama) against PyTorch in float64. Measured: 3.8e-10 (double),
// 1.2e-7 (float).
TEST(DecoderTransformer, LlamaStyleRmsNormRotaryAndSwiGlu) {
  const std::string model = source_path("tests/fixtures/llama/model.onnx");
  const Model<double> md = io::read_onnx_model(model);
  std::size_t rms = 0;
  for (const Node<double>& n : md.nodes()) rms += n.layer->type_name() == "RMSNorm";
  EXPECT_EQ(rms, 5u);  // two per block and the final one
  expect_token_model_matches(model, "tests/fixtures/llama/", "", 11);
}

}  // namespace
}  // namespace lrp::test
