#pragma once
// Token vocabularies of text models, to show a model's token ids as the text they stand for.
//
// Two formats, told apart by the file name:
//  * `*.json` — a Hugging Face `tokenizer.json`: `model.vocab` as an object {token: id}
//    (WordPiece, BPE) or as a list of [token, score] pairs whose index is the id (Unigram),
//    plus `added_tokens` [{"id": N, "content": "..."}] (special tokens such as [CLS]).
//  * anything else — a plain list such as BERT's `vocab.txt`: one token per line, the id is the
//    line number counted from 0 (a trailing "\r" is dropped, empty lines are tokens too).
#include <cstddef>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace lrp::io {

class Vocabulary {
 public:
  Vocabulary() = default;
  Vocabulary(std::vector<std::string> tokens, std::string source);
  std::size_t size() const { return tokens_.size(); }
  // The token of an id; ConfigError naming the id and the file when the id is not in it.
  const std::string& token(std::size_t id) const;
  // The id of a token, if the vocabulary holds it (the first id when a token repeats).
  std::optional<std::size_t> id_of(const std::string& token) const;
  const std::string& source() const { return source_; }
  // Whether tokens mark the start of a word ("Ġword" in byte-level BPE, "▁word" in
  // SentencePiece) rather than its continuation ("##ing" in WordPiece).
  bool marks_word_starts() const { return marks_word_starts_; }

 private:
  std::vector<std::string> tokens_;
  std::unordered_map<std::string, std::size_t> ids_;
  std::string source_;
  bool marks_word_starts_ = false;
};

// Reads a vocabulary; IoError when the file cannot be read, FormatError naming the file and the
// line or field that does not fit (an empty file, ids that repeat, a malformed JSON document).
Vocabulary read_vocabulary(const std::string& path);

}  // namespace lrp::io
