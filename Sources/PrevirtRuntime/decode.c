/* decode.c: recognize the sensitive x86 instructions of the catalog and measure them.
 *
 * Not a general disassembler: it decodes prefixes, finds the opcode in the catalog's encoding table
 * (previrt_decode_table.h, generated), then measures ModRM, SIB, displacement and immediate, enough to
 * say "these bytes are a <kind> of <n> bytes" and to hand the operands to a backend. Anything else is
 * reported as kind 0. Freestanding: no libc.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 the previrt authors. Permission is hereby granted, free of charge, to any
 * person obtaining a copy of this file, to deal in it without restriction, subject to this notice
 * being kept. THE FILE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND.
 */
#include "previrt_runtime.h"
#include "previrt_decode_table.h"

/* Length of ModRM + SIB + displacement starting at p[0] (the ModRM byte); -1 if past avail. */
static int modrm_length(const unsigned char *p, unsigned long avail, int addr_bits, struct previrt_insn *insn)
{
    unsigned char mod = p[0] >> 6, rm = p[0] & 7;
    int len = 1;
    if (mod == 3)
        return 1;
    if (addr_bits == 16) {
        if ((mod == 0 && rm == 6) || mod == 2)
            len += 2;
        else if (mod == 1)
            len += 1;
    } else {
        if (rm == 4) {
            if (avail < 2)
                return -1;
            insn->sib = p[1];
            len += 1;
            if (mod == 0 && (p[1] & 7) == 5)
                len += 4;
        }
        if (mod == 0 && rm == 5)
            len += 4;
        else if (mod == 1)
            len += 1;
        else if (mod == 2)
            len += 4;
    }
    return (unsigned long)len <= avail ? len : -1;
}

static int is_legacy_prefix(unsigned char b)
{
    switch (b) {
    case 0x26: case 0x2e: case 0x36: case 0x3e: case 0x64: case 0x65:
    case 0x66: case 0x67: case 0xf0: case 0xf2: case 0xf3:
        return 1;
    }
    return 0;
}

/* Whether the ModRM byte m satisfies the row's rule. */
static int modrm_matches(const struct previrt_encoding *e, unsigned char m)
{
    switch (e->modrm) {
    case PREVIRT_MODRM_MEMORY: return (m >> 6) != 3;
    case PREVIRT_MODRM_REG: return ((m >> 3) & 7) == e->modrm_value;
    case PREVIRT_MODRM_REG_MEMORY: return ((m >> 3) & 7) == e->modrm_value && (m >> 6) != 3;
    case PREVIRT_MODRM_EXACT: return m == e->modrm_value;
    }
    return 1; /* ANY, CONTROL_DEBUG */
}

/* Whether the row's mandatory prefix (if any) is among the prefixes seen. */
static int prefix_matches(const struct previrt_encoding *e, const struct previrt_insn *insn)
{
    return e->prefix == 0 || (e->prefix == 0x66 && insn->opsize_prefix) || (e->prefix == insn->rep);
}

int previrt_decode(const unsigned char *p, unsigned long avail, int mode, struct previrt_insn *insn)
{
    unsigned long i = 0;
    int addr_bits, n, in_mode, truncated = 0;
    unsigned char map = PREVIRT_MAP_ONE_BYTE, op;
    const struct previrt_encoding *e = 0;
    unsigned int r, imm = 0;

    for (n = 0; n < (int)sizeof *insn; n++)
        ((unsigned char *)insn)[n] = 0;
    insn->mode = (unsigned char)mode;
    in_mode = mode == 16 ? PREVIRT_IN_16 : mode == 32 ? PREVIRT_IN_32 : mode == 64 ? PREVIRT_IN_64 : 0;
    if (!in_mode)
        return 0;

    while (i < avail && i < 14 && is_legacy_prefix(p[i])) {
        if (p[i] == 0x66)
            insn->opsize_prefix = 1;
        else if (p[i] == 0x67)
            insn->addrsize_prefix = 1;
        else if (p[i] == 0xf3 || p[i] == 0xf2)
            insn->rep = p[i];
        else if (p[i] != 0xf0)
            insn->segment = p[i];
        i++;
    }
    if (mode == 64 && i < avail && (p[i] & 0xf0) == 0x40)
        insn->rex = p[i++];
    if (i >= avail)
        return -1;
    insn->prefix_len = (unsigned char)i;
    addr_bits = mode == 64 ? (insn->addrsize_prefix ? 32 : 64) : ((mode == 16) != (insn->addrsize_prefix != 0) ? 16 : 32);

    /* The opcode and its map. */
    op = p[i++];
    insn->opcode = op;
    if (op == 0x0f) {
        if (i >= avail)
            return -1;
        map = PREVIRT_MAP_0F;
        op = p[i++];
        if (op == 0x38) {
            if (i >= avail)
                return -1;
            map = PREVIRT_MAP_0F38;
            op = p[i++];
        }
        insn->opcode2 = op;
    }

    /* The first row that matches: map, opcode, mode, mandatory prefix, then the ModRM rule. */
    for (r = 0; r < PREVIRT_ENCODING_COUNT && !e; r++) {
        const struct previrt_encoding *c = &previrt_encodings[r];
        if (c->map != map || c->opcode != op || !(c->modes & in_mode) || !prefix_matches(c, insn))
            continue;
        if (c->modrm != PREVIRT_MODRM_NONE) {
            if (i >= avail) {
                truncated = 1;
                continue;
            }
            if (!modrm_matches(c, p[i]))
                continue;
        }
        e = c;
    }
    if (!e)
        return truncated ? -1 : 0;

    /* Measure ModRM, SIB and displacement. */
    if (e->modrm != PREVIRT_MODRM_NONE) {
        insn->has_modrm = 1;
        insn->modrm = p[i];
        insn->modrm_offset = (unsigned char)i;
        if (e->modrm == PREVIRT_MODRM_CONTROL_DEBUG || e->modrm == PREVIRT_MODRM_EXACT) {
            i++;
        } else {
            n = modrm_length(p + i, avail - i, addr_bits, insn);
            if (n < 0)
                return -1;
            insn->disp_offset = (unsigned char)(i + 1 + ((insn->modrm & 7) == 4 && addr_bits != 16 && (insn->modrm >> 6) != 3));
            i += (unsigned long)n;
        }
    }

    /* The immediate. */
    switch (e->immediate) {
    case PREVIRT_IMM_BYTE: imm = 1; break;
    case PREVIRT_IMM_WORD: imm = 2; break;
    case PREVIRT_IMM_FAR_POINTER: imm = ((mode == 16) != (insn->opsize_prefix != 0) ? 2 : 4) + 2; break;
    }
    if (imm) {
        if (i + imm > avail)
            return -1;
        insn->imm_offset = (unsigned char)i;
        if (e->excludes_imm && p[i] == e->excluded_imm)
            return 0;
        i += imm;
    }
    if (i > 15)
        return 0;
    insn->length = (unsigned char)i;
    insn->kind = e->kind;
    return (int)i;
}
