#pragma once
// The LRP Toolbox's plain-text model format (docs/FORMATS.md): one header line per layer
// ("Linear m n", "Convolution h w d n s0 s1", "SumPool hp wp s0 s1", "MaxPool ...", "Rect",
// "Tanh", "SoftMax", "Flatten"), weights and biases of Linear/Convolution on the next two lines
// in C order. The pre-1.2 legacy Linear layout (one line per weight row) is read too.
#include <string>

#include "lrp/graph/model.hpp"

namespace lrp::io {

// The toolbox's parameter-free layers from their header: "SumPool"/"MaxPool" with (hp, wp, s0, s1),
// "Rect", "Tanh", "SoftMax", "Flatten" with no parameters. Shared by the reader and the training
// layer spec. Returns nullptr for other type names.
std::unique_ptr<Layer<double>> make_toolbox_layer(const std::string& type, const std::vector<std::size_t>& params);

// Reads a toolbox model. Errors (FormatError/IoError) name the file, line and layer.
Model<double> read_toolbox_model(const std::string& path);
Model<double> parse_toolbox_model(const std::string& text, const std::string& source);

// Writes a model in the toolbox format (shortest round-trip decimals, so reading it back gives
// the same doubles). Throws ConfigError for layers the format cannot express.
void write_toolbox_model(const Model<double>& model, const std::string& path);
std::string format_toolbox_model(const Model<double>& model);

}  // namespace lrp::io
