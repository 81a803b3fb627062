/* zalloc - formatted output without stdio or malloc (see out.h). */
#include "out.h"
#include "prim.h"

#include <string.h>

void za_out_init(za_out_t *o, int fd, char *buf, size_t cap) {
  o->fd = fd;
  o->buf = buf;
  o->cap = cap;
  o->len = 0;
  o->err = 0;
}

void za_out_flush(za_out_t *o) {
  if (o->fd >= 0 && o->len > 0 && !o->err) o->err = za_os_write_all(o->fd, o->buf, o->len);
  if (o->fd >= 0) o->len = 0;
}

static void put(za_out_t *o, const char *s, size_t n) {
  while (n > 0) {
    if (o->len == o->cap) {
      if (o->fd < 0) return; /* collect-only buffer: truncate */
      za_out_flush(o);
    }
    size_t room = o->cap - o->len;
    size_t k = n < room ? n : room;
    memcpy(o->buf + o->len, s, k);
    o->len += k;
    s += k;
    n -= k;
  }
}

void za_out_str(za_out_t *o, const char *s) { put(o, s, strlen(s)); }

static void put_padded(za_out_t *o, const char *s, size_t n, int width, bool left) {
  if (!left) for (int i = (int)n; i < width; i++) put(o, " ", 1);
  put(o, s, n);
  if (left) for (int i = (int)n; i < width; i++) put(o, " ", 1);
}

static size_t fmt_unsigned(char *end, unsigned long long v, unsigned base, bool group) {
  char *p = end;
  int digits = 0;
  do {
    if (group && digits && digits % 3 == 0) *--p = ',';
    *--p = "0123456789abcdef"[v % base];
    v /= base;
    digits++;
  } while (v);
  return (size_t)(end - p);
}

/* v / scale in tenths, rounded; exact (v * 10 would overflow above 1.6 EiB). */
static unsigned long long to_tenths(unsigned long long v, unsigned long long scale) {
  return v / scale * 10 + (v % scale * 10 + scale / 2) / scale;
}

/* "512 bytes", "12.3 KiB", "1.5 MiB", "2.0 GiB" */
static size_t fmt_bytes(char *buf, unsigned long long v) {
  static const char *units[] = {"KiB", "MiB", "GiB", "TiB"};
  char tmp[32];
  size_t n;
  if (v < 1024) {
    n = fmt_unsigned(tmp + sizeof tmp, v, 10, false);
    memcpy(buf, tmp + sizeof tmp - n, n);
    memcpy(buf + n, v == 1 ? " byte" : " bytes", v == 1 ? 5 : 6);
    return n + (v == 1 ? 5 : 6);
  }
  int u = 0;
  unsigned long long scale = 1024;
  while (u < 3 && v >= scale * 1024) { scale *= 1024; u++; }
  unsigned long long tenths = to_tenths(v, scale);
  if (tenths >= 10240 && u < 3) { /* rounds up to 1024.0: that is 1.0 of the next unit */
    scale *= 1024;
    u++;
    tenths = to_tenths(v, scale);
  }
  n = fmt_unsigned(tmp + sizeof tmp, tenths / 10, 10, false);
  memcpy(buf, tmp + sizeof tmp - n, n);
  buf[n++] = '.';
  buf[n++] = (char)('0' + tenths % 10);
  buf[n++] = ' ';
  memcpy(buf + n, units[u], 3);
  return n + 3;
}

void za_out_vprintf(za_out_t *o, const char *fmt, va_list ap) {
  char num[48];
  for (const char *f = fmt; *f; f++) {
    if (*f != '%') {
      const char *run = f;
      while (f[1] && f[1] != '%') f++;
      put(o, run, (size_t)(f - run) + 1);
      continue;
    }
    f++;
    bool left = false;
    if (*f == '-') { left = true; f++; }
    int width = 0;
    while (*f >= '0' && *f <= '9') width = width * 10 + (*f++ - '0');
    int lng = 0;
    while (*f == 'l' || *f == 'z') { lng++; f++; }
    char *end = num + sizeof num;
    size_t n;
    switch (*f) {
    case 's': {
      const char *s = va_arg(ap, const char *);
      if (!s) s = "(null)";
      put_padded(o, s, strlen(s), width, left);
      break;
    }
    case 'c': {
      char c = (char)va_arg(ap, int);
      put_padded(o, &c, 1, width, left);
      break;
    }
    case 'd': case 'i': {
      long long v = lng ? va_arg(ap, long long) : va_arg(ap, int);
      unsigned long long m = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
      n = fmt_unsigned(end, m, 10, false);
      if (v < 0) { *(end - n - 1) = '-'; n++; }
      put_padded(o, end - n, n, width, left);
      break;
    }
    case 'u': case 'x': {
      unsigned long long v = lng ? va_arg(ap, unsigned long long) : va_arg(ap, unsigned);
      n = fmt_unsigned(end, v, *f == 'x' ? 16 : 10, false);
      put_padded(o, end - n, n, width, left);
      break;
    }
    case 'N': {
      n = fmt_unsigned(end, va_arg(ap, size_t), 10, true);
      put_padded(o, end - n, n, width, left);
      break;
    }
    case 'B': {
      n = fmt_bytes(num, va_arg(ap, size_t));
      put_padded(o, num, n, width, left);
      break;
    }
    case 'p': {
      n = fmt_unsigned(end, (uintptr_t)va_arg(ap, void *), 16, false);
      *(end - n - 1) = 'x';
      *(end - n - 2) = '0';
      put_padded(o, end - n - 2, n + 2, width, left);
      break;
    }
    case '%': put(o, "%", 1); break;
    default: return; /* unknown directive: stop rather than misread the arguments */
    }
  }
}

void za_out_printf(za_out_t *o, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  za_out_vprintf(o, fmt, ap);
  va_end(ap);
}

size_t za_snprintf(char *buf, size_t cap, const char *fmt, ...) {
  if (cap == 0) return 0;
  za_out_t o;
  za_out_init(&o, -1, buf, cap - 1);
  va_list ap;
  va_start(ap, fmt);
  za_out_vprintf(&o, fmt, ap);
  va_end(ap);
  buf[o.len] = '\0';
  return o.len;
}

static size_t shown_len(unsigned char c) { return c < 0x20 || c == 0x7f ? 4 : 1; }

const char *za_shown(const char *s, char *buf, size_t cap) {
  static const char hex[] = "0123456789abcdef";
  size_t total = 0, n = 0;
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) total += shown_len(*p);
  bool cut = total >= cap;
  size_t room = cut ? (cap > 4 ? cap - 4 : 0) : cap - 1;
  for (const unsigned char *p = (const unsigned char *)s; *p && n + shown_len(*p) <= room; p++) {
    if (shown_len(*p) == 1) {
      buf[n++] = (char)*p;
    } else {
      buf[n++] = '\\';
      buf[n++] = 'x';
      buf[n++] = hex[*p >> 4];
      buf[n++] = hex[*p & 15];
    }
  }
  if (cut && cap > 4) {
    memcpy(buf + n, "...", 3);
    n += 3;
  }
  buf[n] = '\0';
  return buf;
}
