/* zalloc - the JSON writer: a finished report (report_model.h) as one JSON document on one line,
 * as docs/report.schema.json describes it (schema "zalloc-report", version 1). Reads the model
 * only; async-signal-safe. Strings are valid UTF-8 (bytes that are not become U+FFFD);
 * addresses are strings ("0x..."), since JSON numbers lose 64-bit precision in many readers. */
#ifndef ZA_REPORT_JSON_H
#define ZA_REPORT_JSON_H
#include "out.h"
#include "report_model.h"

#define ZA_REPORT_JSON_VERSION 1

void za_report_write_json(za_out_t *o, const za_report_t *r);
#endif
