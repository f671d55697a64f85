/* faults.c: the guest's exceptions. A fault raised by guest code (a raw, unannotated privileged
 * instruction, a divide by zero, a jump to unmapped memory, ...) reaches the VMM as a host signal.
 * When the guest's virtual IDT has a present gate for the vector it is delivered there, as a CPU would
 * deliver it; otherwise the VMM names the fault, the address and the instruction, and ends the run.
 * SPDX-License-Identifier: MIT
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <ucontext.h>

#include "host.h"

typedef unsigned int u32;

#define IF 0x200u
#define TF 0x100u

extern char __executable_start[], etext[];

static const char *const vector_names[32] = {
    "#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "vector 9", "#TS", "#NP", "#SS", "#GP", "#PF", "vector 15", "#MF",
    "#AC", "#MC", "#XM", "#VE", "vector 20", "#CP",
};

static const char *vector_name(unsigned vector)
{
    static char other[16];
    if (vector < 32 && vector_names[vector])
        return vector_names[vector];
    snprintf(other, sizeof other, "vector %u", vector);
    return other;
}

static int has_error_code(unsigned vector) { return vector == 8 || (vector >= 10 && vector <= 14) || vector == 17; }

struct guest_layout guest;

int guest_memory(unsigned long address, unsigned long length)
{
    return guest_segment_holding(&guest, address, length ? length : 1, 0) != 0;
}

int deliver_to_guest(unsigned vector, int has_error, unsigned error, u32 *eip, u32 *esp, u32 *eflags)
{
    u32 gate = vcpu.table_base[1] + 8u * vector, lo, hi, type, frame = has_error ? 16 : 12, *top;
    if (vector > 255 || 8u * vector + 7 > vcpu.table_limit[1] || !guest_memory(gate, 8))
        return -1;
    memcpy(&lo, (const void *)(unsigned long)gate, 4);
    memcpy(&hi, (const void *)(unsigned long)(gate + 4), 4);
    type = (hi >> 8) & 0x1f;
    if (!(hi & 0x8000) || (type != 0xe && type != 0xf)) /* present 32-bit interrupt or trap gate */
        return -1;
    if (*esp < frame || !guest_memory(*esp - frame, frame))
        return -2;
    top = (u32 *)(unsigned long)(*esp - frame);
    if (has_error)
        *top++ = error;
    top[0] = *eip;
    top[1] = vcpu.cs;
    top[2] = (*eflags & ~IF) | vmm_vif;
    *esp -= frame;
    *eip = (lo & 0xffff) | (hi & 0xffff0000u);
    vcpu.cs = (unsigned short)(lo >> 16);
    if (type == 0xe)
        vmm_vif = 0;
    *eflags &= ~TF;
    return 0;
}

/* The catalog kind of the instruction at eip (guest memory), or 0. */
static unsigned catalog_kind_at(u32 eip)
{
    const struct guest_segment *s = guest_segment_holding(&guest, eip, 1, 0);
    unsigned long avail;
    struct previrt_insn insn;
    if (!s)
        return 0;
    avail = s->vaddr + s->memsz - eip;
    return previrt_decode((const unsigned char *)(unsigned long)eip, avail > 15 ? 15 : avail, 32, &insn) > 0 ? insn.kind : 0;
}

/* " (cli, not annotated: rebuild with the macro set)", or the instruction's first bytes. */
static const char *describe_instruction(u32 eip)
{
    static char text[128];
    const struct guest_segment *s = guest_segment_holding(&guest, eip, 1, 0);
    unsigned long avail, i;
    unsigned kind = catalog_kind_at(eip);
    if (!s)
        return "";
    if (kind) {
        snprintf(text, sizeof text, " (%s, not annotated: rebuild with the macro set)", previrt_kind_names[kind]);
        return text;
    }
    avail = s->vaddr + s->memsz - eip;
    strcpy(text, " (bytes");
    for (i = 0; i < (avail < 4 ? avail : 4); i++)
        snprintf(text + strlen(text), sizeof text - strlen(text), " %02x", ((const unsigned char *)(unsigned long)eip)[i]);
    strcat(text, ")");
    return text;
}

static void report(unsigned vector, u32 eip, u32 error, const siginfo_t *si, int stack_lost, u32 esp)
{
    u32 where = vector == 3 ? eip - 1 : eip; /* int3 is a trap: eip is after it */
    const char *what = stack_lost ? ": the guest's stack cannot take the exception frame (double fault)" : "";
    if (vector == 14)
        vmm_exit(VMM_EXIT_ERROR, "guest fault: #PF at %#x: %s %#lx, which is not guest memory%s%s (esp %#x)\n", where,
                 (error & 0x10) ? "instruction fetch from" : (error & 2) ? "write to" : "read of", (unsigned long)si->si_addr,
                 what, (error & 0x10) ? "" : describe_instruction(where), esp);
    vmm_exit(VMM_EXIT_ERROR, "guest fault: %s at %#x%s%s (esp %#x)\n", vector_name(vector), where, describe_instruction(where), what, esp);
}

void vmm_fault(int sig, siginfo_t *si, void *context)
{
    ucontext_t *uc = context;
    greg_t *g = uc->uc_mcontext.gregs;
    u32 eip = (u32)g[REG_EIP], esp = (u32)g[REG_ESP], eflags = (u32)g[REG_EFL];
    unsigned vector = (unsigned)g[REG_TRAPNO], error = (unsigned)g[REG_ERR];
    const unsigned char *p = (const unsigned char *)(unsigned long)eip;
    int r;

    if (eip >= (u32)(unsigned long)__executable_start && eip < (u32)(unsigned long)etext) {
        if (vmm_current_site)
            vmm_exit(VMM_EXIT_ERROR, "guest fault: the VMM faulted (signal %d, address %#lx) while emulating %s at %#x: "
                     "an operand outside the guest's memory\n", sig, (unsigned long)si->si_addr,
                     previrt_kind_names[vmm_current_site->decoded.kind], (u32)(unsigned long)vmm_current_site->insn);
        vmm_exit(VMM_EXIT_ERROR, "guest fault: the VMM faulted at %#x (signal %d, address %#lx) while serving the guest "
                 "(esp %#x): a stack or operand outside the guest's memory\n", eip, sig, (unsigned long)si->si_addr, esp);
    }
    if (vector > 31)
        vector = sig == SIGILL ? 6 : sig == SIGFPE ? 0 : sig == SIGTRAP ? 3 : 13;

    /* A raw int $n: ring 3 takes #GP with the IDT bit set; a CPU in ring 0 takes vector n. */
    if (vector == 13 && (error & 7) == 2 && guest_memory(eip, 2) && p[0] == 0xcd && p[1] == (error >> 3)) {
        u32 next = eip + 2;
        if ((r = deliver_to_guest(p[1], 0, 0, &next, &esp, &eflags)) == 0) {
            eip = next;
            goto resume;
        }
        if (r == -2)
            report(13, eip, error, si, 1, esp);
        vmm_exit(VMM_EXIT_ERROR, "guest fault: #GP at %#x (int $%#x: the guest's virtual IDT has no gate for the vector)\n",
                 eip, p[1]);
    }
    /* A catalog instruction runs in the guest's ring 0 without a fault: this one faulted only because it
     * was not annotated (and so not patched). Name it rather than deliver a #GP hardware would not raise. */
    if (vector == 13 && catalog_kind_at(eip))
        report(13, eip, error, si, 0, esp);
    if (vector == 14) {
        vcpu.cr[2] = (u32)(unsigned long)si->si_addr;
        error &= ~4u; /* the guest runs as the supervisor */
    }
    if (vector == 13)
        error = 0;
    if ((r = deliver_to_guest(vector, has_error_code(vector), error, &eip, &esp, &eflags)) == 0)
        goto resume;
    report(vector, (u32)g[REG_EIP], (u32)g[REG_ERR], si, r == -2, esp);

resume:
    g[REG_EIP] = (greg_t)eip;
    g[REG_ESP] = (greg_t)esp;
    g[REG_EFL] = (greg_t)eflags;
}
