#!/usr/bin/env bash
# What each allocator configuration adds to every process it is preloaded into: the wall time and
# the minor page faults of a process that makes no allocation beyond libc's own (/bin/true,
# /bin/echo hello), against glibc's in the same run. Prints a Markdown table on stdout; progress
# goes to stderr.
#
#   bench/startup.sh [--runs N] [--raw FILE] [--quick] [--configs LIST] [--zalloc PATH]
#                    [--lib-dir DIR] [--jemalloc PATH] [--mimalloc PATH] [--tcmalloc PATH]
#
#   --runs N        runs of each program under each configuration; default 200 (--quick 50)
#   --raw FILE      also write every run to FILE (TSV: program, round, configuration, wall µs,
#                   minor and major faults, peak RSS KiB, exit status)
#   --quick         50 runs
#
# Method: bench/spawn-time.c starts the program with posix_spawn and waits with wait4, one run
# of every configuration in turn, their order rotated each round (so a shared machine's load
# hits them alike), after 5 uncounted warm-up rounds. Wall time is taken around spawn and wait;
# minor faults and peak RSS are wait4's figures for that process alone. The table gives the
# median wall time (and the 10th-90th percentile range), the median wall time added to glibc's
# median and the ratio of the two, and the median minor page faults, absolute and added. The
# configurations' variables (and ZALLOC_LOG=/dev/null) are in the program's environment only.
# /bin/echo's output is checked under every configuration first; one that does not print
# "hello" is reported and left out.
set -euo pipefail
export LC_ALL=C

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
cfg_tool=bench/startup.sh
# shellcheck source=bench/configs.sh
. "$here/configs.sh"

runs="" raw="" quick=0
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=${2:?--runs needs a number}; shift ;;
    --raw) raw=${2:?--raw needs a file}; shift ;;
    --quick) quick=1 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; echo "Shared options:"; cfg_help; exit 0 ;;
    *) if [ $# -ge 2 ] && cfg_option "$1" "$2"; then shift
       else echo "$cfg_tool: unknown argument '$1' (see --help)" >&2; exit 2; fi ;;
  esac
  shift
done
[ "$quick" = 1 ] && runs=${runs:-50}
runs=${runs:-200}
case $runs in ''|*[!0-9]*|0) echo "$cfg_tool: --runs needs a positive number" >&2; exit 2 ;; esac

cfg_clean_env

configs_setup "$root"
work=$(mktemp -d "${TMPDIR:-/tmp}/zalloc-startup.XXXXXX")
trap 'rm -rf "$work"' EXIT
if [ -n "$cfg_libdir" ] && [ -x "$cfg_libdir/spawn-time" ]; then
  spawn=$cfg_libdir/spawn-time
else
  cc -O2 -o "$work/spawn-time" "$here/spawn-time.c"
  spawn=$work/spawn-time
fi

# Every configuration must run echo right before it is timed.
ok_allocs=()
for a in "${allocs[@]}"; do
  # shellcheck disable=SC2086 # cenv holds VAR=value words without blanks
  if out=$(env ${preload[$a]:+LD_PRELOAD="${preload[$a]}"} ${cenv[$a]} /bin/echo hello 2>&1) && [ "$out" = hello ]; then
    ok_allocs+=("$a")
  else
    [ "$a" = glibc ] && { echo "$cfg_tool: /bin/echo hello fails without a preload: $out" >&2; exit 1; }
    notes+=("$a was left out: /bin/echo hello under it printed '$(head -c 100 <<<"$out" | tr '\n' ' ')'.")
  fi
done
allocs=("${ok_allocs[@]}")

args=()
for a in "${allocs[@]}"; do
  args+=(-c "$a" "${preload[$a]:+LD_PRELOAD=${preload[$a]}} ${cenv[$a]}")
done
[ -n "$raw" ] && printf 'program\tround\tconfiguration\twall_us\tminflt\tmajflt\tmaxrss_kib\tstatus\n' >"$raw"
started=$EPOCHREALTIME
declare -A summary
for prog in /bin/true "/bin/echo hello"; do
  printf '%s: %d runs under %d configurations\n' "$prog" "$runs" "${#allocs[@]}" >&2
  # shellcheck disable=SC2086 # prog is a path and its arguments
  rc=0; "$spawn" -n "$runs" -r "$work/raw" "${args[@]}" -- $prog >"$work/summary" || rc=$?
  [ "$rc" -le 1 ] || { echo "$cfg_tool: spawn-time failed on $prog (status $rc)" >&2; exit 1; }
  summary[$prog]=$(tail -n +2 "$work/summary")
  [ -n "$raw" ] && tail -n +2 "$work/raw" | sed "s|^|$prog\t|" >>"$raw"
done
elapsed=$(( (${EPOCHREALTIME/./} - ${started/./}) / 1000000 ))

echo "## Per-process cost"
echo
echo "$(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')); Linux $(uname -r); $(ldd --version 2>/dev/null | head -n 1 | sed 's/^ldd //')."
echo "$runs runs of each program under each configuration, interleaved; run time $elapsed s. Medians; \"added\" is the configuration's median minus glibc's from the same run."
cfg_describe
for n in "${notes[@]+"${notes[@]}"}"; do echo "$n"; done
echo
echo "| program | configuration | wall time | 10th–90th percentile | added to glibc | ratio to glibc | minor faults | added faults | peak RSS | failed runs |"
echo "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|"
for prog in /bin/true "/bin/echo hello"; do
  awk -F'\t' -v prog="$prog" '
    { name[NR] = $1; failed[NR] = $3; med[NR] = $4; p10[NR] = $5; p90[NR] = $6; flt[NR] = $7; rss[NR] = $9 }
    $1 == "glibc" { bmed = $4; bflt = $7 }
    END {
      for (i = 1; i <= NR; i++) {
        printf "| %s | %s | %.2f ms | %.2f–%.2f ms | ", (i == 1 ? "`" prog "`" : ""), name[i], med[i] / 1000, p10[i] / 1000, p90[i] / 1000
        if (name[i] == "glibc") printf "– | – | %d | – | ", flt[i]
        else printf "%+.2f ms | %.2f× | %d | %+d | ", (med[i] - bmed) / 1000, med[i] / bmed, flt[i], flt[i] - bflt
        printf "%.1f MiB | %d |\n", rss[i] / 1024, failed[i]
      }
    }' <<<"${summary[$prog]}"
done
