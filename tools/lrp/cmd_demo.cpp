// lrp demo: LeNet-5 on the MNIST test digits shipped in examples/mnist — accuracy, then heatmaps
// of every toolbox rule side by side and of all ten classes for one digit.
#include <algorithm>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <memory>
#include <unistd.h>

#include "commands.hpp"
#include "lrp/core/error.hpp"
#include "lrp/explain/executor.hpp"
#include "lrp/explain/explain.hpp"
#include "lrp/io/arrays.hpp"
#include "lrp/io/toolbox_text.hpp"
#include "lrp/render/heatmap.hpp"
#include "lrp/render/png.hpp"
#include "lrp/rules/composite.hpp"

namespace lrp::cli {
namespace {

struct DemoOptions {
  std::string data, out = "out/demo", colormap = "bwr";
  std::size_t digits = 6;
};

// The demo data under the cwd, next to the executable (build/<dir>/lrp → examples/mnist), or in
// the source tree the binary was built from.
std::string default_data_dir() {
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  for (const std::filesystem::path& p : {std::filesystem::path("examples/mnist"), exe.parent_path() / "../../examples/mnist",
                                         exe.parent_path() / "../examples/mnist", std::filesystem::path(LRP_DEMO_DATA_DIR)})
    if (std::filesystem::exists(p / "LeNet-5.txt", ec)) return p.lexically_normal().string();
  return "examples/mnist";
}

// MNIST pixels 0..255 [N,784] → the toolbox's LeNet input: x/127.5 - 1, 28x28 padded by 2 with -1,
// engine layout [N,1,32,32].
Tensor<float> lenet_input(const Tensor<double>& pixels, std::size_t first, std::size_t count) {
  Tensor<float> x({count, 1, 32, 32}, -1.0f);
  for (std::size_t n = 0; n < count; ++n)
    for (std::size_t r = 0; r < 28; ++r)
      for (std::size_t c = 0; c < 28; ++c)
        x[(n * 32 + r + 2) * 32 + c + 2] = static_cast<float>(pixels[(first + n) * 784 + r * 28 + c] / 127.5 - 1.0);
  return x;
}

Tensor<double> plane(const Tensor<float>& t, std::size_t index) {
  Tensor<double> p({32, 32});
  for (std::size_t i = 0; i < 1024; ++i) p[i] = static_cast<double>(t[index * 1024 + i]);
  return p;
}

render::RgbImage digit_image(const Tensor<float>& x, std::size_t n) {
  Tensor<double> d = plane(x, n);
  for (double& v : d) v = (v + 1) / 2;  // [-1,1] → [0,1], as the toolbox demo
  return render::render_input(d, 3);
}

}  // namespace

void add_demo_command(CLI::App& app) {
  auto o = std::make_shared<DemoOptions>();
  auto* cmd = app.add_subcommand("demo", "LeNet-5 on MNIST: accuracy and heatmaps of every rule (examples/mnist)");
  cmd->add_option("--data", o->data, "Folder with LeNet-5.txt, test_images.mat, test_labels.npy (default: examples/mnist)");
  cmd->add_option("--out", o->out, "Folder for the PNGs (default out/demo)");
  cmd->add_option("--digits", o->digits, "Number of digits to explain (default 6)")->check(CLI::Range(1, 100));
  cmd->add_option("--colormap", o->colormap, "Colour map (default bwr: red positive, blue negative)");
  cmd->callback([o] {
    const std::string dir = o->data.empty() ? default_data_dir() : o->data;
    Model<double> md = io::read_toolbox_model(dir + "/LeNet-5.txt");
    md.drop_trailing_softmax();
    const Model<float> model = md.convert<float>();
    const Tensor<double> pixels = io::read_mat(dir + "/test_images.mat");
    const Tensor<double> labels = io::read_npy(dir + "/test_labels.npy");
    if (pixels.rank() != 2 || pixels.dim(1) != 784 || labels.size() != pixels.dim(0))
      throw FormatError(dir + ": expected [N,784] digits and N labels, got " + shape_str(pixels.shape()) + " and " +
                        shape_str(labels.shape()));
    const std::size_t total = pixels.dim(0);

    // Accuracy on every digit, in batches of 500.
    std::size_t correct = 0;
    Executor<float> ex(model);
    for (std::size_t first = 0; first < total; first += 500) {
      const std::size_t count = std::min<std::size_t>(500, total - first);
      const Tensor<float>& y = ex.forward(lenet_input(pixels, first, count));
      for (std::size_t n = 0; n < count; ++n) {
        const float* yn = y.data() + n * 10;
        correct += static_cast<std::size_t>(std::max_element(yn, yn + 10) - yn) == static_cast<std::size_t>(labels[first + n]);
      }
    }
    std::cout << "LeNet-5 on " << total << " MNIST test digits: accuracy " << std::fixed << std::setprecision(2)
              << 100.0 * static_cast<double>(correct) / static_cast<double>(total) << " %\n";

    std::filesystem::create_directories(o->out);
    render::HeatmapOptions h;
    h.colormap = o->colormap;
    h.scale = 3;
    const std::size_t count = std::min(o->digits, total);
    const Tensor<float> x = lenet_input(pixels, 0, count);
    struct Column {
      std::string title;
      std::vector<Rule> rules;
    };
    std::vector<Column> columns;
    for (const std::string r : {"z", "epsilon:1", "alphabeta:2", "w2", "flat"}) columns.push_back({r, uniform_rules(md, parse_rule(r))});
    std::vector<Rule> composite = uniform_rules(md, parse_rule("alphabeta:1"));
    apply_overrides(md, composite, {parse_rule_override("0=w2")});
    columns.push_back({"alphabeta:1 + w2 in layer 0", composite});

    std::vector<render::RgbImage> rows_tiles;
    std::vector<Tensor<float>> maps;
    for (const Column& c : columns) {
      ExplainRequest req;
      req.rules = c.rules;
      maps.push_back(explain(model, x, req).relevance);
    }
    std::cout << "columns of " << o->out << "/rules.png: digit | " ;
    for (const Column& c : columns) std::cout << c.title << (&c == &columns.back() ? "\n" : " | ");
    for (std::size_t n = 0; n < count; ++n) {
      std::vector<render::RgbImage> row{digit_image(x, n)};
      std::cout << "digit " << n << " (label " << labels[n] << "): relevance sums";
      for (std::size_t c = 0; c < columns.size(); ++c) {
        const Tensor<double> r = plane(maps[c], n);
        double s = 0;
        for (double v : r) s += v;
        std::cout << " " << std::setprecision(2) << s;
        row.push_back(render::render_heatmap(r, h));
      }
      std::cout << "\n";
      const render::RgbImage line = render::hconcat(row);
      render::write_png(o->out + "/digit_" + std::to_string(n) + "_rules.png", line);
      rows_tiles.push_back(line);
    }
    render::write_png(o->out + "/rules.png", render::grid(rows_tiles, 1));

    // All ten classes of the first digit from one forward and one batched backward pass.
    ExplainRequest all;
    all.rules = uniform_rules(md, parse_rule("epsilon:1"));
    all.target.kind = Target::Kind::All;
    const Explanation<float> e = explain(model, lenet_input(pixels, 0, 1), all);
    std::vector<render::RgbImage> classes{digit_image(x, 0)};
    for (std::size_t c = 0; c < 10; ++c) classes.push_back(render::render_heatmap(plane(e.relevance, c), h));
    render::write_png(o->out + "/all_classes.png", render::hconcat(classes));
    std::cout << "wrote " << count + 2 << " PNGs to " << o->out << " (rules.png, all_classes.png: digit | class 0 .. 9)\n";
  });
}

}  // namespace lrp::cli
