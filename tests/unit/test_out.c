/* Unit tests of the malloc-free formatter (out.h): za_snprintf and za_out_printf. */
#include <criterion/criterion.h>

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "out.h"

/* Format with za_snprintf into a roomy buffer and compare; also checks the returned length. */
#define CHECK(expect, ...)                                                                    \
  do {                                                                                        \
    char buf_[256];                                                                           \
    memset(buf_, 'Z', sizeof buf_);                                                           \
    size_t n_ = za_snprintf(buf_, sizeof buf_, __VA_ARGS__);                                  \
    cr_assert_str_eq(buf_, (expect), "format %s", #__VA_ARGS__);                              \
    cr_assert_eq(n_, strlen(expect), "format %s: returned %zu", #__VA_ARGS__, n_);            \
  } while (0)

Test(out, plain_text) {
  CHECK("", "");
  CHECK("hello, world", "hello, world");
  CHECK("100%", "100%%");
  CHECK("%%", "%%%%");
}

Test(out, strings_and_chars) {
  CHECK("hello", "%s", "hello");
  CHECK("", "%s", "");
  CHECK("(null)", "%s", (const char *)NULL);
  CHECK("a-b-c", "%s-%s-%s", "a", "b", "c");
  CHECK("x", "%c", 'x');
  CHECK("[A]", "[%c]", 'A');
}

Test(out, signed_decimal) {
  CHECK("0", "%d", 0);
  CHECK("42", "%d", 42);
  CHECK("-42", "%d", -42);
  CHECK("-1", "%i", -1);
  CHECK("2147483647", "%d", INT_MAX);
  CHECK("-2147483648", "%d", INT_MIN);
  CHECK("-9223372036854775808", "%ld", LONG_MIN);
  CHECK("9223372036854775807", "%lld", LLONG_MAX);
  CHECK("-5 and 7", "%d and %d", -5, 7);
}

Test(out, unsigned_and_hex) {
  CHECK("0", "%u", 0u);
  CHECK("4294967295", "%u", UINT_MAX);
  CHECK("18446744073709551615", "%lu", ULONG_MAX);
  CHECK("18446744073709551615", "%llu", ULLONG_MAX);
  CHECK("0", "%x", 0u);
  CHECK("ff", "%x", 255u);
  CHECK("deadbeef", "%x", 0xdeadbeefu);
  CHECK("123456789abcdef0", "%lx", 0x123456789abcdef0ul);
  CHECK("ffffffffffffffff", "%llx", ULLONG_MAX);
}

Test(out, size_t_modifier) {
  CHECK("0", "%zu", (size_t)0);
  CHECK("4096", "%zu", (size_t)4096);
  CHECK("18446744073709551615", "%zu", SIZE_MAX);
  CHECK("1000000", "%zu", (size_t)1000000);
}

Test(out, pointers) {
  CHECK("0x0", "%p", (void *)NULL);
  CHECK("0x1234", "%p", (void *)0x1234);
  CHECK("0x7fffdeadbeef", "%p", (void *)0x7fffdeadbeefull);
  CHECK("0xffffffffffffffff", "%p", (void *)UINTPTR_MAX);
}

Test(out, width_right_aligned) {
  CHECK("   42", "%5d", 42);
  CHECK("  -42", "%5d", -42);
  CHECK("12345", "%3d", 12345);              /* wider than the width: not cut */
  CHECK("    ab", "%6s", "ab");
  CHECK("    ff", "%6x", 255u);
  CHECK("   x", "%4c", 'x');
  CHECK("  0x10", "%6p", (void *)0x10);
  CHECK("         7", "%10zu", (size_t)7);
}

Test(out, width_left_aligned) {
  CHECK("42   |", "%-5d|", 42);
  CHECK("-42  |", "%-5d|", -42);
  CHECK("ab    |", "%-6s|", "ab");
  CHECK("abcdef|", "%-3s|", "abcdef");
  CHECK("1,000   |", "%-8N|", (size_t)1000);
  CHECK("| a|b |", "|%2s|%-2s|", "a", "b");
}

Test(out, thousands_separators) {
  CHECK("0", "%N", (size_t)0);
  CHECK("1", "%N", (size_t)1);
  CHECK("999", "%N", (size_t)999);
  CHECK("1,000", "%N", (size_t)1000);
  CHECK("10,000", "%N", (size_t)10000);
  CHECK("100,000", "%N", (size_t)100000);
  CHECK("999,999", "%N", (size_t)999999);
  CHECK("1,000,000", "%N", (size_t)1000000);
  CHECK("1,234,567", "%N", (size_t)1234567);
  CHECK("18,446,744,073,709,551,615", "%N", SIZE_MAX);
  CHECK("  1,234", "%7N", (size_t)1234);
}

Test(out, human_bytes) {
  CHECK("0 bytes", "%B", (size_t)0);
  CHECK("1 byte", "%B", (size_t)1);
  CHECK("2 bytes", "%B", (size_t)2);
  CHECK("1023 bytes", "%B", (size_t)1023);
  CHECK("1.0 KiB", "%B", (size_t)1024);
  CHECK("1.5 KiB", "%B", (size_t)1536);
  CHECK("12.3 KiB", "%B", (size_t)(12 * 1024 + 307));
  CHECK("10.0 MiB", "%B", (size_t)10 << 20);
  CHECK("1.5 MiB", "%B", ((size_t)3 << 20) / 2);
  CHECK("2.0 GiB", "%B", (size_t)2 << 30);
  CHECK("3.0 TiB", "%B", (size_t)3 << 40);
  CHECK("2048.0 TiB", "%B", (size_t)2 << 50);   /* TiB is the largest unit */
  CHECK("[  1.0 KiB]", "[%9B]", (size_t)1024);
}

/* Rounding to one decimal must not print "1024.0 KiB" for what is 1.0 MiB. */
Test(out, human_bytes_rounding_moves_to_next_unit) {
  CHECK("1.0 MiB", "%B", ((size_t)1 << 20) - 1);
  CHECK("1.0 GiB", "%B", ((size_t)1 << 30) - 1);
  CHECK("1023.9 KiB", "%B", ((size_t)1 << 20) - 103);
}

/* Counts near the top of size_t must not overflow on the way to tenths. */
Test(out, human_bytes_huge_values) {
  CHECK("2097152.0 TiB", "%B", (size_t)1 << 61);
  CHECK("1572864.0 TiB", "%B", ((size_t)1 << 60) * 3 / 2);
  CHECK("16777216.0 TiB", "%B", SIZE_MAX);
  CHECK("8388608.0 TiB", "%B", (size_t)1 << 63);
}

Test(out, mixed) {
  CHECK("zalloc: 3 blocks, 1,024 bytes (1.0 KiB) at 0xabc", "zalloc: %d blocks, %N bytes (%B) at %p", 3,
        (size_t)1024, (size_t)1024, (void *)0xabc);
  CHECK("ZALLOC_MODE=x; accepted: arena", "%s=%s; accepted: %s", "ZALLOC_MODE", "x", "arena");
}

Test(out, unknown_directive_stops_output) {
  CHECK("a", "a%qb%d", 5);
}

/* ---- truncation -------------------------------------------------------------------------- */

Test(out, snprintf_truncates_at_capacity) {
  char buf[16];
  memset(buf, 'Z', sizeof buf);
  size_t n = za_snprintf(buf, 8, "%s", "abcdefghijkl");
  cr_assert_eq(n, 7);
  cr_assert_str_eq(buf, "abcdefg");
  for (size_t i = 8; i < sizeof buf; i++) cr_assert_eq(buf[i], 'Z', "wrote past capacity at %zu", i);

  memset(buf, 'Z', sizeof buf);
  n = za_snprintf(buf, 4, "%d", 123456);
  cr_assert_eq(n, 3);
  cr_assert_str_eq(buf, "123");
  cr_assert_eq(buf[4], 'Z');

  memset(buf, 'Z', sizeof buf);
  n = za_snprintf(buf, 6, "%N", (size_t)1234567);
  cr_assert_eq(n, 5);
  cr_assert_str_eq(buf, "1,234");

  memset(buf, 'Z', sizeof buf);
  n = za_snprintf(buf, 5, "%8d", 1);
  cr_assert_eq(n, 4);
  cr_assert_str_eq(buf, "    ");
  cr_assert_eq(buf[5], 'Z');

  memset(buf, 'Z', sizeof buf);
  n = za_snprintf(buf, 3, "abc%s", "def");
  cr_assert_eq(n, 2);
  cr_assert_str_eq(buf, "ab");
}

Test(out, snprintf_exact_fit) {
  char buf[8];
  memset(buf, 'Z', sizeof buf);
  cr_assert_eq(za_snprintf(buf, 6, "%s", "hello"), 5);
  cr_assert_str_eq(buf, "hello");
  cr_assert_eq(buf[6], 'Z');
}

Test(out, snprintf_capacity_one_and_zero) {
  char buf[4] = {'Z', 'Z', 'Z', 'Z'};
  cr_assert_eq(za_snprintf(buf, 1, "%s", "abc"), 0);
  cr_assert_eq(buf[0], '\0');
  cr_assert_eq(buf[1], 'Z');
  buf[0] = 'Z';
  cr_assert_eq(za_snprintf(buf, 0, "%s", "abc"), 0);
  cr_assert_eq(buf[0], 'Z', "capacity 0 must not write");
}

Test(out, collect_only_buffer_drops_excess) {
  char buf[10];
  za_out_t o;
  za_out_init(&o, -1, buf, sizeof buf);
  za_out_printf(&o, "%s", "0123456");
  cr_assert_eq(o.len, 7);
  za_out_printf(&o, "%d|%N", 789, (size_t)123456);
  cr_assert_eq(o.len, sizeof buf);
  cr_assert_eq(memcmp(buf, "0123456789", 10), 0);
  za_out_printf(&o, "more");
  za_out_str(&o, "and more");
  cr_assert_eq(o.len, sizeof buf);
  za_out_flush(&o);                      /* no fd: nothing happens, nothing lost */
  cr_assert_eq(o.len, sizeof buf);
  cr_assert_eq(memcmp(buf, "0123456789", 10), 0);
}

Test(out, out_str_and_printf_append) {
  char buf[64];
  za_out_t o;
  za_out_init(&o, -1, buf, sizeof buf);
  za_out_str(&o, "a");
  za_out_printf(&o, "%d", 1);
  za_out_str(&o, "");
  za_out_printf(&o, "[%-3s]", "b");
  cr_assert_eq(o.len, 7);
  cr_assert_eq(memcmp(buf, "a1[b  ]", 7), 0);
}

/* With an fd, a full buffer is flushed and nothing is lost, whatever the capacity. */
Test(out, flushes_to_fd_when_full) {
  char expect[512];
  size_t elen = (size_t)snprintf(expect, sizeof expect,
                                 "%s %d %u %x %zu %-6s| %5d", "a fairly long string to overflow",
                                 -123456, 4000000000u, 0xbeefu, (size_t)99, "L", 7);
  const size_t caps[] = {1, 2, 3, 7, 16, 64, 512};
  for (size_t c = 0; c < sizeof caps / sizeof caps[0]; c++) {
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    char buf[512];
    za_out_t o;
    za_out_init(&o, fds[1], buf, caps[c]);
    za_out_printf(&o, "%s %d %u %x %zu %-6s| %5d", "a fairly long string to overflow", -123456,
                  4000000000u, 0xbeefu, (size_t)99, "L", 7);
    za_out_printf(&o, "%N", (size_t)1234567);
    za_out_flush(&o);
    cr_assert_eq(o.len, 0);
    close(fds[1]);
    char got[1024];
    size_t n = 0;
    ssize_t r;
    while ((r = read(fds[0], got + n, sizeof got - n)) > 0) n += (size_t)r;
    close(fds[0]);
    cr_assert_eq(n, elen + 9, "cap %zu: got %zu bytes", caps[c], n);
    cr_assert_eq(memcmp(got, expect, elen), 0, "cap %zu", caps[c]);
    cr_assert_eq(memcmp(got + elen, "1,234,567", 9), 0, "cap %zu", caps[c]);
  }
}
