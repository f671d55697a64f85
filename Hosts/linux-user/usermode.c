/* usermode.c: guest user mode (virtual CPL 3) on the host's segments.
 *
 * Guest kernel code runs in the VMM's flat segments. Guest user code runs in the host's LDT: a code and
 * a data segment with base 0 and a limit of 3 GiB - 1, so that a user access to the guest kernel's
 * range (0xC0000000 and up, and the VMM's region above it) faults (#GP) whatever the host has mapped
 * there, as the guest's page tables say it must. The guest's own TLS segments (the %fs and %gs its
 * user code loads: descriptors in the guest's GDT or LDT) are copied into two more LDT slots when the
 * guest returns to user mode with them loaded, after checking them: a present, expand-up, 32-bit data
 * segment of DPL 3 whose base is below 3 GiB. Their limit is fenced too: it ends below 3 GiB (offsets
 * [0, 3 GiB - base), or the guest's own limit if that is lower). glibc's TLS reads below its base
 * through offsets that wrap (`movl %gs:-4, %eax` with a 4 GiB limit); such an access now faults (#GP)
 * and tls.c performs it when every address it touches is a user address (below 3 GiB), through
 * usermode_tls and usermode_tls_window below.
 *
 *   host LDT slot 0 (selector 0x07): user code, slot 1 (0x0f): user data, slot 2 (0x17): the guest's
 *   %fs, slot 3 (0x1f): the guest's %gs.
 * SPDX-License-Identifier: MIT
 */
#define _GNU_SOURCE
#include <asm/ldt.h>
#include <errno.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "host.h"

#define USER_LIMIT 0xbfffffffu /* 3 GiB - 1: the last offset user code may reach through a flat segment */

unsigned short vmm_user_cs = 0x07, vmm_user_ds = 0x0f, vmm_user_fs, vmm_user_gs;
static struct user_desc installed[4] PER_PROCESS; /* each slot's own LDT (pool.c) */
static int installed_valid[4] PER_PROCESS;

/* The guest TLS descriptors in slots 2 and 3: the guest's base and limit (in bytes) and the fenced
 * limit the host has while guest user code runs. */
static struct tls_segment {
    u32 base, limit, fence;
    int valid;
} tls[2];

/* Installs a descriptor in the host LDT, unless it is there already. `limit` is in bytes: up to 1 MiB
 * byte-granular, above that page-granular, rounded down to whole pages (never more than asked). */
static int install(unsigned slot, u32 base, u32 limit, int code)
{
    struct user_desc d;
    memset(&d, 0, sizeof d);
    d.entry_number = slot;
    d.base_addr = base;
    d.limit = limit;
    if (limit > 0xfffffu) {
        d.limit = (limit & 0xfffu) == 0xfffu ? limit >> 12 : (limit >> 12) - 1;
        d.limit_in_pages = 1;
    }
    d.seg_32bit = 1;
    d.contents = code ? MODIFY_LDT_CONTENTS_CODE : MODIFY_LDT_CONTENTS_DATA;
    d.useable = 1;
    if (installed_valid[slot] && memcmp(&installed[slot], &d, sizeof d) == 0)
        return 0;
    if (syscall(SYS_modify_ldt, 0x11, &d, sizeof d) != 0)
        return -1;
    installed[slot] = d;
    installed_valid[slot] = 1;
    return 0;
}

void usermode_init(void)
{
    if (install(0, 0, USER_LIMIT, 1) != 0 || install(1, 0, USER_LIMIT, 0) != 0)
        vmm_exit(VMM_EXIT_ERROR, "cannot set up the host LDT for guest user mode: %s\n", strerror(errno));
}

/* The host selector for guest user mode's virtual segment register `selector`: 0 for a null selector
 * (or one the VMM cannot give: the access then faults, and the guest sees #GP), the user data segment
 * for the guest's flat user data segment, else its own descriptor installed in `slot`. */
static unsigned short host_selector(unsigned short selector, unsigned slot)
{
    u32 table, limit, d[2], base, seg_limit, end;
    if ((selector & ~3u) == 0)
        return 0;
    if (selector & 4) {
        /* the guest's LDT: the descriptor vcpu.ldtr names in the GDT */
        u32 l[2];
        if (!vcpu.ldtr || (vcpu.ldtr | 7u) > vcpu.table_limit[0] || guest_read_system(vcpu.table_base[0] + (vcpu.ldtr & ~7u), l, 8) != 0)
            return 0;
        table = (l[0] >> 16) | ((l[1] & 0xff) << 16) | (l[1] & 0xff000000u);
        limit = (l[0] & 0xffff) | (l[1] & 0xf0000u);
    } else {
        table = vcpu.table_base[0];
        limit = vcpu.table_limit[0];
    }
    if ((selector | 7u) > limit || guest_read_system(table + (selector & ~7u), d, 8) != 0)
        return 0;
    /* present (P), DPL 3, a data segment (S=1, type 0-7), expand-up (type bit 2 clear), 32-bit */
    if (!(d[1] & 0x8000) || ((d[1] >> 13) & 3) != 3 || !(d[1] & 0x1000) || (d[1] & 0x800) || (d[1] & 0x400) || !(d[1] & 0x400000))
        return 0;
    base = (d[0] >> 16) | ((d[1] & 0xff) << 16) | (d[1] & 0xff000000u);
    seg_limit = (d[0] & 0xffff) | (d[1] & 0xf0000u);
    if (d[1] & 0x800000)
        seg_limit = (seg_limit << 12) | 0xfff;
    /* The base must be a user address; the host's limit ends below 3 GiB (the fence), the guest's is
     * kept for tls.c, which performs the accesses between the two. */
    if (base > USER_LIMIT)
        return 0;
    end = USER_LIMIT - base < seg_limit ? USER_LIMIT - base : seg_limit;
    if (base == 0 && end == USER_LIMIT)
        return vmm_user_ds;
    if (install(slot, base, end, 0) != 0)
        return 0;
    tls[slot - 2] = (struct tls_segment){base, seg_limit, end, 1};
    return (unsigned short)(slot << 3 | 7);
}

/* The guest TLS segment behind host selector `selector` as installed now (fenced): its slot (2 for
 * %fs, 3 for %gs) with the guest's base and limit, or -1 if the selector is not one of them. */
int usermode_tls(unsigned short selector, u32 *base, u32 *limit)
{
    unsigned slot = selector >> 3;
    if ((selector & 7) != 7 || (slot != 2 && slot != 3) || !tls[slot - 2].valid)
        return -1;
    *base = tls[slot - 2].base;
    *limit = tls[slot - 2].limit;
    return (int)slot;
}

/* Opens (the guest's own limit) or closes (the fence) the TLS segment in `slot` for one instruction. */
int usermode_tls_window(unsigned slot, int open)
{
    const struct tls_segment *t = &tls[slot - 2];
    return install(slot, t->base, open ? t->limit : t->fence, 0);
}

/* The guest is about to run at CPL 3: the host segments for its virtual fs and gs. */
void usermode_enter(void)
{
    vmm_user_fs = host_selector(vcpu.fs, 2);
    vmm_user_gs = host_selector(vcpu.gs, 3);
}

/* Guest user code loads %fs or %gs itself (glibc: `mov $0x33, %gs` after set_thread_area). The host
 * then uses its own GDT's descriptor for that selector, not the guest's: the first access through it
 * faults (a TLS offset is small or negative: base 0 puts it in the unmappable first 64 KiB or last
 * page). At that fault (or when user mode is left) the selector the guest loaded becomes the virtual
 * register, and its guest descriptor replaces the host's. Returns 1 when the faulting access should
 * simply be retried. */
static int ours(unsigned short selector) { return selector == 0 || selector == 0x07 || selector == 0x0f || selector == 0x17 || selector == 0x1f; }

int usermode_segments(unsigned long *fs, unsigned long *gs)
{
    int retry = 0;
    unsigned short f = (unsigned short)*fs, g = (unsigned short)*gs, h;
    if (!ours(g)) {
        vcpu.gs = g;
        h = host_selector(g, 3);
        if (h && h != g) {
            *gs = h;
            vmm_user_gs = h;
            retry = 1;
        }
    }
    if (!ours(f)) {
        vcpu.fs = f;
        h = host_selector(f, 2);
        if (h && h != f) {
            *fs = h;
            vmm_user_fs = h;
            retry = 1;
        }
    }
    return retry;
}
