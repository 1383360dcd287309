#pragma once
// Signals with their relevance (ECG leads, EEG channels, audio: a 1-D network's [C, L] input),
// drawn as Captum's time-series view draws them: one strip per channel, the relevance as the
// background colour of every column, the signal in black over it.
#include <cstddef>
#include <string>

#include "lrp/core/tensor.hpp"
#include "lrp/render/heatmap.hpp"

namespace lrp::render {

struct SignalPlotOptions {
  std::string colormap = "bwr";          // as HeatmapOptions
  std::string normalization = "toolbox";  // over the whole map, all channels together
  std::size_t strip_height = 48;         // pixels per channel (>= 8)
  std::size_t max_width = 1600;          // columns: one per sample up to this, else samples share columns
};

// X and R [C, L] (or [L], one channel) → an image of C strips, (strip_height + 1) C - 1 pixels
// high (one black row between strips) and min(L, max_width) wide. Column j of a strip covers
// samples [j L / W, (j + 1) L / W): its colour is the summed relevance of those samples through
// the colour map; the signal (scaled to the strip by its channel's finite minimum and maximum)
// is drawn as the vertical span of their values, joined to the column before. Non-finite signal
// values are left out; non-finite relevance is a NumericError, mismatched shapes a ShapeError.
RgbImage render_signal(const Tensor<double>& X, const Tensor<double>& R, const SignalPlotOptions& options = {});

}  // namespace lrp::render
