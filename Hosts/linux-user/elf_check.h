/* elf_check.h: the linux-user VMM's checks of a guest ELF file, over a byte buffer (no I/O), so that a
 * fuzzer can drive them. Everything the loader maps, patches or reads comes out of struct guest_layout.
 * SPDX-License-Identifier: MIT
 */
#ifndef ELF_CHECK_H
#define ELF_CHECK_H

#define GUEST_MAX_SEGMENTS 32
#define GUEST_LOWEST_ADDRESS 0x10000ul /* vm.mmap_min_addr's default: nothing below is ever mapped */
#define GUEST_PAGE 0x1000ul

/* A PT_LOAD segment, checked: [vaddr, vaddr + memsz) and [paddr, paddr + memsz) lie below 4 GiB,
 * [offset, offset + filesz) in the file, and every segment has the same paddr - vaddr. */
struct guest_segment {
    unsigned long vaddr, paddr, memsz, offset, filesz;
    unsigned int flags; /* PF_X, PF_W, PF_R */
};

/* An address range the guest must not overlap (the VMM's own mappings). */
struct guest_reserved {
    unsigned long long begin, end;
    const char *name;
};

struct guest_layout {
    unsigned long entry;                       /* e_entry: a virtual address, or (Linux's vmlinux) a physical one */
    unsigned long pvh_entry;                   /* the Xen PVH entry note's physical address, or 0 */
    unsigned long virtual_offset;              /* vaddr - paddr, the same for every segment (Linux's PAGE_OFFSET) */
    unsigned int count;
    struct guest_segment segment[GUEST_MAX_SEGMENTS];
    unsigned long notes_vaddr, notes_size;     /* the PreVirt note area, in a segment's file-backed part */
    const char *notes_from;                    /* "section .note.previrt" or "a PT_NOTE segment" */
    unsigned long text_begin, text_end;        /* the span of the segments' file-backed parts */
    unsigned long sites;                       /* PreVirt sites seen, each in a segment's file-backed part */
};

/* The guest's file as elf_check_file reads it: `at` gives a pointer to the file's bytes [offset, offset
 * + length), which the checks have already found inside the file (size bytes), valid until the check
 * returns; or 0 with a reason in why (the loader: the read failed, or asks more than it reads at once). */
struct guest_file {
    unsigned long size;
    const unsigned char *(*at)(void *ctx, unsigned long long offset, unsigned long length, char *why, unsigned long whylen);
    void *ctx;
};

/* Checks the i386 ELF executable `file` against everything the loader relies on and fills *layout.
 * Returns 0, or -1 with a message in why[0, whylen). Reads only the ELF header, the program and section
 * headers, the section names and the notes, each after checking its offset and size. */
int elf_check_file(const struct guest_file *file, const struct guest_reserved *reserved, unsigned int nreserved,
                   struct guest_layout *layout, char *why, unsigned long whylen);

/* The same over a buffer: checks the i386 ELF executable in file[0, size) against everything the loader relies on and fills
 * *layout. Returns 0, or -1 with a message in why[0, whylen). Reads nothing outside the buffer. */
int elf_check(const unsigned char *file, unsigned long size, const struct guest_reserved *reserved, unsigned int nreserved,
              struct guest_layout *layout, char *why, unsigned long whylen);

/* The segment of `layout` holding [address, address + length), executable if `exec`, or 0. */
const struct guest_segment *guest_segment_holding(const struct guest_layout *layout, unsigned long long address,
                                                  unsigned long long length, int exec);

#endif
