#pragma once
// Random-weight networks with the architectures of the speed comparison (mlp, mnist_cnn,
// vgg16, resnet50 as in shared/reference/zennit/README.md), built directly in float so that
// `lrp bench` can time them without model files: "synthetic:NAME".
#include <string>

#include "lrp/graph/model.hpp"

namespace lrp::cli {

// NAME: mlp | mnist_cnn | vgg16 | resnet50. Throws ConfigError for other names.
Model<float> synthetic_model(const std::string& name);
std::string synthetic_model_names();

}  // namespace lrp::cli
