// Helper for test_cxx.c: a C++ program, one scenario per first argument, run with and without
// libzalloc.so preloaded. The scenarios that behave the same under any conforming allocator
// print only what does not depend on it (no pointers), so the test can compare the output of
// both runs; the misuse scenarios print the pointers and thread ids the report must name
// ("key=value" lines). Every scenario prints "done" when it gets to its end.
//
// Operators are mostly called by name (::operator new(n) ...) on laundered pointers and sizes,
// so that the compiler neither folds the calls away nor warns about the deliberate misuse.
#include <dlfcn.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <numeric>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace {

template <typename T> T launder(T v) {
  __asm__ volatile("" : "+r"(v));
  return v;
}

// A size no allocation can have, hidden from the compiler.
std::size_t impossible() { return launder(SIZE_MAX / 2); }

int failures = 0;
#define CHECK(cond, ...)                                                                           \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      std::printf("FAIL %s:%d: ", __FILE__, __LINE__);                                             \
      std::printf(__VA_ARGS__);                                                                    \
      std::printf("\n");                                                                           \
      failures++;                                                                                  \
    }                                                                                              \
  } while (0)

void fill(void *p, std::size_t n, unsigned seed) {
  auto *b = static_cast<unsigned char *>(p);
  for (std::size_t i = 0; i < n; i++) b[i] = static_cast<unsigned char>(seed * 31 + i * 7);
}
bool intact(const void *p, std::size_t n, unsigned seed) {
  auto *b = static_cast<const unsigned char *>(p);
  for (std::size_t i = 0; i < n; i++)
    if (b[i] != static_cast<unsigned char>(seed * 31 + i * 7)) return false;
  return true;
}

// ---- where the operators come from -----------------------------------------------------------

const char *const operator_names[] = {
  "_Znwm", "_Znam", "_ZnwmRKSt9nothrow_t", "_ZnamRKSt9nothrow_t",
  "_ZnwmSt11align_val_t", "_ZnamSt11align_val_t",
  "_ZnwmSt11align_val_tRKSt9nothrow_t", "_ZnamSt11align_val_tRKSt9nothrow_t",
  "_ZdlPv", "_ZdaPv", "_ZdlPvm", "_ZdaPvm",
  "_ZdlPvRKSt9nothrow_t", "_ZdaPvRKSt9nothrow_t",
  "_ZdlPvSt11align_val_t", "_ZdaPvSt11align_val_t",
  "_ZdlPvmSt11align_val_t", "_ZdaPvmSt11align_val_t",
  "_ZdlPvSt11align_val_tRKSt9nothrow_t", "_ZdaPvSt11align_val_tRKSt9nothrow_t",
};

// Prints "<mangled name>=<file name of the object that defines it>" for each operator, as the
// dynamic linker resolves it for this program.
int where() {
  for (const char *name : operator_names) {
    void *sym = dlsym(RTLD_DEFAULT, name);
    Dl_info info;
    const char *file = "unresolved";
    if (sym && dladdr(sym, &info) && info.dli_fname) {
      file = std::strrchr(info.dli_fname, '/');
      file = file ? file + 1 : info.dli_fname;
    }
    std::printf("%s=%s\n", name, file);
  }
  return 0;
}

// ---- every form, every alignment -------------------------------------------------------------

const std::size_t sizes[] = {0, 1, 8, 24, 100, 4096, 5000, 300000};

struct block {
  void *p;
  std::size_t size, align;  // align 0: a plain form
  bool array;
};

// Releases b with the `which`-th matching form (0..2): unsized, sized, nothrow.
void release(const block &b, int which) {
  std::align_val_t al = static_cast<std::align_val_t>(b.align);
  switch (which * 4 + (b.align ? 2 : 0) + (b.array ? 1 : 0)) {
    case 0: ::operator delete(b.p); break;
    case 1: ::operator delete[](b.p); break;
    case 2: ::operator delete(b.p, al); break;
    case 3: ::operator delete[](b.p, al); break;
    case 4: ::operator delete(b.p, b.size); break;
    case 5: ::operator delete[](b.p, b.size); break;
    case 6: ::operator delete(b.p, b.size, al); break;
    case 7: ::operator delete[](b.p, b.size, al); break;
    case 8: ::operator delete(b.p, std::nothrow); break;
    case 9: ::operator delete[](b.p, std::nothrow); break;
    case 10: ::operator delete(b.p, al, std::nothrow); break;
    case 11: ::operator delete[](b.p, al, std::nothrow); break;
  }
}

void *allocate(std::size_t n, std::size_t align, bool array, bool nothrow) {
  std::size_t size = launder(n);
  std::align_val_t al = static_cast<std::align_val_t>(launder(align));
  if (!align && !array) return nothrow ? ::operator new(size, std::nothrow) : ::operator new(size);
  if (!align) return nothrow ? ::operator new[](size, std::nothrow) : ::operator new[](size);
  if (!array) return nothrow ? ::operator new(size, al, std::nothrow) : ::operator new(size, al);
  return nothrow ? ::operator new[](size, al, std::nothrow) : ::operator new[](size, al);
}

struct alignas(64) line64 { char c[64]; };
struct alignas(4096) page4k { char c[100]; };
struct counted {  // non-trivial destructor: new[] stores a cookie, delete[] is sized
  static int live;
  std::uint64_t v[3];
  counted() : v{1, 2, 3} { live++; }
  ~counted() { live--; }
};
int counted::live = 0;

int forms() {
  std::vector<block> blocks;
  for (std::size_t align = 0; align <= 4096; align = align ? align * 2 : 1)
    for (bool array : {false, true})
      for (bool nothrow : {false, true})
        for (std::size_t n : sizes) {
          void *p = launder(allocate(n, align, array, nothrow));
          std::size_t want = align > 16 ? align : align ? align : 16;
          CHECK(p != nullptr, "new%s(%zu, align %zu%s) returned null", array ? "[]" : "", n, align,
                nothrow ? ", nothrow" : "");
          CHECK(reinterpret_cast<std::uintptr_t>(p) % want == 0, "new%s(%zu, align %zu) = %p",
                array ? "[]" : "", n, align, p);
          if (p) {
            fill(p, n, static_cast<unsigned>(blocks.size()));
            blocks.push_back({p, n, align, array});
          }
        }
  // All live at once: no two overlap, and nothing wrote into them.
  for (std::size_t i = 0; i < blocks.size(); i++)
    CHECK(intact(blocks[i].p, blocks[i].size, static_cast<unsigned>(i)), "block %zu damaged", i);
  for (std::size_t i = 0; i < blocks.size(); i++) release(blocks[i], static_cast<int>(i % 3));
  std::printf("blocks=%zu\n", blocks.size());

  // New-expressions: the compiler chooses the form (sized delete, aligned new, array cookie).
  for (int round = 0; round < 50; round++) {
    auto *i = new int(round);
    auto *arr = new int[launder(static_cast<std::size_t>(round + 1))]();
    auto *l = new line64;
    auto *pg = new page4k[launder(static_cast<std::size_t>(3))];
    auto *c = new counted[launder(static_cast<std::size_t>(round + 2))];
    CHECK(reinterpret_cast<std::uintptr_t>(l) % 64 == 0, "new line64 = %p", static_cast<void *>(l));
    CHECK(reinterpret_cast<std::uintptr_t>(pg) % 4096 == 0, "new page4k[3] = %p", static_cast<void *>(pg));
    CHECK(*i == round && arr[round] == 0 && c[round + 1].v[2] == 3, "new-expression values");
    delete i;
    delete[] arr;
    delete l;
    delete[] pg;
    delete[] c;
  }
  CHECK(counted::live == 0, "%d counted objects live", counted::live);
  std::printf("failures=%d\n", failures);
  return 0;
}

// ---- failure: new-handlers, bad_alloc, nothrow -----------------------------------------------

int handler_calls = 0;

void uninstalling_handler() {
  handler_calls++;
  std::set_new_handler(nullptr);
}

struct from_handler {};
void throwing_handler() {
  handler_calls++;
  throw from_handler();
}

// Each throwing form on an impossible size, and the aligned ones on a bad alignment.
int throwing() {
  for (std::size_t align : {std::size_t(0), std::size_t(64)})
    for (bool array : {false, true}) {
      const char *form = array ? (align ? "new[](align)" : "new[]") : (align ? "new(align)" : "new");
      try {
        void *p = allocate(impossible(), align, array, false);
        std::printf("%s: returned %s\n", form, p ? "a block" : "null");
      } catch (const std::bad_alloc &) {
        std::printf("%s: bad_alloc\n", form);
      }
      // With a handler that uninstalls itself: called once, then bad_alloc.
      handler_calls = 0;
      std::set_new_handler(uninstalling_handler);
      try {
        allocate(impossible(), align, array, false);
        std::printf("%s with handler: returned\n", form);
      } catch (const std::bad_alloc &) {
        std::printf("%s with handler: bad_alloc after %d handler call(s)\n", form, handler_calls);
      }
      // A handler's own exception unwinds through the allocator to the caller.
      handler_calls = 0;
      std::set_new_handler(throwing_handler);
      try {
        allocate(impossible(), align, array, false);
        std::printf("%s with throwing handler: returned\n", form);
      } catch (const from_handler &) {
        std::printf("%s with throwing handler: its exception after %d call(s)\n", form, handler_calls);
      } catch (const std::bad_alloc &) {
        std::printf("%s with throwing handler: bad_alloc\n", form);
      }
      std::set_new_handler(nullptr);
    }
  // An alignment that is not a power of two: no handler can fix it.
  handler_calls = 0;
  std::set_new_handler(uninstalling_handler);
  try {
    allocate(64, 48, false, false);
    std::printf("new(align 48): returned\n");
  } catch (const std::bad_alloc &) {
    std::printf("new(align 48): bad_alloc after %d handler call(s)\n", handler_calls);
  }
  std::set_new_handler(nullptr);
  // A new-expression of an impossible array length.
  try {
    auto *big = new line64[impossible() / 64];
    std::printf("new line64[huge]: returned %p\n", static_cast<void *>(big));
  } catch (const std::bad_alloc &) {
    std::printf("new line64[huge]: bad_alloc\n");
  }
  return 0;
}

int nothrow() {
  for (std::size_t align : {std::size_t(0), std::size_t(4096)})
    for (bool array : {false, true}) {
      const char *form = array ? (align ? "new[](align, nothrow)" : "new[](nothrow)")
                               : (align ? "new(align, nothrow)" : "new(nothrow)");
      void *p = allocate(impossible(), align, array, true);
      std::printf("%s: %s\n", form, p ? "a block" : "nullptr");
      handler_calls = 0;
      std::set_new_handler(uninstalling_handler);
      p = allocate(impossible(), align, array, true);
      std::printf("%s with handler: %s after %d handler call(s)\n", form, p ? "a block" : "nullptr",
                  handler_calls);
      // And a possible size still works.
      p = allocate(200, align, array, true);
      std::printf("%s of 200 bytes: %s\n", form, p ? "a block" : "nullptr");
      if (p) release({p, 200, align, array}, 2);
    }
  void *p = ::operator new(launder(std::size_t(64)), static_cast<std::align_val_t>(launder(std::size_t(48))),
                           std::nothrow);
  std::printf("new(align 48, nothrow): %s\n", p ? "a block" : "nullptr");
  return 0;
}

// A handler that makes room: the request fails for lack of address space (RLIMIT_AS), the
// handler releases a reserve, and the retry succeeds.
void *reserve;
void releasing_handler() {
  handler_calls++;
  ::operator delete[](reserve);
  reserve = nullptr;
  std::set_new_handler(nullptr);  // a second failure must not loop
}

std::size_t mapped_bytes() {
  std::FILE *f = std::fopen("/proc/self/statm", "r");
  unsigned long pages = 0;
  if (!f || std::fscanf(f, "%lu", &pages) != 1) std::abort();
  std::fclose(f);
  return pages * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

int handler_reserve() {
  const std::size_t MiB = std::size_t(1) << 20;
  reserve = ::operator new[](launder(512 * MiB));
  std::memset(reserve, 1, 4096);
  struct rlimit lim;
  getrlimit(RLIMIT_AS, &lim);
  lim.rlim_cur = mapped_bytes() + 128 * MiB;
  if (setrlimit(RLIMIT_AS, &lim) != 0) std::abort();
  std::set_new_handler(releasing_handler);
  try {
    void *p = ::operator new(launder(384 * MiB));
    std::memset(p, 2, 4096);
    std::printf("new(384 MiB): a block after %d handler call(s); reserve %s\n", handler_calls,
                reserve ? "kept" : "released");
    ::operator delete(p);
  } catch (const std::bad_alloc &) {
    std::printf("new(384 MiB): bad_alloc after %d handler call(s)\n", handler_calls);
  }
  return 0;
}

void *null() { return launder(static_cast<void *>(nullptr)); }

int delete_null() {
  std::align_val_t al = static_cast<std::align_val_t>(64);
  ::operator delete(null());
  ::operator delete[](null());
  ::operator delete(null(), std::size_t(24));
  ::operator delete[](null(), std::size_t(24));
  ::operator delete(null(), al);
  ::operator delete[](null(), al);
  ::operator delete(null(), std::size_t(24), al);
  ::operator delete[](null(), std::size_t(24), al);
  ::operator delete(null(), std::nothrow);
  ::operator delete[](null(), std::nothrow);
  ::operator delete(null(), al, std::nothrow);
  ::operator delete[](null(), al, std::nothrow);
  delete launder(static_cast<std::string *>(nullptr));
  delete[] launder(static_cast<counted *>(nullptr));
  std::printf("deleted null 14 ways\n");
  return 0;
}

// ---- the standard library --------------------------------------------------------------------

struct parse_error : std::runtime_error {
  explicit parse_error(const std::string &what) : std::runtime_error(what) {}
};

long parse(const std::string &s) {
  std::size_t used = 0;
  long v = 0;
  try {
    v = std::stol(s, &used);
  } catch (const std::invalid_argument &) {
    throw parse_error("not a number: \"" + s + "\"");
  }
  if (used != s.size()) throw parse_error("trailing characters in \"" + s + "\"");
  return v;
}

int stl() {
  // Containers that grow, rehash and shrink.
  std::vector<std::string> words;
  for (int i = 0; i < 20000; i++) words.push_back("w" + std::to_string(i * 7919 % 10007));
  std::map<std::string, int> counts;
  std::unordered_map<std::string, std::vector<int>> where;
  for (std::size_t i = 0; i < words.size(); i++) {
    counts[words[i]]++;
    where[words[i]].push_back(static_cast<int>(i));
  }
  std::size_t twice = 0;
  for (const auto &kv : counts) twice += kv.second == 2;
  std::printf("words=%zu distinct=%zu twice=%zu first=%s last=%s\n", words.size(), counts.size(),
              twice, counts.begin()->first.c_str(), counts.rbegin()->first.c_str());
  std::printf("where[w0]=%zu\n", where["w0"].size());
  words.clear();
  words.shrink_to_fit();

  // Strings: short (in place) and long (on the heap).
  std::string s;
  for (int i = 0; i < 1000; i++) s += std::to_string(i % 10);
  std::string t = s.substr(100, 50) + std::string(3000, 'x');
  std::printf("string=%zu substr-sum=%d\n", t.size(),
              std::accumulate(t.begin(), t.begin() + 50, 0, [](int a, char c) { return a + (c - '0'); }));

  // Shared ownership.
  auto shared = std::make_shared<std::vector<long>>(1000, 3);
  std::weak_ptr<std::vector<long>> weak = shared;
  long total = std::accumulate(shared->begin(), shared->end(), 0L);
  shared.reset();
  std::printf("shared-sum=%ld expired=%d\n", total, weak.expired());

  // Threads allocating, and freeing what another thread allocated.
  std::mutex m;
  std::vector<std::unique_ptr<std::string>> handed;
  std::vector<std::thread> threads;
  long sums[8] = {};
  for (int t_ = 0; t_ < 8; t_++)
    threads.emplace_back([t_, &sums, &m, &handed] {
      std::vector<std::unique_ptr<std::vector<int>>> mine;
      for (int i = 0; i < 2000; i++) {
        mine.push_back(std::make_unique<std::vector<int>>(static_cast<std::size_t>(i % 50 + 1), t_));
        if (i % 3 == 0) mine.erase(mine.begin() + (i % static_cast<int>(mine.size())));
      }
      for (const auto &v : mine) sums[t_] += std::accumulate(v->begin(), v->end(), 0L);
      std::lock_guard<std::mutex> g(m);
      handed.push_back(std::make_unique<std::string>(std::string(100 + t_, 'a' + static_cast<char>(t_))));
    });
  for (auto &th : threads) th.join();
  long all = 0;
  for (long v : sums) all += v;
  std::size_t handed_len = 0;
  for (const auto &h : handed) handed_len += h->size();
  handed.clear();  // freed by the main thread
  std::printf("threads-sum=%ld handed=%zu\n", all, handed_len);

  // Exceptions: __cxa_allocate_exception takes the object from malloc.
  for (const char *in : {"42", "x7", "12z", "-5"}) {
    try {
      std::printf("parse(%s)=%ld\n", in, parse(in));
    } catch (const parse_error &e) {
      std::printf("parse(%s) threw: %s\n", in, e.what());
    }
  }
  int caught = 0;
  for (int i = 0; i < 1000; i++) {
    try {
      throw std::runtime_error(std::string(200, 'e') + std::to_string(i));
    } catch (const std::exception &e) {
      caught += e.what()[0] == 'e';
    }
  }
  std::printf("caught=%d\n", caught);
  try {
    std::vector<int> v(3);
    (void)v.at(launder(std::size_t(10)));
  } catch (const std::out_of_range &) {
    std::printf("at(10): out_of_range\n");
  }
  return 0;
}

// ---- misuse: the report must name each ------------------------------------------------------

int mismatch() {
  void *new_arr_delete = launder(::operator new[](launder(std::size_t(40))));
  void *new_delete_arr = launder(::operator new(launder(std::size_t(40))));
  void *new_arr_free = launder(::operator new[](launder(std::size_t(40))));
  void *new_free = launder(::operator new(launder(std::size_t(40))));
  void *malloc_delete = launder(std::malloc(launder(std::size_t(40))));
  void *sized_wrong = launder(::operator new(launder(std::size_t(40))));
  void *sized_right = launder(::operator new(launder(std::size_t(40))));
  std::printf("new_arr_delete=%p\nnew_delete_arr=%p\nnew_arr_free=%p\nnew_free=%p\n"
              "malloc_delete=%p\nsized_wrong=%p\nsized_right=%p\ntid=%d\n",
              new_arr_delete, new_delete_arr, new_arr_free, new_free, malloc_delete, sized_wrong,
              sized_right, gettid());
  ::operator delete(new_arr_delete);
  ::operator delete[](new_delete_arr);
  std::free(new_arr_free);
  std::free(new_free);
  ::operator delete(malloc_delete);
  ::operator delete(sized_wrong, launder(std::size_t(24)));
  ::operator delete(sized_right, launder(std::size_t(40)));
  return 0;
}

int double_delete() {
  auto *p = launder(new std::uint64_t[5]());
  auto *q = launder(new std::uint64_t(7));
  std::printf("array=%p\nsingle=%p\ntid=%d\n", static_cast<void *>(p), static_cast<void *>(q), gettid());
  delete[] p;
  delete[] launder(p);
  delete q;
  delete launder(q);
  return 0;
}

int thread_mismatch() {
  std::printf("main_tid=%d\n", gettid());
  std::thread t([] {
    void *p = launder(::operator new[](launder(std::size_t(40))));
    std::printf("p=%p\ntid=%d\n", p, gettid());
    ::operator delete(p);
  });
  t.join();
  return 0;
}

struct scenario {
  const char *name;
  int (*run)();
};
const scenario scenarios[] = {
  {"where", where},           {"forms", forms},         {"throw", throwing},
  {"nothrow", nothrow},       {"handler-reserve", handler_reserve},
  {"delete-null", delete_null}, {"stl", stl},           {"mismatch", mismatch},
  {"double-delete", double_delete}, {"thread-mismatch", thread_mismatch},
};

}  // namespace

int main(int argc, char **argv) {
  for (const scenario &s : scenarios)
    if (argc == 2 && std::strcmp(argv[1], s.name) == 0) {
      int status = s.run();
      std::printf("done\n");
      return status;
    }
  std::fprintf(stderr, "usage: cxx_prog <scenario>\n");
  return 2;
}
