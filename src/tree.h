/* zalloc - the process tree's records for the wrapper's summary (ZALLOC_SUMMARY_DIR).
 *
 * When the `zalloc` wrapper runs a program it sets ZALLOC_SUMMARY_DIR to a directory of its
 * own. Every process image then appends one line to DIR/processes when it starts (at start-up,
 * and in a forked child right after the fork), so that the summary knows of processes that end
 * without a report (SIGKILL, a signal zalloc does not catch, a static program it could not
 * see) and of images replaced by exec; and writes its final report, as JSON, to
 * DIR/PID-IMAGE.json. IMAGE is a random 64-bit id per process image (pids are reused; an exec
 * keeps the pid).
 *
 * A start line: "start\tPID\tPARENT\tFORKED_FROM\tIMAGE\tSTARTED\tCOMMAND\n" (decimal pids,
 * FORKED_FROM 0 unless the image is a forked copy of its parent, IMAGE in hex, STARTED the
 * process's start time in clock ticks since boot - the same for every image of a process, since
 * exec keeps it, and different for a later process that reuses the pid - COMMAND with tabs and
 * line breaks as spaces), written with one write(2) of under 4096 bytes to a file opened with
 * O_APPEND, so lines of processes starting together never interleave. */
#ifndef ZA_TREE_H
#define ZA_TREE_H
#include "common.h"

/* At start-up: check the directory (false, with an error line, if it cannot be written) and
 * record the start. Nothing without ZALLOC_SUMMARY_DIR. */
bool za_tree_start(const char *command, char *err, size_t errlen);
/* In a forked child: a new image, recorded. */
void za_tree_fork_child(const char *command);
/* This image's id as 16 hex digits (NUL-terminated), for the JSON report and file names. */
void za_tree_image_hex(char out[17]);
/* The file for the final JSON report (opened for writing), or -1 (no summary directory). */
int za_tree_open_report(void);
#endif
