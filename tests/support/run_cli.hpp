#pragma once
// Runs the built `lrp` binary and captures its exit code and combined output.
#include <array>
#include <cstdio>
#include <string>
#include <cstdlib>
#include <sstream>
#include <sys/wait.h>
#include <unistd.h>

#include "support/test_paths.hpp"

namespace lrp::test {

struct CliResult {
  int code = -1;
  std::string output;
};

// Runs a shell command line; its stdout and stderr together.
inline CliResult run_command(const std::string& command) {
  CliResult r;
  const std::string cmd = command + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf{};
  std::size_t n = 0;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.output.append(buf.data(), n);
  const int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

inline CliResult run_cli(const std::string& args) { return run_command(cli_path() + " " + args); }

// The last non-empty line of a command's output (`--json` puts its summary there).
inline std::string last_line(const std::string& text) {
  std::istringstream in(text);
  std::string line, last;
  while (std::getline(in, line))
    if (!line.empty()) last = line;
  return last;
}

// A fresh file name under the test's temporary directory.
inline std::string temp_path(const std::string& name) {
  const char* dir = std::getenv("TMPDIR");
  return std::string(dir ? dir : "/tmp") + "/lrp_test_" + std::to_string(::getpid()) + "_" + name;
}

}  // namespace lrp::test
