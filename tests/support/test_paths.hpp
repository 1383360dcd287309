#pragma once
// Paths the tests read from: the repository, ../shared beside it, and the built CLI.
#include <string>

namespace lrp::test {

inline std::string source_path(const std::string& rel) { return std::string(LRP_SOURCE_DIR) + "/" + rel; }
inline std::string shared_path(const std::string& rel) { return std::string(LRP_SHARED_DIR) + "/" + rel; }
inline std::string cli_path() { return LRP_CLI_PATH; }

}  // namespace lrp::test
