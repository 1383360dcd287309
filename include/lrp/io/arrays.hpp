#pragma once
// Reading and writing numeric arrays in the formats the LRP Toolbox and its datasets use:
// NumPy .npy/.npz, MATLAB v5 .mat, whitespace text (numpy.loadtxt/savetxt) and IDX (MNIST).
//
// Every reader validates sizes against the bytes actually present before allocating and throws
// IoError (file missing or unreadable) or FormatError (content malformed; the message names the
// file and the offending field) instead of crashing. Every writer is atomic (write_file_atomic).
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "lrp/core/tensor.hpp"

namespace lrp::io {

// --- .npy -----------------------------------------------------------------------------------
// Versions 1.0/2.0/3.0; dtypes f4 f8 i1 i2 i4 i8 u1 u2 u4 u8 b1 in either byte order;
// Fortran-order arrays are transposed to C order. Other dtypes (objects, strings, structured,
// complex, f2) are a FormatError naming the dtype. Bytes after the data are a FormatError.
Tensor<double> read_npy(const std::string& path);
Tensor<float> read_npy_f32(const std::string& path);  // same, converted to float
// The shape alone, from the header (the data's size is checked against it, not read).
Shape read_npy_shape(const std::string& path);
void write_npy(const std::string& path, const Tensor<float>& t);   // '<f4'
void write_npy(const std::string& path, const Tensor<double>& t);  // '<f8'
// '<i8', e.g. labels or targets; v.size() must equal the element count of `shape`.
void write_npy_i64(const std::string& path, const std::vector<std::int64_t>& v, const Shape& shape);

// --- .npz -----------------------------------------------------------------------------------
// Reads np.savez (stored) and np.savez_compressed (deflate) archives, checking every CRC.
// Keys are the member names without ".npy". Writers produce a stored (uncompressed) zip.
std::map<std::string, Tensor<double>> read_npz(const std::string& path);
void write_npz(const std::string& path, const std::vector<std::pair<std::string, Tensor<float>>>& arrays);
void write_npz(const std::string& path, const std::vector<std::pair<std::string, Tensor<double>>>& arrays);

// --- .mat (MATLAB v5/v7.3 via libmatio) ---------------------------------------------------------
// Variable `name`; empty picks the toolbox's convention: "data" if present, else the first
// real numeric variable. Any numeric class; column-major data is returned in C order with the
// MATLAB dims as shape (a 10000x784 matrix is [10000,784], row i = sample i).
Tensor<double> read_mat(const std::string& path, const std::string& name = "");

// --- whitespace text (numpy.loadtxt / numpy.savetxt, MATLAB save -ascii) ---------------------------
// One row per line, '#' starts a comment, blank lines are skipped; always 2-D like
// loadtxt(ndmin=2): one row → [1,n], one column → [n,1]. Ragged rows are a FormatError naming the line.
Tensor<double> read_txt_array(const std::string& path);
// '%.18e' separated by single spaces, like savetxt. Rank ≥ 2 is written as [dim0, rest];
// rank 1 as one value per line (savetxt's behaviour), rank 0 as one value.
void write_txt_array(const std::string& path, const Tensor<double>& t);

// --- IDX (MNIST, Fashion-MNIST), plain or gzip-compressed ----------------------------------------
// Element types 0x08 u8, 0x09 i8, 0x0B i16, 0x0C i32, 0x0D f32, 0x0E f64, big-endian.
Tensor<double> read_idx(const std::string& path);

// --- dispatch by extension (case-insensitive) ------------------------------------------------------
// .npy, .npz (must hold exactly one array), .mat, .txt, .idx / *-ubyte / .gz (IDX);
// anything else is a ConfigError naming the file.
Tensor<double> read_array(const std::string& path);
// The shape read_array(path) would return; a .npy file's is read from its header alone.
Shape read_array_shape(const std::string& path);

}  // namespace lrp::io
