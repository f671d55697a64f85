/* checks.c: every sensitive kind the linux-user VMM emulates, each with a check whose outcome is the
 * same on bare hardware and on a virtual CPU. Only verdicts are printed, never raw values, so that the
 * transcript is the same on every platform.
 * SPDX-License-Identifier: MIT
 */
#include "guest.h"

volatile unsigned int far_calls, soft_interrupts;

/* --- the interrupt flag: cli, sti, pushf, popf --- */

static unsigned long flags(void)
{
    unsigned long f;
    asm volatile("pushfl; popl %0" : "=r"(f) : : "memory");
    return f;
}

static void set_flags(unsigned long f) { asm volatile("pushl %0; popfl" : : "r"(f) : "memory", "cc"); }

#define IF 0x200

static void interrupt_flag(void)
{
    int ok;
    asm volatile("cli" : : : "memory");
    ok = (flags() & IF) == 0;
    asm volatile("sti" : : : "memory");
    ok = ok && (flags() & IF) != 0;
    set_flags(0x002);
    ok = ok && (flags() & IF) == 0;
    set_flags(0x202);
    ok = ok && (flags() & IF) != 0;
    asm volatile("cli" : : : "memory");
    check("interrupt flag (cli, sti, pushf, popf)", ok);
}

/* --- control registers --- */

static void control_registers(void)
{
    unsigned long cr0, v;
    int ok;
    asm volatile("movl %%cr0,%0" : "=r"(cr0));
    ok = (cr0 & 1) != 0; /* protected mode */
    asm volatile("movl %0,%%cr3" : : "r"(0x00003000ul) : "memory");
    asm volatile("movl %%cr3,%0" : "=r"(v));
    ok = ok && v == 0x3000;
    asm volatile("movl %0,%%cr2" : : "r"(0x00dead00ul));
    asm volatile("movl %%cr2,%0" : "=r"(v));
    ok = ok && v == 0x00dead00;
    asm volatile("movl %0,%%cr4" : : "r"(0ul));
    asm volatile("movl %%cr4,%0" : "=r"(v));
    ok = ok && v == 0;
    check("control registers (mov to and from cr0, cr2, cr3, cr4)", ok);

    asm volatile("smsw %0" : "=r"(v));
    ok = (v & 0xffff) == (cr0 & 0xffff);
    asm volatile("lmsw %w0" : : "r"((unsigned short)(cr0 | 8)));      /* set TS */
    asm volatile("movl %%cr0,%0" : "=r"(v));
    ok = ok && (v & 8) != 0;
    asm volatile("clts");
    asm volatile("movl %%cr0,%0" : "=r"(v));
    ok = ok && (v & 8) == 0;
    check("machine status word (smsw, lmsw, clts)", ok);
}

/* --- debug registers --- */

static void debug_registers(void)
{
    unsigned long v;
    int ok;
    asm volatile("movl %0,%%db0" : : "r"(0x00123450ul));
    asm volatile("movl %%db0,%0" : "=r"(v));
    ok = v == 0x00123450;
    asm volatile("movl %0,%%dr1" : : "r"(0x00054320ul));
    asm volatile("movl %%dr1,%0" : "=r"(v));
    ok = ok && v == 0x00054320;
    check("debug registers (mov to and from db0, dr1)", ok);
}

/* --- descriptor tables and segments --- */

struct table_register {
    unsigned short limit;
    unsigned long base;
} __attribute__((packed));

static unsigned long long gdt[4] __attribute__((aligned(8))) = {
    0,
    0x00cf9a000000ffffull, /* 0x08: code, flat, 32-bit */
    0x00cf92000000ffffull, /* 0x10: data, flat, 32-bit */
    0x00cf92000000ffffull, /* 0x18: data, flat, 32-bit */
};
static unsigned long long idt[0x31] __attribute__((aligned(8)));

static void descriptor_tables(void)
{
    struct table_register g = {sizeof gdt - 1, (unsigned long)gdt}, i, readback;
    unsigned long handler = (unsigned long)soft_interrupt;
    unsigned short selector;
    int ok;

    asm volatile("lgdt %0" : : "m"(g));
    asm volatile("sgdt %0" : "=m"(readback));
    ok = readback.limit == g.limit && readback.base == g.base;

    idt[0x30] = (handler & 0xffff) | (0x08ull << 16) | (0x8eull << 40) | ((unsigned long long)(handler >> 16) << 48);
    i.limit = sizeof idt - 1;
    i.base = (unsigned long)idt;
    asm volatile("lidt %0" : : "m"(i));
    asm volatile("sidt %0" : "=m"(readback));
    ok = ok && readback.limit == i.limit && readback.base == i.base;

    asm volatile("lldt %w0" : : "r"((unsigned short)0));
    asm volatile("sldt %w0" : "=r"(selector));
    ok = ok && selector == 0;
    check("descriptor tables (lgdt, sgdt, lidt, sidt, lldt, sldt)", ok);
}

static void segment_registers(void)
{
    unsigned short cs, ds, fs, gs;
    struct {
        unsigned long offset;
        unsigned short selector;
    } __attribute__((packed)) far = {0, 0x18};
    unsigned long target;
    int ok;

    asm volatile("ljmp $0x08, $1f\n1:" : : : "memory");
    asm volatile("movw %%cs,%0" : "=r"(cs));
    asm volatile("movw %w0,%%ds\n\tmovw %w0,%%es\n\tmovw %w0,%%ss" : : "r"(0x10) : "memory");
    asm volatile("movw %%ds,%0" : "=rm"(ds));
    asm volatile("pushl %%ds\n\tpopl %%fs" : : : "memory");
    asm volatile("movw %%fs,%0" : "=r"(fs));
    ok = cs == 0x08 && ds == 0x10 && fs == 0x10;
    asm volatile("lgsl %1,%0" : "=r"(target) : "m"(far));
    asm volatile("movw %%gs,%0" : "=r"(gs));
    ok = ok && gs == 0x18 && target == 0;
    asm volatile("pushl %%gs\n\tpopl %%gs" : : : "memory");
    asm volatile("movw %%gs,%0" : "=r"(gs));
    ok = ok && gs == 0x18;
    check("segment registers (ljmp, mov to and from segment registers, push and pop, lgs)", ok);
}

static void far_transfers(void)
{
    asm volatile("lcall $0x08, $far_target" : : : "memory");
    asm volatile("int $0x30" : : : "memory");
    check("far call and return, software interrupt (lcall, lret, int, iret)", far_calls == 1 && soft_interrupts == 1);
}

/* --- model-specific registers, cpuid, caches --- */

static void model_specific_registers(void)
{
    unsigned long lo, hi;
    asm volatile("wrmsr" : : "c"(0x174ul), "a"(0x08ul), "d"(0ul));   /* IA32_SYSENTER_CS */
    asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(0x174ul));
    check("model-specific registers (wrmsr, rdmsr)", lo == 0x08 && hi == 0);
}

static void identification(void)
{
    unsigned long a, b, c, d;
    asm volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0ul), "c"(0ul));
    check("processor identification (cpuid)", a >= 1 && b != 0 && c != 0 && d != 0);
}

static void caches(void)
{
    static char page[4096] __attribute__((aligned(4096)));
    asm volatile("invlpg (%0)" : : "r"(page) : "memory");
    asm volatile("wbinvd" : : : "memory");
    check("tlb and caches (invlpg, wbinvd)", 1);
}

static void port_io(void)
{
    check("port i/o (in, out: the COM1 line status)", serial_transmitter_empty());
}

int run_checks(void)
{
    pic_mask_all();
    interrupt_flag();
    control_registers();
    debug_registers();
    descriptor_tables();
    segment_registers();
    far_transfers();
    model_specific_registers();
    identification();
    caches();
    port_io();
    return check_failures();
}
