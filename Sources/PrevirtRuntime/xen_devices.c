/* xen_devices.c: the xen backend's devices, as port I/O sites see them: COM1 (its output goes
 * to Xen's console), the 8259A and the 8254's channel 0 (Xen's one-shot timer). Other ports run
 * natively, which Xen emulates for a domain with I/O privilege.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 the previrt authors. Permission is hereby granted, free of charge, to any
 * person obtaining a copy of this file, to deal in it without restriction, subject to this notice
 * being kept. THE FILE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND.
 */
#include "xen_pv.h"

#if defined(__x86_64__)

/* The virtual 8254's channel 0 starts Xen's one-shot timer; in a periodic mode (2 and 3, and their
 * aliases 6 and 7) each tick re-arms it; modes 0, 1, 4 and 5 end after one edge. (Not Xen's periodic
 * timer: Xen stops it while the vCPU is blocked, so it could not end a hlt.) */
static void pit_start(struct previrt_xen *xen, unsigned int count)
{
    unsigned long ns = (count ? count : 65536ul) * 1000000000ul / PIT_HZ;
    xen->pit_period = (xen->pit_mode & 2) ? ns : 0;
    xen_one_shot(xen, ns);
}

static void pit_stop(struct previrt_xen *xen)
{
    xen->pit_period = 0;
    previrt_xen_hypercall(xen, HYPERCALL_VCPU_OP, VCPUOP_STOP_SINGLESHOT_TIMER, 0, 0, 0);
}

/* Writes to the virtual 8259A and 8254; returns 0 for other ports. */
static int device_out(struct previrt_xen *xen, unsigned int port, unsigned char v)
{
    switch (port) {
    case PIC_MASTER:
        if (v & 0x10) { /* ICW1: ICW2, ICW3 and maybe ICW4 follow */
            xen->pic_init_step = 1;
            xen->pic_icw4 = v & 1;
        } else if ((v & 0x18) == 0x08) { /* OCW3: which register reads return */
            xen->pic_read_isr = v & 1;
        } /* OCW2 (EOI): nothing in service is modelled */
        return 1;
    case PIC_MASTER + 1:
        if (xen->pic_init_step == 1) {
            xen->pic_base = v & 0xf8;
            xen->pic_init_step = 2;
        } else if (xen->pic_init_step == 2) {
            xen->pic_init_step = xen->pic_icw4 ? 3 : 0;
        } else if (xen->pic_init_step == 3) {
            xen->pic_init_step = 0;
        } else {
            if ((v & 1) && !(xen->pic_imr & 1) && xen->pit_period) /* IRQ 0 masked: no more ticks */
                pit_stop(xen);
            xen->pic_imr = v;
            if ((xen->pic_irr & 1) && !(v & 1)) /* a request waiting for IRQ 0 to be unmasked */
                xen_raise_pending(xen);
        }
        return 1;
    case PIC_SLAVE:
    case PIC_SLAVE + 1:
        return 1;
    case PIT_CONTROL:
        if ((v >> 6) == 0 && (v & 0x30)) { /* channel 0, not a latch; only low-then-high access is modelled */
            /* A control word stops the channel until its next count (the 8254's datasheet; Linux's
             * clockevent_i8253_disable relies on it): no edge from the old count follows. */
            pit_stop(xen);
            xen->pit_mode = (v >> 1) & 7;
            xen->pit_low_next = ((v >> 4) & 3) == 3;
        }
        return 1;
    case PIT_CHANNEL0:
        if (xen->pit_low_next == 1) {
            xen->pit_low = v;
            xen->pit_low_next = 2;
        } else if (xen->pit_low_next == 2) {
            xen->pit_low_next = 0;
            pit_start(xen, xen->pit_low | (unsigned int)v << 8);
        }
        return 1;
    case PIT_CHANNEL0 + 1:
    case PIT_CHANNEL0 + 2:
        return 1;
    }
    return 0;
}

/* Reads of the virtual devices: 1 and *v set for theirs, 0 for other ports. */
static int device_in(struct previrt_xen *xen, unsigned int port, unsigned long *v)
{
    if (port >= COM1 && port < COM1 + 8)
        *v = port == COM1 + 5 ? 0x60 : 0; /* line status: transmitter empty */
    else if (port == PIC_MASTER) /* IRR: IRQ 0 requested, or its event pending (ISR: nothing in service) */
        *v = xen->pic_read_isr ? 0 : (unsigned long)((xen->pic_irr & 1) | xen_timer_event_pending(xen));
    else if (port == PIC_MASTER + 1)
        *v = xen->pic_imr;
    else if (port == PIC_SLAVE || port == PIC_SLAVE + 1)
        *v = port == PIC_SLAVE ? 0 : 0xff;
    else if (port >= PIT_CHANNEL0 && port <= PIT_CONTROL)
        *v = 0;
    else
        return 0;
    return 1;
}

static unsigned long port_in(struct previrt_xen *xen, unsigned int port, unsigned int size)
{
    unsigned long v = 0;
    if (device_in(xen, port, &v))
        return v;
    if (size == 1)
        asm volatile(".byte 0xec" : "=a"(v) : "d"(port), "0"(0ul)); /* inb %dx,%al */
    else if (size == 2)
        asm volatile(".byte 0x66, 0xed" : "=a"(v) : "d"(port), "0"(0ul)); /* inw %dx,%ax */
    else
        asm volatile(".byte 0xed" : "=a"(v) : "d"(port), "0"(0ul)); /* inl %dx,%eax */
    return v;
}

static void port_out(struct previrt_xen *xen, unsigned int port, unsigned int size, unsigned long v)
{
    if (port == COM1) {
        xen->console[xen->console_used++] = (char)v;
        if ((char)v == '\n' || xen->console_used == sizeof xen->console)
            xen_console_flush(xen);
        return;
    }
    if ((port > COM1 && port < COM1 + 8) || (size == 1 && device_out(xen, port, (unsigned char)v)))
        return;
    if (size == 1)
        asm volatile(".byte 0xee" : : "a"(v), "d"(port)); /* outb %al,%dx */
    else if (size == 2)
        asm volatile(".byte 0x66, 0xef" : : "a"(v), "d"(port)); /* outw %ax,%dx */
    else
        asm volatile(".byte 0xef" : : "a"(v), "d"(port)); /* outl %eax,%dx */
}

void xen_port_io(struct previrt_xen *xen, struct xen_frame *f, const struct previrt_xen_site *s)
{
    const struct previrt_insn *d = &s->decoded;
    unsigned int size = (d->opcode & 1) == 0 ? 1 : d->opsize_prefix ? 2 : 4;
    unsigned int port = (d->opcode & 8) ? (unsigned int)(f->rdx & 0xffff) : s->bytes[d->imm_offset];
    unsigned long v;
    if (d->kind == PREVIRT_KIND_OUT) {
        port_out(xen, port, size, f->rax);
        return;
    }
    v = port_in(xen, port, size);
    if (size == 4)
        f->rax = v & 0xffffffffu;
    else if (size == 2)
        f->rax = (f->rax & ~0xfffful) | (v & 0xffff);
    else
        f->rax = (f->rax & ~0xfful) | (v & 0xff);
}

#endif /* __x86_64__ */
