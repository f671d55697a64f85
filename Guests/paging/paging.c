/* paging.c: a guest that checks the MMU a kernel relies on, on hardware and under `previrt run`:
 * two-level page tables with 4 KiB pages and a 4 MiB page (CR4.PSE), the accessed and dirty bits the
 * CPU sets in the PDE and PTE, #PF with CR2 and the error code for a page that is not present and for
 * a write to a read-only page with CR0.WP set, invlpg and a CR3 reload taking a changed PTE, and two
 * linear addresses of one physical page staying coherent. Its transcript is the same everywhere.
 * SPDX-License-Identifier: MIT
 */
#include "console.h"

typedef unsigned int u32;

#define P 0x1u
#define W 0x2u
#define A 0x20u
#define D 0x40u
#define PS 0x80u

/* The linear addresses the checks use, and the physical pages behind them. */
#define SMALL 0x40000000u   /* PDE 256 -> table: [0] -> PAGE0, [1] -> PAGE1 read-only, [2] not present */
#define LARGE 0x80000000u   /* PDE 512: a 4 MiB page -> 0x400000 */
#define PAGE0 0x200000u
#define PAGE1 0x201000u
#define PAGE2 0x202000u

static volatile u32 directory[1024] __attribute__((aligned(4096)));
static volatile u32 table[1024] __attribute__((aligned(4096)));
static unsigned long long idt[256];
static struct __attribute__((packed)) { unsigned short limit; u32 base; } idtr = {sizeof idt - 1, (u32)idt};

volatile u32 fault_error, fault_address, fault_count, fault_resume;
extern void page_fault_entry(void);

/* An interrupt gate to handler in the current code segment (QEMU's multiboot loader uses 0x08). */
static void set_gate(int vector, void (*handler)(void))
{
    u32 h = (u32)handler, cs;
    asm volatile("movl %%cs, %0" : "=r"(cs));
    idt[vector] = (h & 0xffff) | ((unsigned long long)(cs & 0xffff) << 16) | (0x8e00ull << 32) | ((unsigned long long)(h >> 16) << 48);
}

static void write_cr3(u32 v) { asm volatile("movl %0,%%cr3" : : "r"(v) : "memory"); }
static u32 read_cr0(void) { u32 v; asm volatile("movl %%cr0,%0" : "=r"(v)); return v; }
static u32 read_cr4(void) { u32 v; asm volatile("movl %%cr4,%0" : "=r"(v)); return v; }
static void write_cr0(u32 v) { asm volatile("movl %0,%%cr0" : : "r"(v) : "memory"); }
static void write_cr4(u32 v) { asm volatile("movl %0,%%cr4" : : "r"(v) : "memory"); }
static void invlpg(u32 a) { asm volatile("invlpg (%0)" : : "r"(a) : "memory"); }

/* Reads (or writes) `address`, expecting a #PF; returns the error code, or ~0 when nothing faulted. */
static u32 faulting_read(u32 address)
{
    u32 before = fault_count;
    asm volatile("movl $1f, fault_resume\n\tmovl (%0), %%eax\n1:" : : "r"(address) : "eax", "memory");
    return fault_count == before ? ~0u : fault_error;
}

static u32 faulting_write(u32 address)
{
    u32 before = fault_count;
    asm volatile("movl $1f, fault_resume\n\tmovl $0x5a5a5a5a, (%0)\n1:" : : "r"(address) : "memory");
    return fault_count == before ? ~0u : fault_error;
}

void guest_main(void)
{
    volatile u32 *small = (volatile u32 *)SMALL, *large = (volatile u32 *)LARGE;
    u32 e, i;

    serial_puts("previrt paging guest\n");
    *(volatile u32 *)PAGE0 = 0x11111111;
    *(volatile u32 *)PAGE1 = 0x22222222;
    *(volatile u32 *)PAGE2 = 0x33333333;
    *(volatile u32 *)0x401234 = 0;
    for (i = 0; i < 1024; i++)
        directory[i] = table[i] = 0;
    directory[0] = 0 | PS | W | P;           /* identity for the first 8 MiB: this program, its data and stack, */
    directory[1] = 0x400000 | PS | W | P;    /* and the physical pages behind the checks */
    directory[SMALL >> 22] = (u32)table | W | P;
    directory[LARGE >> 22] = 0x400000 | PS | W | P;
    table[0] = PAGE0 | W | P;
    table[1] = PAGE1 | P;                     /* read-only */
    set_gate(14, page_fault_entry);
    asm volatile("lidt %0" : : "m"(idtr));

    write_cr4(read_cr4() | 0x10);             /* PSE */
    write_cr3((u32)directory);
    write_cr0(read_cr0() | 0x80010000u);      /* PG, WP */
    check("paging on: the identity 4 MiB page runs this code", 1);

    e = *small;
    check("4 KiB page: a read sees the physical page", e == 0x11111111);
    check("4 KiB page: a read sets accessed in the PDE and the PTE, not dirty",
          (directory[SMALL >> 22] & A) && (table[0] & A) && !(table[0] & D));
    *small = 0x44444444;
    check("4 KiB page: the first write sets dirty", (table[0] & D) != 0);
    check("4 KiB page: the write reaches the physical page", *(volatile u32 *)PAGE0 == 0x44444444);

    large[0x1234 / 4] = 0x55555555;
    check("4 MiB page: a write reaches the physical page", *(volatile u32 *)0x401234 == 0x55555555);
    check("4 MiB page: accessed and dirty are set in the PDE", (directory[LARGE >> 22] & (A | D)) == (A | D));

    e = faulting_read(SMALL + 0x2000);
    check("#PF on a read of a page that is not present: error code 0", e == 0);
    check("#PF: CR2 is the address", fault_address == SMALL + 0x2000);
    e = faulting_write(SMALL + 0x1000);
    check("#PF on a write to a read-only page with CR0.WP: error code 3 (present, write)", e == 3);
    check("#PF: nothing was written", *(volatile u32 *)PAGE1 == 0x22222222);
    e = faulting_read(SMALL + 0x1000);
    check("a read of the read-only page does not fault", e == ~0u);

    table[0] = PAGE2 | W | P;
    invlpg(SMALL);
    check("invlpg: the changed PTE is used", *small == 0x33333333);
    table[0] = PAGE0 | W | P;
    write_cr3((u32)directory);
    check("a CR3 reload: the changed PTE is used", *small == 0x44444444);
    table[2] = PAGE2 | W | P;
    check("a PTE made present needs no flush", small[0x2000 / 4] == 0x33333333);

    write_cr0(read_cr0() & ~0x80000000u);
    check("paging off: physical addresses again", *(volatile u32 *)PAGE0 == 0x44444444);
    serial_puts(check_failures() ? "result: FAIL\n" : "result: pass\n");
    debug_exit(check_failures() ? EXIT_FAIL : EXIT_PASS);
}
