#!/bin/sh
# Install, from Debian's own packages (Debian 12, as root), whatever bench/run.sh needs and is
# missing: the allocators zalloc is compared with, the heap checkers its GPA mode is compared
# with (valgrind's memcheck, LeakSanitizer's runtime liblsan0 for LD_PRELOAD, heaptrack), GNU time
# (wall time and peak RSS), hyperfine, the programs the real-program and process-spawning
# workloads run, and what builds zalloc and alloc-bench.
# Idempotent and quiet: prints nothing and needs no root when everything is installed.
set -eu

want="libjemalloc2 libmimalloc2.0 libtcmalloc-minimal4 valgrind liblsan0 heaptrack libheaptrack
hyperfine time coreutils python3 perl gcc libc6-dev git cmake ninja-build sqlite3 make bash dash
findutils sed"

missing=""
for p in $want; do
  # Exactly "install ok installed": a removed package leaves "deinstall ok config-files".
  if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]; then
    missing="$missing $p"
  fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
  echo "bench/install-competitors.sh: missing:$missing; run as root, or: apt-get install$missing" >&2
  exit 1
fi
echo "bench/install-competitors.sh: installing$missing"
export DEBIAN_FRONTEND=noninteractive
# shellcheck disable=SC2086 # word splitting of the package list is wanted
if ! apt-get install -y -qq --no-install-recommends $missing >/dev/null 2>&1; then
  apt-get update -qq >/dev/null   # the package lists were missing or stale
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
