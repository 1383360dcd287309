#pragma once
// A progress line on stderr: redrawn in place on a terminal, printed every ~10 % otherwise.
#include <chrono>
#include <cstdio>
#include <string>
#include <unistd.h>

namespace lrp::cli {

class Progress {
 public:
  Progress(std::size_t total, std::string what, bool quiet)
      : total_(total), what_(std::move(what)), quiet_(quiet), tty_(::isatty(2) != 0), start_(std::chrono::steady_clock::now()) {}

  void update(std::size_t done, const std::string& note = "") {
    if (quiet_ || total_ == 0) return;
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    const double rate = secs > 0 ? static_cast<double>(done) / secs : 0;
    const double eta = rate > 0 ? static_cast<double>(total_ - done) / rate : 0;
    const std::size_t width = 30, filled = width * done / total_;
    if (!tty_ && done != total_ && done * 10 / total_ == last_decile_) return;
    last_decile_ = done * 10 / total_;
    std::fprintf(stderr, "%s%s [%s%s] %zu/%zu %.1f/s ETA %.0fs %s%s", tty_ ? "\r" : "", what_.c_str(),
                 std::string(filled, '=').c_str(), std::string(width - filled, ' ').c_str(), done, total_, rate, eta,
                 note.c_str(), tty_ ? "\033[K" : "\n");
    if (tty_ && done == total_) std::fputc('\n', stderr);
    std::fflush(stderr);
  }

 private:
  std::size_t total_;
  std::string what_;
  bool quiet_, tty_;
  std::size_t last_decile_ = 0;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace lrp::cli
