/* backend_xen.c: a 64-bit Xen PV domain. A PV kernel runs in ring 3 on page tables Xen validates; its
 * sensitive instructions fault, are ignored or show Xen's state. Each supported site becomes
 * `jmp stub` plus NOPs; the stub does the operation the PV way and jumps back to the site's end:
 *
 *   cli            stub: movb $1, evtchn_upcall_mask(%rip); jmp back
 *   cpuid          stub: ud2; .ascii "xen"; cpuid; jmp back      (Xen's forced-emulation prefix)
 *   sti before hlt stub: jmp back                                  (the hlt unmasks, atomically)
 *   everything else, stub: lea -128(%rsp),%rsp; push $index; call previrt_xen_entry;
 *                          lea 136(%rsp),%rsp; jmp back
 *                  (pushf runs natively before the call, popf and iretq after it)
 *
 * previrt_xen_entry saves every register and the flags in a frame on the stack, below the guest's red
 * zone, and calls previrt_xen_emulate, which does what the site's instruction would do on the frame:
 *
 *   sti, popf      clear or set vcpu_info.evtchn_upcall_mask (the virtual IF); unmasking with an
 *                  event pending has Xen deliver it (any hypercall's return does)
 *   pushf          the pushed flags' IF is !evtchn_upcall_mask
 *   hlt            sched_op(SCHEDOP_block): unmask events and wait, atomically
 *   mov to cr3     mmuext_op(MMUEXT_NEW_BASEPTR, the machine frame of the new top-level table)
 *   mov from cr3   the pseudo-physical value the guest last wrote (Xen would show a machine address)
 *   cr0, clts      CR0.TS through fpu_taskswitch; the rest of CR0 is Xen's
 *   sidt, sgdt     what lidt and lgdt loaded (natively they show Xen's tables)
 *   lgdt           set_gdt with the table's machine frames, after mapping them read-only
 *   mov ds, es     ring-0 selectors loaded with RPL 3, and read back with the RPL the guest gave
 *   wrmsr, rdmsr   fs/gs bases through set_segment_base, SYSENTER MSRs kept, others natively
 *   invlpg         mmuext_op(MMUEXT_INVLPG_LOCAL, the effective address)
 *   wbinvd         mmuext_op(MMUEXT_FLUSH_CACHE)
 *   lidt           the virtual IDT, and its present gates as Xen's trap table (set_trap_table)
 *   iretq          Xen's flat selectors for ring-0 ones, the popped IF as the virtual IF
 *   in, out        the backend's devices: COM1 (THR bytes go to Xen's console, console_io), the
 *                  8259A and the 8254's channel 0 (Xen's one-shot timer, VIRQ_TIMER on an event
 *                  channel); other ports run natively, which Xen emulates once
 *                  physdev_op(PHYSDEVOP_set_iopl) gave the domain I/O privilege
 *
 * Timer events come through the upcall Xen enters (callback_op): they become interrupts through the
 * guest's IDT gate for IRQ 0 of the virtual 8259A.
 *
 * Every other kind, and forms the handlers do not model (a control register other than cr0 and cr3, 16-bit
 * pushf/popf, iret without REX.W, 16- and 32-bit code, fs/gs overrides), is refused by name before
 * anything is patched. The file builds for x86_64 only (on i386 it is empty), and with -mno-red-zone
 * (Xen pushes event frames right below the interrupted %rsp). Its own code contains no sensitive
 * instruction the macro sets would annotate: those it runs itself are written as .byte.
 *
 * The constants below are Xen's public PV ABI (xen/include/public), defined here from its documentation.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 the previrt authors. Permission is hereby granted, free of charge, to any
 * person obtaining a copy of this file, to deal in it without restriction, subject to this notice
 * being kept. THE FILE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND.
 */
#include "previrt_runtime.h"

#if defined(__x86_64__) /* 64-bit PV only: Debian's Xen is built without 32-bit PV (CONFIG_PV32) */

/* Hypercall numbers. */
#define HYPERCALL_SET_TRAP_TABLE 0
#define HYPERCALL_SET_GDT 2
#define HYPERCALL_FPU_TASKSWITCH 5
#define HYPERCALL_UPDATE_VA_MAPPING 14
#define HYPERCALL_XEN_VERSION 17
#define HYPERCALL_CONSOLE_IO 18
#define HYPERCALL_VCPU_OP 24
#define HYPERCALL_SET_SEGMENT_BASE 25
#define HYPERCALL_MMUEXT_OP 26
#define HYPERCALL_SCHED_OP 29
#define HYPERCALL_CALLBACK_OP 30
#define HYPERCALL_EVENT_CHANNEL_OP 32
#define HYPERCALL_PHYSDEV_OP 33

#define CONSOLEIO_WRITE 0
#define SCHEDOP_BLOCK 1
#define SCHEDOP_SHUTDOWN 2
#define VCPUOP_STOP_PERIODIC_TIMER 7
#define VCPUOP_SET_SINGLESHOT_TIMER 8
#define VCPUOP_STOP_SINGLESHOT_TIMER 9
#define EVTCHNOP_BIND_VIRQ 1
#define VIRQ_TIMER 0
#define CALLBACKOP_REGISTER 0
#define CALLBACKTYPE_EVENT 0
#define SEGBASE_FS 0
#define SEGBASE_GS_USER 1
#define SEGBASE_GS_KERNEL 2
#define FLAT_KERNEL_CS 0xe033      /* a 64-bit PV kernel's flat ring-3 code and stack selectors */
#define FLAT_KERNEL_SS 0xe02b
#define PHYSDEVOP_SET_IOPL 6
#define MMUEXT_NEW_BASEPTR 5
#define MMUEXT_INVLPG_LOCAL 7
#define MMUEXT_FLUSH_CACHE 12
#define UVMF_INVLPG 2
#define DOMID_SELF 0x7ff0
#define PTE_PRESENT_WRITABLE_ACCESSED_DIRTY 0x63ul
#define PTE_PRESENT_ACCESSED 0x21ul
#define XEN_SELECTORS 0xe000       /* selectors from here on are Xen's reserved GDT entries */

/* The start_info page's layout (64-bit). */
struct xen_start_info {
    char magic[32];
    unsigned long nr_pages;
    unsigned long shared_info;     /* machine address */
    unsigned int flags;
    unsigned long store_mfn;
    unsigned int store_evtchn;
    unsigned long console[2];
    unsigned long pt_base;         /* virtual address of the top-level page table */
    unsigned long nr_pt_frames;
    unsigned long *mfn_list;       /* virtual address of the pseudo-physical to machine table */
};

/* vcpu_info, the first of 32 at the start of the shared info page, and the event channel bitmaps. */
#define VCPU_UPCALL_PENDING 0
#define VCPU_UPCALL_MASK 1
#define VCPU_PENDING_SEL 8
#define VCPU_TIME 32               /* version, pad, tsc_timestamp, system_time, tsc_to_system_mul, tsc_shift */
#define SHARED_EVTCHN_PENDING 2048
#define SHARED_EVTCHN_MASK 2560

/* The virtual devices' ports. */
#define PIC_MASTER 0x20
#define PIC_SLAVE 0xa0
#define PIT_CHANNEL0 0x40
#define PIT_CONTROL 0x43
#define PIT_HZ 1193182ul

struct trap_info {
    unsigned char vector, flags;   /* flags: DPL, and 4 to mask events on entry (an interrupt gate) */
    unsigned short cs;
    unsigned long address;
};

struct mmuext_op {
    unsigned int cmd;
    unsigned long arg1;            /* machine frame or linear address */
    unsigned long arg2;
};

/* What previrt_xen_entry saves, lowest address first. */
struct xen_frame {
    unsigned long r15, r14, r13, r12, r11, r10, r9, r8, rdi, rsi, rbp, rbx, rdx, rcx, rax;
    unsigned long rflags, return_address, index;
};

/* What previrt_xen_upcall saves: the registers, then where to go, then the iretq frame Xen built. */
struct xen_upcall_frame {
    unsigned long r15, r14, r13, r12, r11, r10, r9, r8, rdi, rsi, rbp, rbx, rdx, rcx, rax;
    unsigned long rflags, target;
    unsigned long rip, cs, interrupted_rflags, rsp, ss;
};

#define RED_ZONE 128
#define IF 0x200ul
#define CR0_TS 8ul
#define MSR_SYSENTER_CS 0x174
#define MSR_FS_BASE 0xc0000100
#define MSR_GS_BASE 0xc0000101
#define MSR_KERNEL_GS_BASE 0xc0000102
#define COM1 0x3f8

static struct previrt_xen *active;

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

static long mmuext(struct previrt_xen *xen, unsigned int cmd, unsigned long arg1)
{
    struct mmuext_op op = {cmd, arg1, 0};
    return previrt_xen_hypercall(xen, HYPERCALL_MMUEXT_OP, (unsigned long)&op, 1, 0, DOMID_SELF);
}

static void console_flush(struct previrt_xen *xen)
{
    if (xen->console_used)
        previrt_xen_hypercall(xen, HYPERCALL_CONSOLE_IO, CONSOLEIO_WRITE, xen->console_used, (unsigned long)xen->console, 0);
    xen->console_used = 0;
}

void previrt_xen_console_write(struct previrt_xen *xen, const char *s, unsigned long n)
{
    console_flush(xen);
    previrt_xen_hypercall(xen, HYPERCALL_CONSOLE_IO, CONSOLEIO_WRITE, n, (unsigned long)s, 0);
}

void previrt_xen_shutdown(struct previrt_xen *xen, unsigned int reason)
{
    unsigned int arg = reason;
    console_flush(xen);
    previrt_xen_hypercall(xen, HYPERCALL_SCHED_OP, SCHEDOP_SHUTDOWN, (unsigned long)&arg, 0, 0);
}

/* --- events: the timer's event channel and the upcall --- */

static volatile unsigned char *vcpu(struct previrt_xen *xen, unsigned int field) { return xen->shared_info + field; }
static unsigned long *event_words(struct previrt_xen *xen, unsigned int offset) { return (unsigned long *)(xen->shared_info + offset); }

void previrt_xen_upcall(void);
void previrt_xen_upcall_return(void);

/* Binds VIRQ_TIMER to an event channel, enters upcalls at previrt_xen_upcall, and stops Xen's default
 * periodic timer: the guest's virtual PIT starts timers. */
static int events_init(struct previrt_xen *xen)
{
    struct {
        unsigned int virq, vcpu, port;
    } bind = {VIRQ_TIMER, 0, 0};
    struct {
        unsigned short type, flags;
        unsigned long address;
    } callback = {CALLBACKTYPE_EVENT, 0, (unsigned long)previrt_xen_upcall};
    xen->pic_imr = 0xff;
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
static unsigned long system_time(struct previrt_xen *xen)
{
    volatile unsigned char *t = vcpu(xen, VCPU_TIME);
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

unsigned long previrt_xen_time_ns(struct previrt_xen *xen) { return system_time(xen); }

/* Xen's one-shot timer, `ns` from now. */
static void one_shot(struct previrt_xen *xen, unsigned long ns)
{
    struct {
        unsigned long timeout;
        unsigned int flags;
    } shot = {system_time(xen) + ns, 0};
    previrt_xen_hypercall(xen, HYPERCALL_VCPU_OP, VCPUOP_SET_SINGLESHOT_TIMER, 0, (unsigned long)&shot, 0);
}

/* Takes the pending events; returns whether the timer's was among them. */
static int take_events(struct previrt_xen *xen)
{
    unsigned long selector, words;
    unsigned int w, bit;
    int timer = 0;
    *vcpu(xen, VCPU_UPCALL_PENDING) = 0;
    selector = __atomic_exchange_n((unsigned long *)vcpu(xen, VCPU_PENDING_SEL), 0ul, __ATOMIC_SEQ_CST);
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
                    one_shot(xen, xen->pit_period);
            }
        }
    }
    return timer;
}

static int timer_event_pending(struct previrt_xen *xen)
{
    return (event_words(xen, SHARED_EVTCHN_PENDING)[xen->timer_port / 64] >> (xen->timer_port % 64)) & 1;
}

/* The handler of the virtual PIC's IRQ 0 in the virtual IDT, or 0. */
static unsigned long timer_handler(struct previrt_xen *xen)
{
    unsigned int vector = xen->pic_base;
    const unsigned char *gate = (const unsigned char *)xen->idt_base + vector * 16ul;
    if ((xen->pic_imr & 1) || !xen->idt_base || vector * 16u + 15 > xen->idt_limit || !(gate[5] & 0x80))
        return 0;
    return (unsigned long)gate[0] | (unsigned long)gate[1] << 8 | (unsigned long)gate[6] << 16 | (unsigned long)gate[7] << 24
        | (unsigned long)*(const unsigned int *)(gate + 8) << 32;
}

/* Called by previrt_xen_upcall with events masked: a timer event becomes a virtual interrupt through
 * the guest's IDT (the guest's handler is entered on Xen's iretq frame, events still masked as an
 * interrupt gate leaves IF clear); otherwise the upcall returns, unmasking as the interrupted code was. */
void previrt_xen_event(struct xen_upcall_frame *f);
void previrt_xen_event(struct xen_upcall_frame *f)
{
    struct previrt_xen *xen = active;
    unsigned long handler;
    xen->upcalls++;
    /* Xen shows the guest kernel's CS with RPL 0; a native iretq in ring 3 needs RPL 3. */
    if ((f->cs & 3) == 0)
        f->cs = FLAT_KERNEL_CS;
    for (;;) {
        if (take_events(xen) && (handler = timer_handler(xen)) != 0) {
            xen->interrupts++;
            f->target = handler;
            return;
        }
        f->target = (unsigned long)previrt_xen_upcall_return;
        if (!(f->interrupted_rflags & IF))
            return;
        *vcpu(xen, VCPU_UPCALL_MASK) = 0;
        asm volatile("" : : : "memory");
        if (!*vcpu(xen, VCPU_UPCALL_PENDING))
            return;
        *vcpu(xen, VCPU_UPCALL_MASK) = 1;
    }
}

/* Sets the virtual IF; unmasking with an event pending has it delivered now, through a hypercall
 * (Xen delivers pending events on the way back to the guest). */
static void set_virtual_if(struct previrt_xen *xen, int enabled)
{
    *vcpu(xen, VCPU_UPCALL_MASK) = (unsigned char)!enabled;
    asm volatile("" : : : "memory");
    if (enabled && *vcpu(xen, VCPU_UPCALL_PENDING))
        previrt_xen_hypercall(xen, HYPERCALL_XEN_VERSION, 0, 0, 0, 0);
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
    return events_init(xen);
}

/* --- the entry from the stubs --- */

/* pushfq and popfq as bytes: written as instructions, the macro sets would annotate them. */
asm(".text\n"
    ".p2align 4\n"
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
void previrt_xen_entry(void);
void previrt_xen_emulate(struct xen_frame *f);

/* Xen enters an event upcall with %rcx and %r11 pushed above an iretq frame. The registers are saved
 * around previrt_xen_event, which chooses where to go (`ret` pops it): a virtual interrupt's handler,
 * entered on the iretq frame, or previrt_xen_upcall_return. iretq as bytes, as pushfq and popfq. */
asm(".text\n"
    ".p2align 4\n"
    "previrt_xen_upcall:\n"
    "  popq %rcx\n  popq %r11\n"
    "  pushq $0\n"
    "  .byte 0x9c\n"
    "  pushq %rax\n  pushq %rcx\n  pushq %rdx\n  pushq %rbx\n  pushq %rbp\n  pushq %rsi\n  pushq %rdi\n"
    "  pushq %r8\n  pushq %r9\n  pushq %r10\n  pushq %r11\n  pushq %r12\n  pushq %r13\n  pushq %r14\n  pushq %r15\n"
    "  movq %rsp, %rdi\n"
    "  movq %rsp, %rbx\n"
    "  andq $-16, %rsp\n"
    "  call previrt_xen_event\n"
    "  movq %rbx, %rsp\n"
    "  popq %r15\n  popq %r14\n  popq %r13\n  popq %r12\n  popq %r11\n  popq %r10\n  popq %r9\n  popq %r8\n"
    "  popq %rdi\n  popq %rsi\n  popq %rbp\n  popq %rbx\n  popq %rdx\n  popq %rcx\n  popq %rax\n"
    "  .byte 0x9d\n"
    "  ret\n"
    "previrt_xen_upcall_return:\n"
    "  .byte 0x48, 0xcf\n" /* iretq */);

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

/* --- port I/O --- */

/* The virtual 8254's channel 0 starts Xen's one-shot timer; in a periodic mode each tick re-arms it.
 * (Not Xen's periodic timer: Xen stops it while the vCPU is blocked, so it could not end a hlt.) */
static void pit_start(struct previrt_xen *xen, unsigned int count)
{
    unsigned long ns = (count ? count : 65536ul) * 1000000000ul / PIT_HZ;
    xen->pit_period = xen->pit_mode == 0 ? 0 : ns;
    one_shot(xen, ns);
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
        }
        return 1;
    case PIC_SLAVE:
    case PIC_SLAVE + 1:
        return 1;
    case PIT_CONTROL:
        if ((v >> 6) == 0) { /* channel 0; only the low-then-high access is modelled */
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
    else if (port == PIC_MASTER) /* IRR: the timer's event is pending (ISR: nothing in service) */
        *v = xen->pic_read_isr ? 0 : (unsigned long)timer_event_pending(xen);
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
            console_flush(xen);
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

static void in_out(struct previrt_xen *xen, struct xen_frame *f, const struct previrt_xen_site *s)
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

/* --- the handlers --- */

/* CR0.TS is the virtual FPU switch (fpu_taskswitch); Xen keeps it per vCPU. */
static void set_task_switched(struct previrt_xen *xen, unsigned long ts)
{
    if ((xen->cr0 & CR0_TS) != ts)
        previrt_xen_hypercall(xen, HYPERCALL_FPU_TASKSWITCH, ts != 0, 0, 0, 0);
    xen->cr0 = (xen->cr0 & ~CR0_TS) | ts;
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
    else if (mmuext(xen, MMUEXT_NEW_BASEPTR, si->mfn_list[*r >> 12]) >= 0)
        xen->cr3 = *r & ~0xffful;
}

/* lgdt: Xen takes the GDT's frames (set_gdt) once no writable mapping of them is left, and fixes up
 * ring-0 descriptors to ring 3; sgdt shows what lgdt loaded. */
static void load_gdt(struct previrt_xen *xen, const unsigned char *pointer)
{
    const struct xen_start_info *si = xen->start_info;
    unsigned long frames[16], page, first, last;
    unsigned int n = 0;
    xen->gdt_limit = pointer[0] | (unsigned int)pointer[1] << 8;
    xen->gdt_base = *(const unsigned long *)(pointer + 2);
    first = xen->gdt_base & ~0xffful;
    last = (xen->gdt_base + xen->gdt_limit) & ~0xffful;
    for (page = first; page <= last && n < 16; page += 4096) {
        frames[n] = si->mfn_list[(page - xen->virt_base) >> 12];
        previrt_xen_hypercall(xen, HYPERCALL_UPDATE_VA_MAPPING, page, frames[n] << 12 | PTE_PRESENT_ACCESSED, UVMF_INVLPG, 0);
        n++;
    }
    previrt_xen_hypercall(xen, HYPERCALL_SET_GDT, (unsigned long)frames, (xen->gdt_limit + 1) / 8, 0, 0);
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

/* mov to ds or es: a ring-0 selector is loaded with RPL 3 (the ring the kernel runs in), natively. */
static void load_segment(struct xen_frame *f, const struct previrt_xen_site *s)
{
    const struct previrt_insn *d = &s->decoded;
    unsigned long selector;
    if ((d->modrm >> 6) == 3)
        selector = *reg(f, (d->modrm & 7) | (d->rex & 1) << 3) & 0xffff;
    else
        selector = *(const unsigned short *)effective_address(f, s);
    if (selector > 3 && (selector & 3) == 0)
        selector |= 3;
    if (((d->modrm >> 3) & 7) == 3)
        asm volatile(".byte 0x8e, 0xd8" : : "a"(selector) : "memory"); /* mov %eax,%ds */
    else
        asm volatile(".byte 0x8e, 0xc0" : : "a"(selector) : "memory"); /* mov %eax,%es */
}

/* mov from ds or es: the guest's own selectors read with the RPL it loaded them with. */
static void store_segment(struct xen_frame *f, const struct previrt_xen_site *s)
{
    const struct previrt_insn *d = &s->decoded;
    unsigned long selector;
    if (((d->modrm >> 3) & 7) == 3)
        asm volatile(".byte 0x8c, 0xd8" : "=a"(selector)); /* mov %ds,%eax */
    else
        asm volatile(".byte 0x8c, 0xc0" : "=a"(selector)); /* mov %es,%eax */
    selector &= 0xffff;
    if (selector < XEN_SELECTORS && (selector & 3) == 3)
        selector &= ~3ul;
    if ((d->modrm >> 6) != 3) {
        *(unsigned short *)effective_address(f, s) = (unsigned short)selector;
    } else {
        unsigned long *r = reg(f, (d->modrm & 7) | (d->rex & 1) << 3);
        *r = d->opsize_prefix ? (*r & ~0xfffful) | selector : selector;
    }
}


/* lidt: keeps the virtual IDT (virtual interrupts are delivered through it) and gives Xen a trap table
 * with its present gates, for exceptions and software interrupts. */
static void load_idt(struct previrt_xen *xen, const unsigned char *pointer)
{
    static struct trap_info table[257];
    unsigned int i, n = 0;
    xen->idt_limit = pointer[0] | (unsigned int)pointer[1] << 8;
    xen->idt_base = *(const unsigned long *)(pointer + 2);
    for (i = 0; i < 256 && i * 16 + 15 <= xen->idt_limit; i++) {
        const unsigned char *gate = (const unsigned char *)xen->idt_base + i * 16;
        if (!(gate[5] & 0x80))
            continue;
        table[n].vector = (unsigned char)i;
        table[n].flags = (unsigned char)(((gate[5] >> 5) & 3) | ((gate[5] & 0xf) == 0xe ? 4 : 0));
        table[n].cs = FLAT_KERNEL_CS;
        table[n].address = (unsigned long)gate[0] | (unsigned long)gate[1] << 8 | (unsigned long)gate[6] << 16
            | (unsigned long)gate[7] << 24 | (unsigned long)*(const unsigned int *)(gate + 8) << 32;
        n++;
    }
    table[n].address = 0;
    table[n].vector = table[n].flags = 0;
    table[n].cs = 0;
    previrt_xen_hypercall(xen, HYPERCALL_SET_TRAP_TABLE, (unsigned long)table, 0, 0, 0);
}

/* iretq (the stub runs it natively next, in ring 3): ring-0 selectors become Xen's flat ones, and the
 * popped IF becomes the virtual IF. */
static void interrupt_return(struct previrt_xen *xen, unsigned long *frame)
{
    if ((frame[1] & 3) == 0)
        frame[1] = FLAT_KERNEL_CS;
    if ((frame[4] & 3) == 0)
        frame[4] = FLAT_KERNEL_SS;
    set_virtual_if(xen, (frame[2] & IF) != 0);
}

void previrt_xen_emulate(struct xen_frame *f)
{
    struct previrt_xen *xen = active;
    const struct previrt_xen_site *s = &xen->sites[f->index];
    unsigned long *top = guest_stack(f);
    switch (s->decoded.kind) {
    case PREVIRT_KIND_HLT: previrt_xen_hypercall(xen, HYPERCALL_SCHED_OP, SCHEDOP_BLOCK, 0, 0, 0); break;
    case PREVIRT_KIND_LIDT: load_idt(xen, (const unsigned char *)effective_address(f, s)); break;
    case PREVIRT_KIND_SIDT: store_table((unsigned char *)effective_address(f, s), xen->idt_limit, xen->idt_base); break;
    case PREVIRT_KIND_LGDT: load_gdt(xen, (const unsigned char *)effective_address(f, s)); break;
    case PREVIRT_KIND_SGDT: store_table((unsigned char *)effective_address(f, s), xen->gdt_limit, xen->gdt_base); break;
    case PREVIRT_KIND_MOV_TO_SEG: load_segment(f, s); break;
    case PREVIRT_KIND_MOV_FROM_SEG: store_segment(f, s); break;
    case PREVIRT_KIND_CLTS: set_task_switched(xen, 0); break;
    case PREVIRT_KIND_WRMSR: write_msr(xen, f); break;
    case PREVIRT_KIND_RDMSR: read_msr(xen, f); break;
    case PREVIRT_KIND_IRET: interrupt_return(xen, top); break;
    case PREVIRT_KIND_STI: set_virtual_if(xen, 1); break;
    case PREVIRT_KIND_PUSHF: *top = (*top & ~IF) | (*vcpu(xen, VCPU_UPCALL_MASK) ? 0 : IF); break;
    case PREVIRT_KIND_POPF: set_virtual_if(xen, (*top & IF) != 0); break;
    case PREVIRT_KIND_MOV_TO_CR:
    case PREVIRT_KIND_MOV_FROM_CR: control_register(xen, f, s); break;
    case PREVIRT_KIND_INVLPG: mmuext(xen, MMUEXT_INVLPG_LOCAL, effective_address(f, s)); break;
    case PREVIRT_KIND_WBINVD: mmuext(xen, MMUEXT_FLUSH_CACHE, 0); break;
    case PREVIRT_KIND_IN:
    case PREVIRT_KIND_OUT: in_out(xen, f, s); break;
    }
}

/* --- checking and patching --- */

#define STUB_MAX 40

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
    case PREVIRT_KIND_MOV_TO_SEG:
    case PREVIRT_KIND_MOV_FROM_SEG:
        if (((d->modrm >> 3) & 7) != 0 && ((d->modrm >> 3) & 7) != 3)
            return refuse(xen, name, " of a segment register other than ds and es is not supported by the xen backend");
        __attribute__((fallthrough)); /* and the memory operand's override */
    case PREVIRT_KIND_INVLPG:
    case PREVIRT_KIND_LIDT:
    case PREVIRT_KIND_SIDT:
    case PREVIRT_KIND_LGDT:
    case PREVIRT_KIND_SGDT:
        if (d->segment == 0x64 || d->segment == 0x65)
            return refuse(xen, name, " with an fs or gs override is not supported by the xen backend");
        break;
    case PREVIRT_KIND_HLT:
    case PREVIRT_KIND_CLTS:
    case PREVIRT_KIND_RDMSR:
    case PREVIRT_KIND_WRMSR:
        break;
    case PREVIRT_KIND_IRET:
        if (!(d->rex & 8))
            return refuse(xen, name, " without REX.W (not iretq) is not supported by the xen backend");
        break;
    default:
        return refuse(xen, name, " is not supported by the xen backend");
    }
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

static enum previrt_action xen_patch(void *ctx, const struct previrt_patch_site *site)
{
    static const unsigned char skip_red_zone[] = {0x48, 0x8d, 0x64, 0x24, 0x80};                       /* lea -128(%rsp),%rsp */
    static const unsigned char back_over_red_zone[] = {0x48, 0x8d, 0xa4, 0x24, 0x88, 0x00, 0x00, 0x00}; /* lea 136(%rsp),%rsp */
    static const unsigned char xen_cpuid[] = {0x0f, 0x0b, 0x78, 0x65, 0x6e, 0x0f, 0xa2};               /* ud2; .ascii "xen"; cpuid */
    struct previrt_xen *xen = ctx;
    unsigned char *stub = xen->stubs + xen->stub_used;
    unsigned int n = 0, i, kind = site->decoded.kind;

    xen->sites[site->index].insn = site->insn;
    for (i = 0; i < site->decoded.length; i++)
        xen->sites[site->index].bytes[i] = site->insn[i];
    xen->sites[site->index].decoded = site->decoded;
    if (kind == PREVIRT_KIND_CLI) {
        /* movb $1, evtchn_upcall_mask(%rip) */
        stub[n++] = 0xc6;
        stub[n++] = 0x05;
        previrt_put32(stub + n, (unsigned long)(xen->shared_info + VCPU_UPCALL_MASK) - (unsigned long)(stub + n + 5));
        n += 4;
        stub[n++] = 1;
    } else if (kind == PREVIRT_KIND_CPUID) {
        for (i = 0; i < sizeof xen_cpuid; i++)
            stub[n++] = xen_cpuid[i];
    } else if (kind == PREVIRT_KIND_STI && site->start + site->length < xen->text_end && site->start[site->length] == 0xf4) {
        /* sti; hlt: the hlt's SCHEDOP_block unmasks and waits atomically, as the interrupt shadow makes
         * sti; hlt atomic; unmasking here could take the wakeup before the block. */
    } else {
        if (kind == PREVIRT_KIND_PUSHF)
            stub[n++] = 0x9c;
        for (i = 0; i < sizeof skip_red_zone; i++)
            stub[n++] = skip_red_zone[i];
        stub[n++] = 0x68; /* push $index */
        previrt_put32(stub + n, site->index);
        n += 4;
        n = put_rel32(stub, n, 0xe8, (const void *)previrt_xen_entry);
        for (i = 0; i < sizeof back_over_red_zone; i++)
            stub[n++] = back_over_red_zone[i];
        if (kind == PREVIRT_KIND_POPF)
            stub[n++] = 0x9d;
    }
    if (kind == PREVIRT_KIND_IRET) { /* iretq, natively: it does not come back */
        stub[n++] = 0x48;
        stub[n++] = 0xcf;
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
    active = xen;
    backend->name = "xen";
    backend->check = xen_check;
    backend->patch = xen_patch;
    backend->ctx = xen;
}

#endif /* __x86_64__ */
