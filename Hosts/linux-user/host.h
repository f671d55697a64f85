/* host.h: the linux-user VMM's shared state.
 * SPDX-License-Identifier: MIT
 */
#ifndef HOST_H
#define HOST_H

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

void linux_user_backend(struct previrt_backend *backend, unsigned char *stubs, unsigned long size);
void host_flush(void);
void enter_guest(unsigned long entry, unsigned long magic, const void *mbi);

#endif
