/* loader.c: `previrt run [--timeout SECONDS] GUEST.elf`. Checks the guest's ELF file (elf_check.c),
 * maps its loadable segments at their addresses, patches every site for the linux-user VMM (after
 * validating all of them), contains the guest (contain.c), sets up the virtual CPU as a multiboot loader
 * leaves a real one, and jumps to the entry point. i386 guests.
 * SPDX-License-Identifier: MIT
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host.h"

struct multiboot_info {
    unsigned int flags, mem_lower, mem_upper, boot_device;
    const char *cmdline;
};

static const char *guest_path;

static void die(const char *what)
{
    fprintf(stderr, "previrt run: %s: %s\n", guest_path, what);
    exit(VMM_EXIT_ERROR);
}

/* The VMM's own mappings (its image, heap, stack, vDSO, the mapped guest file, ...): no guest segment
 * may overlap them. */
static unsigned int reserved_ranges(struct guest_reserved *reserved, unsigned int max)
{
    static char names[64][32];
    char line[512];
    unsigned int n = 0;
    FILE *maps = fopen("/proc/self/maps", "r");
    if (!maps)
        die("cannot read /proc/self/maps");
    while (n < max && fgets(line, sizeof line, maps)) {
        unsigned long long begin, end;
        char name[256] = "";
        if (sscanf(line, "%llx-%llx %*s %*s %*s %*s %255s", &begin, &end, name) < 2)
            continue;
        snprintf(names[n], sizeof names[n], "%s", name[0] == '[' ? name : name[0] ? "image or a mapped file" : "memory");
        reserved[n].begin = begin;
        reserved[n].end = end;
        reserved[n].name = names[n];
        n++;
    }
    fclose(maps);
    return n;
}

static double parse_timeout(const char *text)
{
    char *end;
    double t;
    errno = 0;
    t = strtod(text, &end);
    if (errno || end == text || *end || !(t > 0) || t > 1e6) {
        fprintf(stderr, "previrt run: --timeout %s: not a number of seconds between 0 and 1000000\n", text);
        exit(VMM_EXIT_USAGE);
    }
    return t;
}

/* The patcher's table for proving sites disjoint when the notes are not in address order. */
static struct previrt_span spans[HOST_MAX_SITES];

int main(int argc, char **argv)
{
    unsigned char *file, *stubs;
    struct stat st;
    struct guest_reserved reserved[64];
    unsigned int nreserved, i;
    char why[256];
    struct previrt_image image;
    struct previrt_backend backend;
    struct previrt_result result;
    static struct multiboot_info mbi = {4, 640, 65536, 0, "previrt=linux-user"};
    double timeout = 0;
    int fd;

    if (argc == 4 && strcmp(argv[1], "--timeout") == 0) {
        timeout = parse_timeout(argv[2]);
        argv += 2;
        argc -= 2;
    }
    if (argc != 2) {
        fprintf(stderr, "usage: previrt-linux-user [--timeout SECONDS] GUEST.elf\n");
        return VMM_EXIT_USAGE;
    }
    guest_path = argv[1];
    /* O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below. */
    fd = open(guest_path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        snprintf(why, sizeof why, "cannot open: %s", strerror(errno));
        die(why);
    }
    if (fstat(fd, &st) != 0)
        die("cannot stat");
    if (!S_ISREG(st.st_mode))
        die("not a regular file");
    if (st.st_size == 0 || (unsigned long long)st.st_size > 0x40000000ull)
        die(st.st_size == 0 ? "an empty file" : "larger than 1 GiB");
    file = mmap(0, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (file == MAP_FAILED)
        die("cannot read");
    close(fd);

    nreserved = reserved_ranges(reserved, sizeof reserved / sizeof reserved[0]);
    if (elf_check(file, (unsigned long)st.st_size, reserved, nreserved, &guest, why, sizeof why) != 0)
        die(why);

    /* Map every loadable segment at its address, writable and executable (the VMM patches the text). */
    for (i = 0; i < guest.count; i++) {
        const struct guest_segment *s = &guest.segment[i];
        unsigned long start = s->vaddr & ~(GUEST_PAGE - 1);
        unsigned long long end = ((unsigned long long)s->vaddr + s->memsz + GUEST_PAGE - 1) & ~(unsigned long long)(GUEST_PAGE - 1);
        if (mmap((void *)start, (size_t)(end - start), PROT_READ | PROT_WRITE | PROT_EXEC,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) != (void *)start) {
            snprintf(why, sizeof why, "cannot map the segment at %#lx: %s", s->vaddr, strerror(errno));
            die(why);
        }
        memcpy((void *)s->vaddr, file + s->offset, s->filesz);
    }
    munmap(file, (size_t)st.st_size);

    /* The notes and the text bounds, from the checked layout: every site is in an executable segment. */
    image.notes_begin = (const void *)guest.notes_vaddr;
    image.notes_end = (const void *)(guest.notes_vaddr + guest.notes_size);
    image.text_begin = (unsigned char *)guest.text_begin;
    image.text_end = (unsigned char *)guest.text_end;

    stubs = mmap(0, HOST_MAX_SITES * 64, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
    if (stubs == MAP_FAILED)
        die("cannot map the stub area");
    linux_user_backend(&backend, stubs, HOST_MAX_SITES * 64);
    if (previrt_patch_with_table(&image, &backend, spans, HOST_MAX_SITES, &result) != 0) {
        fprintf(stderr, "previrt run: %s: refused to patch: note %u, site %#lx: %s: %s", guest_path,
                result.failed_note, result.failed_address, previrt_failure_name(result.failure), result.why);
        if (result.failure == PREVIRT_OVERLAP)
            fprintf(stderr, " (note %u, site %#lx)", result.other_note, result.other_address);
        fprintf(stderr, "; nothing was patched\n");
        return VMM_EXIT_ERROR;
    }

    /* The state a multiboot loader leaves: protected mode, interrupts off, flat segments. */
    vcpu.cr[0] = 0x11;
    vcpu.cs = 0x10;
    vcpu.ds = vcpu.es = vcpu.fs = vcpu.gs = vcpu.ss = 0x18;
    vmm_vif = 0;
    contain_guest(timeout);
    enter_guest(guest.entry, 0x2badb002, &mbi);
    return 0;
}
