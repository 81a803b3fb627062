#!/usr/bin/env python3
"""Draw bench/'s results as SVG files, with Python's standard library only.

  python3 bench/plot.py threads THREADS.tsv [--out DIR] [--title TEXT]
      From bench/threads.sh's TSV: for each test (churn, prodcons) and each of wall and CPU
      time, a line plot of the time per operation at T threads over the same configuration's
      time at the fewest threads (1.00 is perfect scaling), one line per configuration.
      Writes DIR/threads-TEST-wall.svg and DIR/threads-TEST-cpu.svg.

  python3 bench/plot.py bars RAW.tsv [--out DIR] [--only W1,W2,...] [--name NAME] [--title TEXT]
      From bench/run.sh --raw FILE: grouped bars, one group per workload and one bar per
      configuration, of the median wall time, the median CPU time (user + system) and the
      largest peak RSS over the repetitions, each as a ratio to glibc's (a logarithmic axis:
      bars go up from 1.00 for slower or larger, down for faster or smaller). A configuration
      whose run failed has a mark and the reason at the baseline instead of a bar.
      Writes DIR/NAME-time.svg, DIR/NAME-cpu.svg and DIR/NAME-rss.svg (NAME default "bench").

DIR defaults to the current folder. Exit status 2 on bad input, with a one-line reason.
"""
import argparse
import csv
import math
import os
import statistics
import sys
from xml.sax.saxutils import escape

# One colour and dash pattern per configuration, the same in every plot.
STYLE = {
    "glibc": ("#4d4d4d", ""),
    "arena": ("#d62728", ""),
    "gpa": ("#1f77b4", ""),
    "gpa-nochecks": ("#17becf", "6,3"),
    "gpa-sample": ("#aec7e8", "2,2"),
    "page": ("#393b79", "4,2"),
    "jemalloc": ("#2ca02c", "2,3"),
    "mimalloc": ("#ff7f0e", "8,3,2,3"),
    "tcmalloc": ("#9467bd", "4,4"),
    "valgrind": ("#8c564b", ""),
    "lsan": ("#e377c2", "2,3"),
    "lsan-full": ("#bcbd22", "6,3"),
    "heaptrack": ("#7f7f7f", "8,3,2,3"),
}
EXTRA = ["#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173"]
FONT = 'font-family="DejaVu Sans, Helvetica, Arial, sans-serif"'


def fail(msg):
    print(f"bench/plot.py: {msg}", file=sys.stderr)
    sys.exit(2)


def read_tsv(path, what, need):
    """The rows of a tab-separated file with a header that has at least the columns `need`."""
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f, delimiter="\t"))
    except OSError as e:
        fail(f"cannot read {path}: {e.strerror}")
    if not rows or not need <= set(rows[0]):
        fail(f"{path} is not a {what} with rows (columns {', '.join(sorted(need))} needed)")
    return rows


def style(name, i):
    return STYLE.get(name, (EXTRA[i % len(EXTRA)], "3,2"))


class Svg:
    def __init__(self, width, height):
        self.w, self.h, self.items = width, height, []

    def add(self, s):
        self.items.append(s)

    def text(self, x, y, s, size=12, anchor="start", weight="normal", rotate=None, color="#000"):
        tr = f' transform="rotate({rotate} {x:.1f} {y:.1f})"' if rotate is not None else ""
        self.add(f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
                 f'font-weight="{weight}" fill="{color}" {FONT}{tr}>{escape(str(s))}</text>')

    def line(self, x1, y1, x2, y2, color="#000", width=1, dash=""):
        d = f' stroke-dasharray="{dash}"' if dash else ""
        self.add(f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{color}" '
                 f'stroke-width="{width}"{d}/>')

    def rect(self, x, y, w, h, fill, stroke="none"):
        self.add(f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(w, 0):.1f}" height="{max(h, 0):.1f}" '
                 f'fill="{fill}" stroke="{stroke}"/>')

    def polyline(self, pts, color, width=2, dash=""):
        d = f' stroke-dasharray="{dash}"' if dash else ""
        p = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
        self.add(f'<polyline points="{p}" fill="none" stroke="{color}" stroke-width="{width}" '
                 f'stroke-linejoin="round"{d}/>')

    def circle(self, x, y, r, color):
        self.add(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r}" fill="{color}"/>')

    def write(self, path):
        with open(path, "w") as f:
            f.write(f'<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" '
                    f'width="{self.w}" height="{self.h}" viewBox="0 0 {self.w} {self.h}">\n'
                    f'<rect width="100%" height="100%" fill="white"/>\n')
            f.write("\n".join(self.items))
            f.write("\n</svg>\n")
        print(f"bench/plot.py: wrote {path}", file=sys.stderr)


def nice_step(span, target=6):
    raw = span / target
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * mag:
            return m * mag
    return 10 * mag


def fmt_ratio(v):
    return f"{v:.2f}×" if v < 10 else f"{v:.1f}×" if v < 100 else f"{v:.0f}×"


def legend(svg, names, x, y, max_width, line=True):
    """One row (wrapping) of swatches and names; returns the y below it."""
    cx = x
    for i, n in enumerate(names):
        color, dash = style(n, i)
        w = 34 + 7.2 * len(n)
        if cx + w > x + max_width and cx > x:
            cx, y = x, y + 18
        if line:
            svg.line(cx, y - 4, cx + 22, y - 4, color, 2.5, dash)
        else:
            svg.rect(cx + 4, y - 11, 14, 11, color)
        svg.text(cx + 27, y, n, 12)
        cx += w
    return y + 18


# ---- threads ------------------------------------------------------------------------------------

def plot_threads(args):
    rows = read_tsv(args.tsv, "bench/threads.sh TSV",
                    {"test", "threads", "configuration", "wall_ns_per_op", "cpu_ns_per_op", "status"})
    tests = list(dict.fromkeys(r["test"] for r in rows))
    configs = list(dict.fromkeys(r["configuration"] for r in rows))
    for test in tests:
        for kind in ("wall", "cpu"):
            series, base = {}, {}
            for r in rows:
                if r["test"] != test or r["status"] != "ok":
                    continue
                t, v = int(r["threads"]), float(r[f"{kind}_ns_per_op"])
                c = r["configuration"]
                series.setdefault(c, []).append((t, v))
            for c in series:
                series[c].sort()
                base[c] = series[c][0][1]
            if not series:
                continue
            what = "wall time" if kind == "wall" else "CPU time (user + system)"
            title = args.title or f"{test}: {what} per operation, relative to the fewest threads"
            draw_lines(series, base, configs, title, what,
                       os.path.join(args.out, f"threads-{test}-{kind}.svg"), test)


def draw_lines(series, base, order, title, what, path, test):
    W, H = 860, 520
    left, right, top, bottom = 80, 230, 60, 70
    svg = Svg(W, H)
    pw, ph = W - left - right, H - top - bottom
    xs = sorted({t for s in series.values() for t, _ in s})
    lx = [math.log2(t) for t in xs]
    x0, x1 = min(lx), max(lx) if max(lx) > min(lx) else min(lx) + 1
    rel = [v / base[c] for c, s in series.items() for _, v in s]
    ymax = max(max(rel) * 1.08, 1.5)
    ymin = 0.0
    step = nice_step(ymax - ymin)
    X = lambda t: left + (math.log2(t) - x0) / (x1 - x0) * pw
    Y = lambda v: top + ph - (v - ymin) / (ymax - ymin) * ph
    svg.text(W / 2, 28, title, 15 if len(title) < 80 else 13, "middle", "bold")
    # grid and axes
    v = ymin
    while v <= ymax + 1e-9:
        svg.line(left, Y(v), left + pw, Y(v), "#e0e0e0")
        svg.text(left - 8, Y(v) + 4, f"{v:g}", 11, "end")
        v += step
    svg.line(left, Y(1), left + pw, Y(1), "#000", 1, "5,4")
    svg.text(left + pw - 4, Y(1) - 5, "perfect scaling", 10, "end", color="#333")
    for t in xs:
        svg.line(X(t), top, X(t), top + ph, "#f0f0f0")
        svg.text(X(t), top + ph + 18, str(t), 11, "middle")
    svg.line(left, top + ph, left + pw, top + ph)
    svg.line(left, top, left, top + ph)
    xl = "threads (prodcons: T/2 producer/consumer pairs)" if test == "prodcons" else "threads"
    svg.text(left + pw / 2, H - 25, xl, 13, "middle")
    svg.text(22, top + ph / 2, f"{what} per operation ÷ at {xs[0]} thread{'s' if xs[0] > 1 else ''}",
             13, "middle", rotate=-90)
    # lines
    names = [c for c in order if c in series]
    for i, c in enumerate(names):
        color, dash = style(c, i)
        pts = [(X(t), Y(v / base[c])) for t, v in series[c]]
        svg.polyline(pts, color, 2.5, dash)
        for x, y in pts:
            svg.circle(x, y, 3.5, color)
    # legend at the right, with the absolute figure at the fewest threads
    ly = top + 10
    svg.text(left + pw + 20, ly, "configuration (ns/op at", 11, color="#333")
    svg.text(left + pw + 20, ly + 14, f"{xs[0]} thread{'s' if xs[0] > 1 else ''})", 11, color="#333")
    ly += 38
    for i, c in enumerate(names):
        color, dash = style(c, i)
        svg.line(left + pw + 20, ly - 4, left + pw + 46, ly - 4, color, 2.5, dash)
        svg.circle(left + pw + 33, ly - 4, 3.5, color)
        svg.text(left + pw + 52, ly, f"{c} ({series[c][0][1]:.0f})", 12)
        ly += 20
    svg.write(path)


# ---- bars ----------------------------------------------------------------------------------------

def plot_bars(args):
    rows = read_tsv(args.raw, "bench/run.sh --raw TSV",
                    {"workload", "configuration", "wall_s", "peak_rss_kib", "user_s", "sys_s", "status"})
    only = args.only.split(",") if args.only else None
    workloads = [w for w in dict.fromkeys(r["workload"] for r in rows) if not only or w in only]
    if only:
        missing = [w for w in only if w not in workloads]
        if missing:
            fail(f"no rows for {', '.join(missing)} in {args.raw}")
    configs = list(dict.fromkeys(r["configuration"] for r in rows))
    if "glibc" not in configs:
        fail(f"{args.raw} has no glibc rows: the ratios need them")
    data, status = {}, {}
    for r in rows:
        k = (r["workload"], r["configuration"])
        if r["status"] != "ok":
            status[k] = r["status"]
            continue
        d = data.setdefault(k, {"time": [], "cpu": [], "rss": []})
        d["time"].append(float(r["wall_s"]))
        d["cpu"].append(float(r["user_s"]) + float(r["sys_s"]))
        d["rss"].append(float(r["peak_rss_kib"]))
    others = [c for c in configs if c != "glibc"]
    for kind, what in (("time", "wall time, median"), ("cpu", "CPU time (user + system), median"),
                       ("rss", "peak RSS, largest")):
        vals = {}
        for w in workloads:
            b = data.get((w, "glibc"))
            if not b:
                continue
            bv = max(b[kind]) if kind == "rss" else statistics.median(b[kind])
            for c in others:
                d = data.get((w, c))
                if d and bv > 0 and (c, w) not in status:
                    v = max(d[kind]) if kind == "rss" else statistics.median(d[kind])
                    if kind == "cpu":   # below GNU time's 10 ms resolution
                        v, bv2 = max(v, 0.01), max(bv, 0.01)
                    else:
                        bv2 = bv
                    vals[(w, c)] = v / bv2 if v > 0 else None
        title = args.title or f"{what}, ratio to glibc"
        draw_bars(workloads, others, vals, status, data, title,
                  os.path.join(args.out, f"{args.name}-{kind}.svg"))


def draw_bars(workloads, configs, vals, status, data, title, path):
    bw, gap = 13, 22
    gw = bw * len(configs) + gap
    left, right, top, bottom = 80, 30, 95, 120
    pw = max(gw * len(workloads), 480)
    W, H = left + pw + right, 560
    ph = H - top - bottom
    svg = Svg(W, H)
    rs = [v for v in vals.values() if v]
    lo = min(min(rs, default=1) / 1.25, 0.8)
    hi = max(max(rs, default=1) * 1.25, 1.25)
    l0, l1 = math.log2(lo), math.log2(hi)
    Y = lambda v: top + ph - (math.log2(v) - l0) / (l1 - l0) * ph
    svg.text(W / 2, 26, title, 15, "middle", "bold")
    legend(svg, configs, left, 52, pw, line=False)
    # ticks: powers of two, and 1.5 times them too unless that makes too many
    ticks = [2.0 ** e for e in range(math.floor(l0), math.ceil(l1) + 1)]
    both = [t for t in ticks + [t * 1.5 for t in ticks] if lo <= t <= hi]
    ticks = both if len(both) <= 11 else [t for t in ticks if lo <= t <= hi]
    for t in sorted(ticks):
        if lo <= t <= hi:
            svg.line(left, Y(t), left + pw, Y(t), "#e4e4e4")
            svg.text(left - 8, Y(t) + 4, f"{t:g}×", 11, "end")
    svg.line(left, top, left, top + ph)
    svg.line(left, Y(1), left + pw, Y(1), "#000", 1.2)
    svg.text(18, top + ph / 2, "ratio to glibc (log scale; lower is better)", 13, "middle", rotate=-90)
    for gi, w in enumerate(workloads):
        gx = left + gap / 2 + gi * gw
        for ci, c in enumerate(configs):
            x = gx + ci * bw
            color, _ = style(c, ci)
            v = vals.get((w, c))
            if v:
                y1, y2 = sorted((Y(1), Y(v)))
                svg.rect(x + 1, y1, bw - 2, y2 - y1, color)
                ly = y1 - 4 if v >= 1 else y2 + 4
                svg.text(x + bw / 2 + 3, ly, fmt_ratio(v), 8, "start" if v >= 1 else "end",
                         rotate=-90, color="#222")
            else:
                why = status.get((w, c), "no figure")
                why = why.split(" (")[0]
                svg.text(x + bw / 2, Y(1) - 3, "✗", 11, "middle", "bold", color=color)
                svg.text(x + bw / 2 + 3, Y(1) - 16, why, 8, "start", rotate=-90, color=color)
        svg.text(gx + gw / 2 - gap / 2, top + ph + 16, w, 12, "end", rotate=-35)
        if gi:
            svg.line(gx - gap / 2, top, gx - gap / 2, top + ph, "#f2f2f2")
    svg.text(left, H - 12, "glibc's own figures are the 1.00× line; ✗: the run failed, crashed, timed out "
             "or printed a wrong result", 10, color="#444")
    svg.write(path)


def main():
    ap = argparse.ArgumentParser(description="Draw bench/ results as SVG (standard library only).")
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("threads", help="line plots from bench/threads.sh's TSV")
    t.add_argument("tsv")
    t.add_argument("--out", default=".")
    t.add_argument("--title")
    b = sub.add_parser("bars", help="grouped bars from bench/run.sh --raw FILE")
    b.add_argument("raw")
    b.add_argument("--out", default=".")
    b.add_argument("--only", help="comma-separated workloads, in this order")
    b.add_argument("--name", default="bench")
    b.add_argument("--title")
    args = ap.parse_args()
    if not os.path.isdir(args.out):
        fail(f"--out {args.out} is not a folder")
    if args.cmd == "threads":
        plot_threads(args)
    else:
        plot_bars(args)


if __name__ == "__main__":
    main()
