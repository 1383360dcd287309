#pragma once
// Helpers for the ONNX and Zennit tests: a tiny ModelProto builder, forward runs, error
// metrics with the worst index, scratch files.
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "lrp/core/tensor.hpp"
#include "lrp/explain/executor.hpp"
#include "lrp/graph/model.hpp"
#include "support/test_paths.hpp"

namespace lrp::test {

// Builds small ONNX models in memory (opset 13 unless told otherwise).
class OnnxBuilder {
 public:
  explicit OnnxBuilder(std::int64_t opset = 13) {
    model_.set_ir_version(7);
    model_.set_producer_name("lrp-tests");
    auto* o = model_.add_opset_import();
    o->set_domain("");
    o->set_version(opset);
    model_.mutable_graph()->set_name("test");
  }
  onnx::GraphProto& graph() { return *model_.mutable_graph(); }
  onnx::ModelProto& proto() { return model_; }

  // dims: -1 is a dynamic dimension (dim_param).
  OnnxBuilder& input(const std::string& name, const std::vector<std::int64_t>& dims,
                     int elem = onnx::TensorProto::FLOAT) {
    value_info(*graph().add_input(), name, dims, elem);
    return *this;
  }
  OnnxBuilder& output(const std::string& name) {
    graph().add_output()->set_name(name);
    return *this;
  }
  OnnxBuilder& init(const std::string& name, const std::vector<std::int64_t>& dims, const std::vector<float>& v) {
    onnx::TensorProto* t = graph().add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    for (std::int64_t d : dims) t->add_dims(d);
    t->set_raw_data(std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float)));
    return *this;
  }
  OnnxBuilder& init_i64(const std::string& name, const std::vector<std::int64_t>& dims, const std::vector<std::int64_t>& v) {
    onnx::TensorProto* t = graph().add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::INT64);
    for (std::int64_t d : dims) t->add_dims(d);
    for (std::int64_t x : v) t->add_int64_data(x);
    return *this;
  }
  onnx::NodeProto& node(const std::string& op, const std::vector<std::string>& inputs, const std::vector<std::string>& outputs,
                        const std::string& name = "") {
    onnx::NodeProto* n = graph().add_node();
    n->set_op_type(op);
    n->set_name(name);
    for (const std::string& s : inputs) n->add_input(s);
    for (const std::string& s : outputs) n->add_output(s);
    return *n;
  }
  static void attr(onnx::NodeProto& n, const std::string& name, std::int64_t v) {
    auto* a = n.add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(v);
  }
  static void attr(onnx::NodeProto& n, const std::string& name, double v) {
    auto* a = n.add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::FLOAT);
    a->set_f(static_cast<float>(v));
  }
  static void attr(onnx::NodeProto& n, const std::string& name, const std::vector<std::int64_t>& v) {
    auto* a = n.add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INTS);
    for (std::int64_t x : v) a->add_ints(x);
  }
  static void attr(onnx::NodeProto& n, const std::string& name, const std::string& v) {
    auto* a = n.add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::STRING);
    a->set_s(v);
  }
  std::string bytes() const { return model_.SerializeAsString(); }

 private:
  static void value_info(onnx::ValueInfoProto& vi, const std::string& name, const std::vector<std::int64_t>& dims, int elem) {
    vi.set_name(name);
    auto* tt = vi.mutable_type()->mutable_tensor_type();
    tt->set_elem_type(elem);
    auto* shape = tt->mutable_shape();
    for (std::int64_t d : dims) {
      auto* dim = shape->add_dim();
      if (d < 0) dim->set_dim_param("dyn" + std::to_string(shape->dim_size()));
      else dim->set_dim_value(d);
    }
  }
  onnx::ModelProto model_;
};

// A small but complete model: Conv, Relu, MaxPool, Flatten, Gemm.
inline OnnxBuilder small_onnx_model() {
  OnnxBuilder b;
  b.input("x", {-1, 1, 4, 4}).output("y");
  std::vector<float> w(2 * 9), fc(3 * 8);
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = 0.1f * static_cast<float>(i) - 0.5f;
  for (std::size_t i = 0; i < fc.size(); ++i) fc[i] = 0.05f * static_cast<float>(i);
  b.init("W", {2, 1, 3, 3}, w).init("b", {2}, {0.1f, -0.1f}).init("F", {3, 8}, fc).init("c", {3}, {1, 2, 3});
  auto& conv = b.node("Conv", {"x", "W", "b"}, {"c1"}, "conv");
  OnnxBuilder::attr(conv, "pads", std::vector<std::int64_t>{1, 1, 1, 1});
  b.node("Relu", {"c1"}, {"r1"}, "relu");
  auto& pool = b.node("MaxPool", {"r1"}, {"p1"}, "pool");
  OnnxBuilder::attr(pool, "kernel_shape", std::vector<std::int64_t>{2, 2});
  OnnxBuilder::attr(pool, "strides", std::vector<std::int64_t>{2, 2});
  b.node("Flatten", {"p1"}, {"f1"}, "flatten");
  OnnxBuilder::attr(b.node("Gemm", {"f1", "F", "c"}, {"y"}, "fc"), "transB", std::int64_t{1});
  return b;
}

// A fresh scratch directory, removed with everything in it.
class ScratchDir {
 public:
  ScratchDir() {
    static std::atomic<int> counter{0};
    dir_ = std::filesystem::temp_directory_path() / ("lrp_onnx_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::create_directories(dir_);
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  std::string file(const std::string& name) const { return (dir_ / name).string(); }
  std::string path() const { return dir_.string(); }

 private:
  std::filesystem::path dir_;
};

inline void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline Tensor<double> random_tensor(const Shape& shape, unsigned seed, double lo = -1.0, double hi = 1.0) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(lo, hi);
  Tensor<double> t(shape);
  for (double& v : t) v = u(rng);
  return t;
}

// Forward pass of `model` (converted to T) on x.
template <class T>
Tensor<double> run_forward(const Model<double>& model, const Tensor<double>& x) {
  const Model<T> m = model.template convert<T>();
  Executor<T> ex(m);
  return ex.forward(x.template cast<T>()).template cast<double>();
}

// Runs the lrp CLI with `args` (stdout and stderr captured together); returns the exit code.
inline int run_cli(const std::string& args, std::string& output) {
  const std::string cmd = cli_path() + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return -1;
  char buf[4096];
  output.clear();
  while (std::size_t n = fread(buf, 1, sizeof buf, p)) output.append(buf, n);
  const int status = pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// max |a - b| / max |b| (the error metric of the Zennit comparisons).
template <class T>
double max_rel_error(const Tensor<T>& a, const Tensor<double>& b) {
  double num = 0, den = 0;
  for (std::size_t i = 0; i < b.size() && i < a.size(); ++i) {
    num = std::max(num, std::abs(static_cast<double>(a[i]) - b[i]));
    den = std::max(den, std::abs(b[i]));
  }
  return den == 0 ? num : num / den;
}

// NumPy allclose semantics (|a - b| <= atol + rtol |b|), reporting the worst element.
template <class T>
::testing::AssertionResult allclose(const Tensor<T>& a, const Tensor<double>& b, double rtol, double atol) {
  if (a.size() != b.size())
    return ::testing::AssertionFailure() << "sizes differ: " << shape_str(a.shape()) << " vs " << shape_str(b.shape());
  double worst = -1;
  std::size_t at = 0;
  for (std::size_t i = 0; i < b.size(); ++i) {
    const double d = std::abs(static_cast<double>(a[i]) - b[i]) - (atol + rtol * std::abs(b[i]));
    if (!(d <= worst) || std::isnan(d)) {
      worst = d;
      at = i;
    }
  }
  if (worst <= 0 || b.size() == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "element " << at << ": " << static_cast<double>(a[at]) << " vs " << b[at]
                                       << " (rtol " << rtol << ", atol " << atol << ")";
}

}  // namespace lrp::test
