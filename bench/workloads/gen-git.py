# Write a `git fast-import` stream for the git workload: FILES text files of LINES lines,
# changed a few lines at a time over COMMITS commits, so `git log -p` has many deltas to
# resolve and diffs to compute.
#   python3 gen-git.py [COMMITS [FILES [LINES]]] | git fast-import --quiet
import random
import sys

commits = int(sys.argv[1]) if len(sys.argv) > 1 else 300
files = int(sys.argv[2]) if len(sys.argv) > 2 else 150
lines = int(sys.argv[3]) if len(sys.argv) > 3 else 300
random.seed(7)
content = [[f"line {j} of file {i}: {random.getrandbits(64):016x}" for j in range(lines)]
           for i in range(files)]
w = sys.stdout.buffer.write
for c in range(commits):
    w(b"commit refs/heads/main\n")
    w(f"committer Bench <bench@example.invalid> {1700000000 + c * 60} +0000\n".encode())
    msg = f"commit {c}\n".encode()
    w(b"data %d\n%s\n" % (len(msg), msg))
    touched = range(files) if c == 0 else random.sample(range(files), 12)
    for i in touched:
        f = content[i]
        for _ in range(random.randint(1, 6)):
            j = random.randrange(len(f))
            op = random.random()
            if op < 0.5:
                f[j] = f"edited in {c}: {random.getrandbits(48):012x}"
            elif op < 0.8:
                f.insert(j, f"added in {c}: {random.getrandbits(48):012x}")
            elif len(f) > 10:
                del f[j]
        data = ("\n".join(f) + "\n").encode()
        w(b"M 100644 inline dir%d/file%d.txt\ndata %d\n%s\n" % (i % 10, i, len(data), data))
w(b"done\n")
