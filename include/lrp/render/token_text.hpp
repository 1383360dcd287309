#pragma once
// A text model's relevance shown on its tokens: an HTML page with every token's background
// coloured by its relevance (as Captum's visualize_text and LXT's token heatmaps), or a table
// with one row per token.
#include <iosfwd>
#include <string>
#include <vector>

namespace lrp::render {

// One explained sequence: its tokens (vocabulary form, e.g. "##ing" or "Ġword") and their
// relevance, under a heading such as "sample 0, target 2".
struct TokenMap {
  std::string heading;
  std::vector<std::string> tokens;
  std::vector<double> relevance;
};

// How a vocabulary token reads in running text: its text and whether a space goes before it.
// WordPiece (word_start_marks false): "##ing" continues the word, anything else starts one.
// Byte-level BPE and SentencePiece (true): "Ġword" / "▁word" start a word, anything else
// continues one.
struct TokenPiece {
  std::string text;
  bool space_before = false;
};
TokenPiece token_piece(const std::string& token, bool word_start_marks);

// Colour of a token: relevance / max|relevance| of its map mapped from [-1, 1] to [0, 1] (zero at
// the map's centre, as the toolbox normalisation of heatmaps), through a table or palette
// colour map (see colormap.hpp; custom maps are refused with ConfigError). Returns "#rrggbb".
std::string token_colour(double relevance, double max_abs, const std::string& colormap);

// A whole HTML page (UTF-8), one paragraph per map; each token carries its relevance as a
// tooltip. Tokens are HTML-escaped. NumericError for NaN or Inf relevance.
void write_token_html(std::ostream& out, const std::vector<TokenMap>& maps, bool word_start_marks,
                      const std::string& colormap = "bwr");
// Tab-separated rows: map (its heading), position, token, relevance; tabs and newlines inside
// tokens are written as \t and \n.
void write_token_table(std::ostream& out, const std::vector<TokenMap>& maps);

}  // namespace lrp::render
