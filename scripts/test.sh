#!/usr/bin/env bash
# Sets up and runs all tests: installs the Debian packages, builds a release and an
# AddressSanitizer+UBSan build, and runs the whole GoogleTest suite (ctest) in both.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh --test
jobs=$(nproc)

cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release
cmake --build build/release -j"$jobs"
# Tests run in parallel on few cores: OpenMP threads must sleep, not spin, while they wait.
export OMP_WAIT_POLICY=passive
(cd build/release && ctest --output-on-failure -j"$jobs")

cmake -S . -B build/asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLRP_SANITIZE=ON -DLRP_BUILD_BENCH=OFF
cmake --build build/asan -j"$jobs"
(cd build/asan && ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --output-on-failure -j"$jobs")
