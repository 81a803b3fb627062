/* zalloc - the text writer: a finished report (report_model.h) as "==PID== " lines, the format
 * docs/report.md describes line by line. Reads the model only; async-signal-safe (it formats
 * into the caller's za_out_t, which writes with write(2)). */
#ifndef ZA_REPORT_TEXT_H
#define ZA_REPORT_TEXT_H
#include "out.h"
#include "report_model.h"

void za_report_write_text(za_out_t *o, const za_report_t *r);
/* One stack's frame lines, each starting with `prefix` (also stack.h's za_stack_write). */
void za_report_text_frames(za_out_t *o, const char *prefix, const za_rstack_t *s);
#endif
