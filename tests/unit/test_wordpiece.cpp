// BERT's WordPiece tokenization against hand-worked examples of its two stages (the basic split
// into words, the greedy longest-match pieces), and `lrp tokenize` feeding `lrp explain`.
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "lrp/core/error.hpp"
#include "lrp/io/arrays.hpp"
#include "lrp/io/vocabulary.hpp"
#include "lrp/io/wordpiece.hpp"
#include "support/run_cli.hpp"

namespace lrp {
namespace {

const std::vector<std::string> kTokens = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "the", "un", "##aff", "##able", "a",
                                          "##b", "##c", "abc", ",", "!", "hello", "world", "\xE4\xB8\xAD", "cafe", "'", "s", "CAF\xC3\x89"};

io::Vocabulary vocab(std::vector<std::string> tokens = kTokens) { return io::Vocabulary(std::move(tokens), "test vocab"); }

std::vector<std::string> pieces(const io::Vocabulary& v, const std::string& text, io::WordPieceOptions o = {}) {
  std::vector<std::string> out;
  for (const std::size_t id : io::wordpiece_encode(v, text, o)) out.push_back(v.token(id));
  return out;
}

using Pieces = std::vector<std::string>;

TEST(WordPiece, LongestPiecesFirst) {
  const io::Vocabulary v = vocab();
  // BERT's own docstring example: "unaffable" -> un ##aff ##able.
  EXPECT_EQ(pieces(v, "unaffable"), (Pieces{"[CLS]", "un", "##aff", "##able", "[SEP]"}));
  // "abc" is a token itself; "abcb" takes abc then ##b (longest first, not a ##b ##c ##b).
  EXPECT_EQ(pieces(v, "abcb"), (Pieces{"[CLS]", "abc", "##b", "[SEP]"}));
  // No split covers "abd": the whole word is [UNK], not "a" + [UNK].
  EXPECT_EQ(pieces(v, "abd the"), (Pieces{"[CLS]", "[UNK]", "the", "[SEP]"}));
  EXPECT_EQ(pieces(v, std::string(101, 'a')), (Pieces{"[CLS]", "[UNK]", "[SEP]"}));  // longer than 100 characters
}

TEST(WordPiece, BasicSplitPunctuationCjkCaseAndControls) {
  const io::Vocabulary v = vocab();
  EXPECT_EQ(pieces(v, "Hello,  WORLD!\t"), (Pieces{"[CLS]", "hello", ",", "world", "!", "[SEP]"}));
  EXPECT_EQ(pieces(v, "the's"), (Pieces{"[CLS]", "the", "'", "s", "[SEP]"}));
  // A CJK ideograph is a word of its own; uncased, accents are stripped (É, é and e + U+0301 -> e).
  EXPECT_EQ(pieces(v, "the\xE4\xB8\xAD" "CAF\xC3\x89 caf\xC3\xA9 cafe\xCC\x81"),
            (Pieces{"[CLS]", "the", "\xE4\xB8\xAD", "cafe", "cafe", "cafe", "[SEP]"}));
  // A zero-width space and a NUL are dropped; a no-break space separates words.
  EXPECT_EQ(pieces(v, std::string("un\xE2\x80\x8B") + '\0' + "affable the\xC2\xA0the"),
            (Pieces{"[CLS]", "un", "##aff", "##able", "the", "the", "[SEP]"}));
  io::WordPieceOptions keep;
  keep.lowercase = false;
  keep.special_tokens = false;
  EXPECT_EQ(pieces(v, "Hello hello"), (Pieces{"[CLS]", "hello", "hello", "[SEP]"}));
  EXPECT_EQ(pieces(v, "Hello hello", keep), (Pieces{"[UNK]", "hello"}));
  EXPECT_EQ(pieces(v, "CAF\xC3\x89", keep), (Pieces{"CAF\xC3\x89"}));  // cased: the accent stays
  EXPECT_FALSE(io::vocabulary_is_uncased(v));  // "CAFÉ"
  EXPECT_TRUE(io::vocabulary_is_uncased(vocab({"[CLS]", "hello", "##s"})));
  EXPECT_FALSE(io::vocabulary_is_uncased(vocab({"[CLS]", "Hello"})));
}

TEST(WordPiece, BadTextAndMissingSpecialTokens) {
  const io::Vocabulary v = vocab();
  EXPECT_THROW(io::wordpiece_encode(v, "the \xC3"), FormatError);          // truncated sequence
  EXPECT_THROW(io::wordpiece_encode(v, "\xC0\xAF"), FormatError);          // overlong encoding of '/'
  EXPECT_THROW(io::wordpiece_encode(v, "\xED\xA0\x80"), FormatError);      // a UTF-16 surrogate
  EXPECT_THROW(io::wordpiece_encode(vocab({"the"}), "the"), ConfigError);  // no [CLS]
  io::WordPieceOptions plain;
  plain.special_tokens = false;
  EXPECT_THROW(io::wordpiece_encode(vocab({"the"}), "other", plain), ConfigError);  // no [UNK]
}

// The fixture's BERT reads ids below 50: a vocabulary of 50 words, texts tokenized, padded and
// masked by `lrp tokenize`, then explained with the mask bound (masked tokens get no relevance).
TEST(WordPiece, TokenizeThenExplainFromTheCommandLine) {
  const std::string v = test::temp_path("wp_vocab.txt"), ids = test::temp_path("wp_ids.npy"), mask = test::temp_path("wp_mask.npy"),
                    rel = test::temp_path("wp_rel.npy");
  {
    std::ofstream out(v);
    for (const char* t : {"[PAD]", "[UNK]", "[CLS]", "[SEP]"}) out << t << "\n";
    for (int i = 4; i < 50; ++i) out << "w" << i << "\n";
  }
  test::CliResult r = test::run_cli("tokenize " + v + " \"w7 w8, w9\" \"W10\" --out " + ids + " --mask " + mask + " --length 8");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("text 0: 6 tokens: [CLS] w7 w8 [UNK] w9 [SEP]"), std::string::npos) << r.output;
  const Tensor<double> got = io::read_npy(ids), m = io::read_npy(mask);
  ASSERT_EQ(got.shape(), (Shape{2, 8}));
  const std::vector<double> want = {2, 7, 8, 1, 9, 3, 0, 0, 2, 10, 3, 0, 0, 0, 0, 0};
  const std::vector<double> want_mask = {1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0};
  for (std::size_t i = 0; i < 16; ++i) {
    EXPECT_EQ(got[i], want[i]) << i;
    EXPECT_EQ(m[i], want_mask[i]) << i;
  }
  // The mask input of this fixture is one sample's: bind the first text's mask.
  const std::string mask0 = test::temp_path("wp_mask0.npy");
  Tensor<double> first({1, 8});
  for (std::size_t i = 0; i < 8; ++i) first[i] = m[i];
  io::write_npy(mask0, first);
  const std::string one = test::temp_path("wp_ids0.npy");
  r = test::run_cli("tokenize " + v + " \"w7 w8, w9\" --out " + one + " --length 8 --quiet");
  ASSERT_EQ(r.code, 0) << r.output;
  r = test::run_cli("explain " + test::source_path("tests/fixtures/bert/model_mask.onnx") + " " + one + " --bind attention_mask=" +
                    mask0 + " --composite attnlrp --out " + rel + " --quiet");
  ASSERT_EQ(r.code, 0) << r.output;
  const Tensor<double> relevance = io::read_npy(rel);
  ASSERT_EQ(relevance.size(), 8u);
  EXPECT_NE(relevance[1], 0.0);
  EXPECT_LE(std::abs(relevance[6]) + std::abs(relevance[7]), 1e-6 * std::abs(relevance[1]));  // the padding
  // Refusals: too long without --truncate, no [PAD] to pad with, bad UTF-8, no text.
  r = test::run_cli("tokenize " + v + " \"w4 w5 w6 w7 w8 w9 w10\" --out " + ids + " --length 4");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("give --truncate"), std::string::npos) << r.output;
  r = test::run_cli("tokenize " + v + " \"w4 w5 w6 w7 w8 w9 w10\" --out " + ids + " --length 4 --truncate --quiet");
  ASSERT_EQ(r.code, 0) << r.output;
  const Tensor<double> cut = io::read_npy(ids);
  EXPECT_EQ(cut.shape(), (Shape{1, 4}));
  EXPECT_EQ(cut[0], 2.0);
  EXPECT_EQ(cut[1], 4.0);
  EXPECT_EQ(cut[3], 3.0);  // [SEP] kept
  const std::string nopad = test::temp_path("wp_nopad.txt");
  std::ofstream(nopad) << "[CLS]\n[SEP]\n[UNK]\nw\n";
  r = test::run_cli("tokenize " + nopad + " w \"w w\" --out " + ids);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("no [PAD]"), std::string::npos) << r.output;
  const std::string bad = test::temp_path("wp_bad.txt");
  std::ofstream(bad) << "w4\n\xFF\xFE\n";
  r = test::run_cli("tokenize " + v + " --file " + bad + " --out " + ids);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("text 1: the text is not valid UTF-8"), std::string::npos) << r.output;
  r = test::run_cli("tokenize " + v + " --out " + ids);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("no text"), std::string::npos) << r.output;
  const std::string bpe = test::temp_path("wp_bpe.txt");
  std::ofstream(bpe) << "the\n\xC4\xA0" "cat\n";
  r = test::run_cli("tokenize " + bpe + " \"the cat\" --out " + ids);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("marks word starts but is not a BPE tokenizer.json lrp reads"), std::string::npos) << r.output;
  for (const std::string& p : {v, ids, mask, rel, mask0, one, nopad, bad, bpe}) std::remove(p.c_str());
}

}  // namespace
}  // namespace lrp
