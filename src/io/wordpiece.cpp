// BERT's WordPiece tokenization: a basic split into words, then greedy longest-match pieces.
#include "lrp/io/wordpiece.hpp"

#include <cstdint>

#include "io/utf8.hpp"
#include "lrp/core/error.hpp"

namespace lrp::io {
namespace {

// Unicode's space separators (Zs) and the ASCII whitespace, as BERT's _is_whitespace.
bool is_whitespace(char32_t c) {
  return c == U' ' || c == U'\t' || c == U'\n' || c == U'\r' || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) ||
         c == 0x202F || c == 0x205F || c == 0x3000;
}
// Control and format characters BERT drops (Cc, Cf; tab and line ends count as whitespace).
bool is_control(char32_t c) {
  return c == 0 || c == 0xFFFD || (c < 0x20 && !is_whitespace(c)) || (c >= 0x7F && c < 0xA0) || c == 0xAD ||
         (c >= 0x200B && c <= 0x200F) || (c >= 0x202A && c <= 0x202E) || (c >= 0x2060 && c <= 0x2064) || c == 0xFEFF;
}
// All ASCII symbols (as BERT) and, beyond ASCII, the punctuation (P*) of Latin-1, of the general
// punctuation block and of the CJK and fullwidth forms.
bool is_punctuation(char32_t c) {
  if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126)) return true;
  switch (c) {
    case 0xA1: case 0xA7: case 0xAB: case 0xB6: case 0xB7: case 0xBB: case 0xBF: return true;
    case 0x2044: case 0x2052: case 0xFF04: case 0xFF0B: return false;  // maths and currency signs
    default: break;
  }
  return (c >= 0x2010 && c <= 0x2027) || (c >= 0x2030 && c <= 0x205E) || (c >= 0x3001 && c <= 0x3003) ||
         (c >= 0x3008 && c <= 0x3011) || (c >= 0xFF01 && c <= 0xFF0F);
}
bool is_cjk(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
         (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}
char32_t lower(char32_t c) {
  if (c >= U'A' && c <= U'Z') return c + 32;
  if (c >= 0xC0 && c <= 0xDE && c != 0xD7) return c + 32;  // Latin-1 capitals
  return c;
}
// The base letter of the accented letters U+00C0..U+017F (Latin-1, Latin Extended-A): the first
// character of their canonical decomposition (NFD), '.' where there is none (Æ, ß, Ø, ...).
constexpr char kBaseLetters[] =
    "AAAAAA.CEEEEIIII.NOOOOO..UUUUY..aaaaaa.ceeeeiiii.nooooo..uuuuy.yAaAaAaCcCcCcCcDd..EeEeEeEeEeGgGgGgGgHh..IiIiIiIiI..."
    "JjKk.LlLlLl....NnNnNn...OoOoOo..RrRrRrSsSsSsSsTtTt..UuUuUuUuUuUuWwYyYZzZzZz.";
char32_t strip_accent(char32_t c) {
  if (c < 0xC0 || c >= 0x180 || kBaseLetters[c - 0xC0] == '.') return c;
  return static_cast<char32_t>(kBaseLetters[c - 0xC0]);
}
bool is_combining_mark(char32_t c) { return c >= 0x300 && c <= 0x36F; }

// BasicTokenizer: words as code-point sequences.
std::vector<std::vector<char32_t>> basic_words(const std::string& text, bool lowercase) {
  std::vector<std::vector<char32_t>> words(1);
  const auto finish = [&] {
    if (!words.back().empty()) words.emplace_back();
  };
  for (char32_t c : decode_utf8(text)) {
    if (is_control(c) || (lowercase && is_combining_mark(c))) continue;
    if (is_whitespace(c)) {
      finish();
    } else if (is_punctuation(c) || is_cjk(c)) {
      finish();
      words.back().push_back(c);
      finish();
    } else {
      words.back().push_back(lowercase ? lower(strip_accent(c)) : c);  // uncased: accents stripped, as BERT
    }
  }
  if (words.back().empty()) words.pop_back();
  return words;
}

std::size_t required(const Vocabulary& vocab, const std::string& token) {
  const std::optional<std::size_t> id = vocab.id_of(token);
  if (!id) throw ConfigError("the vocabulary " + vocab.source() + " has no " + token + " token");
  return *id;
}

constexpr std::size_t kMaxCharsPerWord = 100;  // BERT's max_input_chars_per_word

}  // namespace

bool vocabulary_is_uncased(const Vocabulary& vocab) {
  for (std::size_t i = 0; i < vocab.size(); ++i) {
    const std::string& t = vocab.token(i);
    if (t.size() >= 2 && t.front() == '[' && t.back() == ']') continue;
    for (const char c : t)
      if (c >= 'A' && c <= 'Z') return false;
  }
  return true;
}

std::vector<std::size_t> wordpiece_encode(const Vocabulary& vocab, const std::string& text, const WordPieceOptions& options) {
  std::vector<std::size_t> ids;
  if (options.special_tokens) ids.push_back(required(vocab, "[CLS]"));
  for (const std::vector<char32_t>& word : basic_words(text, options.lowercase)) {
    std::vector<std::size_t> pieces;
    bool unknown = word.size() > kMaxCharsPerWord;
    for (std::size_t start = 0; start < word.size() && !unknown;) {
      std::size_t end = word.size();
      std::optional<std::size_t> id;
      for (; end > start; --end) {  // the longest piece the vocabulary holds
        id = vocab.id_of((start > 0 ? "##" : "") + encode_utf8(word, start, end));
        if (id) break;
      }
      if (!id) unknown = true;
      else pieces.push_back(*id);
      start = end;
    }
    if (unknown) ids.push_back(required(vocab, "[UNK]"));
    else ids.insert(ids.end(), pieces.begin(), pieces.end());
  }
  if (options.special_tokens) ids.push_back(required(vocab, "[SEP]"));
  return ids;
}

}  // namespace lrp::io
