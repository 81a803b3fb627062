/* Stand-in for zalloc's own code in the stack unit tests: a library whose frames a capture
 * must leave out when it is named as `self` (za_stack_init(&self_entry_a)), as libzalloc.so's
 * frames are left out of every stack. Its entry points call `capture` through a few frames of
 * their own, as malloc reaches za_stack_capture through za_malloc and the backend; each entry
 * has its own shape (number and size of frames). Built with -O2 -fomit-frame-pointer, but for
 * self_entry_fp, whose frames use rbp as the frame pointer. */
#include <stdint.h>

typedef uint32_t (*self_capture_fn)(int depth);

static volatile int sink;

__attribute__((noinline)) static uint32_t self_inner(self_capture_fn capture, int depth) {
  uint32_t id = capture(depth);
  sink++;
  return id;
}

__attribute__((noinline)) static uint32_t self_middle(self_capture_fn capture, int depth) {
  volatile char pad[72];
  pad[0] = 1;
  uint32_t id = self_inner(capture, depth);
  sink += pad[0];
  return id;
}

__attribute__((visibility("default"), noinline)) uint32_t self_entry_a(self_capture_fn capture, int depth) {
  uint32_t id = self_middle(capture, depth);
  sink++;
  return id;
}

__attribute__((visibility("default"), noinline)) uint32_t self_entry_b(self_capture_fn capture, int depth) {
  volatile char pad[200];
  pad[0] = 1;
  uint32_t id = self_inner(capture, depth);
  sink += pad[0];
  return id;
}

__attribute__((noinline, optimize("no-omit-frame-pointer"))) static uint32_t
self_fp_inner(self_capture_fn capture, int depth) {
  volatile char pad[24];
  pad[0] = 1;
  uint32_t id = capture(depth);
  sink += pad[0];
  return id;
}

__attribute__((visibility("default"), noinline, optimize("no-omit-frame-pointer"))) uint32_t
self_entry_fp(self_capture_fn capture, int depth) {
  uint32_t id = self_fp_inner(capture, depth);
  sink++;
  return id;
}
