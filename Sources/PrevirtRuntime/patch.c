/* patch.c: the in-place VMM's core. Validate every site of the image, then patch each through a
 * backend, or patch nothing and say which site failed and why. Freestanding: no libc, no malloc.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 the previrt authors. Permission is hereby granted, free of charge, to any
 * person obtaining a copy of this file, to deal in it without restriction, subject to this notice
 * being kept. THE FILE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND.
 */
#include "previrt_runtime.h"

void previrt_fill_nops(unsigned char *out, unsigned int n, int mode)
{
    unsigned int i, chunk;
    if (mode == 16) {
        for (i = 0; i + 1 < n; i += 2) {
            out[i] = 0x66;
            out[i + 1] = 0x90;
        }
        if (n & 1)
            out[n - 1] = 0x90;
        return;
    }
    while (n) {
        chunk = n > PREVIRT_NOP_MAX ? PREVIRT_NOP_MAX : n;
        for (i = 0; i < chunk; i++)
            out[i] = previrt_nops[chunk][i];
        out += chunk;
        n -= chunk;
    }
}

const char *previrt_failure_name(enum previrt_failure failure)
{
    static const char *const names[] = {
        "ok", "bad notes", "bad descriptor", "outside the text", "wrong instruction", "bad padding", "refused by the backend",
    };
    return (unsigned)failure < sizeof names / sizeof names[0] ? names[failure] : "unknown failure";
}

void previrt_put32(unsigned char *p, unsigned long v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

static int padding_is_nops(const unsigned char *p, unsigned int n, int mode)
{
    unsigned char expected[64];
    unsigned int i;
    if (n > sizeof expected)
        return 0;
    previrt_fill_nops(expected, n, mode);
    for (i = 0; i < n; i++)
        if (p[i] != expected[i])
            return 0;
    return 1;
}

struct walk {
    const struct previrt_image *image;
    const struct previrt_backend *backend;
    struct previrt_result *result;
    int patching;
    unsigned int index;
};

static int fail(struct walk *w, const struct previrt_site *s, enum previrt_failure failure, const char *why)
{
    w->result->failure = failure;
    w->result->failed_note = s->note_index;
    w->result->failed_address = s->address;
    w->result->why = why;
    return 1;
}

/* Checks one site and fills *site; returns 0 when it may be patched. */
static int check_site(struct walk *w, const struct previrt_site *s, struct previrt_patch_site *site)
{
    unsigned char *start = (unsigned char *)s->address;
    unsigned int pad = (unsigned int)s->site_len - s->insn_len, insn_offset;
    const char *refusal;
    if (s->kind == 0 || s->kind > PREVIRT_KIND_MAX || s->insn_len == 0 || s->insn_len > 15 || s->site_len < s->insn_len
        || (s->mode != 16 && s->mode != 32 && s->mode != 64) || (s->flags & ~7u))
        return fail(w, s, PREVIRT_BAD_DESCRIPTOR, "impossible fields in the site note");
    if (start < w->image->text_begin || start > w->image->text_end || (unsigned long)(w->image->text_end - start) < s->site_len)
        return fail(w, s, PREVIRT_OUTSIDE_TEXT, "the site is not inside the text");
    insn_offset = (s->flags & PREVIRT_SITE_PADDING_PRECEDES) ? pad : 0;
    site->start = start;
    site->insn = start + insn_offset;
    site->length = s->site_len;
    site->index = w->index;
    site->note_index = s->note_index;
    site->flags = s->flags;
    if (previrt_decode(site->insn, s->insn_len, s->mode, &site->decoded) != s->insn_len || site->decoded.kind != s->kind)
        return fail(w, s, PREVIRT_WRONG_INSTRUCTION, "the bytes at the site are not the recorded instruction");
    if (!padding_is_nops(insn_offset ? start : start + s->insn_len, pad, s->mode))
        return fail(w, s, PREVIRT_BAD_PADDING, "the site's padding is not NOPs");
    if (w->backend->check && (refusal = w->backend->check(w->backend->ctx, site)) != 0)
        return fail(w, s, PREVIRT_REFUSED, refusal);
    return 0;
}

static int visit(const struct previrt_site *s, void *ctx)
{
    struct walk *w = ctx;
    struct previrt_patch_site site;
    if (check_site(w, s, &site))
        return 1;
    if (w->patching) {
        if (w->backend->patch(w->backend->ctx, &site) == PREVIRT_PATCHED)
            w->result->patched++;
        else
            w->result->native++;
    } else {
        w->result->seen++;
    }
    w->index++;
    return 0;
}

int previrt_patch(const struct previrt_image *image, const struct previrt_backend *backend, struct previrt_result *result)
{
    struct walk w;
    struct previrt_walk_error error;
    long n;
    result->seen = result->patched = result->native = 0;
    result->failure = PREVIRT_OK;
    result->failed_note = 0;
    result->failed_address = 0;
    result->why = 0;
    w.image = image;
    w.backend = backend;
    w.result = result;
    w.index = 0;

    /* Pass 1: validate every site; nothing is written. */
    w.patching = 0;
    n = previrt_walk_notes(image->notes_begin, image->notes_end, (unsigned long)image->notes_begin, visit, &w, &error);
    if (n < 0) {
        result->failure = PREVIRT_BAD_NOTES;
        result->failed_note = error.index;
        result->failed_address = (unsigned long)image->notes_begin + error.offset;
        result->why = "a note's sizes run past the end of the note area";
        return -1;
    }
    if (result->failure != PREVIRT_OK)
        return -1;

    /* Pass 2: patch. */
    w.patching = 1;
    w.index = 0;
    previrt_walk_notes(image->notes_begin, image->notes_end, (unsigned long)image->notes_begin, visit, &w, &error);
    return result->failure == PREVIRT_OK ? 0 : -1;
}
