/* host.h: the linux-user VMM's shared state.
 * SPDX-License-Identifier: MIT
 */
#ifndef HOST_H
#define HOST_H

#include "elf_check.h"
#include "previrt_runtime.h"

#define HOST_MAX_SITES 131072
#define HOST_MAX_MSRS 64

/* The virtual CPU. */
struct vcpu {
    unsigned int cr[16], dr[8];
    unsigned short cs, ds, es, fs, gs, ss, ldtr, tr;
    unsigned int table_base[2], table_limit[2]; /* [0] GDT, [1] IDT */
    unsigned int msr_index[HOST_MAX_MSRS];
    unsigned long long msr_value[HOST_MAX_MSRS];
    unsigned int msr_count;
    unsigned long port_reads, port_writes, tlb_flushes, cache_flushes;
};

/* A patched site, as the emulator needs it. */
struct host_site {
    unsigned char *start, *insn;   /* where the site and its instruction are (now patched over) */
    unsigned char bytes[16];       /* the original instruction, kept for the emulator */
    unsigned int length;
    struct previrt_insn decoded;
    unsigned int guest_esp;
    unsigned long executions;
};

extern struct vcpu vcpu;
extern unsigned int vmm_vif; /* the virtual interrupt flag: 0 or 0x200 */
extern struct host_site host_sites[HOST_MAX_SITES];
extern unsigned int host_site_count;

/* The VMM's exit statuses (Docs/in-place-vmm.md). The guest's own, through isa-debug-exit, are odd. */
#define VMM_EXIT_HALTED 0     /* hlt with the virtual interrupt flag clear */
#define VMM_EXIT_ERROR 2      /* refused to run, guest fault, stopped system call, lost console output */
#define VMM_EXIT_USAGE 64
#define VMM_EXIT_INTERNAL 70  /* a VMM bug: an emulator path its checks should have excluded */
#define VMM_EXIT_TIMEOUT 124  /* --timeout expired */

/* The guest's memory, as the loader checked and mapped it. */
extern struct guest_layout guest;

/* Syscall User Dispatch's selector byte: ALLOW while the VMM runs, BLOCK while the guest runs. */
#define VMM_SELECTOR_ALLOW 0
#define VMM_SELECTOR_BLOCK 1
extern volatile unsigned char vmm_selector;

/* The site being emulated (for messages about a fault in the emulator), or 0. */
extern const struct host_site *vmm_current_site;

void linux_user_backend(struct previrt_backend *backend, unsigned char *stubs, unsigned long size);
/* Writes the buffered console output; a failed write ends the run (VMM_EXIT_ERROR, with a message). */
void host_flush(void);
/* Flushes the console, prints "previrt run: " and the message on stderr, and ends the process. */
void vmm_exit(int status, const char *format, ...) __attribute__((noreturn, format(printf, 2, 3)));
void enter_guest(unsigned long entry, unsigned long magic, const void *mbi);

/* contain.c: from here on the guest cannot reach the host kernel (seccomp, Syscall User Dispatch) and
 * its faults, stopped system calls and the timeout end up in the VMM's handlers. */
void contain_guest(double timeout_seconds);

/* faults.c: a hardware exception or interrupt `vector` raised by the guest. Delivers it through the
 * guest's virtual IDT when a present gate handles it (pushing eflags, cs, eip [, error code] on the
 * guest's stack at *esp, as a CPU would; eip is where the guest resumes after iret), or returns -1. */
int deliver_to_guest(unsigned vector, int has_error, unsigned error, unsigned *eip, unsigned *esp, unsigned *eflags);
/* True when [address, address + length) is guest memory. */
int guest_memory(unsigned long address, unsigned long length);

#endif
