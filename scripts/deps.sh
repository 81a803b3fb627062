#!/usr/bin/env bash
# Install, from Debian's packages, whatever the build and the given job need and is missing.
#   scripts/deps.sh build|test|demo
# Idempotent: installs nothing (and needs no root) when everything is there.
set -euo pipefail
job="${1:-test}"
# Every job builds: libunwind-dev and libdw-dev give the headers of the unwinder and the
# symboliser that src/stack.c and src/symbolize.c dlopen at run time.
pkgs=(gcc libc6-dev cmake ninja-build pkg-config binutils libunwind-dev libdw-dev)
case "$job" in
  build) ;;
  # tests/untrusted: setcap (libcap2-bin), setpriv and unshare (util-linux), umount (mount).
  # clang and its libFuzzer runtime: the fuzz_short_* tests (tests/fuzz); skipped without them.
  test) pkgs+=(libcriterion-dev g++ coreutils dash bash make python3 perl git valgrind libcap2-bin
              util-linux mount clang libclang-rt-14-dev) ;;
  demo) pkgs+=(python3 perl time) ;;
  *) echo "usage: scripts/deps.sh build|test|demo" >&2; exit 2 ;;
esac
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "scripts/deps.sh: missing Debian packages: ${missing[*]}; run as root, or: apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "Installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
