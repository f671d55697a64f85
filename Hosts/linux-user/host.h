/* host.h: the linux-user VMM's shared state and the interfaces between its files.
 *
 * The VMM is a 32-bit static Linux process. The guest runs in the same process, in the VMM's own flat
 * segments, in host ring 3; everything the hardware would do for a guest kernel in ring 0 the VMM does
 * in software. The process's 4 GiB address space is split in two (Docs/linux-on-linux.md, "VMM design"):
 *
 *   [0, VMM_REGION_BASE)           the guest's: its linear addresses are host addresses
 *   [VMM_REGION_BASE, 4 GiB)       the VMM's: its image, heap, stubs, the window on guest RAM, the
 *                                  host's vDSO/vvar and stack; a Linux guest is told to keep out of it
 *                                  with reservetop= (4 GiB - VMM_REGION_BASE)
 *
 * Guest RAM is a memfd. The VMM reads and writes guest-physical memory only through its window on it
 * (memory.c); guest linear addresses are filled in on demand from the guest's page tables (mmu.c).
 * With --address-spaces N the VMM is N such processes (pool.c), one per guest address space, sharing
 * .data and .bss, each with its own page tables and its own PER_PROCESS state; one runs at a time.
 * SPDX-License-Identifier: MIT
 */
#ifndef HOST_H
#define HOST_H

#include "elf_check.h"
#include "previrt_runtime.h"

typedef unsigned int u32;
typedef unsigned long long u64;

/* --- the address-space layout --- */
#define VMM_REGION_BASE 0xE8000000u  /* the VMM is linked here (Makefile: -Ttext-segment) */
#define VMM_STUB_BASE 0xEC000000u    /* the stubs sites call: a memfd, so it can have an alias */
#define VMM_STUB_SIZE 0x00800000u
#define VMM_RAM_WINDOW 0xED000000u   /* guest RAM, guest-physical address 0 at this address */
#define VMM_MAX_RAM_MIB 144u         /* the window ends at 0xF6000000, below the host's vDSO (~0xF7Fxxxxx) */
#define VMM_DEFAULT_RAM_MIB 64u

#define HOST_MAX_SITES 131072

/* State each process of the address-space pool keeps for itself (pool.c, vmm.ld); everything else in
 * .data and .bss is shared by the pool. Only zero-initialized variables: the section is not loaded. */
#define PER_PROCESS __attribute__((section(".previrt_private")))

/* The virtual CPU. */
struct vcpu {
    u32 cr[16], dr[8];
    unsigned short cs, ds, es, fs, gs, ss, ldtr, tr;
    u32 table_base[2], table_limit[2]; /* [0] GDT, [1] IDT */
    unsigned cpl;                      /* the virtual privilege level: 0 (only 0 so far) */
    unsigned long port_reads, port_writes, tlb_flushes, cache_flushes, page_fills, page_faults;
};

#define CR0_PE 0x1u
#define CR0_TS 0x8u
#define CR0_WP 0x10000u
#define CR0_PG 0x80000000u
#define CR4_PSE 0x10u
#define CR4_PGE 0x80u

/* A patched site, as the emulator needs it. */
struct host_site {
    u32 start, insn;               /* the guest (linear) addresses of the site and its instruction */
    unsigned char bytes[16];       /* the original instruction, kept for the emulator */
    unsigned int length;
    struct previrt_insn decoded;
    unsigned int guest_esp;
    unsigned long executions;
};

extern struct vcpu vcpu;
/* The offset of a 32-bit ModRM memory operand at p (registers in ModRM order), its length (emulate.c). */
u32 modrm_offset(const unsigned char *p, const u32 r[8], unsigned *length);
/* The virtual segment register with ModRM number n (es, cs, ss, ds, fs, gs), or 0 (emulate.c). */
unsigned short *vcpu_segment(int n);
extern unsigned int vmm_vif; /* the virtual interrupt flag: 0 or 0x200 */
extern struct host_site host_sites[HOST_MAX_SITES];
extern unsigned int host_site_count;
extern int vmm_trace; /* --trace: log emulated sites and faults on standard error */

/* The VMM's exit statuses (Docs/in-place-vmm.md). The guest's own, through isa-debug-exit, are odd. */
#define VMM_EXIT_HALTED 4     /* hlt with the virtual interrupt flag clear: the machine stopped for good (Linux's halt) */
#define VMM_EXIT_RESET 0      /* the guest reset the machine (port 0x64 or 0xcf9): Linux's reboot */
#define VMM_EXIT_ERROR 2      /* refused to run, guest fault, stopped system call, lost console output */
#define VMM_EXIT_USAGE 64
#define VMM_EXIT_INTERNAL 70  /* a VMM bug: an emulator path its checks should have excluded */
#define VMM_EXIT_TIMEOUT 124  /* --timeout expired */

/* The guest's ELF file, as the loader checked it. */
extern struct guest_layout guest;

/* Syscall User Dispatch's selector byte: ALLOW while the VMM runs, BLOCK while the guest runs. */
#define VMM_SELECTOR_ALLOW 0
#define VMM_SELECTOR_BLOCK 1
extern volatile unsigned char vmm_selector;

/* The site being emulated (for messages about a fault in the emulator), or 0. */
extern const struct host_site *vmm_current_site;

/* sites.c: the backend that patches each site into a call to a stub in `stubs` (VMM_STUB_SIZE bytes).
 * `delta` is a site's guest address minus the address it is patched at (sites are patched through the
 * window on guest RAM). */
void linux_user_backend(struct previrt_backend *backend, unsigned char *stubs, long delta);
int vmm_unavailable(unsigned kind);
/* The index of the site whose patched call is at guest address `at`, or -1. */
int site_called_at(u32 at);
/* console.c: the console output and the port map. */
void host_flush(void);
void console_putc(unsigned char c); /* a byte the UART transmitted, for standard output */
/* Flushes the console, prints "previrt run: " and the message on stderr, and ends the process. */
void vmm_exit(int status, const char *format, ...) __attribute__((noreturn, format(printf, 2, 3)));
void vmm_trace_log(const char *format, ...) __attribute__((format(printf, 1, 2)));
u32 port_in(unsigned port, int size);
void port_out(unsigned port, u32 value, int size);
int is_latch(unsigned port);
extern unsigned char vmm_port_latch[256];
/* entry.S */
void enter_guest(u32 entry, u32 eax, u32 ebx, u32 esi);

/* cpu.c: what the virtual CPU says it is (cpuid) and its model-specific registers. */
void cpu_cpuid(u32 leaf, u32 subleaf, u32 r[4]);
/* Measures the host TSC's frequency (10 ms against CLOCK_MONOTONIC_RAW) for cpuid leaf 0x15. */
void cpu_measure_tsc(void);
/* 0, or -1: the MSR does not exist (the caller raises #GP). */
int cpu_rdmsr(u32 index, u64 *value);
int cpu_wrmsr(u32 index, u64 value);

/* memory.c: guest RAM (a memfd) and the VMM's window on it. */
extern u32 guest_ram_size;
extern int guest_ram_fd;
void memory_init(u32 mib);
/* A pointer into the window for guest-physical [pa, pa + length), or 0 when that is not all RAM. */
void *guest_phys(u64 pa, u64 length);
/* The stub area (sites call into it) and its alias at stub - page_offset, for a kernel that runs its
 * first instructions at the physical addresses of code linked high. */
unsigned char *memory_stubs(void);
void memory_alias_stubs(u32 page_offset);
int memory_in_stub_alias(u32 address);
u32 memory_stub_alias(void);

/* mmu.c: the guest's linear addresses. */
/* A walk's outcome: 0, or the #PF error code | 0x100 (the fault's cr2 is in mmu_fault_address). */
extern u32 mmu_fault_address, mmu_fault_error;
/* Reads or writes guest linear memory through the window, as the guest at vcpu.cpl would (accessed and
 * dirty bits kept). Returns 0, or -1 with mmu_fault_address/error set (a #PF for the guest). */
int guest_read(u32 linear, void *buffer, u32 length);
int guest_write(u32 linear, const void *buffer, u32 length);
/* The same as a supervisor access at any CPL: the CPU's own reads of the IDT, GDT and TSS, and its
 * pushes on the kernel stack. */
int guest_read_system(u32 linear, void *buffer, u32 length);
int guest_write_system(u32 linear, const void *buffer, u32 length);
/* A host fault at `address` (write if `write`): fills the host mapping from the guest's page tables.
 * Returns 0 (filled: retry), or -1 with mmu_fault_* set (the guest takes a #PF), or -2 (not the guest's). */
int mmu_host_fault(u32 address, int write);
/* The guest wrote CR0, CR3 or CR4 (old values given), or ran invlpg. */
void mmu_control_registers(u32 old_cr0, int cr3_written, u32 old_cr4);
void memory_restore_alias(void);
void memory_descriptors(int *ram, int *stubs, u32 *alias);
void mmu_invlpg(u32 address);
/* The guest returns to user mode: the supervisor pages below 3 GiB the kernel touched are dropped. */
void mmu_enter_user(void);
void mmu_start(void);

/* interrupts.c: delivers vector through the guest's IDT: pushes [error] eip cs eflags on the guest's
 * stack at *esp, as a CPU in ring 0 would. Returns 0, -1 (no present gate), -2 (the stack cannot take
 * the frame: a double fault). */
int deliver_to_guest(unsigned vector, int has_error, unsigned error, u32 *eip, u32 *esp, u32 *eflags);
/* The same, from CPL 3 with the stack switch to the guest TSS's ss0:esp0 (then vmm_left_user is set and
 * the caller puts the host's flat segments back); `software`: an int $n, which needs a gate of DPL 3
 * from user mode (-3 otherwise: the caller raises #GP(n * 8 + 2)). */
int deliver_from(unsigned vector, int software, int has_error, unsigned error, u32 *eip, u32 *esp, u32 *eflags);
extern int vmm_left_user;

/* usermode.c: guest user mode on the host's LDT segments. */
extern unsigned short vmm_user_cs, vmm_user_ds, vmm_user_fs, vmm_user_gs;
void usermode_init(void);
void usermode_enter(void);
int usermode_segments(unsigned long *fs, unsigned long *gs);
int usermode_tls(unsigned short selector, u32 *base, u32 *limit);
int usermode_tls_window(unsigned slot, int open);
/* tls.c: the TLS fence. tls_fault: a #GP in guest user mode whose instruction (code[0, n)) goes through
 * %fs or %gs: 1 if the VMM performed it (or set up its single step, or delivered its #PF) and the
 * context is ready to continue, 0 if it is a #GP for the guest kernel. tls_close: called first for
 * every signal; closes an open single-step window; 1 if the signal was that step's trap and is done. */
int tls_fault(void *context, const unsigned char *code, unsigned n);
int tls_close(int sig, void *context);
extern unsigned long vmm_tls_emulated, vmm_tls_stepped, vmm_tls_refused;
/* traps.c: a signal context that was in guest user mode now continues in the guest kernel. */
struct ucontext_t;
void context_to_kernel(void *uc);
/* The signal context continues at eip/esp/eflags, on the kernel's segments if the delivery left user mode. */
void context_continue(void *uc, u32 eip, u32 esp, u32 eflags);
extern unsigned short vmm_cs, vmm_ds, vmm_gs;
extern int vmm_resume_user;
void memory_drop_alias(void);

/* board.c: the PC's devices (devices/: the 8259A pair, the 8254 and port 0x61, the 16550A on COM1),
 * the host timer, console input. */
void board_init(void);
int board_timer_id(void);
int board_pending(void);
int board_acknowledge(void);      /* the vector of the highest pending request, now in service; -1 if none */
void board_tick(void);            /* IRQ0 for the PIT's edges, console input, the host timer re-armed */
void board_sleep(void);           /* hlt: until the timer's signal or console input (returns at once if pending) */
int board_handles(unsigned port);
int board_port_in(unsigned port, int size, u32 *value);   /* 0: not a board port */
int board_port_out(unsigned port, int size, u32 value);
extern volatile u32 vmm_irq_pending; /* board_pending(), for the stubs */
extern volatile u32 vmm_tick_due;    /* the timer fired while the VMM ran: board_tick when it is done */
/* Delivers the pending interrupt through the guest's IDT (eip, esp, eflags as for deliver_to_guest). */
void deliver_pending(u32 *eip, u32 *esp, u32 *eflags);
/* The VMM's part is done: a timer signal that came meanwhile is handled now. */
static inline void vmm_catch_up(void)
{
    if (vmm_tick_due) {
        vmm_tick_due = 0;
        board_tick();
    }
}

/* pool.c: one host process (a slot) per guest address space; the process that started supervises. */
#define POOL_MAX_SLOTS 32
#define POOL_DEFAULT_SLOTS 8
struct pool {
    unsigned slots, running, clock;
    u32 cr3[POOL_MAX_SLOTS], used[POOL_MAX_SLOTS], stale[POOL_MAX_SLOTS];
    u32 frame[9]; /* the guest's registers at a hand-over (emulate.c's struct frame) */
    unsigned char fpu[512] __attribute__((aligned(16)));
    unsigned long switches, evictions;
};
extern struct pool pool;
extern volatile u32 pool_turn[POOL_MAX_SLOTS]; /* futex words: 1 while the slot has the virtual CPU */
extern unsigned pool_self;
/* Remaps the VMM's state shared, forks the slots (each contained, with its own host timer) and returns
 * in slot 0; the calling process becomes the supervisor and never returns. */
void pool_start(unsigned slots, double timeout);
unsigned pool_slot_for(u32 cr3);     /* the slot for a CR3 write (this one, another, or the LRU one) */
void pool_holds(u32 cr3);            /* this slot now holds the address space at cr3 */
void pool_request(unsigned slot);    /* hand over to `slot` at the end of the current site */
void pool_switch_if_requested(void *frame);
void pool_enter(void);               /* entry.S: a slot's first turn */
/* mmu.c: a slot takes over; its host mappings were for its own address space, for another one (evicted),
 * or are whatever it inherited (its first turn). */
enum { MMU_SWITCH_OWN, MMU_SWITCH_OTHER, MMU_SWITCH_FIRST };
void mmu_switch_in(int how);
void mmu_log_full(void); /* every other slot drops all its host mappings when it next runs */
/* board.c: each slot's own host timer. */
void board_timer_create(void);
void board_follow_timer(void); /* armed for the PIT's next edge, if it is not */
void board_timer_fired(void);

/* contain.c: from here on the guest cannot reach the host kernel (seccomp, Syscall User Dispatch) and
 * its faults, stopped system calls and the timeout end up in the VMM's handlers. */
void contain_guest(double timeout_seconds);
/* The supervisor's own filter, once the slots are forked: it may only wait for them, signal them (SIGKILL,
 * SIGALRM) and itself (to die of a stop signal), arm its alarm, write to fd 2 and exit. 0, or -1 (errno). */
int contain_supervisor(const int *slot_pids, unsigned count);


#endif
