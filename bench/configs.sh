# Sourced by bench/startup.sh and bench/threads.sh (bash): the allocator configurations they
# compare, found on this machine or in a folder of copied files, so that both scripts also run on
# a bare machine that can neither build nor install anything.
#
# The caller sets, before calling configs_setup:
#   cfg_zalloc    libzalloc.so to test; empty: build-bench/libzalloc.so, (re)built with cmake and
#                 ninja, or, with cfg_libdir, that folder's libzalloc.so
#   cfg_libdir    a folder of copied files (threads.sh --pack writes one): libzalloc.so,
#                 libjemalloc.so.2, libmimalloc.so.2, libtcmalloc_minimal.so.4, and the
#                 benchmark programs; looked in before the system's library folders. If it has
#                 libunwind.so.8 (which zalloc dlopens), zalloc's configurations run with
#                 LD_LIBRARY_PATH set to it
#   cfg_jemalloc, cfg_mimalloc, cfg_tcmalloc   a library's path, overriding the search
#   cfg_zalloc_base  another libzalloc.so (an earlier build, say): the arena-base configuration
#   cfg_configs   comma-separated configurations to run (glibc always runs); empty: all found
#   cfg_tool      the caller's name, for messages
# and gets:
#   allocs        the configurations found, glibc first
#   preload[NAME] the library preloaded (empty for glibc), cenv[NAME] the VAR=value words added
#   notes         one sentence for each configuration asked for or known but skipped
#
# The configurations: glibc (no preload), arena (zalloc, ZALLOC_MODE=arena), jemalloc, mimalloc,
# tcmalloc (Debian's libraries, or the copies in cfg_libdir), arena-base (cfg_zalloc_base,
# ZALLOC_MODE=arena: a change to the arena against the build before it, in the same run; only
# when asked for by --configs, with --zalloc-base), gpa (zalloc, ZALLOC_MODE=gpa,
# default options: full checks), gpa-nochecks (ZALLOC_STACK_DEPTH=0 ZALLOC_QUARANTINE=0
# ZALLOC_GUARD=0). Each one is probed once by running /bin/echo under it; one that fails there
# (a copied library that does not load on this machine, say) is skipped with a note.

cfg_known="glibc arena arena-base jemalloc mimalloc tcmalloc gpa gpa-nochecks"
: "${cfg_zalloc:=}" "${cfg_zalloc_base:=}" "${cfg_libdir:=}" "${cfg_jemalloc:=}" "${cfg_mimalloc:=}" "${cfg_tcmalloc:=}"
: "${cfg_configs:=}" "${cfg_tool:=bench}"

# cfg_option NAME VALUE: takes one of the shared command-line options (--zalloc, --zalloc-base, --lib-dir,
# --jemalloc, --mimalloc, --tcmalloc, --configs); status 1 if NAME is none of them.
cfg_option() {
  case $1 in
    --zalloc) cfg_zalloc=$2 ;;
    --zalloc-base) cfg_zalloc_base=$2 ;;
    --lib-dir) cfg_libdir=$2 ;;
    --jemalloc) cfg_jemalloc=$2 ;;
    --mimalloc) cfg_mimalloc=$2 ;;
    --tcmalloc) cfg_tcmalloc=$2 ;;
    --configs) cfg_configs=$2 ;;
    *) return 1 ;;
  esac
  [ -n "$2" ] || { echo "$cfg_tool: $1 needs a value" >&2; exit 2; }
}

# The help text of those options, for the callers' --help.
cfg_help() {
  cat <<'EOF'
  --configs LIST  run only these configurations (glibc, the baseline, always runs): glibc, arena,
                  arena-base, jemalloc, mimalloc, tcmalloc, gpa, gpa-nochecks; default all of
                  those found but arena-base
  --zalloc PATH   the libzalloc.so to test; default build-bench/libzalloc.so, (re)built first
                  (or, with --lib-dir, that folder's copy, not built)
  --zalloc-base PATH  another libzalloc.so (the build before a change) for the arena-base
                  configuration, which runs only when --configs names it: a change measured
                  against its base in the same run, alternating, on this noisy machine
  --lib-dir DIR   a folder of copied libraries and programs (see threads.sh --pack), searched
                  before the system's library folders; nothing is built
  --jemalloc PATH, --mimalloc PATH, --tcmalloc PATH   a competitor's library, by path
EOF
}

cfg_find_lib() { # first existing file of that name in cfg_libdir or the usual library folders
  local d
  for d in ${cfg_libdir:+"$cfg_libdir"} "/usr/lib/$(gcc -print-multiarch 2>/dev/null)" \
           /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/lib /usr/local/lib /usr/lib/heaptrack; do
    [ -f "$d/$1" ] && { echo "$d/$1"; return 0; }
  done
  return 1
}

cfg_abs() { (cd "$(dirname "$1")" && echo "$(pwd)/$(basename "$1")"); }

# cfg_build_zalloc ROOT: brings build-bench/ up to date (configured if need be).
cfg_build_zalloc() {
  local root=$1
  command -v cmake >/dev/null && command -v ninja >/dev/null || {
    echo "$cfg_tool: cmake and ninja are needed to build zalloc (or give --zalloc PATH or --lib-dir DIR)" >&2
    exit 1
  }
  [ -f "$root/build-bench/build.ninja" ] ||
    cmake -S "$root" -B "$root/build-bench" -G Ninja -DZALLOC_BUILD_TESTS=OFF >/dev/null
  if ! ninja -C "$root/build-bench" >"$root/build-bench/bench-build.log" 2>&1; then
    tail -n 15 "$root/build-bench/bench-build.log" >&2
    echo "$cfg_tool: building build-bench/ failed (above; all of it in build-bench/bench-build.log)" >&2
    exit 1
  fi
}

# cfg_clean_env: nothing from the caller's environment may change a configuration; zalloc's
# report goes to /dev/null.
cfg_clean_env() {
  local v
  unset LD_PRELOAD
  for v in $(compgen -e | grep '^ZALLOC_' || true); do unset "$v"; done
  export ZALLOC_LOG=/dev/null
}

# configs_setup ROOT: fills allocs, preload, cenv and notes (see above).
configs_setup() {
  local root=$1 c spec name file var path out
  allocs=(glibc)
  declare -gA preload=([glibc]="") cenv=([glibc]="")
  notes=()
  for c in ${cfg_configs//,/ }; do
    [[ " $cfg_known " == *" $c "* ]] ||
      { echo "$cfg_tool: unknown configuration '$c' (known: ${cfg_known// /, })" >&2; exit 2; }
  done
  [ -z "$cfg_libdir" ] || [ -d "$cfg_libdir" ] || { echo "$cfg_tool: --lib-dir $cfg_libdir is not a folder" >&2; exit 2; }
  [ -z "$cfg_libdir" ] || cfg_libdir=$(cd "$cfg_libdir" && pwd)

  if cfg_want arena || cfg_want gpa || cfg_want gpa-nochecks; then
    if [ -z "$cfg_zalloc" ] && [ -n "$cfg_libdir" ] && [ -f "$cfg_libdir/libzalloc.so" ]; then
      cfg_zalloc=$cfg_libdir/libzalloc.so
    elif [ -z "$cfg_zalloc" ]; then
      cfg_build_zalloc "$root"
      cfg_zalloc=$root/build-bench/libzalloc.so
    fi
    [ -f "$cfg_zalloc" ] || { echo "$cfg_tool: no zalloc library at $cfg_zalloc" >&2; exit 1; }
    cfg_zalloc=$(cfg_abs "$cfg_zalloc")
  fi
  if [[ ",$cfg_configs," == *",arena-base,"* ]]; then
    [ -n "$cfg_zalloc_base" ] || { echo "$cfg_tool: the arena-base configuration needs --zalloc-base PATH" >&2; exit 2; }
    [ -f "$cfg_zalloc_base" ] || { echo "$cfg_tool: --zalloc-base $cfg_zalloc_base: no such file" >&2; exit 2; }
    cfg_zalloc_base=$(cfg_abs "$cfg_zalloc_base")
  fi
  for spec in arena:zalloc:ZALLOC_MODE=arena arena-base:zalloc-base:ZALLOC_MODE=arena \
              jemalloc:libjemalloc.so.2 mimalloc:libmimalloc.so.2 \
              tcmalloc:libtcmalloc_minimal.so.4 gpa:zalloc:ZALLOC_MODE=gpa \
              "gpa-nochecks:zalloc:ZALLOC_MODE=gpa ZALLOC_STACK_DEPTH=0 ZALLOC_QUARANTINE=0 ZALLOC_GUARD=0"; do
    IFS=: read -r name file var <<<"$spec"
    cfg_want "$name" || continue
    # Only when named: a run of every configuration has no base to compare with.
    [ "$name" != arena-base ] || [[ ",$cfg_configs," == *",arena-base,"* ]] || continue
    case $file in
      zalloc-base) path=$cfg_zalloc_base ;;
      zalloc) path=$cfg_zalloc
         # zalloc dlopens libunwind.so.8 (its fallback unwinder): a copy beside it is used
         [ -n "$cfg_libdir" ] && [ -f "$cfg_libdir/libunwind.so.8" ] && var+=" LD_LIBRARY_PATH=$cfg_libdir" ;;
      *) var="" path=""
         case $name in jemalloc) path=$cfg_jemalloc ;; mimalloc) path=$cfg_mimalloc ;; tcmalloc) path=$cfg_tcmalloc ;; esac
         if [ -n "$path" ]; then
           [ -f "$path" ] || { echo "$cfg_tool: --$name $path: no such file" >&2; exit 2; }
           path=$(cfg_abs "$path")
         elif ! path=$(cfg_find_lib "$file"); then
           notes+=("$name was skipped: $file not found (give --$name PATH, or put it in --lib-dir).")
           continue
         fi ;;
    esac
    # A library that does not load here (a copy built for another system, say) is left out.
    # shellcheck disable=SC2086 # var holds VAR=value words without blanks
    if ! out=$(env LD_PRELOAD="$path" ZALLOC_LOG=stderr $var /bin/echo ok 2>&1) ||
       [ "$(head -n 1 <<<"$out")" != ok ]; then
      notes+=("$name was skipped: /bin/echo under it failed: $(grep -v '^ok$' <<<"$out" | head -n 1 | cut -c 1-160).")
      continue
    fi
    allocs+=("$name"); preload[$name]=$path; cenv[$name]=$var
  done
}
cfg_want() { [ -z "$cfg_configs" ] || [[ ",$cfg_configs," == *",$1,"* ]]; }

# cfg_describe: one line naming every configuration and what it adds to the environment.
cfg_describe() {
  local a
  printf 'Configurations:'
  for a in "${allocs[@]}"; do
    printf ' %s' "$a"
    if [ -n "${preload[$a]}" ]; then printf ' (%s%s)' "${preload[$a]}" "${cenv[$a]:+; ${cenv[$a]}}"; fi
    [ "$a" = "${allocs[-1]}" ] && printf '.\n' || printf ';'
  done
}
