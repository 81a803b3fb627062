/* zalloc - the fast stack walker (see unwind.h).
 *
 * A frame on x86-64 SysV is walked with three numbers, the frame's rule:
 *   CFA      = rsp + off, or rbp + off        (the caller's rsp after the call returns)
 *   return   = *(CFA - 8)                     (always, on x86-64)
 *   rbp      = *(CFA + k) where saved, else unchanged
 * The rule for a return address comes from the DWARF CFI of its function (the .eh_frame FDE
 * found through .eh_frame_hdr's sorted table) evaluated up to the call: read once, then cached
 * in a global open-addressing table of (pc, packed rule) pairs, so a warm frame is a hash probe
 * and two loads from the stack.
 *
 * Written from the DWARF 5 specification (6.4, call frame information), the LSB's description
 * of .eh_frame / .eh_frame_hdr and the x86-64 psABI (register numbers: 6 rbp, 7 rsp, 16 the
 * return address).
 *
 * The cache: entries are never moved or freed; a slot's pc, once set by compare-and-swap, stays,
 * and its rule word is written after it (a reader that sees pc with a zero rule misses). Each
 * rule carries the generation of the loaded-code set it was read under; dlopen and dlclose bump
 * the generation (za_unwind_modules_changed), so every older rule reads as a miss and is
 * re-read and rewritten in place on next use. A full probe sequence simply is not cached. */
#include "unwind.h"

#include "prim.h"

#include <dlfcn.h>
#include <link.h>
#include <string.h>

#if defined(__x86_64__) && defined(__linux__) && defined(DLFO_EH_SEGMENT_TYPE)
#define ZA_UNWIND_FAST 1
#else
#define ZA_UNWIND_FAST 0
#endif

/* ---- the rule cache ------------------------------------------------------------------ */

/* A packed rule: the CFA offset in bytes in the low 32 bits (one zero-extending move from
 * the walk's next load), then kind (2 bits, 32-33), CFA from rbp (34), rbp saved (35), rbp's
 * slot offset from the CFA in words (int8, 36-43), and the generation (20 bits, 44-63).
 * 0 is "no rule". */
enum { RULE_NONE = 0, RULE_FRAME = 1, RULE_END = 2, RULE_UNSUPPORTED = 3 };
#define RULE_KIND_SHIFT 32
#define RULE_CFA_RBP   ((uint64_t)1 << 34)
#define RULE_RBP_SAVED ((uint64_t)1 << 35)
#define RULE_RBP_SHIFT 36
#define RULE_GEN_SHIFT 44
#define RULE_GEN_MASK  0xfffffu
#define RULE_MAX_CFA_OFFSET ((int64_t)1 << 24)

static inline unsigned rule_kind(uint64_t r) { return (unsigned)(r >> RULE_KIND_SHIFT) & 3; }
static inline uint64_t make_rule(unsigned kind, uint32_t gen) {
  return (uint64_t)kind << RULE_KIND_SHIFT | (uint64_t)gen << RULE_GEN_SHIFT;
}

#define CACHE_BITS  16
#define CACHE_SLOTS ((size_t)1 << CACHE_BITS)   /* 16 bytes each: 1 MiB, touched on use */
#define CACHE_PROBES 32

/* Walks stop at a CFA this far above where they began: no stack frame chain is that deep
 * in the frames a capture asks for, and it keeps the walk inside the thread's stack. */
#define MAX_STACK_SPAN ((uintptr_t)64 << 20)

typedef struct rule_slot {
  _Atomic uintptr_t pc;
  _Atomic uint64_t rule;
} rule_slot_t;

static struct {
  rule_slot_t *slots;     /* set once, before captures start */
  atomic_uint gen;
  atomic_bool libunwind_only;
} za_fast;

/* The slot's byte offset in the table in three single-cycle operations: the slot is on the
 * walk's critical path (return address loaded, slot found, rule loaded, CFA added, next
 * return address loaded). Call sites in one function land in nearby slots. */
#define SLOT_BYTES_MASK ((CACHE_SLOTS - 1) * sizeof(rule_slot_t))
static inline size_t slot_bytes(uintptr_t pc) {
  return (size_t)((pc << 4) ^ (pc >> (CACHE_BITS - 2))) & SLOT_BYTES_MASK;
}

static inline rule_slot_t *slot_at(rule_slot_t *slots, size_t bytes) {
  return (rule_slot_t *)((char *)slots + bytes);
}

static inline uint64_t cached_rule(rule_slot_t *slots, uintptr_t pc, uint32_t gen) {
  size_t at_bytes = slot_bytes(pc);
  for (int i = 0; i < CACHE_PROBES; i++) {
    rule_slot_t *slot = slot_at(slots, at_bytes);
    uintptr_t at = atomic_load_explicit(&slot->pc, memory_order_acquire);
    if (za_likely(at == pc)) {
      uint64_t r = atomic_load_explicit(&slot->rule, memory_order_acquire);
      return (uint32_t)(r >> RULE_GEN_SHIFT) == gen && r != 0 ? r : RULE_NONE;
    }
    if (at == 0) return RULE_NONE;
    at_bytes = (at_bytes + sizeof(rule_slot_t)) & SLOT_BYTES_MASK;
  }
  return RULE_NONE;
}

static void cache_rule(rule_slot_t *slots, uintptr_t pc, uint64_t rule) {
  size_t at_bytes = slot_bytes(pc);
  for (int i = 0; i < CACHE_PROBES; i++) {
    rule_slot_t *slot = slot_at(slots, at_bytes);
    uintptr_t at = atomic_load_explicit(&slot->pc, memory_order_acquire);
    if (at == 0 && atomic_compare_exchange_strong_explicit(&slot->pc, &at, pc,
                                                           memory_order_acq_rel,
                                                           memory_order_acquire))
      at = pc;
    if (at == pc) {   /* ours now, or another thread's entry for the same pc: same rule */
      atomic_store_explicit(&slot->rule, rule, memory_order_release);
      return;
    }
    at_bytes = (at_bytes + sizeof(rule_slot_t)) & SLOT_BYTES_MASK;
  }
}

/* ---- reading DWARF ------------------------------------------------------------------- */

typedef struct reader {
  const uint8_t *p, *end;
  bool bad;
} reader_t;

static uint64_t read_uleb(reader_t *r) {
  uint64_t v = 0;
  for (unsigned shift = 0; r->p < r->end; shift += 7) {
    uint8_t b = *r->p++;
    if (shift < 64) v |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) return v;
  }
  r->bad = true;
  return 0;
}

static int64_t read_sleb(reader_t *r) {
  uint64_t v = 0;
  for (unsigned shift = 0; r->p < r->end;) {
    uint8_t b = *r->p++;
    if (shift < 64) v |= (uint64_t)(b & 0x7f) << shift;
    shift += 7;
    if (!(b & 0x80)) {
      if (shift < 64 && (b & 0x40)) v |= ~(uint64_t)0 << shift;
      return (int64_t)v;
    }
  }
  r->bad = true;
  return 0;
}

static uint64_t read_fixed(reader_t *r, size_t n) {
  if ((size_t)(r->end - r->p) < n) {
    r->bad = true;
    r->p = r->end;
    return 0;
  }
  uint64_t v = 0;
  memcpy(&v, r->p, n);   /* little-endian */
  r->p += n;
  return v;
}

static uint8_t read_u8(reader_t *r) { return (uint8_t)read_fixed(r, 1); }

/* DW_EH_PE_* pointer encodings. */
#define PE_OMIT    0xff
#define PE_FORMAT  0x0f
#define PE_APPLY   0x70
#define PE_INDIRECT 0x80
#define PE_PCREL   0x10
#define PE_DATAREL 0x30

/* A pointer in encoding `enc`. `apply`: add its base (pc-relative: the field's own address;
 * data-relative: `dbase`); otherwise the bare value (an FDE's address range, or a field only
 * skipped). Encodings this walker does not need are marked bad. */
static uintptr_t read_encoded(reader_t *r, uint8_t enc, uintptr_t dbase, bool apply) {
  if (enc == PE_OMIT) return 0;
  const uint8_t *field = r->p;
  uint64_t v;
  switch (enc & PE_FORMAT) {
    case 0x00: v = read_fixed(r, 8); break;                       /* absptr */
    case 0x01: v = read_uleb(r); break;
    case 0x02: v = read_fixed(r, 2); break;
    case 0x03: v = read_fixed(r, 4); break;
    case 0x04: v = read_fixed(r, 8); break;
    case 0x09: v = (uint64_t)read_sleb(r); break;
    case 0x0a: v = (uint64_t)(int64_t)(int16_t)read_fixed(r, 2); break;
    case 0x0b: v = (uint64_t)(int64_t)(int32_t)read_fixed(r, 4); break;
    case 0x0c: v = read_fixed(r, 8); break;
    default: r->bad = true; return 0;
  }
  if (!apply) return (uintptr_t)v;
  switch (enc & PE_APPLY) {
    case 0x00: break;
    case PE_PCREL: v += (uintptr_t)field; break;
    case PE_DATAREL: v += dbase; break;
    default: r->bad = true; return 0;
  }
  if (enc & PE_INDIRECT) r->bad = true;
  return (uintptr_t)v;
}

/* ---- finding the FDE ----------------------------------------------------------------- */

/* The FDE whose table entry is the last at or below pc, through .eh_frame_hdr's sorted
 * table (version 1, entries datarel|sdata4 pairs: the only layout binutils and lld write for
 * x86-64). NULL if there is none; the caller checks the FDE's range. */
static const uint8_t *find_fde(const uint8_t *hdr, uintptr_t pc) {
  reader_t r = {hdr, hdr + 4 + 8 + 8, false};
  uint8_t version = read_u8(&r), frame_enc = read_u8(&r), count_enc = read_u8(&r),
          table_enc = read_u8(&r);
  if (version != 1 || table_enc != (PE_DATAREL | 0x0b)) return NULL;
  (void)read_encoded(&r, frame_enc, (uintptr_t)hdr, true);
  uint64_t count = read_encoded(&r, count_enc, (uintptr_t)hdr, true);
  if (r.bad || count == 0 || count_enc == PE_OMIT) return NULL;
  const uint8_t *table = r.p;
  size_t lo = 0, hi = (size_t)count;   /* the answer is in [lo, hi) */
  int32_t loc;
  memcpy(&loc, table, 4);
  if (pc < (uintptr_t)hdr + (intptr_t)loc) return NULL;
  while (hi - lo > 1) {
    size_t mid = lo + (hi - lo) / 2;
    memcpy(&loc, table + mid * 8, 4);
    if ((uintptr_t)hdr + (intptr_t)loc <= pc) lo = mid;
    else hi = mid;
  }
  int32_t fde;
  memcpy(&fde, table + lo * 8 + 4, 4);
  return hdr + (intptr_t)fde;
}

/* ---- running the CFA program --------------------------------------------------------- */

enum { REG_RBP = 6, REG_RSP = 7, REG_RA = 16 };
enum { HOW_SAME, HOW_OFFSET, HOW_UNDEFINED, HOW_OTHER };   /* a register's rule */

typedef struct frame_state {
  uint8_t cfa_reg;
  bool cfa_other;         /* CFA from an expression */
  int64_t cfa_off;
  uint8_t rbp_how, ra_how;
  int64_t rbp_off, ra_off;
} frame_state_t;

typedef struct cie_info {
  uint64_t code_align;
  int64_t data_align;
  uint8_t fde_enc;
  bool has_z, signal;
  const uint8_t *insns, *end;
} cie_info_t;

#define STATE_STACK 8

static void set_rule(frame_state_t *s, uint64_t reg, uint8_t how, int64_t off) {
  if (reg == REG_RBP) {
    s->rbp_how = how;
    s->rbp_off = off;
  } else if (reg == REG_RA) {
    s->ra_how = how;
    s->ra_off = off;
  } else if (reg == REG_RSP && how != HOW_SAME) {
    s->cfa_other = true;   /* rsp restored other than as the CFA: not a frame we can walk */
  }
}

/* Runs instructions [p, end) from location `loc` while loc <= target. False on an
 * instruction this walker does not support (the frame is then "unsupported"). */
static bool run_cfa(const cie_info_t *cie, const uint8_t *p, const uint8_t *end, uintptr_t loc,
                    uintptr_t target, frame_state_t *s, const frame_state_t *initial) {
  frame_state_t stack[STATE_STACK];
  int depth = 0;
  reader_t r = {p, end, false};
  while (r.p < r.end && !r.bad) {
    uint8_t op = *r.p++;
    uint64_t reg;
    int64_t off;
    switch (op >> 6) {
      case 1:   /* DW_CFA_advance_loc */
        loc += (op & 0x3f) * cie->code_align;
        if (loc > target) return true;
        continue;
      case 2:   /* DW_CFA_offset */
        set_rule(s, op & 0x3f, HOW_OFFSET, (int64_t)read_uleb(&r) * cie->data_align);
        continue;
      case 3:   /* DW_CFA_restore */
        reg = op & 0x3f;
        if (reg == REG_RBP) set_rule(s, reg, initial->rbp_how, initial->rbp_off);
        else if (reg == REG_RA) set_rule(s, reg, initial->ra_how, initial->ra_off);
        continue;
    }
    switch (op) {
      case 0x00: break;                                             /* nop */
      case 0x01:                                                    /* set_loc */
        loc = read_encoded(&r, cie->fde_enc, 0, true);
        if (loc > target) return true;
        break;
      case 0x02: case 0x03: case 0x04:                              /* advance_loc1/2/4 */
        loc += read_fixed(&r, op == 0x02 ? 1 : op == 0x03 ? 2 : 4) * cie->code_align;
        if (loc > target) return true;
        break;
      case 0x05:                                                    /* offset_extended */
        reg = read_uleb(&r);
        set_rule(s, reg, HOW_OFFSET, (int64_t)read_uleb(&r) * cie->data_align);
        break;
      case 0x06:                                                    /* restore_extended */
        reg = read_uleb(&r);
        if (reg == REG_RBP) set_rule(s, reg, initial->rbp_how, initial->rbp_off);
        else if (reg == REG_RA) set_rule(s, reg, initial->ra_how, initial->ra_off);
        break;
      case 0x07: set_rule(s, read_uleb(&r), HOW_UNDEFINED, 0); break;  /* undefined */
      case 0x08: set_rule(s, read_uleb(&r), HOW_SAME, 0); break;       /* same_value */
      case 0x09:                                                    /* register */
        reg = read_uleb(&r);
        (void)read_uleb(&r);
        set_rule(s, reg, HOW_OTHER, 0);
        break;
      case 0x0a:                                                    /* remember_state */
        if (depth == STATE_STACK) return false;
        stack[depth++] = *s;
        break;
      case 0x0b:                                                    /* restore_state */
        if (depth == 0) return false;
        *s = stack[--depth];
        break;
      case 0x0c:                                                    /* def_cfa */
        s->cfa_reg = (uint8_t)read_uleb(&r);
        s->cfa_off = (int64_t)read_uleb(&r);
        s->cfa_other = false;
        break;
      case 0x0d: s->cfa_reg = (uint8_t)read_uleb(&r); s->cfa_other = false; break;
      case 0x0e: s->cfa_off = (int64_t)read_uleb(&r); break;       /* def_cfa_offset */
      case 0x0f: return false;                                      /* def_cfa_expression */
      case 0x10: case 0x16:                                         /* (val_)expression */
        reg = read_uleb(&r);
        off = (int64_t)read_uleb(&r);
        if (off < 0 || off > r.end - r.p) return false;
        r.p += off;
        set_rule(s, reg, HOW_OTHER, 0);
        break;
      case 0x11:                                                    /* offset_extended_sf */
        reg = read_uleb(&r);
        set_rule(s, reg, HOW_OFFSET, read_sleb(&r) * cie->data_align);
        break;
      case 0x12:                                                    /* def_cfa_sf */
        s->cfa_reg = (uint8_t)read_uleb(&r);
        s->cfa_off = read_sleb(&r) * cie->data_align;
        s->cfa_other = false;
        break;
      case 0x13: s->cfa_off = read_sleb(&r) * cie->data_align; break;  /* def_cfa_offset_sf */
      case 0x14: case 0x15:                                         /* val_offset(_sf) */
        reg = read_uleb(&r);
        if (op == 0x14) (void)read_uleb(&r);
        else (void)read_sleb(&r);
        set_rule(s, reg, HOW_OTHER, 0);
        break;
      case 0x2e: (void)read_uleb(&r); break;                        /* GNU_args_size */
      case 0x2f:                                          /* GNU_negative_offset_extended */
        reg = read_uleb(&r);
        set_rule(s, reg, HOW_OFFSET, -(int64_t)read_uleb(&r) * cie->data_align);
        break;
      default: return false;
    }
  }
  return !r.bad;
}

/* The CIE at `cie`: alignment factors, the FDE pointer encoding, where its instructions
 * lie. False for a CIE this walker does not read. */
static bool parse_cie(const uint8_t *cie, cie_info_t *out) {
  uint32_t len;
  memcpy(&len, cie, 4);
  if (len == 0 || len == 0xffffffffu) return false;
  reader_t r = {cie + 4, cie + 4 + len, false};
  if (read_fixed(&r, 4) != 0) return false;   /* CIE id */
  uint8_t version = read_u8(&r);
  if (version != 1 && version != 3) return false;
  const char *aug = (const char *)r.p;
  while (r.p < r.end && *r.p) r.p++;
  if (r.p++ >= r.end) return false;
  if (aug[0] != '\0' && aug[0] != 'z') return false;   /* "eh" and other old forms */
  out->code_align = read_uleb(&r);
  out->data_align = read_sleb(&r);
  uint64_t ra = version == 1 ? read_u8(&r) : read_uleb(&r);
  if (ra != REG_RA || r.bad) return false;
  out->fde_enc = 0;
  out->has_z = aug[0] == 'z';
  out->signal = false;
  if (out->has_z) {
    uint64_t n = read_uleb(&r);
    if (r.bad || n > (uint64_t)(r.end - r.p)) return false;
    const uint8_t *data_end = r.p + n;
    reader_t d = {r.p, data_end, false};
    for (const char *c = aug + 1; *c && !d.bad; c++) {
      if (*c == 'L') (void)read_u8(&d);
      else if (*c == 'P') {
        uint8_t enc = read_u8(&d);
        (void)read_encoded(&d, enc, 0, false);
      } else if (*c == 'R') out->fde_enc = read_u8(&d);
      else if (*c == 'S') out->signal = true;
      else break;   /* unknown: the rest of the data is skipped by its length */
    }
    r.p = data_end;
  }
  out->insns = r.p;
  out->end = r.end;
  return !r.bad;
}

static uint64_t unsupported(uint32_t gen) { return make_rule(RULE_UNSUPPORTED, gen); }

/* The rule for `pc` (a return address - 1) from the CFI, not cached. */
static uint64_t read_rule(uintptr_t pc, uint32_t gen) {
#if ZA_UNWIND_FAST
  struct dl_find_object obj;
  if (_dl_find_object((void *)pc, &obj) != 0 || obj.dlfo_eh_frame == NULL) return unsupported(gen);
  const uint8_t *fde = find_fde(obj.dlfo_eh_frame, pc);
  if (fde == NULL) return unsupported(gen);
  uint32_t len, cie_ptr;
  memcpy(&len, fde, 4);
  if (len == 0 || len == 0xffffffffu) return unsupported(gen);
  memcpy(&cie_ptr, fde + 4, 4);
  if (cie_ptr == 0) return unsupported(gen);   /* a CIE, not an FDE */
  cie_info_t cie;
  if (!parse_cie(fde + 4 - cie_ptr, &cie) || cie.signal) return unsupported(gen);
  reader_t r = {fde + 8, fde + 4 + len, false};
  uintptr_t begin = read_encoded(&r, cie.fde_enc, 0, true);
  uintptr_t range = read_encoded(&r, cie.fde_enc & PE_FORMAT, 0, true);
  if (r.bad || pc < begin || pc - begin >= range) return unsupported(gen);
  if (cie.has_z) {
    uint64_t n = read_uleb(&r);
    if (r.bad || n > (uint64_t)(r.end - r.p)) return unsupported(gen);
    r.p += n;
  }
  frame_state_t s = {.cfa_reg = REG_RSP, .rbp_how = HOW_SAME, .ra_how = HOW_SAME};
  if (!run_cfa(&cie, cie.insns, cie.end, begin, UINTPTR_MAX, &s, &s)) return unsupported(gen);
  frame_state_t initial = s;
  if (!run_cfa(&cie, r.p, r.end, begin, pc, &s, &initial)) return unsupported(gen);
  if (s.ra_how == HOW_UNDEFINED) return make_rule(RULE_END, gen);
  if (s.cfa_other || (s.cfa_reg != REG_RSP && s.cfa_reg != REG_RBP) || s.cfa_off < 0 ||
      s.cfa_off >= RULE_MAX_CFA_OFFSET || s.ra_how != HOW_OFFSET || s.ra_off != -8)
    return unsupported(gen);
  uint64_t rule = make_rule(RULE_FRAME, gen) | (uint64_t)s.cfa_off;
  if (s.cfa_reg == REG_RBP) rule |= RULE_CFA_RBP;
  if (s.rbp_how == HOW_OFFSET) {
    if (s.rbp_off >= 0 || s.rbp_off < -1024 || (s.rbp_off & 7)) return unsupported(gen);
    rule |= RULE_RBP_SAVED | (uint64_t)(uint8_t)(int8_t)(s.rbp_off / 8) << RULE_RBP_SHIFT;
  } else if (s.rbp_how != HOW_SAME) {
    return unsupported(gen);
  }
  return rule;
#else
  (void)pc;
  return unsupported(gen);
#endif
}

/* The rule for the frame that return address `ra` returns into: cached under ra, read from
 * the CFI of ra - 1 (the call, which may be the last instruction of a function that never
 * returns, so ra itself can lie in the next function). */
static inline uint64_t rule_for(rule_slot_t *slots, uintptr_t ra, uint32_t gen) {
  uint64_t rule = cached_rule(slots, ra, gen);
  if (za_likely(rule != RULE_NONE)) return rule;
  rule = read_rule(ra - 1, gen);
  cache_rule(slots, ra, rule);
  return rule;
}

/* ---- the walk ------------------------------------------------------------------------ */

bool za_unwind_init(void) {
#if ZA_UNWIND_FAST
  if (za_fast.slots != NULL) return true;
  za_fast.slots = za_os_reserve(CACHE_SLOTS * sizeof(rule_slot_t));
  return za_fast.slots != NULL;
#else
  return false;
#endif
}

bool za_unwind_available(void) {
  return za_fast.slots != NULL && !atomic_load_explicit(&za_fast.libunwind_only, memory_order_relaxed);
}

void za_stack_use_libunwind_only(bool only) { atomic_store(&za_fast.libunwind_only, only); }

void za_unwind_modules_changed(void) {
  atomic_fetch_add_explicit(&za_fast.gen, 1, memory_order_acq_rel);
}

/* Starts from this function's own frame, which __builtin_frame_address makes a frame-pointer
 * frame: saved rbp at fp[0], the return address at fp[1], the caller's rsp at fp + 2. */
ZA_NOINLINE int za_unwind_backtrace(void **buf, int size, za_unwind_stop_t *stop) {
  *stop = ZA_UNWIND_UNSUPPORTED;
  rule_slot_t *slots = za_fast.slots;
  if (slots == NULL) return 0;
  uint32_t gen = atomic_load_explicit(&za_fast.gen, memory_order_acquire) & RULE_GEN_MASK;
  uintptr_t *fp = __builtin_frame_address(0);
  uintptr_t pc = fp[1], rbp = fp[0], rsp = (uintptr_t)(fp + 2);
  uintptr_t bottom = rsp;
  int n = 0;
  for (;;) {
    if (n == size) {
      *stop = ZA_UNWIND_FULL;
      return n;
    }
    if (pc == 0) break;
    buf[n++] = (void *)pc;
    if (n == size) continue;
    uint64_t rule = rule_for(slots, pc, gen);
    unsigned kind = rule_kind(rule);
    if (kind == RULE_END) break;
    if (za_unlikely(kind != RULE_FRAME)) return n;   /* unsupported */
    /* A branch, not a conditional move: rsp-based frames do not wait for the flag. */
    uintptr_t base = rsp;
    if (za_unlikely(rule & RULE_CFA_RBP)) {
      __asm__ volatile("");   /* keeps it a branch */
      base = rbp;
    }
    uintptr_t cfa = base + (uint32_t)rule;
    if (za_unlikely(cfa <= rsp || (cfa & 7) || cfa - bottom > MAX_STACK_SPAN)) return n;
    if (rule & RULE_RBP_SAVED) {
      uintptr_t at = cfa + (intptr_t)(int8_t)(rule >> RULE_RBP_SHIFT) * 8;
      if (za_unlikely(at < rsp)) return n;
      rbp = *(const uintptr_t *)at;
    }
    pc = *(const uintptr_t *)(cfa - 8);
    rsp = cfa;
  }
  *stop = ZA_UNWIND_END;
  return n;
}
