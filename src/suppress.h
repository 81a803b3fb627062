/* zalloc - suppressions (ZALLOC_SUPPRESS), step 3 of report_model.h.
 *
 * A suppression file holds lines `KIND:PATTERN`: KIND a finding kind as the JSON report spells
 * it (double-free, invalid-free, invalid-realloc, invalid-usable-size, impossible-request,
 * heap-overflow, heap-underflow, write-after-free, mismatched-deallocation) or `leak`
 * (definitely and indirectly lost groups); PATTERN a glob (`*` any run of characters, `?` one
 * character) that must match the whole of a frame's function name (as the report prints it,
 * demangled), its source file (the path as printed, or its last component) or its module
 * (the path, or its last component), for some frame of any stack of the item. `#` starts a
 * comment; blank lines are ignored.
 *
 * The files are read once at start-up into zalloc's own memory; an item that matches is
 * marked with its rule, not removed: reports count suppressed items on one line. */
#ifndef ZA_SUPPRESS_H
#define ZA_SUPPRESS_H
#include "report_model.h"

/* Read every file of `files` (':'-separated; "" for none). False, with one error line naming
 * the file, the line and what is accepted in err, at the first bad one. */
bool za_suppress_load(const char *files, char *err, size_t errlen);
/* Mark what the rules match in the report, and list the rules in it (r->rules, with the
 * number of items each matched). */
void za_suppress_apply(za_report_t *r);
/* A glob (`*`, `?`) against the whole of `s`. */
bool za_suppress_glob(const char *pattern, const char *s);
#endif
