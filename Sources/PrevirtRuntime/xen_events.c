/* xen_events.c: the xen backend's events and traps. VIRQ_TIMER on an event channel, the upcall Xen
 * enters (callback_op), timer events delivered as interrupts through the guest's IDT, the trap table
 * (lidt) with a trampoline per gate, the virtual IF (evtchn_upcall_mask), and Xen's system time.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 the previrt authors. Permission is hereby granted, free of charge, to any
 * person obtaining a copy of this file, to deal in it without restriction, subject to this notice
 * being kept. THE FILE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND.
 */
#include "xen_pv.h"

#if defined(__x86_64__)

/* Where HYPERVISOR_iret is entered: the hypercall page's entry for it (set by xen_events_init). */
unsigned long previrt_xen_iret;

static unsigned long *event_words(struct previrt_xen *xen, unsigned int offset) { return (unsigned long *)(xen->shared_info + offset); }

/* Binds VIRQ_TIMER to an event channel, enters upcalls at previrt_xen_upcall, and stops Xen's default
 * periodic timer: the guest's virtual PIT starts timers. */
int xen_events_init(struct previrt_xen *xen)
{
    struct {
        unsigned int virq, vcpu, port;
    } bind = {VIRQ_TIMER, 0, 0};
    struct {
        unsigned short type, flags;
        unsigned long address;
    } callback = {CALLBACKTYPE_EVENT, 0, (unsigned long)previrt_xen_upcall};
    previrt_xen_iret = (unsigned long)(xen->hypercall_page + HYPERCALL_IRET * 32);
    xen->pic_imr = 0xff;
    xen->pic_irr = 0;
    xen->pit_period = 0;
    xen->upcalls = xen->interrupts = 0;
    if (previrt_xen_hypercall(xen, HYPERCALL_EVENT_CHANNEL_OP, EVTCHNOP_BIND_VIRQ, (unsigned long)&bind, 0, 0) < 0)
        return -1;
    xen->timer_port = bind.port;
    __atomic_fetch_and(&event_words(xen, SHARED_EVTCHN_MASK)[bind.port / 64], ~(1ul << (bind.port % 64)), __ATOMIC_SEQ_CST);
    if (previrt_xen_hypercall(xen, HYPERCALL_CALLBACK_OP, CALLBACKOP_REGISTER, (unsigned long)&callback, 0, 0) < 0)
        return -1;
    if (previrt_xen_hypercall(xen, HYPERCALL_VCPU_OP, VCPUOP_STOP_PERIODIC_TIMER, 0, 0, 0) < 0)
        return -1;
    return 0;
}

/* Xen's system time now, in ns: the vcpu's time record extrapolated with the TSC. */
unsigned long xen_system_time(struct previrt_xen *xen)
{
    volatile unsigned char *t = xen_vcpu(xen, VCPU_TIME);
    unsigned int version, mul, lo, hi;
    unsigned long stamp, base, delta;
    signed char shift;
    do {
        version = *(volatile unsigned int *)t;
        asm volatile("" : : : "memory");
        stamp = *(volatile unsigned long *)(t + 8);
        base = *(volatile unsigned long *)(t + 16);
        mul = *(volatile unsigned int *)(t + 24);
        shift = *(volatile signed char *)(t + 28);
        asm volatile(".byte 0x0f, 0x31" : "=a"(lo), "=d"(hi)); /* rdtsc */
        asm volatile("" : : : "memory");
    } while ((version & 1) || version != *(volatile unsigned int *)t);
    delta = ((unsigned long)hi << 32 | lo) - stamp;
    delta = shift < 0 ? delta >> -shift : delta << shift;
    return base + (unsigned long)(((unsigned __int128)delta * mul) >> 32);
}

unsigned long previrt_xen_time_ns(struct previrt_xen *xen) { return xen_system_time(xen); }

/* Xen's one-shot timer, `ns` from now. */
void xen_one_shot(struct previrt_xen *xen, unsigned long ns)
{
    struct {
        unsigned long timeout;
        unsigned int flags;
    } shot = {xen_system_time(xen) + ns, 0};
    previrt_xen_hypercall(xen, HYPERCALL_VCPU_OP, VCPUOP_SET_SINGLESHOT_TIMER, 0, (unsigned long)&shot, 0);
}

/* Takes the pending events; returns whether the timer's was among them. */
static int take_events(struct previrt_xen *xen)
{
    unsigned long selector, words;
    unsigned int w, bit;
    int timer = 0;
    *xen_vcpu(xen, VCPU_UPCALL_PENDING) = 0;
    selector = __atomic_exchange_n((unsigned long *)xen_vcpu(xen, VCPU_PENDING_SEL), 0ul, __ATOMIC_SEQ_CST);
    while (selector) {
        w = (unsigned int)__builtin_ctzl(selector);
        selector &= selector - 1;
        words = event_words(xen, SHARED_EVTCHN_PENDING)[w] & ~event_words(xen, SHARED_EVTCHN_MASK)[w];
        while (words) {
            bit = (unsigned int)__builtin_ctzl(words);
            words &= words - 1;
            __atomic_fetch_and(&event_words(xen, SHARED_EVTCHN_PENDING)[w], ~(1ul << bit), __ATOMIC_SEQ_CST);
            if (w * 64 + bit == xen->timer_port) {
                timer = 1;
                if (xen->pit_period)
                    xen_one_shot(xen, xen->pit_period);
            }
        }
    }
    return timer;
}

int xen_timer_event_pending(struct previrt_xen *xen)
{
    return (event_words(xen, SHARED_EVTCHN_PENDING)[xen->timer_port / 64] >> (xen->timer_port % 64)) & 1;
}

/* The handler of gate `vector` of the virtual IDT (and its code selector), or 0 if not present. */
unsigned long xen_gate(struct previrt_xen *xen, unsigned int vector, unsigned short *selector)
{
    const unsigned char *gate = (const unsigned char *)xen->idt_base + vector * 16ul;
    if (!xen->idt_base || vector * 16u + 15 > xen->idt_limit || !(gate[5] & 0x80))
        return 0;
    *selector = (unsigned short)(gate[2] | gate[3] << 8);
    return (unsigned long)gate[0] | (unsigned long)gate[1] << 8 | (unsigned long)gate[6] << 16 | (unsigned long)gate[7] << 24
        | (unsigned long)*(const unsigned int *)(gate + 8) << 32;
}

/* The handler of the virtual PIC's IRQ 0 in the virtual IDT, or 0. */
static unsigned long timer_handler(struct previrt_xen *xen, unsigned short *selector)
{
    return xen->pic_imr & 1 ? 0 : xen_gate(xen, xen->pic_base, selector);
}

/* Xen enters a trap table entry as it enters the upcall, with %rcx and %r11 pushed above what the CPU
 * would push. Each present gate gets a trampoline (pop %rcx; pop %r11; push $vector; jmp
 * previrt_xen_trap), and Xen's trap table points at it; the gate's DPL and type (interrupt gates mask
 * events) go to Xen. */
static unsigned char trampolines[256][16] __attribute__((aligned(16)));

static void put_trampoline(unsigned char *t, unsigned int vector)
{
    t[0] = 0x59;              /* pop %rcx */
    t[1] = 0x41, t[2] = 0x5b; /* pop %r11 */
    t[3] = 0x68;              /* push $vector */
    previrt_put32(t + 4, vector);
    t[8] = 0xe9;              /* jmp previrt_xen_trap */
    previrt_put32(t + 9, (unsigned long)previrt_xen_trap - (unsigned long)(t + 13));
}

/* lidt: keeps the virtual IDT (virtual interrupts and traps are delivered through its gates, read when
 * they come) and gives Xen a trap table with its present gates, for exceptions and software
 * interrupts. */
void xen_load_idt(struct previrt_xen *xen, const unsigned char *pointer)
{
    static struct trap_info table[257];
    unsigned int i, n = 0;
    xen->idt_limit = pointer[0] | (unsigned int)pointer[1] << 8;
    xen->idt_base = *(const unsigned long *)(pointer + 2);
    for (i = 0; i < 256 && i * 16 + 15 <= xen->idt_limit; i++) {
        const unsigned char *gate = (const unsigned char *)xen->idt_base + i * 16;
        if (!(gate[5] & 0x80))
            continue;
        put_trampoline(trampolines[i], i);
        table[n].vector = (unsigned char)i;
        table[n].flags = (unsigned char)(((gate[5] >> 5) & 3) | ((gate[5] & 0xf) == 0xe ? 4 : 0));
        table[n].cs = FLAT_KERNEL_CS;
        table[n].address = (unsigned long)trampolines[i];
        n++;
    }
    table[n].address = 0;
    table[n].vector = table[n].flags = 0;
    table[n].cs = 0;
    previrt_xen_hypercall(xen, HYPERCALL_SET_TRAP_TABLE, (unsigned long)table, 0, 0, 0);
}

/* A trap Xen bounced through a trampoline: on to the gate's handler as the CPU would enter it (the
 * error code, if the vector has one, lies above the iretq frame). */
void previrt_xen_trap_entry(struct xen_trap_frame *f)
{
    struct previrt_xen *xen = previrt_xen_active;
    unsigned int vector = (unsigned int)f->target, error_code = vector < 32 && ((1u << vector) & 0x60227d00u);
    unsigned short selector = 0;
    xen->traps++;
    f->target = xen_gate(xen, vector, &selector);
    if (!f->target) { /* the gate went away after lidt: the CPU would fault on, to a triple fault */
        static const char message[] = "previrt: xen: a trap came through a gate that is no longer present\n";
        previrt_xen_console_write(xen, message, sizeof message - 1);
        previrt_xen_shutdown(xen, SHUTDOWN_CRASH);
    }
    xen_enter_kernel(xen, f->rest + error_code, selector);
}

/* Called by previrt_xen_upcall with events masked: a timer event becomes a virtual interrupt through
 * the guest's IDT (the guest's handler is entered on Xen's iretq frame, events still masked as an
 * interrupt gate leaves IF clear); otherwise the upcall returns, unmasking as the interrupted code was. */
void previrt_xen_event(struct xen_upcall_frame *f)
{
    struct previrt_xen *xen = previrt_xen_active;
    unsigned long handler;
    unsigned short selector;
    xen->upcalls++;
    for (;;) {
        if (take_events(xen))
            xen->pic_irr |= 1; /* requested; it waits there while IRQ 0 is masked */
        if ((xen->pic_irr & 1) && (handler = timer_handler(xen, &selector)) != 0) {
            xen->pic_irr &= (unsigned char)~1;
            xen->interrupts++;
            f->target = handler;
            xen_enter_kernel(xen, &f->rip, selector);
            return;
        }
        if ((f->cs & 3) == 3) { /* back to ring 3: a ring change, through HYPERVISOR_iret */
            xen_kernel_stack(xen);
            f->target = (unsigned long)previrt_xen_upcall_return_user;
            return;
        }
        /* Xen shows kernel selectors with RPL 0; a native iretq in ring 3 needs RPL 3. */
        f->cs = FLAT_KERNEL_CS;
        f->ss = FLAT_KERNEL_SS;
        f->target = (unsigned long)previrt_xen_upcall_return;
        if (!(f->interrupted_rflags & IF))
            return;
        *xen_vcpu(xen, VCPU_UPCALL_MASK) = 0;
        asm volatile("" : : : "memory");
        if (!*xen_vcpu(xen, VCPU_UPCALL_PENDING))
            return;
        *xen_vcpu(xen, VCPU_UPCALL_MASK) = 1;
    }
}

/* A request the virtual 8259A holds became deliverable (IRQ 0 unmasked): Xen enters the upcall for
 * it as for an event, at once if the virtual IF is set, else at the next unmask. */
void xen_raise_pending(struct previrt_xen *xen)
{
    *xen_vcpu(xen, VCPU_UPCALL_PENDING) = 1;
    asm volatile("" : : : "memory");
    if (!*xen_vcpu(xen, VCPU_UPCALL_MASK))
        previrt_xen_hypercall(xen, HYPERCALL_XEN_VERSION, 0, 0, 0, 0);
}

/* Sets the virtual IF; unmasking with an event pending has it delivered now, through a hypercall
 * (Xen delivers pending events on the way back to the guest). */
void xen_set_virtual_if(struct previrt_xen *xen, int enabled)
{
    *xen_vcpu(xen, VCPU_UPCALL_MASK) = (unsigned char)!enabled;
    asm volatile("" : : : "memory");
    if (enabled && *xen_vcpu(xen, VCPU_UPCALL_PENDING))
        previrt_xen_hypercall(xen, HYPERCALL_XEN_VERSION, 0, 0, 0, 0);
}


/* pushfq, every general register, the C function called with %rdi pointing at that frame on a 16-byte
 * aligned stack, everything restored, and `ret` (to where the function chose): the upcall's and the
 * traps' common body. */
#define SAVED_FRAME_CALL(function) \
    "  .byte 0x9c\n" \
    "  pushq %rax\n  pushq %rcx\n  pushq %rdx\n  pushq %rbx\n  pushq %rbp\n  pushq %rsi\n  pushq %rdi\n" \
    "  pushq %r8\n  pushq %r9\n  pushq %r10\n  pushq %r11\n  pushq %r12\n  pushq %r13\n  pushq %r14\n  pushq %r15\n" \
    "  movq %rsp, %rdi\n" \
    "  movq %rsp, %rbx\n" \
    "  andq $-16, %rsp\n" \
    "  call " function "\n" \
    "  movq %rbx, %rsp\n" \
    "  popq %r15\n  popq %r14\n  popq %r13\n  popq %r12\n  popq %r11\n  popq %r10\n  popq %r9\n  popq %r8\n" \
    "  popq %rdi\n  popq %rsi\n  popq %rbp\n  popq %rbx\n  popq %rdx\n  popq %rcx\n  popq %rax\n" \
    "  .byte 0x9d\n" \
    "  ret\n"

/* Xen enters an event upcall with %rcx and %r11 pushed above an iretq frame. The registers are saved
 * around previrt_xen_event, which chooses where to go (`ret` pops it): a virtual interrupt's handler,
 * entered on the iretq frame, or previrt_xen_upcall_return. iretq as bytes, as pushfq and popfq. */
asm(".text\n"
    ".p2align 4\n"
    ".globl previrt_xen_upcall, previrt_xen_upcall_return\n"
    "previrt_xen_upcall:\n"
    "  popq %rcx\n  popq %r11\n"
    "  pushq $0\n"
    SAVED_FRAME_CALL("previrt_xen_event")
    "previrt_xen_upcall_return:\n"
    "  .byte 0x48, 0xcf\n" /* iretq */
    "previrt_xen_upcall_return_user:\n"
    "  pushq $0\n"         /* HYPERVISOR_iret's flags */
    "  jmpq *previrt_xen_iret(%rip)\n"
    ".globl previrt_xen_trap\n"
    "previrt_xen_trap:\n"
    SAVED_FRAME_CALL("previrt_xen_trap_entry"));

#endif /* __x86_64__ */
