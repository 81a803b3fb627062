#!/usr/bin/env bash
# Configure and build zalloc (Release, -O2).
#   scripts/build.sh DIR [cmake arguments...]
# Each job keeps its own DIR (build/ for the tests, build-demo/ for the demo), so switching
# between them never leaves one with the other's configuration or stale test binaries.
set -euo pipefail
cd "$(dirname "$0")/.."
dir="$1"
shift
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build "$dir" -j"$(nproc)"
