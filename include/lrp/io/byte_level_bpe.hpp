#pragma once
// GPT-2's byte-level BPE tokenizer, from a Hugging Face tokenizer.json (model.type "BPE" with a
// ByteLevel pre-tokenizer: GPT-2, GPT-J, GPT-NeoX, Pythia, RoBERTa-style vocabularies), so that a
// decoder language model is explained from its text without Python.
//
// As the tokenizers library: added tokens (<|endoftext|>) found in the text first, as they are;
// the rest split by GPT-2's pattern ('s 't 're 've 'm 'll 'd, ` ?letters`, ` ?digits`,
// ` ?other symbols`, whitespace that is not followed by a word), each piece's UTF-8 bytes mapped
// to GPT-2's printable characters (the space to "Ġ"), then merged pair by pair, the lowest-ranked
// merge first. Letters and numbers are told apart exactly in ASCII and Latin-1; elsewhere every
// character that is not whitespace, a combining mark or in the punctuation, symbol, arrow and
// emoji blocks counts as a letter (digits of other scripts too). Checked against GPT-2's own
// pattern on ASCII, Latin-1, Greek, Cyrillic, Hebrew, CJK, symbols and emoji.
#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace lrp::io {

class ByteLevelBpe {
 public:
  // FormatError naming the file and the field for a tokenizer.json of another kind, or malformed
  // (a merge of tokens the vocabulary lacks, ids that are not integers).
  static ByteLevelBpe read(const std::string& path);
  // Whether `path` is a tokenizer.json of this kind (false for WordPiece, Unigram, SentencePiece
  // BPE; throws only when the file cannot be read or parsed).
  static bool is_byte_level_bpe(const std::string& path);
  // The ids of `text` (UTF-8); FormatError for text that is not valid UTF-8.
  std::vector<std::size_t> encode(const std::string& text) const;
  // The pieces GPT-2's pattern cuts text (without added tokens) into, before the merges.
  static std::vector<std::string> split(const std::string& text);
  // The id used for padding (tokenizer.json's padding.pad_id), if it sets one; and whether it
  // pads on the left (padding.direction "Left", what a decoder's last position needs).
  std::optional<std::size_t> pad_id() const { return pad_id_; }
  bool pads_left() const { return pad_left_; }

 private:
  std::vector<std::size_t> encode_piece(const std::string& piece) const;
  std::string source_;
  std::unordered_map<std::string, std::size_t> vocab_;
  std::unordered_map<std::string, std::size_t> ranks_;  // "left right" -> merge rank
  std::vector<std::pair<std::string, std::size_t>> added_;  // content, id; longest first
  std::array<std::string, 256> byte_chars_;  // a byte's printable character (UTF-8)
  bool add_prefix_space_ = false;
  std::optional<std::size_t> pad_id_;
  bool pad_left_ = false;
};

// The text a byte-level BPE token stands for ("Ġthe" -> " the", "Ã©" -> "é", "Ċ" -> "\n"): its
// characters mapped back to bytes, when they all are byte characters and the bytes are whole
// UTF-8; nothing otherwise (SentencePiece's "▁the", half of a character).
std::optional<std::string> byte_level_text(const std::string& token);

}  // namespace lrp::io
