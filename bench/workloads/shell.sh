#!/bin/bash
# The shell workload: what a build or test script does, hundreds of short processes. Writes N
# small files from here-documents, then summarises them with command substitutions, pipelines
# (`sort | uniq -c`, `cut`, `awk`, `sed`, `tr`, `md5sum`), subshells that change directory, a
# read loop, `find | xargs`, and a few dash (`sh -c`) scripts: about 10 processes per file.
# Prints a summary that must be the same under every allocator.
#   bash shell.sh N DIR      (DIR is emptied first)
set -eu
n=$1 dir=$2
rm -rf "$dir"
mkdir -p "$dir/src" "$dir/out"
cd "$dir"

for i in $(seq 1 "$n"); do
  kind=delta
  [ $((i % 3)) -ne 0 ] || kind=gamma
  cat >"src/f$i.txt" <<EOF
item $i $((i * 7 % 13)) alpha
item $((i + 1)) $((i * 3 % 5)) beta
item $((i + 2)) $((i % 4)) $kind
EOF
done

# One line per file, each field from its own substitution.
for f in src/*.txt; do
  words=$(wc -w <"$f")
  top=$(sort -k3,3n -k2,2n "$f" | head -n 1 | cut -d' ' -f4)
  sum=$(awk '{s += $3} END {print s}' "$f")
  echo "$(basename "$f" .txt) $words $top $sum"
done | sort -k4,4n -k1,1 >out/summary.txt

echo "== subshells"
(cd src && ls | sed 's/\.txt$//' | tr -d 'f' | sort -n | tail -n 3)
(cd out && grep -c . summary.txt)
echo "== counts"
cut -d' ' -f3 out/summary.txt | sort | uniq -c | sort -k1,1nr -k2
echo "== read loop"
while read -r name words top sum; do
  if [ $((sum % 3)) -eq 0 ]; then
    echo "$name $words $(echo "$top" | tr a-z A-Z) $(printf '%s' "$name" | md5sum | cut -c1-8)"
  fi
done <out/summary.txt | sort | head -n 10
echo "== find | xargs"
find src -name '*.txt' | xargs grep -l gamma | wc -l
grep -h beta src/*.txt | awk '{print $3}' | sort -n | uniq -c | sort -k2,2n
echo "== dash"
for k in 1 2 3; do
  sh -c 'for x in a b; do echo "$1$x" | sed "s/^/dash /"; done' sh "$k"
done
sh -c 'ls src | wc -l; cat src/*.txt | wc -l'
echo "== here-doc through a pipeline"
sed 's/,/\n/g' <<EOF | sort | uniq -c | awk '{print $2 "=" $1}' | paste -sd' '
$(cut -d' ' -f3 out/summary.txt | paste -sd,)
EOF
