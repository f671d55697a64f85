/* decode.c: recognize the sensitive x86 instructions of the catalog and measure them.
 *
 * Not a general disassembler: it decodes prefixes, the opcodes the catalog names, ModRM, SIB,
 * displacement and immediate, enough to say "these bytes are a <kind> of <n> bytes" and to hand the
 * operands to a backend. Anything else is reported as kind 0. Freestanding: no libc.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 the previrt authors. Permission is hereby granted, free of charge, to any
 * person obtaining a copy of this file, to deal in it without restriction, subject to this notice
 * being kept. THE FILE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND.
 */
#include "previrt_runtime.h"

/* Length of ModRM + SIB + displacement starting at p[0] (the ModRM byte); -1 if past avail. */
static int modrm_length(const unsigned char *p, unsigned long avail, int addr_bits, struct previrt_insn *insn)
{
    unsigned char modrm, mod, rm;
    int len = 1;
    if (avail < 1)
        return -1;
    modrm = p[0];
    mod = modrm >> 6;
    rm = modrm & 7;
    insn->modrm = modrm;
    insn->has_modrm = 1;
    if (mod == 3)
        return 1;
    if (addr_bits == 16) {
        if (mod == 0 && rm == 6)
            len += 2;
        else if (mod == 1)
            len += 1;
        else if (mod == 2)
            len += 2;
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

int previrt_decode(const unsigned char *p, unsigned long avail, int mode, struct previrt_insn *insn)
{
    unsigned long i = 0;
    int opsize16, addr_bits, n;
    unsigned char op, op2 = 0, reg;
    unsigned int kind = 0, imm = 0, modrm_needed = 0, mem_only = 0;

    for (n = 0; n < (int)sizeof *insn; n++)
        ((unsigned char *)insn)[n] = 0;
    insn->mode = (unsigned char)mode;

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
    opsize16 = (mode == 16) != (insn->opsize_prefix != 0);
    addr_bits = mode == 64 ? (insn->addrsize_prefix ? 32 : 64) : ((mode == 16) != (insn->addrsize_prefix != 0) ? 16 : 32);

    op = p[i++];
    insn->opcode = op;
    switch (op) {
    case 0xfa: kind = PREVIRT_KIND_CLI; break;
    case 0xfb: kind = PREVIRT_KIND_STI; break;
    case 0x9c: kind = PREVIRT_KIND_PUSHF; break;
    case 0x9d: kind = PREVIRT_KIND_POPF; break;
    case 0xf4: kind = PREVIRT_KIND_HLT; break;
    case 0xcf: kind = PREVIRT_KIND_IRET; break;
    case 0xcb: kind = PREVIRT_KIND_LRET; break;
    case 0xca: kind = PREVIRT_KIND_LRET; imm = 2; break;
    case 0xcd: kind = PREVIRT_KIND_INT; imm = 1; break;
    case 0xe4: case 0xe5: kind = PREVIRT_KIND_IN; imm = 1; break;
    case 0xec: case 0xed: kind = PREVIRT_KIND_IN; break;
    case 0xe6: case 0xe7: kind = PREVIRT_KIND_OUT; imm = 1; break;
    case 0xee: case 0xef: kind = PREVIRT_KIND_OUT; break;
    case 0x6c: case 0x6d: kind = PREVIRT_KIND_INS; break;
    case 0x6e: case 0x6f: kind = PREVIRT_KIND_OUTS; break;
    case 0x8c: kind = PREVIRT_KIND_MOV_FROM_SEG; modrm_needed = 1; break;
    case 0x8e: kind = PREVIRT_KIND_MOV_TO_SEG; modrm_needed = 1; break;
    case 0x06: case 0x0e: case 0x16: case 0x1e: if (mode != 64) kind = PREVIRT_KIND_PUSH_SEG; break;
    case 0x07: case 0x17: case 0x1f: if (mode != 64) kind = PREVIRT_KIND_POP_SEG; break;
    case 0x63: if (mode != 64) { kind = PREVIRT_KIND_ARPL; modrm_needed = 1; } break;
    case 0xc4: case 0xc5:
        if (mode != 64 && i >= avail)
            return -1;
        if (mode != 64 && (p[i] >> 6) != 3) {
            kind = op == 0xc5 ? PREVIRT_KIND_LDS : PREVIRT_KIND_LES;
            modrm_needed = 1;
        }
        break;
    case 0xea: case 0x9a:
        if (mode != 64) {
            kind = op == 0xea ? PREVIRT_KIND_LJMP : PREVIRT_KIND_LCALL;
            imm = (opsize16 ? 2 : 4) + 2;
        }
        break;
    case 0xff:
        if (i >= avail)
            return -1;
        reg = (p[i] >> 3) & 7;
        if ((reg == 3 || reg == 5) && (p[i] >> 6) != 3) {
            kind = reg == 5 ? PREVIRT_KIND_LJMP : PREVIRT_KIND_LCALL;
            modrm_needed = 1;
        }
        break;
    case 0x0f:
        if (i >= avail)
            return -1;
        op2 = p[i++];
        insn->opcode2 = op2;
        switch (op2) {
        case 0x06: kind = PREVIRT_KIND_CLTS; break;
        case 0x08: kind = PREVIRT_KIND_INVD; break;
        case 0x09: kind = insn->rep == 0xf3 ? PREVIRT_KIND_WBNOINVD : PREVIRT_KIND_WBINVD; break;
        case 0x30: kind = PREVIRT_KIND_WRMSR; break;
        case 0x32: kind = PREVIRT_KIND_RDMSR; break;
        case 0x31: kind = PREVIRT_KIND_RDTSC; break;
        case 0x33: kind = PREVIRT_KIND_RDPMC; break;
        case 0x34: kind = PREVIRT_KIND_SYSENTER; break;
        case 0x35: kind = PREVIRT_KIND_SYSEXIT; break;
        case 0x05: kind = PREVIRT_KIND_SYSCALL; break;
        case 0x07: kind = PREVIRT_KIND_SYSRET; break;
        case 0xa2: kind = PREVIRT_KIND_CPUID; break;
        case 0xaa: kind = PREVIRT_KIND_RSM; break;
        case 0xa0: case 0xa8: kind = PREVIRT_KIND_PUSH_SEG; break;
        case 0xa1: case 0xa9: kind = PREVIRT_KIND_POP_SEG; break;
        case 0xb2: kind = PREVIRT_KIND_LSS; modrm_needed = 1; mem_only = 1; break;
        case 0xb4: kind = PREVIRT_KIND_LFS; modrm_needed = 1; mem_only = 1; break;
        case 0xb5: kind = PREVIRT_KIND_LGS; modrm_needed = 1; mem_only = 1; break;
        case 0x02: kind = PREVIRT_KIND_LAR; modrm_needed = 1; break;
        case 0x03: kind = PREVIRT_KIND_LSL; modrm_needed = 1; break;
        case 0x20: kind = PREVIRT_KIND_MOV_FROM_CR; break;
        case 0x22: kind = PREVIRT_KIND_MOV_TO_CR; break;
        case 0x21: kind = PREVIRT_KIND_MOV_FROM_DR; break;
        case 0x23: kind = PREVIRT_KIND_MOV_TO_DR; break;
        case 0x00:
            if (i >= avail)
                return -1;
            switch ((p[i] >> 3) & 7) {
            case 0: kind = PREVIRT_KIND_SLDT; break;
            case 1: kind = PREVIRT_KIND_STR; break;
            case 2: kind = PREVIRT_KIND_LLDT; break;
            case 3: kind = PREVIRT_KIND_LTR; break;
            case 4: kind = PREVIRT_KIND_VERR; break;
            case 5: kind = PREVIRT_KIND_VERW; break;
            }
            modrm_needed = 1;
            break;
        case 0x01:
            if (i >= avail)
                return -1;
            if ((p[i] >> 6) == 3) {
                switch (p[i]) {
                case 0xf8: kind = PREVIRT_KIND_SWAPGS; break;
                case 0xf9: kind = PREVIRT_KIND_RDTSCP; break;
                case 0xc8: kind = PREVIRT_KIND_MONITOR; break;
                case 0xc9: kind = PREVIRT_KIND_MWAIT; break;
                case 0xd1: kind = PREVIRT_KIND_XSETBV; break;
                default:
                    if (((p[i] >> 3) & 7) == 4) kind = PREVIRT_KIND_SMSW;
                    else if (((p[i] >> 3) & 7) == 6) kind = PREVIRT_KIND_LMSW;
                }
                if (kind == PREVIRT_KIND_SMSW || kind == PREVIRT_KIND_LMSW)
                    modrm_needed = 1;
                else if (kind)
                    i++;
            } else {
                static const unsigned short by_reg[8] = {
                    PREVIRT_KIND_SGDT, PREVIRT_KIND_SIDT, PREVIRT_KIND_LGDT, PREVIRT_KIND_LIDT,
                    PREVIRT_KIND_SMSW, 0, PREVIRT_KIND_LMSW, PREVIRT_KIND_INVLPG,
                };
                kind = by_reg[(p[i] >> 3) & 7];
                modrm_needed = 1;
            }
            break;
        case 0x38:
            if (i >= avail)
                return -1;
            if (p[i] == 0x82 && insn->opsize_prefix) {
                insn->opcode2 = 0x82;
                i++;
                kind = PREVIRT_KIND_INVPCID;
                modrm_needed = 1;
                mem_only = 1;
            }
            break;
        }
        break;
    }
    if (!kind)
        return 0;
    if (op == 0x0f && (op2 == 0x20 || op2 == 0x21 || op2 == 0x22 || op2 == 0x23)) {
        /* Moves to and from control and debug registers take a register operand whatever mod says. */
        if (i >= avail)
            return -1;
        insn->has_modrm = 1;
        insn->modrm = p[i++];
    } else if (modrm_needed) {
        n = modrm_length(p + i, avail - i, addr_bits, insn);
        if (n < 0)
            return -1;
        if (mem_only && (insn->modrm >> 6) == 3)
            return 0;
        insn->disp_offset = (unsigned char)(i + 1 + ((insn->modrm & 7) == 4 && addr_bits != 16 && (insn->modrm >> 6) != 3));
        i += (unsigned long)n;
    }
    if (imm) {
        if (i + imm > avail)
            return -1;
        insn->imm_offset = (unsigned char)i;
        i += imm;
    }
    if (kind == PREVIRT_KIND_INT && p[insn->imm_offset] == 3)
        return 0;
    if (i > 15)
        return 0;
    insn->length = (unsigned char)i;
    insn->kind = (unsigned short)kind;
    return (int)i;
}
