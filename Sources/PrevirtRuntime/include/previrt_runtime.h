/* previrt_runtime.h: the in-place VMM runtime's interface. Freestanding: no libc.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 the previrt authors. Permission is hereby granted, free of charge, to any
 * person obtaining a copy of this file, to deal in it without restriction, subject to this notice
 * being kept. THE FILE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND.
 */
#ifndef PREVIRT_RUNTIME_H
#define PREVIRT_RUNTIME_H

#include "previrt_note.h"

/* One site, resolved to an address. */
struct previrt_site {
    unsigned long address;
    unsigned short kind;
    unsigned char insn_len;
    unsigned char site_len;
    unsigned char mode;
    unsigned char flags;
    unsigned int note_index;
};

enum previrt_walk_reason {
    PREVIRT_WALK_TRUNCATED = 1,
    PREVIRT_WALK_NAME_OUT_OF_BOUNDS = 2,
    PREVIRT_WALK_DESC_OUT_OF_BOUNDS = 3,
};

struct previrt_walk_error {
    unsigned int index;
    unsigned long offset;
    enum previrt_walk_reason reason;
};

/* Called for each site; a non-zero return stops the walk. */
typedef int (*previrt_site_fn)(const struct previrt_site *site, void *ctx);

/* Walks the notes in [begin, end), whose first byte is loaded at `address`, and calls `fn` for each
 * PreVirt site note. Other owners and types are skipped. Returns the number of sites seen, or -1
 * with *error filled in when a note's sizes run past `end`. */
long previrt_walk_notes(const void *begin, const void *end, unsigned long address,
                        previrt_site_fn fn, void *ctx, struct previrt_walk_error *error);

#endif /* PREVIRT_RUNTIME_H */
