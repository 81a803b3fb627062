#!/bin/sh
# The long fuzz run of docs/fuzzing.md, and the coverage of src/ its corpus reaches.
#   tests/fuzz/run-long.sh BUILD_DIR SECONDS_PER_MODE OUT_DIR
# BUILD_DIR: a build with the tests (scripts/build.sh build -DZALLOC_BUILD_TESTS=ON), for
# fuzz_replay. Needs clang-14, libclang-rt-14-dev, llvm-profdata-14 and llvm-cov-14.
#  1. fuzz_api_in: fuzz_api.c with zalloc's sources (src/, preload/preload.c) linked in and
#     instrumented for libFuzzer (-fsanitize=fuzzer-no-link), so that the fuzzer is guided by
#     the branches taken inside the allocator, not only the harness's. The executable's
#     malloc, free, ... are preload.c's, which take the C library's place exactly as
#     LD_PRELOAD's do.
#  2. SECONDS_PER_MODE of fuzzing in each of gpa, arena and page (run-fuzz.sh: the run fails on
#     a crash, a wrong result or any finding but refused requests), from tests/fuzz/corpus;
#     then every input it kept merged (-merge=1: the smallest set with the same coverage)
#     into OUT_DIR/corpus.
#  3. fuzz_replay over OUT_DIR/corpus with the bad calls, under BUILD_DIR's libzalloc.so, in
#     each mode: the report must count as many findings of each kind as bad calls of it, and
#     none of another kind.
#  4. libzalloc.so built with clang -fprofile-instr-generate -fcoverage-mapping, fuzz_replay
#     run over OUT_DIR/corpus under it in each mode, with and without the bad calls, and
#     llvm-cov's report of src/ (OUT_DIR/coverage.txt). Continuous mode (%c, with
#     -runtime-counter-relocation): the counters reach the file as they change, so the report
#     written from zalloc's destructor - after the profile runtime's atexit dump - is counted.
# COVERAGE_ONLY=1: steps 3 and 4 alone, on the OUT_DIR/corpus of an earlier run.
set -eu
build=$(cd "$1" && pwd) secs=$2 out=$3
src=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)
CLANG=${CLANG:-clang-14}

if [ -z "${COVERAGE_ONLY:-}" ]; then
echo "== 1. fuzz_api_in"
mkdir -p "$out/obj"
for f in "$src"/src/*.c "$src"/src/prim/*.c "$src"/preload/preload.c; do
  o="$out/obj/$(basename "$(dirname "$f")")_$(basename "$f" .c).o"
  "$CLANG" -c -O2 -g -fPIC -fvisibility=hidden -fsanitize=fuzzer-no-link \
    -fno-builtin-malloc -fno-builtin-calloc -fno-builtin-realloc -fno-builtin-free \
    -I"$src/src" "$f" -o "$o" 2>/dev/null
done
"$CLANG" -O1 -g -fno-builtin -fsanitize=fuzzer -I"$src/src" -I"$src/tests/support" \
  "$src/tests/fuzz/fuzz_api.c" "$out"/obj/*.o -rdynamic -o "$out/fuzz_api_in" -lpthread -ldl

echo "== 2. $secs s of fuzzing per mode"
for mode in gpa arena page; do
  rm -rf "$out/$mode"
  echo "-- $mode"
  FUZZ_WORK="$out/$mode" sh "$src/tests/fuzz/run-fuzz.sh" "$out/fuzz_api_in" "" "$mode" \
    "$src/tests/fuzz/corpus" -max_total_time="$secs"
done
rm -rf "$out/corpus"
mkdir -p "$out/corpus"
ZALLOC_CRASH_REPORT=0 "$out/fuzz_api_in" -merge=1 "$out/corpus" "$src/tests/fuzz/corpus" \
  "$out/gpa/new" "$out/arena/new" "$out/page/new" >"$out/merge.log" 2>&1
fi
echo "merged corpus: $(ls "$out/corpus" | wc -l) files, $(cat "$out"/corpus/* | wc -c) bytes"

echo "== 3. the merged corpus with the bad calls: one finding per bad call, by kind"
for mode in gpa arena page; do
  rm -f "$out/bad-$mode.json"
  env LD_PRELOAD="$build/libzalloc.so" ZALLOC_MODE=$mode FUZZ_BAD=1 ZALLOC_FORMAT=json \
    ZALLOC_LOG="$out/bad-$mode.json" "$build/tests/fuzz/fuzz_replay" "$out"/corpus/* >"$out/bad-$mode.expect"
  python3 - "$out/bad-$mode.json" "$out/bad-$mode.expect" "$mode" <<'PY'
import json, sys
report = json.loads(open(sys.argv[1]).readline())["errors"]["by_kind"]
want = {l.split()[1]: int(l.split()[2]) for l in open(sys.argv[2]) if l.startswith("expect ")}
got = {k: report.get(k, 0) for k in want}
extra = {k: v for k, v in report.items() if k not in want}
print(f"{sys.argv[3]}: {'as expected' if got == want and not extra else 'DIFFERENT'}: {got}")
sys.exit(0 if got == want and not extra else 1)
PY
done

echo "== 4. coverage of src/ by the merged corpus"
cmake -S "$src" -B "$out/build-cov" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER="$CLANG" \
  -DZALLOC_BUILD_TESTS=OFF -DCMAKE_C_FLAGS="-fprofile-instr-generate -fcoverage-mapping -mllvm -runtime-counter-relocation" \
  -DCMAKE_SHARED_LINKER_FLAGS="-fprofile-instr-generate" >/dev/null
cmake --build "$out/build-cov" -j2 --target libzalloc.so >/dev/null
rm -rf "$out/prof"
mkdir -p "$out/prof"
for mode in gpa arena page; do
  for bad in 0 1; do
    env LD_PRELOAD="$out/build-cov/libzalloc.so" LLVM_PROFILE_FILE="$out/prof/%c%p.profraw" \
      ZALLOC_MODE=$mode FUZZ_BAD=$bad ZALLOC_LOG="$out/prof/report.%p" \
      "$build/tests/fuzz/fuzz_replay" "$out"/corpus/* >/dev/null
  done
done
llvm-profdata-14 merge -o "$out/zalloc.profdata" "$out"/prof/*.profraw
llvm-cov-14 report "$out/build-cov/libzalloc.so" -instr-profile="$out/zalloc.profdata" \
  "$src/src" >"$out/coverage.txt"
cat "$out/coverage.txt"
