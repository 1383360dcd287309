// lrp info MODEL: layers, shapes and parameter counts.
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
  cmd->add_option("MODEL", *model_path, "Model file (.txt LRP Toolbox format, .onnx)")->required();
  cmd->add_option("--input", *input_path, "Input array to resolve shapes the model file does not store (toolbox image size)");
  cmd->callback([=] {
    const Model<double> model = load_model(*model_path);
    Shape in = model.input_shape;
    if (!input_path->empty()) {
      const Tensor<double> x = load_input(model, *input_path);
      in = Shape(x.shape().begin() + 1, x.shape().end());
    }
    bool known = !in.empty();
    for (std::size_t d : in) known = known && d != 0;
    std::vector<Shape> shapes;
    if (known) shapes = model.infer_shapes(in);
    const char* layout = model.layout == DataLayout::NHWC ? "NHWC" : model.layout == DataLayout::NCHW ? "NCHW" : "[N, D]";
    std::cout << "model:  " << model.source << "\n";
    std::cout << "layout: " << layout << " (data files), engine NCHW\n";
    std::cout << "input:  " << (known ? shape_str(in) : shape_str(in) + " (0 = taken from the data)") << " per sample\n";
    std::cout << std::left << std::setw(6) << "index" << std::setw(22) << "name" << std::setw(14) << "type" << std::setw(16)
              << "output" << std::setw(12) << "params" << "configuration\n";
    for (std::size_t i = 0; i < model.nodes().size(); ++i) {
      const Node<double>& n = model.nodes()[i];
      const int idx = n.source_index >= 0 ? n.source_index : static_cast<int>(i);
      std::cout << std::left << std::setw(6) << idx << std::setw(22) << n.name << std::setw(14) << n.layer->type_name()
                << std::setw(16) << (known ? shape_str(shapes[n.output]) : "?") << std::setw(12) << n.layer->param_count()
                << n.layer->describe() << "\n";
    }
    std::cout << "parameters: " << model.param_count() << "\n";
  });
}

}  // namespace lrp::cli
