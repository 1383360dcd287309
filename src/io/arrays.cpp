// read_array: the format follows from the file name, as in the toolbox's data_io.
#include <algorithm>
#include <cctype>

#include "io/array_detail.hpp"
#include "lrp/io/arrays.hpp"
#include "lrp/io/atomic_file.hpp"

namespace lrp::io {

Tensor<double> read_array(const std::string& path) {
  std::string lower = path;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  const auto ends_with = [&](std::string_view suffix) { return std::string_view(lower).ends_with(suffix); };
  if (ends_with(".npy")) return read_npy(path);
  if (ends_with(".npz")) {
    auto arrays = read_npz(path);
    if (arrays.size() != 1) {
      std::string names;
      for (const auto& kv : arrays) names += (names.empty() ? "" : ", ") + kv.first;
      throw FormatError(detail::quoted(path) + ": holds " + std::to_string(arrays.size()) + " arrays (" + names +
                        "); a single array is needed here, so the choice would be ambiguous");
    }
    return std::move(arrays.begin()->second);
  }
  if (ends_with(".mat")) return read_mat(path);
  if (ends_with(".txt")) return read_txt_array(path);
  if (ends_with(".idx") || ends_with("-ubyte") || ends_with(".gz")) return read_idx(path);
  throw ConfigError("cannot tell the format of " + detail::quoted(path) +
                    " from its name (expected .npy, .npz, .mat, .txt, .idx, *-ubyte or .gz)");
}

Shape read_array_shape(const std::string& path) {
  if (lower_extension(path) == "npy") return read_npy_shape(path);
  return read_array(path).shape();
}

}  // namespace lrp::io
