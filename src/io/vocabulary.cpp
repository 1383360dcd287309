// Token vocabularies: BERT's vocab.txt (one token per line) and Hugging Face's tokenizer.json.
#include "lrp/io/vocabulary.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <optional>

#include "lrp/core/error.hpp"
#include "lrp/core/parse.hpp"
#include "lrp/io/atomic_file.hpp"

namespace lrp::io {
namespace {

// Places (id, token) pairs into a table indexed by id. Ids need not be dense (a tokenizer may
// leave gaps); the table is bounded by the number of entries so that a stray huge id in the
// file cannot make it allocate gigabytes.
class TableBuilder {
 public:
  TableBuilder(std::string path, std::size_t entries) : path_(std::move(path)), limit_(4 * entries + 1024) {}
  void add(long long id, const std::string& token, const std::string& where) {
    if (id < 0 || static_cast<std::size_t>(id) >= limit_)
      throw FormatError(path_ + ": " + where + ": token id " + std::to_string(id) + " is out of range (" +
                        std::to_string(limit_ - 1024) + " tokens given)");
    const auto i = static_cast<std::size_t>(id);
    if (i >= tokens_.size()) tokens_.resize(i + 1);
    if (tokens_[i] && *tokens_[i] != token)
      throw FormatError(path_ + ": " + where + ": token id " + std::to_string(id) + " is given twice ('" + *tokens_[i] +
                        "' and '" + token + "')");
    tokens_[i] = token;
  }
  std::vector<std::string> finish() && {
    std::vector<std::string> out(tokens_.size());
    // An id without a token (a gap) shows as the id in brackets, as unknown ids do elsewhere.
    for (std::size_t i = 0; i < tokens_.size(); ++i) out[i] = tokens_[i] ? *tokens_[i] : "[" + std::to_string(i) + "]";
    return out;
  }

 private:
  std::string path_;
  std::size_t limit_;
  std::vector<std::optional<std::string>> tokens_;
};

std::vector<std::string> read_tokenizer_json(const std::string& path, const std::string& text) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(path + ": not a JSON document (" + e.what() + ")");
  }
  if (!doc.is_object() || !doc.contains("model") || !doc["model"].is_object() || !doc["model"].contains("vocab"))
    throw FormatError(path + ": no field model.vocab (expected a Hugging Face tokenizer.json)");
  const nlohmann::json& vocab = doc["model"]["vocab"];
  const nlohmann::json added = doc.contains("added_tokens") ? doc["added_tokens"] : nlohmann::json::array();
  if (!added.is_array()) throw FormatError(path + ": added_tokens is not a list");
  TableBuilder table(path, vocab.size() + added.size());
  if (vocab.is_object()) {
    for (const auto& [token, id] : vocab.items()) {
      if (!id.is_number_integer()) throw FormatError(path + ": model.vocab['" + token + "'] is not an integer id");
      table.add(id.get<long long>(), token, "model.vocab['" + token + "']");
    }
  } else if (vocab.is_array()) {
    for (std::size_t i = 0; i < vocab.size(); ++i) {
      const nlohmann::json& entry = vocab[i];
      const std::string where = "model.vocab[" + std::to_string(i) + "]";
      if (!entry.is_array() || entry.empty() || !entry[0].is_string())
        throw FormatError(path + ": " + where + " is not a [token, score] pair");
      table.add(static_cast<long long>(i), entry[0].get<std::string>(), where);
    }
  } else {
    throw FormatError(path + ": model.vocab is neither an object {token: id} nor a list of [token, score]");
  }
  for (std::size_t i = 0; i < added.size(); ++i) {
    const nlohmann::json& entry = added[i];
    const std::string where = "added_tokens[" + std::to_string(i) + "]";
    if (!entry.is_object() || !entry.contains("id") || !entry["id"].is_number_integer() || !entry.contains("content") ||
        !entry["content"].is_string())
      throw FormatError(path + ": " + where + " lacks an integer id or a string content");
    table.add(entry["id"].get<long long>(), entry["content"].get<std::string>(), where);
  }
  return std::move(table).finish();
}

}  // namespace

Vocabulary::Vocabulary(std::vector<std::string> tokens, std::string source)
    : tokens_(std::move(tokens)), source_(std::move(source)) {
  for (std::size_t i = 0; i < tokens_.size(); ++i) ids_.emplace(tokens_[i], i);
  marks_word_starts_ = std::any_of(tokens_.begin(), tokens_.end(), [](const std::string& t) {
    return t.rfind("\xC4\xA0", 0) == 0 || t.rfind("\xE2\x96\x81", 0) == 0;  // U+0120 'Ġ', U+2581 '▁'
  });
}

const std::string& Vocabulary::token(std::size_t id) const {
  if (id >= tokens_.size())
    throw ConfigError("token id " + std::to_string(id) + " is not in the vocabulary " + source_ + " (" +
                      std::to_string(tokens_.size()) + " tokens)");
  return tokens_[id];
}

std::optional<std::size_t> Vocabulary::id_of(const std::string& token) const {
  const auto it = ids_.find(token);
  if (it == ids_.end()) return std::nullopt;
  return it->second;
}

Vocabulary read_vocabulary(const std::string& path) {
  const std::string text = read_file_bytes(path);
  std::vector<std::string> tokens = lower_extension(path) == "json" ? read_tokenizer_json(path, text) : split_lines(text);
  if (tokens.empty()) throw FormatError(path + ": the vocabulary is empty");
  return Vocabulary(std::move(tokens), path);
}

}  // namespace lrp::io
