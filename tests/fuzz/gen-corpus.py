#!/usr/bin/env python3
"""Write the seed corpus of tests/fuzz (the files named seed-*) in the op format of fuzz_api.c:
each op an opcode byte and its argument bytes. Deterministic: rerun it and commit the result
if the format changes. Files the fuzzer found (min-*) and regression inputs (regress-*) are
kept as they are.

  tests/fuzz/gen-corpus.py tests/fuzz/corpus
"""
import os
import sys

(MALLOC, CALLOC, REALLOC, REALLOC0, FREE, POSIX_MEMALIGN, ALIGNED_ALLOC, MEMALIGN, VALLOC,
 REALLOCARRAY, USABLE, CHECK, XFREE, XALLOC, HUGE, BAD) = range(16)
NCLASS = 88
NBOUND = 9  # boundaries[] in fuzz_api.c
NHUGE = 8


def small(n): return [0, 1, n]
def cls(c, d=0): return [2, d + 1, c]
def bound(i, d=0): return [5, d + 1, i]
def zero(): return [6, 1]
def u16(n): return [4, 1, n & 255, n >> 8]
def align(lg): return [lg]                    # 1 << lg, lg < 23
def bad_align(i): return [0x80 + i]           # bad[i % 7]: 0, 3, 24, 48, 4097, SIZE_MAX, 3 << 20


def classes(lo, hi):
    out = []
    for c in range(lo, hi):
        for d in (-1, 0, 1):
            out += [MALLOC] + cls(c, d)
        out += [FREE, 0, USABLE, 1, FREE, 1]
    return out + [CHECK]


seeds = {
    "seed-classes-0": classes(0, 22),
    "seed-classes-1": classes(22, 44),
    "seed-classes-2": classes(44, 66),
    "seed-classes-3": classes(66, 88),
    "seed-boundaries": sum(([MALLOC] + bound(i, d) for i in range(NBOUND) for d in (-1, 0, 1)), []) + [CHECK],
    "seed-zero": [MALLOC] + zero() + [MALLOC] + zero() + [USABLE, 0, REALLOC] + zero() + [0] +
                 [CALLOC] + zero() + [3] + [REALLOC0, 0],
    "seed-realloc-grow": [MALLOC] + small(24) + sum(([REALLOC] + s + [0] for s in
                          (cls(7, 1), cls(15), bound(2, -1), bound(2, 1), bound(3, 1), bound(7), bound(8, 1),
                           small(16), u16(40000), cls(87, -1))), []) + [REALLOC0, 0],
    "seed-realloc-null": [REALLOC] + small(100) + [REALLOC] + bound(3) + [0, FREE, 0, REALLOC] + zero(),
    "seed-realloc-shrink": [MALLOC] + bound(6, 1) + sum(([REALLOC] + s + [0] for s in
                            (bound(4), bound(2, -1), cls(60), cls(8, -1), small(1))), []),
    "seed-reallocarray": [MALLOC] + small(64) + [REALLOCARRAY] + small(200) + [2, 1, 0] +
                         [REALLOCARRAY] + small(200) + [3, 0] + [REALLOCARRAY] + bound(3) + [1, 2, 0],
    "seed-calloc": sum(([CALLOC] + s + [m] for s, m in ((small(7), 3), (cls(20), 1), (bound(2, 1), 0),
                       (bound(4), 2), (u16(4097), 3))), []) + [FREE, 0, CALLOC] + cls(20) + [1, CHECK],
    "seed-posix-memalign": sum(([POSIX_MEMALIGN] + align(lg) + small(lg * 11) for lg in range(23)), []) +
                           sum(([POSIX_MEMALIGN] + bad_align(i) + small(8) for i in range(7)), []),
    "seed-aligned-alloc": sum(([ALIGNED_ALLOC] + align(lg) + cls(lg * 3) for lg in range(0, 23, 2)), []) +
                          sum(([ALIGNED_ALLOC] + bad_align(i) + small(8) for i in range(7)), []),
    "seed-memalign": sum(([MEMALIGN] + align(lg) + bound(lg % NBOUND, 1) for lg in range(4, 23, 3)), []) +
                     sum(([MEMALIGN] + bad_align(i) + small(40) for i in range(7)), []),
    "seed-huge-align": [POSIX_MEMALIGN, 0x40 | 30] + small(16) + [MEMALIGN, 0x40 | 40] + small(16) +
                       [ALIGNED_ALLOC, 0x40 | 63] + small(16) + [POSIX_MEMALIGN, 0x40 | 23] + small(16),
    "seed-valloc": [VALLOC] + small(1) + [0, VALLOC] + zero() + [1, VALLOC] + bound(2, 1) + [1] +
                   [VALLOC] + cls(40, 1) + [0, CHECK],
    "seed-huge": sum(([HUGE, h, f] + ([0] if f == 1 else []) for h in range(NHUGE) for f in range(6)), []),
    "seed-huge-realloc": [MALLOC] + small(77) + sum(([HUGE, h, 2, 0] for h in range(NHUGE)), []) + [CHECK],
    "seed-threads": sum(([MALLOC] + cls(c) for c in (0, 9, 30, 50, 70, 87)), []) + [MALLOC] + bound(4, 1) +
                    [XFREE, 7, 0, 1, 2, 3, 4, 5, 6] + [XALLOC] + cls(33) + [XALLOC] + bound(3, 1) +
                    [REALLOC] + cls(40) + [0, XFREE, 1, 0, 0],
    "seed-bad-double": sum(([MALLOC] + s + [BAD, 0, 0] for s in
                           (small(16), cls(30), cls(87), bound(0, 1), bound(3, 1), bound(8, 1), zero())), []),
    "seed-bad-double-thread": sum(([MALLOC] + s + [BAD, 1, 0] for s in (small(48), cls(60), bound(4))), []),
    "seed-bad-freed": sum(([MALLOC] + s + [BAD, 2, 0, r] for s in (small(32), cls(80), bound(5)) for r in (0, 1)),
                          []),
    "seed-bad-interior": sum(([MALLOC] + s + [BAD, sub, 0, off & 255, off >> 8, 0] for s in
                             (small(64), cls(50), bound(4, 1)) for sub in (3, 4, 5) for off in (0, 15, 4095)),
                             []),
    "seed-bad-wild": sum(([BAD, sub, sel, off, 0] for sub in (3, 4, 5) for sel in (1, 2, 3) for off in (0, 16)),
                         []),
    "seed-mixed": [MALLOC] + small(10) + [CALLOC] + cls(12) + [2] + [POSIX_MEMALIGN] + align(12) + cls(44) +
                  [REALLOC] + bound(1) + [1] + [BAD, 3, 0, 5, 0, 0] + [XFREE, 2, 0, 0] + [HUGE, 0, 0] +
                  [USABLE, 0, REALLOC0, 0, CHECK],
}


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for name, ops in seeds.items():
        assert all(0 <= b < 256 for b in ops), name
        with open(os.path.join(out, name), "wb") as f:
            f.write(bytes(ops))


if __name__ == "__main__":
    main()
