/* zalloc tools - the summary of a process tree, from the records its processes left in a
 * ZALLOC_SUMMARY_DIR (src/tree.h): a start line per process image in DIR/processes, and a
 * final JSON report per image that got to write one.
 *
 * What it says, on one stream, every line starting "zalloc: ":
 *   - how many processes ran and how they ended, tallied ("14 exit(0), 1 killed by SIGSEGV,
 *     1 without a report");
 *   - the totals: heap errors, definitely lost bytes and blocks, crashes, and in how many
 *     processes;
 *   - the processes that have something to say (heap errors, lost blocks, a crash, no report),
 *     one line per program name, with their pids and where their reports are;
 *   - the heap errors, crashes and lost-block groups of every process merged by their stack:
 *     the same frames (module and offset in it, which do not change from one process to the
 *     next, unlike addresses) are one item "in N processes"; crashes first, then heap errors,
 *     then definitely and indirectly lost groups, each by size, worst first; the first
 *     SUMMARY_ITEMS of them with their stacks, then the worst of each program not among them,
 *     the rest counted;
 *   - for modules without debug information, which package would give file:line (asked of
 *     dpkg-query or rpm where there is one).
 * Reading never trusts the files: a report that is not JSON is counted as unreadable. */
#ifndef ZA_TOOLS_SUMMARY_H
#define ZA_TOOLS_SUMMARY_H
#include <stdbool.h>
#include <stdio.h>

#include "json.h"

#define SUMMARY_ITEMS 10      /* merged items printed with their stacks, worst first */
#define SUMMARY_ITEMS_MAX 20  /* and the worst of each program not among them, up to this */
#define SUMMARY_FRAMES 8      /* frames printed per item */

typedef struct zs_image {
  int pid, parent, forked_from;
  char id[17];
  char *command;
  json_t *report;             /* the final report, or NULL */
  unsigned long long started; /* the process's start time (the same across exec) */
  bool replaced;              /* exec'd: a later image is the same process */
  int wait_status;            /* as waitpid gave it to the wrapper, or -1 */
} zs_image_t;

typedef struct zs_tree {
  zs_image_t *images;
  size_t n;
  size_t unreadable;          /* report files that were not JSON */
} zs_tree_t;

/* Read DIR. False (with one line in err) when it has no start records at all. */
bool zs_load(zs_tree_t *t, const char *dir, char *err, size_t errlen);
/* The wrapper reaped `pid` with `status` (its own child, or an orphan it adopted). */
void zs_set_status(zs_tree_t *t, int pid, int status);
/* Processes (images not replaced by exec). */
size_t zs_processes(const zs_tree_t *t);
/* Whether some process had heap errors or definitely lost blocks no rule suppressed. */
bool zs_has_errors(const zs_tree_t *t);
/* Whether the image has something to say: errors, lost blocks, a crash, no report. */
bool zs_notable(const zs_image_t *im);
/* The summary; `logs`: where the per-process reports are (a path in which %p stands for the
 * pid), or NULL. */
void zs_print(FILE *out, const zs_tree_t *t, const char *logs);
/* The hint lines alone, for the modules without debug information of every report;
 * `packaged_only`: only those a package owns (the report's own hint says the rest). */
void zs_print_hints(FILE *out, const zs_tree_t *t, bool packaged_only);
void zs_free(zs_tree_t *t);
#endif
