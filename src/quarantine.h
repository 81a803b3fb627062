/* zalloc - the quarantine of freed GPA blocks (ZALLOC_QUARANTINE bytes, FIFO). */
#ifndef ZA_QUARANTINE_H
#define ZA_QUARANTINE_H
#include "thread.h"

typedef struct za_qbatch za_qbatch_t;

/* Put the freed block at `p` (already filled with ZA_FREED_BYTE; `bytes` of memory held) into
 * the quarantine through the thread's batch `*mine`. Blocks pushed out are handed to
 * za_gpa_release. False if no memory for a batch could be had (the caller releases `p`). */
bool za_quarantine_put(za_thread_t *t, za_qbatch_t **mine, uintptr_t p, size_t bytes);
/* The thread is exiting: its batch joins the FIFO. */
void za_quarantine_flush(za_thread_t *t, za_qbatch_t **mine);
void za_quarantine_fork_prepare(void);
void za_quarantine_fork_parent(void);
void za_quarantine_fork_child(void);
#endif
