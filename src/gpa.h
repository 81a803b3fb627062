/* zalloc - the GPA backend's internals shared with its quarantine (quarantine.c). The
 * backend itself is za_gpa_backend (backend.h); see gpa.c for its design. */
#ifndef ZA_GPA_H
#define ZA_GPA_H
#include "backend.h"

/* Byte patterns. Guard bytes around every block; freed blocks while in the quarantine. Both
 * odd, non-zero and not a plausible pointer byte, so a program reading them gets an address
 * that faults rather than one that works. */
#define ZA_GUARD_BYTE 0xabu
#define ZA_FREED_BYTE 0xfdu

/* The backend's alloc and free (za_gpa_backend's), for api.c's direct calls. */
void *za_gpa_alloc(za_thread_t *t, size_t size, size_t align, unsigned flags);
za_block_state_t za_gpa_free(za_thread_t *t, void *p, za_block_info_t *info);

/* The GPA's per-slot extension (its records), in bits per 16 bytes of heap: the page backend,
 * which is the GPA with guarded pages in front, declares the same. */
#define ZA_GPA_EXT_BITS 192u

/* A quarantined block leaves the quarantine: check its fill pattern (recording a write after
 * free), then make its memory reusable. Called by the quarantine without any lock held. */
void za_gpa_release(za_thread_t *t, uintptr_t p);

#endif
