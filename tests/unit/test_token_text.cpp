// Token vocabularies (vocab.txt, tokenizer.json) and token relevance as HTML text or a table.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>

#include "lrp/core/error.hpp"
#include "lrp/io/vocabulary.hpp"
#include "lrp/render/token_text.hpp"
#include "support/html_text.hpp"
#include "support/run_cli.hpp"

namespace lrp {
namespace {

std::string file_with(const std::string& name, const std::string& content) {
  const std::string p = test::temp_path(name);
  std::ofstream(p, std::ios::binary) << content;
  return p;
}

using test::visible_text;

std::string paragraph(const std::string& html, std::size_t index) {
  std::size_t at = 0;
  for (std::size_t i = 0; i <= index; ++i) at = html.find("<p>", at) + 3;
  return html.substr(at, html.find("</p>", at) - at);
}

TEST(Vocabulary, PlainListIdsAreLineNumbers) {
  const io::Vocabulary v = io::read_vocabulary(file_with("vocab.txt", "[PAD]\r\n[CLS]\nhello\n\n##ing\n"));
  ASSERT_EQ(v.size(), 5u);
  EXPECT_EQ(v.token(0), "[PAD]");  // "\r" of Windows line ends dropped
  EXPECT_EQ(v.token(2), "hello");
  EXPECT_EQ(v.token(3), "");       // an empty line is a token too
  EXPECT_EQ(v.token(4), "##ing");
  EXPECT_FALSE(v.marks_word_starts());
  EXPECT_THROW(v.token(5), ConfigError);
}

TEST(Vocabulary, TokenizerJsonObjectListAndAddedTokens) {
  const io::Vocabulary bpe = io::read_vocabulary(file_with(
      "tokenizer.json", R"({"model": {"type": "BPE", "vocab": {"a": 0, "\u0120big": 2, "cat": 3}},
                            "added_tokens": [{"id": 4, "content": "<|end|>", "special": true}]})"));
  ASSERT_EQ(bpe.size(), 5u);
  EXPECT_EQ(bpe.token(2), "\xC4\xA0" "big");
  EXPECT_EQ(bpe.token(1), "[1]");  // a gap in the ids
  EXPECT_EQ(bpe.token(4), "<|end|>");
  EXPECT_TRUE(bpe.marks_word_starts());
  const io::Vocabulary unigram = io::read_vocabulary(
      file_with("unigram.json", R"({"model": {"type": "Unigram", "vocab": [["<unk>", 0.0], ["\u2581the", -1.5], ["s", -3]]}})"));
  ASSERT_EQ(unigram.size(), 3u);
  EXPECT_EQ(unigram.token(1), "\xE2\x96\x81the");
  EXPECT_TRUE(unigram.marks_word_starts());
}

TEST(Vocabulary, BadFilesNameTheFileAndField) {
  const auto message = [](const std::string& path) {
    try {
      io::read_vocabulary(path);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message("/nonexistent/vocab.txt").find("/nonexistent/vocab.txt"), std::string::npos);
  EXPECT_NE(message(file_with("empty.txt", "")).find("empty"), std::string::npos);
  EXPECT_NE(message(file_with("bad.json", "{\"model\": ")).find("not a JSON document"), std::string::npos);
  EXPECT_NE(message(file_with("novocab.json", "{\"model\": {}}")).find("model.vocab"), std::string::npos);
  EXPECT_NE(message(file_with("strid.json", R"({"model": {"vocab": {"a": "x"}}})")).find("model.vocab['a']"), std::string::npos);
  EXPECT_NE(message(file_with("twice.json", R"({"model": {"vocab": {"a": 0, "b": 0}}})")).find("given twice"), std::string::npos);
  // A huge id is refused instead of sizing a table by it.
  EXPECT_NE(message(file_with("huge.json", R"({"model": {"vocab": {"a": 0, "b": 4000000000}}})")).find("out of range"),
            std::string::npos);
  EXPECT_NE(message(file_with("neg.json", R"({"model": {"vocab": {"a": -1}}})")).find("out of range"), std::string::npos);
  EXPECT_NE(message(file_with("added.json", R"({"model": {"vocab": {"a": 0}}, "added_tokens": [{"id": 1}]})")).find("added_tokens[0]"),
            std::string::npos);
}

TEST(TokenText, PiecesJoinWordsByTheVocabularysConvention) {
  EXPECT_EQ(render::token_piece("##ing", false).text, "ing");
  EXPECT_FALSE(render::token_piece("##ing", false).space_before);
  EXPECT_TRUE(render::token_piece("play", false).space_before);
  EXPECT_TRUE(render::token_piece("##", false).space_before);  // the token "##" itself
  EXPECT_EQ(render::token_piece("\xC4\xA0" "world", true).text, "world");
  EXPECT_TRUE(render::token_piece("\xC4\xA0" "world", true).space_before);
  EXPECT_TRUE(render::token_piece("\xE2\x96\x81" "x", true).space_before);
  EXPECT_FALSE(render::token_piece("ing", true).space_before);
}

TEST(TokenText, ColoursFollowTheSignAndSizeOfTheRelevance) {
  // matplotlib's bwr: -max|R| blue, +max|R| red, 0 near white.
  EXPECT_EQ(render::token_colour(2.0, 2.0, "bwr"), "#ff0000");
  EXPECT_EQ(render::token_colour(-2.0, 2.0, "bwr"), "#0000ff");
  const std::string zero = render::token_colour(0.0, 2.0, "bwr");
  for (std::size_t i = 1; i < 7; i += 2) EXPECT_GE(std::stoi(zero.substr(i, 2), nullptr, 16), 0xf0) << zero;
  EXPECT_EQ(render::token_colour(0.0, 0.0, "bwr"), zero);  // an all-zero map: every token at the centre
  EXPECT_THROW(render::token_colour(1.0, 1.0, "gray-red"), ConfigError);  // custom maps colour whole images
}

TEST(TokenText, HtmlShowsTheTextWithEscapedTokens) {
  const std::vector<render::TokenMap> maps = {
      {"sample 0, target 1", {"[CLS]", "un", "##believ", "##able", "<b>", "&", "film"}, {0, 1, -2, 0.5, 0.25, 0, 4}},
      {"sample 1", {"x"}, {0}}};
  std::ostringstream out;
  render::write_token_html(out, maps, false);
  const std::string html = out.str();
  EXPECT_EQ(visible_text(paragraph(html, 0)), "[CLS] unbelievable <b> & film");
  EXPECT_EQ(visible_text(paragraph(html, 1)), "x");
  EXPECT_NE(html.find("&lt;b&gt;"), std::string::npos);
  EXPECT_NE(html.find("sample 0, target 1"), std::string::npos);
  // The largest |R| (4, "film") gets the map's end colour; its tooltip carries the value.
  EXPECT_NE(html.find("background:#ff0000;color:#fff\" title=\"4\">film"), std::string::npos) << html;
  EXPECT_NE(html.find("title=\"-2\">believ"), std::string::npos);
  std::ostringstream bpe;
  render::write_token_html(bpe, {{"s", {"\xC4\xA0" "The", "\xC4\xA0" "cat", "s"}, {1, 2, 3}}}, true);
  EXPECT_EQ(visible_text(paragraph(bpe.str(), 0)), "The cats");
}

TEST(TokenText, TableHasOneRowPerToken) {
  std::ostringstream out;
  render::write_token_table(out, {{"sample 0", {"a\tb", "c"}, {0.5, -1.25}}});
  EXPECT_EQ(out.str(), "map\tposition\ttoken\trelevance\nsample 0\t0\ta\\tb\t0.5\nsample 0\t1\tc\t-1.25\n");
}

TEST(TokenText, BadMapsAreRefused) {
  std::ostringstream out;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_THROW(render::write_token_html(out, {{"s", {"a", "b"}, {1.0, nan}}}, false), NumericError);
  EXPECT_THROW(render::write_token_table(out, {{"s", {"a"}, {HUGE_VAL}}}), NumericError);
  EXPECT_THROW(render::write_token_html(out, {{"s", {"a", "b"}, {1.0}}}, false), ShapeError);
}

}  // namespace
}  // namespace lrp
