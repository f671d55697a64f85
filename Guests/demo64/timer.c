/* timer.c: a timer interrupt the PC way. The 8259A puts IRQs 0-7 at vectors 0x20-0x27; the 8254's
 * channel 0 raises IRQ 0, one-shot (mode 0) or periodic (mode 2); the IDT's gate 0x20 enters
 * timer_interrupt (boot.S). Under Xen the backend models these ports and delivers the timer's event
 * through the same IDT gate.
 *
 * The 8259A latches IRQ 0's rising edges in its IRR even while IRQ 0 is masked, and a latched request
 * stays until it is delivered. A check that counts the interrupts of its own one-shot therefore
 * starts with timer_drain: no request left from an earlier timer, no edge coming from one.
 * SPDX-License-Identifier: MIT
 */
#include "guest.h"

struct gate {
    unsigned short offset_low, selector;
    unsigned char ist, type;
    unsigned short offset_middle;
    unsigned int offset_high, reserved;
};

static struct gate idt[0x82] __attribute__((aligned(16)));
volatile unsigned int timer_ticks;

/* An interrupt gate into the kernel's code segment (0x08), callable from ring `dpl`. */
static void interrupt_gate(unsigned int vector, void (*entry)(void), unsigned int dpl)
{
    unsigned long handler = (unsigned long)entry;
    idt[vector].offset_low = (unsigned short)handler;
    idt[vector].selector = 0x08;
    idt[vector].type = (unsigned char)(0x8e | dpl << 5); /* present, interrupt gate */
    idt[vector].offset_middle = (unsigned short)(handler >> 16);
    idt[vector].offset_high = (unsigned int)(handler >> 32);
}

/* The IDT: the timer's IRQ 0 at 0x20, 0x80 for ring 3 (boot.S's user_trap), 0x81 for the kernel. */
void timer_setup(void)
{
    struct {
        unsigned short limit;
        unsigned long base;
    } __attribute__((packed)) pointer = {sizeof idt - 1, (unsigned long)idt};

    interrupt_gate(0x20, timer_interrupt, 0);
    interrupt_gate(0x80, user_trap, 3);
    interrupt_gate(0x81, soft_interrupt, 0);
    asm volatile("lidt %0" : : "m"(pointer));

    outb(0x20, 0x11); /* ICW1: edge, cascade, ICW4 follows */
    outb(0x21, 0x20); /* ICW2: vectors 0x20-0x27 */
    outb(0x21, 0x04); /* ICW3: the slave on IRQ 2 */
    outb(0x21, 0x01); /* ICW4: 8086 mode */
    outb(0xa0, 0x11);
    outb(0xa1, 0x28);
    outb(0xa1, 0x02);
    outb(0xa1, 0x01);
    outb(0xa1, 0xff);
    outb(0x21, 0xff);
}

void timer_idt(unsigned long *base, unsigned short *limit)
{
    *base = (unsigned long)idt;
    *limit = sizeof idt - 1;
}

/* Starts channel 0 with `count` ticks of 1.193182 MHz and unmasks IRQ 0. */
void timer_start(int periodic, unsigned int count)
{
    outb(0x43, periodic ? 0x34 : 0x30); /* channel 0, low then high byte, mode 2 or 0 */
    outb(0x40, (unsigned char)count);
    outb(0x40, (unsigned char)(count >> 8));
    timer_mask(0);
}

/* Masks (1) or unmasks (0) IRQ 0 at the 8259A, every other IRQ masked. */
void timer_mask(int masked) { outb(0x21, masked ? 0xff : 0xfe); }

/* Masks IRQ 0 and stops channel 0 as Linux's clockevent_i8253_disable does: mode 0 and a zero count,
 * then mode 0 again. On an 8254 a control word stops the count with OUT low: no edge after it. QEMU's
 * PIT acts on a control word only at its next timer event, so a mask alone (or a lone control word)
 * leaves a periodic tick running there, latching IRQ 0 every period; the count write ends it and
 * re-arms a single edge 65536 ticks (54.9 ms) later, unless a new count comes first. Under Xen the
 * backend's 8254 starts a 54.9 ms one-shot timer for that count likewise. */
void timer_stop(void)
{
    timer_mask(1);
    outb(0x43, 0x30);
    outb(0x40, 0);
    outb(0x40, 0);
    outb(0x43, 0x30);
}

/* Leaves channel 0 stopped and IRQ 0 masked with no request latched: one left from an earlier timer
 * (a tick that came before it stopped, or QEMU's edge after) is delivered now through the IDT. Called
 * with interrupts disabled, right before the timer_start of a check that counts its own interrupts:
 * the stop comes first, so no edge can follow for 54.9 ms, which is far longer than the few
 * instructions from the IRR read here to that count write (only a host that stalls QEMU that long
 * right there could leave one). */
void timer_drain(void)
{
    unsigned int ticks = timer_ticks, spins = 0;
    timer_stop();
    if (!timer_pending())
        return;
    timer_mask(0);
    asm volatile("sti" : : : "memory");
    while (timer_ticks == ticks && spins++ < 1000000)
        ;
    asm volatile("cli" : : : "memory");
    timer_mask(1);
}

/* Whether IRQ 0 is requested (the 8259A's IRR), whatever the interrupt flag. */
int timer_pending(void)
{
    outb(0x20, 0x0a);
    return inb(0x20) & 1;
}
