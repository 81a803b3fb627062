/* zalloc tools - a small JSON reader for the wrapper's summary: parses a whole document into a
 * tree (malloc'ed; the wrapper is never run under libzalloc.so) and reads it by key or path.
 * Enough for zalloc's own reports: objects, arrays, strings (with \u escapes, surrogate pairs
 * included), integers, numbers, true, false, null. */
#ifndef ZA_TOOLS_JSON_H
#define ZA_TOOLS_JSON_H
#include <stdbool.h>
#include <stddef.h>

typedef enum { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT } json_type_t;

typedef struct json {
  json_type_t type;
  bool boolean;
  long long integer;          /* JSON_NUMBER: the value, when it is a whole number */
  double number;
  char *string;
  size_t n;                   /* ARRAY, OBJECT: members */
  struct json **items;
  char **keys;                /* OBJECT */
} json_t;

/* The document in `text` (NUL-terminated), or NULL with *error set to what is wrong. */
json_t *json_parse(const char *text, const char **error);
void json_free(json_t *v);

/* A member of an object (NULL when absent or not an object); an element of an array. */
const json_t *json_get(const json_t *v, const char *key);
const json_t *json_at(const json_t *v, size_t i);
/* Keys separated by '.', numbers indexing arrays: "crash.frames.0.function". */
const json_t *json_path(const json_t *v, const char *path);
/* The value as a type, or `fallback` (NULL for strings) when it is not one. */
long long json_int(const json_t *v, long long fallback);
const char *json_str(const json_t *v);
bool json_bool(const json_t *v);
size_t json_len(const json_t *v);   /* members of an array or object, else 0 */
#endif
