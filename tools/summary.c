/* zalloc tools - the summary of a process tree (see summary.h). */
#define _GNU_SOURCE
#include "summary.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- reading ---------------------------------------------------------------------------------- */

static void *xrealloc(void *p, size_t n) {
  void *q = realloc(p, n ? n : 1);
  if (!q) {
    fputs("zalloc: out of memory\n", stderr);
    exit(2);
  }
  return q;
}

static char *slurp(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) return NULL;
  size_t cap = 65536, n = 0;
  char *buf = xrealloc(NULL, cap);
  for (size_t k; (k = fread(buf + n, 1, cap - n - 1, f)) > 0;) {
    n += k;
    if (n == cap - 1) buf = xrealloc(buf, cap *= 2);
  }
  fclose(f);
  buf[n] = '\0';
  return buf;
}

static zs_image_t *find(zs_tree_t *t, int pid, const char *id) {
  for (size_t i = t->n; i-- > 0;)
    if (t->images[i].pid == pid && (!id || strcmp(t->images[i].id, id) == 0)) return &t->images[i];
  return NULL;
}

/* "start\tPID\tPARENT\tFORKED_FROM\tIMAGE\tSTARTED\tCOMMAND" */
static void read_starts(zs_tree_t *t, char *text) {
  char *save = NULL;
  for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    int pid, parent, forked, used = 0;
    unsigned long long started;
    char id[17];
    if (sscanf(line, "start\t%d\t%d\t%d\t%16[0-9a-f]\t%llu\t%n", &pid, &parent, &forked, id, &started,
               &used) != 5 || !used)
      continue;
    t->images = xrealloc(t->images, (t->n + 1) * sizeof *t->images);
    zs_image_t *im = &t->images[t->n++];
    *im = (zs_image_t){.pid = pid, .parent = parent, .forked_from = forked, .started = started,
                       .wait_status = -1};
    memcpy(im->id, id, sizeof id);
    im->command = strdup(line + used);
  }
}

bool zs_load(zs_tree_t *t, const char *dir, char *err, size_t errlen) {
  memset(t, 0, sizeof *t);
  char path[4096];
  snprintf(path, sizeof path, "%s/processes", dir);
  char *starts = slurp(path);
  if (!starts) {
    snprintf(err, errlen, "zalloc: %s: no process records (no process of the tree started under zalloc)", dir);
    return false;
  }
  read_starts(t, starts);
  free(starts);
  DIR *d = opendir(dir);
  for (struct dirent *e; d && (e = readdir(d)) != NULL;) {
    int pid, used = 0;
    char id[17];
    if (sscanf(e->d_name, "%d-%16[0-9a-f].json%n", &pid, id, &used) != 2 || e->d_name[used]) continue;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    char *text = slurp(path);
    json_t *doc = text ? json_parse(text, NULL) : NULL;
    free(text);
    zs_image_t *im = find(t, pid, id);
    if (!doc) t->unreadable++;
    else if (!im) json_free(doc);
    else im->report = doc;
  }
  if (d) closedir(d);
  /* An image followed by another of the same process (pid and start time), which is not a
   * fork, was replaced by exec. */
  for (size_t i = 0; i < t->n; i++) {
    zs_image_t *im = &t->images[i];
    for (size_t k = i + 1; k < t->n && !im->replaced; k++)
      im->replaced = t->images[k].pid == im->pid && t->images[k].started == im->started &&
                     !t->images[k].forked_from;
  }
  return true;
}

void zs_set_status(zs_tree_t *t, int pid, int status) {
  zs_image_t *im = find(t, pid, NULL);
  if (im) im->wait_status = status;
}

size_t zs_processes(const zs_tree_t *t) {
  size_t n = 0;
  for (size_t i = 0; i < t->n; i++) n += !t->images[i].replaced;
  return n;
}

static long long errors_of(const json_t *r) { return json_int(json_path(r, "errors.total"), 0); }
static long long lost_blocks(const json_t *r) {
  return json_int(json_path(r, "leaks.definitely_lost.blocks"), 0);
}
static long long lost_bytes(const json_t *r) {
  return json_int(json_path(r, "leaks.definitely_lost.bytes"), 0);
}
static bool crashed(const json_t *r) {
  const json_t *c = json_get(r, "crash");
  return c && c->type == JSON_OBJECT;
}

bool zs_has_errors(const zs_tree_t *t) {
  for (size_t i = 0; i < t->n; i++)
    if (t->images[i].report && (errors_of(t->images[i].report) || lost_blocks(t->images[i].report)))
      return true;
  return false;
}

bool zs_notable(const zs_image_t *im) {
  if (im->replaced) return false;
  const json_t *r = im->report;
  return !r || errors_of(r) || lost_blocks(r) || crashed(r) ||
         strcmp(json_str(json_path(r, "end.how")) ?: "", "first-error") == 0;
}

void zs_free(zs_tree_t *t) {
  for (size_t i = 0; i < t->n; i++) {
    free(t->images[i].command);
    json_free(t->images[i].report);
  }
  free(t->images);
  memset(t, 0, sizeof *t);
}

/* ---- words -------------------------------------------------------------------------------------- */

static const char *base(const char *path) {
  const char *s = path ? strrchr(path, '/') : NULL;
  return s ? s + 1 : path ? path : "?";
}

/* The program's name as it was run: the command's first word ("cc", not the executable
 * "x86_64-linux-gnu-gcc-12" it links to), else the executable's. */
static void program_name(const zs_image_t *im, char *out, size_t cap) {
  size_t n = strcspn(im->command, " ");
  char word[256];
  snprintf(word, sizeof word, "%.*s", (int)(n < 255 ? n : 255), im->command);
  const char *prog = json_str(json_path(im->report, "process.program"));
  snprintf(out, cap, "%.63s", n ? base(word) : prog ? base(prog) : "?");
}

static const char *signal_name(int signo, char *buf, size_t cap) {
  const char *abbrev = sigabbrev_np(signo);
  if (abbrev) snprintf(buf, cap, "SIG%s", abbrev);
  else snprintf(buf, cap, "signal %d", signo);
  return buf;
}

/* How an image ended: "exit(0)", "_exit(1)", "killed by SIGSEGV", "killed by SIGKILL, no
 * report", "no report". */
static void ended(const zs_image_t *im, char *out, size_t cap) {
  const json_t *end = json_get(im->report, "end");
  const char *how = json_str(json_get(end, "how"));
  char sig[32];
  if (how && (!strcmp(how, "exit") || !strcmp(how, "_exit"))) {
    long long status = json_int(json_get(end, "status"), 0), final = json_int(json_get(end, "exit_status"), 0);
    if (status != final) snprintf(out, cap, "%s(%lld), exit status %lld by ZALLOC_EXITCODE", how, status, final);
    else snprintf(out, cap, "%s(%lld)", how, status);
  } else if (how && !strcmp(how, "signal")) {
    snprintf(out, cap, "killed by %s", json_str(json_get(end, "signal")) ?: "a signal");
  } else if (how && !strcmp(how, "first-error")) {
    snprintf(out, cap, "aborted at its first heap error (ZALLOC_ABORT)");
  } else if (im->wait_status >= 0 && WIFSIGNALED(im->wait_status)) {
    snprintf(out, cap, "killed by %s, no report", signal_name(WTERMSIG(im->wait_status), sig, sizeof sig));
  } else if (im->wait_status >= 0 && WIFEXITED(im->wait_status)) {
    snprintf(out, cap, "exit status %d, no report", WEXITSTATUS(im->wait_status));
  } else {
    snprintf(out, cap, "no report");
  }
}

static char *thousands(char *out, size_t cap, long long v) {
  char digits[32];
  int n = snprintf(digits, sizeof digits, "%lld", v < 0 ? -v : v);
  size_t o = 0;
  if (v < 0 && o + 1 < cap) out[o++] = '-';
  for (int i = 0; i < n && o + 2 < cap; i++) {
    if (i && (n - i) % 3 == 0) out[o++] = ',';
    out[o++] = digits[i];
  }
  out[o] = '\0';
  return out;
}

static const char *plural(long long n) { return n == 1 ? "" : "s"; }
static const char *processes_word(size_t n) { return n == 1 ? "process" : "processes"; }

/* "/tmp/z/%p.log" with the pid (or "PID" for pid -1). */
static void log_of(const char *logs, int pid, char *out, size_t cap) {
  size_t o = 0;
  for (const char *p = logs; *p && o + 12 < cap; p++) {
    if (p[0] == '%' && p[1] == 'p') {
      o += pid < 0 ? (size_t)snprintf(out + o, cap - o, "PID") : (size_t)snprintf(out + o, cap - o, "%d", pid);
      p++;
    } else {
      out[o++] = *p;
    }
  }
  out[o] = '\0';
}

/* ---- merging by stack ------------------------------------------------------------------------- */

typedef enum { ITEM_CRASH, ITEM_ERROR, ITEM_DEFINITE, ITEM_INDIRECT } item_kind_t;

typedef struct item {
  item_kind_t kind;
  char *key;
  const char *title;          /* "double-free", "SIGSEGV", "definitely-lost" */
  const char *message;        /* the first process's message (errors, crashes) */
  const json_t *frames;       /* the first process's frames */
  long long times, blocks, bytes;
  size_t processes;
  int pids[3];                /* the first three processes */
  char programs[160];         /* "cc1 x40, gen" */
  const char *names[8];       /* the first distinct program names (for the selection) */
  size_t nnames;
} item_t;

typedef struct items {
  item_t *v;
  size_t n;
} items_t;

/* The frames as a key: module name and offset of each, which stay the same from one process
 * to another (addresses do not). */
static char *frames_key(const char *title, const json_t *frames) {
  size_t cap = 256, n = 0;
  char *key = xrealloc(NULL, cap);
  n += (size_t)snprintf(key, cap, "%s", title);
  for (size_t i = 0; i < json_len(frames); i++) {
    const json_t *f = json_at(frames, i);
    char part[320];
    const char *module = json_str(json_get(f, "module"));
    int k = module ? snprintf(part, sizeof part, "|%s+%lld%s", base(module),
                              json_int(json_get(f, "module_offset"), -1),
                              json_bool(json_get(f, "inlined")) ? "i" : "")
                   : snprintf(part, sizeof part, "|%s", json_str(json_get(f, "pc")) ?: "?");
    if (k >= (int)sizeof part) k = (int)sizeof part - 1;
    if (n + (size_t)k + 1 > cap) key = xrealloc(key, cap = (n + (size_t)k + 1) * 2);
    memcpy(key + n, part, (size_t)k + 1);
    n += (size_t)k;
  }
  return key;
}

/* The programs an item was seen in: "cc1 x40, gen". */
static void add_program(item_t *it, const char *prog) {
  char *p = it->programs;
  size_t plen = strlen(prog);
  for (char *at = strstr(p, prog); at; at = strstr(at + 1, prog)) {
    if ((at != p && at[-1] != ' ') || (at[plen] && at[plen] != ',' && at[plen] != ' ')) continue;
    /* seen: bump its count */
    char rest[160];
    long count = 1;
    char *after = at + plen;
    if (strncmp(after, " x", 2) == 0) count = strtol(after + 2, &after, 10);
    snprintf(rest, sizeof rest, "%s", after);
    snprintf(at + plen, sizeof it->programs - (size_t)(at + plen - p), " x%ld%s", count + 1, rest);
    return;
  }
  size_t used = strlen(p);
  if (used + plen + 3 < sizeof it->programs)
    snprintf(p + used, sizeof it->programs - used, "%s%s", used ? ", " : "", prog);
}

static void add(items_t *items, item_kind_t kind, const char *title, const json_t *frames, const char *message,
                long long times, long long blocks, long long bytes, const char *prog, int pid) {
  char *key = frames_key(title, frames);
  item_t *it = NULL;
  for (size_t i = 0; i < items->n && !it; i++)
    if (items->v[i].kind == kind && !strcmp(items->v[i].key, key)) it = &items->v[i];
  if (it) {
    free(key);
  } else {
    items->v = xrealloc(items->v, (items->n + 1) * sizeof *items->v);
    it = &items->v[items->n++];
    *it = (item_t){.kind = kind, .key = key, .title = title, .frames = frames, .message = message};
  }
  it->times += times;
  it->blocks += blocks;
  it->bytes += bytes;
  if (it->processes < 3) it->pids[it->processes] = pid;
  it->processes++;
  add_program(it, prog);
  bool known = false;
  for (size_t i = 0; i < it->nnames && !known; i++) known = !strcmp(it->names[i], prog);
  if (!known && it->nnames < 8) it->names[it->nnames++] = prog;
}

static bool item_has(const item_t *it, const char *prog) {
  for (size_t i = 0; i < it->nnames; i++)
    if (!strcmp(it->names[i], prog)) return true;
  return false;
}

/* Which items are printed: the first SUMMARY_ITEMS, worst first, and then the worst of each
 * program that has none among them (so a small leak of the program under test is not hidden
 * under a compiler's), up to SUMMARY_ITEMS_MAX. */
static size_t select_items(const items_t *items, const zs_tree_t *t, char names[][64], bool *chosen) {
  size_t n = 0;
  for (size_t i = 0; i < items->n && i < SUMMARY_ITEMS; i++) chosen[i] = true, n++;
  for (size_t p = 0; p < t->n && n < SUMMARY_ITEMS_MAX; p++) {
    if (!t->images[p].report || t->images[p].replaced) continue;
    bool covered = false;
    for (size_t i = 0; i < items->n && !covered; i++) covered = chosen[i] && item_has(&items->v[i], names[p]);
    for (size_t i = 0; i < items->n && !covered; i++)
      if (item_has(&items->v[i], names[p])) chosen[i] = covered = true, n++;
  }
  return n;
}

static int cmp_items(const void *a, const void *b) {
  const item_t *x = a, *y = b;
  if (x->kind != y->kind) return x->kind < y->kind ? -1 : 1;
  if (x->kind == ITEM_DEFINITE || x->kind == ITEM_INDIRECT) {
    if (x->bytes != y->bytes) return x->bytes < y->bytes ? 1 : -1;
    return (x->blocks < y->blocks) - (x->blocks > y->blocks);
  }
  if (x->processes != y->processes) return x->processes < y->processes ? 1 : -1;
  return (x->times < y->times) - (x->times > y->times);
}

/* The frames a finding is best known by: where it happened, else where the block was freed,
 * else where it came from. */
static const json_t *finding_frames(const json_t *f) {
  static const char *const roles[] = {"stacks.at.frames", "stacks.freed.frames", "stacks.allocated.frames"};
  for (size_t i = 0; i < 3; i++) {
    const json_t *fr = json_path(f, roles[i]);
    if (json_len(fr)) return fr;
  }
  return NULL;
}

static void collect(const zs_tree_t *t, items_t *items, char names[][64]) {
  for (size_t i = 0; i < t->n; i++) {
    const zs_image_t *im = &t->images[i];
    const json_t *r = im->report;
    if (!r || im->replaced) continue;
    const char *prog = names[i];
    const json_t *findings = json_get(r, "findings");
    for (size_t k = 0; k < json_len(findings); k++) {
      const json_t *f = json_at(findings, k);
      if (json_bool(json_get(f, "suppressed"))) continue;
      add(items, ITEM_ERROR, json_str(json_get(f, "kind")) ?: "?", finding_frames(f),
          json_str(json_get(f, "message")), json_int(json_get(f, "times"), 1), 0, 0, prog, im->pid);
    }
    const json_t *crash = json_get(r, "crash");
    if (crashed(r))
      add(items, ITEM_CRASH, json_str(json_get(crash, "signal")) ?: "?", json_get(crash, "frames"),
          json_str(json_get(crash, "meaning")), 1, 0, 0, prog, im->pid);
    const json_t *groups = json_path(r, "leaks.groups");
    for (size_t k = 0; k < json_len(groups); k++) {
      const json_t *g = json_at(groups, k);
      const char *kind = json_str(json_get(g, "kind"));
      if (!kind || json_bool(json_get(g, "suppressed"))) continue;
      item_kind_t ik = !strcmp(kind, "definitely-lost") ? ITEM_DEFINITE
                       : !strcmp(kind, "indirectly-lost") ? ITEM_INDIRECT : (item_kind_t)-1;
      if ((int)ik < 0) continue;
      add(items, ik, kind, json_get(g, "frames"), NULL, 0, json_int(json_get(g, "blocks"), 0),
          json_int(json_get(g, "bytes"), 0), prog, im->pid);
    }
  }
  qsort(items->v, items->n, sizeof *items->v, cmp_items);
}

/* ---- printing ---------------------------------------------------------------------------------- */

static void print_frames(FILE *out, const json_t *frames) {
  size_t n = json_len(frames);
  if (!n) fprintf(out, "zalloc:        (no stack recorded)\n");
  for (size_t i = 0; i < n && i < SUMMARY_FRAMES; i++) {
    const json_t *f = json_at(frames, i);
    const char *fn = json_str(json_get(f, "function")), *file = json_str(json_get(f, "file"));
    const char *module = json_str(json_get(f, "module"));
    fprintf(out, "zalloc:        #%zu", i);
    if (fn && json_bool(json_get(f, "inlined"))) fprintf(out, " %s (inlined)", fn);
    else if (fn) fprintf(out, " %s+0x%llx", fn, json_int(json_get(f, "offset"), 0));
    else if (!module) fprintf(out, " %s", json_str(json_get(f, "pc")) ?: "?");
    if (file) fprintf(out, " at %s:%lld", file, json_int(json_get(f, "line"), 0));
    if (module) fprintf(out, " (%s+0x%llx)\n", base(module), json_int(json_get(f, "module_offset"), 0));
    else fprintf(out, " (no module)\n");
  }
  if (n > SUMMARY_FRAMES)
    fprintf(out, "zalloc:        ... %zu more frame%s\n", n - SUMMARY_FRAMES, n - SUMMARY_FRAMES == 1 ? "" : "s");
}

/* "in 3 processes (ld x3: pids 4618, 4700, 4790)" */
static void print_where(FILE *out, const item_t *it) {
  fprintf(out, "in %zu %s (%s", it->processes, processes_word(it->processes), it->programs);
  if (it->processes <= 3) {
    fprintf(out, it->processes == 1 ? ", pid" : ", pids");
    for (size_t i = 0; i < it->processes; i++) fprintf(out, "%s %d", i ? "," : "", it->pids[i]);
  }
  fputc(')', out);
}

static void print_item(FILE *out, size_t number, const item_t *it) {
  char a[32], b[32];
  fprintf(out, "zalloc: %zu. ", number);
  switch (it->kind) {
  case ITEM_DEFINITE:
  case ITEM_INDIRECT:
    fprintf(out, "%s: %s byte%s in %s block%s, ", it->kind == ITEM_DEFINITE ? "definitely lost" : "indirectly lost",
            thousands(a, sizeof a, it->bytes), plural(it->bytes), thousands(b, sizeof b, it->blocks),
            plural(it->blocks));
    print_where(out, it);
    fprintf(out, ", allocated at:\n");
    break;
  case ITEM_CRASH:
    fprintf(out, "crash: %s", it->title);
    if (it->message) fprintf(out, " (%s)", it->message);
    fprintf(out, ", ");
    print_where(out, it);
    fprintf(out, ", at:\n");
    break;
  case ITEM_ERROR:
    /* The first process's words: "double free: free(0x...): the block was already freed". */
    fprintf(out, "%s; %lld time%s ", it->message ? it->message : it->title, it->times, plural(it->times));
    print_where(out, it);
    fprintf(out, ", at:\n");
    break;
  }
  print_frames(out, it->frames);
}

/* ---- hints: which package would give file:line --------------------------------------------------- */

/* What `argv` writes on stdout (no shell), at most cap - 1 bytes; "" when it fails. */
static void output_of(char *const argv[], char *out, size_t cap) {
  out[0] = '\0';
  int fds[2];
  if (pipe(fds) != 0) return;
  pid_t pid = fork();
  if (pid == 0) {
    int null = open("/dev/null", O_RDWR);
    dup2(fds[1], 1);
    if (null >= 0) dup2(null, 2), dup2(null, 0);
    close(fds[0]);
    execvp(argv[0], argv);
    _exit(127);
  }
  close(fds[1]);
  size_t n = 0;
  for (ssize_t k; pid > 0 && n + 1 < cap && (k = read(fds[0], out + n, cap - 1 - n)) > 0;) n += (size_t)k;
  close(fds[0]);
  out[n] = '\0';
  if (pid > 0) waitpid(pid, NULL, 0);
  if (pid <= 0) out[0] = '\0';
}

enum { MAX_HINTS = 8 };

typedef struct hint {
  char path[512], alt[512];  /* alt: the same file before or after /usr was merged, or "" */
  char pkg[256];
  const char *how;           /* "dpkg", "rpm", or NULL: no package owns it */
} hint_t;

/* Debian's dpkg knows some files by their path before /usr was merged: /usr/lib/x and /lib/x
 * are asked both. */
static void alt_path(const char *path, char *alt, size_t cap) {
  alt[0] = '\0';
  if (!strncmp(path, "/usr/lib/", 9) || !strncmp(path, "/usr/bin/", 9) || !strncmp(path, "/usr/sbin/", 10))
    snprintf(alt, cap, "%s", path + 4);
  else if (!strncmp(path, "/lib/", 5) || !strncmp(path, "/bin/", 5) || !strncmp(path, "/sbin/", 6))
    snprintf(alt, cap, "/usr%s", path);
}

/* The packages that own the hints' files, in one dpkg-query (it reads the whole package
 * database each time it runs: a run per file cost a tree of three compilers 0.5 s of CPU);
 * rpm for those it does not know. */
static void find_packages(hint_t *h, size_t n) {
  char *argv[2 + 2 * MAX_HINTS + 1];
  size_t a = 0;
  argv[a++] = "dpkg-query";
  argv[a++] = "-S";
  for (size_t i = 0; i < n; i++) {
    argv[a++] = h[i].path;
    if (h[i].alt[0]) argv[a++] = h[i].alt;
  }
  argv[a] = NULL;
  static char out[1 << 16];
  output_of(argv, out, sizeof out);
  /* Lines "pkg[:arch][, pkg2]: /path" */
  for (char *line = out, *next; *line; line = next) {
    next = line + strcspn(line, "\n");
    if (*next) *next++ = '\0';
    char *colon = strstr(line, ": ");
    if (!colon) continue;
    *colon = '\0';
    const char *file = colon + 2;
    line[strcspn(line, ":,")] = '\0';      /* "libc6:amd64" -> "libc6" */
    for (size_t i = 0; i < n; i++)
      if (!h[i].how && (!strcmp(file, h[i].path) || !strcmp(file, h[i].alt))) {
        snprintf(h[i].pkg, sizeof h[i].pkg, "%s", line);
        h[i].how = "dpkg";
      }
  }
  for (size_t i = 0; i < n; i++) {
    if (h[i].how) continue;
    char line[512];
    output_of((char *const[]){"rpm", "-qf", "--qf", "%{NAME}\\n", h[i].path, NULL}, line, sizeof line);
    line[strcspn(line, "\n")] = '\0';
    if (line[0] && !strstr(line, " ")) {
      snprintf(h[i].pkg, sizeof h[i].pkg, "%s", line);
      h[i].how = "rpm";
    }
  }
}

void zs_print_hints(FILE *out, const zs_tree_t *t, bool packaged_only) {
  static hint_t h[MAX_HINTS];
  size_t nseen = 0, more = 0;
  for (size_t i = 0; i < t->n; i++) {
    const json_t *mods = json_get(t->images[i].report, "modules_without_debug_info");
    for (size_t k = 0; k < json_len(mods); k++) {
      const char *m = json_str(json_get(json_at(mods, k), "module"));
      bool dup = !m || m[0] != '/';
      for (size_t s = 0; s < nseen && !dup; s++) dup = !strcmp(h[s].path, m);
      if (dup) continue;
      if (nseen < MAX_HINTS) {
        h[nseen] = (hint_t){0};
        snprintf(h[nseen].path, sizeof h[nseen].path, "%s", m);
        alt_path(m, h[nseen].alt, sizeof h[nseen].alt);
        nseen++;
      } else {
        more++;
      }
    }
  }
  if (nseen) find_packages(h, nseen);
  for (size_t s = 0; s < nseen; s++) {
    if (!h[s].how) {
      if (!packaged_only)
        fprintf(out, "zalloc: hint: no file:line in %s: no package owns it and it has no debug information; "
                     "build it with -g\n", h[s].path);
    } else if (!strcmp(h[s].how, "dpkg"))
      fprintf(out, "zalloc: hint: no file:line in %s: install %s-dbgsym (Debian's debian-debug archive, "
                   "Ubuntu's ddebs)\n", h[s].path, h[s].pkg);
    else
      fprintf(out, "zalloc: hint: no file:line in %s: debuginfo-install %s\n", h[s].path, h[s].pkg);
  }
  if (more) fprintf(out, "zalloc: hint: and %zu more modules without debug information\n", more);
}

/* ---- the summary --------------------------------------------------------------------------------- */

typedef struct tally {
  char what[160];
  size_t n;
} tally_t;

static void count(tally_t *tally, size_t *ntally, size_t max, const char *what) {
  size_t k = 0;
  while (k < *ntally && strcmp(tally[k].what, what)) k++;
  if (k == *ntally) {
    if (*ntally == max) {
      k = max - 1;
      snprintf(tally[k].what, sizeof tally[k].what, "otherwise");
    } else {
      snprintf(tally[k].what, sizeof tally[k].what, "%s", what);
      tally[k].n = 0;
      (*ntally)++;
    }
  }
  tally[k].n++;
}

/* One line per program among the processes with something to say. */
static void print_programs(FILE *out, const zs_tree_t *t, char names[][64], const char *logs) {
  bool *done = calloc(t->n ? t->n : 1, sizeof *done);
  char a[32], b[32];
  for (size_t i = 0; i < t->n; i++) {
    if (done[i] || !zs_notable(&t->images[i])) continue;
    size_t procs = 0;
    long long errors = 0, blocks = 0, bytes = 0;
    tally_t how[4];
    size_t nhow = 0;
    fprintf(out, "zalloc:   %s: ", names[i]);
    int pids[4];
    for (size_t k = i; k < t->n; k++) {
      const zs_image_t *im = &t->images[k];
      if (done[k] || !zs_notable(im) || strcmp(names[k], names[i])) continue;
      done[k] = true;
      if (procs < 4) pids[procs] = im->pid;
      procs++;
      char what[200];
      ended(im, what, sizeof what);
      count(how, &nhow, 4, what);
      errors += errors_of(im->report);
      blocks += lost_blocks(im->report);
      bytes += lost_bytes(im->report);
    }
    fprintf(out, "%zu %s (pid%s", procs, processes_word(procs), procs == 1 ? "" : "s");
    for (size_t k = 0; k < procs && k < 4; k++) fprintf(out, "%s %d", k ? "," : "", pids[k]);
    fprintf(out, "%s), ", procs > 4 ? ", ..." : "");
    for (size_t k = 0; k < nhow; k++) {
      if (procs > 1) fprintf(out, "%s%s %s", k ? ", " : "", thousands(a, sizeof a, (long long)how[k].n), how[k].what);
      else fprintf(out, "%s", how[k].what);
    }
    if (errors) fprintf(out, "; %lld heap error%s", errors, plural(errors));
    if (blocks)
      fprintf(out, "; definitely lost %s byte%s in %s block%s", thousands(a, sizeof a, bytes), plural(bytes),
              thousands(b, sizeof b, blocks), plural(blocks));
    if (logs && procs == 1 && t->images[i].report) {
      char path[4096];
      log_of(logs, pids[0], path, sizeof path);
      fprintf(out, "; report: %s", path);
    }
    fputc('\n', out);
  }
  free(done);
}

void zs_print(FILE *out, const zs_tree_t *t, const char *logs) {
  char (*names)[64] = calloc(t->n ? t->n : 1, sizeof *names);
  for (size_t i = 0; i < t->n; i++) program_name(&t->images[i], names[i], sizeof names[i]);
  size_t procs = zs_processes(t);
  char a[32], b[32], c[32];
  fprintf(out, "zalloc: summary of `%s`: %zu %s\n", t->n ? t->images[0].command : "?", procs,
          processes_word(procs));
  /* How they ended, tallied: "21 exit(0), 1 killed by SIGSEGV". */
  tally_t tally[16];
  size_t ntally = 0, with_errors = 0, with_lost = 0, crashes = 0, notable = 0, no_report = 0;
  long long errors = 0, lost = 0, lost_b = 0, suppressed_errors = 0, suppressed_groups = 0;
  for (size_t i = 0; i < t->n; i++) {
    const zs_image_t *im = &t->images[i];
    if (im->replaced) continue;
    suppressed_errors += json_int(json_path(im->report, "errors.suppressed"), 0);
    suppressed_groups += json_int(json_path(im->report, "leaks.suppressed.groups"), 0);
    char what[200];
    ended(im, what, sizeof what);
    count(tally, &ntally, 16, what);
    if (im->report) {
      errors += errors_of(im->report);
      with_errors += errors_of(im->report) > 0;
      lost += lost_blocks(im->report);
      lost_b += lost_bytes(im->report);
      with_lost += lost_blocks(im->report) > 0;
      crashes += crashed(im->report);
    } else if (im->wait_status < 0) {
      no_report++;              /* why is not known: the wrapper did not reap it */
    }
    notable += zs_notable(im);
  }
  fprintf(out, "zalloc:   ended:   ");
  for (size_t k = 0; k < ntally; k++)
    fprintf(out, "%s%s %s", k ? ", " : "", thousands(a, sizeof a, (long long)tally[k].n), tally[k].what);
  fputc('\n', out);
  fprintf(out, "zalloc:   found:   %s heap error%s in %zu %s; definitely lost %s byte%s in %s block%s in %zu %s",
          thousands(a, sizeof a, errors), plural(errors), with_errors, processes_word(with_errors),
          thousands(b, sizeof b, lost_b), plural(lost_b), thousands(c, sizeof c, lost), plural(lost), with_lost,
          processes_word(with_lost));
  if (crashes) fprintf(out, "; %zu crash%s", crashes, crashes == 1 ? "" : "es");
  fputc('\n', out);
  if (suppressed_errors || suppressed_groups)
    fprintf(out, "zalloc:   suppressed: %lld heap error%s and %lld leak group%s (ZALLOC_SUPPRESS), left out of this "
                 "summary\n", suppressed_errors, plural(suppressed_errors), suppressed_groups, plural(suppressed_groups));
  if (no_report)
    fprintf(out, "zalloc:   %zu %s ended without a report: killed by a signal zalloc does not catch "
                 "(SIGKILL, SIGTERM, ...), or replaced by a program zalloc cannot see (statically linked, "
                 "or run without LD_PRELOAD)\n", no_report, processes_word(no_report));
  if (t->unreadable)
    fprintf(out, "zalloc:   %zu report%s could not be read (cut short?)\n", t->unreadable,
            plural((long long)t->unreadable));
  if (notable) {
    fprintf(out, "zalloc: processes with something to say:\n");
    print_programs(out, t, names, logs);
  }
  items_t items = {0};
  collect(t, &items, names);
  bool *chosen = calloc(items.n ? items.n : 1, sizeof *chosen);
  size_t shown = select_items(&items, t, names, chosen);
  if (items.n && shown == items.n)
    fprintf(out, "zalloc: across processes, by stack, worst first:\n");
  else if (items.n)
    fprintf(out, "zalloc: across processes, by stack, worst first (%zu of %zu: the worst %d, and the worst of "
                 "each other program):\n", shown, items.n, SUMMARY_ITEMS);
  for (size_t i = 0; i < items.n; i++)
    if (chosen[i]) print_item(out, i + 1, &items.v[i]);
  if (shown < items.n) {
    long long times = 0, bytes = 0, groups = 0;
    for (size_t i = 0; i < items.n; i++) {
      if (chosen[i]) continue;
      if (items.v[i].kind == ITEM_ERROR || items.v[i].kind == ITEM_CRASH) times += items.v[i].times;
      else groups++, bytes += items.v[i].bytes;
    }
    fprintf(out, "zalloc: and %zu more:", items.n - shown);
    if (times) fprintf(out, " %lld heap error%s or crash%s%s", times, plural(times), times == 1 ? "" : "es",
                       groups ? "," : "");
    if (groups)
      fprintf(out, " %s byte%s lost (definitely or indirectly) from %lld other stack%s", thousands(a, sizeof a, bytes),
              plural(bytes), groups, plural(groups));
    fprintf(out, " (the per-process reports list them all)\n");
  }
  free(chosen);
  for (size_t i = 0; i < items.n; i++) free(items.v[i].key);
  free(items.v);
  zs_print_hints(out, t, false);
  if (logs && notable) {
    char shown_logs[4096];
    log_of(logs, -1, shown_logs, sizeof shown_logs);
    fprintf(out, "zalloc: reports: %s\n", shown_logs);
  }
  free(names);
}
