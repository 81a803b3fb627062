#!/bin/sh
# Run the libFuzzer target fuzz_api under libzalloc.so in one mode, from the checked-in corpus.
#   run-fuzz.sh FUZZ_API LIBZALLOC MODE CORPUS_DIR [libFuzzer options...]   (e.g. -runs=2000)
# LIBZALLOC empty: FUZZ_API has zalloc linked in (run-long.sh's coverage-guided build).
# New inputs go to a temporary directory (FUZZ_WORK if set, kept; else removed when all is
# well), never into CORPUS_DIR. Fails if libFuzzer finds a crash or a wrong result (the harness
# aborts), or if zalloc's report of the run counts any finding but refused requests - the
# target makes only valid calls. ZALLOC_CRASH_REPORT=0: with zalloc's handlers in place libFuzzer
# installs none of its own, and would neither report a crash nor save its input.
set -eu
bin=$1 lib=$2 mode=$3 corpus=$4
shift 4
work=${FUZZ_WORK:-$(mktemp -d "${TMPDIR:-/tmp}/fuzz.XXXXXX")}
mkdir -p "$work/new" "$work/reports"
rc=0
env ${lib:+LD_PRELOAD="$lib"} ZALLOC_MODE="$mode" ZALLOC_CRASH_REPORT=0 ZALLOC_FORMAT=json \
    ZALLOC_LOG="$work/reports/fuzz.%p.json" \
    "$bin" -seed=1 -max_len=4096 -artifact_prefix="$work/" -print_final_stats=1 "$@" \
    "$work/new" "$corpus" >"$work/fuzz.log" 2>&1 || rc=$?
grep -E '^(#[0-9]+[[:space:]]+(INITED|DONE)|Done|stat::)' "$work/fuzz.log" || true
if [ "$rc" -ne 0 ]; then
  tail -n 60 "$work/fuzz.log"
  echo "run-fuzz.sh: fuzz_api ($mode) failed with status $rc; inputs and log kept in $work" >&2
  exit 1
fi
# The target's report: refused requests only, no other finding. llvm-symbolizer, which
# libFuzzer may start, reports too: only fuzz_api's is looked at.
python3 - "$work/reports" "$mode" <<'PY'
import json, os, sys
d, mode = sys.argv[1], sys.argv[2]
seen = 0
for name in os.listdir(d):
    for line in open(os.path.join(d, name)):
        r = json.loads(line)
        if not os.path.basename(r["process"]["program"]).startswith("fuzz_api"):
            continue
        seen += 1
        kinds = dict(r["errors"]["by_kind"])
        kinds.pop("impossible-request", None)
        assert r["process"]["mode"] == mode, f"ran in mode {r['process']['mode']}, not {mode}"
        assert not kinds, f"findings other than refused requests: {kinds}"
        print(f"fuzz_api ({mode}): {r['stats']['malloc']} malloc, {r['stats']['free']} free, "
              f"{r['errors']['by_kind'].get('impossible-request', 0)} refused requests, no other finding")
assert seen == 1, f"{seen} reports of fuzz_api in {d}"
PY
[ -n "${FUZZ_WORK:-}" ] || rm -rf "$work"
