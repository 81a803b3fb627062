#!/usr/bin/env bash
# Install what is missing, build, and run the whole test suite (what CI runs).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh test
scripts/build.sh build -DZALLOC_BUILD_TESTS=ON
ctest --test-dir build --output-on-failure -j"$(nproc)"
