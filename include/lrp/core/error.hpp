#pragma once
// Errors thrown across the library boundary. Every message names the file, layer or field
// it is about; the CLI prints it and exits with code 2.
#include <stdexcept>
#include <string>

namespace lrp {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A file that cannot be opened, read or written.
class IoError : public Error {
 public:
  using Error::Error;
};

// A file whose content does not follow its format (model, array, image).
class FormatError : public Error {
 public:
  using Error::Error;
};

// Tensor shapes that do not fit together (model vs data, layer vs layer).
class ShapeError : public Error {
 public:
  using Error::Error;
};

// A bad option, rule specification or parameter.
class ConfigError : public Error {
 public:
  using Error::Error;
};

// NaN or Inf where finite numbers are required.
class NumericError : public Error {
 public:
  using Error::Error;
};

}  // namespace lrp
