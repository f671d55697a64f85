/* libFuzzer harness over the linux-user VMM's ELF checks (Hosts/linux-user/elf_check.c): whatever the
 * bytes, elf_check must stay inside them, and a file it accepts must describe only guest memory that
 * the loader may map and patch: segments below 4 GiB, above the lowest address, clear of the reserved
 * (VMM) region and of each other, physical addresses below 4 GiB at one offset from the virtual ones, a
 * note area in a segment's file-backed part, the entry (virtual, physical, or the PVH note's) in an
 * executable segment.
 * SPDX-License-Identifier: MIT
 */
#include <elf.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "elf_check.h"

static const struct guest_reserved vmm[] = {
    {0xe8000000ull, 0x100000000ull, "region (reservetop)"},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A private copy, so that ASan sees any read past the end. */
    unsigned char *copy = malloc(size ? size : 1);
    struct guest_layout layout;
    char why[256];
    unsigned int i, j;
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    if (elf_check(copy, size, vmm, 1, &layout, why, sizeof why) == 0) {
        unsigned long long offset = layout.virtual_offset;
        if (layout.count == 0 || layout.count > GUEST_MAX_SEGMENTS)
            abort();
        if (!guest_segment_holding(&layout, layout.entry, 1, 1) && !guest_segment_holding(&layout, layout.entry + offset, 1, 1)
            && !(layout.pvh_entry && guest_segment_holding(&layout, layout.pvh_entry + offset, 1, 1)))
            abort();
        for (i = 0; i < layout.count; i++) {
            const struct guest_segment *s = &layout.segment[i];
            unsigned long long end = (unsigned long long)s->vaddr + s->memsz;
            if (end > 0x100000000ull || s->vaddr < GUEST_LOWEST_ADDRESS || s->filesz > s->memsz
                || (unsigned long long)s->offset + s->filesz > size || (unsigned long long)s->paddr + s->memsz > 0x100000000ull
                || (unsigned int)(s->vaddr - s->paddr) != (unsigned int)offset)
                abort();
            for (j = 0; j < 1; j++)
                if (s->vaddr < vmm[j].end && vmm[j].begin < end)
                    abort();
            for (j = 0; j < i; j++)
                if (s->vaddr < (unsigned long long)layout.segment[j].vaddr + layout.segment[j].memsz && layout.segment[j].vaddr < end)
                    abort();
        }
        if (!layout.notes_from)
            abort();
        for (i = 0; i < layout.count; i++) {
            const struct guest_segment *s = &layout.segment[i];
            if (layout.notes_vaddr >= s->vaddr && (unsigned long long)layout.notes_vaddr + layout.notes_size <= (unsigned long long)s->vaddr + s->filesz)
                break;
        }
        if (i == layout.count)
            abort();
    } else if (!memchr(why, 0, sizeof why) || why[0] == 0) {
        abort();
    }
    free(copy);
    return 0;
}
