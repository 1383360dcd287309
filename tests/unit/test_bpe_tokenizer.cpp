// BPE tokenizers of tokenizer.json (lrp tokenize). Byte-level: a small tokenizer built here (the
// 256 byte characters, ids = byte values, by an implementation of GPT-2's bytes_to_unicode written
// for this test, and a few merges) against tokenizations worked out by hand from GPT-2's pattern
// and merge order, and the split against GPT-2's own pattern (tests/fixtures/bpe). SentencePiece-
// style: a tokenizer trained by SentencePiece and converted as Hugging Face converts Llama's,
// against SentencePiece's own ids (tests/fixtures/sentencepiece).
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "lrp/core/error.hpp"
#include "lrp/io/arrays.hpp"
#include "lrp/io/bpe_tokenizer.hpp"
#include "support/run_cli.hpp"
#include "support/test_paths.hpp"

namespace lrp {
namespace {

std::string utf8(char32_t c) {
  std::string s;
  if (c < 0x80) {
    s += static_cast<char>(c);
  } else {  // below 0x800 here
    s += static_cast<char>(0xC0 | (c >> 6));
    s += static_cast<char>(0x80 | (c & 0x3F));
  }
  return s;
}

// GPT-2's bytes_to_unicode: printable bytes map to themselves, the rest to 256, 257, ... in order.
std::vector<std::string> byte_chars() {
  std::vector<std::string> out(256);
  char32_t next = 256;
  for (unsigned b = 0; b < 256; ++b) {
    const bool keep = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    out[b] = utf8(keep ? b : next++);
  }
  return out;
}

std::string write_tokenizer(const std::string& name, bool prefix_space, bool array_merges = false, nlohmann::json padding = nullptr,
                            const std::string& pre = "ByteLevel") {
  nlohmann::json vocab = nlohmann::json::object();
  const std::vector<std::string> bytes = byte_chars();
  for (std::size_t b = 0; b < 256; ++b) vocab[bytes[b]] = b;
  const std::string g = bytes[' '];  // "Ġ"
  vocab["he"] = 256;
  vocab[g + "t"] = 257;
  vocab[g + "the"] = 258;
  vocab["ll"] = 259;
  vocab["ell"] = 260;
  nlohmann::json merges = nlohmann::json::array();
  for (const auto& [l, r] : std::vector<std::pair<std::string, std::string>>{{"h", "e"}, {g, "t"}, {g + "t", "he"}, {"l", "l"}, {"e", "ll"}})
    merges.push_back(array_merges ? nlohmann::json::array({l, r}) : nlohmann::json(l + " " + r));
  nlohmann::json doc = {{"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", merges}}},
                        {"pre_tokenizer", {{"type", pre}, {"add_prefix_space", prefix_space}}},
                        {"added_tokens", nlohmann::json::array({{{"id", 261}, {"content", "<|endoftext|>"}, {"special", true}}})}};
  if (!padding.is_null()) doc["padding"] = padding;
  const std::string path = test::temp_path(name);
  std::ofstream(path) << doc.dump();
  return path;
}

using Ids = std::vector<std::size_t>;

TEST(BpeTokenizer, GptTwoPatternAndMergesByRank) {
  for (const bool arrays : {false, true}) {  // merges as "a b" strings, or as ["a", "b"] pairs
    const std::string path = write_tokenizer("bpe.json", false, arrays);
    ASSERT_EQ(io::BpeTokenizer::kind_of(path), io::BpeTokenizer::Kind::ByteLevel);
    const io::BpeTokenizer bpe = io::BpeTokenizer::read(path);
    EXPECT_EQ(bpe.encode("the"), (Ids{'t', 256}));                 // h e first; "t he" is no merge
    EXPECT_EQ(bpe.encode(" the"), (Ids{258}));                     // h e, then Ġ t, then Ġt he
    EXPECT_EQ(bpe.encode("Hello  world"), (Ids{'H', 260, 'o', ' ', ' ', 'w', 'o', 'r', 'l', 'd'}));  // l l, then e ll
    EXPECT_EQ(bpe.encode("it's"), (Ids{'i', 't', '\'', 's'}));
    EXPECT_EQ(bpe.encode("a<|endoftext|>b"), (Ids{'a', 261, 'b'}));
    EXPECT_EQ(bpe.encode("x\n\ny"), (Ids{'x', '\n', '\n', 'y'}));
    EXPECT_EQ(bpe.encode("\xC3\xA9t\xC3\xA9"), (Ids{0xC3, 0xA9, 't', 0xC3, 0xA9}));  // "été": one word of bytes
    EXPECT_EQ(bpe.encode("2024 go!?"), (Ids{'2', '0', '2', '4', ' ', 'g', 'o', '!', '?'}));
    EXPECT_EQ(bpe.encode("x  "), (Ids{'x', ' ', ' '}));  // trailing whitespace stays whole
    EXPECT_THROW(bpe.encode("bad \xC3("), FormatError);
    std::remove(path.c_str());
  }
  const std::string prefixed = write_tokenizer("bpe_prefix.json", true);
  EXPECT_EQ(io::BpeTokenizer::read(prefixed).encode("the"), (Ids{258}));  // add_prefix_space
  std::remove(prefixed.c_str());
}

// GPT-2's own pattern (with the regex module's Unicode classes) on ASCII, Latin-1, Greek,
// Cyrillic, Hebrew, CJK, typographic punctuation, emoji and odd whitespace
// (tests/fixtures/bpe/pretokenize.json): the same pieces.
TEST(BpeTokenizer, SplitsAsGptTwosAndLlamaThreesPatterns) {
  for (const auto& [file, pattern] : {std::pair{"pretokenize.json", io::BpeTokenizer::Pattern::Gpt2},
                                      std::pair{"pretokenize_llama3.json", io::BpeTokenizer::Pattern::Llama3}}) {
    std::ifstream in(test::source_path(std::string("tests/fixtures/bpe/") + file));
    const nlohmann::json cases = nlohmann::json::parse(in);
    ASSERT_GT(cases.size(), 30u);
    for (const nlohmann::json& c : cases) {
      const std::string text = c["text"].get<std::string>();
      EXPECT_EQ(io::BpeTokenizer::split(text, pattern), c["pieces"].get<std::vector<std::string>>()) << file << ": " << text;
    }
  }
  // A tokenizer.json with Llama 3's pre-tokenizer (the pattern as the fixture spells it) is taken
  // as byte-level, split by that pattern: "1234" is "123", "4" (GPT-2's pattern keeps it whole).
  std::ifstream p(test::source_path("tests/fixtures/bpe/llama3_pattern.txt"));
  const std::string pattern((std::istreambuf_iterator<char>(p)), std::istreambuf_iterator<char>());
  nlohmann::json doc = nlohmann::json::parse(std::ifstream(write_tokenizer("llama3.json", false)));
  doc["pre_tokenizer"] = {{"type", "Sequence"},
                          {"pretokenizers", {{{"type", "Split"}, {"pattern", {{"Regex", pattern}}}, {"behavior", "Isolated"}, {"invert", false}},
                                             {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}}}};
  const std::string path = test::temp_path("llama3.json");
  std::ofstream(path) << doc.dump();
  ASSERT_EQ(io::BpeTokenizer::kind_of(path), io::BpeTokenizer::Kind::ByteLevel);
  EXPECT_EQ(io::BpeTokenizer::read(path).encode("1234"), (Ids{'1', '2', '3', '4'}));
  EXPECT_EQ(io::BpeTokenizer::split("1234", io::BpeTokenizer::Pattern::Llama3), (std::vector<std::string>{"123", "4"}));
  doc["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = pattern + "|x";  // another pattern: refused
  std::ofstream(path) << doc.dump();
  EXPECT_FALSE(io::BpeTokenizer::kind_of(path));
  std::remove(path.c_str());
}

TEST(BpeTokenizer, TokensAsTheTextTheyStandFor) {
  const std::vector<std::string> b = byte_chars();
  EXPECT_EQ(io::byte_level_text(b[' '] + "the"), " the");
  EXPECT_EQ(io::byte_level_text(b[0xC3] + b[0xA9]), "\xC3\xA9");  // "é"
  EXPECT_EQ(io::byte_level_text(b['\n']), "\n");
  EXPECT_EQ(io::byte_level_text("\xE2\x96\x81the"), std::nullopt);  // SentencePiece's "▁the"
  EXPECT_EQ(io::byte_level_text(b[0xC3]), std::nullopt);            // half of "é"
}

// SentencePiece-style BPE with byte fallback: the ids SentencePiece itself gives, <s> first, for
// words, spaces at the start and end and doubled, digits, Latin-1 and CJK, characters the
// vocabulary lacks (spelled as bytes), emoji, tabs and newlines, an empty text; without special
// tokens the same less <s>.
TEST(BpeTokenizer, SentencePieceStyleMatchesSentencePiece) {
  const std::string dir = "tests/fixtures/sentencepiece/";
  ASSERT_EQ(io::BpeTokenizer::kind_of(test::source_path(dir + "tokenizer.json")), io::BpeTokenizer::Kind::SentencePiece);
  const io::BpeTokenizer sp = io::BpeTokenizer::read(test::source_path(dir + "tokenizer.json"));
  std::ifstream in(test::source_path(dir + "encodings.json"));
  const nlohmann::json cases = nlohmann::json::parse(in);
  ASSERT_GT(cases.size(), 10u);
  for (const nlohmann::json& c : cases) {
    const std::string text = c["text"].get<std::string>();
    const Ids want = c["ids"].get<Ids>();
    EXPECT_EQ(sp.encode(text), want) << text;
    EXPECT_EQ(sp.encode(text, false), Ids(want.begin() + 1, want.end())) << text;
  }
}

TEST(BpeTokenizer, OtherTokenizersAndBrokenFilesAreRefused) {
  const std::string sp = write_tokenizer("whitespace.json", false, false, nullptr, "Whitespace");
  EXPECT_FALSE(io::BpeTokenizer::kind_of(sp));
  EXPECT_THROW(io::BpeTokenizer::read(sp), FormatError);
  const std::string own = test::temp_path("own_pattern.json");  // Llama 3: its own pattern, then bytes
  std::ofstream(own) << R"({"model": {"type": "BPE", "vocab": {}, "merges": []}, "pre_tokenizer": {"type": "Sequence",
      "pretokenizers": [{"type": "Split", "pattern": {"Regex": "\\\\p{L}+"}}, {"type": "ByteLevel", "use_regex": false}]}})";
  EXPECT_FALSE(io::BpeTokenizer::kind_of(own));
  std::remove(own.c_str());
  const std::string path = test::temp_path("broken.json");
  for (const std::string& doc :
       {std::string(R"({"model": {"type": "BPE", "vocab": {}, "merges": []}, "pre_tokenizer": {"type": "ByteLevel"}})"),  // no bytes
        std::string(R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["ab"]}, "pre_tokenizer": {"type": "ByteLevel"}})"),
        std::string(R"({"model": {"type": "BPE", "vocab": {"a": -1}, "merges": []}, "pre_tokenizer": {"type": "ByteLevel"}})"),
        std::string(R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": [3]}, "pre_tokenizer": {"type": "ByteLevel"}})"),
        std::string("{\"model\": ")}) {
    std::ofstream(path) << doc;
    try {
      io::BpeTokenizer::read(path);
      ADD_FAILURE() << "accepted " << doc;
    } catch (const FormatError& e) {
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    }
  }
  std::remove(sp.c_str());
  std::remove(path.c_str());
}

// The command line: two texts padded on the left with the tokenizer's pad id (a decoder reads
// its last position), the mask 0 there; --case is refused; a Metaspace tokenizer is refused.
TEST(BpeTokenizer, TokenizeCommandPadsAsTheTokenizerSays) {
  const std::string path = write_tokenizer("bpe_pad.json", false, false, {{"pad_id", 261}, {"direction", "Left"}});
  const std::string ids = test::temp_path("bpe_ids.npy"), mask = test::temp_path("bpe_mask.npy");
  test::CliResult r = test::run_cli("tokenize " + path + " \" the\" \"Hello\" --out " + ids + " --mask " + mask);
  ASSERT_EQ(r.code, 0) << r.output;
  const Tensor<double> got = io::read_npy(ids), m = io::read_npy(mask);
  ASSERT_EQ(got.shape(), (Shape{2, 3}));  // " the" is one token, "Hello" three (H, ell, o)
  EXPECT_EQ((std::vector<double>(got.begin(), got.end())), (std::vector<double>{261, 261, 258, 'H', 260, 'o'}));
  EXPECT_EQ((std::vector<double>(m.begin(), m.end())), (std::vector<double>{0, 0, 1, 1, 1, 1}));
  r = test::run_cli("tokenize " + path + " x --case lower --out " + ids);
  EXPECT_EQ(r.code, 2) << r.output;
  const std::string sp = write_tokenizer("whitespace_cli.json", false, false, nullptr, "Whitespace");
  r = test::run_cli("tokenize " + sp + " x --out " + ids);
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("SentencePiece"), std::string::npos) << r.output;
  for (const std::string& p : {path, ids, mask, sp}) std::remove(p.c_str());
}

}  // namespace
}  // namespace lrp
