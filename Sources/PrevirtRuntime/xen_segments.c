/* xen_segments.c: the xen backend's descriptor tables and segment registers. A 64-bit PV kernel runs
 * in ring 3 with Xen's flat selectors; Xen validates every descriptor it is given and takes no system
 * descriptor (LDT, TSS) in a GDT. So:
 *
 *   lgdt    the guest's GDT is copied, system descriptors left out, into pages of the guest's own
 *           (gdt_copy), which are mapped read-only and given to Xen (set_gdt); later loads update the
 *           copy through update_descriptor. The guest's own table stays as it was, writable.
 *   lldt    the LDT descriptor is read from the guest's GDT; the LDT it names is copied likewise
 *           (ldt_copy) and given to Xen with MMUEXT_SET_LDT.
 *   ltr     the TSS descriptor is read from the guest's GDT and marked busy there, as the CPU does;
 *           the TSS's rsp0 becomes Xen's kernel stack (stack_switch), and is read again before every
 *           return to ring 3, as the CPU reads it at every ring change.
 *   segment loads
 *           a kernel selector (RPL 0-2, or null) loads Xen's flat one natively (cs 0xe033, ss 0xe02b,
 *           ds, es, fs, gs null) and is kept as the virtual selector, which stores of segment
 *           registers show; fs and gs get their descriptor's base through set_segment_base. A user
 *           selector (RPL 3) is loaded natively, from Xen's copy of the GDT or LDT.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 the previrt authors. Permission is hereby granted, free of charge, to any
 * person obtaining a copy of this file, to deal in it without restriction, subject to this notice
 * being kept. THE FILE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND.
 */
#include "xen_pv.h"

#if defined(__x86_64__)

/* Xen's selectors as the guest kernel sees them: with RPL 0, as in ring 0. */
void xen_segments_init(struct previrt_xen *xen)
{
    unsigned long v[6];
    unsigned int i;
    asm volatile(".byte 0x8c, 0xc0" : "=a"(v[SEG_ES])); /* mov %es,%eax */
    asm volatile(".byte 0x8c, 0xc8" : "=a"(v[SEG_CS])); /* mov %cs,%eax */
    asm volatile(".byte 0x8c, 0xd0" : "=a"(v[SEG_SS])); /* mov %ss,%eax */
    asm volatile(".byte 0x8c, 0xd8" : "=a"(v[SEG_DS])); /* mov %ds,%eax */
    asm volatile(".byte 0x8c, 0xe0" : "=a"(v[SEG_FS])); /* mov %fs,%eax */
    asm volatile(".byte 0x8c, 0xe8" : "=a"(v[SEG_GS])); /* mov %gs,%eax */
    for (i = 0; i < 6; i++)
        xen->selectors[i] = (unsigned short)(v[i] >= XEN_SELECTORS ? v[i] & ~3ul : v[i]);
    xen->ldtr = xen->tr = 0;
    xen->ldt_base = xen->tss_base = xen->kernel_sp = 0;
    xen->ldt_limit = 0;
    xen->gdt_sealed = xen->ldt_sealed = 0;
    xen->user_returns = xen->traps = 0;
}

/* The 8 bytes at `selector` in the guest's GDT or LDT, or 0 if the table does not reach so far. */
static const unsigned char *descriptor(struct previrt_xen *xen, unsigned int selector, unsigned int size)
{
    unsigned long base = selector & 4 ? xen->ldt_base : xen->gdt_base;
    unsigned int limit = selector & 4 ? xen->ldt_limit : xen->gdt_limit;
    if ((selector & 4) && !xen->ldtr)
        return 0;
    if (!base || (selector & ~7u) + size - 1 > limit)
        return 0;
    return (const unsigned char *)base + (selector & ~7u);
}

static unsigned long descriptor_base(const unsigned char *d, int system)
{
    unsigned long base = d[2] | (unsigned long)d[3] << 8 | (unsigned long)d[4] << 16 | (unsigned long)d[7] << 24;
    return system ? base | (unsigned long)*(const unsigned int *)(d + 8) << 32 : base;
}

static unsigned int descriptor_limit(const unsigned char *d)
{
    unsigned int limit = d[0] | (unsigned int)d[1] << 8 | (unsigned int)(d[6] & 0xf) << 16;
    return d[6] & 0x80 ? limit << 12 | 0xfff : limit;
}

/* Whether Xen's copy of a descriptor already says what `d` says: Xen raises a code or data
 * descriptor's DPL to 3 (the kernel's ring) when it validates it, and the CPU sets its accessed bit. */
static int same_descriptor(unsigned long copy, unsigned long d)
{
    unsigned long ignored = (d >> 47 & 1) && (d >> 44 & 1) ? 3ul << 45 | 1ul << 40 : 0;
    return ((copy ^ d) & ~ignored) == 0;
}

/* Copies the table at `table` (limit as lgdt or the LDT descriptor gave it) into `copy`, leaving out
 * system descriptors (both halves), which Xen refuses; the first time it writes the pages and maps
 * them read-only, later it updates the descriptors that changed (update_descriptor). Fills in the
 * copy's machine frames; returns the number of descriptors the copy holds. */
static unsigned int copy_table(struct previrt_xen *xen, unsigned char *copy, unsigned int pages, unsigned char *sealed,
                               const unsigned char *table, unsigned long limit, unsigned long *frames)
{
    unsigned long *to = (unsigned long *)copy, d;
    unsigned long entries = (limit + 1) / 8, i;
    unsigned int p, upper_half = 0;
    if (entries > pages * 512ul)
        entries = pages * 512ul;
    for (p = 0; p < pages; p++)
        frames[p] = xen_machine_frame(xen, copy + p * 4096ul);
    for (i = 0; i < pages * 512ul; i++) {
        d = i < entries ? *(const unsigned long *)(table + i * 8) : 0;
        if (upper_half) {
            d = 0;
            upper_half = 0;
        } else if ((d >> 47 & 1) && !(d >> 44 & 1)) { /* present, and a system descriptor */
            d = 0;
            upper_half = 1;
        }
        if (!*sealed)
            to[i] = d;
        else if (!same_descriptor(to[i], d))
            previrt_xen_hypercall(xen, HYPERCALL_UPDATE_DESCRIPTOR, frames[i / 512] << 12 | (i % 512) * 8, d, 0, 0);
    }
    if (!*sealed)
        for (p = 0; p < pages; p++)
            previrt_xen_hypercall(xen, HYPERCALL_UPDATE_VA_MAPPING, (unsigned long)copy + p * 4096ul,
                                  frames[p] << 12 | PTE_PRESENT_ACCESSED, UVMF_INVLPG, 0);
    *sealed = 1;
    return (unsigned int)entries;
}

/* lgdt: the table as loaded is the virtual GDT (sgdt shows it; descriptors are read from it); Xen
 * gets the copy without system descriptors. */
void xen_load_gdt(struct previrt_xen *xen, const unsigned char *pointer)
{
    unsigned long frames[16];
    unsigned int entries, pages = xen->gdt_copy_pages < 16 ? xen->gdt_copy_pages : 16;
    xen->gdt_limit = pointer[0] | (unsigned int)pointer[1] << 8;
    xen->gdt_base = *(const unsigned long *)(pointer + 2);
    if (!xen->gdt_copy || !pages)
        return;
    entries = copy_table(xen, xen->gdt_copy, pages, &xen->gdt_sealed, (const unsigned char *)xen->gdt_base, xen->gdt_limit, frames);
    previrt_xen_hypercall(xen, HYPERCALL_SET_GDT, (unsigned long)frames, entries, 0, 0);
}

/* lldt: a null selector leaves no LDT; otherwise the LDT descriptor (16 bytes in the GDT) names it. */
void xen_load_ldt(struct previrt_xen *xen, unsigned int selector)
{
    unsigned long frames[16];
    const unsigned char *d = selector & ~3u ? descriptor(xen, selector & ~4u, 16) : 0;
    unsigned int entries = 0, pages = xen->ldt_copy_pages < 16 ? xen->ldt_copy_pages : 16;
    xen->ldtr = (unsigned short)selector;
    xen->ldt_base = 0;
    xen->ldt_limit = 0;
    if (d && (d[5] & 0x9f) == 0x82) { /* present, system, type 2: an LDT */
        xen->ldt_base = descriptor_base(d, 1);
        xen->ldt_limit = descriptor_limit(d);
    }
    if (xen->ldt_base && xen->ldt_copy && pages)
        entries = copy_table(xen, xen->ldt_copy, pages, &xen->ldt_sealed, (const unsigned char *)xen->ldt_base, xen->ldt_limit, frames);
    xen_mmuext2(xen, MMUEXT_SET_LDT, entries ? (unsigned long)xen->ldt_copy : 0, entries);
}

/* The kernel stack Xen switches to when ring 3 traps or is interrupted: the TSS's rsp0. */
void xen_kernel_stack(struct previrt_xen *xen)
{
    unsigned long rsp0;
    if (!xen->tss_base)
        return;
    rsp0 = *(const unsigned long *)(xen->tss_base + 4);
    if (rsp0 != xen->kernel_sp && previrt_xen_hypercall(xen, HYPERCALL_STACK_SWITCH, FLAT_KERNEL_SS, rsp0, 0, 0) >= 0)
        xen->kernel_sp = rsp0;
}

/* ltr: an available 64-bit TSS (type 9) becomes busy (type 11) in the guest's GDT, as on the CPU. */
void xen_load_tr(struct previrt_xen *xen, unsigned int selector)
{
    unsigned char *d = (unsigned char *)descriptor(xen, selector & ~4u, 16);
    xen->tr = (unsigned short)selector;
    if (!d || (d[5] & 0x9f) != 0x89)
        return;
    d[5] |= 2;
    xen->tss_base = descriptor_base(d, 1);
    xen_kernel_stack(xen);
}

/* A data segment register's load (not cs). */
void xen_load_segment(struct previrt_xen *xen, unsigned int seg, unsigned int selector)
{
    unsigned long native = selector, base = 0;
    const unsigned char *d;
    selector &= 0xffff;
    xen->selectors[seg] = (unsigned short)selector;
    if ((selector & 3) != 3) {
        native = seg == SEG_SS ? FLAT_KERNEL_SS : FLAT_KERNEL_DS;
        if (selector & ~3u && (d = descriptor(xen, selector, 8)) != 0)
            base = descriptor_base(d, 0);
    }
    switch (seg) {
    case SEG_ES: asm volatile(".byte 0x8e, 0xc0" : : "a"(native) : "memory"); break; /* mov %eax,%es */
    case SEG_SS: asm volatile(".byte 0x8e, 0xd0" : : "a"(native) : "memory"); break; /* mov %eax,%ss */
    case SEG_DS: asm volatile(".byte 0x8e, 0xd8" : : "a"(native) : "memory"); break; /* mov %eax,%ds */
    case SEG_FS: asm volatile(".byte 0x8e, 0xe0" : : "a"(native) : "memory"); break; /* mov %eax,%fs */
    case SEG_GS: asm volatile(".byte 0x8e, 0xe8" : : "a"(native) : "memory"); break; /* mov %eax,%gs */
    }
    if ((selector & 3) != 3 && (seg == SEG_FS || seg == SEG_GS))
        previrt_xen_hypercall(xen, HYPERCALL_SET_SEGMENT_BASE, seg == SEG_FS ? SEGBASE_FS : SEGBASE_GS_KERNEL, base, 0, 0);
}

/* Xen entered a handler of the guest's (a trap through the trap table or a virtual interrupt) on
 * `frame` (an iretq frame): the frame shows what the CPU would have pushed (the virtual cs and ss for
 * kernel code; ring 3's own selectors), and cs becomes the gate's, ss null after a ring change. */
void xen_enter_kernel(struct previrt_xen *xen, unsigned long *frame, unsigned short gate_selector)
{
    if ((frame[1] & 3) != 3) {
        frame[1] = xen->selectors[SEG_CS];
        frame[4] = xen->selectors[SEG_SS];
    } else { /* Xen keeps the saved upcall mask above the cs selector; the CPU pushes zeros there */
        frame[1] &= 0xffff;
        frame[4] &= 0xffff;
        xen->selectors[SEG_SS] = 0;
    }
    xen->selectors[SEG_CS] = gate_selector;
}

#endif /* __x86_64__ */
