/* traps.c: host signals become the guest's exceptions. A fault raised by guest code (a raw, unannotated
 * privileged instruction, a divide by zero, a page the host has not mapped, ...) reaches the VMM as a
 * host signal. A page fault is first offered to the MMU (mmu.c), which fills the host mapping from the
 * guest's page tables when the guest may access the page; otherwise, when the guest's virtual IDT has a
 * present gate for the vector, the exception is delivered there as a CPU would deliver it (#PF with the
 * virtual CR2 and the guest's error code); otherwise the VMM names the fault, the address and the
 * instruction, and ends the run.
 * SPDX-License-Identifier: MIT
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <ucontext.h>

#include "host.h"

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



/* Up to 15 bytes of guest code at eip (through the guest's page tables); how many could be read. */
static unsigned code_at(u32 eip, unsigned char *bytes)
{
    u32 saved_address = mmu_fault_address, saved_error = mmu_fault_error, n = 0x1000 - (eip & 0xfff);
    unsigned got = 0;
    if (guest_read(eip, bytes, 15) == 0)
        got = 15;
    else if (n < 15 && guest_read(eip, bytes, n) == 0)
        got = n;
    mmu_fault_address = saved_address;
    mmu_fault_error = saved_error;
    return got;
}

/* The catalog kind of the instruction at eip (guest memory), or 0. */
static unsigned catalog_kind_at(u32 eip)
{
    unsigned char bytes[15];
    unsigned n = code_at(eip, bytes);
    struct previrt_insn insn;
    return n && previrt_decode(bytes, n, 32, &insn) > 0 ? insn.kind : 0;
}

/* " (cli, not annotated: rebuild with the macro set)", or the instruction's first bytes. */
static const char *describe_instruction(u32 eip)
{
    static char text[128];
    unsigned char bytes[15];
    unsigned n = code_at(eip, bytes), i, kind = catalog_kind_at(eip);
    if (!n)
        return "";
    if (kind) {
        snprintf(text, sizeof text, " (%s, not annotated: rebuild with the macro set)", previrt_kind_names[kind]);
        return text;
    }
    strcpy(text, " (bytes");
    for (i = 0; i < (n < 4 ? n : 4); i++)
        snprintf(text + strlen(text), sizeof text - strlen(text), " %02x", bytes[i]);
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

unsigned short vmm_cs, vmm_ds; /* the VMM's flat segments (contain.c records them) */

void context_to_kernel(void *context)
{
    greg_t *g = ((ucontext_t *)context)->uc_mcontext.gregs;
    unsigned long fs = (unsigned long)g[REG_FS] & 0xffff, gs = (unsigned long)g[REG_GS] & 0xffff;
    usermode_segments(&fs, &gs); /* a selector user code loaded itself becomes the virtual register */
    g[REG_CS] = vmm_cs;
    g[REG_SS] = vmm_ds;
    g[REG_DS] = vmm_ds;
    g[REG_ES] = vmm_ds;
    g[REG_FS] = 0;
    g[REG_GS] = vmm_gs;
}

/* The signal context continues in the guest at eip with esp and eflags, as a delivery left them; on
 * the guest kernel's segments if that delivery left guest user mode. */
void context_continue(void *context, u32 eip, u32 esp, u32 eflags)
{
    greg_t *g = ((ucontext_t *)context)->uc_mcontext.gregs;
    g[REG_EIP] = (greg_t)eip;
    g[REG_ESP] = (greg_t)esp;
    g[REG_EFL] = (greg_t)eflags;
    if (vmm_left_user)
        context_to_kernel(context);
}

/* A fault in guest user mode: delivered to the guest kernel, as the CPU would (no VMM message: the
 * guest kernel decides, and usually sends its process a signal). */
static void user_fault(int sig, siginfo_t *si, ucontext_t *uc)
{
    greg_t *g = uc->uc_mcontext.gregs;
    u32 eip = (u32)g[REG_EIP], esp = (u32)g[REG_ESP], eflags = (u32)g[REG_EFL];
    unsigned vector = (unsigned)g[REG_TRAPNO], error = (unsigned)g[REG_ERR];
    unsigned char p[15];
    unsigned n;
    int r = -1;
    unsigned long fs = (unsigned long)g[REG_FS] & 0xffff, gs = (unsigned long)g[REG_GS] & 0xffff;
    if (usermode_segments(&fs, &gs)) {
        g[REG_FS] = (greg_t)fs;
        g[REG_GS] = (greg_t)gs;
        return;
    }
    if (vector > 31)
        vector = sig == SIGILL ? 6 : sig == SIGFPE ? 0 : sig == SIGTRAP ? 3 : 13;
    /* #GP(0) through %fs or %gs: perhaps a TLS access below the base, beyond the fence (tls.c) */
    if (sig == SIGSEGV && vector == 13 && error == 0 && (n = code_at(eip, p)) != 0 && tls_fault(uc, p, n))
        return;
    if (sig == SIGSEGV && vector == 14) {
        r = mmu_host_fault((u32)(unsigned long)si->si_addr, (error & 2) != 0);
        if (r == 0)
            return;
        if (r == -1) {
            vcpu.cr[2] = mmu_fault_address;
            r = deliver_from(14, 0, 1, mmu_fault_error, &eip, &esp, &eflags);
        } else {
            /* not the guest's (the VMM's region): as a CPU would see it, a supervisor page */
            vcpu.cr[2] = (u32)(unsigned long)si->si_addr;
            r = deliver_from(14, 0, 1, 5 | (error & 2), &eip, &esp, &eflags);
        }
    } else if (vector == 13 && (error & 7) == 2 && code_at(eip, p) >= 2 && p[0] == 0xcd && p[1] == (error >> 3)) {
        u32 next = eip + 2;
        r = deliver_from(p[1], 1, 0, 0, &next, &esp, &eflags);
        if (r == 0)
            eip = next;
        else if (r == -3)
            r = deliver_from(13, 0, 1, error, &eip, &esp, &eflags);
    } else {
        r = deliver_from(vector, 0, has_error_code(vector), vector == 13 ? 0 : error, &eip, &esp, &eflags);
    }
    if (r != 0)
        vmm_exit(VMM_EXIT_ERROR, "guest fault: %s in guest user mode at %#x: the guest kernel cannot take it (%s)\n", vector_name(vector), eip,
                 r == -2 ? "no kernel stack in its TSS" : "no gate in its IDT");
    context_continue(uc, eip, esp, eflags);
}

void vmm_fault(int sig, siginfo_t *si, void *context)
{
    ucontext_t *uc = context;
    greg_t *g = uc->uc_mcontext.gregs;
    u32 eip = (u32)g[REG_EIP], esp = (u32)g[REG_ESP], eflags = (u32)g[REG_EFL];
    unsigned vector = (unsigned)g[REG_TRAPNO], error = (unsigned)g[REG_ERR];
    unsigned char p[15];
    int r;

    if (vcpu.cpl == 3) {
        user_fault(sig, si, uc);
        return;
    }
    if (sig == SIGSEGV && vector == 14) {
        /* A page the host has not mapped: the guest's page tables say whether the guest may access it. */
        r = mmu_host_fault((u32)(unsigned long)si->si_addr, (error & 2) != 0);
        if (r == 0)
            return;
        if (r == -1) {
            vcpu.page_faults++;
            if (vmm_trace)
                vmm_trace_log("previrt run: trace: #PF at %#x (cr2 %#x error %#x)\n", eip, mmu_fault_address, mmu_fault_error);
            if (eip - VMM_STUB_BASE < VMM_STUB_SIZE || memory_in_stub_alias(eip)
                || (eip >= (u32)(unsigned long)__executable_start && eip < (u32)(unsigned long)etext))
                vmm_exit(VMM_EXIT_ERROR, "guest fault: #PF at %#x while the VMM served a site (cr2 %#x, error %#x, esp %#x): "
                         "the guest's stack is not mapped\n", eip, mmu_fault_address, mmu_fault_error, esp);
            vcpu.cr[2] = mmu_fault_address;
            if ((r = deliver_to_guest(14, 1, mmu_fault_error, &eip, &esp, &eflags)) == 0)
                goto resume;
            vmm_exit(VMM_EXIT_ERROR, "guest fault: #PF at %#x: %s %#x%s (esp %#x)\n", eip, (error & 2) ? "write to" : "read of",
                     mmu_fault_address, r == -2 ? ": the guest's stack cannot take the exception frame (double fault)"
                     : ", and the guest's virtual IDT has no gate for #PF", esp);
        }
    }

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
    if (vector == 13 && (error & 7) == 2 && code_at(eip, p) >= 2 && p[0] == 0xcd && p[1] == (error >> 3)) {
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
