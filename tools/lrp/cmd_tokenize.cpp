// lrp tokenize VOCAB [TEXT...] [--file FILE] --out IDS.npy [--mask MASK.npy]: BERT's WordPiece
// tokenization, or BPE (GPT-2's byte-level, Llama 2's SentencePiece-style) for a tokenizer.json of that kind, so that a text model
// is explained from its text (lrp explain MODEL IDS.npy --bind attention_mask=MASK.npy ...)
// without Python.
#include <algorithm>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "commands.hpp"
#include "lrp/core/error.hpp"
#include "lrp/core/parse.hpp"
#include "lrp/io/arrays.hpp"
#include "lrp/io/atomic_file.hpp"
#include "lrp/io/bpe_tokenizer.hpp"
#include "lrp/io/vocabulary.hpp"
#include "lrp/io/wordpiece.hpp"

namespace lrp::cli {
namespace {

struct TokenizeOptions {
  std::string vocab, file, out, mask, casing = "auto";
  std::vector<std::string> texts;
  std::size_t length = 0;
  bool truncate = false, no_special = false, quiet = false;
};

std::vector<std::string> texts_of(const TokenizeOptions& o) {
  std::vector<std::string> texts = o.texts;
  if (!o.file.empty())
    for (std::string& line : split_lines(io::read_file_bytes(o.file)))  // one text per line, empty ones skipped
      if (!line.empty()) texts.push_back(std::move(line));
  if (texts.empty()) throw ConfigError("no text to tokenize (give TEXT arguments or --file with one text per line)");
  return texts;
}

void run_tokenize(const TokenizeOptions& o) {
  const io::Vocabulary vocab = io::read_vocabulary(o.vocab);
  // A decoder's BPE tokenizer.json (byte-level or SentencePiece-style), else BERT's WordPiece.
  std::optional<io::BpeTokenizer> bpe;
  if (io::lower_extension(o.vocab) == "json") bpe = io::BpeTokenizer::read_if_bpe(o.vocab);
  if (bpe && o.casing != "auto") throw ConfigError("--case is for WordPiece vocabularies; a BPE tokenizer keeps the text as written");
  if (!bpe && vocab.marks_word_starts()) {
    throw ConfigError("the vocabulary " + o.vocab + " marks word starts but is not a BPE tokenizer.json lrp reads (byte-level as "
                      "GPT-2's, or SentencePiece-style as Llama 2's); lrp tokenize implements BERT's WordPiece and those");
  }
  io::WordPieceOptions wp;
  wp.lowercase = o.casing == "lower" || (o.casing == "auto" && !bpe && io::vocabulary_is_uncased(vocab));
  wp.special_tokens = !o.no_special;
  const std::vector<std::string> texts = texts_of(o);
  std::vector<std::vector<std::size_t>> rows;
  std::size_t longest = 0;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    try {
      rows.push_back(bpe ? bpe->encode(texts[i], !o.no_special) : io::wordpiece_encode(vocab, texts[i], wp));
    } catch (const FormatError& e) {
      throw FormatError("text " + std::to_string(i) + ": " + e.what());
    }
    longest = std::max(longest, rows.back().size());
  }
  const std::size_t length = o.length ? o.length : longest;
  if (length == 0) throw ConfigError("every text is empty");
  for (std::size_t i = 0; i < rows.size(); ++i) {
    std::vector<std::size_t>& r = rows[i];
    if (r.size() > length) {
      if (!o.truncate)
        throw ConfigError("text " + std::to_string(i) + " has " + std::to_string(r.size()) + " tokens, more than --length " +
                          std::to_string(length) + " (give --truncate to cut it)");
      const bool sep = !o.no_special && !bpe;  // keep the closing [SEP]
      const std::size_t last = r.back();
      r.resize(length);
      if (sep) r.back() = last;
    }
  }
  std::optional<std::size_t> pad;
  std::vector<std::int64_t> ids, mask;
  // Byte-level BPE pads as its tokenizer.json says (a decoder: on the left, so that the last
  // position is the text's last token).
  const bool left = bpe && bpe->pads_left();
  for (const std::vector<std::size_t>& r : rows) {
    if (r.size() < length && !pad) {
      pad = bpe ? bpe->pad_id() : vocab.id_of("[PAD]");
      if (!pad)
        throw ConfigError("the vocabulary " + o.vocab + (bpe ? " sets no padding.pad_id" : " has no [PAD] token") + " to pad the texts to " +
                          std::to_string(length) + " tokens (give texts of one length, or one text per call)");
    }
    const std::size_t skip = left ? length - r.size() : 0;
    for (std::size_t p = 0; p < length; ++p) {
      const bool token = p >= skip && p - skip < r.size();
      ids.push_back(static_cast<std::int64_t>(token ? r[p - skip] : *pad));
      mask.push_back(token ? 1 : 0);
    }
  }
  const Shape shape{rows.size(), length};
  io::write_npy_i64(o.out, ids, shape);
  if (!o.mask.empty()) io::write_npy_i64(o.mask, mask, shape);
  if (o.quiet) return;
  for (std::size_t i = 0; i < rows.size() && i < 20; ++i) {
    std::cout << "text " << i << ": " << rows[i].size() << " tokens:";
    for (const std::size_t id : rows[i]) std::cout << " " << vocab.token(id);
    std::cout << "\n";
  }
  if (rows.size() > 20) std::cout << "... " << rows.size() - 20 << " more texts\n";
}

}  // namespace

void add_tokenize_command(CLI::App& app) {
  auto o = std::make_shared<TokenizeOptions>();
  auto* cmd = app.add_subcommand("tokenize", "Turn text into the token ids of a text model (BERT's WordPiece from vocab.txt; GPT-2's byte-level or Llama 2's SentencePiece BPE from tokenizer.json)");
  cmd->footer("The ids (int64 [texts, length]) go to --out; --mask writes the attention mask (1 for tokens, 0 for padding), "
              "for `lrp explain MODEL IDS --bind attention_mask=MASK`. As BERT's tokenizer: [CLS] ... [SEP], punctuation and "
              "CJK characters split off, words cut into the longest vocabulary pieces (##continuations), [UNK] otherwise; "
              "lowercased and accents stripped for uncased vocabularies (Latin letters; other scripts as written). "
              "A BPE tokenizer.json tokenizes as its tokenizer does: added tokens (<|endoftext|>, <s>) as written; byte-level "
              "(GPT-2 and its kin, Llama 3): GPT-2's (or Llama 3's) split into words, merges by rank; SentencePiece-style (Llama 2, Mistral): spaces "
              "as \u2581 and one in front, merges by rank, unknown characters as their bytes (<0x41>) or <unk>; the "
              "post_processor's special tokens added (<s> first for Llama) unless --no-special; padding with its "
              "padding.pad_id on its padding.direction side.");
  cmd->add_option("VOCAB", o->vocab, "Vocabulary: vocab.txt (one token per line) or a Hugging Face tokenizer.json")->required();
  cmd->add_option("TEXT", o->texts, "Texts to tokenize (one sample each)");
  cmd->add_option("--file", o->file, "Also read texts from this file, one per line");
  cmd->add_option("--out", o->out, "Token ids (.npy, int64 [texts, length])")->required();
  cmd->add_option("--mask", o->mask, "Attention mask (.npy, int64 [texts, length])");
  cmd->add_option("--length", o->length, "Tokens per text: padded with [PAD] (default: the longest text's)");
  cmd->add_flag("--truncate", o->truncate, "Cut texts longer than --length (keeping the closing [SEP]) instead of refusing them");
  cmd->add_option("--case", o->casing, "auto (default: lower for uncased vocabularies), lower or keep")
      ->check(CLI::IsMember({"auto", "lower", "keep"}));
  cmd->add_flag("--no-special", o->no_special, "No [CLS] and [SEP]");
  cmd->add_flag("--quiet", o->quiet, "Print nothing");
  cmd->callback([o] { run_tokenize(*o); });
}

}  // namespace lrp::cli
