# Write a C file for the gcc workload: many small structs and functions with loops, switches
# and calls between them, enough to keep cc1 busy for about a second at -O2.
#   python3 gen-c.py N [PREFIX] > file.c
# PREFIX (default none) goes before the one external name, `entry`, so that several files can
# be linked into one program (gen-project.py); without it the output is what it always was.
import sys

n = int(sys.argv[1]) if len(sys.argv) > 1 else 300
prefix = sys.argv[2] if len(sys.argv) > 2 else ""
out = ["#include <stddef.h>", "#include <string.h>"]
for i in range(n):
    out.append(f"struct s{i} {{ int a; long b[{i % 7 + 1}]; double c; char name[{i % 29 + 3}]; }};")
    out.append(f"""static long f{i}(struct s{i} *p, int k) {{
  long acc = p->a * {i + 1};
  for (int j = 0; j < {i % 5 + 2}; j++) {{
    switch ((k + j) % 4) {{
    case 0: acc += p->b[j % {i % 7 + 1}] * {i % 11 + 1}; break;
    case 1: acc ^= (long)(p->c * {i % 13 + 2}.5); break;
    case 2: acc -= (long)strlen(p->name) + j; break;
    default: acc = acc * 31 + k;
    }}
  }}
  {"return acc;" if i == 0 else f"struct s{i - 1} q; memset(&q, 0, sizeof q); q.a = (int)acc; return acc + f{i - 1}(&q, k + 1);"}
}}""")
out.append(f"long {prefix}entry(int k) {{ struct s{n - 1} x; memset(&x, 0, sizeof x); return f{n - 1}(&x, k); }}")
print("\n".join(out))
