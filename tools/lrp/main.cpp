// lrp: explain neural network predictions with Layer-wise Relevance Propagation.
#include <omp.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>

#include "commands.hpp"
#include "common.hpp"
#include "lrp/core/error.hpp"
#include "lrp/core/kernels.hpp"

int main(int argc, char** argv) {
  // OMP_NUM_THREADS=100000 crashes the OpenMP runtime at the first parallel loop.
  if (static_cast<std::size_t>(omp_get_max_threads()) > lrp::cli::kMaxThreads) {
    std::fprintf(stderr, "lrp: OMP_NUM_THREADS asks for %d threads; using %zu\n", omp_get_max_threads(), lrp::cli::kMaxThreads);
    omp_set_num_threads(static_cast<int>(lrp::cli::kMaxThreads));
  }
  // Relevance decaying to denormal numbers would take the CPU's slow path (lrp/core/kernels.hpp);
  // before any thread of the pool starts, so that all inherit it.
  if (!std::getenv("LRP_KEEP_DENORMALS")) lrp::set_flush_denormals(true);
  CLI::App app{"lrp: Layer-wise Relevance Propagation and other attribution methods for neural networks"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "lrp 0.1.0");
  // Subcommands (one file each in tools/lrp/).
  lrp::cli::add_info_command(app);
  lrp::cli::add_predict_command(app);
  lrp::cli::add_explain_command(app);
  lrp::cli::add_batch_command(app);
  lrp::cli::add_evaluate_command(app);
  lrp::cli::add_render_command(app);
  lrp::cli::add_demo_command(app);
  lrp::cli::add_train_command(app);
  lrp::cli::add_bench_command(app);
  lrp::cli::add_tokenize_command(app);
  // CLI11 reads "-1" into an unsigned option as 2^64 - 1 (a run of --iters -1 would never end):
  // every unsigned count refuses negative numbers.
  const CLI::Validator non_negative(
      [](std::string& value) { return value.find('-') == std::string::npos ? std::string() : "must not be negative, got " + value; },
      "");
  // No real-valued option means anything as NaN or infinity (--noise-level nan made every noisy
  // copy NaN, --overlay nan a blend of NaN), and CLI11's ranges let NaN through.
  const CLI::Validator finite(
      [](std::string& value) {
        char* end = nullptr;
        const double v = std::strtod(value.c_str(), &end);
        return end != value.c_str() && !std::isfinite(v) ? "must be a finite number, got " + value : std::string();
      },
      "");
  for (CLI::App* cmd : app.get_subcommands({}))
    for (CLI::Option* opt : cmd->get_options()) {
      const std::string type = opt->get_type_name();  // "UINT", "FLOAT", or with a range check's text after it
      if (type.rfind("UINT", 0) == 0) opt->check(non_negative);
      if (type.rfind("FLOAT", 0) == 0) opt->check(finite);
    }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  } catch (const lrp::Error& e) {
    std::cerr << "lrp: error: " << e.what() << "\n";
    return 2;
  } catch (const std::bad_alloc&) {
    std::cerr << "lrp: error: out of memory\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "lrp: error: " << e.what() << "\n";
    return 2;
  }
  return 0;
}
