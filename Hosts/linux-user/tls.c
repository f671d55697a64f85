/* tls.c: the TLS fence. Guest user code reaches its thread data through %fs or %gs, whose host
 * descriptors (usermode.c) end below 3 GiB, so that no offset reaches the guest kernel's memory. glibc's
 * i386 TLS (variant II) lies below the thread pointer, and code reaches it with offsets that wrap
 * around 4 GiB (`movl %gs:-28, %eax`, errno): with the fence such an access raises #GP in the host.
 * Here (from traps.c, at that #GP in guest user mode) the VMM decodes the instruction, computes the
 * linear addresses it accesses through the segment (base + offset, modulo 4 GiB, within the guest's
 * own limit), and when all of them are user addresses (below 3 GiB) performs it:
 *
 *   - mov to or from memory (8a 8b 88 89 c6 c7 a0-a3, 8, 16 or 32 bits), movzx and movsx from it (0f b6
 *     b7 be bf: compiled code reads __thread bytes and halves so), and cmp and test of memory with
 *     a register or an immediate (38-3b, 84, 85, 80/81/83 /7, f6/f7 /0: glibc's start-up runs
 *     `cmpb $imm, %gs:-0x1c`), are emulated here, through the guest's page tables with user
 *     permissions (a page user mode may not access is a #PF for the guest kernel, with CR2 and the
 *     error code a CPU would give); cmp and test take their flags from the same instruction run by
 *     the VMM on the values;
 *   - the other forms in `forms` below (the arithmetic and logic instructions, push, call, cmpxchg,
 *     xadd, ...: each with one memory operand of known size) run natively for one instruction
 *     (a single step): the guest's wide descriptor is installed, the trap flag set, and at the trap
 *     (SIGTRAP) the fence is back. Any other signal that arrives while that window is open (a fault of
 *     the instruction, the timer) closes it first (tls_close), and the instruction runs again later.
 *
 * Anything else: an address at or above 3 GiB, an offset past the guest's limit, an instruction not in
 * the table (string instructions, 16-bit addressing, ...), is #GP(0) for the guest kernel, as hardware
 * gives for a segment limit (Linux sends SIGSEGV).
 * SPDX-License-Identifier: MIT
 */
#define _GNU_SOURCE
#include <signal.h>
#include <string.h>
#include <ucontext.h>

#include "host.h"

#define KERNEL_START 0xc0000000ull /* the first address user code may not reach */
#define TF 0x100u

/* What the fence did, as --trace logs it: accesses emulated (a page fault included), single steps begun
 * (one that is interrupted and begun again counts twice), accesses refused (#GP for the guest). */
unsigned long vmm_tls_emulated, vmm_tls_stepped, vmm_tls_refused;

/* The general registers in ModRM order: eax ecx edx ebx esp ebp esi edi. */
static const int gregs_index[8] = {REG_EAX, REG_ECX, REG_EDX, REG_EBX, REG_ESP, REG_EBP, REG_ESI, REG_EDI};

/* How an instruction touches memory through its segment. COMPARE: cmp or test, which only read it
 * and set the arithmetic flags (memory first, or the register first: REVERSED), with a register or an
 * immediate. */
enum how { REFUSE, LOAD, STORE, STORE_IMMEDIATE, COMPARE, STEP };

struct access {
    enum how how;
    int test, reversed, with_immediate; /* COMPARE: test (and) rather than cmp (subtract); reg - memory; imm */
    int extend;                         /* LOAD by movzx (1) or movsx (2) into a register of opsize bytes */
    unsigned opsize;
    unsigned length;     /* the whole instruction (all but STEP: there up to the displacement) */
    unsigned size;       /* bytes accessed at offset */
    unsigned reg;        /* the register operand (ModRM reg, or 0 for a0-a3) */
    u32 offset, immediate;
    unsigned char segment; /* the segment-override prefix: 0x64 (%fs) or 0x65 (%gs) */
};

/* The forms run by a single step: one ModRM memory operand, its size from the operand size (0) or
 * fixed (1, 2); `reg_mask`: which ModRM reg values are allowed (bit n for /n). */
struct form {
    unsigned char two_byte, opcode, size, reg_mask;
};
static const struct form forms[] = {
    /* add or adc sbb and sub xor cmp, r/m8 and r/m32 with a register, both directions */
    {0, 0x00, 1, 0xff}, {0, 0x01, 0, 0xff}, {0, 0x02, 1, 0xff}, {0, 0x03, 0, 0xff},
    {0, 0x08, 1, 0xff}, {0, 0x09, 0, 0xff}, {0, 0x0a, 1, 0xff}, {0, 0x0b, 0, 0xff},
    {0, 0x10, 1, 0xff}, {0, 0x11, 0, 0xff}, {0, 0x12, 1, 0xff}, {0, 0x13, 0, 0xff},
    {0, 0x18, 1, 0xff}, {0, 0x19, 0, 0xff}, {0, 0x1a, 1, 0xff}, {0, 0x1b, 0, 0xff},
    {0, 0x20, 1, 0xff}, {0, 0x21, 0, 0xff}, {0, 0x22, 1, 0xff}, {0, 0x23, 0, 0xff},
    {0, 0x28, 1, 0xff}, {0, 0x29, 0, 0xff}, {0, 0x2a, 1, 0xff}, {0, 0x2b, 0, 0xff},
    {0, 0x30, 1, 0xff}, {0, 0x31, 0, 0xff}, {0, 0x32, 1, 0xff}, {0, 0x33, 0, 0xff},
    {0, 0x38, 1, 0xff}, {0, 0x39, 0, 0xff}, {0, 0x3a, 1, 0xff}, {0, 0x3b, 0, 0xff},
    /* the same with an immediate; test, xchg; pop r/m */
    {0, 0x80, 1, 0xff}, {0, 0x81, 0, 0xff}, {0, 0x83, 0, 0xff},
    {0, 0x84, 1, 0xff}, {0, 0x85, 0, 0xff}, {0, 0x86, 1, 0xff}, {0, 0x87, 0, 0xff}, {0, 0x8f, 0, 0x01},
    /* shifts and rotates; test/not/neg/mul/imul/div/idiv; inc, dec; call, jmp, push (near) */
    {0, 0xc0, 1, 0xff}, {0, 0xc1, 0, 0xff}, {0, 0xd0, 1, 0xff}, {0, 0xd1, 0, 0xff}, {0, 0xd2, 1, 0xff}, {0, 0xd3, 0, 0xff},
    {0, 0xf6, 1, 0xfd}, {0, 0xf7, 0, 0xfd}, {0, 0xfe, 1, 0x03}, {0, 0xff, 0, 0x57},
    /* cmovcc, setcc, cmpxchg, xadd, movzx, movsx, imul r, r/m; bt/bts/btr/btc with an immediate */
    {1, 0x40, 0, 0xff}, {1, 0x41, 0, 0xff}, {1, 0x42, 0, 0xff}, {1, 0x43, 0, 0xff}, {1, 0x44, 0, 0xff}, {1, 0x45, 0, 0xff},
    {1, 0x46, 0, 0xff}, {1, 0x47, 0, 0xff}, {1, 0x48, 0, 0xff}, {1, 0x49, 0, 0xff}, {1, 0x4a, 0, 0xff}, {1, 0x4b, 0, 0xff},
    {1, 0x4c, 0, 0xff}, {1, 0x4d, 0, 0xff}, {1, 0x4e, 0, 0xff}, {1, 0x4f, 0, 0xff},
    {1, 0x90, 1, 0xff}, {1, 0x91, 1, 0xff}, {1, 0x92, 1, 0xff}, {1, 0x93, 1, 0xff}, {1, 0x94, 1, 0xff}, {1, 0x95, 1, 0xff},
    {1, 0x96, 1, 0xff}, {1, 0x97, 1, 0xff}, {1, 0x98, 1, 0xff}, {1, 0x99, 1, 0xff}, {1, 0x9a, 1, 0xff}, {1, 0x9b, 1, 0xff},
    {1, 0x9c, 1, 0xff}, {1, 0x9d, 1, 0xff}, {1, 0x9e, 1, 0xff}, {1, 0x9f, 1, 0xff},
    {1, 0xb0, 1, 0xff}, {1, 0xb1, 0, 0xff}, {1, 0xc0, 1, 0xff}, {1, 0xc1, 0, 0xff},
    {1, 0xb6, 1, 0xff}, {1, 0xb7, 2, 0xff}, {1, 0xbe, 1, 0xff}, {1, 0xbf, 2, 0xff}, /* with lock: #UD in the step */
    {1, 0xaf, 0, 0xff}, {1, 0xba, 0, 0xf0},
};

/* Decodes the instruction in p[0, n) against the registers r (ModRM order). p has 24 readable bytes
 * (zeros after n): the caller refuses an instruction whose length comes out above n. */
static struct access decode(const unsigned char *p, unsigned n, const u32 r[8])
{
    struct access a = {.how = REFUSE};
    unsigned i = 0, opsize = 4, two_byte = 0, op, modrm_length, k, lock = 0;
    while (i < n) {
        unsigned char b = p[i];
        if (b == 0x26 || b == 0x2e || b == 0x36 || b == 0x3e || b == 0x64 || b == 0x65)
            a.segment = b;
        else if (b == 0x66)
            opsize = 2;
        else if (b == 0xf0)
            lock = 1;
        else
            break; /* 0x67 (16-bit addressing) and rep are not prefixes of any form here */
        i++;
    }
    if (a.segment != 0x64 && a.segment != 0x65)
        return a; /* not through %fs or %gs */
    op = p[i++];
    if (op >= 0xa0 && op <= 0xa3) { /* mov between the accumulator and moffs32 */
        a.how = lock ? STEP : op & 2 ? STORE : LOAD;
        a.size = op & 1 ? opsize : 1;
        a.offset = (u32)(p[i] | p[i + 1] << 8 | p[i + 2] << 16 | (u32)p[i + 3] << 24);
        a.length = i + 4;
        return a;
    }
    if (op == 0x0f) {
        two_byte = 1;
        op = p[i++];
    }
    if ((p[i] >> 6) == 3)
        return a; /* a register operand: no memory access, so not the fence's fault */
    a.reg = (p[i] >> 3) & 7;
    a.offset = modrm_offset(p + i, r, &modrm_length);
    a.length = i + modrm_length;
    if (!two_byte && op >= 0x88 && op <= 0x8b) {
        a.how = lock ? STEP : op & 2 ? LOAD : STORE; /* lock mov: #UD, which the CPU raises in the step */
        a.size = op & 1 ? opsize : 1;
        return a;
    }
    if (two_byte && !lock && (op == 0xb6 || op == 0xb7 || op == 0xbe || op == 0xbf)) {
        a.how = LOAD;
        a.extend = op >= 0xbe ? 2 : 1;
        a.size = op & 1 ? 2 : 1;
        a.opsize = opsize;
        return a;
    }
    if (!two_byte && (op == 0xc6 || op == 0xc7) && a.reg == 0) {
        a.how = lock ? STEP : STORE_IMMEDIATE;
        a.size = op & 1 ? opsize : 1;
        if (a.length + a.size > n)
            return (struct access){.how = REFUSE, .segment = a.segment};
        for (k = 0; k < a.size; k++)
            a.immediate |= (u32)p[a.length + k] << (8 * k);
        a.length += a.size;
        return a;
    }
    if (!two_byte && !lock && (op == 0x38 || op == 0x39 || op == 0x3a || op == 0x3b || op == 0x84 || op == 0x85)) {
        a.how = COMPARE;
        a.test = op >= 0x84;
        a.reversed = op == 0x3a || op == 0x3b;
        a.size = op & 1 ? opsize : 1;
        return a;
    }
    if (!two_byte && !lock && (((op == 0x80 || op == 0x81 || op == 0x83) && a.reg == 7) || ((op == 0xf6 || op == 0xf7) && a.reg == 0))) {
        unsigned bytes = op == 0x81 || op == 0xf7 ? opsize : 1;
        a.how = COMPARE;
        a.test = op >= 0xf6;
        a.with_immediate = 1;
        a.size = op == 0x80 || op == 0xf6 ? 1 : opsize;
        if (a.length + bytes > n)
            return (struct access){.how = REFUSE, .segment = a.segment};
        for (k = 0; k < bytes; k++)
            a.immediate |= (u32)p[a.length + k] << (8 * k);
        if (op == 0x83 && (a.immediate & 0x80))
            a.immediate |= 0xffffff00u; /* sign-extended */
        a.length += bytes;
        return a;
    }
    for (k = 0; k < sizeof forms / sizeof forms[0]; k++)
        if (forms[k].two_byte == two_byte && forms[k].opcode == op && (forms[k].reg_mask >> a.reg & 1)) {
            a.how = STEP;
            a.size = forms[k].size ? forms[k].size : opsize;
            return a;
        }
    a.how = REFUSE;
    return a;
}

/* The single-step window: open while one instruction runs with the guest's wide TLS descriptor. */
static struct {
    int open, guest_tf;
    unsigned slot;
} window PER_PROCESS; /* this process's LDT (pool.c) */

int tls_close(int sig, void *context)
{
    greg_t *g = ((ucontext_t *)context)->uc_mcontext.gregs;
    if (!window.open)
        return 0;
    window.open = 0;
    if (usermode_tls_window(window.slot, 0) != 0)
        vmm_exit(VMM_EXIT_INTERNAL, "internal error: cannot restore the TLS fence in the host LDT\n");
    if (!window.guest_tf)
        g[REG_EFL] &= ~(greg_t)TF;
    if (sig == SIGTRAP && g[REG_TRAPNO] == 1 && !window.guest_tf)
        return 1;
    return 0; /* the instruction did not complete (it faulted, or the timer came first): it runs again */
}

static void set8(greg_t *g, unsigned reg, u32 v)
{
    greg_t *x = &g[gregs_index[reg & 3]];
    unsigned shift = reg & 4 ? 8 : 0;
    *x = (greg_t)(((u32)*x & ~(0xffu << shift)) | (v & 0xff) << shift);
}

static u32 get8(const greg_t *g, unsigned reg) { return ((u32)g[gregs_index[reg & 3]] >> (reg & 4 ? 8 : 0)) & 0xff; }

/* The arithmetic flags (CF PF AF ZF SF OF) of cmp a, b (a - b) or test a, b (a & b) in `size` bytes,
 * computed by the same instruction on the host. */
#define ARITH 0x8d5u
static u32 compare_flags(int test, unsigned size, u32 a, u32 b)
{
    u32 f;
    if (size == 1 && test)
        __asm__("testb %b2, %b1; pushfl; popl %0" : "=r"(f) : "q"(a), "q"(b) : "cc");
    else if (size == 1)
        __asm__("cmpb %b2, %b1; pushfl; popl %0" : "=r"(f) : "q"(a), "q"(b) : "cc");
    else if (size == 2 && test)
        __asm__("testw %w2, %w1; pushfl; popl %0" : "=r"(f) : "r"(a), "r"(b) : "cc");
    else if (size == 2)
        __asm__("cmpw %w2, %w1; pushfl; popl %0" : "=r"(f) : "r"(a), "r"(b) : "cc");
    else if (test)
        __asm__("testl %2, %1; pushfl; popl %0" : "=r"(f) : "r"(a), "r"(b) : "cc");
    else
        __asm__("cmpl %2, %1; pushfl; popl %0" : "=r"(f) : "r"(a), "r"(b) : "cc");
    return f & ARITH;
}

int tls_fault(void *context, const unsigned char *code, unsigned n)
{
    ucontext_t *uc = context;
    greg_t *g = uc->uc_mcontext.gregs;
    u32 r[8], base, limit, linear, value = 0, eip = (u32)g[REG_EIP], esp, eflags;
    unsigned k, slot;
    int s;
    struct access a;

    unsigned char bytes[24] = {0};

    if (n > 15)
        n = 15;
    memcpy(bytes, code, n);
    for (k = 0; k < 8; k++)
        r[k] = (u32)g[gregs_index[k]];
    a = decode(bytes, n, r);
    if (!a.segment)
        return 0;
    if (a.length > n)
        a.how = REFUSE;
    s = usermode_tls((unsigned short)g[a.segment == 0x64 ? REG_FS : REG_GS], &base, &limit);
    if (s < 0)
        return 0;
    slot = (unsigned)s;
    linear = base + a.offset;
    if (a.how == REFUSE || (u64)a.offset + a.size - 1 > limit || (u64)linear + a.size > KERNEL_START) {
        vmm_tls_refused++;
        if (vmm_trace)
            vmm_trace_log("previrt run: trace: TLS fence: #GP at %#x (%s:%#x, linear %#x)\n", eip, a.segment == 0x64 ? "fs" : "gs",
                          a.offset, linear);
        return 0;
    }
    if (vmm_trace)
        vmm_trace_log("previrt run: trace: TLS fence: %s at %#x (bytes %02x %02x %02x %02x, %s:%#x, linear %#x)\n",
                      a.how == STEP ? "step" : "emulate", eip, code[0], code[1], code[2], code[3], a.segment == 0x64 ? "fs" : "gs",
                      a.offset, linear);
    if (a.how == STEP) {
        vmm_tls_stepped++;
        if (usermode_tls_window(slot, 1) != 0)
            vmm_exit(VMM_EXIT_INTERNAL, "internal error: cannot open the TLS segment in the host LDT\n");
        window.open = 1;
        window.slot = slot;
        window.guest_tf = (g[REG_EFL] & TF) != 0;
        g[REG_EFL] |= TF;
        return 1;
    }
    vmm_tls_emulated++;
    if (a.how == COMPARE) {
        u32 other = a.with_immediate ? a.immediate : a.size == 1 ? get8(g, a.reg) : (u32)g[gregs_index[a.reg]];
        if (guest_read(linear, &value, a.size) != 0)
            goto page_fault;
        g[REG_EFL] = (greg_t)(((u32)g[REG_EFL] & ~ARITH)
                              | (a.reversed ? compare_flags(0, a.size, other, value) : compare_flags(a.test, a.size, value, other)));
    } else if (a.how == LOAD) {
        if (guest_read(linear, &value, a.size) != 0)
            goto page_fault;
        if (a.extend) { /* movzx, movsx: the value widened into a 16- or 32-bit register */
            if (a.extend == 2)
                value = a.size == 1 ? (u32)(int)(signed char)value : (u32)(int)(short)value;
            g[gregs_index[a.reg]] = (greg_t)(a.opsize == 2 ? ((u32)g[gregs_index[a.reg]] & 0xffff0000u) | (value & 0xffff) : value);
        } else if (a.size == 1)
            set8(g, a.reg, value);
        else if (a.size == 2)
            g[gregs_index[a.reg]] = (greg_t)(((u32)g[gregs_index[a.reg]] & 0xffff0000u) | value);
        else
            g[gregs_index[a.reg]] = (greg_t)value;
    } else {
        value = a.how == STORE_IMMEDIATE ? a.immediate : a.size == 1 ? get8(g, a.reg) : (u32)g[gregs_index[a.reg]];
        if (guest_write(linear, &value, a.size) != 0)
            goto page_fault;
    }
    g[REG_EIP] = (greg_t)(eip + a.length);
    return 1;

page_fault:
    /* As the CPU would: the access faults at the instruction, with the user bit in the error code. */
    esp = (u32)g[REG_ESP];
    eflags = (u32)g[REG_EFL];
    vcpu.cr[2] = mmu_fault_address;
    if (deliver_from(14, 0, 1, mmu_fault_error, &eip, &esp, &eflags) != 0)
        vmm_exit(VMM_EXIT_ERROR, "guest fault: #PF in guest user mode at %#x: the guest kernel cannot take it\n", eip);
    context_continue(context, eip, esp, eflags);
    return 1;
}
