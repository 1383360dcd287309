#pragma once
// Helpers shared by the test_io_*.cpp tests: fixture paths, a scratch directory, and an
// exception check that also looks at the message.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "lrp/core/error.hpp"
#include "support/test_paths.hpp"

namespace lrp::test {

inline std::string io_fixture(const std::string& name) { return source_path("tests/fixtures/io/" + name); }

// A fresh scratch directory, removed with everything in it when the object goes away.
class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    dir_ = std::filesystem::temp_directory_path() /
           ("lrp_io_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::create_directories(dir_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return (dir_ / name).string(); }

 private:
  std::filesystem::path dir_;
};

inline void write_bytes(const std::string& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << "cannot write " << path;
}

// Runs f, expecting an exception of type E whose message contains every one of `needles`.
template <class E, class F>
void expect_error(F&& f, const std::vector<std::string>& needles, const std::string& context = "") {
  try {
    f();
    ADD_FAILURE() << "no exception thrown " << context;
  } catch (const E& e) {
    const std::string msg = e.what();
    for (const auto& n : needles) EXPECT_NE(msg.find(n), std::string::npos) << "'" << n << "' not in: " << msg << " " << context;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception type: " << e.what() << " " << context;
  }
}

}  // namespace lrp::test
