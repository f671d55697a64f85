/* memory.c: guest RAM and the VMM's own region.
 *
 * Guest RAM is a memfd of --memory MiB. The VMM sees all of it at VMM_RAM_WINDOW (guest-physical 0 at
 * the window's start) and reads and writes guest memory only there; the guest sees it at the linear
 * addresses mmu.c maps. The stubs that patched sites call live in a second memfd, so that they can be
 * mapped twice: at VMM_STUB_BASE, and at VMM_STUB_BASE - PAGE_OFFSET while a Linux kernel runs its
 * first instructions at the physical addresses of code linked at PAGE_OFFSET (a site's `call rel32`
 * there lands PAGE_OFFSET below the stub).
 * SPDX-License-Identifier: MIT
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "host.h"

u32 guest_ram_size;
int guest_ram_fd = -1;
static int stub_fd = -1;
static u32 stub_alias; /* the alias's address, or 0 */

/* Every mapping of the process must be in the VMM's region: the guest owns everything below it. */
static void check_layout(void)
{
    char line[512];
    FILE *maps = fopen("/proc/self/maps", "r");
    if (!maps)
        vmm_exit(VMM_EXIT_ERROR, "cannot read /proc/self/maps: %s\n", strerror(errno));
    while (fgets(line, sizeof line, maps)) {
        unsigned long long begin, end;
        char name[256] = "";
        if (sscanf(line, "%llx-%llx %*s %*s %*s %*s %255s", &begin, &end, name) < 2)
            continue;
        if (begin < VMM_REGION_BASE)
            vmm_exit(VMM_EXIT_ERROR, "the host put %s at %#llx-%#llx, below the VMM's region (%#x): the guest's addresses "
                     "must be free (is the stack limit unlimited? try `ulimit -s 8192`)\n", name[0] ? name : "a mapping",
                     begin, end, VMM_REGION_BASE);
    }
    fclose(maps);
}

static void *map_fixed(u32 address, u32 size, int prot, int fd)
{
    void *p = mmap((void *)(unsigned long)address, size, prot, MAP_SHARED | MAP_FIXED_NOREPLACE, fd, 0);
    if (p != (void *)(unsigned long)address)
        vmm_exit(VMM_EXIT_ERROR, "cannot map %#x bytes at %#x: %s (the host's own mappings are in the way)\n", size, address,
                 p == MAP_FAILED ? strerror(errno) : "placed elsewhere");
    return p;
}

/* A memfd numbered 3 or above: standard input, output and error stay what the parent left (a closed
 * standard output must make the console's writes fail, not land in guest RAM). */
static int create_memfd(const char *name)
{
    int fd = memfd_create(name, MFD_CLOEXEC), moved;
    if (fd >= 0 && fd < 3) {
        moved = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        close(fd);
        fd = moved;
    }
    return fd;
}

void memory_init(u32 mib)
{
    check_layout();
    guest_ram_size = mib << 20;
    guest_ram_fd = create_memfd("previrt-guest-ram");
    stub_fd = create_memfd("previrt-stubs");
    if (guest_ram_fd < 0 || stub_fd < 0 || ftruncate(guest_ram_fd, guest_ram_size) != 0 || ftruncate(stub_fd, VMM_STUB_SIZE) != 0)
        vmm_exit(VMM_EXIT_ERROR, "cannot create guest RAM (%u MiB): %s\n", mib, strerror(errno));
    map_fixed(VMM_RAM_WINDOW, guest_ram_size, PROT_READ | PROT_WRITE, guest_ram_fd);
    map_fixed(VMM_STUB_BASE, VMM_STUB_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC, stub_fd);
}

void *guest_phys(u64 pa, u64 length)
{
    if (pa > guest_ram_size || length > guest_ram_size - pa)
        return 0;
    return (unsigned char *)(unsigned long)VMM_RAM_WINDOW + pa;
}

unsigned char *memory_stubs(void) { return (unsigned char *)(unsigned long)VMM_STUB_BASE; }

void memory_alias_stubs(u32 page_offset)
{
    if (page_offset == 0 || page_offset > VMM_STUB_BASE)
        return;
    stub_alias = VMM_STUB_BASE - page_offset;
    if (stub_alias < guest_ram_size)
        vmm_exit(VMM_EXIT_ERROR, "the stubs' alias at %#x would overlap guest RAM (%#x bytes): use less --memory\n", stub_alias,
                 guest_ram_size);
    if (mmap((void *)(unsigned long)stub_alias, VMM_STUB_SIZE, PROT_READ | PROT_EXEC, MAP_SHARED | MAP_FIXED, stub_fd, 0)
        != (void *)(unsigned long)stub_alias)
        vmm_exit(VMM_EXIT_ERROR, "cannot map the stubs' alias at %#x: %s\n", stub_alias, strerror(errno));
}

u32 memory_stub_alias(void) { return stub_alias; }

int memory_in_stub_alias(u32 address) { return stub_alias && address - stub_alias < VMM_STUB_SIZE; }

/* Re-maps the alias after mmu.c dropped every guest mapping. */
void memory_restore_alias(void)
{
    if (stub_alias)
        mmap((void *)(unsigned long)stub_alias, VMM_STUB_SIZE, PROT_READ | PROT_EXEC, MAP_SHARED | MAP_FIXED, stub_fd, 0);
}

void memory_descriptors(int *ram, int *stubs, u32 *alias)
{
    *ram = guest_ram_fd;
    *stubs = stub_fd;
    *alias = stub_alias;
}

/* The guest enters user mode: its user range is its own from now on. */
void memory_drop_alias(void)
{
    if (stub_alias) {
        munmap((void *)(unsigned long)stub_alias, VMM_STUB_SIZE);
        stub_alias = 0;
        mmu_log_full(); /* the other slots of the pool drop it with everything else */
    }
}
