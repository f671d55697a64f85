/* backend_xen.c: a 64-bit Xen PV domain. A PV kernel runs in ring 3 on page tables Xen validates; its
 * sensitive instructions fault, are ignored or show Xen's state. Each supported site becomes
 * `jmp stub` plus NOPs; the stub does the operation the PV way and jumps back to the site's end:
 *
 *   cli            stub: movb $1, evtchn_upcall_mask(%rip); jmp back
 *   sti            stub: movb $0, evtchn_upcall_mask(%rip), then the entry below only with an event
 *                  pending (tested with jrcxz: sti changes no flag)
 *   cpuid          stub: ud2; .ascii "xen"; cpuid; jmp back      (Xen's forced-emulation prefix)
 *   sti before hlt stub: jmp back                                  (the hlt unmasks, atomically)
 *   everything else, stub: lea -128(%rsp),%rsp; push $index; call previrt_xen_entry;
 *                          lea 136(%rsp),%rsp; jmp back
 *                  (pushf and push %fs/%gs run natively before the call, popf, iretq and lretq after
 *                  it; iretq's and lretq's stubs have a second way on, to HYPERVISOR_iret, which the
 *                  handler takes by changing the call's return address; int's, lretq's and ljmp's end
 *                  in `mov slot(%rip),%rsp` and/or `jmp *slot(%rip)` with slots the handler fills)
 *
 * previrt_xen_entry saves every register and the flags in a frame on the stack, below the guest's red
 * zone, and calls previrt_xen_emulate, which does what the site's instruction would do on the frame:
 *
 *   sti, popf      clear or set vcpu_info.evtchn_upcall_mask (the virtual IF); unmasking with an
 *                  event pending has Xen deliver it (any hypercall's return does)
 *   pushf          the pushed flags' IF is !evtchn_upcall_mask
 *   hlt            sched_op(SCHEDOP_block): unmask events and wait, atomically
 *   mov to cr3     mmuext_op(MMUEXT_NEW_BASEPTR and MMUEXT_NEW_USER_BASEPTR, the machine frame of the
 *                  new top-level table): ring 3 runs on the kernel's tables, as on a CPU
 *   mov from cr3   the pseudo-physical value the guest last wrote (Xen would show a machine address)
 *   cr0, clts,     CR0.TS through fpu_taskswitch; the rest of CR0 is Xen's; smsw shows the same
 *   lmsw, smsw
 *   dr0-3, dr6, 7  set_debugreg, get_debugreg
 *   lgdt, lldt     copies without system descriptors given to Xen (set_gdt, MMUEXT_SET_LDT;
 *                  xen_segments.c)
 *   ltr            the TSS marked busy; its rsp0 is Xen's kernel stack (stack_switch)
 *   sgdt, sidt,    what lgdt, lidt, lldt, ltr loaded (natively they show Xen's)
 *   sldt, str
 *   segment loads  the virtual segment registers, Xen's flat selectors natively, fs and gs bases
 *   and stores     through set_segment_base (xen_segments.c): mov, push, pop, lfs, lgs, lss, ljmp
 *   wrmsr, rdmsr   fs/gs bases through set_segment_base, SYSENTER MSRs kept, others natively
 *   invlpg         mmuext_op(MMUEXT_INVLPG_LOCAL, the effective address)
 *   wbinvd, invd   mmuext_op(MMUEXT_FLUSH_CACHE)
 *   lidt           the virtual IDT, and its present gates as Xen's trap table (set_trap_table), each
 *                  through a trampoline that pops what Xen adds (xen_events.c)
 *   iretq, lretq   to the kernel: Xen's flat selectors in the frame, run natively; to ring 3: a ring
 *                  change, through HYPERVISOR_iret
 *   int $n         delivered through the virtual IDT, as the CPU does without a ring change
 *   in, out        the backend's devices: COM1 (THR bytes go to Xen's console, console_io), the
 *                  8259A and the 8254's channel 0 (Xen's one-shot timer, VIRQ_TIMER on an event
 *                  channel); other ports run natively, which Xen emulates once
 *                  physdev_op(PHYSDEVOP_set_iopl) gave the domain I/O privilege
 *
 * Timer events come through the upcall Xen enters (callback_op): they become interrupts through the
 * guest's IDT gate for IRQ 0 of the virtual 8259A.
 *
 * Every other kind, and forms the handlers do not model (a control register other than cr0 and cr3, a
 * debug register other than dr0-dr3, dr6, dr7, 16-bit operands, iret and lret without REX.W, 16- and
 * 32-bit code, fs/gs overrides), is refused by name before anything is patched. The files build for
 * x86_64 only (on i386 they are empty), and with -mno-red-zone (Xen pushes event frames right below the
 * interrupted %rsp). The backend contains no sensitive instruction the macro sets would annotate: those
 * it runs itself are written as .byte.
 *
 * The files: this one (hypercalls, setting up, checking and patching), xen_emulate.c (the stubs' entry
 * and the handlers), xen_segments.c (descriptor tables, segment registers, the task register),
 * xen_events.c (events, the upcall, the trap table, virtual interrupts, time), xen_devices.c (the
 * backend's devices and port I/O); xen_pv.h has Xen's PV ABI as they use it.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 the previrt authors. Permission is hereby granted, free of charge, to any
 * person obtaining a copy of this file, to deal in it without restriction, subject to this notice
 * being kept. THE FILE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND.
 */
#include "xen_pv.h"

#if defined(__x86_64__) /* 64-bit PV only: Debian's Xen is built without 32-bit PV (CONFIG_PV32) */

struct previrt_xen *previrt_xen_active;

/* --- hypercalls --- */

long previrt_xen_hypercall(struct previrt_xen *xen, unsigned int op, unsigned long a1, unsigned long a2, unsigned long a3,
                           unsigned long a4)
{
    register unsigned long r10 asm("r10") = a4;
    long result;
    asm volatile("call *%[entry]"
                 : "=a"(result), "+D"(a1), "+S"(a2), "+d"(a3), "+r"(r10)
                 : [entry] "r"(xen->hypercall_page + op * 32)
                 : "memory", "rcx", "r8", "r9", "r11");
    xen->hypercalls[op & 63]++;
    if (result < 0)
        xen->failed_hypercalls++;
    return result;
}

long xen_mmuext2(struct previrt_xen *xen, unsigned int cmd, unsigned long arg1, unsigned long arg2)
{
    struct mmuext_op op = {cmd, arg1, arg2};
    return previrt_xen_hypercall(xen, HYPERCALL_MMUEXT_OP, (unsigned long)&op, 1, 0, DOMID_SELF);
}

long xen_mmuext(struct previrt_xen *xen, unsigned int cmd, unsigned long arg1) { return xen_mmuext2(xen, cmd, arg1, 0); }

/* The machine frame behind a virtual address of the guest's image (through start_info's mfn_list). */
unsigned long xen_machine_frame(struct previrt_xen *xen, const void *virtual_address)
{
    const struct xen_start_info *si = xen->start_info;
    return si->mfn_list[((unsigned long)virtual_address - xen->virt_base) >> 12];
}

/* The page-table base, for kernel and user mode alike (a native kernel's ring 3 runs on its cr3):
 * MMUEXT_NEW_BASEPTR and MMUEXT_NEW_USER_BASEPTR in one mmuext_op. */
long xen_new_baseptr(struct previrt_xen *xen, unsigned long mfn, int kernel_too)
{
    struct mmuext_op ops[2] = {{MMUEXT_NEW_BASEPTR, mfn, 0}, {MMUEXT_NEW_USER_BASEPTR, mfn, 0}};
    return previrt_xen_hypercall(xen, HYPERCALL_MMUEXT_OP, (unsigned long)(kernel_too ? ops : ops + 1), kernel_too ? 2 : 1, 0, DOMID_SELF);
}

void xen_console_flush(struct previrt_xen *xen)
{
    if (xen->console_used)
        previrt_xen_hypercall(xen, HYPERCALL_CONSOLE_IO, CONSOLEIO_WRITE, xen->console_used, (unsigned long)xen->console, 0);
    xen->console_used = 0;
}

void previrt_xen_console_write(struct previrt_xen *xen, const char *s, unsigned long n)
{
    xen_console_flush(xen);
    previrt_xen_hypercall(xen, HYPERCALL_CONSOLE_IO, CONSOLEIO_WRITE, n, (unsigned long)s, 0);
}

void previrt_xen_shutdown(struct previrt_xen *xen, unsigned int reason)
{
    unsigned int arg = reason;
    xen_console_flush(xen);
    previrt_xen_hypercall(xen, HYPERCALL_SCHED_OP, SCHEDOP_SHUTDOWN, (unsigned long)&arg, 0, 0);
}

int previrt_xen_init(struct previrt_xen *xen)
{
    const struct xen_start_info *si = xen->start_info;
    unsigned int iopl = 1;
    unsigned long i;
    xen->stub_used = 0;
    xen->console_used = 0;
    xen->failed_hypercalls = 0;
    for (i = 0; i <= PREVIRT_KIND_MAX; i++)
        xen->patched[i] = 0;
    for (i = 0; i < 3; i++)
        xen->sysenter[i] = 0;
    for (i = 0; i < 64; i++)
        xen->hypercalls[i] = 0;
    xen->cr3 = si->pt_base - xen->virt_base;
    asm volatile(".byte 0x0f, 0x20, 0xc0" : "=a"(xen->cr0)); /* mov %cr0,%rax: Xen emulates the read */
    if (previrt_xen_hypercall(xen, HYPERCALL_UPDATE_VA_MAPPING, (unsigned long)xen->shared_info,
                              (si->shared_info & ~0xffful) | PTE_PRESENT_WRITABLE_ACCESSED_DIRTY, UVMF_INVLPG, 0) < 0)
        return -1;
    if (previrt_xen_hypercall(xen, HYPERCALL_PHYSDEV_OP, PHYSDEVOP_SET_IOPL, (unsigned long)&iopl, 0, 0) < 0)
        return -1;
    if (xen_new_baseptr(xen, xen_machine_frame(xen, (const void *)si->pt_base), 0) < 0) /* ring 3 on the kernel's tables */
        return -1;
    xen_segments_init(xen);
    return xen_events_init(xen);
}

/* --- checking and patching --- */

#define STUB_MAX 80 /* bytes, the longest stub (sti's) rounded up */

static const char *refuse(struct previrt_xen *xen, const char *what, const char *why)
{
    unsigned int n = 0;
    while (*what && n < sizeof xen->why - 1)
        xen->why[n++] = *what++;
    while (*why && n < sizeof xen->why - 1)
        xen->why[n++] = *why++;
    xen->why[n] = 0;
    return xen->why;
}

static int within_rel32(const void *a, const void *b)
{
    long d = (long)((const unsigned char *)a - (const unsigned char *)b);
    return d < 0x7fff0000l && d > -0x7fff0000l;
}

/* Whether the instruction writes %rsp as its register operand: the handlers write the registers of the
 * frame, where %rsp is not (the stub's own `lea` restores it). */
static int writes_rsp(const struct previrt_insn *d)
{
    unsigned int rm = (d->modrm & 7) | (d->rex & 1) << 3, reg_field = ((d->modrm >> 3) & 7) | (d->rex & 4) << 1;
    switch (d->kind) {
    case PREVIRT_KIND_MOV_FROM_CR:
    case PREVIRT_KIND_MOV_FROM_DR: return rm == 4;
    case PREVIRT_KIND_MOV_FROM_SEG:
    case PREVIRT_KIND_SLDT:
    case PREVIRT_KIND_STR:
    case PREVIRT_KIND_SMSW: return (d->modrm >> 6) == 3 && rm == 4;
    case PREVIRT_KIND_LFS:
    case PREVIRT_KIND_LGS:
    case PREVIRT_KIND_LSS: return reg_field == 4;
    }
    return 0;
}

static const char *xen_check(void *ctx, const struct previrt_patch_site *site)
{
    struct previrt_xen *xen = ctx;
    const struct previrt_insn *d = &site->decoded;
    const char *name = previrt_kind_names[d->kind];
    if (d->mode != 64)
        return refuse(xen, name, " in 16- or 32-bit code is not supported by the xen backend");
    switch (d->kind) {
    case PREVIRT_KIND_CLI:
    case PREVIRT_KIND_STI:
    case PREVIRT_KIND_CPUID:
    case PREVIRT_KIND_WBINVD:
    case PREVIRT_KIND_IN:
    case PREVIRT_KIND_OUT:
        break;
    case PREVIRT_KIND_PUSHF:
    case PREVIRT_KIND_POPF:
        if (d->opsize_prefix)
            return refuse(xen, name, " with a 16-bit operand is not supported by the xen backend");
        break;
    case PREVIRT_KIND_MOV_TO_CR:
    case PREVIRT_KIND_MOV_FROM_CR:
        if ((((d->modrm >> 3) & 7) != 3 && ((d->modrm >> 3) & 7) != 0) || (d->rex & 4))
            return refuse(xen, name, " of a control register other than cr0 and cr3 is not supported by the xen backend");
        break;
    case PREVIRT_KIND_LFS:
    case PREVIRT_KIND_LGS:
    case PREVIRT_KIND_LSS:
    case PREVIRT_KIND_LJMP:
        if (d->opsize_prefix)
            return refuse(xen, name, " with a 16-bit operand is not supported by the xen backend");
        if ((d->modrm >> 6) == 3)
            return refuse(xen, name, " without a memory operand is not supported by the xen backend");
        if (d->segment == 0x64 || d->segment == 0x65)
            return refuse(xen, name, " with an fs or gs override is not supported by the xen backend");
        break;
    case PREVIRT_KIND_MOV_TO_SEG:
    case PREVIRT_KIND_MOV_FROM_SEG:
        if (((d->modrm >> 3) & 7) > 5)
            return refuse(xen, name, " of a register that is not a segment register is not supported by the xen backend");
        if (d->kind == PREVIRT_KIND_MOV_TO_SEG && ((d->modrm >> 3) & 7) == SEG_CS)
            return refuse(xen, name, " of cs (an invalid instruction) is not supported by the xen backend");
        __attribute__((fallthrough)); /* and the memory operand's override */
    case PREVIRT_KIND_LMSW:
    case PREVIRT_KIND_LLDT:
    case PREVIRT_KIND_LTR:
    case PREVIRT_KIND_SLDT:
    case PREVIRT_KIND_STR:
    case PREVIRT_KIND_INVLPG:
    case PREVIRT_KIND_LIDT:
    case PREVIRT_KIND_SIDT:
    case PREVIRT_KIND_LGDT:
    case PREVIRT_KIND_SGDT:
    case PREVIRT_KIND_SMSW:
        if (d->segment == 0x64 || d->segment == 0x65)
            return refuse(xen, name, " with an fs or gs override is not supported by the xen backend");
        break;
    case PREVIRT_KIND_HLT:
    case PREVIRT_KIND_INVD:
    case PREVIRT_KIND_INT:
    case PREVIRT_KIND_CLTS:
    case PREVIRT_KIND_RDMSR:
    case PREVIRT_KIND_WRMSR:
        break;
    case PREVIRT_KIND_PUSH_SEG:
    case PREVIRT_KIND_POP_SEG:
        if (d->opsize_prefix)
            return refuse(xen, name, " with a 16-bit operand is not supported by the xen backend");
        break;
    case PREVIRT_KIND_MOV_TO_DR:
    case PREVIRT_KIND_MOV_FROM_DR:
        if ((d->rex & 4) || ((d->modrm >> 3) & 7) == 4 || ((d->modrm >> 3) & 7) == 5)
            return refuse(xen, name, " of a debug register other than dr0-dr3, dr6 and dr7 is not supported by the xen backend");
        break;
    case PREVIRT_KIND_IRET:
    case PREVIRT_KIND_LRET:
        if (!(d->rex & 8))
            return refuse(xen, name, " without REX.W (not iretq or lretq) is not supported by the xen backend");
        if (!within_rel32(xen->stubs, xen->hypercall_page) || !within_rel32(xen->stubs + xen->stub_size, xen->hypercall_page))
            return "the xen backend's stubs are beyond rel32 reach of the hypercall page";
        break;
    default:
        return refuse(xen, name, " is not supported by the xen backend");
    }
    if (writes_rsp(d))
        return refuse(xen, name, " into %rsp is not supported by the xen backend");
    if (site->length < 5)
        return "the site is shorter than the 5-byte jump the xen backend writes";
    if (site->index >= xen->max_sites)
        return "more sites than the xen backend's site table holds";
    if (!within_rel32(xen->stubs, site->start) || !within_rel32(xen->stubs + xen->stub_size, site->start)
        || !within_rel32(xen->stubs, (const void *)previrt_xen_entry) || !within_rel32(xen->stubs, xen->shared_info))
        return "the xen backend's stubs are beyond rel32 reach of the site";
    if (xen->stub_size / STUB_MAX <= site->index)
        return "the xen backend's stub area is full";
    return 0;
}

static unsigned int put_rel32(unsigned char *stub, unsigned int n, unsigned char opcode, const void *target)
{
    stub[n++] = opcode;
    previrt_put32(stub + n, (unsigned long)target - (unsigned long)(stub + n + 4));
    return n + 4;
}

static const unsigned char skip_red_zone[] = {0x48, 0x8d, 0x64, 0x24, 0x80};                       /* lea -128(%rsp),%rsp */
static const unsigned char back_over_red_zone[] = {0x48, 0x8d, 0xa4, 0x24, 0x88, 0x00, 0x00, 0x00}; /* lea 136(%rsp),%rsp */
static const unsigned char restore_red_zone[] = {0x48, 0x8d, 0xa4, 0x24, 0x80, 0x00, 0x00, 0x00};   /* lea 128(%rsp),%rsp */
_Static_assert(sizeof back_over_red_zone == STUB_AFTER_CALL, "the handlers count past this lea");
/* mov 6(%rip),%rsp; jmp *8(%rip): the slots follow (the handler fills them) */
static const unsigned char through_slots[] = {0x48, 0x8b, 0x25, 6, 0, 0, 0, 0xff, 0x25, 8, 0, 0, 0};
_Static_assert(sizeof through_slots == STUB_TO_SLOTS, "the handlers find the slots here");
/* jmp *0(%rip): the slot follows */
static const unsigned char jump_through_slot[] = {0xff, 0x25, 0, 0, 0, 0};
_Static_assert(sizeof jump_through_slot == STUB_TO_JUMP_SLOT, "the handler finds the slot here");
static const unsigned char pop_slot[] = {0x48, 0x8d, 0x64, 0x24, 0x08};                            /* lea 8(%rsp),%rsp */

static unsigned int put_bytes(unsigned char *stub, unsigned int n, const unsigned char *bytes, unsigned int count)
{
    while (count--)
        stub[n++] = *bytes++;
    return n;
}

/* An instruction with a RIP-relative operand at `target`: opcode bytes, disp32, then `imm` bytes. */
static unsigned int put_rip_relative(unsigned char *stub, unsigned int n, const unsigned char *opcode, unsigned int count,
                                     const volatile void *target, unsigned int imm_bytes)
{
    n = put_bytes(stub, n, opcode, count);
    previrt_put32(stub + n, (unsigned long)target - (unsigned long)(stub + n + 4 + imm_bytes));
    return n + 4;
}

/* lea -128(%rsp),%rsp; push $index; call previrt_xen_entry; lea 136(%rsp),%rsp */
static unsigned int put_entry_call(unsigned char *stub, unsigned int n, unsigned int index)
{
    n = put_bytes(stub, n, skip_red_zone, sizeof skip_red_zone);
    stub[n++] = 0x68;
    previrt_put32(stub + n, index);
    n += 4;
    n = put_rel32(stub, n, 0xe8, (const void *)previrt_xen_entry);
    return put_bytes(stub, n, back_over_red_zone, sizeof back_over_red_zone);
}

/* sti: clear the upcall mask; only with an event pending, the entry (which has Xen deliver it). The
 * test of the pending flag is flag-free (jrcxz), as sti changes no flag:
 *     lea -128(%rsp),%rsp; push %rcx; movb $0, mask(%rip); movzbl pending(%rip), %ecx; jrcxz 1f
 *     pop %rcx; lea 128(%rsp),%rsp; <the entry call>; jmp back
 * 1:  pop %rcx; lea 128(%rsp),%rsp; (jmp back follows) */
static unsigned int put_sti(struct previrt_xen *xen, unsigned char *stub, unsigned int n, const struct previrt_patch_site *site)
{
    static const unsigned char store_byte[] = {0xc6, 0x05}, load_byte[] = {0x0f, 0xb6, 0x0d};
    unsigned int skip;
    n = put_bytes(stub, n, skip_red_zone, sizeof skip_red_zone);
    stub[n++] = 0x51; /* push %rcx */
    n = put_rip_relative(stub, n, store_byte, sizeof store_byte, xen->shared_info + VCPU_UPCALL_MASK, 1);
    stub[n++] = 0;
    n = put_rip_relative(stub, n, load_byte, sizeof load_byte, xen->shared_info + VCPU_UPCALL_PENDING, 0);
    stub[n++] = 0xe3; /* jrcxz 1f */
    skip = n++;
    stub[n++] = 0x59; /* pop %rcx */
    n = put_bytes(stub, n, restore_red_zone, sizeof restore_red_zone);
    n = put_entry_call(stub, n, site->index);
    n = put_rel32(stub, n, 0xe9, site->start + site->length);
    stub[skip] = (unsigned char)(n - skip - 1);
    stub[n++] = 0x59;
    return put_bytes(stub, n, restore_red_zone, sizeof restore_red_zone);
}

static enum previrt_action xen_patch(void *ctx, const struct previrt_patch_site *site)
{
    static const unsigned char xen_cpuid[] = {0x0f, 0x0b, 0x78, 0x65, 0x6e, 0x0f, 0xa2}; /* ud2; .ascii "xen"; cpuid */
    static const unsigned char store_byte[] = {0xc6, 0x05};                                /* movb $imm8, disp32(%rip) */
    struct previrt_xen *xen = ctx;
    unsigned char *stub = xen->stubs + xen->stub_used;
    unsigned int n = 0, i, kind = site->decoded.kind;

    xen->sites[site->index].insn = site->insn;
    xen->sites[site->index].end = site->start + site->length;
    for (i = 0; i < site->decoded.length; i++)
        xen->sites[site->index].bytes[i] = site->insn[i];
    xen->sites[site->index].decoded = site->decoded;
    if (kind == PREVIRT_KIND_CLI) {
        n = put_rip_relative(stub, n, store_byte, sizeof store_byte, xen->shared_info + VCPU_UPCALL_MASK, 1);
        stub[n++] = 1;
    } else if (kind == PREVIRT_KIND_CPUID) {
        n = put_bytes(stub, n, xen_cpuid, sizeof xen_cpuid);
    } else if (kind == PREVIRT_KIND_STI && site->start + site->length < xen->text_end && site->start[site->length] == 0xf4) {
        /* sti; hlt: the hlt's SCHEDOP_block unmasks and waits atomically, as the interrupt shadow makes
         * sti; hlt atomic; unmasking here could take the wakeup before the block. */
    } else if (kind == PREVIRT_KIND_STI) {
        n = put_sti(xen, stub, n, site);
    } else {
        if (kind == PREVIRT_KIND_PUSHF)
            stub[n++] = 0x9c;
        if (kind == PREVIRT_KIND_PUSH_SEG) /* push %fs or %gs natively: the handler puts the virtual selector there */
            n = put_bytes(stub, n, site->insn, site->decoded.length);
        n = put_entry_call(stub, n, site->index);
        if (kind == PREVIRT_KIND_POPF)
            stub[n++] = 0x9d;
        if (kind == PREVIRT_KIND_POP_SEG) /* lea 8(%rsp),%rsp: the handler loaded the popped selector */
            n = put_bytes(stub, n, pop_slot, sizeof pop_slot);
    }
    if (kind == PREVIRT_KIND_IRET || kind == PREVIRT_KIND_LRET) {
        /* The instruction natively, on the frame the handler rewrote: it does not come back. For an
         * iretq to ring 3 the handler returns past it instead (STUB_AFTER_CALL + its length on), to
         * lea 136(%rsp),%rsp; push $0; jmp HYPERVISOR_iret (Xen's iret context, flags 0). */
        n = put_bytes(stub, n, site->insn, site->decoded.length);
        if (kind == PREVIRT_KIND_IRET) {
            n = put_bytes(stub, n, back_over_red_zone, sizeof back_over_red_zone);
            stub[n++] = 0x6a; /* push $0 */
            stub[n++] = 0;
            n = put_rel32(stub, n, 0xe9, xen->hypercall_page + HYPERCALL_IRET * 32);
        } else { /* lretq to ring 3: the iret context the handler built, then HYPERVISOR_iret (STUB_TO_SLOTS) */
            n = put_bytes(stub, n, through_slots, sizeof through_slots);
            for (i = 0; i < 16; i++)
                stub[n++] = 0;
        }
    } else if (kind == PREVIRT_KIND_INT) {
        /* mov rsp_slot(%rip),%rsp; jmp *target_slot(%rip); the two slots the handler fills
         * (STUB_TO_SLOTS): the interrupt frame it built and the gate's handler */
        n = put_bytes(stub, n, through_slots, sizeof through_slots);
        for (i = 0; i < 16; i++)
            stub[n++] = 0;
    } else if (kind == PREVIRT_KIND_LJMP) {
        /* jmp *target(%rip), the handler's target in the 8 bytes after it (STUB_TO_JUMP_SLOT) */
        n = put_bytes(stub, n, jump_through_slot, sizeof jump_through_slot);
        for (i = 0; i < 8; i++)
            stub[n++] = 0;
    } else {
        n = put_rel32(stub, n, 0xe9, site->start + site->length);
    }
    xen->stub_used += n;
    xen->patched[kind]++;

    /* The site: jmp rel32 to the stub, then NOPs. */
    put_rel32(site->start, 0, 0xe9, stub);
    previrt_fill_nops(site->start + 5, site->length - 5, 64);
    return PREVIRT_PATCHED;
}

void previrt_xen_backend(struct previrt_backend *backend, struct previrt_xen *xen)
{
    previrt_xen_active = xen;
    backend->name = "xen";
    backend->check = xen_check;
    backend->patch = xen_patch;
    backend->ctx = xen;
#ifdef PREVIRT_BACKEND_LENGTHS /* the core's per-mode minimum: every site gets a jmp rel32 */
    backend->lengths = PREVIRT_BACKEND_LENGTHS;
    backend->min_site_length[0] = backend->min_site_length[1] = backend->min_site_length[2] = 5;
#endif
}

#endif /* __x86_64__ */
