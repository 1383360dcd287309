#pragma once
// One function per subcommand: each adds its CLI11 subcommand and sets its callback.
// Callbacks throw lrp::Error on bad input; main() turns that into "lrp: error: ..." and exit 2.
#include <CLI/CLI.hpp>

namespace lrp::cli {

void add_info_command(CLI::App& app);
void add_predict_command(CLI::App& app);
void add_explain_command(CLI::App& app);
void add_render_command(CLI::App& app);
void add_demo_command(CLI::App& app);
void add_batch_command(CLI::App& app);
void add_train_command(CLI::App& app);
void add_bench_command(CLI::App& app);
void add_tokenize_command(CLI::App& app);
void add_evaluate_command(CLI::App& app);

}  // namespace lrp::cli
