/* A frame zalloc's fast walker cannot walk, for the stack unit tests: stack_expr_call keeps
 * its CFA in a stack slot and says so with a DWARF expression that reads memory
 * (DW_CFA_def_cfa_expression: DW_OP_breg7 0, DW_OP_deref - "the word at rsp"), which libunwind
 * evaluates and the fast walker does not. Captures made beneath it need libunwind. x86-64
 * only, as the fast walker. */
#include "stack_chain.h"

__asm__(".text\n"
        ".globl stack_expr_call\n"
        ".type stack_expr_call, @function\n"
        "stack_expr_call:\n"
        "  .cfi_startproc\n"
        "  push %rbx\n"
        "  .cfi_def_cfa_offset 16\n"
        "  .cfi_offset %rbx, -16\n"
        "  lea 16(%rsp), %rbx\n"      /* the CFA */
        "  sub $16, %rsp\n"
        "  mov %rbx, (%rsp)\n"
        "  .cfi_escape 0x0f, 0x03, 0x77, 0x00, 0x06\n"
        "  call *%rdi\n"
        "  add $16, %rsp\n"
        "  .cfi_def_cfa %rsp, 16\n"
        "  pop %rbx\n"
        "  .cfi_def_cfa_offset 8\n"
        "  ret\n"
        "  .cfi_endproc\n"
        ".size stack_expr_call, .-stack_expr_call\n");
