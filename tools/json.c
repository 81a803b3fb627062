/* zalloc tools - a small JSON reader (see json.h). */
#include "json.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct parser {
  const char *p;
  const char *error;
  int depth;
} parser_t;

static json_t *value(parser_t *ps);

static void skip_space(parser_t *ps) {
  while (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r') ps->p++;
}

static json_t *fail(parser_t *ps, const char *what) {
  if (!ps->error) ps->error = what;
  return NULL;
}

static json_t *make(json_type_t t) {
  json_t *v = calloc(1, sizeof *v);
  if (v) v->type = t;
  return v;
}

static bool push(json_t *v, json_t *item, char *key) {
  if (v->n == 0 || (v->n >= 4 && (v->n & (v->n - 1)) == 0)) {   /* full at 0, 4, 8, 16... */
    size_t cap = v->n ? v->n * 2 : 4;
    json_t **items = realloc(v->items, cap * sizeof *items);
    if (!items) return false;
    v->items = items;
    if (v->type == JSON_OBJECT) {
      char **keys = realloc(v->keys, cap * sizeof *keys);
      if (!keys) return false;
      v->keys = keys;
    }
  }
  v->items[v->n] = item;
  if (v->type == JSON_OBJECT) v->keys[v->n] = key;
  v->n++;
  return true;
}

static void put_utf8(char **out, unsigned long c) {
  char *o = *out;
  if (c < 0x80) {
    *o++ = (char)c;
  } else if (c < 0x800) {
    *o++ = (char)(0xc0 | c >> 6);
    *o++ = (char)(0x80 | (c & 0x3f));
  } else if (c < 0x10000) {
    *o++ = (char)(0xe0 | c >> 12);
    *o++ = (char)(0x80 | (c >> 6 & 0x3f));
    *o++ = (char)(0x80 | (c & 0x3f));
  } else {
    *o++ = (char)(0xf0 | c >> 18);
    *o++ = (char)(0x80 | (c >> 12 & 0x3f));
    *o++ = (char)(0x80 | (c >> 6 & 0x3f));
    *o++ = (char)(0x80 | (c & 0x3f));
  }
  *out = o;
}

static bool hex4(const char *p, unsigned long *c) {
  *c = 0;
  for (int i = 0; i < 4; i++) {
    char h = p[i];
    int d = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10 : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
    if (d < 0) return false;
    *c = *c * 16 + (unsigned long)d;
  }
  return true;
}

/* A string at ps->p (after its opening quote); malloc'ed. Escapes never make it longer. */
static char *string(parser_t *ps) {
  const char *start = ps->p;
  size_t len = 0;
  while (start[len] && start[len] != '"') len += start[len] == '\\' && start[len + 1] ? 2 : 1;
  char *s = malloc(len + 1), *o = s;
  if (!s) return NULL;
  const char *p = start;
  while (*p && *p != '"') {
    if ((unsigned char)*p < 0x20) break;
    if (*p != '\\') {
      *o++ = *p++;
      continue;
    }
    p++;
    unsigned long c;
    switch (*p) {
    case '"': case '\\': case '/': *o++ = *p++; break;
    case 'b': *o++ = '\b'; p++; break;
    case 'f': *o++ = '\f'; p++; break;
    case 'n': *o++ = '\n'; p++; break;
    case 'r': *o++ = '\r'; p++; break;
    case 't': *o++ = '\t'; p++; break;
    case 'u':
      if (!hex4(p + 1, &c)) goto bad;
      p += 5;
      if (c >= 0xd800 && c < 0xdc00 && p[0] == '\\' && p[1] == 'u') {
        unsigned long lo;
        if (hex4(p + 2, &lo) && lo >= 0xdc00 && lo < 0xe000) {
          c = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
          p += 6;
        }
      }
      put_utf8(&o, c);
      break;
    default: goto bad;
    }
  }
  if (*p != '"') goto bad;
  *o = '\0';
  ps->p = p + 1;
  return s;
bad:
  free(s);
  fail(ps, "a bad string");
  return NULL;
}

static json_t *container(parser_t *ps, bool object) {
  json_t *v = make(object ? JSON_OBJECT : JSON_ARRAY);
  if (!v) return fail(ps, "out of memory");
  ps->p++;
  skip_space(ps);
  char close = object ? '}' : ']';
  if (*ps->p == close) {
    ps->p++;
    return v;
  }
  for (;;) {
    char *key = NULL;
    if (object) {
      skip_space(ps);
      if (*ps->p != '"' || (ps->p++, key = string(ps)) == NULL) goto bad;
      skip_space(ps);
      if (*ps->p++ != ':') goto bad;
    }
    json_t *item = value(ps);
    if (!item || !push(v, item, key)) {
      json_free(item);
      free(key);
      goto bad;
    }
    skip_space(ps);
    if (*ps->p == ',') {
      ps->p++;
      continue;
    }
    if (*ps->p == close) {
      ps->p++;
      return v;
    }
    goto bad;
  }
bad:
  json_free(v);
  return fail(ps, object ? "a bad object" : "a bad array");
}

static json_t *value(parser_t *ps) {
  if (++ps->depth > 64) return fail(ps, "nested too deep");
  skip_space(ps);
  json_t *v = NULL;
  char c = *ps->p;
  if (c == '{' || c == '[') {
    v = container(ps, c == '{');
  } else if (c == '"') {
    ps->p++;
    char *s = string(ps);
    if (s && (v = make(JSON_STRING)) != NULL) v->string = s;
    else free(s);
  } else if (!strncmp(ps->p, "true", 4) || !strncmp(ps->p, "false", 5)) {
    if ((v = make(JSON_BOOL)) != NULL) v->boolean = c == 't';
    ps->p += c == 't' ? 4 : 5;
  } else if (!strncmp(ps->p, "null", 4)) {
    v = make(JSON_NULL);
    ps->p += 4;
  } else if (c == '-' || (c >= '0' && c <= '9')) {
    char *end;
    double d = strtod(ps->p, &end);
    if ((v = make(JSON_NUMBER)) != NULL) {
      v->number = d;
      v->integer = strtoll(ps->p, NULL, 10);
    }
    ps->p = end;
  } else {
    fail(ps, "not a JSON value");
  }
  ps->depth--;
  return v;
}

json_t *json_parse(const char *text, const char **error) {
  parser_t ps = {text, NULL, 0};
  json_t *v = value(&ps);
  skip_space(&ps);
  if (v && *ps.p) {
    json_free(v);
    v = fail(&ps, "text after the document");
  }
  if (!v && error) *error = ps.error ? ps.error : "out of memory";
  return v;
}

void json_free(json_t *v) {
  if (!v) return;
  for (size_t i = 0; i < v->n; i++) {
    json_free(v->items[i]);
    if (v->keys) free(v->keys[i]);
  }
  free(v->items);
  free(v->keys);
  free(v->string);
  free(v);
}

const json_t *json_get(const json_t *v, const char *key) {
  if (!v || v->type != JSON_OBJECT) return NULL;
  for (size_t i = 0; i < v->n; i++)
    if (strcmp(v->keys[i], key) == 0) return v->items[i];
  return NULL;
}

const json_t *json_at(const json_t *v, size_t i) {
  return v && v->type == JSON_ARRAY && i < v->n ? v->items[i] : NULL;
}

const json_t *json_path(const json_t *v, const char *path) {
  char part[128];
  for (const char *p = path; v && *p;) {
    size_t n = strcspn(p, ".");
    if (n >= sizeof part) return NULL;
    memcpy(part, p, n);
    part[n] = '\0';
    char *end;
    unsigned long idx = strtoul(part, &end, 10);
    v = v->type == JSON_ARRAY && *end == '\0' && n ? json_at(v, idx) : json_get(v, part);
    p += n + (p[n] == '.');
  }
  return v;
}

long long json_int(const json_t *v, long long fallback) {
  return v && v->type == JSON_NUMBER ? v->integer : fallback;
}

const char *json_str(const json_t *v) { return v && v->type == JSON_STRING ? v->string : NULL; }
bool json_bool(const json_t *v) { return v && v->type == JSON_BOOL && v->boolean; }
size_t json_len(const json_t *v) {
  return v && (v->type == JSON_ARRAY || v->type == JSON_OBJECT) ? v->n : 0;
}
