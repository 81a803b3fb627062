#!/bin/sh
# Install what bench/run.sh needs, from Debian's own packages (Debian 12, run as root):
# the allocators zalloc is compared with, the `time` program that measures wall time and
# peak RSS, hyperfine, and the programs the real-program workloads run.
# Idempotent and quiet: installs only what is missing, prints one line either way.
set -eu

want="libjemalloc2 libmimalloc2.0 libtcmalloc-minimal4 hyperfine time python3 perl gcc libc6-dev git coreutils"

if [ "$(id -u)" != 0 ]; then
  echo "install-competitors.sh: run as root (it calls apt-get install)" >&2
  exit 1
fi

missing=""
for p in $want; do
  # "install ok installed" only: a removed package leaves "deinstall ok config-files".
  if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]; then
    missing="$missing $p"
  fi
done

if [ -z "$missing" ]; then
  echo "install-competitors.sh: everything is installed"
  exit 0
fi

echo "install-competitors.sh: installing$missing"
export DEBIAN_FRONTEND=noninteractive
# Refresh the package lists only when an install fails for want of them.
# shellcheck disable=SC2086
if ! apt-get install -y -qq --no-install-recommends $missing >/dev/null 2>&1; then
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
echo "install-competitors.sh: done"
