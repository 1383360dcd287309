// The HDF5 side of the Keras importer (keras_detail.hpp): attributes and datasets through
// libhdf5's C API, each handle closed by a guard, every failure a FormatError naming the object.
#include <hdf5.h>
#include <hdf5_hl.h>

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>

#include "io/keras_detail.hpp"
#include "lrp/core/error.hpp"

namespace lrp::io::keras_detail {
namespace {

// Closes an HDF5 handle of any kind when it goes out of scope.
class Handle {
 public:
  Handle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  ~Handle() {
    if (id_ >= 0) close_(id_);
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  hid_t get() const { return id_; }
  bool ok() const { return id_ >= 0; }

 private:
  hid_t id_;
  herr_t (*close_)(hid_t);
};

// Attribute lists and strings beyond this are not a Keras file's.
constexpr std::size_t kMaxAttributeBytes = std::size_t{256} << 20;
// One weight of 2^31 values (8 GiB in float32) is beyond any model lrp can explain.
constexpr std::size_t kMaxWeightValues = std::size_t{1} << 31;

template <class T>
hid_t native_type();
template <>
hid_t native_type<float>() {
  return H5T_NATIVE_FLOAT;
}
template <>
hid_t native_type<double>() {
  return H5T_NATIVE_DOUBLE;
}

}  // namespace

Hdf5File::Hdf5File(const std::string& path, bool dry) : path_(path), dry_(dry) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);  // errors become exceptions here, not prints
  if (!std::ifstream(path, std::ios::binary)) throw IoError("cannot open Keras model '" + path + "': " + std::strerror(errno));
  if (H5Fis_hdf5(path.c_str()) <= 0)
    throw FormatError("Keras model '" + path + "' is not an HDF5 file (lrp reads models saved with model.save(\"m.h5\"))");
  file_ = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (file_ < 0) throw FormatError("Keras model '" + path + "': the HDF5 file cannot be opened (truncated or corrupt)");
}

Hdf5File::Hdf5File(std::string_view image, const std::string& path, bool dry, bool release_read)
    : path_(path), dry_(dry), image_(image), release_read_(release_read) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  constexpr std::string_view kSignature("\x89HDF\r\n\x1a\n", 8);
  if (image.substr(0, kSignature.size()) != kSignature) throw FormatError("Keras model '" + path + "': its weights are not an HDF5 file");
  // Read-only and not copied: the library reads the caller's bytes in place.
  file_ = H5LTopen_file_image(const_cast<char*>(image.data()), image.size(), H5LT_FILE_IMAGE_DONT_COPY | H5LT_FILE_IMAGE_DONT_RELEASE);
  if (file_ < 0) throw FormatError("Keras model '" + path + "': its weights file cannot be opened (truncated or corrupt)");
}

Hdf5File::~Hdf5File() {
  if (file_ >= 0) H5Fclose(file_);
}

bool Hdf5File::exists(const std::string& object) const {
  if (object.empty() || object == "/") return true;
  std::size_t pos = 0;
  while (pos != std::string::npos) {
    pos = object.find('/', pos + 1);
    const std::string prefix = object.substr(0, pos);
    if (H5Lexists(file_, prefix.c_str(), H5P_DEFAULT) <= 0) return false;
  }
  return true;
}

bool Hdf5File::has_attribute(const std::string& object, const std::string& name) const {
  return exists(object) && H5Aexists_by_name(file_, object.c_str(), name.c_str(), H5P_DEFAULT) > 0;
}

std::vector<std::string> Hdf5File::strings(const std::string& object, const std::string& name) const {
  if (has_attribute(object, name)) return attribute_strings(object, name);
  if (!has_attribute(object, name + "0"))
    throw FormatError("Keras model '" + path_ + "': " + object + " has no attribute '" + name + "'");
  std::vector<std::string> all;
  for (std::size_t k = 0; has_attribute(object, name + std::to_string(k)); ++k) {
    std::vector<std::string> part = attribute_strings(object, name + std::to_string(k));
    all.insert(all.end(), part.begin(), part.end());
  }
  return all;
}

std::vector<std::string> Hdf5File::attribute_strings(const std::string& object, const std::string& name) const {
  const std::string where = "Keras model '" + path_ + "': attribute '" + name + "' of " + object;
  const Handle attr(H5Aopen_by_name(file_, object.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  if (!attr.ok()) throw FormatError(where + " cannot be read");
  const Handle type(H5Aget_type(attr.get()), H5Tclose);
  const Handle space(H5Aget_space(attr.get()), H5Sclose);
  if (!type.ok() || !space.ok()) throw FormatError(where + " cannot be read");
  const hssize_t points = H5Sget_simple_extent_npoints(space.get());
  if (points < 0) throw FormatError(where + " has no valid extent");
  const std::size_t n = static_cast<std::size_t>(points);
  if (H5Tget_class(type.get()) != H5T_STRING) {
    if (n == 0) return {};  // Keras stores an empty name list as an empty float array
    throw FormatError(where + " is not text");
  }
  std::vector<std::string> out;
  if (H5Tis_variable_str(type.get()) > 0) {
    const Handle mem(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(mem.get(), H5T_VARIABLE);
    H5Tset_cset(mem.get(), H5Tget_cset(type.get()));
    if (n > kMaxAttributeBytes / sizeof(char*)) throw FormatError(where + " holds too many strings");
    std::vector<char*> buf(n, nullptr);
    if (H5Aread(attr.get(), mem.get(), buf.data()) < 0) throw FormatError(where + " cannot be read");
    for (char* s : buf) out.emplace_back(s ? s : "");
    H5Dvlen_reclaim(mem.get(), space.get(), H5P_DEFAULT, buf.data());
    return out;
  }
  const std::size_t size = H5Tget_size(type.get());
  if (size == 0 || (n > 0 && size > kMaxAttributeBytes / n)) throw FormatError(where + " is too large");
  const Handle mem(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(mem.get(), size);
  H5Tset_strpad(mem.get(), H5T_STR_NULLPAD);  // a name may fill its whole width (no terminator)
  std::vector<char> buf(size * n);
  if (n > 0 && H5Aread(attr.get(), mem.get(), buf.data()) < 0) throw FormatError(where + " cannot be read");
  for (std::size_t i = 0; i < n; ++i) {
    const char* s = buf.data() + i * size;
    out.emplace_back(s, strnlen(s, size));
  }
  return out;
}

std::vector<std::size_t> Hdf5File::dataset_dims(const std::string& dataset) const {
  const std::string where = "Keras model '" + path_ + "': weight " + dataset;
  if (!exists(dataset)) throw FormatError(where + " is missing");
  const Handle ds(H5Dopen2(file_, dataset.c_str(), H5P_DEFAULT), H5Dclose);
  if (!ds.ok()) throw FormatError(where + " is not a dataset");
  const Handle space(H5Dget_space(ds.get()), H5Sclose);
  const int rank = space.ok() ? H5Sget_simple_extent_ndims(space.get()) : -1;
  if (rank < 0 || rank > 8) throw FormatError(where + " has an invalid rank");
  hsize_t dims[8] = {};
  H5Sget_simple_extent_dims(space.get(), dims, nullptr);
  // A dataset may declare far more values than the file stores (chunks never written read as a
  // fill value): what is stored contiguously must be all there, and nothing is read beyond
  // kMaxWeightValues, so a spoiled file cannot ask for a huge allocation.
  std::size_t values = 1;
  for (int i = 0; i < rank; ++i) {
    if (dims[i] > kMaxWeightValues || (dims[i] > 0 && values > kMaxWeightValues / dims[i])) throw FormatError(where + " is too large");
    values *= static_cast<std::size_t>(dims[i]);
  }
  const Handle type(H5Dget_type(ds.get()), H5Tclose);
  const Handle plist(H5Dget_create_plist(ds.get()), H5Pclose);
  const std::size_t bytes = type.ok() ? H5Tget_size(type.get()) : 0;
  if (!plist.ok() || bytes == 0) throw FormatError(where + " cannot be read");
  if (H5Pget_layout(plist.get()) != H5D_CHUNKED && H5Dget_storage_size(ds.get()) < values * bytes)
    throw FormatError(where + " declares " + std::to_string(values) + " values but stores fewer (truncated or corrupt file)");
  return std::vector<std::size_t>(dims, dims + rank);
}

bool Hdf5File::skips_values(hid_t dataset) const {
  if (!dry_) return false;
  const Handle plist(H5Dget_create_plist(dataset), H5Pclose);
  return plist.ok() && H5Pget_layout(plist.get()) != H5D_CHUNKED;
}

template <class T>
void Hdf5File::read(const std::string& dataset, T* out, std::size_t count) const {
  const std::vector<std::size_t> dims = dataset_dims(dataset);
  std::size_t values = 1;
  for (std::size_t d : dims) values *= d;
  if (dims.empty() || values != count)
    throw FormatError("Keras model '" + path_ + "': weight " + dataset + " does not hold " + std::to_string(count) + " values");
  if (count > 0) read_rows<T>(dataset, 0, dims[0], out);
}

template <class T>
void Hdf5File::read_rows(const std::string& dataset, std::size_t first, std::size_t rows, T* out) const {
  const std::string where = "Keras model '" + path_ + "': weight " + dataset;
  const Handle ds(H5Dopen2(file_, dataset.c_str(), H5P_DEFAULT), H5Dclose);
  if (!ds.ok()) throw FormatError(where + " is not a dataset");
  const Handle type(H5Dget_type(ds.get()), H5Tclose);
  const H5T_class_t cls = type.ok() ? H5Tget_class(type.get()) : H5T_NO_CLASS;
  if (cls != H5T_FLOAT && cls != H5T_INTEGER) throw FormatError(where + " does not hold numbers");
  const Handle space(H5Dget_space(ds.get()), H5Sclose);
  const int rank = space.ok() ? H5Sget_simple_extent_ndims(space.get()) : -1;
  if (rank < 1 || rank > 8) throw FormatError(where + " has an invalid rank");
  hsize_t dims[8] = {}, start[8] = {};
  H5Sget_simple_extent_dims(space.get(), dims, nullptr);
  if (first + rows > dims[0]) throw FormatError(where + " has " + std::to_string(dims[0]) + " rows, not " + std::to_string(first + rows));
  start[0] = first;
  dims[0] = rows;
  if (skips_values(ds.get()))  // one value, at the first of the rows
    for (int i = 0; i < rank; ++i) dims[i] = std::min<hsize_t>(dims[i], 1);
  hsize_t values = 1;
  for (int i = 0; i < rank; ++i) values *= dims[i];
  const Handle memory(H5Screate_simple(1, &values, nullptr), H5Sclose);
  if (values > 0 && (!memory.ok() || H5Sselect_hyperslab(space.get(), H5S_SELECT_SET, start, nullptr, dims, nullptr) < 0 ||
                     H5Dread(ds.get(), native_type<T>(), memory.get(), space.get(), H5P_DEFAULT, out) < 0))
    throw FormatError(where + " cannot be read (truncated or corrupt file)");
  if (release_read_ && !skips_values(ds.get())) {
    const std::size_t row_bytes = type.ok() ? H5Tget_size(type.get()) * static_cast<std::size_t>(values / std::max<hsize_t>(rows, 1)) : 0;
    release(H5Dget_offset(ds.get()), first * row_bytes, rows * row_bytes);
  }
}

void Hdf5File::release(std::uint64_t dataset_offset, std::size_t from, std::size_t bytes) const {
  // H5Dget_offset: the dataset's place in the image, defined for one stored whole (contiguous).
  if (dataset_offset == HADDR_UNDEF || dataset_offset > image_.size() || from > image_.size() - dataset_offset ||
      bytes > image_.size() - dataset_offset - from)
    return;
  const std::uintptr_t page = static_cast<std::uintptr_t>(sysconf(_SC_PAGESIZE));
  const std::uintptr_t begin = reinterpret_cast<std::uintptr_t>(image_.data()) + dataset_offset + from;
  const std::uintptr_t lo = (begin + page - 1) / page * page, hi = (begin + bytes) / page * page;
  if (hi > lo) madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_DONTNEED);
}

template void Hdf5File::read(const std::string&, float*, std::size_t) const;
template void Hdf5File::read_rows(const std::string&, std::size_t, std::size_t, float*) const;
template void Hdf5File::read_rows(const std::string&, std::size_t, std::size_t, double*) const;
template void Hdf5File::read(const std::string&, double*, std::size_t) const;

}  // namespace lrp::io::keras_detail
