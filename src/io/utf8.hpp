#pragma once
// UTF-8 and code points, for the tokenizers (WordPiece, byte-level BPE).
#include <string>
#include <vector>

namespace lrp::io {

// UTF-8 to code points; FormatError at the first byte that does not decode (naming it).
std::vector<char32_t> decode_utf8(const std::string& s);
// Code points [begin, end) of cs as UTF-8.
std::string encode_utf8(const std::vector<char32_t>& cs, std::size_t begin, std::size_t end);
inline std::string encode_utf8(char32_t c) { return encode_utf8(std::vector<char32_t>{c}, 0, 1); }

}  // namespace lrp::io
