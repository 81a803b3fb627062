/* zalloc - the process tree's records for the wrapper's summary (see tree.h). */
#include "tree.h"
#include "options.h"
#include "prim.h"
#include "prim_signal.h"
#include "runtime.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

static uint64_t image;

static uint64_t current_image(void) {
  if (!image) image = za_os_random_seed() | 1;
  return image;
}

void za_tree_image_hex(char out[17]) {
  uint64_t v = current_image();
  for (int i = 15; i >= 0; i--, v >>= 4) out[i] = "0123456789abcdef"[v & 15];
  out[16] = '\0';
}

static int open_in_dir(const char *name, int flags) {
  char path[ZA_PATH_MAX + 64];
  if (za_snprintf(path, sizeof path, "%s/%s", za_opt.summary_dir, name) >= sizeof path - 1) return -1;
  return open(path, flags | O_CLOEXEC, 0644);
}

/* The process's start time (field 22 of /proc/self/stat, in clock ticks since boot): an exec
 * keeps it, a new process that happens to get a reused pid does not. 0 when unknown. */
static unsigned long long start_time(void) {
  char buf[1024];
  int fd = za_os_open_read("/proc/self/stat");
  long n = fd >= 0 ? za_os_read(fd, buf, sizeof buf - 1) : -1;
  if (fd >= 0) za_os_close(fd);
  if (n <= 0) return 0;
  buf[n] = '\0';
  const char *p = strrchr(buf, ')');   /* the command name may hold spaces and parentheses */
  for (int field = 2; p && field < 22; field++) p = strchr(p + 1, ' ');
  unsigned long long v = 0;
  for (p = p ? p + 1 : ""; *p >= '0' && *p <= '9'; p++) v = v * 10 + (unsigned)(*p - '0');
  return v;
}

static void record_start(const char *command) {
  char line[2048];
  char id[17];
  za_tree_image_hex(id);
  size_t n = za_snprintf(line, sizeof line, "start\t%d\t%d\t%d\t%s\t%llu\t", za_os_getpid(),
                         za_sig_getppid(), za_parent_pid, id, start_time());
  for (const char *c = command; *c && n < sizeof line - 2; c++)
    line[n++] = (unsigned char)*c < ' ' ? ' ' : *c;
  line[n++] = '\n';
  int fd = open_in_dir("processes", O_WRONLY | O_APPEND | O_CREAT);
  if (fd >= 0) {
    za_os_write_all(fd, line, n);
    za_os_close(fd);
  }
}

bool za_tree_start(const char *command, char *err, size_t errlen) {
  if (!za_opt.summary_dir[0]) return true;
  if (access(za_opt.summary_dir, W_OK | X_OK) != 0) {
    char shown[600];
    za_snprintf(err, errlen, "zalloc: ZALLOC_SUMMARY_DIR=%s: not a directory this process can "
                             "write in; accepted: a writable directory (the zalloc wrapper sets it)",
                za_shown(za_opt.summary_dir, shown, sizeof shown));
    return false;
  }
  record_start(command);
  return true;
}

void za_tree_fork_child(const char *command) {
  /* The child has the parent's memory, and so its id: derive a new one. */
  uint64_t parent = current_image();
  image = ((parent ^ (uint64_t)za_os_getpid() * 0x9e3779b97f4a7c15ull) * 0xbf58476d1ce4e5b9ull) | 1;
  if (za_opt.summary_dir[0]) record_start(command);
}

int za_tree_open_report(void) {
  if (!za_opt.summary_dir[0]) return -1;
  char name[64], id[17];
  za_tree_image_hex(id);
  za_snprintf(name, sizeof name, "%d-%s.json", za_os_getpid(), id);
  return open_in_dir(name, O_WRONLY | O_CREAT | O_TRUNC);
}
