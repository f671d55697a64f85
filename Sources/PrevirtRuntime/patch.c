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
    if (n > PREVIRT_SITE_LENGTH_MAX)
        return;
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
        "site too short for the backend", "overlapping sites", "too many unordered sites",
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
    struct previrt_span *spans;
    unsigned long max_spans;
    unsigned int index;            /* sites visited so far in this walk */
    int ordered;                   /* every site so far starts at or after the end of the one before */
    struct previrt_span last;      /* the site before */
    const struct previrt_site *outer; /* the pairwise check: the site compared with earlier ones */
};

static int fail(struct walk *w, const struct previrt_site *s, enum previrt_failure failure, const char *why)
{
    w->result->failure = failure;
    w->result->failed_note = s->note_index;
    w->result->failed_address = s->address;
    w->result->why = why;
    return 1;
}

static int fail_overlap(struct walk *w, const struct previrt_span *a, const struct previrt_span *b)
{
    const struct previrt_span *later = a->note_index > b->note_index ? a : b, *earlier = later == a ? b : a;
    w->result->failure = PREVIRT_OVERLAP;
    w->result->failed_note = later->note_index;
    w->result->failed_address = later->begin;
    w->result->other_note = earlier->note_index;
    w->result->other_address = earlier->begin;
    w->result->why = later->begin == earlier->begin && later->end == earlier->end
        ? "two notes describe the same site" : "the site overlaps another site";
    return 1;
}

/* The fewest bytes the backend's replacement needs in code of `mode`. */
static unsigned int min_site_length(const struct previrt_backend *backend, int mode)
{
    if (backend->lengths != PREVIRT_BACKEND_LENGTHS)
        return PREVIRT_DEFAULT_MIN_SITE_LENGTH;
    return backend->min_site_length[mode == 16 ? 0 : mode == 32 ? 1 : 2];
}

/* Fills *site for a site whose descriptor and bounds were checked; returns the decoder's answer. */
static int describe(struct walk *w, const struct previrt_site *s, struct previrt_patch_site *site)
{
    unsigned char *start = (unsigned char *)s->address;
    site->start = start;
    site->insn = (s->flags & PREVIRT_SITE_PADDING_PRECEDES) ? start + (s->site_len - s->insn_len) : start;
    site->length = s->site_len;
    site->index = w->index;
    site->note_index = s->note_index;
    site->flags = s->flags;
    return previrt_decode(site->insn, s->insn_len, s->mode, &site->decoded);
}

/* Checks one site on its own; returns 0 when it may be patched. Integer arithmetic on addresses: no
 * pointer is formed outside the text until the bounds hold. */
static int check_site(struct walk *w, const struct previrt_site *s)
{
    const struct previrt_image *image = w->image;
    unsigned long text_begin = (unsigned long)image->text_begin, text_end = (unsigned long)image->text_end;
    unsigned long notes_begin = (unsigned long)image->notes_begin, notes_end = (unsigned long)image->notes_end;
    unsigned int pad = (unsigned int)s->site_len - s->insn_len;
    struct previrt_patch_site site;
    const char *refusal;
    if (s->kind == 0 || s->kind > PREVIRT_KIND_MAX || s->insn_len == 0 || s->insn_len > 15 || s->site_len < s->insn_len
        || (s->mode != 16 && s->mode != 32 && s->mode != 64) || (s->flags & ~7u))
        return fail(w, s, PREVIRT_BAD_DESCRIPTOR, "impossible fields in the site note");
    if (s->address < text_begin || s->address > text_end || text_end - s->address < s->site_len)
        return fail(w, s, PREVIRT_OUTSIDE_TEXT, "the site is not inside the text");
    if (s->address < notes_end && notes_begin < s->address + s->site_len)
        return fail(w, s, PREVIRT_OUTSIDE_TEXT, "the site overlaps the note area");
    if (describe(w, s, &site) != s->insn_len || site.decoded.kind != s->kind)
        return fail(w, s, PREVIRT_WRONG_INSTRUCTION, "the bytes at the site are not the recorded instruction");
    if (!padding_is_nops(site.insn == site.start ? site.start + s->insn_len : site.start, pad, s->mode))
        return fail(w, s, PREVIRT_BAD_PADDING, "the site's padding is not NOPs");
    if (s->site_len < min_site_length(w->backend, s->mode))
        return fail(w, s, PREVIRT_SITE_TOO_SHORT, "the site is shorter than the backend's replacement");
    if (w->backend->check && (refusal = w->backend->check(w->backend->ctx, &site)) != 0)
        return fail(w, s, PREVIRT_REFUSED, refusal);
    return 0;
}

/* Pass 1: each site on its own, then against the one before while the notes are in address order;
 * records its extent in the table when there is room. */
static int validate(const struct previrt_site *s, void *ctx)
{
    struct walk *w = ctx;
    struct previrt_span span;
    if (check_site(w, s))
        return 1;
    span.begin = s->address;
    span.end = s->address + s->site_len;
    span.note_index = s->note_index;
    if (w->ordered && w->index > 0 && span.begin < w->last.end) {
        if (span.begin >= w->last.begin)
            return fail_overlap(w, &span, &w->last);
        w->ordered = 0;
    }
    if (w->index < w->max_spans)
        w->spans[w->index] = span;
    w->last = span;
    w->result->seen++;
    w->index++;
    return 0;
}

/* The pairwise check, inner walk: compares each earlier site with w->outer. */
static int compare_earlier(const struct previrt_site *s, void *ctx)
{
    struct walk *w = ctx;
    struct previrt_span a, b;
    if (s->note_index >= w->outer->note_index)
        return 1;
    a.begin = s->address;
    a.end = s->address + s->site_len;
    a.note_index = s->note_index;
    b.begin = w->outer->address;
    b.end = w->outer->address + w->outer->site_len;
    b.note_index = w->outer->note_index;
    if (a.begin < b.end && b.begin < a.end)
        return fail_overlap(w, &a, &b);
    return 0;
}

/* The pairwise check, outer walk. */
static int compare_pairwise(const struct previrt_site *s, void *ctx)
{
    struct walk *w = ctx;
    struct previrt_walk_error error;
    w->outer = s;
    previrt_walk_notes(w->image->notes_begin, w->image->notes_end, (unsigned long)w->image->notes_begin,
                       compare_earlier, w, &error);
    return w->result->failure != PREVIRT_OK;
}

/* Heapsort by begin: in place, O(n log n), no recursion. */
static void sift_down(struct previrt_span *a, unsigned long root, unsigned long n)
{
    struct previrt_span t;
    unsigned long child;
    while ((child = 2 * root + 1) < n) {
        if (child + 1 < n && a[child + 1].begin > a[child].begin)
            child++;
        if (a[root].begin >= a[child].begin)
            return;
        t = a[root];
        a[root] = a[child];
        a[child] = t;
        root = child;
    }
}

static void sort_spans(struct previrt_span *a, unsigned long n)
{
    struct previrt_span t;
    unsigned long i;
    for (i = n / 2; i-- > 0;)
        sift_down(a, i, n);
    for (i = n; i-- > 1;) {
        t = a[0];
        a[0] = a[i];
        a[i] = t;
        sift_down(a, 0, i);
    }
}

/* Pass 1, the sites together, when the notes are not in address order. */
static int check_unordered(struct walk *w)
{
    struct previrt_walk_error error;
    unsigned long i, n = w->index;
    if (n <= w->max_spans) {
        sort_spans(w->spans, n);
        for (i = 1; i < n; i++)
            if (w->spans[i].begin < w->spans[i - 1].end)
                return fail_overlap(w, &w->spans[i], &w->spans[i - 1]);
        return 0;
    }
    if (n <= PREVIRT_PAIRWISE_MAX) {
        previrt_walk_notes(w->image->notes_begin, w->image->notes_end, (unsigned long)w->image->notes_begin,
                           compare_pairwise, w, &error);
        return w->result->failure != PREVIRT_OK;
    }
    w->result->failure = PREVIRT_UNORDERED;
    w->result->failed_note = 0;
    w->result->failed_address = 0;
    w->result->why = "the sites are not in address order and there are more than the overlap table holds";
    return 1;
}

/* Pass 2: every site was validated and no site or backend has written over another site or the notes. */
static int apply(const struct previrt_site *s, void *ctx)
{
    struct walk *w = ctx;
    struct previrt_patch_site site;
    describe(w, s, &site);
    if (w->backend->patch(w->backend->ctx, &site) == PREVIRT_PATCHED)
        w->result->patched++;
    else
        w->result->native++;
    w->index++;
    return 0;
}

int previrt_patch_with_table(const struct previrt_image *image, const struct previrt_backend *backend,
                             struct previrt_span *spans, unsigned long max_spans, struct previrt_result *result)
{
    struct walk w;
    struct previrt_walk_error error;
    long n;
    result->seen = result->patched = result->native = 0;
    result->failure = PREVIRT_OK;
    result->failed_note = result->other_note = 0;
    result->failed_address = result->other_address = 0;
    result->why = 0;
    w.image = image;
    w.backend = backend;
    w.result = result;
    w.spans = spans;
    w.max_spans = spans ? max_spans : 0;
    w.index = 0;
    w.ordered = 1;
    w.outer = 0;

    /* Pass 1: validate every site, then the sites together; nothing is written. */
    n = previrt_walk_notes(image->notes_begin, image->notes_end, (unsigned long)image->notes_begin, validate, &w, &error);
    if (n < 0) {
        result->failure = PREVIRT_BAD_NOTES;
        result->failed_note = error.index;
        result->failed_address = (unsigned long)image->notes_begin + error.offset;
        result->why = "a note's sizes run past the end of the note area";
        return -1;
    }
    if (result->failure != PREVIRT_OK || (!w.ordered && check_unordered(&w)))
        return -1;

    /* Pass 2: patch every site. */
    w.index = 0;
    previrt_walk_notes(image->notes_begin, image->notes_end, (unsigned long)image->notes_begin, apply, &w, &error);
    return 0;
}

int previrt_patch(const struct previrt_image *image, const struct previrt_backend *backend, struct previrt_result *result)
{
    return previrt_patch_with_table(image, backend, 0, 0, result);
}
