#!/usr/bin/env bash
# Compare zalloc's modes with glibc malloc, jemalloc, mimalloc and tcmalloc, and zalloc's checked
# mode (gpa) with the heap checkers valgrind memcheck, LeakSanitizer and heaptrack, on the
# workloads of bench/: the alloc-bench microbenchmarks, a few real programs, two stack-heavy
# workloads and four that start many processes, all unmodified and switched with LD_PRELOAD (or
# valgrind's launcher; child processes inherit both). Prints Markdown tables on stdout; progress
# goes to stderr. Per-process start-up cost: bench/startup.sh; thread scaling: bench/threads.sh;
# plots of the tables: bench/plot.py.
#
#   bench/run.sh [--quick] [--reps N] [--raw FILE] [--zalloc PATH] [--zalloc-base PATH]
#                [--only W1,W2,...] [--configs C1,C2,...] [--valgrind-runs N] [--valgrind-only W1,...|all]
#                [--timeout S] [--timeout-factor F]
#
#   --quick        smaller inputs and 3 repetitions (a few minutes without the checkers), for a
#                  smoke test
#   --reps N       repetitions of every (workload, configuration) pair; default 5 (--quick: 3)
#   --raw FILE     also write every measurement, one per line, to FILE
#   --zalloc PATH  the libzalloc.so to test; default build-bench/libzalloc.so, (re)built first
#   --zalloc-base PATH  another libzalloc.so, the build before a change: the arena-base and
#                  gpa-nochecks-base configurations (below)
#   --only LIST    run only these workloads (names as in the tables; see The workloads, below)
#   --configs LIST run only these configurations (glibc, the baseline, always runs); default all
#                  of those available
#   --valgrind-runs N  repetitions under valgrind; default 1 (memcheck takes 20 to 100 times
#                  glibc's time: one repetition of the real programs is several minutes)
#   --valgrind-only LIST  the workloads valgrind runs; default the real programs and the
#                  stack-heavy ones, not the microbenchmarks (minutes each under memcheck);
#                  `all` for every workload. The others show "not run" in valgrind's column.
#   --timeout S, --timeout-factor F  a run still going after F times glibc's wall time on the
#                  same workload (at least 30 s, at most S s) is stopped and reported as timed
#                  out; default F 200 (memcheck takes 20 to 100 times glibc's time), S 900.
#                  LeakSanitizer's realloc always copies, so the realloc microbenchmarks, which
#                  grow a buffer to 1 MiB a few bytes at a time, time out under lsan
#   --shares N     after the timed runs, run each of the arena's target programs (python, perl,
#                  gcc, git, sqlite) N more times under the arena and each of jemalloc, mimalloc
#                  and tcmalloc with `perf record`, and print the median share of the samples in
#                  the allocator's library and in the kernel, and what that bounds: the time an
#                  allocator that took no time and caused no kernel time would reach, as a
#                  fraction of the best competitor's. Needs perf (Debian's linux-perf) and
#                  permission to use it; skipped with a note otherwise
#
# The workloads (rows of the tables), in four groups:
#   Microbenchmarks, bench/alloc-bench.c (see its header) at SCALE 1 (--quick 0.25):
#     lifo fifo random realloc realloc2 big prodcons; churn-1t and churn-2t (churn with 1 and 2
#     threads); churn-random (one thread, 16 B..4 KiB blocks freed in random order); fork (8
#     threads allocating while the main thread forks 50 times, --quick 10, each child allocating
#     a little and leaving with _exit)
#   Real programs, each output checked against glibc's run:
#     sort      sort(1) of 2.5M generated lines (--quick 600k)
#     python    python3 bench/workloads/objects.py, PYTHONMALLOC=malloc (objects, dicts, strings)
#     perl      perl bench/workloads/hash.pl (hashes and strings)
#     gcc       gcc -O2 -c of one generated 300-function file (gen-c.py; --quick 120)
#     git       git log -p -M --stat of a generated 300-commit repository (--quick 100)
#     sqlite    sqlite3 :memory: loading a generated dump of 1M rows, one INSERT each (--quick
#               50k; gen-sql.py), creating two indexes, then aggregates, a join, ORDER BYs, an
#               UPDATE and a DELETE
#   Stack-heavy workloads (malloc and free from deep call stacks):
#     deep      alloc-bench deep;  pynest: python3 bench/workloads/nested.py
#   Process-spawning workloads (the preload in every process; output checked against glibc's):
#     shell     bash bench/workloads/shell.sh: here-docs, $(...) substitutions, pipelines with
#               sort | uniq -c, subshells with cd, a read loop, find | xargs, sh -c (dash)
#               scripts; about 800 processes (--quick 100)
#     make      make -B -j2 (everything rebuilt every run) of a generated 20-file C project
#               (gen-project.py: 19 modules and a main, 40 functions a module, --quick 5), linked
#               and the program run; about 60 processes
#     git-steps bash bench/workloads/git-steps.sh: git init, 25 commits (--quick 4) each with
#               status, add, diff --cached --stat and commit, then log --stat, diff, gc and fsck,
#               on a new repository every run
#     gcc-multi one gcc -O2 driver compiling 6 files (5 generated modules of 60 functions,
#               --quick 10, and a main) and linking them; the program it writes is compared
#
# The configurations (columns of the tables), each skipped with a note when missing:
#   glibc         glibc's malloc, no preload: the baseline of every ratio
#   arena         zalloc, ZALLOC_MODE=arena
#   arena-base    the --zalloc-base library, ZALLOC_MODE=arena (only when named in --configs): a
#                 change to the arena measured against the build before it in the same run, the
#                 two alternating, as this noisy machine needs (e.g. --configs arena,arena-base
#                 --reps 11 --only lifo,fifo,python)
#   gpa-nochecks-base  the same for the GPA with its checks off (below), only when named
#   jemalloc, mimalloc, tcmalloc   Debian's libraries, preloaded
#   gpa           zalloc, ZALLOC_MODE=gpa with its default options: 16-frame stacks at every malloc
#                 and free, guard bytes, the quarantine, the leak check at exit (report to
#                 /dev/null)
#   gpa-nochecks  the same with ZALLOC_STACK_DEPTH=0 ZALLOC_QUARANTINE=0 ZALLOC_GUARD=0 (the leak
#                 check stays)
#   gpa-sample    the GPA with ZALLOC_SAMPLE=1000: about one allocation in 1,000 on guarded pages
#                 (only when named in --configs)
#   page          zalloc, ZALLOC_MODE=page: every block on its own pages (only when named in
#                 --configs: system calls at every malloc and free make it slow)
#   valgrind      valgrind --tool=memcheck --leak-check=full --trace-children=yes (so gcc's cc1
#                 and as are checked too)
#   lsan          LeakSanitizer's runtime preloaded (Debian's liblsan.so.0), LSAN_OPTIONS=
#                 exitcode=0 (leaks are reported, the run still counts), its default fast
#                 unwinder (frame pointers: short stacks in binaries built without them)
#   lsan-full     the same with fast_unwind_on_malloc=0: full DWARF-unwound stacks
#   heaptrack     heaptrack's preload library recording raw data to a file in the temp
#                 directory (as `heaptrack -r`, without compression and without the interpreter);
#                 heaptrack takes itself out of LD_PRELOAD in child processes, so it traces only
#                 gcc's driver, not cc1 and as
#
# Method: every repetition runs every workload under every configuration, the configurations in
# an order rotated from one repetition to the next, so slow drifts of a shared machine hit them
# all alike. Every configuration runs exactly the same command line on the same input. Wall time
# is taken around each run (bash's EPOCHREALTIME); peak RSS is GNU time's %M (for a program that
# starts others, such as gcc, the largest of them). The tables give the median wall time, the
# median CPU time (user + system: less disturbed by other load on a shared machine than wall
# time) and the largest peak RSS over the repetitions, as a ratio to glibc's from the same run
# (lower is better). A run that fails, crashes, times out or prints something other than what it
# prints under glibc is reported as such and not timed again. Then the arena's targets (issue
# 11: against the best of jemalloc, mimalloc and tcmalloc on python, perl, gcc, git, sqlite and
# churn-random) and the GPA's, as met or not met, and the checked modes compared with each other.
# Needs: bench/install-competitors.sh (as root) first.
set -euo pipefail
export LC_ALL=C
# Debian's programs, the ones install-competitors.sh installs: not a python3 or gcc that some
# version manager put first in PATH.
export PATH=/usr/bin:/bin

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
cfg_tool=bench/run.sh
# shellcheck source=bench/configs.sh
. "$here/configs.sh"   # cfg_build_zalloc, cfg_find_lib

quick=0 reps="" raw="" zlib="" zbase="" only="" configs="" vg_runs=1 vg_only="" limit=900 factor=200 shares=0
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --reps) reps=${2:?--reps needs a number}; shift ;;
    --raw) raw=${2:?--raw needs a file}; shift ;;
    --zalloc) zlib=${2:?--zalloc needs a path}; shift ;;
    --zalloc-base) zbase=${2:?--zalloc-base needs a path}; shift ;;
    --only) only=${2:?--only needs a list}; shift ;;
    --configs) configs=${2:?--configs needs a list}; shift ;;
    --valgrind-runs) vg_runs=${2:?--valgrind-runs needs a number}; shift ;;
    --valgrind-only) vg_only=${2:?--valgrind-only needs a list}; shift ;;
    --timeout) limit=${2:?--timeout needs a number of seconds}; shift ;;
    --timeout-factor) factor=${2:?--timeout-factor needs a number}; shift ;;
    --shares) shares=${2:?--shares needs a number}; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench/run.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
if [ "$quick" = 1 ]; then
  reps=${reps:-3}
  scale=0.25 sort_lines=600000 py_n=6000 pl_n=40000 c_funcs=120 git_commits=100 nest_n=2
  fork_scale=0.1 sql_rows=50000 shell_n=10 mk_funcs=5 git_steps=4 multi_funcs=10
else
  reps=${reps:-5}
  scale=1 sort_lines=2500000 py_n=25000 pl_n=150000 c_funcs=300 git_commits=300 nest_n=8
  fork_scale=0.5 sql_rows=1000000 shell_n=80 mk_funcs=40 git_steps=25 multi_funcs=60
fi
for v in "reps:$reps" "valgrind-runs:$vg_runs" "timeout:$limit" "timeout-factor:$factor"; do
  case "${v#*:}" in ''|*[!0-9]*|0) echo "bench/run.sh: --${v%%:*} needs a positive number" >&2; exit 2 ;; esac
done
case "$shares" in ''|*[!0-9]*) echo "bench/run.sh: --shares needs a number (0: none)" >&2; exit 2 ;; esac

for tool in /usr/bin/time timeout cc gcc python3 perl git sort cmake ninja; do
  command -v "$tool" >/dev/null || {
    echo "bench/run.sh: $tool is missing; run bench/install-competitors.sh as root first" >&2
    exit 1
  }
done

log() { printf '%s\n' "$*" >&2; }
started=$EPOCHREALTIME

# ---- the allocators ----------------------------------------------------------------------------
if [ -z "$zlib" ]; then   # build-bench/, configured if need be and brought up to date
  cfg_build_zalloc "$root"
  zlib=$root/build-bench/libzalloc.so
fi
[ -f "$zlib" ] || { echo "bench/run.sh: no zalloc library at $zlib" >&2; exit 1; }
zlib=$(cd "$(dirname "$zlib")" && pwd)/$(basename "$zlib")


# Nothing from the caller's environment may change a configuration: every one gets exactly the
# preload, variables and launcher given here.
unset LD_PRELOAD LSAN_OPTIONS ASAN_OPTIONS DUMP_HEAPTRACK_OUTPUT VALGRIND_OPTS
for v in $(compgen -e | grep '^ZALLOC_' || true); do unset "$v"; done

work=$(mktemp -d "${TMPDIR:-/tmp}/zalloc-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

# A configuration: PRELOAD (a library or nothing), CENV (VAR=value words for env) and WRAP (a
# launcher the command runs under, e.g. valgrind). Every configuration runs the same CMD.
allocs=(glibc)
declare -A preload=([glibc]="") cenv=([glibc]="") wrap=([glibc]="")
notes=()
want() { [ -z "$configs" ] || [[ ",$configs," == *",$1,"* ]]; }
named() { [[ ",$configs," == *",$1,"* ]]; }   # configurations run only when asked for
skip() { log "skipping $1: $2"; notes+=("$1 was skipped: $2."); }
add() { allocs+=("$1"); preload[$1]=$2; cenv[$1]=$3; wrap[$1]=$4; }

if [ -n "$configs" ]; then
  for c in ${configs//,/ }; do
    case $c in glibc|arena|arena-base|jemalloc|mimalloc|tcmalloc|gpa|gpa-nochecks|gpa-nochecks-base|gpa-sample|page|valgrind|lsan|lsan-full|heaptrack) ;;
      *) echo "bench/run.sh: unknown configuration '$c' (see --help)" >&2; exit 2 ;; esac
  done
fi
want arena && add arena "$zlib" "ZALLOC_MODE=arena" ""
if named arena-base; then
  [ -n "$zbase" ] || { echo "bench/run.sh: the arena-base configuration needs --zalloc-base PATH" >&2; exit 2; }
  [ -f "$zbase" ] || { echo "bench/run.sh: --zalloc-base $zbase: no such file" >&2; exit 2; }
  add arena-base "$(cfg_abs "$zbase")" "ZALLOC_MODE=arena" ""
fi
if named gpa-nochecks-base; then
  [ -n "$zbase" ] || { echo "bench/run.sh: the gpa-nochecks-base configuration needs --zalloc-base PATH" >&2; exit 2; }
  [ -f "$zbase" ] || { echo "bench/run.sh: --zalloc-base $zbase: no such file" >&2; exit 2; }
  add gpa-nochecks-base "$(cfg_abs "$zbase")" "ZALLOC_MODE=gpa ZALLOC_STACK_DEPTH=0 ZALLOC_QUARANTINE=0 ZALLOC_GUARD=0" ""
fi
for spec in jemalloc:libjemalloc.so.2:libjemalloc2 mimalloc:libmimalloc.so.2:libmimalloc2.0 \
            tcmalloc:libtcmalloc_minimal.so.4:libtcmalloc-minimal4; do
  IFS=: read -r name file pkg <<<"$spec"
  want "$name" || continue
  if path=$(cfg_find_lib "$file"); then add "$name" "$path" "" ""
  else skip "$name" "$file not found (Debian package $pkg; see bench/install-competitors.sh)"
  fi
done
if want gpa || want gpa-nochecks; then
  # Until the GPA is in the tree, ZALLOC_MODE=gpa is rejected (or crashes): probe it once.
  if out=$(env LD_PRELOAD="$zlib" ZALLOC_MODE=gpa ZALLOC_LOG=stderr /bin/echo ok 2>&1) &&
     [ "$(head -n 1 <<<"$out")" = ok ]; then
    want gpa && add gpa "$zlib" "ZALLOC_MODE=gpa" ""
    want gpa-nochecks &&
      add gpa-nochecks "$zlib" "ZALLOC_MODE=gpa ZALLOC_STACK_DEPTH=0 ZALLOC_QUARANTINE=0 ZALLOC_GUARD=0" ""
    named gpa-sample && add gpa-sample "$zlib" "ZALLOC_MODE=gpa ZALLOC_SAMPLE=1000" ""
    named page && add page "$zlib" "ZALLOC_MODE=page" ""
  else
    why=$(grep -v '^ok$' <<<"$out" | head -n 1 | cut -c 1-160)
    for c in gpa gpa-nochecks; do
      want $c && skip $c "ZALLOC_MODE=gpa does not run in $zlib yet (${why:-exit status not 0})"
    done
  fi
fi
if want valgrind; then
  if command -v valgrind >/dev/null; then
    add valgrind "" "" "valgrind --tool=memcheck --leak-check=full --trace-children=yes"
  else skip valgrind "the valgrind command is missing (Debian package valgrind)"
  fi
fi
if path=$(cfg_find_lib liblsan.so.0); then
  want lsan && add lsan "$path" "LSAN_OPTIONS=exitcode=0" ""
  want lsan-full && add lsan-full "$path" "LSAN_OPTIONS=exitcode=0:fast_unwind_on_malloc=0" ""
else
  for c in lsan lsan-full; do want $c && skip $c "liblsan.so.0 not found (Debian package liblsan0)"; done
fi
if want heaptrack; then
  if path=$(cfg_find_lib libheaptrack_preload.so); then
    add heaptrack "$path" "DUMP_HEAPTRACK_OUTPUT=$work/heaptrack.raw" ""
  else skip heaptrack "libheaptrack_preload.so not found (Debian package libheaptrack)"
  fi
fi
has_alloc() { [[ " ${allocs[*]} " == *" $1 "* ]]; }

# The GPA's quarantine, for the peak-memory target: the default from the option table.
quarantine_kib=""
if [ -x "$(dirname "$zlib")/zalloc-options" ]; then
  # shellcheck disable=SC2016 # the backquotes are Markdown's
  q=$("$(dirname "$zlib")/zalloc-options" --markdown 2>/dev/null |
      sed -n 's/^| `ZALLOC_QUARANTINE` | `\([0-9]*\)\([KMGT]\{0,1\}\)`.*/\1 \2/p')
  if [ -n "$q" ]; then
    read -r qn qu <<<"$q"
    case $qu in '') quarantine_kib=$((qn / 1024)) ;; K) quarantine_kib=$qn ;; M) quarantine_kib=$((qn * 1024)) ;;
      G) quarantine_kib=$((qn * 1024 * 1024)) ;; T) quarantine_kib=$((qn * 1024 * 1024 * 1024)) ;; esac
  fi
fi

# ---- the workloads and their inputs ------------------------------------------------------------
export ZALLOC_LOG=/dev/null        # zalloc's exit report would go to stderr
export PYTHONMALLOC=malloc         # every Python object through malloc, not pymalloc's pools
export HOME=$work GIT_CONFIG_NOSYSTEM=1 GIT_PAGER=cat

micro=(lifo fifo random realloc realloc2 big prodcons churn-1t churn-2t churn-random fork)
real=(sort python perl gcc git sqlite)
stack=(deep pynest)   # malloc and free from deep call stacks: what stack-recording checkers pay for
spawn=(shell make git-steps gcc-multi)   # many processes, each with the preload
if [ -n "$only" ]; then
  for w in ${only//,/ }; do
    [[ " ${micro[*]} ${real[*]} ${stack[*]} ${spawn[*]} " == *" $w "* ]] ||
      { echo "bench/run.sh: unknown workload '$w' in --only (see --help)" >&2; exit 2; }
  done
  keep() { local w out=(); for w in "$@"; do [[ ",$only," == *",$w,"* ]] && out+=("$w"); done; echo "${out[*]}"; }
  read -ra micro <<<"$(keep "${micro[@]}")"
  read -ra real <<<"$(keep "${real[@]}")"
  read -ra stack <<<"$(keep "${stack[@]}")"
  read -ra spawn <<<"$(keep "${spawn[@]}")"
fi
workloads=("${micro[@]}" "${real[@]}" "${stack[@]}" "${spawn[@]}")
programs=("${real[@]}" "${stack[@]}" "${spawn[@]}")   # checked against glibc's output
# The GPA's targets are stated over the real programs they were first measured on.
target_real=()
for w in "${real[@]}"; do [ "$w" = sqlite ] || target_real+=("$w"); done
has() { [[ " ${workloads[*]} " == *" $1 "* ]]; }
for w in sqlite:sqlite3 make:make shell:bash git-steps:git gcc-multi:gcc; do
  has "${w%%:*}" && ! command -v "${w#*:}" >/dev/null &&
    { echo "bench/run.sh: ${w#*:} is missing (workload ${w%%:*}); run bench/install-competitors.sh as root first" >&2; exit 1; }
done

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
if has sqlite; then
  log "  generating the sqlite dump ($sql_rows rows)"
  python3 "$here/workloads/gen-sql.py" "$sql_rows" >"$work/bench.sql"
fi
has make && python3 "$here/workloads/gen-project.py" "$work/project" 20 "$mk_funcs"
has gcc-multi && python3 "$here/workloads/gen-project.py" "$work/multi" 6 "$multi_funcs"
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
    pynest) CMD=(python3 "$here/workloads/nested.py" "$nest_n") ;;
    perl) CMD=(perl "$here/workloads/hash.pl" "$pl_n") ;;
    gcc) CMD=(gcc -O2 -c "$work/gen.c" -o "$work/gen.o"); CHECK=$work/gen.o ;;
    git) CMD=(git -C "$work/repo" --no-pager log -p -M --stat main) ;;
    sqlite) CMD=(sqlite3 -batch :memory: ".read $work/bench.sql") ;;
    fork) CMD=("$work/alloc-bench" fork "$fork_scale" 8); CHECK="" ;;
    shell) CMD=(bash "$here/workloads/shell.sh" "$shell_n" "$work/shell") ;;
    make) CMD=(make -s -B -j2 -C "$work/project") ;;
    git-steps) CMD=(bash "$here/workloads/git-steps.sh" "$git_steps" "$work/git-steps") ;;
    gcc-multi)   # every file named, in a fixed order; the program written is what is compared
      CMD=(gcc -O2 -I"$work/multi/include" -o "$work/multi/prog" "$work/multi/src/main.c")
      for f in "$work"/multi/src/m[0-9]*.c; do CMD+=("$f"); done
      CHECK=$work/multi/prog ;;
    *) CMD=("$work/alloc-bench" "$1" "$scale"); CHECK="" ;;
  esac
}

# Runs one workload under one configuration: sets WALL_US, RSS_KIB, CPU (user and system
# seconds) and STATUS ("ok" or why not).
declare -A reference glibc_us
measure() {
  local w=$1 a=$2 t0 t1 rc=0 last stop=$limit
  local -a launcher
  command_for "$w"
  if [ -n "${glibc_us[$w]:-}" ]; then   # F times glibc's first time, within [30, limit] seconds
    stop=$(( glibc_us[$w] * factor / 1000000 + 1 ))
    [ "$stop" -ge 30 ] || stop=30
    [ "$stop" -le "$limit" ] || stop=$limit
  fi
  read -ra launcher <<<"${wrap[$a]}"
  rm -f "$work/gen.o" "$work/multi/prog" "$work/heaptrack.raw"
  t0=$EPOCHREALTIME
  # shellcheck disable=SC2086 # cenv holds VAR=value words without blanks
  # timeout before env: the preload must start with the workload's own process (heaptrack, for
  # one, traces the first process it is loaded into and leaves the children alone).
  /usr/bin/time -f '%e %M %U %S' -o "$work/time" timeout -k 10 "$stop" \
    env ${preload[$a]:+LD_PRELOAD="${preload[$a]}"} ${cenv[$a]} \
    "${launcher[@]}" "${CMD[@]}" >"$work/out" 2>"$work/err" || rc=$?
  t1=$EPOCHREALTIME
  local traced=yes   # did the checker see the program? (a run it did not check does not count)
  case $a in
    heaptrack) [ -s "$work/heaptrack.raw" ] && grep -aq "^X .*${CMD[0]##*/}" "$work/heaptrack.raw" || traced=no ;;
    valgrind) grep -q 'HEAP SUMMARY' "$work/err" || traced=no ;;
  esac
  rm -f "$work/heaptrack.raw"
  WALL_US=$(( ${t1/./} - ${t0/./} ))
  last=$(tail -n 1 "$work/time")
  RSS_KIB=$(awk '{print $2}' <<<"$last")
  CPU=$(awk '{print $3 "\t" $4}' <<<"$last")
  STATUS=ok
  if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
    STATUS="timed out (over $stop s)"
  elif [ "$traced" = no ]; then
    STATUS="not traced ($a left no record of ${CMD[0]##*/})"
  elif grep -q '^Command terminated by signal' "$work/time"; then
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
  [ "$a" = glibc ] && [ "$STATUS" = ok ] && [ -z "${glibc_us[$w]:-}" ] && glibc_us[$w]=$WALL_US
  if [ "$STATUS" != ok ]; then
    log "  $w under $a: $STATUS; stderr: $(head -c 300 "$work/err" | tr '\n' ' ')"
  fi
}

# A first, untimed glibc run of each real program: warms the page cache, sets the reference
# output every configuration's run must reproduce.
for w in "${programs[@]}"; do
  measure "$w" glibc
  [ "$STATUS" = ok ] || { echo "bench/run.sh: $w fails under glibc: $STATUS" >&2; exit 1; }
done

# ---- the runs ----------------------------------------------------------------------------------
declare -A walls rsss cpus status
if has_alloc valgrind; then   # valgrind's workloads: the others are marked, not run
  [ -n "$vg_only" ] || vg_only=$(IFS=,; echo "${programs[*]}")
  for w in "${workloads[@]}"; do
    [ "$vg_only" = all ] || [[ ",$vg_only," == *",$w,"* ]] ||
      status[$w|valgrind]="not run (--valgrind-only)"
  done
  [ "$vg_runs" -lt "$reps" ] && notes+=("valgrind ran $vg_runs of the $reps repetitions (--valgrind-runs): its figures are the median of $vg_runs.")
fi
[ -n "$raw" ] && printf 'rep\tworkload\tconfiguration\twall_s\tpeak_rss_kib\tuser_s\tsys_s\tstatus\n' >"$raw"
na=${#allocs[@]}
for ((r = 0; r < reps; r++)); do
  log "repetition $((r + 1)) of $reps ($(( (${EPOCHREALTIME/./} - ${started/./}) / 1000000 )) s so far)"
  for w in "${workloads[@]}"; do
    for ((i = 0; i < na; i++)); do
      a=${allocs[$(( (i + r) % na ))]}
      [[ "${status[$w|$a]:-ok}" == ok ]] || continue   # failed once (or not to run): not run again
      [ "$a" = valgrind ] && [ "$r" -ge "$vg_runs" ] && continue
      [ "$a" = valgrind ] && log "  $w under valgrind (slow)"
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
  local kind=$1 w a base v line head sep rows=0
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
    rows=$((rows + 1))
    for a in "${allocs[@]:1}"; do
      case ${status[$w|$a]:-ok} in
        ok) ;;
        "not run"*) line+=" not run |"; continue ;;
        *) line+=" **${status[$w|$a]}** |"; continue ;;
      esac
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
        # over fewer rows than the others (a run failed or was not run): say over how many
        line+=" *$(awk -v s="${logsum[$a]}" -v n="${count[$a]}" 'BEGIN {printf "%.2f×", exp(s / n)}')"
        [ "${count[$a]}" = "$rows" ] || line+=" (${count[$a]} of $rows)"
        line+="* |"
      else line+=" – |"; fi
    done
    echo "$line"
  fi
}

# val WORKLOAD CONFIG KIND(time|cpu|rss): the table's figure (µs, ms or KiB); empty if none.
val() {
  [ "${status[$1|$2]:-ok}" = ok ] || return 0
  case $3 in
    time) [ -n "${walls[$1|$2]:-}" ] && median "${walls[$1|$2]}" ;;
    cpu) [ -n "${cpus[$1|$2]:-}" ] && median "${cpus[$1|$2]}" ;;
    *) [ -n "${rsss[$1|$2]:-}" ] && maxof "${rsss[$1|$2]}" ;;
  esac
  return 0
}
# cell WORKLOAD A B: A's median wall time over B's, as a table cell; why not, if not.
cell() {
  local x y
  x=$(val "$1" "$2" time) y=$(val "$1" "$3" time)
  if [ -n "$x" ] && [ -n "$y" ]; then awk -v x="$x" -v y="$y" 'BEGIN {printf "%.2f×", x / y}'
  elif [ -z "$x" ]; then echo "$2 ${status[$1|$2]:-no figure}"
  else echo "$3 ${status[$1|$3]:-no figure}"
  fi
}

echo "## Results"
echo
echo "$(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')); Linux $(uname -r); $(ldd --version | head -n 1 | sed 's/^ldd //')."
echo "$reps repetitions$([ "$quick" = 1 ] && echo " (--quick: smaller inputs)"); run time ${elapsed} s."
echo "Ratios are to glibc in the same run: below 1.00× is faster (or smaller) than glibc."
echo "Configurations: $(IFS=' '; for a in "${allocs[@]}"; do printf '%s' "$a"; [ -n "${cenv[$a]}" ] && printf ' (%s)' "${cenv[$a]}"; [ -n "${wrap[$a]}" ] && printf ' (%s)' "${wrap[$a]}"; printf '; '; done | sed 's/; $/./')"
has_alloc heaptrack && has gcc &&
  notes+=("heaptrack takes itself out of LD_PRELOAD in child processes: under it, gcc's driver is traced but cc1 and as are not, so its gcc row does not measure compiling under heaptrack.")
has_alloc heaptrack && [ ${#spawn[@]} -gt 0 ] &&
  notes+=("heaptrack traces only the first process of each process-spawning workload (bash, make or gcc's driver), not the processes it starts.")
for n in "${notes[@]+"${notes[@]}"}"; do echo "$n"; done
for group in micro real stack spawn; do
  case $group in
    micro) ws=("${micro[@]}") what="Microbenchmarks (bench/alloc-bench.c, scale $scale; fork $fork_scale)" ;;
    real) ws=("${real[@]}") what="Real programs" ;;
    stack) ws=("${stack[@]}") what="Stack-heavy workloads" ;;
    *) ws=("${spawn[@]}") what="Process-spawning workloads" ;;
  esac
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

# ---- the arena's targets ---------------------------------------------------------------------
# Issue 11's targets for the arena, against the best of jemalloc, mimalloc and tcmalloc in this
# run on each workload: at most 0.9× its wall time on each, 0.85× on the geometric mean, and a
# peak RSS of at most 1.2× glibc's. Over the real programs and churn-random that ran.
arena_targets=()
for w in python perl gcc git sqlite churn-random; do has "$w" && arena_targets+=("$w"); done
rivals=()
for c in jemalloc mimalloc tcmalloc; do has_alloc "$c" && rivals+=("$c"); done
# Sets best and bname: the lowest median wall time among the rivals on workload $1 (empty if
# none has a figure). Used by the targets and by --shares' bound.
best_rival() {
  best="" bname=""
  local c x
  for c in "${rivals[@]}"; do
    x=$(val "$1" "$c" time)
    [ -n "$x" ] || continue
    if [ -z "$best" ] || awk -v x="$x" -v b="$best" 'BEGIN {exit !(x < b)}'; then best=$x bname=$c; fi
  done
}
if has_alloc arena && [ ${#rivals[@]} -gt 0 ] && [ ${#arena_targets[@]} -gt 0 ]; then
  echo
  echo "### The arena's targets (against the best of $(printf '%s, ' "${rivals[@]}" | sed 's/, $//') on each workload; median wall times)"
  echo
  echo "| workload | arena | best | arena ÷ best | arena's peak RSS ÷ glibc's |"
  echo "|---|--:|--:|--:|--:|"
  logs=0 n=0 worst="" wname="" rss_worst="" rss_name="" missing=()
  for w in "${arena_targets[@]}"; do
    a=$(val "$w" arena time)
    best_rival "$w"
    ar=$(val "$w" arena rss) gr=$(val "$w" glibc rss)
    if [ -z "$a" ] || [ -z "$best" ]; then missing+=("$w"); echo "| $w | - | - | no figure | - |"; continue; fi
    r=$(awk -v a="$a" -v b="$best" 'BEGIN {print a / b}')
    rr=""
    [ -n "$ar" ] && [ -n "$gr" ] && rr=$(awk -v a="$ar" -v g="$gr" 'BEGIN {print a / g}')
    logs=$(awk -v s="$logs" -v r="$r" 'BEGIN {print s + log(r)}')
    n=$((n + 1))
    if [ -z "$worst" ] || awk -v r="$r" -v w="$worst" 'BEGIN {exit !(r > w)}'; then worst=$r wname=$w; fi
    if [ -n "$rr" ] && { [ -z "$rss_worst" ] || awk -v r="$rr" -v w="$rss_worst" 'BEGIN {exit !(r > w)}'; }; then
      rss_worst=$rr rss_name=$w
    fi
    printf '| %s | %s | %s (%s) | %.2f | %s |\n' "$w" "$(awk -v t="$a" 'BEGIN {printf "%.3f s", t / 1e6}')" \
      "$(awk -v t="$best" 'BEGIN {printf "%.3f s", t / 1e6}')" "$bname" "$r" \
      "$([ -n "$rr" ] && awk -v r="$rr" 'BEGIN {printf "%.2f×", r}' || echo -)"
  done
  echo
  verdict() { [ ${#missing[@]} = 0 ] && [ "$n" -gt 0 ] && awk -v r="$1" -v l="$2" 'BEGIN {exit !(r <= l)}' && echo "**met**" || echo "**not met**"; }
  if [ "$n" -gt 0 ]; then
    gm=$(awk -v s="$logs" -v n="$n" 'BEGIN {print exp(s / n)}')
    printf -- '- each workload at most 0.9× the best: %s; largest %.2f (%s)\n' "$(verdict "$worst" 0.9)" "$worst" "$wname"
    printf -- '- geometric mean at most 0.85× the best: %s; %.2f over %d workloads\n' "$(verdict "$gm" 0.85)" "$gm" "$n"
    if [ -n "$rss_worst" ]; then
      printf -- "- peak RSS at most 1.2× glibc's: %s; largest %.2f× (%s)\n" "$(verdict "$rss_worst" 1.2)" "$rss_worst" "$rss_name"
    fi
  fi
  [ ${#missing[@]} -gt 0 ] && echo "- no figure for: ${missing[*]} (each target needs every workload)"
  [ ${#arena_targets[@]} -lt 6 ] &&
    echo "- only ${#arena_targets[@]} of the 6 workloads ran (python, perl, gcc, git, sqlite, churn-random): the verdicts are over those"
fi

# ---- how much of each target program's time an allocator has (--shares) ----------------------
# perf's samples in the preloaded library (its file name up to ".so") and in the kernel, median
# over N runs of each program under each allocator. The bound: the best competitor's time less
# all of its allocator's and the kernel's samples, as a fraction of its time.
share_runs() {   # workload configuration: one perf run; prints "allocator% kernel%"
  local lib=${preload[$2]##*/}
  command_for "$1"
  # shellcheck disable=SC2086 # cenv holds VAR=value words without blanks
  perf record -q -F 10000 -o "$work/perf.data" -- \
    env ${preload[$2]:+LD_PRELOAD="${preload[$2]}"} ${cenv[$2]} "${CMD[@]}" >/dev/null 2>&1 || return 1
  perf report -i "$work/perf.data" --stdio --sort dso 2>/dev/null |
    awk -v lib="${lib%%.so*}" '/^ +[0-9.]+%/ { p = $1; sub("%", "", p)
      if (index($2, lib ".so") == 1) a += p; else if ($2 ~ /^\[kernel/) k += p }
      END { printf "%.1f %.1f\n", a, k }'
}
share_workloads=()
for w in python perl gcc git sqlite; do has "$w" && share_workloads+=("$w"); done
if [ "$shares" -gt 0 ] && has_alloc arena && [ ${#rivals[@]} -gt 0 ] && [ ${#share_workloads[@]} -gt 0 ]; then
  if ! command -v perf >/dev/null || ! perf record -q -o "$work/perf.data" -- true >/dev/null 2>&1; then
    echo
    echo "--shares: skipped, perf is missing or may not record (Debian's linux-perf; kernel.perf_event_paranoid)"
  else
    log "--shares: $shares perf run(s) of ${share_workloads[*]} under arena ${rivals[*]}"
    echo
    echo "### The allocator's share of each program's time (perf samples, median of $shares)"
    echo
    head="| workload |" sep="|---|"
    for c in arena "${rivals[@]}"; do head+=" $c |"; sep+="--:|"; done
    echo "$head kernel | best competitor | a free allocator ÷ best |"
    echo "$sep--:|---|--:|"
    for w in "${share_workloads[@]}"; do
      declare -A al=() ke=()
      for ((k = 0; k < shares; k++)); do
        for c in arena "${rivals[@]}"; do
          if got=$(share_runs "$w" "$c"); then al[$c]+="${got% *} "; ke[$c]+="${got#* } "; fi
        done
      done
      best_rival "$w"
      line="| $w |" kmin="" kmax=""
      for c in arena "${rivals[@]}"; do
        if [ -n "${al[$c]:-}" ]; then
          line+=" $(printf '%.1f' "$(median "${al[$c]}")")% |"
          kc=$(printf '%.1f' "$(median "${ke[$c]}")")
          if [ -z "$kmin" ] || awk -v x="$kc" -v m="$kmin" 'BEGIN {exit !(x < m)}'; then kmin=$kc; fi
          if [ -z "$kmax" ] || awk -v x="$kc" -v m="$kmax" 'BEGIN {exit !(x > m)}'; then kmax=$kc; fi
        else
          line+=" - |"
        fi
      done
      bound="-"
      if [ -n "$bname" ] && [ -n "${al[$bname]:-}" ]; then
        bound=$(awk -v a="$(median "${al[$bname]}")" -v k="$(median "${ke[$bname]}")" 'BEGIN {printf "%.2f", 1 - (a + k) / 100}')
      fi
      echo "$line ${kmin:--}-${kmax:--}% | ${bname:--} | $bound |"
      unset al ke
    done
    echo
    echo "A program whose bound is above 0.9 cannot run at 0.9× the best competitor's time by the allocator's speed alone."
  fi
fi

# ---- the checked modes against each other, and the GPA's targets ------------------------------
pairs=()   # "A B": a column of A's wall time over B's, where both ran
for p in "gpa glibc" "valgrind gpa" "gpa-nochecks jemalloc" "gpa lsan" "gpa lsan-full" "gpa heaptrack" \
         "lsan-full lsan"; do
  has_alloc "${p% *}" && has_alloc "${p#* }" && pairs+=("$p")
done
[ ${#pairs[@]} -gt 0 ] || exit 0
echo
echo "### Checked modes against each other: wall time, ratio of medians"
echo
echo "Each column is the first configuration's median wall time over the second's: valgrind ÷ gpa"
echo "is how many times faster the GPA is than memcheck; the others are below 1.00× where the"
echo "first is faster."
echo
head="| workload |" sep="|---|"
for p in "${pairs[@]}"; do head+=" ${p% *} ÷ ${p#* } |"; sep+="--:|"; done
if has_alloc gpa; then head+=" gpa peak RSS | 2 × glibc + quarantine |"; sep+="--:|--:|"; fi
echo "$head"; echo "$sep"
for w in "${workloads[@]}"; do
  line="| $w |"
  for p in "${pairs[@]}"; do line+=" $(cell "$w" "${p% *}" "${p#* }") |"; done
  if has_alloc gpa; then
    g=$(val "$w" gpa rss) b=$(val "$w" glibc rss)
    line+=" $([ -n "$g" ] && awk -v v="$g" 'BEGIN {printf "%.1f MiB", v / 1024}' || echo –) |"
    line+=" $([ -n "$b" ] && [ -n "$quarantine_kib" ] && awk -v b="$b" -v q="$quarantine_kib" 'BEGIN {printf "%.1f MiB", (2 * b + q) / 1024}' || echo –) |"
  fi
  echo "$line"
done

# target_line LABEL OP LIMIT A B: one line saying whether A's median wall time over B's is at most
# (OP le) or at least (OP ge) LIMIT on every real program of target_real (those the targets were
# set on: sqlite, added later, is not among them, so verdicts stay comparable with earlier runs),
# with the worst one and the geometric mean; the stack-heavy workloads are given apart. Any of
# those programs without a figure: not met.
target_line() {
  local label=$1 op=$2 limit=$3 a=$4 b=$5 w x y r worst="" wname="" missing=() logs=0 n=0 extra=""
  for w in "${target_real[@]}"; do
    x=$(val "$w" "$a" time) y=$(val "$w" "$b" time)
    if [ -z "$x" ] || [ -z "$y" ]; then
      missing+=("$w (${status[$w|$a]:-${status[$w|$b]:-no figure}})"); continue
    fi
    r=$(awk -v x="$x" -v y="$y" 'BEGIN {print x / y}')
    logs=$(awk -v s="$logs" -v r="$r" 'BEGIN {print s + log(r)}'); n=$((n + 1))
    if [ -z "$worst" ] || awk -v r="$r" -v w="$worst" -v op="$op" 'BEGIN {exit !(op == "le" ? r > w : r < w)}'; then
      worst=$r wname=$w
    fi
  done
  for w in "${stack[@]}"; do
    x=$(val "$w" "$a" time) y=$(val "$w" "$b" time)
    [ -n "$x" ] && [ -n "$y" ] && extra+="${extra:+, }$w $(awk -v x="$x" -v y="$y" 'BEGIN {printf "%.2f×", x / y}')"
  done
  local verdict
  if [ "$n" = 0 ]; then verdict="**not measured**"
  elif [ ${#missing[@]} -gt 0 ]; then verdict="**not met**"
  elif awk -v r="$worst" -v l="$limit" -v op="$op" 'BEGIN {exit !(op == "le" ? r <= l : r >= l)}'; then verdict="**met**"
  else verdict="**not met**"
  fi
  printf -- '- %s: %s' "$label" "$verdict"
  [ "$n" -gt 0 ] && printf -- '; %s %s (%s), geometric mean %s over %d real programs' \
    "$([ "$op" = le ] && echo largest || echo smallest)" \
    "$(awk -v r="$worst" 'BEGIN {printf "%.2f×", r}')" "$wname" \
    "$(awk -v s="$logs" -v n="$n" 'BEGIN {printf "%.2f×", exp(s / n)}')" "$n"
  if [ ${#missing[@]} -gt 0 ]; then
    printf -- '; no figure for %s' "${missing[0]}"; printf -- ', %s' "${missing[@]:1}"
  fi
  [ -n "$extra" ] && printf -- '; stack-heavy: %s' "$extra"
  echo
}
if [ ${#target_real[@]} -gt 0 ] && { has_alloc gpa || has_alloc gpa-nochecks; }; then
  echo
  echo "### The GPA's targets (real programs: ${target_real[*]})"
  echo
  has_alloc gpa && target_line "full-check GPA within 2.5× glibc's wall time" le 2.5 gpa glibc
  has_alloc gpa && has_alloc valgrind &&
    target_line "full-check GPA at least 8× faster than valgrind memcheck (valgrind ÷ gpa)" ge 8 valgrind gpa
  has_alloc gpa-nochecks && has_alloc jemalloc &&
    target_line "GPA with checks off within 1.25× jemalloc's wall time" le 1.25 gpa-nochecks jemalloc
  if has_alloc gpa; then
    over=() worst="" wname="" n=0
    for w in "${target_real[@]}"; do
      g=$(val "$w" gpa rss) b=$(val "$w" glibc rss)
      if [ -z "$g" ] || [ -z "$b" ] || [ -z "$quarantine_kib" ]; then over+=("$w (no figure)"); continue; fi
      r=$(awk -v g="$g" -v b="$b" -v q="$quarantine_kib" 'BEGIN {print g / (2 * b + q)}')
      n=$((n + 1))
      if [ -z "$worst" ] || awk -v r="$r" -v w="$worst" 'BEGIN {exit !(r > w)}'; then worst=$r wname=$w; fi
      awk -v r="$r" 'BEGIN {exit !(r > 1)}' && over+=("$w")
    done
    printf -- "- full-check GPA's peak RSS within 2× glibc's plus the quarantine (%s): %s" \
      "$([ -n "$quarantine_kib" ] && awk -v q="$quarantine_kib" 'BEGIN {printf "%.0f MiB", q / 1024}' || echo unknown)" \
      "$([ ${#over[@]} = 0 ] && [ "$n" -gt 0 ] && echo "**met**" || echo "**not met**")"
    [ "$n" -gt 0 ] && printf -- '; the largest is %s of the limit (%s)' "$(awk -v r="$worst" 'BEGIN {printf "%.0f%%", r * 100}')" "$wname"
    [ ${#over[@]} -gt 0 ] && printf -- '; over or without a figure: %s' "${over[*]}"
    echo
  fi
fi
