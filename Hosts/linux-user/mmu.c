/* mmu.c: the guest's linear addresses, emulated with host mappings.
 *
 * With CR0.PG clear, linear is physical: guest RAM is mapped at the same addresses (from
 * GUEST_LOWEST_ADDRESS up: the host maps nothing below vm.mmap_min_addr).
 *
 * With CR0.PG set, the host mappings are a software TLB filled on demand: a guest access to a linear
 * address the host has not mapped raises SIGSEGV (traps.c), and mmu_host_fault walks the guest's
 * two-level page tables (4 KiB pages, and 4 MiB pages when CR4.PSE is set), checks present, write and
 * user against the virtual CPL and CR0.WP, sets the accessed bit in the PDE and PTE (and the dirty bit
 * on a write), and maps that one page of the RAM memfd there. A clean page is mapped read-only, so its
 * first write faults again and sets the dirty bit. A walk that fails is a #PF for the guest, with the
 * error code a CPU would give (present, write, user). The whole TLB is dropped when the guest changes
 * CR0.PG/WP or CR4.PSE/PGE, and one page on invlpg. A CR3 write drops every page but the global ones
 * (the G bit, with CR4.PGE set) and the user pages the new page tables translate the same way (kept:
 * a TLB prefetch for the new address space could have loaded them); a user page the new tables map to
 * another frame the guest has already accessed gets that frame mapped over it in one mmap; the few
 * non-global pages above the kernel's split (KERNEL_SPLIT) go one by one from a list. With more than
 * KEEP_CHECK_LIMIT user pages mapped, everything below the split goes in one munmap instead. A guest
 * that marks user pages global gets them flushed anyway (more than a CPU does, never less).
 *
 * With an address-space pool (pool.c) each slot is a host process with its own mappings (the state
 * below is PER_PROCESS). A CR3 write for an address space another slot holds hands the CPU over; the
 * slot that takes over keeps each user page the page tables still translate the same way and drops
 * the rest (mmu_switch_in); global pages invalidated in one slot reach the others through a log.
 *
 * The VMM's own accesses to guest linear memory (the emulator's operands, exception frames, the IDT)
 * go through the same walk and then through the window (memory.c), never through a host mapping.
 * SPDX-License-Identifier: MIT
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "host.h"

#define PTE_P 0x1u
#define PTE_W 0x2u
#define PTE_U 0x4u
#define PTE_A 0x20u
#define PTE_D 0x40u
#define PDE_PS 0x80u
#define PTE_G 0x100u
#define PF_P 0x1u
#define PF_W 0x2u
#define PF_U 0x4u

/* More host mappings than this and the whole TLB is dropped (vm.max_map_count is 65530). */
#define MMU_MAX_FILLS 40000

/* Pages at or above this are flushed page by page on a CR3 write (Linux's kernel range); below, at once. */
#define KERNEL_SPLIT 0xc0000000u
#define MAX_LOCAL_HIGH 1024

u32 mmu_fault_address, mmu_fault_error;
/* What this process has mapped is its own (PER_PROCESS): with an address-space pool (pool.c) each slot
 * is a host process with its own mappings. */
static unsigned long fills PER_PROCESS; /* host pages mapped since the last full flush */
static u32 local_high[MAX_LOCAL_HIGH] PER_PROCESS; /* non-global pages mapped at or above KERNEL_SPLIT */

/* Which pages below KERNEL_SPLIT the host has mapped (one bit a page), and a list of them with the
 * guest frame each maps (MAPPED_WRITABLE set if the host mapping is writable): switch_space maps an
 * address space's recent pages only where nothing is, and a CR3 write keeps the pages the new page
 * tables translate the same way (flush_local). */
#define MAX_LOW_LIST 4096
#define MAPPED_WRITABLE 0x1u
#define MAPPED_VALID 0x2u /* map_user_translation's result is never 0 */
/* Below this many host pages, a CR3 write checks each against the new page tables; above, it drops them
 * all in one munmap (a munmap per page costs more than its share of one over the range). */
#define KEEP_CHECK_LIMIT 64
/* With a pool, a slot that takes over checks up to this many of its user pages against the page tables
 * (reads of guest memory, no system call for a page that is unchanged); above, it drops them all. */
#define POOL_CHECK_LIMIT 1024
static unsigned char low_mapped[KERNEL_SPLIT >> 15] PER_PROCESS;
static u32 low_list[MAX_LOW_LIST] PER_PROCESS, low_frame[MAX_LOW_LIST] PER_PROCESS;
static unsigned low_count PER_PROCESS;
static int low_overflow PER_PROCESS;
static unsigned check_limit(void) { return pool.slots > 1 ? POOL_CHECK_LIMIT : KEEP_CHECK_LIMIT; }

/* The user pages each address space (a CR3 value) had mapped, so that switching back to it maps them
 * again at once (each validated by a walk: present, user, accessed) instead of taking one host fault
 * each: a TLB prefetch, as a CPU may do. */
#define SPACES 32
#define SPACE_PAGES 8
static struct space {
    u32 cr3, count, next;
    u32 page[SPACE_PAGES];
} spaces[SPACES] PER_PROCESS;
static struct space *current_space PER_PROCESS;
static unsigned space_clock PER_PROCESS;

static struct space *space_for(u32 cr3)
{
    unsigned i;
    for (i = 0; i < SPACES; i++)
        if (spaces[i].count && spaces[i].cr3 == cr3)
            return &spaces[i];
    i = space_clock++ % SPACES;
    spaces[i].cr3 = cr3;
    spaces[i].count = spaces[i].next = 0;
    return &spaces[i];
}

static void space_record(u32 page)
{
    struct space *sp = current_space;
    if (!sp)
        return;
    sp->page[sp->next] = page;
    sp->next = (sp->next + 1) % SPACE_PAGES;
    if (sp->count < SPACE_PAGES)
        sp->count++;
}

static int low_is_mapped(u32 page) { return (low_mapped[page >> 15] >> ((page >> 12) & 7)) & 1; }

/* The list's entry for a mapped page, if the list is short enough to search (else MAX_LOW_LIST). */
static unsigned low_find(u32 page)
{
    unsigned i;
    if (low_count <= check_limit() && !low_overflow)
        for (i = 0; i < low_count; i++)
            if (low_list[i] == page)
                return i;
    return MAX_LOW_LIST;
}

static void low_mark(u32 page, u32 frame, int writable)
{
    unsigned i;
    space_record(page);
    if (low_is_mapped(page) && (i = low_find(page)) != MAX_LOW_LIST) { /* mapped again (a write to a clean page) */
        low_frame[i] = (frame & ~0xfffu) | (writable ? MAPPED_WRITABLE : 0);
        return;
    }
    low_mapped[page >> 15] |= (unsigned char)(1u << ((page >> 12) & 7));
    if (low_count < MAX_LOW_LIST) {
        low_frame[low_count] = (frame & ~0xfffu) | (writable ? MAPPED_WRITABLE : 0);
        low_list[low_count++] = page;
    } else
        low_overflow = 1;
}

static void low_clear_all(void)
{
    unsigned i;
    if (low_overflow)
        memset(low_mapped, 0, sizeof low_mapped);
    else
        for (i = 0; i < low_count; i++)
            low_mapped[low_list[i] >> 15] = 0;
    low_count = 0;
    low_overflow = 0;
}
static unsigned local_high_count PER_PROCESS;
static int local_high_overflow PER_PROCESS;

/* Global (kernel) pages are in every slot's host mappings, and an invlpg or a flush of them in one slot
 * must reach the others: a log of the pages invalidated, which a slot applies when it takes over (behind
 * by more than the log holds: it drops everything). Written only by the running slot. */
#define GLOBAL_LOG 256
#define LOG_FULL 1u /* not a page address: drop everything */
static struct {
    u32 generation;
    u32 page[GLOBAL_LOG];
} global_log;
static u32 log_seen PER_PROCESS; /* the generation this slot has applied */

static void log_invalidation(u32 page)
{
    if (pool.slots < 2)
        return;
    global_log.page[global_log.generation % GLOBAL_LOG] = page;
    log_seen = ++global_log.generation;
}

void mmu_log_full(void) { log_invalidation(LOG_FULL); }

static int paging(void) { return (vcpu.cr[0] & CR0_PG) != 0; }

static void identity_map(void)
{
    if (guest_ram_size > GUEST_LOWEST_ADDRESS
        && mmap((void *)GUEST_LOWEST_ADDRESS, guest_ram_size - GUEST_LOWEST_ADDRESS, PROT_READ | PROT_WRITE | PROT_EXEC,
                MAP_SHARED | MAP_FIXED, guest_ram_fd, GUEST_LOWEST_ADDRESS) == MAP_FAILED)
        vmm_exit(VMM_EXIT_ERROR, "cannot map guest RAM at its physical addresses: %s\n", strerror(errno));
}

static void flush_all(void)
{
    vcpu.tlb_flushes++;
    if (munmap(0, VMM_REGION_BASE) != 0)
        vmm_exit(VMM_EXIT_INTERNAL, "internal error: cannot drop the guest's mappings: %s\n", strerror(errno));
    fills = 0;
    local_high_count = 0;
    local_high_overflow = 0;
    low_clear_all();
    memory_restore_alias();
    current_space = paging() ? space_for(vcpu.cr[3] & ~0xfffu) : 0;
    if (!paging())
        identity_map();
    else if (pool.slots > 1)
        pool_holds(vcpu.cr[3] & ~0xfffu);
}

void mmu_start(void) { flush_all(); }

static void map_accessed_user_page(u32 linear);
static u32 map_user_translation(u32 linear);

/* The address space CR3 names becomes current: the user pages it had mapped are mapped again. */
static void switch_space(void)
{
    struct space *sp = space_for(vcpu.cr[3] & ~0xfffu);
    u32 pages[SPACE_PAGES], n = sp->count, i;
    memcpy(pages, sp->page, sizeof pages);
    sp->count = sp->next = 0; /* rebuilt by what is mapped now */
    current_space = sp;
    for (i = 0; i < n; i++)
        map_accessed_user_page(pages[i]);
}

/* Whether the current page tables translate the user page at `linear` to `frame` (low_frame's form)
 * the way its host mapping does: present, user, accessed, not a 4 MiB page, the same frame, and
 * writable and dirty if the host mapping is writable. Such a mapping is one the CPU could have
 * prefetched into its TLB for the new address space, so it may stay across the CR3 write. */
static int same_translation(u32 linear, u32 frame)
{
    u32 *pde = guest_phys((vcpu.cr[3] & ~0xfffu) + (linear >> 22) * 4, 4), *pte;
    if (!pde || (*pde & (PTE_P | PTE_U | PDE_PS)) != (PTE_P | PTE_U)
        || !(pte = guest_phys((*pde & ~0xfffu) + ((linear >> 12) & 0x3ff) * 4, 4))
        || (*pte & (PTE_P | PTE_U | PTE_A)) != (PTE_P | PTE_U | PTE_A) || (*pte & ~0xfffu) != (frame & ~0xfffu))
        return 0;
    return !(frame & MAPPED_WRITABLE) || ((*pte & *pde & PTE_W) && (*pte & PTE_D));
}

/* A CR3 write with CR4.PGE set: every mapping but the global ones goes, except user pages the new
 * address space translates the same way (a forked process's shared text, for one): a munmap of a page,
 * then an mmap and a host fault to map it again, are the largest costs of a context switch. */
static void flush_local(void)
{
    unsigned i, kept = 0;
    u32 frame;
    if (local_high_overflow) {
        flush_all();
        return;
    }
    vcpu.tlb_flushes++;
    if (low_overflow || low_count > KEEP_CHECK_LIMIT) {
        if (munmap(0, KERNEL_SPLIT) != 0)
            vmm_exit(VMM_EXIT_INTERNAL, "internal error: cannot drop the guest's user mappings: %s\n", strerror(errno));
        low_clear_all();
        memory_restore_alias();
    } else {
        for (i = 0; i < low_count; i++) {
            u32 page = low_list[i];
            if (!low_is_mapped(page))
                continue; /* invlpg dropped it, or an earlier entry for the same page did */
            if (same_translation(page, low_frame[i])) {
                low_list[kept] = page;
                low_frame[kept++] = low_frame[i];
                continue;
            }
            /* The new address space's own translation of the page, if it has used it, replaces the
             * old mapping in one mmap (a forked process's stack and data); otherwise the page goes. */
            if ((frame = map_user_translation(page)) != 0) {
                low_list[kept] = page;
                low_frame[kept++] = frame & ~MAPPED_VALID;
                continue;
            }
            munmap((void *)(unsigned long)page, 0x1000);
            low_mapped[page >> 15] &= (unsigned char)~(1u << ((page >> 12) & 7));
        }
        low_count = kept;
    }
    for (i = 0; i < local_high_count; i++)
        munmap((void *)(unsigned long)local_high[i], 0x1000);
    local_high_count = 0;
    switch_space();
}

/* Translates `linear` for an access (write if `write`) at the virtual CPL, setting the accessed and
 * dirty bits as a CPU would. Returns 0 with *pa and *writable (a write would not fault now), or -1 with
 * mmu_fault_address and mmu_fault_error set. */
static int system_access PER_PROCESS; /* the CPU's own accesses (IDT, GDT, TSS, the new stack): supervisor at any CPL */

static int last_global PER_PROCESS; /* the last successful walk's page is global (G, with CR4.PGE) */
static int last_user PER_PROCESS;   /* the last successful walk's page is a user page (U in the PDE and the PTE) */

static int walk(u32 linear, int write, u32 *pa, int *writable)
{
    int user = vcpu.cpl == 3 && !system_access;
    u32 *pde, *pte, rights, leaf;
    if (!paging()) {
        *pa = linear;
        *writable = 1;
        last_global = 0;
        return guest_phys(linear, 1) ? 0 : -1;
    }
    pde = guest_phys((vcpu.cr[3] & ~0xfffu) + (linear >> 22) * 4, 4);
    if (!pde || !(*pde & PTE_P))
        goto not_present;
    if ((*pde & PDE_PS) && (vcpu.cr[4] & CR4_PSE)) {
        rights = *pde;
        leaf = *pde;
        pte = pde;
        *pa = (leaf & 0xffc00000u) | (linear & 0x3fffffu);
    } else {
        pte = guest_phys((*pde & ~0xfffu) + ((linear >> 12) & 0x3ff) * 4, 4);
        if (!pte || !(*pte & PTE_P))
            goto not_present;
        rights = *pde & *pte;
        leaf = *pte;
        *pa = (leaf & ~0xfffu) | (linear & 0xfffu);
    }
    *writable = (rights & PTE_W) || (!user && !(vcpu.cr[0] & CR0_WP));
    if ((user && !(rights & PTE_U)) || (write && !*writable)) {
        mmu_fault_address = linear;
        mmu_fault_error = PF_P | (write ? PF_W : 0) | (user ? PF_U : 0);
        return -1;
    }
    if (pte != pde)
        __atomic_or_fetch(pde, PTE_A, __ATOMIC_RELAXED);
    __atomic_or_fetch(pte, PTE_A | (write ? PTE_D : 0), __ATOMIC_RELAXED);
    if (!(leaf & PTE_D) && !write)
        *writable = 0; /* clean: map it read-only so that the first write sets the dirty bit */
    last_global = (leaf & PTE_G) && (vcpu.cr[4] & CR4_PGE);
    last_user = (rights & PTE_U) != 0;
    return 0;
not_present:
    mmu_fault_address = linear;
    mmu_fault_error = (write ? PF_W : 0) | (user ? PF_U : 0);
    return -1;
}

/* Maps the user page at `linear` as the current page tables translate it, if the guest has already
 * accessed it (present, user, A set; writable only if dirty), over whatever the host has there.
 * Returns the frame in low_frame's form, or 0 if there is no such translation (nothing mapped). */
static u32 map_user_translation(u32 linear)
{
    u32 *pde = guest_phys((vcpu.cr[3] & ~0xfffu) + (linear >> 22) * 4, 4), *pte;
    int writable;
    if (memory_in_stub_alias(linear) || !pde
        || (*pde & (PTE_P | PTE_U | PDE_PS)) != (PTE_P | PTE_U) || !(pte = guest_phys((*pde & ~0xfffu) + ((linear >> 12) & 0x3ff) * 4, 4))
        || (*pte & (PTE_P | PTE_U | PTE_A)) != (PTE_P | PTE_U | PTE_A) || !guest_phys(*pte & ~0xfffu, 0x1000))
        return 0;
    writable = (*pte & *pde & PTE_W) && (*pte & PTE_D);
    if (mmap((void *)(unsigned long)linear, 0x1000, PROT_READ | PROT_EXEC | (writable ? PROT_WRITE : 0), MAP_SHARED | MAP_FIXED,
             guest_ram_fd, *pte & ~0xfffu) == MAP_FAILED)
        return 0;
    fills++;
    return (*pte & ~0xfffu) | (writable ? MAPPED_WRITABLE : 0) | MAPPED_VALID;
}

/* Maps the user page at `linear` from the current page tables if the guest has already accessed it (A
 * set; present, user; writable only if dirty) and the host has nothing there (a page already there was
 * kept by flush_local because it translates the same way: it stays in the address space's record). */
static void map_accessed_user_page(u32 linear)
{
    u32 frame;
    if (linear >= KERNEL_SPLIT || linear < GUEST_LOWEST_ADDRESS)
        return;
    if (low_is_mapped(linear)) { /* kept across the CR3 write: still this address space's */
        space_record(linear);
        return;
    }
    if ((frame = map_user_translation(linear)) != 0)
        low_mark(linear, frame, (frame & MAPPED_WRITABLE) != 0);
}

/* Supervisor pages below KERNEL_SPLIT that the guest kernel touched: the host maps them for the kernel,
 * but below the user segments' limit the host cannot tell the guest's rings apart, so they are dropped
 * before guest user code runs (mmu_enter_user). Linux maps nothing kernel-only there: the list stays
 * empty, and the hook costs a test per return to user mode. */
#define MAX_SUPERVISOR_LOW 64
static u32 supervisor_low[MAX_SUPERVISOR_LOW] PER_PROCESS;
static unsigned supervisor_low_count PER_PROCESS;
static int supervisor_low_overflow PER_PROCESS;

static void supervisor_low_record(u32 page)
{
    if (supervisor_low_count < MAX_SUPERVISOR_LOW)
        supervisor_low[supervisor_low_count++] = page;
    else
        supervisor_low_overflow = 1;
}

void mmu_enter_user(void)
{
    unsigned i;
    if (supervisor_low_overflow)
        flush_all();
    else
        for (i = 0; i < supervisor_low_count; i++)
            mmu_invlpg(supervisor_low[i]);
    supervisor_low_count = 0;
    supervisor_low_overflow = 0;
}

int mmu_host_fault(u32 address, int write)
{
    u32 pa, page = address & ~0xfffu;
    int writable;
    if (address >= VMM_REGION_BASE || !paging() || memory_in_stub_alias(address))
        return -2;
    if (walk(address, write, &pa, &writable) != 0)
        return -1;
    if (!guest_phys(pa & ~0xfffu, 0x1000))
        vmm_exit(VMM_EXIT_ERROR, "guest fault: the guest maps %#x to physical %#x, which is not RAM (%u MiB): "
                 "device memory is not emulated\n", address, pa, guest_ram_size >> 20);
    if (fills >= MMU_MAX_FILLS)
        flush_all();
    if (mmap((void *)(unsigned long)page, 0x1000, PROT_READ | PROT_EXEC | (writable ? PROT_WRITE : 0), MAP_SHARED | MAP_FIXED,
             guest_ram_fd, pa & ~0xfffu) == MAP_FAILED)
        vmm_exit(VMM_EXIT_ERROR, "guest fault: cannot map the guest's page at %#x: %s\n", page, strerror(errno));
    fills++;
    vcpu.page_fills++;
    if (page >= KERNEL_SPLIT && !last_global) {
        if (local_high_count < MAX_LOCAL_HIGH)
            local_high[local_high_count++] = page;
        else
            local_high_overflow = 1;
    }
    if (page < KERNEL_SPLIT) {
        low_mark(page, pa, writable);
        if (!last_user)
            supervisor_low_record(page);
    }
    return 0;
}

static int access(u32 linear, void *buffer, u32 length, int write)
{
    unsigned char *b = buffer;
    while (length) {
        u32 pa, n = 0x1000 - (linear & 0xfff);
        int writable;
        unsigned char *p;
        if (n > length)
            n = length;
        if (walk(linear, write, &pa, &writable) != 0 || !(p = guest_phys(pa, n))) {
            if (!paging()) { /* no RAM there: reported by the caller as an operand outside guest memory */
                mmu_fault_address = linear;
                mmu_fault_error = write ? PF_W : 0;
            }
            return -1;
        }
        if (write)
            memcpy(p, b, n);
        else
            memcpy(b, p, n);
        b += n;
        linear += n;
        length -= n;
    }
    return 0;
}

int guest_read(u32 linear, void *buffer, u32 length) { return access(linear, buffer, length, 0); }
int guest_write(u32 linear, const void *buffer, u32 length) { return access(linear, (void *)buffer, length, 1); }

int guest_read_system(u32 linear, void *buffer, u32 length)
{
    int r;
    system_access = 1;
    r = access(linear, buffer, length, 0);
    system_access = 0;
    return r;
}

int guest_write_system(u32 linear, const void *buffer, u32 length)
{
    int r;
    system_access = 1;
    r = access(linear, (void *)buffer, length, 1);
    system_access = 0;
    return r;
}

void mmu_control_registers(u32 old_cr0, int cr3_written, u32 old_cr4)
{
    int changed = ((old_cr0 ^ vcpu.cr[0]) & (CR0_PG | CR0_WP)) || ((old_cr4 ^ vcpu.cr[4]) & (CR4_PSE | CR4_PGE));
    unsigned slot;
    if (changed || (paging() && cr3_written && !(vcpu.cr[4] & CR4_PGE))) {
        flush_all();
        if (changed) /* a CPU drops its global pages too: so does every slot */
            mmu_log_full();
    } else if (paging() && cr3_written && pool.slots > 1) {
        /* the slot that holds the address space takes over at the end of this site (pool.c) */
        if ((slot = pool_slot_for(vcpu.cr[3] & ~0xfffu)) == pool_self)
            mmu_switch_in(MMU_SWITCH_OWN);
        else
            pool_request(slot);
    } else if (paging() && cr3_written)
        flush_local();
}

/* Applies the global invalidations other slots logged since this one last ran; 1 if that dropped
 * everything. */
static int apply_log(void)
{
    u32 behind = global_log.generation - log_seen, i, page;
    if (behind > GLOBAL_LOG) {
        log_seen = global_log.generation;
        flush_all();
        return 1;
    }
    for (i = 0; i < behind; i++) {
        page = global_log.page[(log_seen + i) % GLOBAL_LOG];
        if (page == LOG_FULL) {
            log_seen = global_log.generation;
            flush_all();
            return 1;
        }
        munmap((void *)(unsigned long)page, 0x1000);
    }
    log_seen = global_log.generation;
    return 0;
}

/* This slot runs the guest again (or its CR3 was written with the address space it holds): what a CR3
 * write flushes on a CPU goes, as flush_local, but the user pages of its own address space stay when
 * the page tables still translate them the same way (same_translation: present, user, accessed, the
 * same frame, writable only if dirty). Pages the guest changed while another slot ran are dropped; an
 * evicted slot's user range goes in one munmap. */
void mmu_switch_in(int how)
{
    unsigned i, kept = 0;
    if (how == MMU_SWITCH_FIRST) {
        log_seen = global_log.generation;
        flush_all();
        return;
    }
    if (apply_log() || !paging())
        return;
    if (!(vcpu.cr[4] & CR4_PGE) || local_high_overflow) {
        flush_all();
        return;
    }
    vcpu.tlb_flushes++;
    for (i = 0; i < local_high_count; i++)
        munmap((void *)(unsigned long)local_high[i], 0x1000);
    local_high_count = 0;
    if (how == MMU_SWITCH_OTHER || low_overflow || low_count > POOL_CHECK_LIMIT) {
        if (munmap(0, KERNEL_SPLIT) != 0)
            vmm_exit(VMM_EXIT_INTERNAL, "internal error: cannot drop the guest's user mappings: %s\n", strerror(errno));
        low_clear_all();
        memory_restore_alias();
        return;
    }
    for (i = 0; i < low_count; i++) {
        u32 page = low_list[i];
        if (!low_is_mapped(page))
            continue;
        if (same_translation(page, low_frame[i])) {
            low_list[kept] = page;
            low_frame[kept++] = low_frame[i];
            continue;
        }
        munmap((void *)(unsigned long)page, 0x1000);
        low_mapped[page >> 15] &= (unsigned char)~(1u << ((page >> 12) & 7));
    }
    low_count = kept;
}

void mmu_invlpg(u32 address)
{
    vcpu.tlb_flushes++;
    if (paging() && address < VMM_REGION_BASE && !memory_in_stub_alias(address)) {
        munmap((void *)(unsigned long)(address & ~0xfffu), 0x1000);
        if (address >= KERNEL_SPLIT)
            log_invalidation(address & ~0xfffu); /* a global page is in the other slots too */
        if (address < KERNEL_SPLIT) {
            unsigned i = low_find(address & ~0xfffu);
            if (i != MAX_LOW_LIST) { /* off the list, so that a CR3 write does not look at it */
                low_list[i] = low_list[--low_count];
                low_frame[i] = low_frame[low_count];
            }
            low_mapped[address >> 15] &= (unsigned char)~(1u << ((address >> 12) & 7));
        }
    }
}
