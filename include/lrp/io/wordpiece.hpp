#pragma once
// BERT's WordPiece tokenizer, from a vocabulary (vocab.txt): text to the token ids a BERT-style
// model reads, so that a text model is explained from its text without Python.
//
// As BERT's BasicTokenizer: control characters dropped, whitespace splits words, punctuation
// (ASCII, and the general-punctuation and CJK-punctuation blocks) and CJK ideographs become
// words of their own; when lowercasing (uncased models) accents are stripped as BERT does
// ("Café" -> "cafe": Latin-1 and Latin Extended-A letters and combining marks; other scripts
// keep their case and marks). Then WordPieceTokenizer:
// each word split greedily into the longest pieces the vocabulary holds, continuations written
// "##piece"; a word that cannot be split, or longer than 100 characters, is [UNK].
#include <cstddef>
#include <string>
#include <vector>

#include "lrp/io/vocabulary.hpp"

namespace lrp::io {

struct WordPieceOptions {
  bool lowercase = true;
  bool special_tokens = true;  // [CLS] first and [SEP] last (the vocabulary must hold them)
};

// Whether a vocabulary is uncased: no token outside brackets ([CLS], [unused0]) holds an
// uppercase ASCII letter.
bool vocabulary_is_uncased(const Vocabulary& vocab);

// The ids of `text` (UTF-8). FormatError for text that is not valid UTF-8 (naming the byte),
// ConfigError when the vocabulary lacks [UNK] where a word needs it, or [CLS]/[SEP].
std::vector<std::size_t> wordpiece_encode(const Vocabulary& vocab, const std::string& text, const WordPieceOptions& options = {});

}  // namespace lrp::io
