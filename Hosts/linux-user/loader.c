/* loader.c: `previrt-linux-user [options] GUEST`. Checks the guest's ELF file (elf_check.c: its headers,
 * section names and notes, read with pread, never mapped), checks that its segments fit in guest RAM,
 * creates guest RAM (memory.c), reads each PT_LOAD segment straight into guest RAM at its physical
 * address (p_paddr), patches every site for the linux-user VMM (after validating all of them), contains
 * the guest (contain.c) and starts it by one of two boot protocols:
 *
 *   PVH (the file has Xen's PHYS32_ENTRY note, as Linux's vmlinux with CONFIG_PVH has): 32-bit
 *   protected mode, paging off, %ebx = the physical address of an hvm_start_info (magic 0x336ec578,
 *   the command line, the initrd as module 0, the memory map), as QEMU's -kernel starts it. The command
 *   line gets `reservetop=` so that the kernel keeps its fixmap and vmalloc area below the VMM's region.
 *
 *   multiboot (the demo guest): %eax = 0x2badb002, %ebx = a multiboot information structure with the
 *   command line "previrt=linux-user", entry at e_entry.
 *
 * i386 guests.
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

/* The PVH boot ABI (Xen's arch-x86/hvm/start_info.h), as the guest reads it. */
struct hvm_start_info {
    u32 magic, version, flags, nr_modules;
    u64 modlist_paddr, cmdline_paddr, rsdp_paddr, memmap_paddr;
    u32 memmap_entries, reserved;
};
struct hvm_modlist_entry {
    u64 paddr, size, cmdline_paddr, reserved;
};
struct hvm_memmap_table_entry {
    u64 addr, size;
    u32 type, reserved;
};
#define HVM_START_MAGIC 0x336ec578u
#define E820_RAM 1
#define E820_RESERVED 2

struct multiboot_info {
    u32 flags, mem_lower, mem_upper, boot_device, cmdline;
};

/* Where the boot information goes in guest RAM: the first page the host can map (paging is off when the
 * guest reads it), below the kernel and anything Linux reserves early. */
#define BOOT_INFO_PA GUEST_LOWEST_ADDRESS
#define BOOT_CMDLINE_MAX 2048

static const char *guest_path;

static void die(const char *what)
{
    fprintf(stderr, "previrt run: %s: %s\n", guest_path, what);
    exit(VMM_EXIT_ERROR);
}

static void usage(void)
{
    fprintf(stderr, "usage: previrt-linux-user [--timeout SECONDS] [--memory MiB] [--append CMDLINE] [--initrd FILE] "
            "[--address-spaces N] [--trace] [--] GUEST\n");
    exit(VMM_EXIT_USAGE);
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

static u32 parse_memory(const char *text)
{
    char *end;
    unsigned long m;
    errno = 0;
    m = strtoul(text, &end, 10);
    if (errno || end == text || *end || text[0] == '-' || m < 2 || m > VMM_MAX_RAM_MIB) {
        fprintf(stderr, "previrt run: --memory %s: not a whole number of MiB from 2 to %u\n", text, VMM_MAX_RAM_MIB);
        exit(VMM_EXIT_USAGE);
    }
    return (u32)m;
}

static unsigned parse_address_spaces(const char *text)
{
    char *end;
    unsigned long n;
    errno = 0;
    n = strtoul(text, &end, 10);
    if (errno || end == text || *end || text[0] == '-' || n < 1 || n > POOL_MAX_SLOTS) {
        fprintf(stderr, "previrt run: --address-spaces %s: not a whole number from 1 to %u\n", text, POOL_MAX_SLOTS);
        exit(VMM_EXIT_USAGE);
    }
    return (unsigned)n;
}

/* Opens a regular file of 1 byte to 1 GiB (the guest or the initrd) and gives its size, or ends the run. */
static int open_file(const char *path, unsigned long *size, const char *what)
{
    char why[512];
    struct stat st;
    /* O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        snprintf(why, sizeof why, "%scannot open: %s", what, strerror(errno));
        die(why);
    }
    if (fstat(fd, &st) != 0)
        die("cannot stat");
    if (!S_ISREG(st.st_mode)) {
        snprintf(why, sizeof why, "%snot a regular file", what);
        die(why);
    }
    if (st.st_size == 0 || (unsigned long long)st.st_size > 0x40000000ull) {
        snprintf(why, sizeof why, "%s%s", what, st.st_size == 0 ? "an empty file" : "larger than 1 GiB");
        die(why);
    }
    *size = (unsigned long)st.st_size;
    return fd;
}

/* Reads file[offset, offset + length) into `to`; 0, or -1 with errno (0: the file ended first). */
static int read_at(int fd, void *to, unsigned long length, unsigned long long offset)
{
    unsigned long done = 0;
    while (done < length) {
        ssize_t n = pread(fd, (unsigned char *)to + done, length - done, (off_t)(offset + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = 0;
            return -1;
        }
        done += (unsigned long)n;
    }
    return 0;
}

/* elf_check_file's reads of the guest's headers, section names and notes: each into its own buffer,
 * kept until the check is over (free_checked_reads). The file's contents never are mapped: a mapping
 * of a large file would take addresses the host chooses, inside the guest's range or the VMM's window. */
#define MAX_CHECK_READ (16ul << 20)
#define MAX_CHECK_READS 64
static unsigned char *check_reads[MAX_CHECK_READS];
static unsigned check_read_count;

static const unsigned char *checked_read(void *ctx, unsigned long long offset, unsigned long length, char *why, unsigned long whylen)
{
    int fd = *(int *)ctx;
    unsigned char *buffer;
    if (length > MAX_CHECK_READ) {
        snprintf(why, whylen, "%lu bytes of headers, names or notes at offset %#llx: more than the VMM reads (%lu MiB)", length,
                 offset, MAX_CHECK_READ >> 20);
        return 0;
    }
    if (check_read_count == MAX_CHECK_READS || !(buffer = malloc(length ? length : 1))) {
        snprintf(why, whylen, "cannot hold the file's headers and notes in memory");
        return 0;
    }
    check_reads[check_read_count++] = buffer;
    if (read_at(fd, buffer, length, offset) != 0) {
        snprintf(why, whylen, "cannot read %lu bytes at offset %#llx: %s", length, offset, errno ? strerror(errno) : "the file shrank");
        return 0;
    }
    return buffer;
}

static void free_checked_reads(void)
{
    while (check_read_count)
        free(check_reads[--check_read_count]);
}

/* The patcher's table for proving sites disjoint when the notes are not in address order. */
static struct previrt_span spans[HOST_MAX_SITES];

/* Writes the PVH start info, its memory map, the command line and the initrd's module entry into guest
 * RAM; returns the start info's physical address. */
static u32 pvh_boot_info(const char *append, int initrd, unsigned long initrd_size, u32 image_end)
{
    struct hvm_start_info *info = guest_phys(BOOT_INFO_PA, 0x1000);
    struct hvm_memmap_table_entry *map = (void *)(info + 1);
    struct hvm_modlist_entry *module = (void *)(map + 3);
    char *cmdline = (char *)(module + 1);
    u32 cmdline_pa = BOOT_INFO_PA + (u32)(cmdline - (char *)info);
    int n;

    memset(info, 0, 0x1000);
    info->magic = HVM_START_MAGIC;
    info->version = 1;
    info->memmap_paddr = BOOT_INFO_PA + sizeof *info;
    info->memmap_entries = 3;
    map[0] = (struct hvm_memmap_table_entry){0, 0x9fc00, E820_RAM, 0};
    map[1] = (struct hvm_memmap_table_entry){0x9fc00, 0x400, E820_RESERVED, 0};
    map[2] = (struct hvm_memmap_table_entry){0x100000, guest_ram_size - 0x100000, E820_RAM, 0};
    /* The VMM's region is not the guest's: say so to the kernel (its fixmap and vmalloc area go below). */
    n = snprintf(cmdline, BOOT_CMDLINE_MAX, "%s%sreservetop=%#x", append ? append : "", append && *append ? " " : "",
                 0u - VMM_REGION_BASE);
    if (n < 0 || n >= BOOT_CMDLINE_MAX)
        vmm_exit(VMM_EXIT_USAGE, "--append: the command line is longer than %d bytes\n", BOOT_CMDLINE_MAX - 32);
    info->cmdline_paddr = cmdline_pa;
    if (initrd >= 0) {
        /* At the top of RAM, page-aligned, as QEMU places it; read straight into guest RAM (a mapping of
         * the file would take addresses the host may choose inside the guest's range or the VMM's window). */
        unsigned char *to;
        unsigned long done = 0;
        u32 at = (u32)((guest_ram_size - initrd_size) & ~0xffful);
        if (initrd_size > guest_ram_size || at < image_end)
            vmm_exit(VMM_EXIT_ERROR, "--initrd: %lu bytes do not fit in guest RAM above the kernel (--memory %u)\n", initrd_size,
                     guest_ram_size >> 20);
        to = guest_phys(at, initrd_size);
        while (done < initrd_size) {
            ssize_t n = pread(initrd, to + done, initrd_size - done, (off_t)done);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                vmm_exit(VMM_EXIT_ERROR, "--initrd: cannot read (%s)\n", n < 0 ? strerror(errno) : "the file shrank");
            done += (unsigned long)n;
        }
        close(initrd);
        module->paddr = at;
        module->size = initrd_size;
        info->nr_modules = 1;
        info->modlist_paddr = BOOT_INFO_PA + (u32)((char *)module - (char *)info);
    }
    return BOOT_INFO_PA;
}

static u32 multiboot_info(void)
{
    struct multiboot_info *mbi = guest_phys(BOOT_INFO_PA, 0x1000);
    memset(mbi, 0, 0x1000);
    mbi->flags = 4;
    mbi->mem_lower = 640;
    mbi->mem_upper = (guest_ram_size >> 10) - 1024;
    mbi->cmdline = BOOT_INFO_PA + sizeof *mbi;
    strcpy((char *)(mbi + 1), "previrt=linux-user");
    return BOOT_INFO_PA;
}

int main(int argc, char **argv)
{
    int fd, high, initrd = -1;
    struct guest_file file;
    unsigned long size, initrd_size = 0;
    struct guest_reserved region = {VMM_REGION_BASE, 0x100000000ull, "region (reservetop)"};
    unsigned int i;
    char why[256];
    struct previrt_image image;
    struct previrt_backend backend;
    struct previrt_result result;
    const char *append = 0, *initrd_path = 0;
    double timeout = 0;
    u32 memory = 0, image_end = 0, window_delta;
    unsigned address_spaces = POOL_DEFAULT_SLOTS;
    int a;

    for (a = 1; a < argc && argv[a][0] == '-' && argv[a][1] == '-'; a++) {
        if (argv[a][2] == 0) {
            a++; /* "--": the guest follows */
            break;
        }
        if (strcmp(argv[a], "--trace") == 0) {
            vmm_trace = 1;
            continue;
        }
        if (a + 1 >= argc)
            usage();
        if (strcmp(argv[a], "--timeout") == 0)
            timeout = parse_timeout(argv[++a]);
        else if (strcmp(argv[a], "--memory") == 0)
            memory = parse_memory(argv[++a]);
        else if (strcmp(argv[a], "--append") == 0)
            append = argv[++a];
        else if (strcmp(argv[a], "--initrd") == 0)
            initrd_path = argv[++a];
        else if (strcmp(argv[a], "--address-spaces") == 0)
            address_spaces = parse_address_spaces(argv[++a]);
        else
            usage();
    }
    if (a != argc - 1)
        usage();
    guest_path = argv[a];
    fd = open_file(guest_path, &size, "");
    /* The file stays open until its segments are read, after guest RAM exists: move it out of the way, so
     * that the descriptors after it are numbered as when the file was closed first (guest RAM's memfd is
     * descriptor 3 for a guest without --initrd). */
    if ((high = fcntl(fd, F_DUPFD_CLOEXEC, 64)) >= 0) {
        close(fd);
        fd = high;
    }
    file = (struct guest_file){size, checked_read, &fd};
    if (elf_check_file(&file, &region, 1, &guest, why, sizeof why) != 0)
        die(why);
    free_checked_reads();
    if (initrd_path)
        initrd = open_file(initrd_path, &initrd_size, "--initrd: ");

    /* Without --memory: 64 MiB, or enough for a guest linked higher (a multiboot guest at 0x08048000). */
    if (!memory) {
        u64 end = 0;
        for (i = 0; i < guest.count; i++)
            if ((u64)guest.segment[i].paddr + guest.segment[i].memsz > end)
                end = (u64)guest.segment[i].paddr + guest.segment[i].memsz;
        memory = (u32)((end + (1 << 20) - 1) >> 20);
        if (memory > VMM_MAX_RAM_MIB) {
            snprintf(why, sizeof why, "too large for guest RAM: its segments end at physical %#llx (%llu MiB), and guest RAM is at most "
                     "%u MiB", end, (end + (1 << 20) - 1) >> 20, VMM_MAX_RAM_MIB);
            die(why);
        }
        if (memory < VMM_DEFAULT_RAM_MIB)
            memory = VMM_DEFAULT_RAM_MIB;
        if (memory > VMM_MAX_RAM_MIB)
            memory = VMM_MAX_RAM_MIB;
    }
    /* Every segment inside guest RAM, above the boot information, before anything is created. */
    for (i = 0; i < guest.count; i++) {
        const struct guest_segment *s = &guest.segment[i];
        if (s->paddr < BOOT_INFO_PA + 0x1000 || (u64)s->paddr + s->memsz > (u64)memory << 20) {
            snprintf(why, sizeof why, "the segment at physical %#lx-%#llx (%lu bytes) is not inside guest RAM above %#lx (--memory %u)",
                     s->paddr, (u64)s->paddr + s->memsz, s->memsz, BOOT_INFO_PA + 0x1000, memory);
            die(why);
        }
    }
    memory_init(memory);
    /* Read every segment's file-backed part straight into guest RAM at its physical address (the rest,
     * up to p_memsz, stays zero: the memfd is new). */
    for (i = 0; i < guest.count; i++) {
        const struct guest_segment *s = &guest.segment[i];
        if (read_at(fd, guest_phys(s->paddr, s->memsz), s->filesz, s->offset) != 0) {
            snprintf(why, sizeof why, "cannot read the segment at file offset %#lx (%lu bytes): %s", s->offset, s->filesz,
                     errno ? strerror(errno) : "the file shrank");
            die(why);
        }
        if (s->paddr + s->memsz > image_end)
            image_end = (u32)(s->paddr + s->memsz);
    }
    close(fd);

    /* Patch through the window: a site's guest address is its window address plus window_delta. */
    window_delta = (u32)guest.virtual_offset - VMM_RAM_WINDOW;
    image.notes_begin = (const void *)(unsigned long)(guest.notes_vaddr - window_delta);
    image.notes_end = (const void *)(unsigned long)(guest.notes_vaddr + guest.notes_size - window_delta);
    image.text_begin = (unsigned char *)(unsigned long)(guest.text_begin - window_delta);
    image.text_end = (unsigned char *)(unsigned long)(guest.text_end - window_delta);
    linux_user_backend(&backend, memory_stubs(), (long)(int)window_delta);
    if (previrt_patch_with_table(&image, &backend, spans, HOST_MAX_SITES, &result) != 0) {
        fprintf(stderr, "previrt run: %s: refused to patch: note %u, site %#lx: %s: %s", guest_path, result.failed_note,
                (unsigned long)(u32)(result.failed_address + window_delta), previrt_failure_name(result.failure), result.why);
        if (result.failure == PREVIRT_OVERLAP)
            fprintf(stderr, " (note %u, site %#lx)", result.other_note, (unsigned long)(u32)(result.other_address + window_delta));
        fprintf(stderr, "; nothing was patched\n");
        return VMM_EXIT_ERROR;
    }
    /* A kernel linked above its load address runs its first sites at their physical addresses. */
    memory_alias_stubs((u32)guest.virtual_offset);

    /* The state a PVH or multiboot loader leaves: protected mode, paging and interrupts off, flat segments. */
    vcpu.cr[0] = 0x11;
    vcpu.cs = 0x10;
    vcpu.ds = vcpu.es = vcpu.fs = vcpu.gs = vcpu.ss = 0x18;
    vmm_vif = 0;
    mmu_start();
    board_init();
    if (guest.pvh_entry) {
        u32 info = pvh_boot_info(append, initrd, initrd_size, image_end);
        cpu_measure_tsc(); /* for cpuid leaf 0x15: Linux's TSC frequency */
        pool_start(address_spaces, timeout); /* contained, in the first slot */
        enter_guest((u32)guest.pvh_entry, 0, info, 0);
    }
    if (append || initrd >= 0)
        vmm_exit(VMM_EXIT_USAGE, "--append and --initrd are for a PVH kernel; %s is a multiboot guest\n", guest_path);
    pool_start(address_spaces, timeout);
    enter_guest((u32)guest.entry, 0x2badb002, multiboot_info(), 0);
    return 0;
}
