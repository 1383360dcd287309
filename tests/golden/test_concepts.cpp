// Concept relevance (CRP, ExplainRequest::concepts) against properties that hold whatever the
// rules compute, since every LRP rule is linear in the relevance it is given (the forward pass
// fixed):
// - the maps of all channels of a layer that every path crosses add up to the plain LRP map
//   (a sequential net, a ResNet after its residual add, a DenseNet at a concatenation);
// - a concept of joined channels is the sum of its channels' maps;
// - top:K picks the channels holding the most relevance at the layer, as the relevance arriving
//   there says (ExplainRequest::dump_layers, a separate sweep);
// - a batch gives each sample the maps it gets alone, and one concept per sweep the maps of one
//   sweep for all.
// Tolerances, relative to the largest magnitude: 1e-10 in double, 1e-5 in float.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <string>
#include <type_traits>
#include <vector>

#include "lrp/core/error.hpp"
#include "lrp/explain/explain.hpp"
#include "lrp/io/arrays.hpp"
#include "lrp/io/onnx.hpp"
#include "lrp/rules/composite.hpp"
#include "support/compare.hpp"
#include "support/test_paths.hpp"

namespace lrp::test {
namespace {

std::string fixture(const std::string& net, const std::string& file) {
  return source_path("tests/fixtures/zennit_modern/" + net + "/" + file);
}

template <class T>
double tolerance() {
  return std::is_same_v<T, float> ? 1e-5 : 1e-10;
}

ExplainRequest concept_request(const Model<double>& model, const std::string& composite, const std::string& layer,
                               const std::string& spec) {
  ExplainRequest req;
  req.rules = composite_rules(model, composite);
  req.concepts = parse_concepts(layer, spec);
  return req;
}

// The sum over the concept axis of [N, K, ...] maps: [N, ...].
template <class T>
Tensor<double> sum_of_maps(const Tensor<T>& maps) {
  Shape s = maps.shape();
  const std::size_t n = s[0], k = s[1];
  s.erase(s.begin() + 1);
  Tensor<double> out(s);
  const std::size_t per = out.sample_size();
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < k; ++j)
      for (std::size_t p = 0; p < per; ++p) out[i * per + p] += static_cast<double>(maps[(i * k + j) * per + p]);
  return out;
}

template <class T>
void check_all_channels_add_up(const std::string& net, const std::string& layer) {
  const Model<double> md = io::read_onnx_model(fixture(net, "model.onnx"));
  const Model<T> model = md.template convert<T>();
  const Tensor<T> x = io::read_npy(fixture(net, "input.npy")).template cast<T>();
  Explainer<T> ex(model);
  for (const std::string composite : {"epsilon", "epsilon_plus_flat", "epsilon_alpha2_beta1", "epsilon_gamma_box:-3,3"}) {
    SCOPED_TRACE(net + " " + layer + " " + composite + (std::is_same_v<T, float> ? " float" : " double"));
    ExplainRequest plain;
    plain.rules = composite_rules(md, composite);
    const Tensor<T> full = ex.explain(x, plain).relevance;
    const Explanation<T> c = ex.explain(x, concept_request(md, composite, layer, "all"));
    ASSERT_GT(c.targets_per_sample, 1u);
    ASSERT_EQ(c.concepts.size(), c.targets_per_sample * x.dim(0));
    EXPECT_LE(max_rel_error(sum_of_maps(c.relevance), full), tolerance<T>());
    // Each map is a share, not the whole (the test would pass trivially if every map were full / K).
    const std::size_t per = full.size();
    double largest_share = 0, largest = 0;
    for (std::size_t p = 0; p < per; ++p) {
      largest = std::max(largest, std::abs(static_cast<double>(full[p])));
      largest_share = std::max(largest_share, std::abs(static_cast<double>(c.relevance[p]) - static_cast<double>(full[p]) / static_cast<double>(c.targets_per_sample)));
    }
    EXPECT_GT(largest_share, 1e-3 * largest);
  }
}

TEST(Concepts, AllChannelsOfALayerEveryPathCrossesAddUpToTheMap) {
  for (const auto& [net, layer] : std::vector<std::pair<std::string, std::string>>{
           {"vgg_bn", "/features/features.4/Conv"},
           {"vgg_bn", "/classifier/classifier.1/Relu"},  // a dense layer's units
           {"resnet", "/layer1/layer1.0/relu2/Relu"},    // after the residual add
           {"resnet", "/layer2/layer2.0/Add"},
           {"densenet", "/block1/block1.1/cat/Concat"},
           {"densenet", "/transition1/conv/Conv"}}) {
    check_all_channels_add_up<double>(net, layer);
    check_all_channels_add_up<float>(net, layer);
  }
}

// A text encoder under AttnLRP, at its embedding LayerNorm [T, D] (every path crosses it): the
// hidden units (axis -1) and the tokens (axis 0) each split the whole map.
TEST(Concepts, HiddenUnitsOrTokensOfATransformerAddUpToTheMap) {
  const Model<double> md = io::read_onnx_model(source_path("tests/fixtures/bert/model.onnx"));
  const Tensor<double> ids = io::read_npy(source_path("tests/fixtures/bert/input.npy"));
  for (const long axis : {-1L, 0L, 1L}) {
    SCOPED_TRACE("axis " + std::to_string(axis));
    Explainer<double> ex(md);
    ExplainRequest plain;
    plain.rules = composite_rules(md, "attnlrp");
    const Tensor<double> full = ex.explain(ids, plain).relevance;
    ExplainRequest req = concept_request(md, "attnlrp", "/ln/LayerNormalization", "all");
    req.concepts.axis = axis;
    const Explanation<double> c = ex.explain(ids, req);
    EXPECT_EQ(c.targets_per_sample, axis == 0 ? 8u : 16u);  // [8 tokens, 16 hidden units]
    EXPECT_LE(max_rel_error(sum_of_maps(c.relevance), full), 1e-10);
  }
}

TEST(Concepts, TopChannelsHoldTheMostRelevanceAtTheLayer) {
  const Model<double> model = io::read_onnx_model(fixture("resnet", "model.onnx"));
  const Tensor<double> x = io::read_npy(fixture("resnet", "input.npy")).rows(0, 1);
  const std::string layer = "/layer1/layer1.0/relu2/Relu";
  Explainer<double> ex(model);
  ExplainRequest dump;
  dump.rules = composite_rules(model, "epsilon_plus_flat");
  dump.dump_layers = true;
  const Tensor<double> at = ex.explain(x, dump).layers.at(layer);  // [1, 8, 6, 6]
  const std::size_t channels = at.dim(1), plane = at.size() / channels;
  std::vector<double> held(channels, 0.0);
  for (std::size_t c = 0; c < channels; ++c)
    for (std::size_t p = 0; p < plane; ++p) held[c] += at[c * plane + p];
  std::vector<std::size_t> order(channels);
  std::iota(order.begin(), order.end(), std::size_t(0));
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return held[a] > held[b]; });

  const Explanation<double> top = ex.explain(x, concept_request(model, "epsilon_plus_flat", layer, "top:3"));
  ASSERT_EQ(top.concepts.size(), 3u);
  for (std::size_t j = 0; j < 3; ++j) {
    EXPECT_EQ(top.concepts[j], std::vector<std::size_t>{order[j]});
    EXPECT_NEAR(top.concept_relevance[j], held[order[j]], 1e-10 * std::abs(held[order[0]]));
  }
  EXPECT_GT(top.concept_relevance[0], top.concept_relevance[2]);
  // The same channels listed by hand give the same maps.
  const std::string listed = std::to_string(order[0]) + "," + std::to_string(order[1]) + "," + std::to_string(order[2]);
  const Explanation<double> by_hand = ex.explain(x, concept_request(model, "epsilon_plus_flat", layer, listed));
  EXPECT_LE(max_rel_error(by_hand.relevance, top.relevance), 1e-12);
}

TEST(Concepts, JoinedChannelsGiveTheSumOfTheirMaps) {
  const Model<double> model = io::read_onnx_model(fixture("vgg_bn", "model.onnx"));
  const Tensor<double> x = io::read_npy(fixture("vgg_bn", "input.npy")).rows(0, 1);
  Explainer<double> ex(model);
  const Explanation<double> e = ex.explain(x, concept_request(model, "epsilon_alpha2_beta1", "/features/features.4/Conv", "3,5,3+5"));
  ASSERT_EQ(e.relevance.dim(1), 3u);
  const std::size_t per = e.relevance.size() / 3;
  Tensor<double> sum(Shape{per}), joined(Shape{per});
  for (std::size_t p = 0; p < per; ++p) {
    sum[p] = e.relevance[p] + e.relevance[per + p];
    joined[p] = e.relevance[2 * per + p];
  }
  EXPECT_LE(max_rel_error(joined, sum), 1e-10);
  EXPECT_NEAR(e.concept_relevance[2], e.concept_relevance[0] + e.concept_relevance[1], 1e-10 * std::abs(e.concept_relevance[2]));
}

// Conditions (CRP): over every channel of a layer every path crosses, the conditioned maps add
// up to the unconditioned ones; below the concept layer they leave each concept's relevance at
// the layer alone, above it they split that too.
TEST(Concepts, ConditionsOnEveryChannelOfACrossedLayerAddUpToTheConceptMaps) {
  const Model<double> model = io::read_onnx_model(fixture("vgg_bn", "model.onnx"));
  const Tensor<double> x = io::read_npy(fixture("vgg_bn", "input.npy"));
  Explainer<double> ex(model);
  struct Case {
    std::string concept_layer, condition_layer;
    bool above;  // the condition layer lies between the concept layer and the output
  };
  for (const Case& c : {Case{"/features/features.8/Conv", "/features/features.4/Conv", false},
                        Case{"/features/features.4/Conv", "/features/features.8/Conv", true}}) {
    SCOPED_TRACE(c.concept_layer + " | " + c.condition_layer);
    const ExplainRequest plain = concept_request(model, "epsilon_plus_flat", c.concept_layer, "0,5,9+10");
    const Explanation<double> whole = ex.explain(x, plain);
    Tensor<double> sum(whole.relevance.shape());
    std::vector<double> held(whole.concept_relevance.size(), 0.0);
    for (std::size_t ch = 0; ch < 16; ++ch) {
      ExplainRequest req = plain;
      req.concepts.conditions.push_back({c.condition_layer, {ch}});
      const Explanation<double> part = ex.explain(x, req);
      if (ch == 3) {
        EXPECT_GT(max_rel_error(part.relevance, whole.relevance), 1e-3);  // a share, not the whole
      }
      for (std::size_t i = 0; i < sum.size(); ++i) sum[i] += part.relevance[i];
      for (std::size_t m = 0; m < held.size(); ++m) {
        held[m] += part.concept_relevance[m];
        if (!c.above) {
          EXPECT_EQ(part.concept_relevance[m], whole.concept_relevance[m]);  // conditions below leave it
        }
      }
    }
    EXPECT_LE(max_rel_error(sum, whole.relevance), 1e-10);
    if (c.above) {  // the relevance each concept holds at its layer is split too
      for (std::size_t m = 0; m < held.size(); ++m)
        EXPECT_NEAR(held[m], whole.concept_relevance[m], 1e-10 * (1 + std::abs(whole.concept_relevance[m])));
    }
  }
}

TEST(Concepts, BatchesAndPassesGiveEachSampleItsOwnMaps) {
  const Model<double> md = io::read_onnx_model(fixture("resnet", "model.onnx"));
  const Model<float> model = md.convert<float>();
  const Tensor<float> two = io::read_npy(fixture("resnet", "input.npy")).cast<float>();  // 2 samples
  Explainer<float> ex(model);
  ExplainRequest req = concept_request(md, "epsilon_plus_flat", "/layer2/layer2.0/relu2/Relu", "top:4");
  const Explanation<float> batch = ex.explain(two, req);
  ASSERT_EQ(batch.relevance.shape()[0], 2u);
  ASSERT_EQ(batch.relevance.shape()[1], 4u);
  // Each sample its own top channels (here in another order).
  EXPECT_NE(std::vector<std::vector<std::size_t>>(batch.concepts.begin(), batch.concepts.begin() + 4),
            std::vector<std::vector<std::size_t>>(batch.concepts.begin() + 4, batch.concepts.end()));
  const std::size_t per_sample = batch.relevance.size() / 2;
  for (std::size_t s = 0; s < 2; ++s) {
    SCOPED_TRACE("sample " + std::to_string(s));
    const Explanation<float> alone = ex.explain(two.rows(s, 1), req);
    for (std::size_t j = 0; j < 4; ++j) EXPECT_EQ(alone.concepts[j], batch.concepts[s * 4 + j]);
    Tensor<float> mine(alone.relevance.shape());
    std::copy(batch.relevance.data() + s * per_sample, batch.relevance.data() + (s + 1) * per_sample, mine.data());
    EXPECT_LE(max_rel_error(mine, alone.relevance), 1e-5);
  }
  ExplainRequest one_per_sweep = req;
  one_per_sweep.target_pass_bytes = 1;  // every concept in its own sweep
  EXPECT_LE(max_rel_error(ex.explain(two, one_per_sweep).relevance, batch.relevance), 1e-6);
}

TEST(Concepts, RequestsThatCannotBeMetAreRefused) {
  const Model<double> model = io::read_onnx_model(fixture("vgg_bn", "model.onnx"));
  const Tensor<double> x = io::read_npy(fixture("vgg_bn", "input.npy"));
  Explainer<double> ex(model);
  const std::string conv = "/features/features.4/Conv";  // 16 channels
  const auto refused = [&](ExplainRequest req, const std::string& needle) {
    try {
      ex.explain(x, req);
      ADD_FAILURE() << "no error; expected one containing '" << needle << "'";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  refused(concept_request(model, "epsilon", "nosuch", "all"), "concept layer 'nosuch' names no layer");
  refused(concept_request(model, "epsilon", conv, "16"), "concept channel 16 is beyond the 16 channels of layer");
  refused(concept_request(model, "epsilon", conv, "top:17"), "more channels than the 16");
  ExplainRequest several = concept_request(model, "epsilon", conv, "all");
  several.target = parse_target("all");
  refused(several, "the target gives 10 per sample");
  ExplainRequest gradient = concept_request(model, "epsilon", conv, "all");
  gradient.method = Method::Gradient;
  refused(gradient, "use --method lrp");
  ExplainRequest bad_axis = concept_request(model, "epsilon", conv, "all");
  bad_axis.concepts.axis = 3;
  refused(bad_axis, "concept axis 3 is not an axis of the output [16,6,6]");
  ExplainRequest cond = concept_request(model, "epsilon", conv, "all");
  cond.concepts.conditions.push_back({"nosuch", {0}});
  refused(cond, "condition layer 'nosuch' names no layer");
  cond.concepts.conditions = {{"/features/features.8/Conv", {16}}};
  refused(cond, "condition channel 16 is beyond the 16 channels of layer");
  cond.concepts.conditions = {{conv, {1}}};
  refused(cond, "a condition on the concept layer itself");
  EXPECT_THROW(parse_concept_condition("nolayer"), ConfigError);
  EXPECT_THROW(parse_concept_condition(":3"), ConfigError);
  EXPECT_THROW(parse_concept_condition("a:"), ConfigError);
  EXPECT_THROW(parse_concept_condition("a:1+x"), ConfigError);
  EXPECT_EQ(parse_concept_condition("/a:b/Conv:3+4").layer, "/a:b/Conv");  // split at the last ':'
  EXPECT_THROW(parse_concepts(conv, "top:0"), ConfigError);
  EXPECT_THROW(parse_concepts(conv, "top:x"), ConfigError);
  EXPECT_THROW(parse_concepts(conv, "1,,2"), ConfigError);
  EXPECT_THROW(parse_concepts(conv, "1+"), ConfigError);
  EXPECT_THROW(parse_concepts("", "all"), ConfigError);
}

}  // namespace
}  // namespace lrp::test
