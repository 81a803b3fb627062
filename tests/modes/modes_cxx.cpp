// ZALLOC_LIMIT and C++: operator new over the budget calls the new-handler and throws
// std::bad_alloc, the nothrow form returns nullptr, and a new-handler that frees memory lets
// the retry succeed. Run with ZALLOC_LIMIT=1M; prints "NAME=ok" or "NAME=bad" per check.
#include <malloc.h>
#include <cstdlib>
#include <new>

#include "pit_say.h"

static const size_t LIMIT = size_t(1) << 20;
static char *reserve;
static int handler_calls;

static void give_back_reserve() {
  handler_calls++;
  if (reserve) {
    free(reserve);
    reserve = nullptr;
  } else {
    std::set_new_handler(nullptr);   // nothing left to give: let new throw
  }
}

static void check(const char *name, bool ok) { say("%s=%s\n", name, ok ? "ok" : "bad"); }

int main() {
  size_t room = LIMIT - mallinfo2().uordblks;
  char *all = static_cast<char *>(malloc(room));
  check("whole", all != nullptr);
  bool threw = false;
  try {
    char *p = new char[16];
    delete[] static_cast<char *>(launder(p));
  } catch (const std::bad_alloc &) {
    threw = true;
  }
  check("new_throws", threw);
  char *q = new (std::nothrow) char[16];
  check("nothrow_null", q == nullptr);
  threw = false;
  try {
    int *r = new (std::align_val_t(64)) int;
    ::operator delete(launder(r), std::align_val_t(64));
  } catch (const std::bad_alloc &) {
    threw = true;
  }
  check("aligned_new_throws", threw);
  free(all);
  // The handler frees a reserve: the retry fits.
  reserve = static_cast<char *>(malloc(room - 64));
  std::set_new_handler(give_back_reserve);
  char *big = nullptr;
  try {
    big = new char[1000];
  } catch (const std::bad_alloc &) {
  }
  check("handler_made_room", big != nullptr && handler_calls == 1);
  delete[] big;
  say("done\n");
  return 0;
}
