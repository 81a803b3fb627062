# Run by /bin/sh (dash) in tests/programs: pipes, subshells, command substitution and exec.
# Every external command it starts writes a report (25, counted in the comments below), and so
# does every subshell dash forks (11: pipeline parts that are builtins, ( ), $( )), which
# leaves through _exit(). Each pipeline's last command reads all its input, so no process dies
# of SIGPIPE (which would skip its report). The test counts the reports: when you change this
# script, change EXPECTED_SH_REPORTS in test_programs.c to match.
set -e
seq 1 20000 | sort -r | tail -n 5 | head -n 3              # seq sort tail head
seq 1 200000 | sort -rn | sed -n '1,3p;$p'                 # seq sort sed
(cd /; ls | wc -l)                                          # ls wc
n=$(seq 1 1000 | wc -l)                                     # seq wc
echo "n=$n"
upper=$(echo "hello, world" | tr a-z A-Z)                   # tr
echo "$upper"
nested=$(echo "$(/bin/echo inner)" outer)                   # /bin/echo
echo "$nested"
for i in 1 2 3; do printf '%s\n' "line $i" | /bin/cat; done # cat x3
{ echo b; echo a; echo b; } | sort | uniq -c                # sort uniq
lines=$( (echo one; /bin/echo two; seq 3 5) | wc -l)        # /bin/echo seq wc
echo "lines=$lines"
seq 1 50000 | awk '{ s += $1 } END { print s }'             # seq awk
printf 'x\ny\n' | grep -c y || true                          # grep
exec /bin/echo done                                         # replaces the shell: /bin/echo
