// BPE tokenizers of tokenizer.json (see the header): byte-level (GPT-2's pattern, bytes to
// printable characters) or SentencePiece-style ("▁" for spaces, byte fallback), merges by rank.
#include "lrp/io/bpe_tokenizer.hpp"

#include <algorithm>
#include <cstdio>
#include <limits>
#include <nlohmann/json.hpp>

#include "io/utf8.hpp"
#include "lrp/core/error.hpp"
#include "lrp/io/atomic_file.hpp"

namespace lrp::io {
namespace {

nlohmann::json parse_json(const std::string& path) {
  try {
    return nlohmann::json::parse(read_file_bytes(path));
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(path + ": not a JSON document (" + e.what() + ")");
  }
}

// Whether a pre_tokenizer (or one of a Sequence's) is ByteLevel splitting by GPT-2's pattern; its
// add_prefix_space. One with use_regex false leaves the split to another pre-tokenizer's pattern
// (Llama 3's, tiktoken's): not this kind.
bool byte_level(const nlohmann::json& pre, bool& add_prefix_space) {
  if (!pre.is_object()) return false;
  if (pre.value("type", "") == "ByteLevel") {
    add_prefix_space = pre.value("add_prefix_space", false);
    return pre.value("use_regex", true);
  }
  if (pre.value("type", "") == "Sequence" && pre.contains("pretokenizers") && pre["pretokenizers"].is_array())
    for (const nlohmann::json& p : pre["pretokenizers"])
      if (byte_level(p, add_prefix_space)) return true;
  return false;
}

const std::string kMeta = "\xE2\x96\x81";  // U+2581 '▁', SentencePiece's space

// SentencePiece's way with spaces: Llama 2's normalizer (Prepend "▁", Replace " " by "▁"), or a
// Metaspace pre_tokenizer (its prepend_scheme "always"/"first"/"never", or add_prefix_space, and
// whether it splits words). `first_only`: "▁" only in front of the text's first part.
bool sentencepiece_style(const nlohmann::json& doc, bool& prepend, bool& first_only, bool& split) {
  prepend = first_only = split = false;
  const nlohmann::json normalizer = doc.value("normalizer", nlohmann::json());
  if (normalizer.is_object()) {
    std::vector<nlohmann::json> steps;
    if (normalizer.value("type", "") == "Sequence" && normalizer.contains("normalizers") && normalizer["normalizers"].is_array())
      for (const nlohmann::json& n : normalizer["normalizers"]) steps.push_back(n);
    else
      steps.push_back(normalizer);
    bool replaces = false;
    for (const nlohmann::json& n : steps) {
      if (!n.is_object()) continue;
      if (n.value("type", "") == "Prepend" && n.value("prepend", "") == kMeta) prepend = true;
      if (n.value("type", "") == "Replace" && n.value("content", "") == kMeta && n.contains("pattern") && n["pattern"].is_object() &&
          n["pattern"].value("String", "") == " ")
        replaces = true;
    }
    if (replaces) return true;
  }
  const nlohmann::json pre = doc.value("pre_tokenizer", nlohmann::json());
  if (pre.is_object() && pre.value("type", "") == "Metaspace" && pre.value("replacement", kMeta) == kMeta) {
    const std::string scheme = pre.value("prepend_scheme", pre.value("add_prefix_space", true) ? "always" : "never");
    prepend = scheme != "never";
    first_only = scheme == "first";
    split = pre.value("split", true);
    return true;
  }
  return false;
}

// Llama 3's (tiktoken's cl100k) pattern, as its tokenizer.json gives it to a Split pre-tokenizer.
const std::string kLlama3Pattern =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

// Llama 3's pre-tokenizer: a Sequence of a Split by its pattern (isolated pieces) and a ByteLevel
// that only maps bytes (use_regex false).
bool llama3_split(const nlohmann::json& pre) {
  if (!pre.is_object() || pre.value("type", "") != "Sequence" || !pre.contains("pretokenizers") || !pre["pretokenizers"].is_array())
    return false;
  const nlohmann::json& steps = pre["pretokenizers"];
  if (steps.size() != 2 || !steps[0].is_object() || !steps[1].is_object()) return false;
  const nlohmann::json& split = steps[0];
  const bool pattern = split.value("type", "") == "Split" && split.contains("pattern") && split["pattern"].is_object() &&
                       split["pattern"].value("Regex", "") == kLlama3Pattern && split.value("behavior", "") == "Isolated" &&
                       !split.value("invert", false);
  return pattern && steps[1].value("type", "") == "ByteLevel" && !steps[1].value("use_regex", true) &&
         !steps[1].value("add_prefix_space", false);
}

std::optional<BpeTokenizer::Kind> kind_of_document(const nlohmann::json& doc) {
  if (!doc.is_object() || !doc.contains("model") || !doc["model"].is_object() || doc["model"].value("type", "") != "BPE") return std::nullopt;
  bool prefix = false, first_only = false, split = false;
  if (doc.contains("pre_tokenizer") && (byte_level(doc["pre_tokenizer"], prefix) || llama3_split(doc["pre_tokenizer"])))
    return BpeTokenizer::Kind::ByteLevel;
  if (sentencepiece_style(doc, prefix, first_only, split)) return BpeTokenizer::Kind::SentencePiece;
  return std::nullopt;
}

// The ids of a TemplateProcessing post_processor's special tokens before and after the text.
void template_specials(const nlohmann::json& doc, const std::string& path, std::vector<std::size_t>& before, std::vector<std::size_t>& after) {
  const nlohmann::json post = doc.value("post_processor", nlohmann::json());
  if (!post.is_object() || post.value("type", "") != "TemplateProcessing" || !post.contains("single") || !post["single"].is_array()) return;
  bool seen_text = false;
  for (const nlohmann::json& piece : post["single"]) {
    if (piece.contains("Sequence")) {
      seen_text = true;
      continue;
    }
    if (!piece.contains("SpecialToken") || !piece["SpecialToken"].is_object()) continue;
    const std::string name = piece["SpecialToken"].value("id", "");
    if (!post.contains("special_tokens") || !post["special_tokens"].contains(name) || !post["special_tokens"][name].contains("ids"))
      throw FormatError(path + ": post_processor.special_tokens lacks the ids of '" + name + "'");
    for (const nlohmann::json& id : post["special_tokens"][name]["ids"]) {
      if (!id.is_number_unsigned()) throw FormatError(path + ": post_processor.special_tokens['" + name + "'].ids holds a non-id");
      (seen_text ? after : before).push_back(id.get<std::size_t>());
    }
  }
}

// GPT-2's bytes_to_unicode: printable bytes stand for themselves, the others for 256 + n.
std::array<std::string, 256> byte_characters() {
  std::array<std::string, 256> chars;
  char32_t next = 256;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    chars[static_cast<std::size_t>(b)] = encode_utf8(printable ? static_cast<char32_t>(b) : next++);
  }
  return chars;
}

// Character classes of GPT-2's pattern: \s, \p{L}, \p{N} (exact in ASCII and Latin-1).
bool is_space(char32_t c) {
  return c == U' ' || (c >= U'\t' && c <= U'\r') || c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) ||
         c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}
bool is_number(char32_t c) { return (c >= U'0' && c <= U'9') || c == 0xB2 || c == 0xB3 || c == 0xB9 || (c >= 0xBC && c <= 0xBE); }
bool is_letter(char32_t c) {
  if (c < 0x80) return (c >= U'a' && c <= U'z') || (c >= U'A' && c <= U'Z');
  if (c < 0x100) return c == 0xAA || c == 0xB5 || c == 0xBA || (c >= 0xC0 && c != 0xD7 && c != 0xF7);
  if (is_space(c)) return false;
  // Punctuation, symbols and marks (not letters): combining marks, General Punctuation through
  // the symbol and arrow blocks, CJK punctuation, variation selectors, fullwidth ASCII symbols,
  // emoji and pictographs.
  const bool not_letter = (c >= 0x0300 && c <= 0x036F) || (c >= 0x2000 && c <= 0x2BFF) || (c >= 0x3000 && c <= 0x303F) ||
                          (c >= 0xFE00 && c <= 0xFE0F) || (c >= 0xFF01 && c <= 0xFF0F) || (c >= 0xFF1A && c <= 0xFF20) ||
                          (c >= 0xFF3B && c <= 0xFF40) || (c >= 0xFF5B && c <= 0xFF65) || (c >= 0x1F000 && c <= 0x1FAFF);
  return !not_letter;
}
bool is_other(char32_t c) { return !is_space(c) && !is_letter(c) && !is_number(c); }

// GPT-2's pattern: 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
std::vector<std::string> pre_tokenize(const std::vector<char32_t>& cs) {
  std::vector<std::string> pieces;
  const std::size_t n = cs.size();
  std::size_t i = 0;
  const auto run = [&](std::size_t from, bool (*in)(char32_t)) {
    std::size_t e = from;
    while (e < n && in(cs[e])) ++e;
    return e;
  };
  while (i < n) {
    std::size_t end = i;
    if (cs[i] == U'\'') {
      for (const char* c : {"s", "t", "re", "ve", "m", "ll", "d"}) {
        const std::size_t len = std::char_traits<char>::length(c);
        bool match = true;
        for (std::size_t k = 0; match && k < len; ++k) match = i + 1 + k < n && cs[i + 1 + k] == static_cast<char32_t>(c[k]);
        if (match) {
          end = i + 1 + len;
          break;
        }
      }
    }
    if (end == i) {
      const std::size_t s = cs[i] == U' ' && i + 1 < n && !is_space(cs[i + 1]) ? i + 1 : i;  // the optional space
      if (s < n && is_letter(cs[s])) end = run(s, is_letter);
      else if (s < n && is_number(cs[s])) end = run(s, is_number);
      else if (s < n && is_other(cs[s])) end = run(s, is_other);
    }
    if (end == i) {  // whitespace: all of it at the end, else all but the last character
      end = run(i, is_space);
      if (end < n && end - i > 1) --end;
    }
    pieces.push_back(encode_utf8(cs, i, end));
    i = end;
  }
  return pieces;
}

bool is_newline(char32_t c) { return c == U'\r' || c == U'\n'; }

// Llama 3's pattern (tiktoken's cl100k):
// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
std::vector<std::string> pre_tokenize_llama3(const std::vector<char32_t>& cs) {
  std::vector<std::string> pieces;
  const std::size_t n = cs.size();
  const auto run = [&](std::size_t from, bool (*in)(char32_t)) {
    std::size_t e = from;
    while (e < n && in(cs[e])) ++e;
    return e;
  };
  const auto lower = [](char32_t c) { return c >= U'A' && c <= U'Z' ? c + 32 : c; };
  std::size_t i = 0;
  while (i < n) {
    std::size_t end = i;
    if (cs[i] == U'\'') {  // contractions, in any case
      for (const char* c : {"s", "t", "re", "ve", "m", "ll", "d"}) {
        const std::size_t len = std::char_traits<char>::length(c);
        bool match = true;
        for (std::size_t k = 0; match && k < len; ++k) match = i + 1 + k < n && lower(cs[i + 1 + k]) == static_cast<char32_t>(c[k]);
        if (match) {
          end = i + 1 + len;
          break;
        }
      }
    }
    if (end == i) {
      if (is_letter(cs[i])) {
        end = run(i, is_letter);
      } else if (!is_newline(cs[i]) && !is_number(cs[i]) && i + 1 < n && is_letter(cs[i + 1])) {  // one leading non-letter
        end = run(i + 1, is_letter);
      } else if (is_number(cs[i])) {
        end = std::min(run(i, is_number), i + 3);
      } else {
        const std::size_t s = cs[i] == U' ' && i + 1 < n && is_other(cs[i + 1]) ? i + 1 : i;  // ` ?` before symbols
        if (is_other(cs[s])) end = run(run(s, is_other), is_newline);
      }
    }
    if (end == i) {  // whitespace: up to its last line break, else all of it at the end, else all but the last
      const std::size_t ws = run(i, is_space);
      std::size_t last_break = ws;
      for (std::size_t k = i; k < ws; ++k)
        if (is_newline(cs[k])) last_break = k;
      if (last_break < ws) end = last_break + 1;
      else end = ws < n && ws - i > 1 ? ws - 1 : ws;
    }
    pieces.push_back(encode_utf8(cs, i, end));
    i = end;
  }
  return pieces;
}

}  // namespace

std::vector<std::string> BpeTokenizer::split(const std::string& text, Pattern pattern) {
  return pattern == Pattern::Llama3 ? pre_tokenize_llama3(decode_utf8(text)) : pre_tokenize(decode_utf8(text));
}

std::optional<std::string> byte_level_text(const std::string& token) {
  static const std::unordered_map<char32_t, char> bytes = [] {
    std::unordered_map<char32_t, char> m;
    const std::array<std::string, 256> chars = byte_characters();
    for (std::size_t b = 0; b < 256; ++b) m.emplace(decode_utf8(chars[b]).at(0), static_cast<char>(b));
    return m;
  }();
  std::string out;
  try {
    for (const char32_t c : decode_utf8(token)) {
      const auto it = bytes.find(c);
      if (it == bytes.end()) return std::nullopt;
      out += it->second;
    }
    decode_utf8(out);  // whole characters only
  } catch (const FormatError&) {
    return std::nullopt;
  }
  return out;
}

std::optional<BpeTokenizer::Kind> BpeTokenizer::kind_of(const std::string& path) { return kind_of_document(parse_json(path)); }

BpeTokenizer BpeTokenizer::read(const std::string& path) { return *build(path, true); }

std::optional<BpeTokenizer> BpeTokenizer::read_if_bpe(const std::string& path) { return build(path, false); }

std::optional<BpeTokenizer> BpeTokenizer::build(const std::string& path, bool required) {
  const nlohmann::json doc = parse_json(path);
  const std::optional<Kind> kind = kind_of_document(doc);
  if (!kind && !required) return std::nullopt;
  if (!kind)
    throw FormatError(path + ": not a BPE tokenizer lrp reads (model.type \"BPE\" with a ByteLevel pre_tokenizer, or SentencePiece's "
                             "\"▁\" for spaces)");
  BpeTokenizer t;
  t.kind_ = *kind;
  t.source_ = path;
  const nlohmann::json& model = doc["model"];
  if (!model.contains("vocab") || !model["vocab"].is_object()) throw FormatError(path + ": model.vocab is not an object {token: id}");
  for (const auto& [token, id] : model["vocab"].items()) {
    if (!id.is_number_unsigned() || id.get<std::uint64_t>() > std::numeric_limits<std::uint32_t>::max())
      throw FormatError(path + ": model.vocab['" + token + "'] is not a token id");
    t.vocab_.emplace(token, id.get<std::size_t>());
  }
  if (!model.contains("merges") || !model["merges"].is_array()) throw FormatError(path + ": model.merges is not a list");
  std::size_t rank = 0;
  for (const nlohmann::json& m : model["merges"]) {
    std::string left, right;
    if (m.is_string()) {  // "left right"
      const std::string s = m.get<std::string>();
      const std::size_t space = s.find(' ');
      if (space == std::string::npos || space == 0 || space + 1 == s.size())
        throw FormatError(path + ": model.merges[" + std::to_string(rank) + "] '" + s + "' is not two tokens");
      left = s.substr(0, space);
      right = s.substr(space + 1);
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {  // ["left", "right"]
      left = m[0].get<std::string>();
      right = m[1].get<std::string>();
    } else {
      throw FormatError(path + ": model.merges[" + std::to_string(rank) + "] is not a pair of tokens");
    }
    t.ranks_.emplace(left + " " + right, rank++);
  }
  if (doc.contains("added_tokens") && doc["added_tokens"].is_array())
    for (const nlohmann::json& a : doc["added_tokens"]) {
      if (!a.is_object() || !a.contains("content") || !a["content"].is_string() || !a.contains("id") || !a["id"].is_number_unsigned())
        throw FormatError(path + ": added_tokens holds an entry without content and id");
      if (!a["content"].get<std::string>().empty()) t.added_.emplace_back(a["content"].get<std::string>(), a["id"].get<std::size_t>());
    }
  std::sort(t.added_.begin(), t.added_.end(), [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
  if (doc.contains("padding") && doc["padding"].is_object()) {
    const nlohmann::json& p = doc["padding"];
    if (p.contains("pad_id") && p["pad_id"].is_number_unsigned()) t.pad_id_ = p["pad_id"].get<std::size_t>();
    t.pad_left_ = p.value("direction", "Right") == "Left";
  }
  template_specials(doc, path, t.prefix_, t.suffix_);
  if (t.kind_ == Kind::ByteLevel) {
    if (llama3_split(doc["pre_tokenizer"])) t.pattern_ = Pattern::Llama3;
    else byte_level(doc["pre_tokenizer"], t.add_prefix_space_);
    t.byte_chars_ = byte_characters();
    for (const std::string& c : t.byte_chars_)
      if (!t.vocab_.count(c)) throw FormatError(path + ": model.vocab lacks the byte token '" + c + "'");
  } else {
    bool first_only = false;
    sentencepiece_style(doc, t.prepend_, first_only, t.split_words_);
    t.add_prefix_space_ = first_only;  // SentencePiece: "▁" only before the first part
    t.byte_fallback_ = model.value("byte_fallback", false);
    const nlohmann::json unk = model.value("unk_token", nlohmann::json());
    if (unk.is_string()) {
      const auto it = t.vocab_.find(unk.get<std::string>());
      if (it == t.vocab_.end()) throw FormatError(path + ": model.unk_token '" + unk.get<std::string>() + "' is not in model.vocab");
      t.unk_ = it->second;
    }
  }
  return t;
}

// Merges the adjacent pair of the lowest rank, everywhere it occurs, until none is mergeable.
std::vector<std::string> BpeTokenizer::merged(std::vector<std::string> symbols) const {
  while (symbols.size() > 1) {
    std::size_t best = std::numeric_limits<std::size_t>::max();
    std::string best_pair;
    for (std::size_t k = 0; k + 1 < symbols.size(); ++k) {
      const auto it = ranks_.find(symbols[k] + " " + symbols[k + 1]);
      if (it != ranks_.end() && it->second < best) {
        best = it->second;
        best_pair = it->first;
      }
    }
    if (best == std::numeric_limits<std::size_t>::max()) break;
    std::vector<std::string> next;
    for (std::size_t k = 0; k < symbols.size(); ++k) {
      if (k + 1 < symbols.size() && symbols[k] + " " + symbols[k + 1] == best_pair) {
        next.push_back(symbols[k] + symbols[k + 1]);
        ++k;
      } else {
        next.push_back(symbols[k]);
      }
    }
    symbols = std::move(next);
  }
  return symbols;
}

void BpeTokenizer::encode_plain(const std::string& text, bool first, std::vector<std::size_t>& ids) const {
  if (kind_ == Kind::ByteLevel) {
    std::string s = text;
    if (add_prefix_space_ && (s.empty() || s[0] != ' ')) s.insert(s.begin(), ' ');
    for (const std::string& piece : split(s, pattern_)) {
      std::vector<std::string> symbols;
      for (const char byte : piece) symbols.push_back(byte_chars_[static_cast<unsigned char>(byte)]);
      for (const std::string& sym : merged(std::move(symbols))) {
        const auto it = vocab_.find(sym);
        if (it == vocab_.end()) throw FormatError(source_ + ": the merges make the token '" + sym + "', which model.vocab lacks");
        ids.push_back(it->second);
      }
    }
    return;
  }
  // SentencePiece: spaces as "▁", one in front (of every part, or of the first only).
  const std::vector<char32_t> cs = decode_utf8(text);
  if (cs.empty()) return;
  std::vector<std::string> chars;
  if (prepend_ && (first || !add_prefix_space_)) chars.push_back(kMeta);
  for (const char32_t c : cs) chars.push_back(c == U' ' ? kMeta : encode_utf8(c));
  std::vector<std::vector<std::string>> words;
  for (std::string& c : chars) {
    if (words.empty() || (split_words_ && c == kMeta)) words.emplace_back();
    words.back().push_back(std::move(c));
  }
  bool last_unk = false;
  for (std::vector<std::string>& word : words)
    for (const std::string& sym : merged(std::move(word))) {
      const auto it = vocab_.find(sym);
      if (it != vocab_.end()) {
        ids.push_back(it->second);
        last_unk = false;
      } else if (byte_fallback_) {
        for (const char byte : sym) {
          char name[8];
          std::snprintf(name, sizeof name, "<0x%02X>", static_cast<unsigned>(static_cast<unsigned char>(byte)));
          const auto b = vocab_.find(name);
          if (b == vocab_.end()) throw FormatError(source_ + ": model.byte_fallback is set but model.vocab lacks '" + name + "'");
          ids.push_back(b->second);
        }
        last_unk = false;
      } else if (unk_) {
        if (!last_unk) ids.push_back(*unk_);  // consecutive unknown pieces fuse into one
        last_unk = true;
      } else {
        throw FormatError(source_ + ": the text holds '" + sym + "', which model.vocab lacks, and there is no unk_token");
      }
    }
}

std::vector<std::size_t> BpeTokenizer::encode(const std::string& text, bool special_tokens) const {
  decode_utf8(text);  // FormatError for text that is not UTF-8
  std::vector<std::size_t> ids;
  if (special_tokens) ids = prefix_;
  // Added tokens first (the longest at each place), the text between them as plain text.
  std::size_t from = 0;
  bool first = true;
  while (from < text.size()) {
    std::size_t at = std::string::npos, which = 0;
    for (std::size_t a = 0; a < added_.size(); ++a) {
      const std::size_t p = text.find(added_[a].first, from);
      if (p < at) at = p, which = a;
    }
    if (at == std::string::npos) break;
    if (at > from) encode_plain(text.substr(from, at - from), first, ids);
    first = false;
    ids.push_back(added_[which].second);
    from = at + added_[which].first.size();
  }
  if (from < text.size()) encode_plain(text.substr(from), first, ids);
  if (special_tokens) ids.insert(ids.end(), suffix_.begin(), suffix_.end());
  return ids;
}

}  // namespace lrp::io
