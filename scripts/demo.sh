#!/usr/bin/env bash
# Sets up and runs the main job: builds lrp, then explains shipped MNIST digits with LeNet-5
# and writes heatmaps to out/demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DLRP_BUILD_TESTS=OFF -DLRP_BUILD_BENCH=OFF >/dev/null
cmake --build build/release -j"$(nproc)" --target lrp
./build/release/lrp demo --out out/demo "$@"
