#!/usr/bin/env bash
# Thread scaling: alloc-bench's churn (T threads, each freeing a random one of its own 1,000
# blocks of 16..512 bytes and allocating a replacement) and prodcons (T/2 producer/consumer
# pairs, every free a cross-thread free) at 1, 2, 4, 8 and 16 threads, under every allocator
# configuration. The work grows with the threads, so an allocator that scales keeps the same
# time per operation. Writes a TSV and a Markdown table; the table also goes to stdout, progress
# to stderr. bench/plot.py draws the TSV.
#
#   bench/threads.sh [--threads LIST] [--tests LIST] [--scale S] [--reps N] [--out DIR]
#                    [--bench PATH] [--configs LIST] [--zalloc PATH] [--lib-dir DIR]
#                    [--jemalloc PATH] [--mimalloc PATH] [--tcmalloc PATH] [--timeout S]
#   bench/threads.sh --pack DIR
#
#   --threads LIST  thread counts; default 1,2,4,8,16 (prodcons runs the even ones: T/2 pairs)
#   --tests LIST    churn, prodcons or both (default)
#   --scale S       alloc-bench's SCALE; default 0.25 (churn: 2M operations a thread; prodcons:
#                   1M messages a pair)
#   --reps N        repetitions, configurations in an order rotated each time; default 3. The
#                   figures are medians
#   --out DIR       where threads.tsv and threads.md go; default bench-results/ in the current
#                   folder
#   --bench PATH    a prebuilt alloc-bench; default the one in --lib-dir, else built from
#                   bench/alloc-bench.c with cc
#   --timeout S     a run still going after S seconds (default 600) is stopped and reported
#   --pack DIR      copy what a bare machine needs into DIR (alloc-bench, spawn-time, the zalloc
#                   library built here with the libunwind it loads, the competitors' libraries
#                   found here, these scripts and plot.py), then stop. There, without building or installing anything:
#                     DIR/threads.sh --lib-dir DIR --out RESULTS
#                     DIR/startup.sh --lib-dir DIR
#                     python3 DIR/plot.py threads RESULTS/threads.tsv --out RESULTS
#
# Columns of threads.tsv: test, threads, configuration, runs (that succeeded), ops (all threads'
# operations in one run), wall_s and cpu_s (medians; alloc-bench's own measure of its timed part,
# and getrusage's user + system time of all its threads), wall_ns_per_op (the run's wall time over
# the operations of one thread, or of one pair for prodcons: constant if the allocator scales
# and there are cores enough), cpu_ns_per_op (CPU time over all operations: constant if the
# allocator scales, whatever the cores), status (ok, or why not). CPU time per operation shows
# contention even when the machine has fewer cores than threads (on a 2-core machine the wall
# time per operation of 16 threads grows about 8 times whatever the allocator).
# Needs bash, awk, sort and coreutils only (timeout if present).
set -euo pipefail
export LC_ALL=C

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
cfg_tool=bench/threads.sh
# shellcheck source=bench/configs.sh
. "$here/configs.sh"

threads=1,2,4,8,16 tests=churn,prodcons scale=0.25 reps=3 out=bench-results bench="" pack="" limit=600
while [ $# -gt 0 ]; do
  case "$1" in
    --threads) threads=${2:?--threads needs a list}; shift ;;
    --tests) tests=${2:?--tests needs a list}; shift ;;
    --scale) scale=${2:?--scale needs a number}; shift ;;
    --reps) reps=${2:?--reps needs a number}; shift ;;
    --out) out=${2:?--out needs a folder}; shift ;;
    --bench) bench=${2:?--bench needs a path}; shift ;;
    --timeout) limit=${2:?--timeout needs a number of seconds}; shift ;;
    --pack) pack=${2:?--pack needs a folder}; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; echo "Shared options:"; cfg_help; exit 0 ;;
    *) if [ $# -ge 2 ] && cfg_option "$1" "$2"; then shift
       else echo "$cfg_tool: unknown argument '$1' (see --help)" >&2; exit 2; fi ;;
  esac
  shift
done
for v in "reps:$reps" "timeout:$limit"; do
  case "${v#*:}" in ''|*[!0-9]*|0) echo "$cfg_tool: --${v%%:*} needs a positive number" >&2; exit 2 ;; esac
done
for t in ${threads//,/ }; do
  case $t in ''|*[!0-9]*|0) echo "$cfg_tool: --threads needs thread counts of 1 to 64, not '$t'" >&2; exit 2 ;; esac
  [ "$t" -le 64 ] || { echo "$cfg_tool: --threads needs thread counts of 1 to 64, not '$t'" >&2; exit 2; }
done
for t in ${tests//,/ }; do
  case $t in churn|prodcons) ;; *) echo "$cfg_tool: unknown test '$t' (churn, prodcons)" >&2; exit 2 ;; esac
done
awk -v s="$scale" 'BEGIN {exit !(s + 0 > 0)}' || { echo "$cfg_tool: --scale needs a number above 0" >&2; exit 2; }

# ---- --pack: what a bare machine needs --------------------------------------------------------
if [ -n "$pack" ]; then
  configs_setup "$root"
  mkdir -p "$pack"
  cc -O2 -pthread -o "$pack/alloc-bench" "$here/alloc-bench.c"
  cc -O2 -o "$pack/spawn-time" "$here/spawn-time.c"
  for a in "${allocs[@]}"; do
    [ -n "${preload[$a]}" ] || continue
    case $a in arena|gpa|gpa-nochecks) name=libzalloc.so ;; *) name=$(basename "${preload[$a]}") ;; esac
    cp -L "${preload[$a]}" "$pack/$name"
  done
  # zalloc's fallback unwinder, which it dlopens, with what it needs beyond libc
  for lib in libunwind.so.8 liblzma.so.5; do
    if path=$(cfg_find_lib "$lib"); then cp -L "$path" "$pack/$lib"; fi
  done
  cp "$here/threads.sh" "$here/startup.sh" "$here/configs.sh" "$here/plot.py" "$here/alloc-bench.c" \
     "$here/spawn-time.c" "$pack/"
  for n in "${notes[@]+"${notes[@]}"}"; do echo "$n" >&2; done
  echo "$cfg_tool: packed into $pack: $(cd "$pack" && echo *)" >&2
  exit 0
fi

cfg_clean_env

configs_setup "$root"
work=$(mktemp -d "${TMPDIR:-/tmp}/zalloc-threads.XXXXXX")
trap 'rm -rf "$work"' EXIT
if [ -z "$bench" ] && [ -n "$cfg_libdir" ] && [ -x "$cfg_libdir/alloc-bench" ]; then bench=$cfg_libdir/alloc-bench; fi
if [ -z "$bench" ]; then
  command -v cc >/dev/null || { echo "$cfg_tool: no cc to build alloc-bench: give --bench PATH or --lib-dir DIR" >&2; exit 1; }
  cc -O2 -pthread -o "$work/alloc-bench" "$here/alloc-bench.c"
  bench=$work/alloc-bench
fi
[ -x "$bench" ] || { echo "$cfg_tool: $bench is not an executable alloc-bench" >&2; exit 1; }
bench=$(cfg_abs "$bench")
timeout_cmd=()
command -v timeout >/dev/null && timeout_cmd=(timeout -k 10 "$limit")
mkdir -p "$out"

# The (test, threads) points, fewest threads first; prodcons takes T/2 pairs, so only even T.
threads=$(tr ',' '\n' <<<"$threads" | sort -n | uniq | paste -sd, -)
points=()
for test in ${tests//,/ }; do
  for t in ${threads//,/ }; do
    if [ "$test" = prodcons ]; then [ $((t % 2)) = 0 ] && points+=("prodcons:$t:$((t / 2))")
    else points+=("churn:$t:$t"); fi
  done
done
[ ${#points[@]} -gt 0 ] || { echo "$cfg_tool: no run: prodcons needs an even thread count" >&2; exit 2; }

declare -A walls cpus ops status
na=${#allocs[@]}
started=$EPOCHREALTIME
for ((r = 0; r < reps; r++)); do
  printf 'repetition %d of %d (%d s so far)\n' $((r + 1)) "$reps" $(( (${EPOCHREALTIME/./} - ${started/./}) / 1000000 )) >&2
  for p in "${points[@]}"; do
    IFS=: read -r test t arg <<<"$p"
    for ((i = 0; i < na; i++)); do
      a=${allocs[$(( (i + r) % na ))]}
      k="$test|$t|$a"
      [ "${status[$k]:-ok}" = ok ] || continue
      rc=0
      # shellcheck disable=SC2086 # cenv holds VAR=value words without blanks
      line=$("${timeout_cmd[@]}" env ${preload[$a]:+LD_PRELOAD="${preload[$a]}"} ${cenv[$a]} \
               "$bench" "$test" "$scale" "$arg" 2>"$work/err") || rc=$?
      if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then status[$k]="timed out (over $limit s)"
      elif [ "$rc" != 0 ]; then status[$k]="failed (exit $rc)"
      elif [[ "$line" == *CHECK-FAILED* ]] || [[ "$line" != *" cpu_s="* ]]; then status[$k]="wrong result"
      fi
      if [ "${status[$k]:-ok}" != ok ]; then
        echo "  $test $t threads under $a: ${status[$k]}; $(head -c 300 "$work/err" | tr '\n' ' ')" >&2
        continue
      fi
      secs=${line#* secs=}; secs=${secs%% *}
      cpu=${line#* cpu_s=}; cpu=${cpu%% *}
      n=${line#* ops=}; n=${n%% *}
      walls[$k]+="$secs " cpus[$k]+="$cpu " ops[$k]=$n
    done
  done
done
elapsed=$(( (${EPOCHREALTIME/./} - ${started/./}) / 1000000 ))
echo "done in $elapsed s" >&2

median() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{v[NR]=$1} END {print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }

tsv=$out/threads.tsv md=$out/threads.md
printf 'test\tthreads\tconfiguration\truns\tops\twall_s\tcpu_s\twall_ns_per_op\tcpu_ns_per_op\tstatus\n' >"$tsv"
for p in "${points[@]}"; do
  IFS=: read -r test t arg <<<"$p"
  for a in "${allocs[@]}"; do
    k="$test|$t|$a"
    if [ -n "${walls[$k]:-}" ]; then
      w=$(median "${walls[$k]}") c=$(median "${cpus[$k]}")
      # wall: the run's time over the operations of one thread (one pair), the same at every T if
      # the allocator scales and the machine has the cores; CPU: all threads' time over all ops.
      awk -v t="$test" -v th="$t" -v a="$a" -v runs="$(wc -w <<<"${walls[$k]}")" -v n="${ops[$k]}" \
          -v u="$arg" -v w="$w" -v c="$c" -v st="${status[$k]:-ok}" \
        'BEGIN {printf "%s\t%d\t%s\t%d\t%d\t%.3f\t%.3f\t%.2f\t%.2f\t%s\n", t, th, a, runs, n, w, c, w * u / n * 1e9, c / n * 1e9, st}' >>"$tsv"
    else
      printf '%s\t%d\t%s\t0\t0\t\t\t\t\t%s\n' "$test" "$t" "$a" "${status[$k]:-not run}" >>"$tsv"
    fi
  done
done

# The Markdown: per test, wall and CPU time per operation, and each over the configuration's
# figure at the fewest threads.
{
  echo "## Thread scaling"
  echo
  echo "$(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')); Linux $(uname -r); $(ldd --version 2>/dev/null | head -n 1 | sed 's/^ldd //')."
  echo "alloc-bench SCALE $scale, median of $reps run$([ "$reps" = 1 ] || echo s); run time $elapsed s. Time per operation (one malloc/free pair, or one message): wall time of the run over one thread's (one pair's) operations, CPU time (all threads) over all operations; in brackets, over the same configuration's figure at the fewest threads (1.00× is perfect scaling)."
  cfg_describe
  for n in "${notes[@]+"${notes[@]}"}"; do echo "$n"; done
  for test in ${tests//,/ }; do
    for kind in wall cpu; do
      echo
      if [ "$test" = churn ]; then what="churn (T threads, each churning its own blocks)"
      else what="prodcons (T/2 producer/consumer pairs, every free cross-thread)"; fi
      echo "### $what: $([ $kind = wall ] && echo "wall time" || echo "CPU time (user + system)") per operation"
      echo
      awk -F'\t' -v test="$test" -v kind="$kind" -v order="${allocs[*]}" '
        NR == 1 || $1 != test { next }
        {
          if (!($2 in seen)) { seen[$2] = 1; ts[++nt] = $2 }
          v = (kind == "wall" ? $8 : $9)
          cell[$2, $3] = ($10 == "ok" ? v : "**" $10 "**")
          if ($10 == "ok" && !(($3) in base)) base[$3] = v
        }
        END {
          na = split(order, a, " ")
          printf "| threads |"; for (i = 1; i <= na; i++) printf " %s |", a[i]; print ""
          printf "|--:|"; for (i = 1; i <= na; i++) printf "--:|"; print ""
          for (j = 1; j <= nt; j++) {
            printf "| %d |", ts[j]
            for (i = 1; i <= na; i++) {
              c = cell[ts[j], a[i]]
              if (c == "") printf " – |"
              else if (c ~ /^\*\*/) printf " %s |", c
              else printf " %.1f ns (%.2f×) |", c, c / base[a[i]]
            }
            print ""
          }
        }' "$tsv"
    done
  done
} >"$md"
cat "$md"
echo "$cfg_tool: wrote $tsv and $md" >&2
