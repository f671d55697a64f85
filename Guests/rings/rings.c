/* rings.c: a guest that checks the page-level fence between its kernel and its user mode, on hardware
 * and under `previrt run`: a page below 3 GiB that the kernel maps without the user bit and touches
 * itself stays out of user mode's reach (#PF with the user bit in the error code), while a user page
 * beside it is readable from user mode. Under `previrt run` the kernel's access fills a host mapping
 * that user mode would share (the host cannot tell the guest's rings apart below 3 GiB): the VMM must
 * drop it on the way back to user mode. Its transcript is the same everywhere.
 * SPDX-License-Identifier: MIT
 */
#include "console.h"

typedef unsigned int u32;

#define P 0x1u
#define W 0x2u
#define U 0x4u
#define PS 0x80u

#define SUPERVISOR 0x40000000u /* PTE without U: the kernel's page */
#define USER 0x40001000u       /* PTE with U */
#define PAGE0 0x200000u
#define PAGE1 0x201000u

static volatile u32 directory[1024] __attribute__((aligned(4096)));
static volatile u32 table[1024] __attribute__((aligned(4096)));
static unsigned long long idt[256];
static struct __attribute__((packed)) { unsigned short limit; u32 base; } idtr = {sizeof idt - 1, (u32)idt};

/* The TSS: only ss0:esp0 (the kernel stack for an entry from user mode) matter. */
static u32 tss[26];
static unsigned char kernel_stack[4096] __attribute__((aligned(16)));

/* null, kernel code 0x08, kernel data 0x10, user code 0x1b, user data 0x23, TSS 0x28 */
static unsigned long long gdt[6];
static struct __attribute__((packed)) { unsigned short limit; u32 base; } gdtr = {sizeof gdt - 1, (u32)gdt};

volatile u32 fault_error, fault_address, fault_count, fault_resume, fault_ring;
volatile u32 user_value, user_steps;
extern void page_fault_entry(void), syscall_entry(void);
extern void run_user(void (*entry)(void));

static unsigned long long segment(u32 base, u32 limit, u32 access, u32 flags)
{
    return (limit & 0xffff) | (unsigned long long)(base & 0xffffff) << 16 | (unsigned long long)access << 40
           | (unsigned long long)((limit >> 16) & 0xf) << 48 | (unsigned long long)flags << 52 | (unsigned long long)(base >> 24) << 56;
}

static void set_gate(int vector, void (*handler)(void), u32 dpl)
{
    u32 h = (u32)handler;
    idt[vector] = (h & 0xffff) | (0x08ull << 16) | ((unsigned long long)(0x8e00 | dpl << 13) << 32) | ((unsigned long long)(h >> 16) << 48);
}

static void write_cr3(u32 v) { asm volatile("movl %0,%%cr3" : : "r"(v) : "memory"); }
static u32 read_cr0(void) { u32 v; asm volatile("movl %%cr0,%0" : "=r"(v)); return v; }
static u32 read_cr4(void) { u32 v; asm volatile("movl %%cr4,%0" : "=r"(v)); return v; }
static void write_cr0(u32 v) { asm volatile("movl %0,%%cr0" : : "r"(v) : "memory"); }
static void write_cr4(u32 v) { asm volatile("movl %0,%%cr4" : : "r"(v) : "memory"); }

/* User mode: reads the user page, then the kernel's page (which must fault), then ends by int $0x80.
 * Plain loads and stores only: nothing here is a site. */
static void __attribute__((used)) user_reads(void)
{
    user_value = *(volatile u32 *)USER;
    user_steps = 1;
    user_value = *(volatile u32 *)SUPERVISOR;
    user_steps = 2;
    asm volatile(".byte 0xcd, 0x80"); /* int $0x80, written as bytes so that it is not a site */
}

void guest_main(void)
{
    u32 i;

    serial_puts("previrt rings guest\n");
    pic_mask_all();
    *(volatile u32 *)PAGE0 = 0x5ec12e7;
    *(volatile u32 *)PAGE1 = 0x0ca1ca1;
    gdt[1] = segment(0, 0xfffff, 0x9a, 0xc);
    gdt[2] = segment(0, 0xfffff, 0x92, 0xc);
    gdt[3] = segment(0, 0xfffff, 0xfa, 0xc);
    gdt[4] = segment(0, 0xfffff, 0xf2, 0xc);
    gdt[5] = segment((u32)tss, sizeof tss - 1, 0x89, 0);
    tss[1] = (u32)kernel_stack + sizeof kernel_stack; /* esp0 */
    tss[2] = 0x10;                                     /* ss0 */
    asm volatile("lgdt %0\n\tljmp $0x08, $1f\n1:\n\tmovw $0x10, %%ax\n\tmovw %%ax, %%ss\n\tmovw $0x23, %%ax\n\tmovw %%ax, %%ds\n\t"
                 "movw %%ax, %%es\n\tmovw $0x28, %%ax\n\tltr %%ax" : : "m"(gdtr) : "eax", "memory");
    for (i = 0; i < 1024; i++)
        directory[i] = table[i] = 0;
    directory[0] = 0 | PS | U | W | P;        /* identity for the first 8 MiB, user-accessible: this program, */
    directory[1] = 0x400000 | PS | U | W | P; /* its data and stacks (user mode runs user_reads from here) */
    directory[SUPERVISOR >> 22] = (u32)table | U | W | P;
    table[0] = PAGE0 | W | P;                 /* the kernel's page: no U */
    table[1] = PAGE1 | U | W | P;
    set_gate(14, page_fault_entry, 0);
    set_gate(0x80, syscall_entry, 3);
    asm volatile("lidt %0" : : "m"(idtr));
    write_cr4(read_cr4() | 0x10);             /* PSE */
    write_cr3((u32)directory);
    write_cr0(read_cr0() | 0x80010000u);      /* PG, WP */
    check("paging on, with the guest's own GDT and TSS", 1);

    check("the kernel reads its own page below 3 GiB", *(volatile u32 *)SUPERVISOR == 0x5ec12e7);
    *(volatile u32 *)SUPERVISOR = 0x5ec12e8;
    check("the kernel writes its own page below 3 GiB", *(volatile u32 *)PAGE0 == 0x5ec12e8);

    fault_count = 0;
    run_user(user_reads);
    check("user mode reads the user page beside it", user_steps >= 1 && (user_steps == 2 || fault_count == 1));
    check("user mode's read of the kernel's page faults (#PF from ring 3)", fault_count == 1 && fault_ring == 3 && user_steps == 1);
    check("#PF: error code 5 (present, user)", fault_error == 5);
    check("#PF: CR2 is the kernel's page", fault_address == SUPERVISOR);
    check("user mode saw nothing of the kernel's page", user_value == 0x0ca1ca1);

    fault_count = 0;
    user_steps = 0;
    check("the kernel still reads its page", *(volatile u32 *)SUPERVISOR == 0x5ec12e8);
    run_user(user_reads);
    check("and user mode still cannot (a second return to user mode)", fault_count == 1 && user_steps == 1 && fault_error == 5);

    write_cr0(read_cr0() & ~0x80000000u);
    serial_puts(check_failures() ? "result: FAIL\n" : "result: pass\n");
    debug_exit(check_failures() ? EXIT_FAIL : EXIT_PASS);
}
