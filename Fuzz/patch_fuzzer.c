/* libFuzzer harness over the runtime's core, previrt_patch_with_table: validate every site, then patch
 * all of them or none. The input is a memory image with a note area and text bounds somewhere in it:
 *
 *     byte 0       backend: 0 native, 1 trace, 2 a strict test backend, 3 the strict backend without
 *                  the lengths tag (the core must then hold it to PREVIRT_DEFAULT_MIN_SITE_LENGTH)
 *     bytes 1-3    the strict backend's min_site_length for 16-, 32- and 64-bit code (mod 21)
 *     byte 4       the overlap table's size in entries (0: previrt_patch, which has none)
 *     bytes 5-12   text offset, text length, note offset, note length (16-bit each, reduced to fit)
 *     bytes 13-    the image
 *
 * Notes and text may overlap, as in a hostile image. Invariants, each an abort() when broken:
 *   - on failure the image is byte-identical to before, and the result names a failure and a reason;
 *     an overlap failure names two sites that do overlap;
 *   - on success no byte outside the text bounds changed, every changed byte lies in a site, no two
 *     sites share a byte, the sites do not touch the note area, and seen == patched + native;
 *   - the strict backend is only ever handed sites inside the text, as long as its minimum for the
 *     mode, each once (it writes 0xcc over the whole site), and native writes nothing.
 * SPDX-License-Identifier: MIT
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "previrt_runtime.h"

#define HEADER 13
#define MAX_SITES 64

struct strict {
    unsigned char *text_begin, *text_end;
    unsigned char *touched;        /* per text byte: written by a patch call */
    unsigned char min[3];
};

static const char *strict_check(void *ctx, const struct previrt_patch_site *site)
{
    (void)ctx;
    return site->index >= MAX_SITES ? "more sites than the strict backend holds" : 0;
}

static enum previrt_action strict_patch(void *ctx, const struct previrt_patch_site *site)
{
    struct strict *s = ctx;
    int mode = site->decoded.mode;
    unsigned int i;
    if (site->start < s->text_begin || site->length > (unsigned long)(s->text_end - site->start))
        abort();
    if (site->length < s->min[mode == 16 ? 0 : mode == 32 ? 1 : 2] || site->index >= MAX_SITES)
        abort();
    for (i = 0; i < site->length; i++) {
        if (s->touched[site->start - s->text_begin + i]++)
            abort();
        site->start[i] = 0xcc;
    }
    return PREVIRT_PATCHED;
}

/* Marks each site's bytes in a mask over the image; aborts when two sites share a byte. */
struct marker {
    unsigned char *image;
    size_t size;
    unsigned char *mask;
};

static int mark_site(const struct previrt_site *site, void *ctx)
{
    struct marker *m = ctx;
    unsigned long begin = (unsigned long)m->image, i;
    if (site->address < begin || site->address - begin > m->size || m->size - (site->address - begin) < site->site_len)
        abort(); /* previrt_patch succeeded with a site outside the image */
    for (i = 0; i < site->site_len; i++)
        if (m->mask[site->address - begin + i]++)
            abort();
    return 0;
}

/* Finds the site of note `index`. */
struct finder {
    unsigned int index;
    struct previrt_site site;
    int found;
};

static int find_site(const struct previrt_site *site, void *ctx)
{
    struct finder *f = ctx;
    if (site->note_index != f->index)
        return 0;
    f->site = *site;
    f->found = 1;
    return 1;
}

static struct previrt_site site_of_note(const unsigned char *nb, const unsigned char *ne, unsigned int index)
{
    struct finder f = {index, {0}, 0};
    struct previrt_walk_error error;
    previrt_walk_notes(nb, ne, (unsigned long)nb, find_site, &f, &error);
    if (!f.found)
        abort();
    return f.site;
}

static unsigned int read16(const uint8_t *p) { return (unsigned int)p[0] | (unsigned int)p[1] << 8; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct previrt_backend backend;
    struct previrt_image image;
    struct previrt_result result;
    struct previrt_span spans[256];
    struct strict strict;
    struct previrt_trace trace;
    unsigned long *sites;
    unsigned short *kinds;
    unsigned int *counts; /* on the heap with the stubs and the image: in rel32 reach of both */
    unsigned char *memory, *before, *stubs, *mask;
    size_t m, text_off, text_len, notes_off, notes_len, i;
    int rc, which;

    if (size < HEADER)
        return 0;
    m = size - HEADER;
    text_off = read16(data + 5) % (m + 1);
    text_len = read16(data + 7) % (m - text_off + 1);
    notes_off = read16(data + 9) % (m + 1);
    notes_len = read16(data + 11) % (m - notes_off + 1);
    memory = malloc(m ? m : 1);
    before = malloc(m ? m : 1);
    mask = calloc(m ? m : 1, 1);
    stubs = malloc(MAX_SITES * 32);
    strict.touched = calloc(text_len ? text_len : 1, 1);
    sites = malloc(MAX_SITES * sizeof *sites);
    kinds = malloc(MAX_SITES * sizeof *kinds);
    counts = malloc(MAX_SITES * sizeof *counts);
    if (!memory || !before || !mask || !stubs || !strict.touched || !sites || !kinds || !counts)
        abort();
    memcpy(memory, data + HEADER, m);
    memcpy(before, memory, m);
    memset(&backend, 0x5a, sizeof backend); /* what a caller's uninitialised struct might hold */

    image.text_begin = memory + text_off;
    image.text_end = memory + text_off + text_len;
    image.notes_begin = memory + notes_off;
    image.notes_end = memory + notes_off + notes_len;

    which = data[0] % 4;
    if (which == 0) {
        previrt_native_backend(&backend);
    } else if (which == 1) {
        trace.stubs = stubs;
        trace.stub_size = MAX_SITES * 32;
        trace.stub_used = 0;
        trace.text_begin = image.text_begin;
        trace.sites = sites;
        trace.kinds = kinds;
        trace.counts = counts;
        trace.max_sites = MAX_SITES;
        trace.site_count = 0;
        previrt_trace_backend(&backend, &trace);
    } else {
        strict.text_begin = image.text_begin;
        strict.text_end = image.text_end;
        backend.name = "strict";
        backend.check = strict_check;
        backend.patch = strict_patch;
        backend.ctx = &strict;
        for (i = 0; i < 3; i++) {
            backend.min_site_length[i] = (unsigned char)(data[1 + i] % 21);
            strict.min[i] = which == 2 ? backend.min_site_length[i] : PREVIRT_DEFAULT_MIN_SITE_LENGTH;
        }
        if (which == 2)
            backend.lengths = PREVIRT_BACKEND_LENGTHS;
    }

    if (data[4])
        rc = previrt_patch_with_table(&image, &backend, spans, data[4], &result);
    else
        rc = previrt_patch(&image, &backend, &result);

    if (rc != 0) {
        if (memcmp(memory, before, m) != 0 || result.failure == PREVIRT_OK || !result.why || result.patched || result.native)
            abort();
        if (strcmp(previrt_failure_name(result.failure), "unknown failure") == 0)
            abort();
        if (result.failure == PREVIRT_OVERLAP) {
            struct previrt_site a = site_of_note(image.notes_begin, image.notes_end, result.failed_note);
            struct previrt_site b = site_of_note(image.notes_begin, image.notes_end, result.other_note);
            if (result.failed_note == result.other_note || !(a.address < b.address + b.site_len && b.address < a.address + a.site_len))
                abort();
        }
    } else {
        struct marker marker = {memory, m, mask};
        struct previrt_walk_error error;
        if (result.failure != PREVIRT_OK || result.seen != result.patched + result.native)
            abort();
        if (previrt_walk_notes(image.notes_begin, image.notes_end, (unsigned long)image.notes_begin, mark_site, &marker, &error) != result.seen)
            abort();
        for (i = 0; i < m; i++) {
            int in_text = i >= text_off && i < text_off + text_len, in_notes = i >= notes_off && i < notes_off + notes_len;
            if (mask[i] && in_notes)
                abort(); /* a site overlaps the note area */
            if (memory[i] != before[i] && (!in_text || !mask[i] || which == 0))
                abort(); /* a write outside the sites, or native wrote */
        }
    }
    free(memory);
    free(before);
    free(mask);
    free(stubs);
    free(strict.touched);
    free(sites);
    free(kinds);
    free(counts);
    return 0;
}
