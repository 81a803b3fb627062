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
 * A signal frame (a return address into the kernel's rt_sigreturn trampoline, whose FDE has
 * the 'S' augmentation) is walked by reading the interrupted rip, rsp and rbp from the
 * ucontext the kernel put on the stack just above it; the interrupted frame's rule is then
 * read at its rip itself, not at rip - 1 as for a return address (cached under a key of its
 * own), and the walk's bounds start again on the stack it returns to (a handler may run on a
 * sigaltstack). An interrupted frame whose CFA is kept in another register (the loader's
 * lazy-binding trampoline keeps it in rbx while it realigns the stack) has no cached rule;
 * where the ucontext is at hand (za_unwind_walk, the walk of a signal context), it is stepped
 * with that register's saved value.
 *
 * Written from the DWARF 5 specification (6.4, call frame information), the LSB's description
 * of .eh_frame / .eh_frame_hdr, the x86-64 psABI (register numbers: 6 rbp, 7 rsp, 16 the
 * return address) and Linux's x86-64 rt_sigframe (a return address, then the ucontext).
 *
 * The rule cache: entries are never freed; a slot's pc, once set by compare-and-swap, stays,
 * and its rule word is written after it (a reader that sees pc with a zero rule misses). Each
 * rule carries the generation of the loaded-code set it was read under; dlopen and dlclose bump
 * the generation (za_unwind_modules_changed), so every older rule reads as a miss and is
 * re-read and rewritten in place on next use. A full probe sequence simply is not cached.
 * The table starts small (a process touches a page per few distinct return addresses) and
 * grows by four when half full: the bigger table is the same memory under a wider mask, and
 * the thread that widens it copies the entries it can see to their new places (an entry
 * missed is read again from the CFI: the cache only ever holds true facts).
 *
 * Two memos sit on top (see "the shape memo" and "the stack memo" below): a capture mostly
 * repeats one it made before, and checking that a remembered stack is still there costs a
 * load and a compare per frame, with no hash probe and no depot lookup. */
#include "unwind.h"

#include "prim.h"

#include <dlfcn.h>
#include <link.h>
#include <string.h>
#include <ucontext.h>

#if defined(__x86_64__) && defined(__linux__) && defined(DLFO_EH_SEGMENT_TYPE)
#define ZA_UNWIND_FAST 1
#else
#define ZA_UNWIND_FAST 0
#endif

#define ZA_ALWAYS_INLINE inline __attribute__((always_inline))

/* ---- rules --------------------------------------------------------------------------- */

/* A frame's step, in 32 bits (the low half of a cached rule, and what a memo keeps): the CFA
 * offset in bytes (22 bits), CFA from rbp (bit 22), rbp saved (23), rbp's slot offset from
 * the CFA in words (int8, 24-31). CR_END (never a real step) marks the outermost frame in a
 * memo. */
#define CR_OFF_MASK   0x3fffffu
#define CR_CFA_RBP    (1u << 22)
#define CR_RBP_SAVED  (1u << 23)
#define CR_SLOT_SHIFT 24
#define CR_END        0xffffffffu

/* A cached rule: the step (0-31), the kind (32-34) and the generation (35-63). 0 is "none". */
enum { RULE_NONE = 0, RULE_FRAME = 1, RULE_END = 2, RULE_UNSUPPORTED = 3, RULE_SIGNAL = 4 };
#define RULE_KIND_SHIFT 32
#define RULE_GEN_SHIFT  35
#define RULE_GEN_MASK   0x1fffffffu

static inline unsigned rule_kind(uint64_t r) { return (unsigned)(r >> RULE_KIND_SHIFT) & 7; }
static inline uint64_t make_rule(unsigned kind, uint32_t gen) {
  return (uint64_t)kind << RULE_KIND_SHIFT | (uint64_t)gen << RULE_GEN_SHIFT;
}

/* Walks stop at a CFA this far above where they began: no stack frame chain is that deep
 * in the frames a capture asks for, and it keeps the walk inside the thread's stack. */
#define MAX_STACK_SPAN ((uintptr_t)64 << 20)

/* Rules of interrupted instructions (after a signal frame) are cached under pc | EXACT_KEY:
 * the same address as a return address has the rule of the byte before it. */
#define EXACT_KEY ((uintptr_t)1 << 63)

/* ---- the tables ---------------------------------------------------------------------- */

#define CACHE_MIN_BITS 10
#define CACHE_MAX_BITS 16
#define CACHE_PROBES   32

typedef struct rule_slot {
  _Atomic uintptr_t pc;
  _Atomic uint64_t rule;
} rule_slot_t;

/* The shape of zalloc's own frames from one capture site out to the program: write-once. */
#define SHAPES       128
#define SHAPE_PROBES 16
#define SHAPE_FRAMES 8
#define SHAPE_NO_RBP INT32_MIN

typedef struct shape {
  _Atomic uintptr_t key;            /* the first pc; 0: free */
  atomic_uint ready;                /* the fields below are written */
  int32_t rbp_at;                   /* the outermost saved rbp, from the first rsp; or none */
  uint32_t m;                       /* frames inside zalloc */
  uint32_t off[SHAPE_FRAMES];       /* frame i's CFA minus the first rsp */
  uintptr_t ra[SHAPE_FRAMES];       /* frame i's pc: ra[0] == key */
} shape_t;

/* A memoised stack, under a sequence lock (seq odd while it is written). */
#define MEMO_MIN  64
#define MEMO_MAX  4096

typedef struct memo {
  atomic_uint seq;
  uint32_t gen, id;
  uint8_t size, n;
  uint8_t conflicts;                          /* other stacks met under this key since written */
  uint8_t pad;
  uintptr_t pc, rsp;                          /* the key: the first frame */
  uintptr_t ra[ZA_UNWIND_MEMO_FRAMES];
  uint32_t rule[ZA_UNWIND_MEMO_FRAMES];
} memo_t;

typedef struct tables {
  rule_slot_t rules[(size_t)1 << CACHE_MAX_BITS];
  shape_t shapes[SHAPES];
  memo_t memo[MEMO_MAX];
} tables_t;

static struct {
  _Atomic(tables_t *) t;      /* mapped once, never unmapped */
  atomic_size_t mask;         /* the rule cache's slots in use - 1 */
  atomic_size_t used;         /* rule cache slots taken */
  atomic_uint gen;
  atomic_bool libunwind_only;
  atomic_bool memo_off;
  atomic_size_t memo_mask;    /* memo entries in use - 1 */
  atomic_size_t memo_puts;    /* since the memo last grew */
  atomic_bool counting;
  _Atomic uint64_t counts[4]; /* za_unwind_counts_t, when counting */
} za_fast = {.mask = ((size_t)1 << CACHE_MIN_BITS) - 1, .memo_mask = (size_t)MEMO_MIN - 1};

static inline void count(int which) {
  if (za_unlikely(atomic_load_explicit(&za_fast.counting, memory_order_relaxed)))
    atomic_fetch_add_explicit(&za_fast.counts[which], 1, memory_order_relaxed);
}
enum { COUNT_MEMO_HIT, COUNT_MEMO_MISS, COUNT_SHAPE_HIT, COUNT_SHAPE_MISS };

/* ---- the rule cache ------------------------------------------------------------------ */

/* The slot's index in three single-cycle operations: the slot is on the walk's critical path
 * (return address loaded, slot found, rule loaded, CFA added, next return address loaded).
 * Call sites in one function land in nearby slots. */
static inline size_t slot_of(uintptr_t pc, size_t mask) {
  return (size_t)(pc ^ (pc >> (CACHE_MAX_BITS - 2))) & mask;
}

static inline uint64_t cached_rule(rule_slot_t *slots, size_t mask, uintptr_t pc, uint32_t gen) {
  size_t at = slot_of(pc, mask);
  for (int i = 0; i < CACHE_PROBES; i++) {
    rule_slot_t *slot = &slots[at];
    uintptr_t key = atomic_load_explicit(&slot->pc, memory_order_acquire);
    if (za_likely(key == pc)) {
      uint64_t r = atomic_load_explicit(&slot->rule, memory_order_acquire);
      return (uint32_t)(r >> RULE_GEN_SHIFT) == gen && r != 0 ? r : RULE_NONE;
    }
    if (key == 0) return RULE_NONE;
    at = (at + 1) & mask;
  }
  return RULE_NONE;
}

/* True if the slot was free (a new entry). */
static bool cache_rule(rule_slot_t *slots, size_t mask, uintptr_t pc, uint64_t rule) {
  size_t at = slot_of(pc, mask);
  for (int i = 0; i < CACHE_PROBES; i++) {
    rule_slot_t *slot = &slots[at];
    uintptr_t key = atomic_load_explicit(&slot->pc, memory_order_acquire);
    bool fresh = false;
    if (key == 0 && atomic_compare_exchange_strong_explicit(&slot->pc, &key, pc,
                                                            memory_order_acq_rel,
                                                            memory_order_acquire)) {
      key = pc;
      fresh = true;
    }
    if (key == pc) {   /* ours now, or another thread's entry for the same pc: same rule */
      atomic_store_explicit(&slot->rule, rule, memory_order_release);
      return fresh;
    }
    at = (at + 1) & mask;
  }
  return false;
}

/* Half full: widen the mask four times, then copy what the narrower table held. Whoever
 * wins the compare-and-swap copies; lookups meanwhile miss and read the CFI again. */
static ZA_COLD void grow_cache(rule_slot_t *slots, size_t mask) {
  size_t wider = (mask + 1) * 4 - 1;
  if (wider >= ((size_t)1 << CACHE_MAX_BITS) ||
      !atomic_compare_exchange_strong(&za_fast.mask, &mask, wider))
    return;
  for (size_t i = 0; i <= mask; i++) {
    uintptr_t pc = atomic_load_explicit(&slots[i].pc, memory_order_acquire);
    uint64_t rule = atomic_load_explicit(&slots[i].rule, memory_order_acquire);
    if (pc != 0 && rule != 0 && cache_rule(slots, wider, pc, rule))
      atomic_fetch_add_explicit(&za_fast.used, 1, memory_order_relaxed);
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

enum { DW_RBP = 6, DW_RSP = 7, DW_RA = 16 };
enum { HOW_SAME, HOW_OFFSET, HOW_UNDEFINED, HOW_OTHER };   /* a register's rule */

typedef struct frame_state {
  uint8_t cfa_reg;
  bool cfa_other;         /* rsp restored other than as the CFA */
  int64_t cfa_off;
  const uint8_t *cfa_expr; /* the CFA from this DWARF expression (length cfa_expr_len) */
  size_t cfa_expr_len;
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
  if (reg == DW_RBP) {
    s->rbp_how = how;
    s->rbp_off = off;
  } else if (reg == DW_RA) {
    s->ra_how = how;
    s->ra_off = off;
  } else if (reg == DW_RSP && how != HOW_SAME) {
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
        if (reg == DW_RBP) set_rule(s, reg, initial->rbp_how, initial->rbp_off);
        else if (reg == DW_RA) set_rule(s, reg, initial->ra_how, initial->ra_off);
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
        if (reg == DW_RBP) set_rule(s, reg, initial->rbp_how, initial->rbp_off);
        else if (reg == DW_RA) set_rule(s, reg, initial->ra_how, initial->ra_off);
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
        s->cfa_expr = NULL;
        break;
      case 0x0d:                                                    /* def_cfa_register */
        s->cfa_reg = (uint8_t)read_uleb(&r);
        s->cfa_other = false;
        s->cfa_expr = NULL;
        break;
      case 0x0e: s->cfa_off = (int64_t)read_uleb(&r); break;       /* def_cfa_offset */
      case 0x0f:                                                    /* def_cfa_expression */
        off = (int64_t)read_uleb(&r);
        if (r.bad || off < 0 || off > r.end - r.p) return false;
        s->cfa_expr = r.p;
        s->cfa_expr_len = (size_t)off;
        r.p += off;
        break;
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
        s->cfa_expr = NULL;
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
  if (ra != DW_RA || r.bad) return false;
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

/* A CFA given by a DWARF expression that, with rip known (it is the frame's pc), comes to
 * rsp + a constant: the PLT's (rsp + 8, or 16 in the part of a lazy-binding entry that pushed
 * the relocation index, told apart by rip & 15). Values are rsp * `rsp` + `k`; rsp may only
 * be added once, and nothing is read from memory. False for any other expression. */
typedef struct expr_value {
  int rsp;
  int64_t k;
} expr_value_t;

static bool eval_cfa_expr(const uint8_t *p, size_t len, uintptr_t rip, int64_t *off) {
  expr_value_t st[8];
  int n = 0;
  reader_t r = {p, p + len, false};
  while (r.p < r.end && !r.bad) {
    uint8_t op = *r.p++;
    if (op >= 0x30 && op <= 0x4f) {                                 /* lit0..lit31 */
      if (n == 8) return false;
      st[n++] = (expr_value_t){0, op - 0x30};
      continue;
    }
    if (op == 0x77 || op == 0x80) {                                 /* breg7 (rsp), breg16 (rip) */
      if (n == 8) return false;
      int64_t k = read_sleb(&r);
      st[n++] = op == 0x77 ? (expr_value_t){1, k} : (expr_value_t){0, (int64_t)rip + k};
      continue;
    }
    if (op == 0x23) {                                               /* plus_uconst */
      if (n < 1) return false;
      st[n - 1].k += (int64_t)read_uleb(&r);
      continue;
    }
    if (n < 2) return false;
    expr_value_t b = st[--n], *a = &st[n - 1];
    if (op == 0x22) {                                               /* plus */
      a->rsp += b.rsp;
      a->k += b.k;
      if (a->rsp > 1) return false;
      continue;
    }
    if (a->rsp || b.rsp) return false;   /* no arithmetic on rsp but adding to it */
    switch (op) {
      case 0x1a: a->k &= b.k; break;                                /* and */
      case 0x1c: a->k -= b.k; break;                                /* minus */
      case 0x24: a->k = (int64_t)((uint64_t)a->k << (b.k & 63)); break;  /* shl */
      case 0x2a: a->k = a->k >= b.k; break;                         /* ge */
      default: return false;
    }
  }
  if (r.bad || n != 1 || st[0].rsp != 1) return false;
  *off = st[0].k;
  return true;
}

/* mov $15, %rax; syscall: the rt_sigreturn trampoline (glibc's __restore_rt). */
static bool is_sigreturn(uintptr_t code) {
  static const uint8_t want[9] = {0x48, 0xc7, 0xc0, 0x0f, 0x00, 0x00, 0x00, 0x0f, 0x05};
  return memcmp((const void *)code, want, sizeof want) == 0;
}

/* The frame state for the code at `pc` (a return address - 1, or an interrupted instruction)
 * from the CFI: RULE_FRAME with *s filled in (its CFA may be from any register), RULE_END,
 * RULE_SIGNAL or RULE_UNSUPPORTED. `rip`: the frame's rip (the return address, or pc itself). */
static unsigned read_state(uintptr_t pc, uintptr_t rip, frame_state_t *s) {
#if ZA_UNWIND_FAST
  struct dl_find_object obj;
  if (_dl_find_object((void *)pc, &obj) != 0 || obj.dlfo_eh_frame == NULL) return RULE_UNSUPPORTED;
  const uint8_t *fde = find_fde(obj.dlfo_eh_frame, pc);
  if (fde == NULL) return RULE_UNSUPPORTED;
  uint32_t len, cie_ptr;
  memcpy(&len, fde, 4);
  if (len == 0 || len == 0xffffffffu) return RULE_UNSUPPORTED;
  memcpy(&cie_ptr, fde + 4, 4);
  if (cie_ptr == 0) return RULE_UNSUPPORTED;   /* a CIE, not an FDE */
  cie_info_t cie;
  if (!parse_cie(fde + 4 - cie_ptr, &cie)) return RULE_UNSUPPORTED;
  reader_t r = {fde + 8, fde + 4 + len, false};
  uintptr_t begin = read_encoded(&r, cie.fde_enc, 0, true);
  uintptr_t range = read_encoded(&r, cie.fde_enc & PE_FORMAT, 0, true);
  if (r.bad || pc < begin || pc - begin >= range) return RULE_UNSUPPORTED;
  /* A signal frame: glibc's FDE starts one byte (a nop) before the trampoline, so that
   * ra - 1 falls inside it. Only the kernel's own frame layout is understood. */
  if (cie.signal)
    return range >= 10 && (is_sigreturn(begin) || is_sigreturn(begin + 1)) ? RULE_SIGNAL
                                                                           : RULE_UNSUPPORTED;
  if (cie.has_z) {
    uint64_t n = read_uleb(&r);
    if (r.bad || n > (uint64_t)(r.end - r.p)) return RULE_UNSUPPORTED;
    r.p += n;
  }
  *s = (frame_state_t){.cfa_reg = DW_RSP, .rbp_how = HOW_SAME, .ra_how = HOW_SAME};
  if (!run_cfa(&cie, cie.insns, cie.end, begin, UINTPTR_MAX, s, s)) return RULE_UNSUPPORTED;
  frame_state_t initial = *s;
  if (!run_cfa(&cie, r.p, r.end, begin, pc, s, &initial)) return RULE_UNSUPPORTED;
  if (s->ra_how == HOW_UNDEFINED) return RULE_END;
  if (s->cfa_expr != NULL) {
    if (!eval_cfa_expr(s->cfa_expr, s->cfa_expr_len, rip, &s->cfa_off)) return RULE_UNSUPPORTED;
    s->cfa_reg = DW_RSP;
  }
  return RULE_FRAME;
#else
  (void)pc;
  (void)rip;
  (void)s;
  return RULE_UNSUPPORTED;
#endif
}

/* The rule for the code at `pc` from the CFI (read_state), not cached: a frame whose CFA is
 * rsp or rbp plus an offset, its return address just below the CFA. */
static uint64_t read_rule(uintptr_t pc, uintptr_t rip, uint32_t gen) {
  frame_state_t s;
  unsigned kind = read_state(pc, rip, &s);
  if (kind != RULE_FRAME) return make_rule(kind, gen);
  if (s.cfa_other || (s.cfa_reg != DW_RSP && s.cfa_reg != DW_RBP) || s.cfa_off < 0 ||
      s.cfa_off > (int64_t)CR_OFF_MASK - 1 || s.ra_how != HOW_OFFSET || s.ra_off != -8)
    return unsupported(gen);
  uint64_t rule = make_rule(RULE_FRAME, gen) | (uint64_t)s.cfa_off;
  if (s.cfa_reg == DW_RBP) rule |= CR_CFA_RBP;
  if (s.rbp_how == HOW_OFFSET) {
    if (s.rbp_off >= 0 || s.rbp_off < -1024 || (s.rbp_off & 7)) return unsupported(gen);
    rule |= CR_RBP_SAVED | (uint64_t)(uint8_t)(int8_t)(s.rbp_off / 8) << CR_SLOT_SHIFT;
  } else if (s.rbp_how != HOW_SAME) {
    return unsupported(gen);
  }
  return rule;
}

/* A rule not in the cache: read from the CFI (of pc - 1 for a return address: the call,
 * which may be the last instruction of a function that never returns, so pc itself can lie in
 * the next function; of pc itself for an interrupted instruction) and cached under `key`. */
static ZA_NOINLINE uint64_t rule_miss(rule_slot_t *slots, size_t mask, uintptr_t key, uintptr_t pc,
                                      bool exact, uint32_t gen) {
  uint64_t rule = read_rule(exact ? pc : pc - 1, pc, gen);
  if (cache_rule(slots, mask, key, rule) &&
      atomic_fetch_add_explicit(&za_fast.used, 1, memory_order_relaxed) > (mask + 1) / 2)
    grow_cache(slots, mask);
  return rule;
}

/* The rule for the frame whose pc is the return address `pc`. */
static ZA_ALWAYS_INLINE uint64_t rule_for(rule_slot_t *slots, size_t mask, uintptr_t pc,
                                          uint32_t gen) {
  uint64_t rule = cached_rule(slots, mask, pc, gen);
  return za_likely(rule != RULE_NONE) ? rule : rule_miss(slots, mask, pc, pc, false, gen);
}

/* The rule for the frame whose pc is an interrupted instruction (after a signal frame). */
static ZA_NOINLINE uint64_t rule_exact(rule_slot_t *slots, size_t mask, uintptr_t pc, uint32_t gen) {
  uint64_t rule = cached_rule(slots, mask, pc | EXACT_KEY, gen);
  return rule != RULE_NONE ? rule : rule_miss(slots, mask, pc | EXACT_KEY, pc, true, gen);
}

/* ---- stepping ------------------------------------------------------------------------ */

/* The walk's state between frames. */
typedef struct regs {
  uintptr_t pc, rsp, rbp, bottom;
} regs_t;

/* From a frame to its caller by step `cr`; false if that would leave the stack. Always
 * inlined on the walk's own variables (a regs_t in memory would put a store and a reload on
 * the walk's critical path). */
static ZA_ALWAYS_INLINE bool step(uintptr_t *pc, uintptr_t *rsp, uintptr_t *rbp, uintptr_t bottom,
                                  uint32_t cr) {
  uintptr_t base = *rsp;
  if (za_unlikely(cr & CR_CFA_RBP)) {
    __asm__ volatile("");   /* a branch, not a conditional move: rsp frames do not wait */
    base = *rbp;
  }
  uintptr_t cfa = base + (cr & CR_OFF_MASK);
  if (za_unlikely(cfa <= *rsp || (cfa & 7) || cfa - bottom > MAX_STACK_SPAN)) return false;
  if (cr & CR_RBP_SAVED) {
    uintptr_t at = cfa + (intptr_t)(int8_t)(cr >> CR_SLOT_SHIFT) * 8;
    if (za_unlikely(at < *rsp)) return false;
    *rbp = *(const uintptr_t *)at;
  }
  *pc = *(const uintptr_t *)(cfa - 8);
  *rsp = cfa;
  return true;
}

/* The step of an interrupted frame in its epilogue, where step refused: call-frame
 * information may still name rbp's save slot after the slot was popped (compilers do not
 * always describe the restore), when rbp holds the caller's value already. */
static ZA_COLD bool step_restored(regs_t *r, uint32_t cr) {
  uintptr_t cfa = ((cr & CR_CFA_RBP) ? r->rbp : r->rsp) + (cr & CR_OFF_MASK);
  if (cfa <= r->rsp || (cfa & 7) || cfa - r->bottom > MAX_STACK_SPAN) return false;
  uintptr_t at = cfa + (intptr_t)(int8_t)(cr >> CR_SLOT_SHIFT) * 8;
  if ((cr & CR_RBP_SAVED) && at >= r->rsp) r->rbp = *(const uintptr_t *)at;
  r->pc = *(const uintptr_t *)(cfa - 8);
  r->rsp = cfa;
  return true;
}

/* An interrupted frame the cached rules cannot take (its CFA kept in a register other than
 * rsp and rbp, as the loader's lazy-binding trampoline keeps it in rbx while it realigns the
 * stack): stepped with that register's value from the ucontext, which the signal saved. Not
 * cached (the rule depends on a register only this frame has). */
static ZA_COLD bool step_context(regs_t *r, const ucontext_t *uc) {
  static const uint8_t greg_of[16] = {REG_RAX, REG_RDX, REG_RCX, REG_RBX, REG_RSI, REG_RDI,
                                      REG_RBP, REG_RSP, REG_R8,  REG_R9,  REG_R10, REG_R11,
                                      REG_R12, REG_R13, REG_R14, REG_R15};
  frame_state_t s;
  if (read_state(r->pc, r->pc, &s) != RULE_FRAME || s.cfa_other || s.cfa_reg > 15 ||
      s.ra_how != HOW_OFFSET || s.ra_off != -8 || (s.rbp_how != HOW_SAME && s.rbp_how != HOW_OFFSET))
    return false;
  uintptr_t cfa = (uintptr_t)uc->uc_mcontext.gregs[greg_of[s.cfa_reg]] + (uintptr_t)s.cfa_off;
  if (cfa <= r->rsp || (cfa & 7) || cfa - r->bottom > MAX_STACK_SPAN) return false;
  if (s.rbp_how == HOW_OFFSET) {
    uintptr_t at = cfa + (uintptr_t)s.rbp_off;
    if (at < r->rsp || at >= cfa) return false;
    r->rbp = *(const uintptr_t *)at;
  }
  r->pc = *(const uintptr_t *)(cfa - 8);
  r->rsp = cfa;
  return true;
}

/* Through a signal frame: the interrupted registers from the ucontext at rsp. Its bounds
 * start again there. */
static void signal_step(regs_t *r) {
  const ucontext_t *uc = (const ucontext_t *)r->rsp;
  r->pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
  r->rbp = (uintptr_t)uc->uc_mcontext.gregs[REG_RBP];
  r->rsp = r->bottom = (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
}

/* ---- set-up -------------------------------------------------------------------------- */

bool za_unwind_init(void) {
#if ZA_UNWIND_FAST
  if (za_likely(atomic_load_explicit(&za_fast.t, memory_order_acquire) != NULL)) return true;
  tables_t *t = za_os_reserve(sizeof(tables_t)), *none = NULL;
  if (t == NULL) return false;
  if (!atomic_compare_exchange_strong_explicit(&za_fast.t, &none, t, memory_order_acq_rel,
                                               memory_order_acquire))
    za_os_unmap(t, sizeof(tables_t));   /* another thread's came first */
  return true;
#else
  return false;
#endif
}

bool za_unwind_available(void) {
  return atomic_load_explicit(&za_fast.t, memory_order_acquire) != NULL &&
         !atomic_load_explicit(&za_fast.libunwind_only, memory_order_relaxed);
}

void za_stack_use_libunwind_only(bool only) { atomic_store(&za_fast.libunwind_only, only); }

void za_unwind_modules_changed(void) {
  atomic_fetch_add_explicit(&za_fast.gen, 1, memory_order_acq_rel);
}

static inline uint32_t current_gen(void) {
  return atomic_load_explicit(&za_fast.gen, memory_order_acquire) & RULE_GEN_MASK;
}

void za_unwind_from_context(za_unwind_cursor_t *c, const void *ucontext) {
  const ucontext_t *uc = ucontext;
  uintptr_t rsp = (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
  *c = (za_unwind_cursor_t){.pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP], .rsp = rsp,
                            .rbp = (uintptr_t)uc->uc_mcontext.gregs[REG_RBP], .bottom = rsp,
                            .exact = true, .uc = uc};
}

/* ---- the walk ------------------------------------------------------------------------ */

/* A validated copy of a memo entry's frames (see memo_read). */
typedef struct snap {
  int n;
  uint32_t id;
  size_t slot;
  uintptr_t ra[ZA_UNWIND_MEMO_FRAMES];
  uint32_t rule[ZA_UNWIND_MEMO_FRAMES];
} snap_t;

/* The walk: from c, up to `size` pcs into buf. With `s` (a memo's frames), each frame whose
 * pc is the memo's at the same depth takes its step from the memo instead of the cache; the
 * first that differs ends that, and *hit says whether every frame matched. With `t`, the steps
 * taken are kept for the memo. With `ctx` (a constant at each call: only za_unwind_walk, which
 * walks signal contexts, sets it), an interrupted frame no rule fits is stepped with the
 * registers of its ucontext (step_context); the allocation paths' walks leave that out, which
 * keeps their loop as it was (alloc-bench deep under the GPA: 1.9% more instructions with it). */
static ZA_ALWAYS_INLINE int walk(const za_unwind_cursor_t *c, uintptr_t *buf, int size,
                                 za_unwind_stop_t *stop, const snap_t *s, bool *hit,
                                 za_unwind_ticket_t *t, bool ctx) {
  tables_t *tb = atomic_load_explicit(&za_fast.t, memory_order_acquire);
  *stop = ZA_UNWIND_UNSUPPORTED;
  if (hit) *hit = false;
  if (t) t->ok = t->signal = false;
  if (tb == NULL) return 0;
  rule_slot_t *slots = tb->rules;
  size_t mask = atomic_load_explicit(&za_fast.mask, memory_order_relaxed);
  uint32_t gen = current_gen();
  uintptr_t pc = c->pc, rsp = c->rsp, rbp = c->rbp, bottom = c->bottom;
  const ucontext_t *uc = ctx && c->exact ? c->uc : NULL;   /* the exact frame's registers */
  bool exact = c->exact, plain = !c->exact;
  bool match = s != NULL && s->n > 0;
  int n = 0;
  for (;;) {
    if (n == size) {
      *stop = ZA_UNWIND_FULL;
      break;
    }
    if (pc == 0) {
      *stop = ZA_UNWIND_END;
      break;
    }
    /* Without branches: where a stack parts from the memo's varies from capture to capture.
     * (n < size <= ZA_UNWIND_MEMO_FRAMES here when s is given.) */
    if (s) match &= (n < s->n) & (s->ra[n] == pc);
    buf[n++] = pc;
    if (n == size) continue;
    uint32_t cr;
    if (s && match) {
      cr = s->rule[n - 1];
    } else {
      uint64_t rule = za_likely(!exact) ? rule_for(slots, mask, pc, gen)
                                        : rule_exact(slots, mask, pc, gen);
      unsigned kind = rule_kind(rule);
      if (za_likely(kind == RULE_FRAME)) {
        cr = (uint32_t)rule;
      } else if (kind == RULE_END) {
        cr = CR_END;
      } else if (kind == RULE_SIGNAL) {
        regs_t r = {pc, rsp, rbp, bottom};
        if (ctx) uc = (const ucontext_t *)rsp;
        signal_step(&r);
        pc = r.pc, rsp = r.rsp, rbp = r.rbp, bottom = r.bottom;
        exact = true;
        plain = false;
        if (t) t->signal = true;
        continue;
      } else {
        regs_t r = {pc, rsp, rbp, bottom};
        if (!ctx || !exact || uc == NULL || !step_context(&r, uc)) return n;   /* unsupported */
        pc = r.pc, rsp = r.rsp, rbp = r.rbp;
        exact = false;
        continue;
      }
    }
    if (t && n <= ZA_UNWIND_MEMO_FRAMES) t->rules[n - 1] = cr;
    if (za_unlikely(cr == CR_END)) {
      *stop = ZA_UNWIND_END;
      break;
    }
    if (za_unlikely(!step(&pc, &rsp, &rbp, bottom, cr))) {
      regs_t r = {pc, rsp, rbp, bottom};
      if (!exact || !step_restored(&r, cr)) return n;
      pc = r.pc, rsp = r.rsp, rbp = r.rbp;
    }
    exact = false;
  }
  if (hit) *hit = match && n == s->n;
  if (t) {
    t->pc = c->pc;
    t->rsp = c->rsp;
    t->size = size;
    t->n = n;
    t->stop = *stop;
    t->ok = plain && size <= ZA_UNWIND_MEMO_FRAMES;
  }
  return n;
}

int za_unwind_walk(const za_unwind_cursor_t *c, uintptr_t *buf, int size, za_unwind_stop_t *stop) {
  return walk(c, buf, size, stop, NULL, NULL, NULL, true);
}

ZA_NOINLINE int za_unwind_backtrace(void **buf, int size, za_unwind_stop_t *stop) {
  za_unwind_cursor_t c;
  za_unwind_here(&c);
  return walk(&c, (uintptr_t *)buf, size, stop, NULL, NULL, NULL, false);
}

/* ---- the shape memo ------------------------------------------------------------------ */

/* zalloc's frames between a capture site and the program are few, always the same for one
 * path (malloc, calloc, free, operator new...) and ordinary (CFA = rsp + a constant): once
 * their return addresses and offsets are known, a capture checks the return addresses at
 * those offsets (loads that do not wait on each other) instead of walking frame by frame.
 * Each check is exact: if frame i's pc is the remembered one, its rule is too, so frame i+1
 * lies where remembered. A shape is written once, published by `ready`, and never changed. */

static inline size_t shape_hash(uintptr_t pc) {
  return (size_t)((pc * 0x9e3779b97f4a7c15u) >> 40) & (SHAPES - 1);
}

static inline bool in(uintptr_t pc, uintptr_t lo, uintptr_t hi) { return pc >= lo && pc < hi; }

/* True with c moved to the first frame outside [lo, hi) if a shape fits. */
static bool shape_fits(tables_t *tb, za_unwind_cursor_t *c, uintptr_t lo, uintptr_t hi) {
  size_t at = shape_hash(c->pc);
  for (int i = 0; i < SHAPE_PROBES; i++, at = (at + 1) & (SHAPES - 1)) {
    shape_t *sh = &tb->shapes[at];
    uintptr_t key = atomic_load_explicit(&sh->key, memory_order_relaxed);
    if (key == 0) return false;
    if (key != c->pc || !atomic_load_explicit(&sh->ready, memory_order_acquire)) continue;
    uint32_t j = 1;
    while (j < sh->m && *(const uintptr_t *)(c->rsp + sh->off[j - 1] - 8) == sh->ra[j]) j++;
    if (j < sh->m) continue;
    uintptr_t cfa = c->rsp + sh->off[sh->m - 1];
    uintptr_t pc = *(const uintptr_t *)(cfa - 8);
    if (in(pc, lo, hi)) continue;   /* this path goes on inside zalloc */
    if (sh->rbp_at != SHAPE_NO_RBP) c->rbp = *(const uintptr_t *)(c->rsp + sh->rbp_at);
    c->pc = pc;
    c->rsp = cfa;
    return true;
  }
  return false;
}

static void shape_put(tables_t *tb, const shape_t *want) {
  size_t at = shape_hash(want->ra[0]);
  for (int i = 0; i < SHAPE_PROBES; i++, at = (at + 1) & (SHAPES - 1)) {
    shape_t *sh = &tb->shapes[at];
    uintptr_t key = 0;
    if (!atomic_compare_exchange_strong_explicit(&sh->key, &key, want->ra[0],
                                                 memory_order_relaxed, memory_order_relaxed))
      continue;
    sh->rbp_at = want->rbp_at;
    sh->m = want->m;
    memcpy(sh->off, want->off, sizeof sh->off);
    memcpy(sh->ra, want->ra, sizeof sh->ra);
    atomic_store_explicit(&sh->ready, 1, memory_order_release);
    return;
  }
}

za_unwind_stop_t za_unwind_skip(za_unwind_cursor_t *c, uintptr_t lo, uintptr_t hi) {
  tables_t *tb = atomic_load_explicit(&za_fast.t, memory_order_acquire);
  if (tb == NULL) return ZA_UNWIND_UNSUPPORTED;
  if (!in(c->pc, lo, hi)) return ZA_UNWIND_FULL;
  if (za_likely(shape_fits(tb, c, lo, hi))) {
    count(COUNT_SHAPE_HIT);
    return ZA_UNWIND_FULL;
  }
  count(COUNT_SHAPE_MISS);
  /* Walk it, and remember it if it is a shape. */
  size_t mask = atomic_load_explicit(&za_fast.mask, memory_order_relaxed);
  uint32_t gen = current_gen();
  regs_t r = {c->pc, c->rsp, c->rbp, c->bottom};
  shape_t sh = {.rbp_at = SHAPE_NO_RBP};
  bool ordinary = !c->exact;
  while (in(r.pc, lo, hi)) {
    uint64_t rule = rule_for(tb->rules, mask, r.pc, gen);
    unsigned kind = rule_kind(rule);
    if (kind == RULE_END) return ZA_UNWIND_END;
    if (kind != RULE_FRAME) return ZA_UNWIND_UNSUPPORTED;
    uint32_t cr = (uint32_t)rule;
    if (sh.m == SHAPE_FRAMES || (cr & CR_CFA_RBP)) ordinary = false;
    if (ordinary) {
      sh.ra[sh.m] = r.pc;
      sh.off[sh.m] = (uint32_t)(r.rsp + (cr & CR_OFF_MASK) - c->rsp);
      if (cr & CR_RBP_SAVED)
        sh.rbp_at = (int32_t)(sh.off[sh.m] + (int32_t)(int8_t)(cr >> CR_SLOT_SHIFT) * 8);
      sh.m++;
    }
    if (!step(&r.pc, &r.rsp, &r.rbp, r.bottom, cr)) return ZA_UNWIND_UNSUPPORTED;
    if (r.pc == 0) return ZA_UNWIND_END;
  }
  if (ordinary && sh.m > 0) shape_put(tb, &sh);
  c->pc = r.pc;
  c->rsp = r.rsp;
  c->rbp = r.rbp;
  return ZA_UNWIND_FULL;
}

/* ---- the stack memo ------------------------------------------------------------------ */

/* The stack last captured from each (first frame's pc, its stack pointer), in a table that
 * starts small and grows by four whenever it has taken twice its size in new stacks since it
 * last grew (misses: a program with few distinct stacks keeps a few pages). A capture from
 * the same pc and stack pointer is most often the same stack (96% of python3's): its frames
 * are checked against the memo's, each checked pc vouching for its remembered step, and on
 * a full match the memo's id is the capture's, without a lookup in the depot. An entry is
 * written under a sequence lock: readers never wait, they copy the frames and check that
 * the sequence did not move; a writer that finds the entry being written gives up. */

static inline size_t memo_slot(uintptr_t pc, uintptr_t rsp, size_t mask) {
  return (size_t)(((pc ^ (rsp * 0x9e3779b97f4a7c15u)) * 0xff51afd7ed558ccdu) >> 40) & mask;
}

#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define STORE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)

/* A consistent copy of the entry's frames into s, if it is the memo of (c, size, gen). */
static bool memo_read(const memo_t *e, const za_unwind_cursor_t *c, int size, uint32_t gen,
                      snap_t *s) {
  unsigned seq = atomic_load_explicit(&e->seq, memory_order_acquire);
  if ((seq & 1) || LOAD(e->pc) != c->pc || LOAD(e->rsp) != c->rsp || LOAD(e->gen) != gen ||
      LOAD(e->size) != size)
    return false;
  int n = LOAD(e->n);
  if (n > ZA_UNWIND_MEMO_FRAMES) return false;
  s->n = n;
  s->id = LOAD(e->id);
  /* All of them, whatever n, as plain block copies (vector moves, no loop to mispredict). A
   * copy torn by a writer is possible - the sequence check below throws it away - so it is
   * only ever used after that check. */
  memcpy(s->ra, (const void *)e->ra, sizeof s->ra);
  memcpy(s->rule, (const void *)e->rule, sizeof s->rule);
  atomic_thread_fence(memory_order_acquire);
  return atomic_load_explicit(&e->seq, memory_order_relaxed) == seq;
}

/* A capture found another stack under the entry's key: true if the entry should now take
 * it. Stacks that take turns under one key (a function called from two places with the same
 * frame sizes beneath it, a recursion at one depth) would otherwise rewrite the entry on
 * every capture and never hit; kept, the first still hits. The count is a hint, written
 * outside the sequence lock (a lost update only delays a rewrite). */
#define MEMO_CONFLICTS 4
static bool memo_conflict(memo_t *e) {
  unsigned conflicts = LOAD(e->conflicts) + 1u;
  if (conflicts >= MEMO_CONFLICTS) return true;
  STORE(e->conflicts, (uint8_t)conflicts);
  return false;
}

int za_unwind_walk_memo(const za_unwind_cursor_t *c, uintptr_t *buf, int size,
                        za_unwind_stop_t *stop, uint32_t *id, za_unwind_ticket_t *t) {
  *id = 0;
  tables_t *tb = atomic_load_explicit(&za_fast.t, memory_order_acquire);
  snap_t s;
  s.n = 0;
  bool use = tb != NULL && size <= ZA_UNWIND_MEMO_FRAMES && !c->exact &&
             !atomic_load_explicit(&za_fast.memo_off, memory_order_relaxed);
  if (use) {
    size_t mask = atomic_load_explicit(&za_fast.memo_mask, memory_order_relaxed);
    s.slot = memo_slot(c->pc, c->rsp, mask);
    if (!memo_read(&tb->memo[s.slot], c, size, current_gen(), &s)) s.n = 0;
  }
  bool hit = false;
  int n;
  if (za_likely(use)) {
    n = walk(c, buf, size, stop, &s, &hit, t, false);
  } else {
    n = walk(c, buf, size, stop, NULL, NULL, t, false);
    t->ok = false;
  }
  if (hit) {
    count(COUNT_MEMO_HIT);
    *id = s.id;
    t->ok = false;   /* nothing to put */
  } else {
    count(COUNT_MEMO_MISS);
    /* Another stack under the same key: keep the memo's unless that keeps happening. */
    if (s.n > 0 && t->ok && !memo_conflict(&tb->memo[s.slot])) t->ok = false;
  }
  return n;
}

void za_unwind_memo_put(const za_unwind_ticket_t *t, const uintptr_t *buf, uint32_t id) {
  tables_t *tb = atomic_load_explicit(&za_fast.t, memory_order_acquire);
  if (tb == NULL || !t->ok || id == 0 || t->stop == ZA_UNWIND_UNSUPPORTED) return;
  size_t mask = atomic_load_explicit(&za_fast.memo_mask, memory_order_relaxed);
  memo_t *e = &tb->memo[memo_slot(t->pc, t->rsp, mask)];
  unsigned seq = atomic_load_explicit(&e->seq, memory_order_relaxed);
  if ((seq & 1) || !atomic_compare_exchange_strong_explicit(&e->seq, &seq, seq + 1,
                                                            memory_order_relaxed,
                                                            memory_order_relaxed))
    return;
  atomic_thread_fence(memory_order_release);
  STORE(e->pc, t->pc);
  STORE(e->rsp, t->rsp);
  STORE(e->gen, current_gen());
  STORE(e->size, (uint8_t)t->size);
  STORE(e->n, (uint8_t)t->n);
  STORE(e->id, id);
  STORE(e->conflicts, 0);
  for (int i = 0; i < t->n; i++) {
    STORE(e->ra[i], buf[i]);
    STORE(e->rule[i], t->rules[i]);
  }
  atomic_store_explicit(&e->seq, seq + 2, memory_order_release);
  if (mask + 1 >= MEMO_MAX) return;   /* grown: no shared counter on the way any more */
  size_t puts = atomic_fetch_add_explicit(&za_fast.memo_puts, 1, memory_order_relaxed);
  if (za_unlikely(puts > 2 * (mask + 1)) &&
      atomic_compare_exchange_strong(&za_fast.memo_mask, &mask, (mask + 1) * 4 - 1))
    atomic_store_explicit(&za_fast.memo_puts, 0, memory_order_relaxed);
}

void za_unwind_use_memo(bool on) { atomic_store(&za_fast.memo_off, !on); }

/* ---- counting, for tests ------------------------------------------------------------- */

void za_unwind_count(bool on) {
  for (int i = 0; i < 4; i++) atomic_store(&za_fast.counts[i], 0);
  atomic_store(&za_fast.counting, on);
}

za_unwind_counts_t za_unwind_counts(void) {
  return (za_unwind_counts_t){atomic_load(&za_fast.counts[COUNT_MEMO_HIT]),
                              atomic_load(&za_fast.counts[COUNT_MEMO_MISS]),
                              atomic_load(&za_fast.counts[COUNT_SHAPE_HIT]),
                              atomic_load(&za_fast.counts[COUNT_SHAPE_MISS])};
}
