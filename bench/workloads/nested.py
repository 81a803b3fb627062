# Allocation-heavy Python with deep C call stacks: nested dicts and lists built by recursion,
# then serialised and parsed twice over by C code that recurses once per level (json's encoder
# and scanner, pickle), and compared. The C recursion adds frames at each of the 12 levels on
# top of the interpreter's own, so a checker that records a call stack at each malloc and free
# (zalloc's gpa, LSan's full unwinder, valgrind, heaptrack) walks deep stacks every time. Run
# with PYTHONMALLOC=malloc so that every object goes through the C allocator. Prints one
# checksum line.
#   python3 nested.py [N]

import json
import pickle
import random
import sys

n = int(sys.argv[1]) if len(sys.argv) > 1 else 40
random.seed(271828)

def build(depth):
    if depth == 0:
        return ["leaf%d" % random.randrange(1000), random.random(), (depth, None)]
    node = {"d": depth, "name": "n%d-%d" % (depth, random.randrange(10 ** 6))}
    node["kids"] = [build(depth - 1) for _ in range(2)]
    return node

total = 0
for rnd in range(n):
    tree = build(12)
    text = json.dumps(tree)
    back = json.loads(text)
    blob = pickle.dumps(back, protocol=pickle.HIGHEST_PROTOCOL)
    again = pickle.loads(blob)
    twin = pickle.loads(pickle.dumps(again))
    total += len(text) + len(blob) + (twin == again) + len(repr(twin)) % 1000
    del tree, back, again, twin
print(total)
