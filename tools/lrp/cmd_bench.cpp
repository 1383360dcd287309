// lrp bench MODEL [--composite SPEC | --rule RULE] [--batch B] [--runs N] [--warmup W] [--threads T]
//                 [--target T] [--input-shape C,H,W] [--conv-algo A] [--json]
// Times forward, gradient and LRP on a random standard-normal batch (random token ids for a text
// model; docs/PERFORMANCE.md).
#include <malloc.h>
#include <omp.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <memory>
#include <random>
#include <sstream>
#include <nlohmann/json.hpp>

#include "bench_models.hpp"
#include "commands.hpp"
#include "common.hpp"
#include "lrp/core/error.hpp"
#include "lrp/core/kernels.hpp"
#include "lrp/core/parse.hpp"
#include "lrp/explain/executor.hpp"
#include "lrp/explain/explain.hpp"
#include "lrp/layers/conv2d.hpp"
#include "lrp/layers/embedding.hpp"
#include "lrp/layers/linear.hpp"
#include "lrp/rules/composite.hpp"

namespace lrp::cli {
namespace {

struct BenchOptions {
  std::string model, composite, rule, input_shape, target = "predicted", conv_algo, phases = "forward,gradient,lrp",
      rule_precision;
  ModelFileOptions file;  // --output, --weights, --bind
  std::size_t batch = 1, runs = 5, warmup = 1, threads = 0;
  bool json = false, profile = false;
};

double peak_rss_mb() {
  rusage r{};
  getrusage(RUSAGE_SELF, &r);
  return static_cast<double>(r.ru_maxrss) / 1024.0;
}

// Resets the kernel's peak-RSS mark (Linux >= 4.0), so that ru_maxrss afterwards is the peak of
// what follows; false when /proc/self/clear_refs cannot be written.
bool reset_peak_rss() {
  std::ofstream f("/proc/self/clear_refs");
  if (!f) return false;
  f << "5";
  f.flush();
  return static_cast<bool>(f);
}

struct Timing {
  double median = 0, min = 0, max = 0;
  double cpu = 0;  // median CPU time (user + system, all threads) per call
};

double cpu_ms() {
  rusage r{};
  getrusage(RUSAGE_SELF, &r);
  return (static_cast<double>(r.ru_utime.tv_sec + r.ru_stime.tv_sec) * 1e3) +
         static_cast<double>(r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e3;
}

// a / b, or 0 when b is (a phase that was not timed).
double ratio(double a, double b) { return b > 0 ? a / b : 0.0; }

double median_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n == 0 ? 0.0 : n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

template <class F>
Timing time_it(std::size_t warmup, std::size_t runs, F&& f) {
  for (std::size_t i = 0; i < warmup; ++i) f();
  std::vector<double> ms, cpu;
  for (std::size_t i = 0; i < runs; ++i) {
    const double c0 = cpu_ms();
    const auto t0 = std::chrono::steady_clock::now();
    f();
    const auto t1 = std::chrono::steady_clock::now();
    cpu.push_back(cpu_ms() - c0);
    ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  Timing t;
  if (ms.empty()) return t;
  t.median = median_of(ms);
  t.min = *std::min_element(ms.begin(), ms.end());
  t.max = *std::max_element(ms.begin(), ms.end());
  t.cpu = median_of(cpu);
  return t;
}

// Multiply-adds x 2 of the Conv2d, Linear (every row of a Linear over the last axis) and MatMul
// layers for one forward pass.
double forward_flops(const Model<float>& m, const Shape& per_sample, std::size_t batch) {
  const std::vector<Shape> shapes = m.infer_shapes(per_sample);
  double f = 0;
  for (const Node<float>& n : m.nodes()) {
    const Shape& out = shapes[n.output];
    if (const auto* c = dynamic_cast<const Conv2d<float>*>(n.layer.get())) {
      const Tensor<float>& w = c->weight();
      f += 2.0 * static_cast<double>(shape_numel(out)) * static_cast<double>(w.dim(1) * w.dim(2) * w.dim(3));
    } else if (const auto* l = dynamic_cast<const Linear<float>*>(n.layer.get())) {
      // A Linear over the last axis maps every row (a transformer's tokens).
      const double rows = static_cast<double>(shape_numel(out) / l->out_features());
      f += 2.0 * rows * static_cast<double>(l->in_features() * l->out_features());
    } else if (n.layer->kind() == LayerKind::MatMul) {  // [.., M, K] x [.., K, P]
      const Shape& a = shapes[n.inputs[0]];
      f += 2.0 * static_cast<double>(shape_numel(out)) * static_cast<double>(a.back());
    }
  }
  return f * static_cast<double>(batch);
}

double conv_flops(const Model<float>& m, const Shape& per_sample, std::size_t batch) {
  const std::vector<Shape> shapes = m.infer_shapes(per_sample);
  double f = 0;
  for (const Node<float>& n : m.nodes())
    if (const auto* c = dynamic_cast<const Conv2d<float>*>(n.layer.get())) {
      const Tensor<float>& w = c->weight();
      f += 2.0 * static_cast<double>(shape_numel(shapes[n.output])) * static_cast<double>(w.dim(1) * w.dim(2) * w.dim(3));
    }
  return f * static_cast<double>(batch);
}

// --input-shape's dims (empty when not given).
Shape parse_input_shape(const std::string& text) {
  Shape s;
  if (text.empty()) return s;
  for (const std::string& part : split(text, ',')) s.push_back(parse_index(part, "--input-shape"));
  if (s.empty()) throw ConfigError("--input-shape names no dimension");
  for (std::size_t d : s)
    if (d == 0) throw ConfigError("--input-shape dimensions must be positive");
  return s;
}

Shape resolve_input_shape(const Model<float>& m, const std::string& text) {
  Shape s = m.input_shape;
  if (!text.empty()) return parse_input_shape(text);
  bool known = !s.empty();
  for (std::size_t d : s) known = known && d != 0;
  if (known) return s;
  // Toolbox image models do not store the image size: MNIST-style 32x32 for one channel.
  if (s.size() == 3 && s[0] == 1 && s[1] == 0 && s[2] == 0) return {1, 32, 32};
  throw ConfigError("the model file does not store its input size " + shape_str(s) + ": give --input-shape C,H,W");
}

// Per-node wall time of `call` (forward and relevance step), mean of `runs` extra calls.
template <class Call>
void print_profile(const Model<float>& model, const std::string& what, Call&& call, std::size_t runs) {
  NodeTimes times;
  set_node_profile(&times);
  for (std::size_t i = 0; i < runs; ++i) call();
  set_node_profile(nullptr);
  const auto& nodes = model.nodes();
  double total_f = 0, total_b = 0;
  const auto at = [&](const std::vector<double>& v, std::size_t i) { return i < v.size() ? v[i] / static_cast<double>(runs) : 0.0; };
  std::cout << "profile of the " << what << " call (ms per call, mean of " << runs << "):\n"
            << "  node                                      forward  relevance\n";
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    const double f = at(times.forward_ms, i), b = at(times.backward_ms, i);
    total_f += f;
    total_b += b;
    std::string label = model.node_label(i);
    if (label.size() > 40) label = label.substr(0, 37) + "...";
    std::cout << "  " << std::left << std::setw(40) << label << std::right << std::fixed << std::setprecision(3) << std::setw(10) << f
              << std::setw(11) << b << "\n";
  }
  std::cout << "  " << std::left << std::setw(40) << "total" << std::right << std::setw(10) << total_f << std::setw(11) << total_b
            << "\n";
}

// A batch whose input and largest layer output alone exceed the machine's memory would
// first spend minutes filling the input and then fail to allocate (or be killed): refuse it.
void check_batch_fits_memory(const Model<float>& model, const std::vector<Shape>& shapes, std::size_t batch) {
  double input = 1;
  for (std::size_t d : shapes.at(0)) input *= static_cast<double>(d);
  const double gib = 1024.0 * 1024.0 * 1024.0;
  const double need = static_cast<double>(batch) * (input + layer_output_sizes(model, shapes).largest) * sizeof(float) / gib;
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  const double have = pages > 0 && page > 0 ? static_cast<double>(pages) * static_cast<double>(page) / gib : 0.0;
  if (have > 0.0 && need > have) {
    std::ostringstream msg;
    msg << std::fixed << std::setprecision(1) << "--batch " << batch << " needs at least " << need
        << " GiB (the input and the largest layer output), more than this machine's " << have << " GiB of memory";
    throw ConfigError(msg.str());
  }
}

void run_bench(const BenchOptions& o) {
  set_threads(o.threads);
  if (!o.conv_algo.empty()) set_conv_algorithm(parse_conv_algorithm(o.conv_algo));
  apply_rule_precision(o.rule_precision, true);
  if (!o.rule.empty() && !o.composite.empty()) throw ConfigError("give either --rule or --composite, not both");
  if (o.batch == 0) throw ConfigError("--batch must be at least 1");
  if (o.runs == 0) throw ConfigError("--runs must be at least 1");
  const Target target = parse_target(o.target);
  bool want_forward = false, want_gradient = false, want_lrp = false;
  for (const std::string& p : split(o.phases, ',')) {
    if (p == "forward") want_forward = true;
    else if (p == "gradient") want_gradient = true;
    else if (p == "lrp") want_lrp = true;
    else throw ConfigError("--phases: unknown phase '" + p + "' (expected forward, gradient, lrp)");
  }

  // Loading (excluded from the timings; its transient peak is reported separately).
  Model<float> model;
  if (o.model.rfind("synthetic:", 0) == 0) {
    model = synthetic_model(o.model.substr(10));
    tune_allocator_for_reuse();  // load_model does this for files
  } else {
    model = load_model_float(o.model, true, o.file.output, o.file.weights, o.file.bind, parse_input_shape(o.input_shape));
  }
  model.drop_trailing_softmax();
  const Shape per = resolve_input_shape(model, o.input_shape);
  check_batch_fits_memory(model, model.infer_shapes(per), o.batch);
  const std::string spec = o.rule.empty() ? (o.composite.empty() ? "epsilon_plus_flat" : o.composite) : "";
  std::vector<Rule> rules = o.rule.empty() ? composite_rules(model, spec) : uniform_rules(model, parse_rule(o.rule));

  Shape xs = per;
  xs.insert(xs.begin(), o.batch);
  Tensor<float> x(xs);
  std::mt19937 rng(0);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  for (float& v : x) v = nd(rng);
  if (model.token_input) {  // token ids: uniform over the smallest vocabulary that reads them
    std::size_t vocab = 0;
    for (const Node<float>& n : model.nodes())
      if (n.layer->kind() == LayerKind::Embedding && n.inputs[0] == 0) {
        const std::size_t rows = static_cast<const Embedding<float>&>(*n.layer).table().dim(0);
        vocab = vocab == 0 ? rows : std::min(vocab, rows);
      }
    std::uniform_int_distribution<std::size_t> token(0, std::max<std::size_t>(vocab, 1) - 1);
    for (float& v : x) v = static_cast<float>(token(rng));
  }

  malloc_trim(0);
  const double load_peak = peak_rss_mb();
  const bool reset = reset_peak_rss();

  Explainer<float> explainer(model);
  ExplainRequest grad_req;
  grad_req.method = Method::Gradient;
  grad_req.target = target;
  ExplainRequest lrp_req;
  lrp_req.method = Method::LRP;
  lrp_req.rules = rules;
  lrp_req.target = target;

  // Every phase starts with cold caches (derived parameters, oneDNN primitives and weight
  // copies), as a process doing only that would; its warm-up calls fill them.
  const auto cold = [&] {
    explainer.clear_cache();
    clear_kernel_caches();
  };
  const auto phase = [&](bool wanted, auto&& call) {
    if (!wanted) return Timing{};
    cold();
    return time_it(o.warmup, o.runs, call);
  };
  const Timing tf = phase(want_forward, [&] { explainer.predict(x); });
  const Timing tg = phase(want_gradient, [&] { explainer.explain(x, grad_req); });
  std::size_t lrp_passes = 0;  // sample passes of one LRP call (1 unless the batch exceeds the budget)
  const Timing tl = phase(want_lrp, [&] { lrp_passes = explainer.explain(x, lrp_req).sample_passes; });
  // peak_rss_mb is the whole process's peak (loading included), as a user's process would see it.
  const double run_peak = peak_rss_mb();
  const double peak = reset ? std::max(load_peak, run_peak) : run_peak;
  // The LRP call's nodes; with --phases forward alone, the forward-only call's (whose plan
  // fuses more: nothing is kept for a sweep).
  if (o.profile && (want_lrp || !want_forward))
    print_profile(model, "lrp", [&] { explainer.explain(x, lrp_req); }, o.runs);
  else if (o.profile)
    print_profile(model, "forward", [&] { explainer.predict(x); }, o.runs);

  const double flops = forward_flops(model, per, o.batch), cflops = conv_flops(model, per, o.batch);
  const int threads = omp_get_max_threads();
  nlohmann::json j;
  j["model"] = o.model;
  j["batch"] = o.batch;
  j["input_shape"] = per;
  if (o.rule.empty()) j["composite"] = spec;
  else j["rule"] = o.rule;
  j["target"] = o.target;
  j["threads"] = threads;
  j["runs"] = o.runs;
  j["warmup"] = o.warmup;
  j["conv_algo"] = conv_algorithm_name(conv_algorithm());
  j["rule_precision"] = rule_precision_name(rule_precision());
  j["rule_precision_native"] = rule_precision_native(rule_precision());
  j["bf16_hardware"] = bf16_hardware();
  j["forward_ms"] = tf.median;
  j["gradient_ms"] = tg.median;
  j["lrp_ms"] = tl.median;
  j["lrp_sample_passes"] = lrp_passes;
  j["forward_ms_min"] = tf.min;
  j["gradient_ms_min"] = tg.min;
  j["lrp_ms_min"] = tl.min;
  j["forward_ms_max"] = tf.max;
  j["gradient_ms_max"] = tg.max;
  j["lrp_ms_max"] = tl.max;
  j["forward_cpu_ms"] = tf.cpu;
  j["gradient_cpu_ms"] = tg.cpu;
  j["lrp_cpu_ms"] = tl.cpu;
  j["lrp_over_forward"] = ratio(tl.median, tf.median);
  j["lrp_over_gradient"] = ratio(tl.median, tg.median);
  j["forward_gflop"] = flops / 1e9;
  j["forward_gflops"] = ratio(flops / 1e6, tf.median);
  j["conv_gflop"] = cflops / 1e9;
  j["peak_rss_mb"] = peak;
  j["peak_rss_scope"] = "process";
  j["load_peak_rss_mb"] = load_peak;
  if (reset) j["run_peak_rss_mb"] = run_peak;
  j["param_cache_mb"] = static_cast<double>(explainer.cache_bytes()) / (1024.0 * 1024.0);
  const KernelCacheStats st = kernel_cache_stats();
  j["dnnl_weight_cache_mb"] = static_cast<double>(st.weight_bytes) / (1024.0 * 1024.0);  // after the LRP phase

  std::cout << "model " << o.model << ", input " << shape_str(xs) << ", "
            << (o.rule.empty() ? "composite " + spec : "rule " + o.rule) << ", target " << o.target << ", " << threads
            << " threads, conv " << conv_algorithm_name(conv_algorithm()) << ", rules "
            << (rule_precision_native(rule_precision()) ? rule_precision_name(rule_precision()) : "float32")
            << (rule_precision() == RulePrecision::BFloat16 ? std::string(" (") + bf16_hardware() + ")" : "")
            << ", median of " << o.runs << " after "
            << o.warmup << " warm-up\n";
  std::cout << std::fixed << std::setprecision(3);
  std::cout << "  forward   " << std::setw(10) << tf.median << " ms  (min " << tf.min << ", max " << tf.max << "; cpu " << tf.cpu << "; "
            << std::setprecision(1) << ratio(flops / 1e6, tf.median) << " GFLOP/s)\n"
            << std::setprecision(3);
  std::cout << "  gradient  " << std::setw(10) << tg.median << " ms  (min " << tg.min << ", max " << tg.max << "; cpu " << tg.cpu << ")\n";
  std::cout << "  lrp       " << std::setw(10) << tl.median << " ms  (min " << tl.min << ", max " << tl.max << "; cpu " << tl.cpu << ")  "
            << std::setprecision(2) << ratio(tl.median, tf.median) << "x forward, " << ratio(tl.median, tg.median) << "x gradient"
            << (lrp_passes > 1 ? "; the batch ran in " + std::to_string(lrp_passes) + " passes" : "") << "\n";
  std::cout << std::setprecision(1) << "  peak RSS  " << std::setw(10) << peak << " MiB (whole process; loading " << load_peak;
  if (reset) std::cout << ", after loading " << run_peak;
  std::cout << " MiB)\n";
  if (o.json) std::cout << j.dump() << std::endl;
}

}  // namespace

void add_bench_command(CLI::App& app) {
  auto o = std::make_shared<BenchOptions>();
  auto* cmd = app.add_subcommand("bench", "Time forward, gradient and LRP on a random input (model loading excluded)");
  cmd->footer("MODEL is a model file (.txt LRP Toolbox, .onnx) or synthetic:NAME, a random-weight network built in memory (" +
              synthetic_model_names() +
              ").\n"
              "Each phase is one call on the whole batch (predicted-class target unless --target), repeated --runs times "
              "after --warmup untimed calls; the median is reported. Peak RSS is the process's peak resident memory (getrusage's ru_maxrss), "
              "loading included; the peaks of loading and of what follows it are also given apart. Each phase starts with cold caches. With --json the last line of stdout is a JSON object "
              "(batch, forward_ms, gradient_ms, lrp_ms, peak_rss_mb, ...).\n"
              "Environment: LRP_CONV_ALGO=direct|winograd|auto|reference sets the convolution algorithm (--conv-algo wins); "
              "LRP_RULE_PRECISION=float32|bf16 the rules' precision (--rule-precision wins).");
  cmd->add_option("MODEL", o->model, "Model file or synthetic:NAME")->required();
  cmd->add_option("--composite", o->composite, "Named composite (default epsilon_plus_flat)");
  cmd->add_option("--rule", o->rule, "One rule for every layer instead of a composite");
  cmd->add_option("--batch", o->batch, "Batch size (1)");
  cmd->add_option("--runs", o->runs, "Timed calls per phase (5)")->check(CLI::Range(std::size_t(1), std::size_t(1000000)));
  cmd->add_option("--warmup", o->warmup, "Untimed calls per phase before timing (1)")
      ->check(CLI::Range(std::size_t(0), std::size_t(1000000)));
  cmd->add_option("--threads", o->threads, "OpenMP/oneDNN threads (default: OMP_NUM_THREADS or all cores)");
  add_model_options(cmd, o->file);
  cmd->add_option("--target", o->target, "predicted (default) | K | K1,K2,... | all");
  cmd->add_option("--input-shape", o->input_shape, "Per-sample input shape C,H,W (or D) when the model file lacks it (a toolbox image size, an ONNX dynamic sequence length)");
  cmd->add_option("--conv-algo", o->conv_algo, "direct | winograd | auto | reference")
      ->check(CLI::IsMember({"direct", "winograd", "auto", "reference"}));
  add_rule_precision_option(cmd, o->rule_precision);
  cmd->add_option("--phases", o->phases, "Phases to time, comma-separated: forward,gradient,lrp (all; skipped ones report 0)");
  cmd->add_flag("--profile", o->profile, "After timing, print the time of every node in the LRP call (forward and relevance); with --phases forward alone, in the forward-only call");
  cmd->add_flag("--json", o->json, "Print a JSON summary as the last line");
  cmd->callback([o] { run_bench(*o); });
}

}  // namespace lrp::cli
