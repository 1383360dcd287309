// Constant folding: operators whose inputs are all constants are evaluated at load time (shape
// arithmetic of exporters, transposed weights, Constant nodes). One function per operator.
// Shape also accepts a runtime value: its batch entry is the kBatchDim marker.
#include <algorithm>
#include <cmath>

#include "io/onnx_detail.hpp"

namespace lrp::io::onnx_detail {
namespace {

std::size_t fold_numel(const NodeCtx& c, const std::vector<std::int64_t>& dims) {
  return dims_numel(dims, c.importer_source() + ": " + c.label() + ": folded result", kMaxFoldElements);
}

// Row-major strides of dims.
std::vector<std::size_t> strides_of(const std::vector<std::int64_t>& dims) {
  std::vector<std::size_t> s(dims.size(), 1);
  for (std::size_t k = dims.size(); k-- > 1;) s[k - 1] = s[k] * to_size(dims[k]);
  return s;
}

// out[k] = in[src(k)] for an index map; keeps the element kind.
ConstTensor gather_elements(const ConstTensor& in, std::vector<std::int64_t> dims, const std::vector<std::size_t>& src) {
  ConstTensor out;
  out.is_int = in.is_int;
  out.dims = std::move(dims);
  if (in.is_int) {
    out.i.reserve(src.size());
    for (std::size_t s : src) out.i.push_back(in.i[s]);
  } else {
    out.f.reserve(src.size());
    for (std::size_t s : src) out.f.push_back(in.f[s]);
  }
  return out;
}

ConstTensor as_float(const NodeCtx& c, const ConstTensor& t, const std::string& role) {
  if (!t.is_int) return t;
  if (t.has_batch_marker()) c.fail(role + " depends on the batch size, which is not known when the model is loaded");
  ConstTensor f;
  f.dims = t.dims;
  for (std::int64_t v : t.i) f.f.push_back(static_cast<double>(v));
  return f;
}

ConstTensor constant(NodeCtx& c) {
  c.allow_attributes({"value", "value_float", "value_floats", "value_int", "value_ints", "sparse_value", "value_string", "value_strings"});
  const onnx::NodeProto& n = c.node();
  if (n.attribute_size() != 1) c.fail("needs exactly one value attribute, found " + std::to_string(n.attribute_size()));
  const std::string& a = n.attribute(0).name();
  ConstTensor t;
  if (a == "value") {
    t = decode_tensor(c.attr_tensor("value"), c.importer_source() + ": " + c.label() + ": attribute 'value'");
  } else if (a == "value_float") {
    t.f = {c.attr_float("value_float", 0.0)};
  } else if (a == "value_floats") {
    const std::vector<double> v = c.attr_floats("value_floats");
    t.f.assign(v.begin(), v.end());
    t.dims = {static_cast<std::int64_t>(t.f.size())};
  } else if (a == "value_int") {
    t.is_int = true;
    t.i = {c.attr_int("value_int", 0)};
  } else if (a == "value_ints") {
    t.is_int = true;
    t.i = c.attr_ints("value_ints");
    t.dims = {static_cast<std::int64_t>(t.i.size())};
  } else {
    c.fail("attribute '" + a + "' (sparse or string constants) is not supported");
  }
  return t;
}

ConstTensor identity(NodeCtx& c) {
  c.allow_attributes({});
  return c.const_input(0, "input");
}

ConstTensor shape(NodeCtx& c) {
  c.allow_attributes({"start", "end"});
  const Value& x = c.input(0, "data");
  ConstTensor t;
  t.is_int = true;
  if (x.is_const) {
    t.i = x.c.dims;
  } else {
    if (!x.moved_batch)  // a moved batch of one is among the sample's own axes
      t.i.push_back(c.importer().static_batch ? static_cast<std::int64_t>(*c.importer().static_batch) : kBatchDim);
    for (std::size_t d : x.shape) t.i.push_back(static_cast<std::int64_t>(d));
  }
  const auto r = static_cast<std::int64_t>(t.i.size());
  std::int64_t start = c.attr_int("start", 0), end = c.attr_int("end", r);
  if (start < 0) start += r;
  if (end < 0) end += r;
  start = std::clamp<std::int64_t>(start, 0, r);
  end = std::clamp<std::int64_t>(end, start, r);
  t.i = std::vector<std::int64_t>(t.i.begin() + start, t.i.begin() + end);
  t.dims = {end - start};
  return t;
}

ConstTensor gather(NodeCtx& c) {
  c.allow_attributes({"axis"});
  const ConstTensor& data = c.const_input(0, "data");
  const std::vector<std::int64_t> idx = c.ints_of(c.const_input(1, "indices"), "indices");
  const std::vector<std::int64_t>& idx_dims = c.const_input(1, "indices").dims;
  if (data.dims.empty()) c.fail("data must have rank >= 1");
  const std::size_t axis = to_size(norm_axis(c, c.attr_int("axis", 0), data.dims.size(), "axis"));
  const std::int64_t len = data.dims[axis];
  std::vector<std::int64_t> dims(data.dims.begin(), data.dims.begin() + static_cast<long>(axis));
  dims.insert(dims.end(), idx_dims.begin(), idx_dims.end());
  dims.insert(dims.end(), data.dims.begin() + static_cast<long>(axis) + 1, data.dims.end());
  fold_numel(c, dims);
  std::size_t outer = 1, inner = 1;
  for (std::size_t k = 0; k < axis; ++k) outer *= to_size(data.dims[k]);
  for (std::size_t k = axis + 1; k < data.dims.size(); ++k) inner *= to_size(data.dims[k]);
  std::vector<std::size_t> src;
  for (std::size_t o = 0; o < outer; ++o)
    for (std::int64_t j : idx) {
      if (j < -len || j >= len) c.fail("index " + std::to_string(j) + " is out of range for a dimension of " + std::to_string(len));
      const std::size_t jj = to_size(j < 0 ? j + len : j);
      for (std::size_t q = 0; q < inner; ++q) src.push_back((o * to_size(len) + jj) * inner + q);
    }
  return gather_elements(data, dims, src);
}

ConstTensor unsqueeze(NodeCtx& c) {
  c.allow_attributes({"axes"});
  const ConstTensor& x = c.const_input(0, "data");
  const std::vector<std::int64_t> axes = axes_input_or_attr(c, true);
  const std::size_t rank = x.dims.size() + axes.size();
  std::vector<char> one(rank, 0);
  for (std::int64_t a : axes) {
    const std::size_t k = to_size(norm_axis(c, a, rank, "axis"));
    if (one[k]) c.fail("axis " + std::to_string(a) + " is repeated");
    one[k] = 1;
  }
  ConstTensor out = x;
  out.dims.clear();
  std::size_t src = 0;
  for (std::size_t k = 0; k < rank; ++k) out.dims.push_back(one[k] ? 1 : x.dims[src++]);
  return out;
}

ConstTensor squeeze(NodeCtx& c) {
  c.allow_attributes({"axes"});
  const ConstTensor& x = c.const_input(0, "data");
  const std::vector<std::int64_t> axes = axes_input_or_attr(c, false);
  std::vector<char> drop(x.dims.size(), 0);
  if (axes.empty()) {
    for (std::size_t k = 0; k < x.dims.size(); ++k) drop[k] = x.dims[k] == 1;
  } else {
    for (std::int64_t a : axes) {
      const std::size_t k = to_size(norm_axis(c, a, x.dims.size(), "axis"));
      if (x.dims[k] != 1) c.fail("cannot squeeze axis " + std::to_string(a) + " of size " + std::to_string(x.dims[k]));
      drop[k] = 1;
    }
  }
  ConstTensor out = x;
  out.dims.clear();
  for (std::size_t k = 0; k < x.dims.size(); ++k)
    if (!drop[k]) out.dims.push_back(x.dims[k]);
  return out;
}

ConstTensor concat(NodeCtx& c) {
  c.allow_attributes({"axis"});
  std::vector<ConstTensor> xs;
  bool any_float = false;
  for (std::size_t k = 0; k < c.num_inputs(); ++k) {
    if (!c.has_input(k)) continue;
    xs.push_back(c.const_input(k, "input " + std::to_string(k)));
    any_float = any_float || !xs.back().is_int;
  }
  if (xs.empty()) c.fail("has no inputs");
  if (any_float)
    for (ConstTensor& x : xs) x = as_float(c, x, "an input");
  const std::size_t rank = xs[0].dims.size();
  if (rank == 0) c.fail("cannot concatenate scalars");
  const std::size_t axis = to_size(norm_axis(c, c.attr_int("axis", 0), rank, "axis"));
  std::vector<std::int64_t> dims = xs[0].dims;
  dims[axis] = 0;
  for (const ConstTensor& x : xs) {
    if (x.dims.size() != rank) c.fail("inputs differ in rank");
    for (std::size_t k = 0; k < rank; ++k)
      if (k != axis && x.dims[k] != xs[0].dims[k]) c.fail("inputs " + dims_str(xs[0].dims) + " and " + dims_str(x.dims) + " differ outside the axis");
    dims[axis] += x.dims[axis];
  }
  std::size_t outer = 1;
  for (std::size_t k = 0; k < axis; ++k) outer *= to_size(dims[k]);
  ConstTensor out;
  out.is_int = !any_float;
  out.dims = dims;
  for (std::size_t o = 0; o < outer; ++o)
    for (const ConstTensor& x : xs) {
      const std::size_t block = outer == 0 ? 0 : x.numel() / outer;
      if (out.is_int) out.i.insert(out.i.end(), x.i.begin() + static_cast<long>(o * block), x.i.begin() + static_cast<long>((o + 1) * block));
      else out.f.insert(out.f.end(), x.f.begin() + static_cast<long>(o * block), x.f.begin() + static_cast<long>((o + 1) * block));
    }
  return out;
}

ConstTensor reshape(NodeCtx& c) {
  c.allow_attributes({"allowzero", "shape"});
  const ConstTensor& x = c.const_input(0, "data");
  const std::vector<std::int64_t> target = c.opset() < 5 ? c.attr_ints("shape") : c.ints_of(c.const_input(1, "shape"), "shape");
  const bool allow_zero = c.attr_int("allowzero", 0) != 0;
  std::vector<std::int64_t> dims;
  long infer = -1;
  std::size_t known = 1;
  for (std::size_t k = 0; k < target.size(); ++k) {
    std::int64_t t = target[k];
    if (t == 0 && !allow_zero) {
      if (k >= x.dims.size()) c.fail("shape entry " + std::to_string(k) + " copies a dimension the data does not have");
      t = x.dims[k];
    }
    if (t == -1) {
      if (infer >= 0) c.fail("the shape " + dims_str(target) + " has more than one -1");
      infer = static_cast<long>(k);
      dims.push_back(1);
      continue;
    }
    if (t < 0 || t > (std::int64_t(1) << 40)) c.fail("the shape " + dims_str(target) + " has an invalid entry");
    dims.push_back(t);
    known *= to_size(t);
  }
  if (infer >= 0) {
    if (known == 0 || x.numel() % known != 0) c.fail("cannot reshape " + dims_str(x.dims) + " to " + dims_str(target));
    dims[to_size(infer)] = static_cast<std::int64_t>(x.numel() / known);
  } else if (known != x.numel()) {
    c.fail("cannot reshape " + dims_str(x.dims) + " to " + dims_str(target));
  }
  ConstTensor out = x;
  out.dims = dims;
  return out;
}

ConstTensor flatten(NodeCtx& c) {
  c.allow_attributes({"axis"});
  const ConstTensor& x = c.const_input(0, "input");
  const std::int64_t axis = x.dims.empty() ? 0 : norm_axis(c, c.attr_int("axis", 1), x.dims.size() + 1, "axis");
  std::int64_t a = 1, b = 1;
  for (std::size_t k = 0; k < x.dims.size(); ++k) (static_cast<std::int64_t>(k) < axis ? a : b) *= x.dims[k];
  ConstTensor out = x;
  out.dims = {a, b};
  return out;
}

ConstTensor transpose(NodeCtx& c) {
  c.allow_attributes({"perm"});
  const ConstTensor& x = c.const_input(0, "data");
  const std::size_t rank = x.dims.size();
  const std::vector<std::int64_t> perm = transpose_perm(c, rank);
  std::vector<std::int64_t> dims(rank);
  for (std::size_t k = 0; k < rank; ++k) dims[k] = x.dims[to_size(perm[k])];
  const std::vector<std::size_t> in_strides = strides_of(x.dims);
  std::vector<std::size_t> src(x.numel());
  std::vector<std::size_t> idx(rank, 0);
  for (std::size_t o = 0; o < src.size(); ++o) {
    std::size_t s = 0;
    for (std::size_t k = 0; k < rank; ++k) s += idx[k] * in_strides[to_size(perm[k])];
    src[o] = s;
    for (std::size_t k = rank; k-- > 0;) {
      if (++idx[k] < to_size(dims[k])) break;
      idx[k] = 0;
    }
  }
  return gather_elements(x, dims, src);
}

ConstTensor slice(NodeCtx& c) {
  c.allow_attributes({"starts", "ends", "axes"});
  const ConstTensor& x = c.const_input(0, "data");
  const std::size_t rank = x.dims.size();
  const SlicePlan plan = slice_plan(c, x.dims);
  const std::vector<std::int64_t>& first = plan.first;
  const std::vector<std::int64_t>& step = plan.step;
  const std::vector<std::int64_t>& dims = plan.count;
  const std::size_t n = fold_numel(c, dims);
  const std::vector<std::size_t> in_strides = strides_of(x.dims);
  std::vector<std::size_t> src(n);
  std::vector<std::int64_t> idx(rank, 0);
  for (std::size_t o = 0; o < n; ++o) {
    std::size_t s = 0;
    for (std::size_t k = 0; k < rank; ++k) s += to_size(first[k] + idx[k] * step[k]) * in_strides[k];
    src[o] = s;
    for (std::size_t k = rank; k-- > 0;) {
      if (++idx[k] < dims[k]) break;
      idx[k] = 0;
    }
  }
  return gather_elements(x, dims, src);
}

ConstTensor cast(NodeCtx& c) {
  c.allow_attributes({"to", "saturate"});
  const ConstTensor& x = c.const_input(0, "input");
  const std::int64_t to = c.attr_int("to", -1);
  using TP = onnx::TensorProto;
  if (to == TP::FLOAT || to == TP::DOUBLE) {
    ConstTensor out = as_float(c, x, "the input");
    if (to == TP::FLOAT)
      for (double& v : out.f) v = static_cast<double>(static_cast<float>(v));
    return out;
  }
  if (to == TP::INT64 || to == TP::INT32 || to == TP::INT16 || to == TP::INT8 || to == TP::UINT8 || to == TP::UINT16 ||
      to == TP::UINT32 || to == TP::UINT64 || to == TP::BOOL) {
    ConstTensor out;
    out.is_int = true;
    out.dims = x.dims;
    if (x.is_int) {
      out.i = x.i;
    } else {
      for (double v : x.f) {
        if (!(std::abs(v) < 9.0e18)) c.fail("cannot cast " + std::to_string(v) + " to an integer");
        out.i.push_back(static_cast<std::int64_t>(std::trunc(v)));
      }
    }
    if (to == TP::BOOL)
      for (std::int64_t& v : out.i) v = v != 0;
    return out;
  }
  c.fail("cast to " + std::string(data_type_name(static_cast<int>(to))) + " is not supported");
}

ConstTensor constant_of_shape(NodeCtx& c) {
  c.allow_attributes({"value"});
  const ConstTensor& s = c.const_input(0, "shape");
  if (s.has_batch_marker()) c.fail("the shape depends on the batch size, which is not known when the model is loaded");
  const std::vector<std::int64_t> dims = c.ints_of(s, "shape");
  const std::size_t n = fold_numel(c, dims);
  ConstTensor value;
  value.f = {0.0};
  if (c.has_attr("value")) {
    value = decode_tensor(c.attr_tensor("value"), c.importer_source() + ": " + c.label() + ": attribute 'value'");
    if (value.numel() != 1) c.fail("attribute 'value' must hold one element");
  }
  ConstTensor out;
  out.is_int = value.is_int;
  out.dims = dims;
  if (out.is_int) out.i.assign(n, value.i[0]);
  else out.f.assign(n, value.f[0]);
  return out;
}

// Elementwise binary operators with NumPy broadcasting.
ConstTensor binary(NodeCtx& c, char op) {
  if (op == '%') c.allow_attributes({"fmod"});
  else c.allow_attributes({"axis", "broadcast", "consumed_inputs"});
  // Mod with fmod=0 (the default): the result takes the divisor's sign, as Python's %
  const bool floored_mod = op == '%' && c.attr_int("fmod", 0) == 0;
  const ConstTensor& a = c.const_input(0, "A");
  const ConstTensor& b = c.const_input(1, "B");
  const std::size_t rank = std::max(a.dims.size(), b.dims.size());
  std::vector<std::int64_t> dims(rank);
  const auto dim_of = [&](const ConstTensor& t, std::size_t k) -> std::int64_t {
    const std::size_t off = rank - t.dims.size();
    return k < off ? 1 : t.dims[k - off];
  };
  for (std::size_t k = 0; k < rank; ++k) {
    const std::int64_t da = dim_of(a, k), db = dim_of(b, k);
    if (da != db && da != 1 && db != 1) c.fail("shapes " + dims_str(a.dims) + " and " + dims_str(b.dims) + " do not broadcast");
    dims[k] = da == 1 ? db : da;
  }
  const std::size_t n = fold_numel(c, dims);
  const auto index_map = [&](const ConstTensor& t) {
    std::vector<std::size_t> src(n);
    const std::size_t off = rank - t.dims.size();
    const std::vector<std::size_t> st = strides_of(t.dims);
    std::vector<std::int64_t> idx(rank, 0);
    for (std::size_t o = 0; o < n; ++o) {
      std::size_t s = 0;
      for (std::size_t k = off; k < rank; ++k)
        if (t.dims[k - off] != 1) s += to_size(idx[k]) * st[k - off];
      src[o] = s;
      for (std::size_t k = rank; k-- > 0;) {
        if (++idx[k] < dims[k]) break;
        idx[k] = 0;
      }
    }
    return src;
  };
  const std::vector<std::size_t> sa = index_map(a), sb = index_map(b);
  ConstTensor out;
  out.dims = dims;
  if (std::string("<>lg&|^Mm").find(op) != std::string::npos) {  // compared, combined or computed as numbers
    const ConstTensor fa = as_float(c, a, "A"), fb = as_float(c, b, "B");
    const bool logical = std::string("<>lg&|").find(op) != std::string::npos;
    out.is_int = logical || (a.is_int && b.is_int && op != '^');
    for (std::size_t o = 0; o < n; ++o) {
      const double x = fa.f[sa[o]], y = fb.f[sb[o]];
      const double r = op == '<' ? x < y : op == '>' ? x > y : op == 'l' ? x <= y : op == 'g' ? x >= y
                     : op == '&' ? (x != 0 && y != 0) : op == '|' ? (x != 0 || y != 0)
                     : op == 'M' ? std::max(x, y) : op == 'm' ? std::min(x, y) : std::pow(x, y);
      if (out.is_int) out.i.push_back(static_cast<std::int64_t>(r));
      else out.f.push_back(r);
    }
    return out;
  }
  if (a.is_int && b.is_int) {
    if (a.has_batch_marker() || b.has_batch_marker())
      c.fail("computes with the batch size, which is not known when the model is loaded");
    out.is_int = true;
    for (std::size_t o = 0; o < n; ++o) {
      const std::int64_t x = a.i[sa[o]], y = b.i[sb[o]];
      std::int64_t r = 0;
      if (op == '+') r = x + y;
      else if (op == '-') r = x - y;
      else if (op == '*') r = x * y;
      else if (op == '%') {
        if (y == 0) c.fail("integer modulo by zero");
        r = x % y;
        if (floored_mod && r != 0 && (r < 0) != (y < 0)) r += y;
      } else {
        if (y == 0) c.fail("integer division by zero");
        r = x / y;
      }
      out.i.push_back(r);
    }
    return out;
  }
  if (floored_mod) c.fail("Mod of floating-point values needs fmod=1 (ONNX specification)");
  const ConstTensor fa = as_float(c, a, "A"), fb = as_float(c, b, "B");
  for (std::size_t o = 0; o < n; ++o) {
    const double x = fa.f[sa[o]], y = fb.f[sb[o]];
    out.f.push_back(op == '+' ? x + y : op == '-' ? x - y : op == '*' ? x * y : op == '%' ? std::fmod(x, y) : x / y);
  }
  return out;
}
ConstTensor less(NodeCtx& c) { return binary(c, '<'); }
ConstTensor greater(NodeCtx& c) { return binary(c, '>'); }
ConstTensor less_or_equal(NodeCtx& c) { return binary(c, 'l'); }
ConstTensor greater_or_equal(NodeCtx& c) { return binary(c, 'g'); }
ConstTensor logical_and(NodeCtx& c) { return binary(c, '&'); }
ConstTensor logical_or(NodeCtx& c) { return binary(c, '|'); }
ConstTensor power(NodeCtx& c) { return binary(c, '^'); }
ConstTensor modulo(NodeCtx& c) { return binary(c, '%'); }
// Max and Min of two constants (more are rare in shape arithmetic).
ConstTensor maximum(NodeCtx& c) {
  if (c.num_inputs() != 2) c.fail("on constants, only two inputs are supported");
  return binary(c, 'M');
}
ConstTensor minimum(NodeCtx& c) {
  if (c.num_inputs() != 2) c.fail("on constants, only two inputs are supported");
  return binary(c, 'm');
}

// Elementwise functions of numbers (rotary tables: Cos and Sin of positions times frequencies).
template <double (*F)(double)>
ConstTensor unary(NodeCtx& c) {
  c.allow_attributes({});
  ConstTensor x = as_float(c, c.const_input(0, "X"), "X");
  for (double& v : x.f) v = F(v);
  return x;
}
double reciprocal_of(double v) { return 1.0 / v; }
double sqrt_of(double v) { return std::sqrt(v); }
double cos_of(double v) { return std::cos(v); }
double sin_of(double v) { return std::sin(v); }
double exp_of(double v) { return std::exp(v); }
double log_of(double v) { return std::log(v); }
double floor_of(double v) { return std::floor(v); }
double ceil_of(double v) { return std::ceil(v); }
double abs_of(double v) { return std::abs(v); }

ConstTensor logical_not(NodeCtx& c) {
  c.allow_attributes({});
  const ConstTensor x = as_float(c, c.const_input(0, "X"), "X");
  ConstTensor out;
  out.is_int = true;
  out.dims = x.dims;
  for (double v : x.f) out.i.push_back(v == 0.0);
  return out;
}

// MatMul of constants, NumPy's matmul: 1-D operands promoted (and the added axis dropped),
// leading axes broadcast (a rotary table: inv_freq [1, D/2, 1] @ positions [1, 1, T]).
ConstTensor matmul(NodeCtx& c) {
  c.allow_attributes({});
  ConstTensor a = as_float(c, c.const_input(0, "A"), "A"), b = as_float(c, c.const_input(1, "B"), "B");
  if (a.dims.empty() || b.dims.empty()) c.fail("scalar operands are not supported");
  const bool a_vec = a.dims.size() == 1, b_vec = b.dims.size() == 1;
  if (a_vec) a.dims.insert(a.dims.begin(), 1);
  if (b_vec) b.dims.push_back(1);
  const std::int64_t m = a.dims[a.dims.size() - 2], k = a.dims.back(), p = b.dims.back();
  if (b.dims[b.dims.size() - 2] != k) c.fail("shapes " + dims_str(a.dims) + " and " + dims_str(b.dims) + " do not multiply");
  const std::size_t rank = std::max(a.dims.size(), b.dims.size());
  const auto lead = [&](const ConstTensor& t, std::size_t q) -> std::int64_t {  // leading axis q of rank - 2
    const std::size_t off = rank - t.dims.size();
    return q < off ? 1 : t.dims[q - off];
  };
  std::vector<std::int64_t> dims;
  for (std::size_t q = 0; q + 2 < rank; ++q) {
    const std::int64_t da = lead(a, q), db = lead(b, q);
    if (da != db && da != 1 && db != 1) c.fail("shapes " + dims_str(a.dims) + " and " + dims_str(b.dims) + " do not broadcast");
    dims.push_back(da == 1 ? db : da);
  }
  std::vector<std::int64_t> out_dims = dims;
  out_dims.push_back(m);
  out_dims.push_back(p);
  const std::size_t n = fold_numel(c, out_dims), mats = n / to_size(m * p);
  ConstTensor out;
  out.f.assign(n, 0.0);
  std::vector<std::int64_t> idx(dims.size(), 0);
  for (std::size_t t = 0; t < mats; ++t) {
    std::size_t oa = 0, ob = 0, sa = 1, sb = 1;  // offsets of the matrices of a and b
    for (std::size_t q = dims.size(); q-- > 0;) {
      const std::int64_t da = lead(a, q), db = lead(b, q);
      oa += (da == 1 ? 0 : to_size(idx[q])) * sa;
      ob += (db == 1 ? 0 : to_size(idx[q])) * sb;
      sa *= to_size(da);
      sb *= to_size(db);
    }
    const double* pa = a.f.data() + oa * to_size(m * k);
    const double* pb = b.f.data() + ob * to_size(k * p);
    double* po = out.f.data() + t * to_size(m * p);
    for (std::int64_t i = 0; i < m; ++i)
      for (std::int64_t j = 0; j < p; ++j) {
        double sum = 0;
        for (std::int64_t q = 0; q < k; ++q) sum += pa[i * k + q] * pb[q * p + j];
        po[i * p + j] = sum;
      }
    for (std::size_t q = dims.size(); q-- > 0;) {
      if (++idx[q] < dims[q]) break;
      idx[q] = 0;
    }
  }
  if (b_vec) out_dims.pop_back();
  if (a_vec) out_dims.erase(out_dims.end() - (b_vec ? 1 : 2));
  out.dims = out_dims;
  return out;
}

// Trilu: the lower (upper = 0) or upper triangle of the last two axes, shifted by k (torch.tril
// and triu of a causal mask).
ConstTensor trilu(NodeCtx& c) {
  c.allow_attributes({"upper"});
  ConstTensor x = c.const_input(0, "input");
  if (x.dims.size() < 2) c.fail("the input must have rank >= 2");
  const std::int64_t k = c.has_input(1) ? c.ints_of(c.const_input(1, "k"), "k").at(0) : 0;
  const bool upper = c.attr_int("upper", 1) != 0;
  const auto rows = x.dims[x.dims.size() - 2], cols = x.dims.back();
  for (std::size_t e = 0; e < x.numel(); ++e) {
    const auto j = static_cast<std::int64_t>(e % to_size(cols)), i = static_cast<std::int64_t>((e / to_size(cols)) % to_size(rows));
    const bool keep = upper ? j - i >= k : j - i <= k;
    if (keep) continue;
    if (x.is_int) x.i[e] = 0;
    else x.f[e] = 0.0;
  }
  return x;
}

ConstTensor add(NodeCtx& c) { return binary(c, '+'); }
ConstTensor sub(NodeCtx& c) { return binary(c, '-'); }
ConstTensor mul(NodeCtx& c) { return binary(c, '*'); }
ConstTensor div(NodeCtx& c) { return binary(c, '/'); }

// Equal on integers (shape arithmetic: Expand's -1 entries) or numbers (a causal mask buffer
// compared with 0); the batch size is positive, so it differs from any constant below 1 (and is
// not compared with others).
ConstTensor equal(NodeCtx& c) {
  c.allow_attributes({});
  const ConstTensor& a = c.const_input(0, "A");
  const ConstTensor& b = c.const_input(1, "B");
  const bool scalar_b = b.numel() == 1;
  if (!(a.dims == b.dims || scalar_b)) c.fail("operands of shapes " + dims_str(a.dims) + " and " + dims_str(b.dims) + " are not supported");
  ConstTensor out;
  out.is_int = true;
  out.dims = a.dims;
  if (!a.is_int || !b.is_int) {
    const ConstTensor fa = as_float(c, a, "A"), fb = as_float(c, b, "B");
    for (std::size_t k = 0; k < fa.f.size(); ++k) out.i.push_back(fa.f[k] == fb.f[scalar_b ? 0 : k]);
    return out;
  }
  for (std::size_t k = 0; k < a.i.size(); ++k) {
    const std::int64_t x = a.i[k], y = b.i[scalar_b ? 0 : k];
    if ((x == kBatchDim) != (y == kBatchDim)) {
      if ((x == kBatchDim ? y : x) > 0) c.fail("compares the batch size, which is not known when the model is loaded");
      out.i.push_back(0);
    } else {
      out.i.push_back(x == y);
    }
  }
  return out;
}

// Where(condition, X, Y) elementwise, on operands of one shape (scalars broadcast).
ConstTensor where(NodeCtx& c) {
  c.allow_attributes({});
  const ConstTensor& cond = c.const_input(0, "condition");
  ConstTensor x = c.const_input(1, "X"), y = c.const_input(2, "Y");
  if (x.is_int != y.is_int) {
    x = as_float(c, x, "X");
    y = as_float(c, y, "Y");
  }
  const std::size_t n = cond.numel();
  const auto fits = [&](const ConstTensor& t) { return t.numel() == 1 || t.dims == cond.dims; };
  if (!fits(x) || !fits(y)) c.fail("operands of shapes " + dims_str(cond.dims) + ", " + dims_str(x.dims) + ", " + dims_str(y.dims) + " are not supported");
  ConstTensor out;
  out.is_int = x.is_int;
  out.dims = cond.dims;
  for (std::size_t k = 0; k < n; ++k) {
    const ConstTensor& t = cond.value(k) != 0 ? x : y;
    const std::size_t at = t.numel() == 1 ? 0 : k;
    if (out.is_int) out.i.push_back(t.i[at]);
    else out.f.push_back(t.f[at]);
  }
  return out;
}

// ScatterND of constants: data with the slices named by `indices` replaced by `updates`, or
// combined with them (`reduction`). Swin's shifted-window attention mask is built so.
ConstTensor scatter_nd(NodeCtx& c) {
  c.allow_attributes({"reduction"});
  const std::string reduction = c.attr_string("reduction", "none");
  static const std::map<std::string, char> kReductions = {{"none", '='}, {"add", '+'}, {"mul", '*'}, {"max", 'M'}, {"min", 'm'}};
  const auto found = kReductions.find(reduction);
  if (found == kReductions.end()) c.fail("reduction '" + reduction + "' is not supported (none, add, mul, max, min)");
  const char op = found->second;
  ConstTensor data = c.const_input(0, "data");
  const ConstTensor& indices = c.const_input(1, "indices");
  ConstTensor updates = c.const_input(2, "updates");
  if (!indices.is_int) c.fail("indices must be integers");
  if (!data.is_int || !updates.is_int) {
    data = as_float(c, data, "data");
    updates = as_float(c, updates, "updates");
  }
  const std::size_t rank = data.dims.size();
  if (indices.dims.empty()) c.fail("indices must have a rank of at least 1");
  const std::int64_t k = indices.dims.back();
  if (k < 1 || to_size(k) > rank)
    c.fail("indices' last dimension is " + std::to_string(k) + "; it must be between 1 and the rank of data (" + std::to_string(rank) + ")");
  std::vector<std::int64_t> want(indices.dims.begin(), indices.dims.end() - 1);
  want.insert(want.end(), data.dims.begin() + k, data.dims.end());
  if (updates.dims != want) c.fail("updates of shape " + dims_str(updates.dims) + " where " + dims_str(want) + " is needed");
  const std::vector<std::size_t> strides = strides_of(data.dims);
  const std::size_t depth = to_size(k), slice = strides[depth - 1], count = indices.numel() / depth;
  const auto combine = [op](auto old, auto upd) {
    return op == '+' ? old + upd : op == '*' ? old * upd : op == 'M' ? std::max(old, upd) : op == 'm' ? std::min(old, upd) : upd;
  };
  for (std::size_t u = 0; u < count; ++u) {
    std::size_t offset = 0;
    for (std::size_t d = 0; d < depth; ++d) {
      std::int64_t i = indices.i[u * depth + d];
      const std::int64_t len = data.dims[d];
      if (i < -len || i >= len) c.fail("index " + std::to_string(i) + " is out of range for axis " + std::to_string(d) + " of size " + std::to_string(len));
      if (i < 0) i += len;
      offset += to_size(i) * strides[d];
    }
    for (std::size_t e = 0; e < slice; ++e) {
      if (data.is_int) data.i[offset + e] = combine(data.i[offset + e], updates.i[u * slice + e]);
      else data.f[offset + e] = combine(data.f[offset + e], updates.f[u * slice + e]);
    }
  }
  return data;
}

// Expand (NumPy broadcasting to a shape). A target whose first entry is the batch size (from
// Shape of the input) repeats the constant for every sample: the result keeps 1 there and is
// marked batch_broadcast (a transformer's class token, expanded to the batch).
ConstTensor expand(NodeCtx& c) {
  c.allow_attributes({});
  const ConstTensor& data = c.const_input(0, "input");
  std::vector<std::int64_t> target = c.ints_of(c.const_input(1, "shape"), "shape");
  bool to_batch = false;
  for (std::size_t k = 0; k < target.size(); ++k)
    if (target[k] == kBatchDim) {
      if (k != 0 || target.size() < data.dims.size()) c.fail("expands along the batch size in an axis other than the first");
      target[k] = 1;
      to_batch = true;
    }
  const std::size_t rank = std::max(target.size(), data.dims.size());
  std::vector<std::int64_t> dims(rank);
  for (std::size_t k = 0; k < rank; ++k) {
    const std::int64_t t = k + target.size() >= rank ? target[k + target.size() - rank] : 1;
    const std::int64_t d = k + data.dims.size() >= rank ? data.dims[k + data.dims.size() - rank] : 1;
    if (t != d && t != 1 && d != 1) c.fail("cannot expand " + dims_str(data.dims) + " to " + dims_str(target));
    if (t < 0) c.fail("the target shape " + dims_str(target) + " has a negative entry");
    dims[k] = d == 1 ? t : d;
  }
  if (to_batch && data.dims.size() == rank && data.dims[0] != 1) c.fail("expands an axis of " + std::to_string(data.dims[0]) + " to the batch size");
  const std::size_t n = fold_numel(c, dims);
  const std::vector<std::size_t> st = strides_of(data.dims);
  std::vector<std::size_t> src(n);
  std::vector<std::int64_t> idx(rank, 0);
  const std::size_t off = rank - data.dims.size();
  for (std::size_t o = 0; o < n; ++o) {
    std::size_t s = 0;
    for (std::size_t k = off; k < rank; ++k)
      if (data.dims[k - off] != 1) s += to_size(idx[k]) * st[k - off];
    src[o] = s;
    for (std::size_t k = rank; k-- > 0;) {
      if (++idx[k] < dims[k]) break;
      idx[k] = 0;
    }
  }
  ConstTensor out = gather_elements(data, dims, src);
  out.batch_broadcast = to_batch;
  return out;
}

// Range(start, limit, delta): start + k delta while short of limit (torch.arange of the token
// positions, whose count is a fixed dimension of the input).
ConstTensor range(NodeCtx& c) {
  c.allow_attributes({});
  const ConstTensor& start = c.const_input(0, "start");
  const ConstTensor& limit = c.const_input(1, "limit");
  const ConstTensor& delta = c.const_input(2, "delta");
  for (const ConstTensor* t : {&start, &limit, &delta}) {
    if (t->numel() != 1) c.fail("start, limit and delta must be scalars, got shape " + dims_str(t->dims));
    if (t->has_batch_marker()) c.fail("computes with the batch size, which is not known when the model is loaded");
  }
  const double s = start.value(0), l = limit.value(0), d = delta.value(0);
  if (!(d != 0.0) || !std::isfinite(s) || !std::isfinite(l) || !std::isfinite(d))
    c.fail("start, limit and delta must be finite and delta nonzero");
  const double count = std::max(std::ceil((l - s) / d), 0.0);
  if (count > static_cast<double>(kMaxFoldElements)) c.fail("would hold " + std::to_string(count) + " elements");
  ConstTensor out;
  out.is_int = start.is_int && limit.is_int && delta.is_int;
  const auto n = static_cast<std::int64_t>(count);
  out.dims = {n};
  for (std::int64_t k = 0; k < n; ++k) {
    if (out.is_int) out.i.push_back(start.i[0] + k * delta.i[0]);
    else out.f.push_back(s + static_cast<double>(k) * d);
  }
  return out;
}

ConstTensor neg(NodeCtx& c) {
  c.allow_attributes({"consumed_inputs"});
  ConstTensor x = c.const_input(0, "X");
  if (x.has_batch_marker()) c.fail("computes with the batch size");
  for (std::int64_t& v : x.i) v = -v;
  for (double& v : x.f) v = -v;
  return x;
}

ConstTensor dropout(NodeCtx& c) {
  require_identity_dropout(c);
  return c.const_input(0, "data");
}

}  // namespace

std::vector<std::int64_t> axes_input_or_attr(NodeCtx& c, bool required) {
  if (c.opset() >= 13) {
    if (!c.has_input(1)) {
      if (required) c.fail("missing input 'axes'");
      return {};
    }
    return c.ints_of(c.const_input(1, "axes"), "axes");
  }
  if (!c.has_attr("axes")) {
    if (required) c.fail("missing attribute 'axes'");
    return {};
  }
  return c.attr_ints("axes");
}

const std::map<std::string, ConstantFolder>& constant_folders() {
  static const std::map<std::string, ConstantFolder> table = {
      {"Add", add},
      {"Cast", cast},
      {"Concat", concat},
      {"Constant", constant},
      {"ConstantOfShape", constant_of_shape},
      {"Div", div},
      {"Dropout", dropout},
      {"Equal", equal},
      {"Expand", expand},
      {"Flatten", flatten},
      {"Gather", gather},
      {"Identity", identity},
      {"Mul", mul},
      {"Neg", neg},
      {"Range", range},
      {"Abs", unary<abs_of>},
      {"And", logical_and},
      {"Ceil", unary<ceil_of>},
      {"Cos", unary<cos_of>},
      {"Exp", unary<exp_of>},
      {"Floor", unary<floor_of>},
      {"Greater", greater},
      {"GreaterOrEqual", greater_or_equal},
      {"Less", less},
      {"LessOrEqual", less_or_equal},
      {"Log", unary<log_of>},
      {"MatMul", matmul},
      {"Max", maximum},
      {"Min", minimum},
      {"Mod", modulo},
      {"Not", logical_not},
      {"Or", logical_or},
      {"Pow", power},
      {"Reciprocal", unary<reciprocal_of>},
      {"Sin", unary<sin_of>},
      {"Sqrt", unary<sqrt_of>},
      {"Trilu", trilu},
      {"Reshape", reshape},
      {"ScatterND", scatter_nd},
      {"Shape", shape},
      {"Slice", slice},
      {"Squeeze", squeeze},
      {"Sub", sub},
      {"Transpose", transpose},
      {"Unsqueeze", unsqueeze},
      {"Where", where},
  };
  return table;
}

}  // namespace lrp::io::onnx_detail
