/* checks.c: the sensitive kinds an x86_64 kernel uses and the Xen backend supports, each with a check
 * whose verdict is the same in ring 0 on bare hardware and in ring 3 as a Xen PV domain with the sites
 * patched. Only verdicts are printed, never raw values, so that the transcript is the same on both.
 * SPDX-License-Identifier: MIT
 */
#include "guest.h"

/* --- the interrupt flag: cli, sti, pushf, popf --- */

static unsigned long flags(void)
{
    unsigned long f;
    asm volatile("pushfq; popq %0" : "=r"(f) : : "memory");
    return f;
}

/* Sets the flags and reads them back in one statement, so that no compiled test between the two
 * changes the arithmetic flags. */
static unsigned long set_flags(unsigned long f)
{
    unsigned long r;
    asm volatile("pushq %1; popfq; pushfq; popq %0" : "=r"(r) : "r"(f) : "memory", "cc");
    return r;
}

#define IF 0x200
#define CF 0x001

static void interrupt_flag(void)
{
    int ok;
    asm volatile("cli" : : : "memory");
    ok = (flags() & IF) == 0;
    asm volatile("sti" : : : "memory");
    ok = ok && (flags() & IF) != 0;
    ok = ok && (set_flags(0x002 | CF) & (IF | CF)) == CF; /* popf sets the arithmetic flags too */
    ok = ok && (set_flags(0x202) & (IF | CF)) == IF;
    asm volatile("cli" : : : "memory");
    check("interrupt flag (cli, sti, pushf, popf)", ok);
}

/* --- the interrupt descriptor table --- */

static void descriptor_table(void)
{
    struct {
        unsigned short limit;
        unsigned long base;
    } __attribute__((packed)) loaded;
    unsigned long base;
    unsigned short limit;
    timer_idt(&base, &limit);
    asm volatile("sidt %0" : "=m"(loaded));
    check("interrupt descriptor table (lidt, sidt)", loaded.base == base && loaded.limit == limit);
}

/* --- the global descriptor table and data segments --- */

/* A page of its own: under Xen the GDT's frames become read-only (Xen validates descriptors). */
static unsigned long long gdt[512] __attribute__((aligned(4096))) = {
    0,
    0x00af9a000000ffffull, /* 0x08: 64-bit code, as boot.S's */
    0x00cf92000000ffffull, /* 0x10: data */
};

struct table_pointer {
    unsigned short limit;
    unsigned long base;
} __attribute__((packed));

static void segments(void)
{
    struct table_pointer loaded = {3 * 8 - 1, (unsigned long)gdt}, back;
    unsigned short ds, es;
    asm volatile("lgdt %0" : : "m"(loaded));
    asm volatile("sgdt %0" : "=m"(back));
    asm volatile("movw %w0,%%ds\n\tmovw %w0,%%es" : : "r"(0x10) : "memory");
    asm volatile("movw %%ds,%w0" : "=r"(ds));
    asm volatile("movw %%es,%w0" : "=r"(es));
    check("global descriptor table and data segments (lgdt, sgdt, mov to and from ds, es)",
          back.limit == loaded.limit && back.base == loaded.base && ds == 0x10 && es == 0x10);
}

/* --- interrupts: hlt, and sti with an interrupt pending --- */

/* A periodic timer wakes the hlt; sti; hlt is atomic (the interrupt shadow), so no tick is lost
 * between the test and the hlt. The handler returns with iretq. */
static void halt(void)
{
    unsigned int before = timer_ticks, rounds = 0;
    timer_start(1, 11932); /* 100 Hz */
    while (timer_ticks == before && rounds++ < 1000)
        asm volatile("sti; hlt; cli" : : : "memory");
    timer_stop();
    check("halt (sti; hlt, woken by the timer interrupt through the IDT; iretq)", timer_ticks != before);
}

/* With interrupts disabled the one-shot timer's request waits; sti must deliver it at once. */
static void pending_interrupt(void)
{
    unsigned int before, spins = 0;
    int pending;
    timer_start(0, 100); /* 84 us */
    while (!(pending = timer_pending()) && spins++ < 100000000)
        ;
    before = timer_ticks;
    asm volatile("sti; nop; cli" : : : "memory");
    timer_stop();
    check("pending interrupt (requested while disabled, delivered at sti)", pending && timer_ticks == before + 1);
}

/* With IRQ 0 masked at the 8259A, the request waits (in IRR) even with interrupts enabled; unmasking
 * delivers it. */
static void masked_interrupt(void)
{
    unsigned int before = timer_ticks, spins = 0, waited;
    int pending;
    timer_start(0, 100);
    timer_stop();
    asm volatile("sti" : : : "memory");
    while (!(pending = timer_pending()) && spins++ < 100000000)
        ;
    waited = timer_ticks;
    outb(0x21, 0xfe); /* unmask IRQ 0 (QEMU takes the interrupt at the next jump, not right after the out) */
    for (spins = 0; timer_ticks == waited && spins < 1000000; spins++)
        ;
    asm volatile("cli" : : : "memory");
    timer_stop();
    check("masked interrupt (waits at the 8259A, delivered when unmasked)", pending && waited == before && timer_ticks == before + 1);
}

/* --- the page-table base --- */

static void page_table_base(void)
{
    static volatile unsigned long probe = 0x5a5a;
    unsigned long before, after;
    asm volatile("movq %%cr3,%0" : "=r"(before));
    asm volatile("movq %0,%%cr3" : : "r"(before) : "memory");
    asm volatile("movq %%cr3,%0" : "=r"(after));
    check("page-table base (mov from and to cr3)", before == after && (before & 0xfff) == 0 && probe == 0x5a5a);
}

/* --- the FPU's task-switched flag --- */

#define CR0_PE 0x1ul
#define CR0_TS 0x8ul
#define CR0_PG 0x80000000ul

static unsigned long cr0(void)
{
    unsigned long v;
    asm volatile("movq %%cr0,%0" : "=r"(v));
    return v;
}

/* The guest uses no FPU or SSE register, so TS set does no harm while the check runs. */
static void task_switched(void)
{
    unsigned long before = cr0(), set, cleared, word;
    asm volatile("movq %0,%%cr0" : : "r"(before | CR0_TS) : "memory");
    set = cr0();
    asm volatile("smsw %0" : "=r"(word));
    asm volatile("clts" : : : "memory");
    cleared = cr0();
    check("fpu task switch (mov to and from cr0, smsw, clts)", (before & (CR0_PE | CR0_PG)) == (CR0_PE | CR0_PG)
          && (set & CR0_TS) && (word & 0xffff) == (set & 0xffff) && !(cleared & CR0_TS));
}

/* --- model-specific registers --- */

static void wrmsr(unsigned long msr, unsigned long v) { asm volatile("wrmsr" : : "c"(msr), "a"(v & 0xffffffff), "d"(v >> 32) : "memory"); }
static unsigned long rdmsr(unsigned long msr)
{
    unsigned long lo, hi;
    asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return (hi << 32) | lo;
}

/* IA32_SYSENTER_CS reads back; a new FS base moves what %fs:0 reads. */
static void model_specific_registers(void)
{
    static volatile unsigned long probe = 0x1234abcd;
    unsigned long through_fs;
    int ok;
    wrmsr(0x174, 0x08);
    ok = rdmsr(0x174) == 0x08;
    wrmsr(0xc0000100, (unsigned long)&probe);
    asm volatile("movq %%fs:0,%0" : "=r"(through_fs) : : "memory");
    ok = ok && through_fs == 0x1234abcd && rdmsr(0xc0000100) == (unsigned long)&probe;
    wrmsr(0xc0000100, 0);
    check("model-specific registers (wrmsr, rdmsr: sysenter cs, fs base)", ok);
}

/* --- identification --- */

static void cpuid(unsigned long leaf, unsigned int r[4])
{
    asm volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(0ul));
}

/* Under Xen the guest must see Xen's leaves ("XenVMMXenVMM" at 0x40000000), which only the
 * forced-emulation prefix the backend writes shows; natively cpuid would show QEMU's. */
static void identification(int under_xen)
{
    unsigned int r[4];
    int ok;
    cpuid(0, r);
    ok = r[0] >= 1 && r[1] != 0 && r[2] != 0 && r[3] != 0;
    if (under_xen) {
        cpuid(0x40000000, r);
        ok = ok && r[1] == 0x566e6558 && r[2] == 0x65584d4d && r[3] == 0x4d4d566e;
    }
    check("processor identification (cpuid)", ok);
}

/* --- tlb and caches --- */

static void caches(void)
{
    static volatile unsigned long page[512] __attribute__((aligned(4096)));
    page[0] = 1;
    asm volatile("invlpg (%0)" : : "r"(page) : "memory");
    asm volatile("wbinvd" : : : "memory");
    check("tlb and caches (invlpg, wbinvd)", page[0] == 1);
}

/* --- port i/o --- */

static void port_io(void)
{
    check("port i/o (in, out: the COM1 line status)", serial_transmitter_empty());
}

int run_checks(int under_xen)
{
    pic_mask_all();
    interrupt_flag();
    segments();
    timer_setup();
    descriptor_table();
    halt();
    pending_interrupt();
    masked_interrupt();
    page_table_base();
    task_switched();
    model_specific_registers();
    identification(under_xen);
    caches();
    port_io();
    return check_failures();
}
