#!/usr/bin/env bash
# Installs the Debian 12 packages that lrp needs to build, test and run its demo.
# Idempotent; run as root (or with sudo available).
set -euo pipefail
PKGS=(build-essential cmake pkg-config
  libdnnl-dev libonnx-dev libprotobuf-dev protobuf-compiler libonnx-testdata
  nlohmann-json3-dev libcli11-dev libeigen3-dev libmatio-dev libhdf5-dev libpng-dev libjpeg-dev zlib1g-dev
  libgtest-dev libgmock-dev libbenchmark-dev dataset-fashion-mnist)
# Only for tests that compare against PyTorch (torchvision exports): --test adds them.
TEST_PKGS=(python3 python3-numpy python3-torch python3-torchvision python3-onnx)
if [ "${1:-}" = "--test" ]; then PKGS+=("${TEST_PKGS[@]}"); fi
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
fi
