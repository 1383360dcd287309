#pragma once
// BPE tokenizers from a Hugging Face tokenizer.json (model.type "BPE"), so that a decoder
// language model is explained from its text without Python. Two kinds:
//
//  * Byte-level (GPT-2, GPT-J, GPT-NeoX, Pythia; pre_tokenizer ByteLevel; Llama 3, whose Split
//    pre-tokenizer gives tiktoken's cl100k pattern, split by that pattern instead): added tokens
//    (<|endoftext|>) found in the text first, as they are; the rest split by GPT-2's pattern
//    ('s 't 're 've 'm 'll 'd, ` ?letters`, ` ?digits`, ` ?other symbols`, whitespace not
//    followed by a word), each piece's UTF-8 bytes mapped to GPT-2's printable characters (the
//    space to "Ġ"), then merged pair by pair, the lowest-ranked merge first. Letters and
//    numbers are told apart exactly in ASCII and Latin-1; elsewhere every character that is not
//    whitespace, a combining mark or in the punctuation, symbol, arrow and emoji blocks counts as
//    a letter. Both patterns checked against the regex module's on ASCII, Latin-1, Greek,
//    Cyrillic, Hebrew, CJK, symbols, emoji, digits and line breaks.
//  * SentencePiece (Llama 2, Mistral; normalizer Prepend "▁" + Replace " " -> "▁", or a Metaspace
//    pre_tokenizer): spaces written "▁" and one put in front, the characters merged by rank,
//    pieces the vocabulary lacks spelled as their bytes (<0x41>, byte_fallback) or <unk>.
//    Checked against SentencePiece itself (tests/fixtures/sentencepiece).
//
// Both then add the special tokens of a TemplateProcessing post_processor (Llama's <s>) unless
// told not to.
#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace lrp::io {

class BpeTokenizer {
 public:
  enum class Kind { ByteLevel, SentencePiece };
  // The kind of BPE tokenizer a tokenizer.json holds, or nothing (WordPiece, Unigram, a BPE with
  // its own split pattern such as Llama 3's); throws only when the file cannot be read or parsed.
  static std::optional<Kind> kind_of(const std::string& path);
  // FormatError naming the file and the field for a tokenizer.json of another kind, or malformed
  // (ids that are not integers, merges that are not pairs, a byte token missing).
  static BpeTokenizer read(const std::string& path);
  // read() for a tokenizer.json of a kind lrp reads, nothing for another (one parse of the file).
  static std::optional<BpeTokenizer> read_if_bpe(const std::string& path);
  // The ids of `text` (UTF-8), with the post_processor's special tokens when `special_tokens`;
  // FormatError for text that is not valid UTF-8.
  std::vector<std::size_t> encode(const std::string& text, bool special_tokens = true) const;
  Kind kind() const { return kind_; }
  // The id used for padding (tokenizer.json's padding.pad_id), if it sets one; and whether it
  // pads on the left (padding.direction "Left", what a decoder's last position needs).
  std::optional<std::size_t> pad_id() const { return pad_id_; }
  bool pads_left() const { return pad_left_; }
  // The pattern a byte-level tokenizer splits text by: GPT-2's, or Llama 3's (tiktoken's cl100k,
  // given to a Split pre-tokenizer in its tokenizer.json; recognised by its exact spelling).
  enum class Pattern { Gpt2, Llama3 };
  // The pieces a pattern cuts text (without added tokens) into, before the merges.
  static std::vector<std::string> split(const std::string& text, Pattern pattern = Pattern::Gpt2);

 private:
  // The tokenizer of `path`; nothing for another kind of tokenizer.json unless `required`.
  static std::optional<BpeTokenizer> build(const std::string& path, bool required);
  std::vector<std::string> merged(std::vector<std::string> symbols) const;
  void encode_plain(const std::string& text, bool first, std::vector<std::size_t>& ids) const;
  Kind kind_ = Kind::ByteLevel;
  Pattern pattern_ = Pattern::Gpt2;
  std::string source_;
  std::unordered_map<std::string, std::size_t> vocab_;
  std::unordered_map<std::string, std::size_t> ranks_;      // "left right" -> merge rank
  std::vector<std::pair<std::string, std::size_t>> added_;  // content, id; longest first
  std::vector<std::size_t> prefix_, suffix_;                // the post_processor's special tokens
  std::array<std::string, 256> byte_chars_;                 // byte-level: a byte's printable character (UTF-8)
  bool add_prefix_space_ = false;                           // byte-level: a space in front of the text
  bool prepend_ = false, split_words_ = false;              // SentencePiece: "▁" in front; split at each "▁"
  bool byte_fallback_ = false;
  std::optional<std::size_t> unk_;
  std::optional<std::size_t> pad_id_;
  bool pad_left_ = false;
};

// The text a byte-level BPE token stands for ("Ġthe" -> " the", "Ã©" -> "é", "Ċ" -> "\n"): its
// characters mapped back to bytes, when they all are byte characters and the bytes are whole
// UTF-8; nothing otherwise (SentencePiece's "▁the", half of a character).
std::optional<std::string> byte_level_text(const std::string& token);

}  // namespace lrp::io
