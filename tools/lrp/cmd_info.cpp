// lrp info MODEL: layers, shapes and parameter counts.
#include <algorithm>
#include <iomanip>
#include <iostream>
#include <memory>

#include "commands.hpp"
#include "common.hpp"

namespace lrp::cli {

void add_info_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("info", "Show a model's layers, shapes and parameter counts");
  auto model_path = std::make_shared<std::string>();
  auto input_path = std::make_shared<std::string>();
  auto no_canonize = std::make_shared<bool>(false);
  auto file = std::make_shared<ModelFileOptions>();
  cmd->add_option("MODEL", *model_path, kModelFileHelp)->required();
  cmd->add_option("--input", *input_path, "Input array to resolve shapes the model file does not store (toolbox image size)");
  cmd->add_flag("--no-canonize", *no_canonize, "Show ONNX BatchNorms as layers (folded into the preceding Conv/Linear by default)");
  add_model_options(cmd, *file);
  cmd->callback([=] {
    const Model<double> model =
        load_model(*model_path, !*no_canonize, file->output, file->weights, file->bind, data_shape_of(*model_path, *input_path));
    Shape in = model.input_shape;
    if (!input_path->empty()) {
      const Tensor<double> x = load_input(model, *input_path);
      in = Shape(x.shape().begin() + 1, x.shape().end());
    }
    bool known = !in.empty();
    for (std::size_t d : in) known = known && d != 0;
    std::vector<Shape> shapes;
    if (known) shapes = model.infer_shapes(in);
    const char* layout = model.layout == DataLayout::NHWC ? "NHWC"
                         : model.layout == DataLayout::NCHW ? "NCHW"
                         : reads_signals(model)              ? "[N, C, L]"
                                                             : "[N, D]";
    std::cout << "model:  " << model.source << "\n";
    std::cout << "layout: " << layout << " (data files), engine NCHW\n";
    std::cout << "input:  " << (known ? shape_str(in) : shape_str(in) + " (0 = taken from the data)") << " per sample\n";
    if (!model.input_parts.empty()) {  // several inputs, packed in this order
      std::cout << "inputs: " << model.input_parts.size() << ", given as one .npz of arrays by name, packed in this order:";
      for (const InputPart& p : model.input_parts) std::cout << " '" << p.name << "' " << shape_str(p.shape);
      std::cout << "\n";
    }
    if (model.token_input) std::cout << "tokens: the input holds token ids (integers), one map value per token\n";
    if (model.batch_of_one)
      std::cout << "batch:  the model moves its batch axis; imported as a batch of one, every sample runs alone\n";
    // Column widths fit the longest entry (ONNX node names can be long).
    std::size_t name_w = 22, type_w = 14, shape_w = 16;
    for (const Node<double>& n : model.nodes()) {
      name_w = std::max(name_w, n.name.size() + 2);
      type_w = std::max(type_w, n.layer->type_name().size() + 2);
      if (known) shape_w = std::max(shape_w, shape_str(shapes[n.output]).size() + 2);
    }
    const auto w = [](std::size_t v) { return static_cast<int>(v); };
    std::cout << std::left << std::setw(6) << "index" << std::setw(w(name_w)) << "name" << std::setw(w(type_w)) << "type"
              << std::setw(w(shape_w)) << "output" << std::setw(12) << "params" << "configuration\n";
    for (std::size_t i = 0; i < model.nodes().size(); ++i) {
      const Node<double>& n = model.nodes()[i];
      std::cout << std::left << std::setw(6) << model.display_index(i) << std::setw(w(name_w)) << n.name << std::setw(w(type_w)) << n.layer->type_name()
                << std::setw(w(shape_w)) << (known ? shape_str(shapes[n.output]) : "?") << std::setw(12) << n.layer->param_count()
                << n.layer->describe() << "\n";
    }
    std::cout << "parameters: " << model.param_count() << "\n";
    if (!known) return;
    // What one sample's forward pass holds (float32), and its largest value.
    const LayerOutputSizes sizes = layer_output_sizes(model, shapes);
    const auto mib = [](double elements) { return elements * 4.0 / (1024.0 * 1024.0); };
    std::cout << std::fixed << std::setprecision(1) << "layer outputs: " << mib(sizes.total) << " MiB per sample in float32; largest "
              << model.node_label(sizes.largest_node) << ", " << mib(sizes.largest) << " MiB\n";
  });
}

}  // namespace lrp::cli
