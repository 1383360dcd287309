// Caffe layers → Model nodes (caffe_detail.hpp). Blobs are names; an in-place layer (top ==
// bottom, Caffe's usual ReLU/BatchNorm/Scale) rebinds the name to its new value.
#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "io/caffe_detail.hpp"
#include "lrp/core/error.hpp"
#include "lrp/core/parse.hpp"
#include "lrp/graph/canonize.hpp"
#include "lrp/io/caffe.hpp"
#include "lrp/layers/activation.hpp"
#include "lrp/layers/batch_norm.hpp"
#include "lrp/layers/conv2d.hpp"
#include "lrp/layers/conv_transpose2d.hpp"
#include "lrp/layers/linear.hpp"
#include "lrp/layers/lrn.hpp"
#include "lrp/layers/merge.hpp"
#include "lrp/layers/pool2d.hpp"
#include "lrp/layers/prelu.hpp"
#include "lrp/layers/reshape.hpp"

namespace lrp::io::caffe_detail {
namespace {

const std::vector<std::string> kDataLayers = {"Data", "ImageData", "HDF5Data", "MemoryData", "DummyData", "WindowData"};

template <class T>
class Builder {
 public:
  Builder(caffe::NetParameter& net, std::string source) : net_(net), source_(std::move(source)) {
    model_.source = source_;
    model_.name = net.name();
  }

  Model<T> build(const std::string& output) {
    declared_input();
    for (int i = 0; i < net_.layer_size(); ++i) {
      layer_ = &net_.mutable_layer()->at(i);
      convert();
      layer_->clear_blobs();  // copied into the layer (or unused): the file's copy goes now
    }
    if (shapes_.empty()) no_input();
    pick_output(output);
    return std::move(model_);
  }

 private:
  // ---- messages -------------------------------------------------------------------------------
  [[noreturn]] void fail(const std::string& what) const {
    throw FormatError("Caffe model '" + source_ + "', layer '" + layer_->name() + "' (" + layer_->type() + "): " + what);
  }

  [[noreturn]] void no_input() const {
    throw FormatError("Caffe model '" + source_ + "' declares no input before its layers (an Input layer, or input and input_shape)");
  }

  // ---- blobs (data) ---------------------------------------------------------------------------
  std::size_t value_of(const std::string& blob) const {
    if (shapes_.empty()) no_input();
    const auto it = values_.find(blob);
    if (it == values_.end()) fail("reads blob '" + blob + "', which no earlier layer produces");
    return it->second;
  }
  std::vector<std::size_t> inputs(std::size_t min, std::size_t max) const {
    const std::size_t n = static_cast<std::size_t>(layer_->bottom_size());
    if (n < min || n > max)
      fail("has " + std::to_string(n) + " bottom blobs, expected " +
           (min == max ? std::to_string(min) : std::to_string(min) + " to " + std::to_string(max)));
    std::vector<std::size_t> v;
    for (const std::string& b : layer_->bottom()) v.push_back(value_of(b));
    return v;
  }
  std::size_t input() const { return inputs(1, 1)[0]; }
  const Shape& shape(std::size_t value) const { return shapes_.at(value); }
  void one_top() const {
    if (layer_->top_size() != 1) fail("has " + std::to_string(layer_->top_size()) + " top blobs, expected 1");
  }

  // Adds the node, infers its output shape (errors name the layer) and binds its top blob.
  void add(std::unique_ptr<Layer<T>> layer, std::vector<std::size_t> in) {
    one_top();
    try {
      values_[layer_->top(0)] = add_shaped_node(model_, shapes_, layer_->name(), std::move(layer), std::move(in));
    } catch (const ShapeError& e) {
      fail(e.what());
    }
  }
  void alias_tops(std::size_t value) {
    for (const std::string& t : layer_->top()) values_[t] = value;
  }

  // ---- weights --------------------------------------------------------------------------------
  // Blob k as a tensor of `dims`: its element count must match (Caffe's legacy 4-D shapes pad
  // with ones, so only the count and the data size are checked).
  Tensor<T> blob(int k, Shape dims, const std::string& what) const {
    if (layer_->blobs_size() <= k)
      fail(layer_->blobs_size() == 0 ? "has no weights (give the trained .caffemodel with --weights)"
                                     : "has no blob " + std::to_string(k) + " (" + what + ")");
    const caffe::BlobProto& b = layer_->blobs(k);
    std::size_t declared = 1;
    if (b.has_shape()) {
      for (std::int64_t d : b.shape().dim()) {
        if (d < 0) fail("blob " + std::to_string(k) + " (" + what + ") has a negative dimension");
        declared *= static_cast<std::size_t>(d);
      }
    } else {
      for (std::int32_t d : {b.num(), b.channels(), b.height(), b.width()})
        declared *= static_cast<std::size_t>(std::max(d, 1));
    }
    std::size_t want = 1;
    for (std::size_t d : dims) want *= d;
    const std::size_t have = b.data_size() > 0 ? static_cast<std::size_t>(b.data_size()) : static_cast<std::size_t>(b.double_data_size());
    if (declared != want || have != want)
      fail("blob " + std::to_string(k) + " (" + what + ") has " + std::to_string(have) + " values (shape of " +
           std::to_string(declared) + "), expected " + std::to_string(want) + " for shape " + shape_str(dims));
    Tensor<T> t = Tensor<T>::uninitialized(std::move(dims));
    if (b.data_size() > 0) std::copy(b.data().begin(), b.data().end(), t.data());
    else std::copy(b.double_data().begin(), b.double_data().end(), t.data());
    if (!std::all_of(t.data(), t.data() + want, [](T v) { return std::isfinite(v); }))
      fail("blob " + std::to_string(k) + " (" + what + ") holds a non-finite value");
    return t;
  }

  // ---- layers ---------------------------------------------------------------------------------
  void declared_input() {
    if (net_.input_size() == 0) return;
    if (net_.input_size() > 1) throw FormatError("Caffe model '" + source_ + "' has " + std::to_string(net_.input_size()) + " inputs; lrp takes one");
    std::vector<std::int64_t> dims;
    if (net_.input_shape_size() > 0) dims.assign(net_.input_shape(0).dim().begin(), net_.input_shape(0).dim().end());
    else dims.assign(net_.input_dim().begin(), net_.input_dim().end());
    set_input(net_.input(0), dims, "input_shape");
  }

  void set_input(const std::string& blob, const std::vector<std::int64_t>& dims, const std::string& field) {
    const std::string where = "Caffe model '" + source_ + "', input '" + blob + "'";
    if (!shapes_.empty()) throw FormatError(where + ": the model has a second input; lrp takes one");
    if (dims.size() != 2 && dims.size() != 4)
      throw FormatError(where + ": " + field + " has " + std::to_string(dims.size()) + " dimensions, expected N,C,H,W or N,D");
    Shape per;
    for (std::size_t i = 1; i < dims.size(); ++i) {
      if (dims[i] <= 0 || dims[i] > (1 << 20)) throw FormatError(where + ": " + field + " has dimension " + std::to_string(dims[i]));
      per.push_back(static_cast<std::size_t>(dims[i]));
    }
    try {
      sample_numel(per);
    } catch (const ShapeError& e) {
      throw FormatError(where + ": " + e.what());
    }
    model_.input_shape = per;
    model_.layout = per.size() == 3 ? DataLayout::NCHW : DataLayout::Features;
    shapes_[0] = per;
    declared_batch_ = static_cast<long>(dims[0]);
    values_[blob] = 0;
  }

  void convert() {
    const std::string& type = layer_->type();
    if (type == "Input") return input_layer();
    if (type == "Convolution") return convolution();
    if (type == "Deconvolution") return deconvolution();
    if (type == "Crop") return crop();
    if (type == "Power") return power();
    if (type == "InnerProduct") return inner_product();
    if (type == "Pooling") return pooling();
    if (type == "ReLU") return relu();
    if (type == "PReLU") return prelu();
    if (type == "Sigmoid") return activation(ActivationKind::Sigmoid);
    if (type == "TanH") return activation(ActivationKind::Tanh);
    if (type == "ELU") return elu();
    if (type == "Softmax") return softmax();
    if (type == "LRN") return lrn();
    if (type == "Concat") return concat();
    if (type == "Eltwise") return eltwise();
    if (type == "BatchNorm") return batch_norm();
    if (type == "Scale" || type == "Bias") return scale_or_bias(type == "Bias");
    if (type == "Flatten") return flatten();
    if (type == "Slice") return slice();
    if (type == "Reshape") return reshape();
    if (type == "Dropout" || type == "Split") {
      const std::size_t v = input();  // identities at test time
      return alias_tops(v);
    }
    if (std::find(kDataLayers.begin(), kDataLayers.end(), type) != kDataLayers.end())
      fail("a data layer has no input shape: give the deploy definition (.prototxt with an Input layer) as the model");
    std::string list;
    for (const std::string& s : caffe_supported_layers()) list += (list.empty() ? "" : ", ") + s;
    fail("layer type not supported (lrp imports " + list + ")");
  }

  void input_layer() {
    if (layer_->top_size() != 1) fail("has " + std::to_string(layer_->top_size()) + " top blobs; lrp takes one input");
    const caffe::InputParameter& p = layer_->input_param();
    if (p.shape_size() != 1) fail("input_param has " + std::to_string(p.shape_size()) + " shapes, expected 1");
    set_input(layer_->top(0), std::vector<std::int64_t>(p.shape(0).dim().begin(), p.shape(0).dim().end()), "input_param.shape");
  }

  // A 2-D size from Caffe's repeated field (one value for both axes, or h then w) or the
  // explicit _h/_w fields.
  std::pair<std::size_t, std::size_t> pair_field(const google::protobuf::RepeatedField<std::uint32_t>& v, bool has_hw,
                                                 std::uint32_t h, std::uint32_t w, std::size_t fallback,
                                                 const std::string& name) const {
    if (has_hw) {
      if (!v.empty()) fail(name + " is given both as " + name + " and as " + name + "_h/" + name + "_w");
      return {h, w};
    }
    if (v.empty()) return {fallback, fallback};
    if (v.size() > 2) fail(name + " has " + std::to_string(v.size()) + " values; lrp imports 2-D convolutions");
    return {v.Get(0), v.Get(v.size() - 1)};
  }

  // The window, output channels and groups of a Convolution or Deconvolution on input xs.
  struct ConvSpec {
    Window2d win;
    std::size_t oc = 0, groups = 1;
  };
  ConvSpec conv_spec(const Shape& xs) const {
    const caffe::ConvolutionParameter& p = layer_->convolution_param();
    if (p.axis() != 1) fail("convolution_param.axis " + std::to_string(p.axis()) + " is not supported (only 1)");
    if (xs.size() != 3) fail("expects an N,C,H,W input, got per-sample shape " + shape_str(xs));
    const auto [kh, kw] = pair_field(p.kernel_size(), p.has_kernel_h() || p.has_kernel_w(), p.kernel_h(), p.kernel_w(), 0, "kernel");
    const auto [sh, sw] = pair_field(p.stride(), p.has_stride_h() || p.has_stride_w(), p.stride_h(), p.stride_w(), 1, "stride");
    const auto [ph, pw] = pair_field(p.pad(), p.has_pad_h() || p.has_pad_w(), p.pad_h(), p.pad_w(), 0, "pad");
    if (p.dilation_size() > 2) fail("dilation has " + std::to_string(p.dilation_size()) + " values");
    ConvSpec c;
    Window2d& win = c.win;
    win.kh = kh, win.kw = kw, win.sh = sh, win.sw = sw, win.pt = win.pb = ph, win.pl = win.pr = pw;
    win.dh = p.dilation_size() ? p.dilation(0) : 1, win.dw = p.dilation_size() ? p.dilation(p.dilation_size() - 1) : 1;
    c.oc = p.num_output(), c.groups = p.group();
    if (kh == 0 || kw == 0 || sh == 0 || sw == 0 || win.dh == 0 || win.dw == 0) fail("kernel, stride and dilation must be positive");
    if (c.oc == 0 || c.groups == 0 || xs[0] % c.groups != 0 || c.oc % c.groups != 0)
      fail("num_output " + std::to_string(c.oc) + " and group " + std::to_string(c.groups) + " do not fit " + std::to_string(xs[0]) +
           " input channels");
    return c;
  }

  // Weights [out, in/groups, kh, kw].
  void convolution() {
    const std::size_t x = input();
    const ConvSpec c = conv_spec(shape(x));
    Tensor<T> w = blob(0, {c.oc, shape(x)[0] / c.groups, c.win.kh, c.win.kw}, "weights");
    Tensor<T> b = layer_->convolution_param().bias_term() ? blob(1, {c.oc}, "bias") : Tensor<T>(Shape{c.oc});
    add(std::make_unique<Conv2d<T>>(std::move(w), std::move(b), c.win, c.groups), {x});
  }

  // The transposed convolution (FCN's upsampling), weights [in, out/groups, kh, kw]; output
  // stride (in - 1) + dilation (k - 1) + 1 - 2 pad.
  void deconvolution() {
    const std::size_t x = input();
    const ConvSpec c = conv_spec(shape(x));
    Tensor<T> w = blob(0, {shape(x)[0], c.oc / c.groups, c.win.kh, c.win.kw}, "weights");
    Tensor<T> b = layer_->convolution_param().bias_term() ? blob(1, {c.oc}, "bias") : Tensor<T>(Shape{c.oc});
    add(std::make_unique<ConvTranspose2d<T>>(std::move(w), std::move(b), c.win, c.groups), {x});
  }

  // Crops bottom 0 to the shape of bottom 1 (only its shape is read) from `axis` on, starting at
  // `offset` (one value for every cropped axis, or one per axis).
  void crop() {
    const std::vector<std::size_t> in = inputs(2, 2);
    const Shape &xs = shape(in[0]), &ref = shape(in[1]);
    const caffe::CropParameter& p = layer_->crop_param();
    const long rank = static_cast<long>(xs.size()) + 1;
    long axis = p.axis();
    if (axis < 0) axis += rank;
    if (axis < 1 || axis >= rank) fail("crop axis " + std::to_string(p.axis()) + " is not a non-batch axis");
    if (ref.size() != xs.size()) fail("the reference blob has per-sample shape " + shape_str(ref) + ", the cropped one " + shape_str(xs));
    const std::size_t first = static_cast<std::size_t>(axis - 1), cropped = xs.size() - first;
    if (p.offset_size() > 1 && static_cast<std::size_t>(p.offset_size()) != cropped)
      fail("offset has " + std::to_string(p.offset_size()) + " values for " + std::to_string(cropped) + " cropped axes");
    Shape begin(xs.size(), 0), size = xs;
    for (std::size_t d = first; d < xs.size(); ++d) {
      begin[d] = p.offset_size() == 0 ? 0 : p.offset(p.offset_size() == 1 ? 0 : static_cast<int>(d - first));
      size[d] = ref[d];
      if (begin[d] + size[d] > xs[d])
        fail("cropping " + shape_str(ref) + " at offset " + std::to_string(begin[d]) + " does not fit in " + shape_str(xs));
    }
    add(std::make_unique<Slice<T>>(begin, size), {in[0]});
  }

  // y = (shift + scale x)^power: a per-channel affine map (input scaling), raised to an integer
  // power from 2 to 64 where one is given (Activation Power; relevance passes through it).
  void power() {
    const caffe::PowerParameter& p = layer_->power_param();
    const float e = p.power();
    if (!(e >= 1.0f && e <= 64.0f) || e != std::floor(e))
      fail("power " + format_number(e) + " is not supported (only integers from 1 to 64)");
    if (!std::isfinite(p.scale()) || !std::isfinite(p.shift())) fail("scale and shift must be finite");
    std::size_t x = input();
    const std::size_t c = channels_of(x);
    auto affine = std::make_unique<BatchNorm<T>>(Tensor<T>(Shape{c}, static_cast<T>(p.scale())), Tensor<T>(Shape{c}, static_cast<T>(p.shift())));
    if (e == 1.0f) {
      add(std::move(affine), {x});
      return;
    }
    const Shape xs = shape(x);
    x = model_.add(layer_->name() + "/affine", std::move(affine), {x});
    shapes_[x] = xs;
    ActivationSpec spec{ActivationKind::Power};
    spec.exponent = static_cast<int>(e);
    add(std::make_unique<Activation<T>>(spec), {x});
  }

  void inner_product() {
    const caffe::InnerProductParameter& p = layer_->inner_product_param();
    std::size_t x = input();
    if (p.axis() != 1) fail("inner_product_param.axis " + std::to_string(p.axis()) + " is not supported (only 1)");
    if (shape(x).size() > 1) {
      // Caffe flattens everything after the batch axis; so does a Flatten node.
      const std::size_t v = model_.add(layer_->name() + "/flatten", std::make_unique<Flatten<T>>(), {x});
      std::size_t n = 1;
      for (std::size_t d : shape(x)) n *= d;
      shapes_[v] = Shape{n};
      x = v;
    }
    const std::size_t in = shape(x)[0], out = p.num_output();
    if (out == 0) fail("num_output is 0");
    Tensor<T> w = blob(0, p.transpose() ? Shape{in, out} : Shape{out, in}, "weights");
    if (p.transpose()) {
      Tensor<T> t(Shape{out, in});
      for (std::size_t i = 0; i < in; ++i)
        for (std::size_t o = 0; o < out; ++o) t.data()[o * in + i] = w.data()[i * out + o];
      w = std::move(t);
    }
    Tensor<T> b = p.bias_term() ? blob(1, {out}, "bias") : Tensor<T>(Shape{out});
    add(std::make_unique<Linear<T>>(std::move(w), std::move(b)), {x});
  }

  void pooling() {
    const caffe::PoolingParameter& p = layer_->pooling_param();
    const std::size_t x = input();
    const Shape& xs = shape(x);
    if (xs.size() != 3) fail("expects an N,C,H,W input, got per-sample shape " + shape_str(xs));
    if (p.pool() == caffe::PoolingParameter::STOCHASTIC) fail("STOCHASTIC pooling is not supported (MAX, AVE)");
    const bool max = p.pool() == caffe::PoolingParameter::MAX;
    PoolSpec spec;
    spec.mode = max ? PoolMode::Max : PoolMode::Sum;
    if (p.global_pooling()) {
      if (p.has_kernel_size() || p.has_kernel_h() || p.has_kernel_w()) fail("global_pooling with a kernel size");
      spec.global = true;
      spec.type_name = max ? "GlobalMaxPool" : "GlobalAveragePool";
      return add(std::make_unique<Pool2d<T>>(spec), {x});
    }
    const bool hw_k = p.has_kernel_h() || p.has_kernel_w();
    if (hw_k == p.has_kernel_size()) fail("give kernel_size or kernel_h and kernel_w");
    Window2d& k = spec.window;
    k.kh = hw_k ? p.kernel_h() : p.kernel_size();
    k.kw = hw_k ? p.kernel_w() : p.kernel_size();
    const bool hw_s = p.has_stride_h() || p.has_stride_w();
    k.sh = hw_s ? p.stride_h() : p.stride();
    k.sw = hw_s ? p.stride_w() : p.stride();
    const bool hw_p = p.has_pad_h() || p.has_pad_w();
    const std::size_t ph = hw_p ? p.pad_h() : p.pad(), pw = hw_p ? p.pad_w() : p.pad();
    if (k.kh == 0 || k.kw == 0 || k.sh == 0 || k.sw == 0) fail("kernel and stride must be positive");
    if (ph >= k.kh || pw >= k.kw) fail("pad must be smaller than the kernel");
    if (xs[1] + 2 * ph < k.kh || xs[2] + 2 * pw < k.kw) fail("the kernel is larger than the padded input " + shape_str(xs));
    const bool ceil = p.round_mode() == caffe::PoolingParameter::CEIL;
    // Caffe's output size: rounded up by default, and a last window must start inside the
    // input or its leading padding. The extra windows are end padding here.
    const auto extent = [&](std::size_t n, std::size_t kk, std::size_t s, std::size_t pad) {
      const std::size_t span = n + 2 * pad - kk;
      std::size_t out = (ceil ? (span + s - 1) / s : span / s) + 1;
      if (pad > 0 && (out - 1) * s >= n + pad) --out;
      return out;
    };
    const std::size_t oh = extent(xs[1], k.kh, k.sh, ph), ow = extent(xs[2], k.kw, k.sw, pw);
    // End padding that gives exactly oh x ow windows: what the last window needs past the input
    // (rounding down may leave the last rows unread: then none).
    const auto end_pad = [](std::size_t out, std::size_t kk, std::size_t s, std::size_t n, std::size_t pad) {
      const std::size_t reach = (out - 1) * s + kk;
      return reach > n + pad ? reach - n - pad : std::size_t{0};
    };
    k.pt = ph, k.pl = pw;
    k.pb = end_pad(oh, k.kh, k.sh, xs[1], ph);
    k.pr = end_pad(ow, k.kw, k.sw, xs[2], pw);
    if (max) {
      spec.type_name = "MaxPool";
    } else {
      // Caffe divides by the window clipped to the padded input: with padding and no window
      // past it that is kh*kw; without padding, the inputs in the window.
      const bool overhang = k.pb > ph || k.pr > pw;
      if (overhang && (ph > 0 || pw > 0))
        fail("AVE pooling with padding whose last window runs past the padding is not supported");
      spec.divisor = ph > 0 || pw > 0 ? static_cast<double>(k.kh * k.kw) : 0.0;
      spec.type_name = "AveragePool";
    }
    add(std::make_unique<Pool2d<T>>(spec), {x});
  }

  void relu() {
    const float slope = layer_->relu_param().negative_slope();
    if (!std::isfinite(slope)) fail("negative_slope is not finite");
    ActivationSpec s;
    s.kind = slope == 0.0f ? ActivationKind::ReLU : ActivationKind::LeakyReLU;
    s.alpha = slope;
    add(std::make_unique<Activation<T>>(s), {input()});
  }

  // Learned slopes: one per channel, or one for all (channel_shared).
  void prelu() {
    const std::size_t x = input();
    const std::size_t n = layer_->prelu_param().channel_shared() ? 1 : channels_of(x);
    add(std::make_unique<PRelu<T>>(blob(0, {n}, "slopes")), {x});
  }

  void activation(ActivationKind kind) {
    ActivationSpec s;
    s.kind = kind;
    add(std::make_unique<Activation<T>>(s), {input()});
  }

  void elu() {
    ActivationSpec s;
    s.kind = ActivationKind::Elu;
    s.alpha = layer_->elu_param().alpha();
    if (!std::isfinite(s.alpha)) fail("elu_param alpha must be finite");
    add(std::make_unique<Activation<T>>(s), {input()});
  }

  void softmax() {
    const std::size_t x = input();
    if (layer_->softmax_param().axis() != 1 || shape(x).size() != 1)
      fail("lrp imports Softmax over the classes of an N,D blob (axis 1), got per-sample shape " + shape_str(shape(x)));
    add(std::make_unique<SoftMax<T>>(), {x});
  }

  void lrn() {
    const caffe::LRNParameter& p = layer_->lrn_param();
    if (p.norm_region() != caffe::LRNParameter::ACROSS_CHANNELS) fail("WITHIN_CHANNEL normalisation is not supported (ACROSS_CHANNELS)");
    std::unique_ptr<Layer<T>> layer;
    try {
      layer = std::make_unique<LocalResponseNorm<T>>(p.local_size(), p.alpha(), p.beta(), p.k());
    } catch (const ConfigError& e) {
      fail(e.what());
    }
    add(std::move(layer), {input()});
  }

  void concat() {
    const std::vector<std::size_t> in = inputs(1, 1u << 16);
    const caffe::ConcatParameter& p = layer_->concat_param();
    const long rank = static_cast<long>(shape(in[0]).size()) + 1;  // with the batch axis
    long axis = p.has_axis() ? p.axis() : static_cast<long>(p.concat_dim());
    if (axis < 0) axis += rank;
    if (axis < 1 || axis >= rank) fail("concat axis " + std::to_string(p.has_axis() ? p.axis() : static_cast<long>(p.concat_dim())) + " is not a non-batch axis");
    if (in.size() == 1) return alias_tops(in[0]);
    add(std::make_unique<Concat<T>>(in.size(), static_cast<std::size_t>(axis - 1)), in);
  }

  void eltwise() {
    const std::vector<std::size_t> in = inputs(2, 1u << 16);
    const caffe::EltwiseParameter& p = layer_->eltwise_param();
    switch (p.operation()) {
      case caffe::EltwiseParameter::SUM:
        if (p.coeff_size() != 0 && p.coeff_size() != static_cast<int>(in.size())) fail("coeff must have one value per bottom blob");
        for (float c : p.coeff())
          if (c != 1.0f) fail("Eltwise SUM with coefficients other than 1 is not supported");
        return add(std::make_unique<Add<T>>(in.size()), in);
      case caffe::EltwiseParameter::PROD:
        if (in.size() != 2) fail("Eltwise PROD of " + std::to_string(in.size()) + " blobs is not supported (2)");
        return add(std::make_unique<Mul<T>>(), in);
      case caffe::EltwiseParameter::MAX:  // maxout
        return add(std::make_unique<Extremum<T>>(in.size(), false), in);
      default:
        fail("Eltwise operation " + std::to_string(static_cast<int>(p.operation())) + " is not supported (SUM, PROD, MAX)");
    }
  }

  std::size_t channels_of(std::size_t x) const {
    const Shape& s = shape(x);
    if (s.empty()) fail("expects an input with channels");
    return s[0];
  }

  void batch_norm() {
    const caffe::BatchNormParameter& p = layer_->batch_norm_param();
    const std::size_t x = input();
    if (p.has_use_global_stats() && !p.use_global_stats())
      fail("use_global_stats: false normalises with the statistics of each batch; lrp imports the stored statistics only");
    const std::size_t c = channels_of(x);
    Tensor<T> mean = blob(0, {c}, "mean"), var = blob(1, {c}, "variance");
    const Tensor<T> factor = blob(2, {1}, "moving-average factor");
    // Caffe stores the running sums; the factor divides them (0 means no statistics yet).
    const T f = factor.data()[0] == T(0) ? T(0) : T(1) / factor.data()[0];
    for (std::size_t i = 0; i < c; ++i) {
      mean.data()[i] *= f;
      var.data()[i] *= f;
      if (var.data()[i] < T(0)) fail("a variance is negative");
    }
    const float eps = p.eps();
    if (!(eps >= 0.0f) || !std::isfinite(eps)) fail("eps must be finite and non-negative");
    add(std::make_unique<BatchNorm<T>>(BatchNorm<T>::from_statistics(Tensor<T>(Shape{c}, T(1)), Tensor<T>(Shape{c}), mean, var, eps)), {x});
  }

  void scale_or_bias(bool bias_only) {
    if (layer_->bottom_size() != 1) fail("a second bottom (a computed scale or bias) is not supported");
    const std::size_t x = input();
    const int axis = bias_only ? layer_->bias_param().axis() : layer_->scale_param().axis();
    const int axes = bias_only ? layer_->bias_param().num_axes() : layer_->scale_param().num_axes();
    if (axis != 1 || axes != 1) fail("only a per-channel scale or bias (axis 1, num_axes 1) is supported");
    const std::size_t c = channels_of(x);
    Tensor<T> scale = bias_only ? Tensor<T>(Shape{c}, T(1)) : blob(0, {c}, "scale");
    Tensor<T> shift = bias_only ? blob(0, {c}, "bias") : layer_->scale_param().bias_term() ? blob(1, {c}, "bias") : Tensor<T>(Shape{c});
    add(std::make_unique<BatchNorm<T>>(std::move(scale), std::move(shift)), {x});
  }

  void flatten() {
    const caffe::FlattenParameter& p = layer_->flatten_param();
    if (p.axis() != 1 || p.end_axis() != -1) fail("only Flatten from axis 1 to the last axis is supported");
    add(std::make_unique<Flatten<T>>(), {input()});
  }

  // A blob cut along one axis into its tops (at slice_point, or in equal parts): one Slice node
  // per top, named layer/top.
  void slice() {
    const std::size_t x = input();
    const caffe::SliceParameter& p = layer_->slice_param();
    const Shape& xs = shape(x);
    const long rank = static_cast<long>(xs.size()) + 1;  // with the batch axis
    long axis = p.has_axis() || !p.has_slice_dim() ? p.axis() : static_cast<long>(p.slice_dim());
    if (axis < 0) axis += rank;
    if (axis < 1 || axis >= rank) fail("slice axis " + std::to_string(p.axis()) + " is not a non-batch axis");
    const std::size_t a = static_cast<std::size_t>(axis - 1), dim = xs[a], tops = static_cast<std::size_t>(layer_->top_size());
    if (tops == 0) fail("has no top blobs");
    std::vector<std::size_t> cuts = {0};
    if (p.slice_point_size() > 0) {
      if (static_cast<std::size_t>(p.slice_point_size()) != tops - 1)
        fail(std::to_string(p.slice_point_size()) + " slice points for " + std::to_string(tops) + " top blobs (expected " +
             std::to_string(tops - 1) + ")");
      for (const std::uint32_t point : p.slice_point()) {
        if (point <= cuts.back() || point >= dim)
          fail("slice points must increase strictly inside (0, " + std::to_string(dim) + "), got " + std::to_string(point));
        cuts.push_back(point);
      }
    } else {
      if (dim % tops != 0) fail("axis of size " + std::to_string(dim) + " does not split into " + std::to_string(tops) + " equal parts");
      for (std::size_t k = 1; k < tops; ++k) cuts.push_back(k * dim / tops);
    }
    cuts.push_back(dim);
    for (std::size_t k = 0; k < tops; ++k) {
      Shape begin(xs.size(), 0), size = xs;
      begin[a] = cuts[k];
      size[a] = cuts[k + 1] - cuts[k];
      const std::size_t v = model_.add(layer_->name() + "/" + layer_->top(static_cast<int>(k)), std::make_unique<Slice<T>>(begin, size), {x});
      shapes_[v] = size;
      values_[layer_->top(static_cast<int>(k))] = v;
    }
  }

  // reshape_param.shape replaces axes [axis, axis + num_axes) of [N, ...]: 0 copies the input's
  // dimension there, -1 is inferred. The batch axis must stay: a shape that covers it starts
  // with 0 or with the batch size the definition declares.
  void reshape() {
    const std::size_t x = input();
    const caffe::ReshapeParameter& p = layer_->reshape_param();
    Shape full = shape(x);
    full.insert(full.begin(), 0);  // the batch axis (its size is the caller's)
    const long rank = static_cast<long>(full.size());
    long start = p.axis();
    if (start < 0) start += rank + 1;
    if (start < 0 || start > rank) fail("reshape axis " + std::to_string(p.axis()) + " is outside the " + std::to_string(rank) + " axes");
    const long end = p.num_axes() == -1 ? rank : start + p.num_axes();
    if (p.num_axes() < -1 || end > rank) fail("num_axes " + std::to_string(p.num_axes()) + " reaches beyond the input's axes");
    std::vector<long> spec(p.shape().dim().begin(), p.shape().dim().end());
    Shape out(full.begin(), full.begin() + start);
    long infer = -1;
    for (std::size_t i = 0; i < spec.size(); ++i) {
      const long d = spec[i];
      const bool batch = start == 0 && i == 0;
      if (batch) {
        if (d != 0 && d != declared_batch_)
          fail("the shape's first dimension " + std::to_string(d) + " would change the batch axis (use 0 to keep it)");
        out.push_back(0);
      } else if (d == 0) {
        if (start + static_cast<long>(i) >= rank) fail("dimension 0 (copy) at an axis the input does not have");
        out.push_back(full[static_cast<std::size_t>(start) + i]);
      } else if (d == -1) {
        if (infer >= 0) fail("the shape has more than one -1");
        infer = static_cast<long>(out.size());
        out.push_back(1);
      } else if (d > 0 && d <= (1L << 30)) {
        out.push_back(static_cast<std::size_t>(d));
      } else {
        fail("the shape has dimension " + std::to_string(d));
      }
    }
    if (start == 0 && end > 0 && spec.empty()) fail("the shape drops the batch axis");
    out.insert(out.end(), full.begin() + end, full.end());
    std::size_t have = 1, want = 1;
    for (std::size_t i = 1; i < full.size(); ++i) have *= full[i];
    for (std::size_t i = 1; i < out.size(); ++i) {
      if (out[i] != 0 && want > have / out[i])  // more than the input holds (and no overflow)
        fail("the shape holds more values per sample than the input " + shape_str(shape(x)) + " (" + std::to_string(have) + ")");
      want *= out[i];
    }
    if (infer >= 0) {
      if (want == 0 || have % want != 0) fail("cannot infer the -1 of the shape from " + std::to_string(have) + " values per sample");
      out[static_cast<std::size_t>(infer)] = have / want;
      want = have;
    }
    if (want != have)
      fail("the shape holds " + std::to_string(want) + " values per sample, the input " + shape_str(shape(x)) + " " + std::to_string(have));
    add(std::make_unique<Reshape<T>>(Shape(out.begin() + 1, out.end())), {x});
  }

  // ---- output ---------------------------------------------------------------------------------
  void pick_output(const std::string& output) {
    std::set<std::size_t> seen;  // values some node reads (then also the ends listed below)
    for (const Node<T>& n : model_.nodes()) seen.insert(n.inputs.begin(), n.inputs.end());
    std::size_t out = 0;
    if (!output.empty()) {
      const auto it = values_.find(output);
      if (it == values_.end()) throw FormatError("Caffe model '" + source_ + "' has no blob '" + output + "' (--output)");
      out = it->second;
    } else {
      // Blobs nothing reads; aliases (Split, Dropout) of one value count once.
      std::vector<std::string> ends;
      for (const auto& [name, v] : values_)
        if (v != 0 && seen.insert(v).second) {
          ends.push_back(name);
          out = v;
        }
      if (ends.size() != 1) {
        std::string list;
        for (const std::string& e : ends) list += (list.empty() ? "" : ", ") + e;
        throw FormatError("Caffe model '" + source_ + "' has " + std::to_string(ends.size()) +
                          " output blobs" + (ends.empty() ? "" : " (" + list + "); pick one with --output"));
      }
    }
    if (out == 0) throw FormatError("Caffe model '" + source_ + "': the output is the input itself");
    prune_to_output(model_, out);
  }

  caffe::NetParameter& net_;
  std::string source_;
  caffe::LayerParameter* layer_ = nullptr;
  Model<T> model_;
  std::map<std::string, std::size_t> values_;  // blob name → current value
  std::map<std::size_t, Shape> shapes_;        // value → per-sample shape
  long declared_batch_ = 1;                    // the input's batch size in the definition
};

}  // namespace

template <class T>
Model<T> build_model(caffe::NetParameter& net, const std::string& source, const std::string& output) {
  return Builder<T>(net, source).build(output);
}

template Model<float> build_model(caffe::NetParameter&, const std::string&, const std::string&);
template Model<double> build_model(caffe::NetParameter&, const std::string&, const std::string&);

}  // namespace lrp::io::caffe_detail

namespace lrp::io {

std::vector<std::string> caffe_supported_layers() {
  return {"Input", "Convolution", "Deconvolution", "Crop", "Power", "InnerProduct", "Pooling", "ReLU", "PReLU", "Sigmoid", "TanH", "ELU", "Softmax", "LRN", "Concat",
          "Eltwise", "BatchNorm", "Scale", "Bias", "Flatten", "Slice", "Reshape", "Dropout", "Split"};
}

Model<double> read_caffe_model(const std::string& definition, const std::string& weights, const std::string& output) {
  caffe::NetParameter net = caffe_detail::read_net(definition, weights);
  return caffe_detail::build_model<double>(net, definition, output);
}

Model<float> read_caffe_model_float(const std::string& definition, const std::string& weights, const std::string& output) {
  caffe::NetParameter net = caffe_detail::read_net(definition, weights);
  return caffe_detail::build_model<float>(net, definition, output);
}

}  // namespace lrp::io
