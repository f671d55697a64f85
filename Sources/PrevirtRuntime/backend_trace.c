/* backend_trace.c: bare hardware, counting. Each site becomes `jmp stub` plus NOPs; the stub counts the
 * execution, runs the original instruction out of line and jumps back to the end of the site:
 *
 *     stub:  pushf                 9c
 *            incl  count[i]        ff 05 <abs32>   (64-bit: rip-relative)
 *            popf                  9d
 *            <the original instruction, byte for byte>
 *            jmp   site_end        e9 <rel32>
 *
 * A jump, not a call: a call would push a return address under the instruction, and pushf, popf,
 * push/pop of segment registers, iret, lret, lcall and int all use the stack. pushf/popf around the
 * count keep the flags the instruction sees. Far calls and int push the stub's address as their return
 * address, so lret and iret come back into the stub and on to the site's end. 16-bit sites, and
 * instructions whose meaning depends on where they are (RIP-relative operands), stay native. A 32- or
 * 64-bit site needs 5 bytes for the jmp rel32 (min_site_length): the core refuses a shorter one.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 the previrt authors. Permission is hereby granted, free of charge, to any
 * person obtaining a copy of this file, to deal in it without restriction, subject to this notice
 * being kept. THE FILE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND.
 */
#include "previrt_runtime.h"

#define STUB_MAX (1 + 6 + 1 + 15 + 5)
#define JMP_REL32_LENGTH 5

static int rip_relative(const struct previrt_insn *insn)
{
    return insn->mode == 64 && insn->has_modrm && (insn->modrm >> 6) == 0 && (insn->modrm & 7) == 5;
}

static const char *trace_check(void *ctx, const struct previrt_patch_site *site)
{
    struct previrt_trace *t = ctx;
    if (site->index >= t->max_sites)
        return "more sites than the trace table holds";
    if (site->decoded.mode == 64) {
        long distance = (long)(t->stubs - site->start), reach = 0x7fff0000l;
        long count_distance = (long)((const unsigned char *)t->counts - t->stubs);
        if (distance > reach || distance < -reach || count_distance > reach || count_distance < -reach)
            return "the stub area or the count table is beyond rel32 reach of the site";
    }
    if ((site->flags & PREVIRT_SITE_PREFIX_MAY_PRECEDE) && site->start > t->text_begin
        && (site->start[-1] == 0xf3 || site->start[-1] == 0xf2))
        return "a rep prefix written as its own statement precedes the site";
    return 0;
}

static enum previrt_action trace_patch(void *ctx, const struct previrt_patch_site *site)
{
    struct previrt_trace *t = ctx;
    const struct previrt_insn *insn = &site->decoded;
    unsigned char *stub, *back = site->start + site->length;
    unsigned int i, n = 0;
    if (insn->mode == 16 || rip_relative(insn) || t->stub_used + STUB_MAX > t->stub_size || site->length < JMP_REL32_LENGTH)
        return PREVIRT_LEFT_NATIVE;
    stub = t->stubs + t->stub_used;
    t->sites[site->index] = (unsigned long)site->insn;
    t->kinds[site->index] = insn->kind;
    t->counts[site->index] = 0;
    if (site->index + 1 > t->site_count)
        t->site_count = site->index + 1;
    stub[n++] = 0x9c;
    stub[n++] = 0xff;
    stub[n++] = 0x05;
    if (insn->mode == 64)
        previrt_put32(stub + n, (unsigned long)&t->counts[site->index] - (unsigned long)(stub + n + 4));
    else
        previrt_put32(stub + n, (unsigned long)&t->counts[site->index]);
    n += 4;
    stub[n++] = 0x9d;
    for (i = 0; i < insn->length; i++)
        stub[n++] = site->insn[i];
    stub[n++] = 0xe9;
    previrt_put32(stub + n, (unsigned long)back - (unsigned long)(stub + n + 4));
    n += 4;
    t->stub_used += n;

    /* The site: jmp rel32 to the stub, then NOPs. */
    site->start[0] = 0xe9;
    previrt_put32(site->start + 1, (unsigned long)stub - (unsigned long)(site->start + JMP_REL32_LENGTH));
    previrt_fill_nops(site->start + JMP_REL32_LENGTH, site->length - JMP_REL32_LENGTH, insn->mode);
    return PREVIRT_PATCHED;
}

void previrt_trace_backend(struct previrt_backend *backend, struct previrt_trace *trace)
{
    backend->name = "trace";
    backend->check = trace_check;
    backend->patch = trace_patch;
    backend->ctx = trace;
    backend->lengths = PREVIRT_BACKEND_LENGTHS;
    backend->min_site_length[0] = 0; /* 16-bit sites stay native */
    backend->min_site_length[1] = JMP_REL32_LENGTH; /* jmp rel32 */
    backend->min_site_length[2] = JMP_REL32_LENGTH;
}
