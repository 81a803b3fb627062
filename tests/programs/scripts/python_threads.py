# Run by tests/programs under PYTHONMALLOC=malloc, so every Python object is a malloc block.
# Four threads build dicts, lists and strings (a few hundred thousand objects each), round-trip
# them through json and scan them with re; the main thread forks a child while they run. The
# output is a digest of the results only, so it is identical from run to run. The optional
# argument is the number of items each thread builds (default 50000; the valgrind comparison
# runs a few thousand).
import hashlib
import json
import os
import random
import re
import sys
import threading

N = int(sys.argv[1]) if len(sys.argv) > 1 else 50000


def work(seed, out):
    rnd = random.Random(seed)
    table = {}
    pairs = []
    for i in range(N):
        key = "k%d_%s" % (i, "x" * (i % 17))
        table[key] = [i, str(i * 7), {"v": i % 13}]
        pairs.append((key, i * 3.5))
        if i % (N // 10) == 0:
            assert json.loads(json.dumps(table[key])) == table[key]
    blob = json.dumps({"items": pairs[:N * 2 // 5], "table": table})
    back = json.loads(blob)
    assert back["table"] == table
    pat = re.compile(r"k(\d+)_(x*)")
    total = 0
    for key, _ in back["items"]:
        m = pat.fullmatch(key)
        total += int(m.group(1)) + len(m.group(2))
    words = sorted("".join(rnd.choice("abcdef") for _ in range(rnd.randint(1, 8)))
                   for _ in range(N * 2 // 5))
    text = " ".join(words)
    found = re.findall(r"\b(a\w*f)\b", text)
    subst = re.sub(r"(b+)(c)", lambda m: m.group(2) + str(len(m.group(1))), text)
    digest = hashlib.sha256()
    digest.update(blob.encode())
    digest.update(subst.encode())
    out[seed] = (len(table), total, len(found), len(subst), digest.hexdigest()[:16])


def child_work():
    parts = [str(i) * (i % 7) for i in range(2 * N)]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]


results = {}
threads = [threading.Thread(target=work, args=(seed, results)) for seed in range(4)]
for t in threads:
    t.start()

# fork() while the workers allocate: the child must get a usable heap (zalloc's fork handlers).
rfd, wfd = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(rfd)
    os.write(wfd, child_work().encode())
    os.close(wfd)
    sys.exit(0)  # through exit(): the child writes its own zalloc report
os.close(wfd)
with os.fdopen(rfd) as f:
    child_digest = f.read()
_, status = os.waitpid(pid, 0)

for t in threads:
    t.join()
for seed in sorted(results):
    print(seed, *results[seed])
print("child", child_digest, os.waitstatus_to_exitcode(status))
