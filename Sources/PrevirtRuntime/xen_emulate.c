/* xen_emulate.c: the xen backend's handlers. previrt_xen_entry saves the registers and the
 * flags as a frame below the guest's red zone and calls previrt_xen_emulate, which does what the site's
 * instruction would do, on the frame and through hypercalls.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 the previrt authors. Permission is hereby granted, free of charge, to any
 * person obtaining a copy of this file, to deal in it without restriction, subject to this notice
 * being kept. THE FILE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND.
 */
#include "xen_pv.h"

#if defined(__x86_64__)

/* pushfq and popfq as bytes: written as instructions, the macro sets would annotate them. */
asm(".text\n"
    ".p2align 4\n"
    ".globl previrt_xen_entry\n"
    "previrt_xen_entry:\n"
    "  .byte 0x9c\n" /* pushfq */
    "  pushq %rax\n  pushq %rcx\n  pushq %rdx\n  pushq %rbx\n  pushq %rbp\n  pushq %rsi\n  pushq %rdi\n"
    "  pushq %r8\n  pushq %r9\n  pushq %r10\n  pushq %r11\n  pushq %r12\n  pushq %r13\n  pushq %r14\n  pushq %r15\n"
    "  movq %rsp, %rdi\n"
    "  movq %rsp, %rbx\n"
    "  andq $-16, %rsp\n"
    "  call previrt_xen_emulate\n"
    "  movq %rbx, %rsp\n"
    "  popq %r15\n  popq %r14\n  popq %r13\n  popq %r12\n  popq %r11\n  popq %r10\n  popq %r9\n  popq %r8\n"
    "  popq %rdi\n  popq %rsi\n  popq %rbp\n  popq %rbx\n  popq %rdx\n  popq %rcx\n  popq %rax\n"
    "  .byte 0x9d\n" /* popfq */
    "  ret\n");


/* The guest's %rsp at the site (after a pushf the stub ran natively). */
static unsigned long *guest_stack(struct xen_frame *f) { return (unsigned long *)((unsigned char *)(&f->index + 1) + RED_ZONE); }

/* General register n (ModRM numbering, REX extended). */
static unsigned long *reg(struct xen_frame *f, unsigned int n)
{
    static const unsigned char low[8] = {14, 13, 12, 11, 0, 10, 9, 8};
    static unsigned long rsp;
    if (n == 4) {
        rsp = (unsigned long)guest_stack(f);
        return &rsp;
    }
    return &((unsigned long *)f)[n < 8 ? low[n] : 15 - n];
}

static long read32(const unsigned char *p) { return (int)((unsigned)p[0] | (unsigned)p[1] << 8 | (unsigned)p[2] << 16 | (unsigned)p[3] << 24); }

/* The effective address of a memory operand. */
static unsigned long effective_address(struct xen_frame *f, const struct previrt_xen_site *s)
{
    const struct previrt_insn *d = &s->decoded;
    unsigned int mod = d->modrm >> 6, rm = d->modrm & 7, rex_b = d->rex & 1, rex_x = (d->rex >> 1) & 1;
    unsigned long ea = 0;
    int disp32 = mod == 2;
    if (rm == 4) {
        unsigned int base = d->sib & 7, index = ((d->sib >> 3) & 7) | rex_x << 3;
        if (base == 5 && mod == 0)
            disp32 = 1;
        else
            ea = *reg(f, base | rex_b << 3);
        if (index != 4)
            ea += *reg(f, index) << (d->sib >> 6);
    } else if (rm == 5 && mod == 0) {
        ea = (unsigned long)(s->insn + d->length);
        disp32 = 1;
    } else {
        ea = *reg(f, rm | rex_b << 3);
    }
    if (mod == 1)
        ea += (unsigned long)(long)(signed char)s->bytes[d->disp_offset];
    else if (disp32)
        ea += (unsigned long)read32(s->bytes + d->disp_offset);
    return d->addrsize_prefix ? ea & 0xffffffffu : ea;
}



/* CR0.TS is the virtual FPU switch (fpu_taskswitch); Xen keeps it per vCPU. */
static void set_task_switched(struct previrt_xen *xen, unsigned long ts)
{
    if ((xen->cr0 & CR0_TS) != ts)
        previrt_xen_hypercall(xen, HYPERCALL_FPU_TASKSWITCH, ts != 0, 0, 0, 0);
    xen->cr0 = (xen->cr0 & ~CR0_TS) | ts;
}

/* smsw: the low bits of the CR0 the guest sees (natively Xen's, with Xen's TS). */
static void store_machine_status(struct previrt_xen *xen, struct xen_frame *f, const struct previrt_xen_site *s)
{
    const struct previrt_insn *d = &s->decoded;
    if ((d->modrm >> 6) != 3) {
        *(unsigned short *)effective_address(f, s) = (unsigned short)xen->cr0;
    } else {
        unsigned long *r = reg(f, (d->modrm & 7) | (d->rex & 1) << 3);
        *r = d->opsize_prefix ? (*r & ~0xfffful) | (xen->cr0 & 0xffff) : d->rex & 8 ? xen->cr0 : xen->cr0 & 0xffffffffu;
    }
}

/* mov to and from cr0 and cr3 (the only ones xen_check accepts). */
static void control_register(struct previrt_xen *xen, struct xen_frame *f, const struct previrt_xen_site *s)
{
    const struct previrt_insn *d = &s->decoded;
    const struct xen_start_info *si = xen->start_info;
    unsigned long *r = reg(f, (d->modrm & 7) | (d->rex & 1) << 3);
    int cr3 = ((d->modrm >> 3) & 7) == 3;
    if (d->kind == PREVIRT_KIND_MOV_FROM_CR)
        *r = cr3 ? xen->cr3 : xen->cr0;
    else if (!cr3)
        set_task_switched(xen, *r & CR0_TS); /* other CR0 bits: Xen's, unchanged */
    else if (xen_new_baseptr(xen, si->mfn_list[*r >> 12], 1) >= 0)
        xen->cr3 = *r & ~0xffful;
}

/* wrmsr: segment bases through set_segment_base, the SYSENTER MSRs kept; others natively, which Xen
 * emulates (or refuses with a fault). */
static void write_msr(struct previrt_xen *xen, struct xen_frame *f)
{
    unsigned int msr = (unsigned int)f->rcx;
    unsigned long value = (f->rdx << 32) | (f->rax & 0xffffffffu);
    if (msr == MSR_FS_BASE || msr == MSR_GS_BASE || msr == MSR_KERNEL_GS_BASE)
        previrt_xen_hypercall(xen, HYPERCALL_SET_SEGMENT_BASE,
                              msr == MSR_FS_BASE ? SEGBASE_FS : msr == MSR_GS_BASE ? SEGBASE_GS_KERNEL : SEGBASE_GS_USER, value, 0, 0);
    else if (msr >= MSR_SYSENTER_CS && msr < MSR_SYSENTER_CS + 3)
        xen->sysenter[msr - MSR_SYSENTER_CS] = value;
    else
        asm volatile(".byte 0x0f, 0x30" : : "c"(msr), "a"(f->rax), "d"(f->rdx)); /* wrmsr */
}

static void read_msr(struct previrt_xen *xen, struct xen_frame *f)
{
    unsigned int msr = (unsigned int)f->rcx, lo, hi;
    if (msr >= MSR_SYSENTER_CS && msr < MSR_SYSENTER_CS + 3) {
        lo = (unsigned int)xen->sysenter[msr - MSR_SYSENTER_CS];
        hi = (unsigned int)(xen->sysenter[msr - MSR_SYSENTER_CS] >> 32);
    } else {
        asm volatile(".byte 0x0f, 0x32" : "=a"(lo), "=d"(hi) : "c"(msr)); /* rdmsr */
    }
    f->rax = lo;
    f->rdx = hi;
}

static void store_table(unsigned char *pointer, unsigned int limit, unsigned long base)
{
    unsigned int i;
    pointer[0] = (unsigned char)limit;
    pointer[1] = (unsigned char)(limit >> 8);
    for (i = 0; i < 8; i++)
        pointer[2 + i] = (unsigned char)(base >> (8 * i));
}

/* The selector a store (mov from a segment register, sldt, str) writes: to memory 16 bits; to a
 * register 16 bits with an operand-size prefix, else zero-extended. */
static void store_selector(struct xen_frame *f, const struct previrt_xen_site *s, unsigned long selector)
{
    const struct previrt_insn *d = &s->decoded;
    if ((d->modrm >> 6) != 3) {
        *(unsigned short *)effective_address(f, s) = (unsigned short)selector;
    } else {
        unsigned long *r = reg(f, (d->modrm & 7) | (d->rex & 1) << 3);
        *r = d->opsize_prefix ? (*r & ~0xfffful) | selector : selector;
    }
}

/* The selector a load (mov to a segment register, lldt, ltr) reads: 16 bits of a register or memory. */
static unsigned int load_selector(struct xen_frame *f, const struct previrt_xen_site *s)
{
    const struct previrt_insn *d = &s->decoded;
    if ((d->modrm >> 6) == 3)
        return (unsigned int)(*reg(f, (d->modrm & 7) | (d->rex & 1) << 3) & 0xffff);
    return *(const unsigned short *)effective_address(f, s);
}

/* push %fs, %gs (the stub pushed natively) and pop %fs, %gs (the stub steps over the slot after). */
static void push_pop_segment(struct previrt_xen *xen, const struct previrt_xen_site *s, unsigned long *top)
{
    unsigned int seg = s->decoded.opcode2 >= 0xa8 ? SEG_GS : SEG_FS;
    if (s->decoded.kind == PREVIRT_KIND_PUSH_SEG)
        *top = xen->selectors[seg];
    else
        xen_load_segment(xen, seg, (unsigned int)*top);
}

/* mov to and from dr0-dr3, dr6, dr7: set_debugreg and get_debugreg (Xen checks the addresses and
 * keeps the registers per vCPU). */
static void debug_register(struct previrt_xen *xen, struct xen_frame *f, const struct previrt_xen_site *s)
{
    const struct previrt_insn *d = &s->decoded;
    unsigned long *r = reg(f, (d->modrm & 7) | (d->rex & 1) << 3);
    unsigned int n = (d->modrm >> 3) & 7;
    if (d->kind == PREVIRT_KIND_MOV_TO_DR)
        previrt_xen_hypercall(xen, HYPERCALL_SET_DEBUGREG, n, *r, 0, 0);
    else
        *r = (unsigned long)previrt_xen_hypercall(xen, HYPERCALL_GET_DEBUGREG, n, 0, 0, 0);
}

/* lfs, lgs, lss: a far pointer (m16:32, or m16:64 with REX.W) loads the segment register and the
 * register (a 32-bit offset zero-extended, as for any 32-bit destination). */
static void far_pointer_load(struct previrt_xen *xen, struct xen_frame *f, const struct previrt_xen_site *s)
{
    const struct previrt_insn *d = &s->decoded;
    const unsigned char *p = (const unsigned char *)effective_address(f, s);
    unsigned int wide = (d->rex & 8) != 0, seg = d->opcode2 == 0xb2 ? SEG_SS : d->opcode2 == 0xb4 ? SEG_FS : SEG_GS;
    unsigned long offset = wide ? *(const unsigned long *)p : *(const unsigned int *)p;
    xen_load_segment(xen, seg, *(const unsigned short *)(p + (wide ? 8 : 4)));
    *reg(f, ((d->modrm >> 3) & 7) | (d->rex & 4) << 1) = offset;
}

/* ljmp *m16:32 or *m16:64: a kernel code selector becomes the virtual cs (natively cs stays Xen's flat
 * one, a user selector would need a ring change: it is kept too, and the jump stays in the kernel);
 * the stub jumps through the target the handler leaves after its `jmp *0(%rip)`. */
static void far_jump(struct previrt_xen *xen, struct xen_frame *f, const struct previrt_xen_site *s)
{
    const unsigned char *p = (const unsigned char *)effective_address(f, s);
    unsigned int wide = (s->decoded.rex & 8) != 0;
    unsigned long target = wide ? *(const unsigned long *)p : *(const unsigned int *)p;
    xen->selectors[SEG_CS] = *(const unsigned short *)(p + (wide ? 8 : 4));
    *(unsigned long *)(f->return_address + STUB_AFTER_CALL + STUB_TO_JUMP_SLOT) = target;
}

/* int $n from the kernel, as the CPU does it without a ring change: the frame (rip at the site's end,
 * the virtual cs, the flags with the virtual IF, rsp, the virtual ss) below the 16-byte aligned stack,
 * the virtual IF cleared for an interrupt gate, cs the gate's; the stub then switches to the frame and
 * jumps to the handler through the slots after its `mov 0(%rip),%rsp; jmp *0(%rip)`. (Not through
 * Xen: QEMU's TCG reports the vector of a refused software interrupt wrongly, and Xen reads it from
 * there.) A gate that is not present does nothing. */
static void software_interrupt(struct previrt_xen *xen, struct xen_frame *f, const struct previrt_xen_site *s, unsigned long *top)
{
    unsigned int vector = s->bytes[s->decoded.imm_offset];
    unsigned long *slots = (unsigned long *)(f->return_address + STUB_AFTER_CALL + STUB_TO_SLOTS);
    unsigned long *frame = (unsigned long *)(((unsigned long)top & ~15ul) - 40);
    unsigned short selector;
    unsigned long handler = xen_gate(xen, vector, &selector);
    if (!handler) {
        slots[0] = (unsigned long)top;
        slots[1] = (unsigned long)s->end;
        return;
    }
    frame[0] = (unsigned long)s->end;
    frame[1] = xen->selectors[SEG_CS];
    frame[2] = (f->rflags & ~IF) | (*xen_vcpu(xen, VCPU_UPCALL_MASK) ? 0 : IF);
    frame[3] = (unsigned long)top;
    frame[4] = xen->selectors[SEG_SS];
    if ((((const unsigned char *)xen->idt_base)[vector * 16 + 5] & 0xf) == 0xe)
        *xen_vcpu(xen, VCPU_UPCALL_MASK) = 1;
    xen->selectors[SEG_CS] = selector;
    slots[0] = (unsigned long)frame;
    slots[1] = handler;
}

/* lretq (the stub runs it natively next): a kernel code selector becomes Xen's flat one and the
 * virtual cs. To ring 3 (a user selector) it is a ring change: rsp and ss come off the stack too (after
 * the imm16 bytes `lret $n` releases), and the stub goes on past the lretq to HYPERVISOR_iret with an
 * iret context the handler writes below the stack (the flags as they are, with the virtual IF). */
static void far_return(struct previrt_xen *xen, struct xen_frame *f, const struct previrt_xen_site *s, unsigned long *frame)
{
    unsigned long *slots, *context, *outer;
    if ((frame[1] & 3) != 3) {
        xen->selectors[SEG_CS] = (unsigned short)frame[1];
        frame[1] = FLAT_KERNEL_CS;
        return;
    }
    outer = frame + 2 + (s->decoded.opcode == 0xca ? (s->bytes[s->decoded.imm_offset] | s->bytes[s->decoded.imm_offset + 1] << 8) / 8 : 0);
    context = frame - 6;
    context[0] = 0;
    context[1] = frame[0];
    context[2] = frame[1];
    context[3] = (f->rflags & ~IF) | (*xen_vcpu(xen, VCPU_UPCALL_MASK) ? 0 : IF);
    context[4] = outer[0];
    context[5] = outer[1];
    xen->selectors[SEG_CS] = (unsigned short)frame[1];
    xen->selectors[SEG_SS] = (unsigned short)outer[1];
    xen_kernel_stack(xen);
    xen->user_returns++;
    f->return_address += STUB_AFTER_CALL + s->decoded.length; /* past `lea 136(%rsp),%rsp; lretq` */
    slots = (unsigned long *)(f->return_address + STUB_TO_SLOTS);
    slots[0] = (unsigned long)context;
    slots[1] = (unsigned long)(xen->hypercall_page + HYPERCALL_IRET * 32);
}

/* iretq. To kernel code (a selector with RPL 0-2) the stub runs it natively next, in ring 3: the
 * frame's selectors become Xen's flat ones, kept as the virtual cs and ss, and the popped IF the virtual
 * IF. To ring 3 it is a ring change Xen must make (page tables, GS bases, the kernel mode flag): the
 * stub goes on to HYPERVISOR_iret instead, after the TSS's rsp0 became Xen's kernel stack; Xen sets
 * the virtual IF from the popped flags. */
static void interrupt_return(struct previrt_xen *xen, struct xen_frame *f, const struct previrt_xen_site *s, unsigned long *frame)
{
    xen->selectors[SEG_CS] = (unsigned short)frame[1];
    xen->selectors[SEG_SS] = (unsigned short)frame[4];
    if ((frame[1] & 3) == 3) {
        xen_kernel_stack(xen);
        xen->user_returns++;
        f->return_address += STUB_AFTER_CALL + s->decoded.length; /* past `lea 136(%rsp),%rsp; iretq` */
        return;
    }
    frame[1] = FLAT_KERNEL_CS;
    frame[4] = FLAT_KERNEL_SS;
    xen_set_virtual_if(xen, (frame[2] & IF) != 0);
}

void previrt_xen_emulate(struct xen_frame *f)
{
    struct previrt_xen *xen = previrt_xen_active;
    const struct previrt_xen_site *s = &xen->sites[f->index];
    unsigned long *top = guest_stack(f);
    switch (s->decoded.kind) {
    case PREVIRT_KIND_HLT: previrt_xen_hypercall(xen, HYPERCALL_SCHED_OP, SCHEDOP_BLOCK, 0, 0, 0); break;
    case PREVIRT_KIND_LIDT: xen_load_idt(xen, (const unsigned char *)effective_address(f, s)); break;
    case PREVIRT_KIND_SIDT: store_table((unsigned char *)effective_address(f, s), xen->idt_limit, xen->idt_base); break;
    case PREVIRT_KIND_LGDT: xen_load_gdt(xen, (const unsigned char *)effective_address(f, s)); break;
    case PREVIRT_KIND_SGDT: store_table((unsigned char *)effective_address(f, s), xen->gdt_limit, xen->gdt_base); break;
    case PREVIRT_KIND_LLDT: xen_load_ldt(xen, load_selector(f, s)); break;
    case PREVIRT_KIND_SLDT: store_selector(f, s, xen->ldtr); break;
    case PREVIRT_KIND_LTR: xen_load_tr(xen, load_selector(f, s)); break;
    case PREVIRT_KIND_STR: store_selector(f, s, xen->tr); break;
    case PREVIRT_KIND_MOV_TO_SEG: xen_load_segment(xen, (s->decoded.modrm >> 3) & 7, load_selector(f, s)); break;
    case PREVIRT_KIND_MOV_FROM_SEG: store_selector(f, s, xen->selectors[(s->decoded.modrm >> 3) & 7]); break;
    case PREVIRT_KIND_PUSH_SEG:
    case PREVIRT_KIND_POP_SEG: push_pop_segment(xen, s, top); break;
    case PREVIRT_KIND_CLTS: set_task_switched(xen, 0); break;
    case PREVIRT_KIND_SMSW: store_machine_status(xen, f, s); break;
    case PREVIRT_KIND_WRMSR: write_msr(xen, f); break;
    case PREVIRT_KIND_RDMSR: read_msr(xen, f); break;
    case PREVIRT_KIND_IRET: interrupt_return(xen, f, s, top); break;
    case PREVIRT_KIND_LRET: far_return(xen, f, s, top); break;
    case PREVIRT_KIND_LJMP: far_jump(xen, f, s); break;
    case PREVIRT_KIND_INT: software_interrupt(xen, f, s, top); break;
    case PREVIRT_KIND_LFS:
    case PREVIRT_KIND_LGS:
    case PREVIRT_KIND_LSS: far_pointer_load(xen, f, s); break;
    case PREVIRT_KIND_LMSW: set_task_switched(xen, load_selector(f, s) & CR0_TS); break; /* PE cannot be cleared; MP, EM: Xen's */
    case PREVIRT_KIND_INVD: xen_mmuext(xen, MMUEXT_FLUSH_CACHE, 0); break;              /* written back too, as Xen does */
    case PREVIRT_KIND_STI: xen_set_virtual_if(xen, 1); break;
    case PREVIRT_KIND_PUSHF: *top = (*top & ~IF) | (*xen_vcpu(xen, VCPU_UPCALL_MASK) ? 0 : IF); break;
    case PREVIRT_KIND_POPF: xen_set_virtual_if(xen, (*top & IF) != 0); break;
    case PREVIRT_KIND_MOV_TO_CR:
    case PREVIRT_KIND_MOV_FROM_CR: control_register(xen, f, s); break;
    case PREVIRT_KIND_MOV_TO_DR:
    case PREVIRT_KIND_MOV_FROM_DR: debug_register(xen, f, s); break;
    case PREVIRT_KIND_INVLPG: xen_mmuext(xen, MMUEXT_INVLPG_LOCAL, effective_address(f, s)); break;
    case PREVIRT_KIND_WBINVD: xen_mmuext(xen, MMUEXT_FLUSH_CACHE, 0); break;
    case PREVIRT_KIND_IN:
    case PREVIRT_KIND_OUT: xen_port_io(xen, f, s); break;
    }
}

#endif /* __x86_64__ */
