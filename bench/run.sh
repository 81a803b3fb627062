#!/usr/bin/env bash
# Compare zalloc's arena with glibc malloc, jemalloc, mimalloc and tcmalloc on the workloads
# of bench/: the alloc-bench microbenchmarks and a few real programs, all unmodified and
# switched with LD_PRELOAD. Prints Markdown tables on stdout; progress goes to stderr.
#
#   bench/run.sh [--quick] [--reps N] [--raw FILE] [--zalloc PATH] [--only W1,W2,...]
#
#   --quick        smaller inputs and 3 repetitions (about a minute), for a smoke test
#   --reps N       repetitions of every (workload, allocator) pair; default 5 (--quick: 3)
#   --raw FILE     also write every measurement, one per line, to FILE
#   --zalloc PATH  the libzalloc.so to test; default build-bench/libzalloc.so, (re)built first
#   --only LIST    run only these workloads (names as in the tables)
#
# Method: every repetition runs every workload under every allocator, the allocators in an
# order rotated from one repetition to the next, so slow drifts of a shared machine hit them
# all alike. Wall time is taken around each run (bash's EPOCHREALTIME); peak RSS is GNU time's
# %M (for a program that starts others, such as gcc, the largest of them). The tables give
# the median wall time, the median CPU time (user + system: less disturbed by other load on a
# shared machine than wall time) and the largest peak RSS over the repetitions, as a ratio to
# glibc's from the same run (lower is better). A run that fails, crashes or prints something other
# than what it prints under glibc is reported as such and not timed again.
# Needs: bench/install-competitors.sh (as root) first.
set -euo pipefail
export LC_ALL=C
# Debian's programs, the ones install-competitors.sh installs: not a python3 or gcc that some
# version manager put first in PATH.
export PATH=/usr/bin:/bin

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")

quick=0 reps="" raw="" zlib="" only=""
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --reps) reps=${2:?--reps needs a number}; shift ;;
    --raw) raw=${2:?--raw needs a file}; shift ;;
    --zalloc) zlib=${2:?--zalloc needs a path}; shift ;;
    --only) only=${2:?--only needs a list}; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench/run.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
if [ "$quick" = 1 ]; then
  reps=${reps:-3}
  scale=0.25 sort_lines=600000 py_n=6000 pl_n=40000 c_funcs=120 git_commits=100
else
  reps=${reps:-5}
  scale=1 sort_lines=2500000 py_n=25000 pl_n=150000 c_funcs=300 git_commits=300
fi
case "$reps" in ''|*[!0-9]*|0) echo "bench/run.sh: --reps needs a positive number" >&2; exit 2 ;; esac

for tool in /usr/bin/time cc gcc python3 perl git sort cmake ninja; do
  command -v "$tool" >/dev/null || {
    echo "bench/run.sh: $tool is missing; run bench/install-competitors.sh as root first" >&2
    exit 1
  }
done

log() { printf '%s\n' "$*" >&2; }
started=$EPOCHREALTIME

# ---- the allocators ----------------------------------------------------------------------------
if [ -z "$zlib" ]; then   # build-bench/, configured if need be and brought up to date
  zlib=$root/build-bench/libzalloc.so
  [ -f "$root/build-bench/build.ninja" ] ||
    cmake -S "$root" -B "$root/build-bench" -G Ninja -DZALLOC_BUILD_TESTS=OFF >/dev/null
  ninja -C "$root/build-bench" >/dev/null
fi
[ -f "$zlib" ] || { echo "bench/run.sh: no zalloc library at $zlib" >&2; exit 1; }
zlib=$(cd "$(dirname "$zlib")" && pwd)/$(basename "$zlib")

find_lib() { # first existing file of that name in the usual library directories
  local d
  for d in "/usr/lib/$(gcc -print-multiarch 2>/dev/null)" /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/lib; do
    [ -f "$d/$1" ] && { echo "$d/$1"; return 0; }
  done
  return 1
}
allocs=(glibc zalloc)
declare -A preload=([glibc]="" [zalloc]=$zlib)
notes=()
for spec in jemalloc:libjemalloc.so.2:libjemalloc2 mimalloc:libmimalloc.so.2:libmimalloc2.0 \
            tcmalloc:libtcmalloc_minimal.so.4:libtcmalloc-minimal4; do
  IFS=: read -r name file pkg <<<"$spec"
  if path=$(find_lib "$file"); then
    allocs+=("$name")
    preload[$name]=$path
  else
    log "skipping $name: $file not found (Debian package $pkg; see bench/install-competitors.sh)"
    notes+=("$name was skipped: $file not found (Debian package $pkg).")
  fi
done

# ---- the workloads and their inputs ------------------------------------------------------------
work=$(mktemp -d "${TMPDIR:-/tmp}/zalloc-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
export ZALLOC_LOG=/dev/null        # zalloc's exit report would go to stderr
export PYTHONMALLOC=malloc         # every Python object through malloc, not pymalloc's pools
export HOME=$work GIT_CONFIG_NOSYSTEM=1 GIT_PAGER=cat

micro=(lifo fifo random realloc realloc2 big prodcons churn-1t churn-2t)
real=(sort python perl gcc git)
if [ -n "$only" ]; then
  keep() { local w out=(); for w in "$@"; do [[ ",$only," == *",$w,"* ]] && out+=("$w"); done; echo "${out[*]}"; }
  read -ra micro <<<"$(keep "${micro[@]}")"
  read -ra real <<<"$(keep "${real[@]}")"
  [ $((${#micro[@]} + ${#real[@]})) -gt 0 ] || { echo "bench/run.sh: --only matched no workload" >&2; exit 2; }
fi
workloads=("${micro[@]}" "${real[@]}")
has() { [[ " ${workloads[*]} " == *" $1 "* ]]; }

log "setting up in $work"
cc -O2 -pthread -o "$work/alloc-bench" "$here/alloc-bench.c"
if has sort; then
  python3 - "$sort_lines" >"$work/sort.txt" <<'EOF'
import random, sys
random.seed(3)
w = sys.stdout.write
for i in range(int(sys.argv[1])):
    w("%x %s %d\n" % (random.getrandbits(40), "abcdefghij"[i % 10] * (i % 17 + 1), i))
EOF
fi
has gcc && python3 "$here/workloads/gen-c.py" "$c_funcs" >"$work/gen.c"
if has git; then
  git init -q -b main "$work/repo"
  python3 "$here/workloads/gen-git.py" "$git_commits" | git -C "$work/repo" fast-import --quiet --done
  git -C "$work/repo" -c gc.auto=0 repack -adq
fi

# Sets CMD (the command line) and CHECK (the file whose contents must match glibc's run; empty
# for the microbenchmarks, which check themselves).
command_for() {
  CHECK=$work/out
  case "$1" in
    churn-1t) CMD=("$work/alloc-bench" churn "$scale" 1); CHECK="" ;;
    churn-2t) CMD=("$work/alloc-bench" churn "$scale" 2); CHECK="" ;;
    sort) CMD=(sort "$work/sort.txt") ;;
    python) CMD=(python3 "$here/workloads/objects.py" "$py_n") ;;
    perl) CMD=(perl "$here/workloads/hash.pl" "$pl_n") ;;
    gcc) CMD=(gcc -O2 -c "$work/gen.c" -o "$work/gen.o"); CHECK=$work/gen.o ;;
    git) CMD=(git -C "$work/repo" --no-pager log -p -M --stat main) ;;
    *) CMD=("$work/alloc-bench" "$1" "$scale"); CHECK="" ;;
  esac
}

# Runs one workload under one allocator: sets WALL_US, RSS_KIB, CPU (user and system seconds)
# and STATUS ("ok" or why not).
declare -A reference
measure() {
  local w=$1 a=$2 t0 t1 rc=0 last
  command_for "$w"
  rm -f "$work/gen.o"
  t0=$EPOCHREALTIME
  /usr/bin/time -f '%e %M %U %S' -o "$work/time" \
    env ${preload[$a]:+LD_PRELOAD="${preload[$a]}"} "${CMD[@]}" >"$work/out" 2>"$work/err" || rc=$?
  t1=$EPOCHREALTIME
  WALL_US=$(( ${t1/./} - ${t0/./} ))
  last=$(tail -n 1 "$work/time")
  RSS_KIB=$(awk '{print $2}' <<<"$last")
  CPU=$(awk '{print $3 "\t" $4}' <<<"$last")
  STATUS=ok
  if grep -q '^Command terminated by signal' "$work/time"; then
    STATUS="crashed ($(grep -o 'signal [0-9]*' "$work/time"))"
  elif [ "$rc" != 0 ]; then
    STATUS="failed (exit $rc)"
  elif [ -z "$CHECK" ]; then
    grep -q 'CHECK-FAILED' "$work/out" && STATUS="wrong result"
  else
    local sum
    sum=$(cksum <"$CHECK")
    if [ -z "${reference[$w]:-}" ]; then reference[$w]=$sum
    elif [ "${reference[$w]}" != "$sum" ]; then STATUS="wrong result"
    fi
  fi
  if [ "$STATUS" != ok ]; then
    log "  $w under $a: $STATUS; stderr: $(head -c 300 "$work/err" | tr '\n' ' ')"
  fi
}

# A first, untimed glibc run of each real program: warms the page cache, sets the reference
# output every allocator's run must reproduce.
for w in "${real[@]}"; do
  measure "$w" glibc
  [ "$STATUS" = ok ] || { echo "bench/run.sh: $w fails under glibc: $STATUS" >&2; exit 1; }
done

# ---- the runs ----------------------------------------------------------------------------------
declare -A walls rsss cpus status
[ -n "$raw" ] && printf 'rep\tworkload\tallocator\twall_s\tpeak_rss_kib\tuser_s\tsys_s\tstatus\n' >"$raw"
na=${#allocs[@]}
for ((r = 0; r < reps; r++)); do
  log "repetition $((r + 1)) of $reps ($(( (${EPOCHREALTIME/./} - ${started/./}) / 1000000 )) s so far)"
  for w in "${workloads[@]}"; do
    for ((i = 0; i < na; i++)); do
      a=${allocs[$(( (i + r) % na ))]}
      [[ "${status[$w|$a]:-ok}" == ok ]] || continue   # failed once: not run again
      measure "$w" "$a"
      if [ "$STATUS" = ok ]; then
        walls[$w|$a]+="$WALL_US "
        rsss[$w|$a]+="$RSS_KIB "
        cpus[$w|$a]+="$(awk '{printf "%d", ($1 + $2) * 1000}' <<<"$CPU") "
      else
        status[$w|$a]=$STATUS
      fi
      [ -n "$raw" ] && printf '%d\t%s\t%s\t%d.%06d\t%s\t%s\t%s\n' $((r + 1)) "$w" "$a" \
        $((WALL_US / 1000000)) $((WALL_US % 1000000)) "$RSS_KIB" "$CPU" "$STATUS" >>"$raw"
    done
  done
done
elapsed=$(( (${EPOCHREALTIME/./} - ${started/./}) / 1000000 ))
log "done in $elapsed s"

# ---- the tables --------------------------------------------------------------------------------
median() { tr ' ' '\n' <<<"$1" | grep . | sort -n | awk '{v[NR]=$1} END {print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }
maxof() { tr ' ' '\n' <<<"$1" | grep . | sort -n | tail -n 1; }

# table KIND(time|cpu|rss) WORKLOADS...
table() {
  local kind=$1 w a base v line head sep
  shift
  head="| workload | glibc |" sep="|---|--:|"
  for a in "${allocs[@]:1}"; do head+=" $a |"; sep+="--:|"; done
  echo "$head"; echo "$sep"
  declare -A logsum=() count=()
  for w in "$@"; do
    line="| $w |"
    if [ "${status[$w|glibc]:-ok}" != ok ]; then
      line+=" ${status[$w|glibc]} |"; for a in "${allocs[@]:1}"; do line+=" – |"; done
      echo "$line"; continue
    fi
    if [ "$kind" = time ]; then
      base=$(median "${walls[$w|glibc]}")
      line+=" $(awk -v b="$base" 'BEGIN {printf "%.3f s", b / 1e6}') |"
    elif [ "$kind" = cpu ]; then
      base=$(median "${cpus[$w|glibc]}")
      [ "$base" != 0 ] || base=10   # below GNU time's 10 ms resolution
      line+=" $(awk -v b="$base" 'BEGIN {printf "%.2f s", b / 1e3}') |"
    else
      base=$(maxof "${rsss[$w|glibc]}")
      line+=" $(awk -v b="$base" 'BEGIN {printf "%.1f MiB", b / 1024}') |"
    fi
    for a in "${allocs[@]:1}"; do
      if [ "${status[$w|$a]:-ok}" != ok ]; then line+=" **${status[$w|$a]}** |"; continue; fi
      case $kind in
        time) v=$(median "${walls[$w|$a]}") ;;
        cpu) v=$(median "${cpus[$w|$a]}"); [ "$v" != 0 ] || v=10 ;;
        *) v=$(maxof "${rsss[$w|$a]}") ;;
      esac
      line+=" $(awk -v v="$v" -v b="$base" 'BEGIN {printf "%.2f×", v / b}') |"
      logsum[$a]=$(awk -v s="${logsum[$a]:-0}" -v v="$v" -v b="$base" 'BEGIN {print s + log(v / b)}')
      count[$a]=$(( ${count[$a]:-0} + 1 ))
    done
    echo "$line"
  done
  if [ $# -gt 1 ]; then
    line="| *geometric mean* | |"
    for a in "${allocs[@]:1}"; do
      if [ "${count[$a]:-0}" -gt 0 ]; then
        line+=" *$(awk -v s="${logsum[$a]}" -v n="${count[$a]}" 'BEGIN {printf "%.2f×", exp(s / n)}')* |"
      else line+=" – |"; fi
    done
    echo "$line"
  fi
}

echo "## Results"
echo
echo "$(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')); Linux $(uname -r); $(ldd --version | head -n 1 | sed 's/^ldd //')."
echo "$reps repetitions$([ "$quick" = 1 ] && echo " (--quick: smaller inputs)"); run time ${elapsed} s."
echo "Ratios are to glibc in the same run: below 1.00× is faster (or smaller) than glibc."
for n in "${notes[@]+"${notes[@]}"}"; do echo "$n"; done
for group in micro real; do
  if [ "$group" = micro ]; then
    ws=("${micro[@]}") what="Microbenchmarks (bench/alloc-bench.c, scale $scale)"
  else
    ws=("${real[@]}") what="Real programs"
  fi
  [ ${#ws[@]} -gt 0 ] || continue
  echo
  echo "### $what: wall time, median of $reps"
  echo
  table time "${ws[@]}"
  echo
  echo "### $what: CPU time (user + system), median of $reps"
  echo
  table cpu "${ws[@]}"
  echo
  echo "### $what: peak RSS, largest of $reps"
  echo
  table rss "${ws[@]}"
done
