#pragma once
// Grad-CAM (Selvaraju et al., ICCV 2017), as Captum's LayerGradCam and GuidedGradCam compute it:
// at a layer with output A [N, C, h, w], channel weights a_c = mean over positions of
// d(target)/dA_c, map = ReLU(sum_c a_c A_c), upsampled bilinearly (half-pixel centres, as
// F.interpolate with align_corners=False) to the input's H x W.
#include <string>

#include "lrp/explain/executor.hpp"
#include "lrp/explain/explain.hpp"

namespace lrp {

// The value whose activations Grad-CAM weighs: the output of the node named `layer` (index as
// in `lrp info`, or node name), or with `layer` empty the last node whose output is
// [C, h, w] with h * w > 1. `sample_shape` is the per-sample input shape (engine layout).
template <class T>
std::size_t grad_cam_value(const Model<T>& model, const Shape& sample_shape, const std::string& layer);

// The maps for `seeds` ([N * k, outputs...], used as the output gradient), [N * k, 1, H, W]
// (H, W: `out_h`, `out_w`), by a gradient sweep down to the layer. `ex` has run forward() after
// plan_backward(gradient rules) and keep_value(value).
template <class T>
Tensor<T> grad_cam(Executor<T>& ex, const Tensor<T>& seeds, std::size_t value, std::size_t out_h, std::size_t out_w, bool relu);

}  // namespace lrp
