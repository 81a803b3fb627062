# Allocation-heavy Python: records as dicts, lists and tuples, an index, a JSON round trip,
# sorting and set building, with part of each round's objects outliving it (as in a real
# program, frees come in no particular order). Run with PYTHONMALLOC=malloc so that every
# object goes through the C allocator. Prints one checksum line.
#   python3 objects.py [N]
import json
import random
import sys

n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
random.seed(12345)
total = 0
keep = {}
for rnd in range(4):
    recs = [{"id": i, "name": "user%d-%d" % (rnd, i), "tags": ["t%d" % (i % 7), "x" * (i % 13)],
             "pos": (i * 0.5, -i)} for i in range(n)]
    random.shuffle(recs)
    index = {r["name"]: r for r in recs}
    text = json.dumps(recs[: n // 2])
    back = json.loads(text)
    total += len(text) + len(back) + len(index)
    words = sorted("w%07d" % random.randrange(10 ** 7) for _ in range(n))
    total += len(set(words))
    # One record in ten survives into the next rounds; the previous survivors are dropped.
    keep = {k: index[k] for k in list(index)[::10]}
    del recs, index, text, back, words
    total += len(keep)
print(total)
