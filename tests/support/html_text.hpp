#pragma once
// The text a browser shows for a piece of HTML: tags dropped, the five escaped characters
// decoded. (A plain loop, not std::regex: GCC 12 warns inside <regex> under sanitizers.)
#include <string>
#include <utility>

namespace lrp::test {

inline std::string visible_text(const std::string& html) {
  std::string t;
  bool in_tag = false;
  for (const char c : html) {
    if (c == '<') in_tag = true;
    else if (c == '>') in_tag = false;
    else if (!in_tag) t += c;
  }
  const std::pair<const char*, const char*> entities[] = {{"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""}, {"&#39;", "'"}, {"&amp;", "&"}};
  for (const auto& [entity, c] : entities) {
    const std::string e = entity, r = c;
    for (std::size_t at = t.find(e); at != std::string::npos; at = t.find(e, at + r.size())) t.replace(at, e.size(), r);
  }
  return t;
}

}  // namespace lrp::test
