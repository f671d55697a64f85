/* note_walk.c: walk the .note.previrt entries of a loaded image. Freestanding: no libc.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 the previrt authors. Permission is hereby granted, free of charge, to any
 * person obtaining a copy of this file, to deal in it without restriction, subject to this notice
 * being kept. THE FILE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND.
 */
#include "previrt_runtime.h"

static unsigned int read32(const unsigned char *p)
{
    return (unsigned int)p[0] | (unsigned int)p[1] << 8 | (unsigned int)p[2] << 16 | (unsigned int)p[3] << 24;
}

/* In unsigned long: a size near 2^32 rounds up past it rather than wrapping to 0 (64-bit hosts). */
static unsigned long align4(unsigned int n) { return ((unsigned long)n + 3ul) & ~3ul; }

static int is_owner(const unsigned char *name, unsigned int namesz)
{
    static const char owner[] = PREVIRT_NOTE_OWNER;
    unsigned int i;
    if (namesz != PREVIRT_NOTE_OWNER_SIZE)
        return 0;
    for (i = 0; i < namesz; i++)
        if (name[i] != (unsigned char)owner[i])
            return 0;
    return 1;
}

long previrt_walk_notes(const void *begin, const void *end, unsigned long address,
                        previrt_site_fn fn, void *ctx, struct previrt_walk_error *error)
{
    const unsigned char *p = begin, *e = end;
    long sites = 0;
    unsigned int index = 0;

    while (p < e) {
        unsigned long left = (unsigned long)(e - p), offset = (unsigned long)(p - (const unsigned char *)begin);
        unsigned int namesz, descsz, type;
        const unsigned char *desc;
        if (left < 12) {
            error->index = index; error->offset = offset; error->reason = PREVIRT_WALK_TRUNCATED;
            return -1;
        }
        namesz = read32(p); descsz = read32(p + 4); type = read32(p + 8);
        if (namesz > left - 12 || align4(namesz) > left - 12) {
            error->index = index; error->offset = offset; error->reason = PREVIRT_WALK_NAME_OUT_OF_BOUNDS;
            return -1;
        }
        desc = p + 12 + align4(namesz);
        if (descsz > (unsigned long)(e - desc)) {
            error->index = index; error->offset = offset; error->reason = PREVIRT_WALK_DESC_OUT_OF_BOUNDS;
            return -1;
        }
        if (is_owner(p + 12, namesz) && type == PREVIRT_NOTE_TYPE_SITE && descsz == PREVIRT_NOTE_SITE_DESC_SIZE) {
            struct previrt_site site;
            unsigned long field = address + (unsigned long)(desc - (const unsigned char *)begin);
            site.address = field + (unsigned long)(long)(int)read32(desc);
            site.kind = (unsigned short)(desc[4] | desc[5] << 8);
            site.insn_len = desc[6];
            site.site_len = desc[7];
            site.mode = desc[8];
            site.flags = desc[9];
            site.note_index = index;
            sites++;
            if (fn && fn(&site, ctx) != 0)
                return sites;
        }
        index++;
        if (align4(descsz) >= (unsigned long)(e - desc))
            break;
        p = desc + align4(descsz);
    }
    return sites;
}
