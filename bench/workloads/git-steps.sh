#!/bin/bash
# The git-steps workload: the git commands of a day's work on a fresh repository. `git init`,
# then N commits (files written and edited, `git status`, `git add`, `git diff --cached --stat`,
# `git commit`), then `git log --stat`, `git diff` between commits, `git gc` (which runs
# pack-objects, repack, prune and reflog among others) and `git fsck`. Dates and names are
# fixed, so the commit ids and everything printed are the same under every allocator.
#   bash git-steps.sh N DIR      (DIR is removed first)
set -eu
n=$1 dir=$2
rm -rf "$dir"
export GIT_AUTHOR_NAME=Bench GIT_AUTHOR_EMAIL=bench@example.invalid
export GIT_COMMITTER_NAME=Bench GIT_COMMITTER_EMAIL=bench@example.invalid
git init -q -b main "$dir"
cd "$dir"
git config gc.auto 0          # gc only where this script runs it
git config pack.threads 1     # the same pack under every allocator, whatever the scheduling

for f in $(seq 1 30); do
  for l in $(seq 1 120); do echo "file $f line $l: $(( (f * 7919 + l * 104729) % 1000003 ))"; done >"file$f.txt"
done
for c in $(seq 1 "$n"); do
  export GIT_AUTHOR_DATE="@$((1700000000 + c * 60)) +0000"
  export GIT_COMMITTER_DATE=$GIT_AUTHOR_DATE
  for f in $(( c % 30 + 1 )) $(( c * 7 % 30 + 1 )) $(( c * 13 % 30 + 1 )); do
    echo "commit $c changed file $f" >>"file$f.txt"
    sed -i "$(( c * 3 % 100 + 1 ))s/line/LINE$c/" "file$f.txt"
  done
  [ $((c % 4)) -ne 0 ] || echo "new in $c" >"new$c.txt"
  git status --porcelain | wc -l
  git add -A
  git diff --cached --stat | tail -n 1
  git commit -q -m "step $c: three files edited"
done
git log --stat --format='%H %s' | head -n 200
git diff HEAD~3 HEAD | head -n 100
git diff --stat HEAD~$((n - 1)) HEAD
git gc -q
git fsck --no-progress
git rev-list --count HEAD
git log --oneline -1
