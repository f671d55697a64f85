/* sites.c: the linux-user backend: validates each site the core hands it and patches it into
 * `call stub` + NOPs. The stubs live in the stub area (memory.c), which is a memfd mapped twice when the
 * guest is a kernel linked above its load address: every stub reaches the VMM only through absolute
 * addresses (`jmp *`, `call *`, absolute stores), so it works from either mapping. Kinds whose emulation
 * is a few instructions (cli, sti, pushf, popf) call copies of their fast paths (entry.S) placed at the
 * start of the stub area (sti and popf through a per-site stub that takes the emulator's path while an
 * interrupt is pending); segment register pushes, pops and register moves get frameless stubs of their
 * own; byte writes to latch ports become one store; other port I/O calls
 * vmm_port_io; everything else pushes the site's index and jumps to vmm_entry, the general emulator.
 * SPDX-License-Identifier: MIT
 */
#include <stdio.h>
#include <string.h>

#include "host.h"

static unsigned char *stub_area;
static unsigned long stub_used;
static long guest_delta; /* a site's guest address minus its address in the window */

u32 vmm_port_io(u32 port, u32 value, u32 size, u32 out);
extern unsigned char vmm_fast_begin[], vmm_fast_end[];
extern void vmm_entry(void), vmm_cli(void), vmm_pushf(void);
/* Absolute targets for the stubs' indirect jumps and calls. */
static void (*const vmm_entry_target)(void) = vmm_entry;
extern unsigned char vmm_sti_fast_code[], vmm_popf_fast_code[];
/* Where sti and popf stubs go: the fast path's copy, or vmm_entry while an interrupt is pending (board.c). */
void *vmm_sti_next, *vmm_popf_next;
unsigned char *vmm_sti_fast, *vmm_popf_fast;
static u32 (*const vmm_port_io_target)(u32, u32, u32, u32) = vmm_port_io;

/* Kinds left as they are: verr and verw do not fault in ring 3 and only set ZF from the host's
 * descriptor (Linux runs verw for its side effect on CPU buffers, and ignores ZF). */
static int left_native(unsigned kind) { return kind == PREVIRT_KIND_VERR || kind == PREVIRT_KIND_VERW; }

/* Kinds the virtual CPU does not have (cpu.c hides the features, so a kernel never runs them on purpose):
 * patched, and the emulator raises #UD (rdpmc: #GP, as with CR4.PCE clear). */
int vmm_unavailable(unsigned kind)
{
    switch (kind) {
    case PREVIRT_KIND_SYSENTER: case PREVIRT_KIND_SYSEXIT: case PREVIRT_KIND_SYSCALL: case PREVIRT_KIND_SYSRET:
    case PREVIRT_KIND_SWAPGS: case PREVIRT_KIND_RSM: case PREVIRT_KIND_INVPCID: case PREVIRT_KIND_XSETBV:
    case PREVIRT_KIND_MONITOR: case PREVIRT_KIND_MWAIT: case PREVIRT_KIND_WBNOINVD: case PREVIRT_KIND_RDPMC:
    case PREVIRT_KIND_INS: case PREVIRT_KIND_OUTS: case PREVIRT_KIND_ARPL:
        return 1;
    }
    return 0;
}

static int supported(unsigned kind)
{
    if (vmm_unavailable(kind))
        return 1;
    switch (kind) {
    case PREVIRT_KIND_CLI: case PREVIRT_KIND_STI: case PREVIRT_KIND_PUSHF: case PREVIRT_KIND_POPF: case PREVIRT_KIND_HLT:
    case PREVIRT_KIND_MOV_TO_CR: case PREVIRT_KIND_MOV_FROM_CR: case PREVIRT_KIND_MOV_TO_DR: case PREVIRT_KIND_MOV_FROM_DR:
    case PREVIRT_KIND_SMSW: case PREVIRT_KIND_LMSW: case PREVIRT_KIND_CLTS:
    case PREVIRT_KIND_MOV_TO_SEG: case PREVIRT_KIND_MOV_FROM_SEG: case PREVIRT_KIND_PUSH_SEG: case PREVIRT_KIND_POP_SEG:
    case PREVIRT_KIND_LGDT: case PREVIRT_KIND_LIDT: case PREVIRT_KIND_SGDT: case PREVIRT_KIND_SIDT:
    case PREVIRT_KIND_LLDT: case PREVIRT_KIND_SLDT: case PREVIRT_KIND_LTR: case PREVIRT_KIND_STR:
    case PREVIRT_KIND_LDS: case PREVIRT_KIND_LES: case PREVIRT_KIND_LFS: case PREVIRT_KIND_LGS: case PREVIRT_KIND_LSS:
    case PREVIRT_KIND_LJMP: case PREVIRT_KIND_LCALL: case PREVIRT_KIND_LRET: case PREVIRT_KIND_INT: case PREVIRT_KIND_IRET:
    case PREVIRT_KIND_IN: case PREVIRT_KIND_OUT: case PREVIRT_KIND_RDMSR: case PREVIRT_KIND_WRMSR: case PREVIRT_KIND_CPUID:
    case PREVIRT_KIND_INVLPG: case PREVIRT_KIND_WBINVD: case PREVIRT_KIND_INVD:
        return 1;
    }
    return left_native(kind);
}

/* Kinds whose stack slots or far pointers the emulator handles as 32 bits: with a 0x66 prefix they push,
 * pop or read 16-bit quantities, which it does not emulate. */
static int stack_or_far_operand(unsigned kind)
{
    switch (kind) {
    case PREVIRT_KIND_PUSHF: case PREVIRT_KIND_POPF: case PREVIRT_KIND_IRET: case PREVIRT_KIND_LRET:
    case PREVIRT_KIND_LJMP: case PREVIRT_KIND_LCALL: case PREVIRT_KIND_PUSH_SEG: case PREVIRT_KIND_POP_SEG:
    case PREVIRT_KIND_LDS: case PREVIRT_KIND_LES: case PREVIRT_KIND_LFS: case PREVIRT_KIND_LGS: case PREVIRT_KIND_LSS:
        return 1;
    }
    return 0;
}

static const char *linux_user_check(void *ctx, const struct previrt_patch_site *site)
{
    static char why[160];
    (void)ctx;
    if (site->index >= HOST_MAX_SITES || (vmm_fast_end - vmm_fast_begin) + (site->index + 1ul) * 64 > VMM_STUB_SIZE)
        return "more sites than the linux-user VMM's tables hold";
    if (site->decoded.mode != 32) {
        snprintf(why, sizeof why, "%d-bit code at %#lx: the linux-user VMM runs 32-bit code only", site->decoded.mode, (unsigned long)site->insn + guest_delta);
        return why;
    }
    if (!supported(site->decoded.kind) || (site->decoded.has_modrm && site->decoded.addrsize_prefix)) {
        snprintf(why, sizeof why, "%s at %#lx is not emulated by the linux-user VMM", previrt_kind_names[site->decoded.kind], (unsigned long)site->insn + guest_delta);
        return why;
    }
    if (site->decoded.opsize_prefix && stack_or_far_operand(site->decoded.kind)) {
        snprintf(why, sizeof why, "%s with a 16-bit operand size at %#lx is not emulated by the linux-user VMM",
                 previrt_kind_names[site->decoded.kind], (unsigned long)site->insn + guest_delta);
        return why;
    }
    return 0;
}

/* The copy of the fast path a kind calls directly, without a frame, or 0. */
static unsigned char *fast_path(unsigned kind)
{
    unsigned char *f = 0;
    switch (kind) {
    case PREVIRT_KIND_CLI: f = (unsigned char *)vmm_cli; break;
    case PREVIRT_KIND_PUSHF: f = (unsigned char *)vmm_pushf; break;
    default: return 0;
    }
    return stub_area + (f - vmm_fast_begin);
}

/* The virtual segment register a push, pop or mov names (0 es, 1 cs, 2 ss, 3 ds, 4 fs, 5 gs), or 0. */

static int push_pop_segment(const struct previrt_insn *d)
{
    if (d->opcode == 0x0f)
        return d->opcode2 < 0xa8 ? 4 : 5;
    return (d->opcode >> 3) & 3; /* 06/07 es, 0e cs, 16/17 ss, 1e/1f ds */
}

/* A frameless stub for the segment-register kinds Linux's entry and exit code runs on every system
 * call and interrupt: push and pop of a segment register, mov between a segment register and a general
 * register. Only push/pop, mov and lea: the guest's flags are untouched. Returns its length, or 0 when
 * the site needs the general emulator (a memory operand, a prefix, CS as a destination). */
static unsigned segment_stub(unsigned char *p, const struct previrt_insn *d)
{
    unsigned n = 0, seg, reg;
    unsigned short *field;
    if (d->opsize_prefix || d->addrsize_prefix)
        return 0;
    if (d->kind == PREVIRT_KIND_PUSH_SEG || d->kind == PREVIRT_KIND_POP_SEG) {
        seg = (unsigned)push_pop_segment(d);
        if (!(field = vcpu_segment((int)seg)) || (d->kind == PREVIRT_KIND_POP_SEG && seg == 1))
            return 0;
        if (d->kind == PREVIRT_KIND_PUSH_SEG) {
            /* E = esp before the call: [E-4] = return address. Leaves [E-4] = the selector, returns. */
            static const unsigned char a[] = {0xff, 0x34, 0x24, 0x50, 0x0f, 0xb7, 0x05}; /* pushl (%esp); push %eax; movzwl field, %eax */
            memcpy(p, a, sizeof a); n = sizeof a;
            previrt_put32(p + n, (u32)(unsigned long)field); n += 4;
            p[n++] = 0x89; p[n++] = 0x44; p[n++] = 0x24; p[n++] = 0x08;        /* mov %eax, 8(%esp) */
            p[n++] = 0x58;                                                     /* pop %eax */
            p[n++] = 0xc3;                                                     /* ret */
            return n;
        }
        /* [E] = the value, [E-4] = return address. Loads the field, leaves esp = E + 4, returns. */
        p[n++] = 0x50;                                                         /* push %eax */
        p[n++] = 0x8b; p[n++] = 0x44; p[n++] = 0x24; p[n++] = 0x08;            /* mov 8(%esp), %eax */
        p[n++] = 0x66; p[n++] = 0xa3; previrt_put32(p + n, (u32)(unsigned long)field); n += 4; /* mov %ax, field */
        p[n++] = 0x8b; p[n++] = 0x44; p[n++] = 0x24; p[n++] = 0x04;            /* mov 4(%esp), %eax */
        p[n++] = 0x89; p[n++] = 0x44; p[n++] = 0x24; p[n++] = 0x08;            /* mov %eax, 8(%esp) */
        p[n++] = 0x58;                                                         /* pop %eax */
        p[n++] = 0x8d; p[n++] = 0x64; p[n++] = 0x24; p[n++] = 0x04;            /* lea 4(%esp), %esp */
        p[n++] = 0xc3;                                                         /* ret */
        return n;
    }
    if ((d->kind != PREVIRT_KIND_MOV_TO_SEG && d->kind != PREVIRT_KIND_MOV_FROM_SEG) || (d->modrm >> 6) != 3)
        return 0;
    seg = (d->modrm >> 3) & 7;
    reg = d->modrm & 7;
    if (!(field = vcpu_segment((int)seg)) || reg == 4 || (d->kind == PREVIRT_KIND_MOV_TO_SEG && seg == 1))
        return 0; /* %esp is the stub's own stack pointer: the general path knows the guest's */
    if (d->kind == PREVIRT_KIND_MOV_TO_SEG) {
        p[n++] = 0x66; p[n++] = 0x89; p[n++] = (unsigned char)(0x05 | reg << 3); /* mov %reg16, field */
    } else {
        p[n++] = 0x0f; p[n++] = 0xb7; p[n++] = (unsigned char)(0x05 | reg << 3); /* movzwl field, %reg */
    }
    previrt_put32(p + n, (u32)(unsigned long)field); n += 4;
    p[n++] = 0xc3;
    return n;
}

/* `call target` at the site (its guest address), then NOPs. */
static void patch_call(const struct previrt_patch_site *site, unsigned char *target)
{
    u32 from = (u32)((long)site->start + guest_delta) + 5;
    site->start[0] = 0xe8;
    previrt_put32(site->start + 1, (u32)(unsigned long)target - from);
    previrt_fill_nops(site->start + 5, site->length - 5, 32);
}

/* A port I/O stub for one site: save eax, ecx, edx and the arithmetic flags, call vmm_port_io with
 * the port (imm8 or dx), the value (al/ax/eax) and the size, merge a read result into eax, restore. */
static unsigned port_stub(unsigned char *p, const struct previrt_insn *d, const unsigned char *insn)
{
    unsigned n = 0;
    int size = (d->opcode & 1) ? (d->opsize_prefix ? 2 : 4) : 1, out = (d->opcode & 2) != 0;
    if (out && size == 1 && !(d->opcode & 8) && is_latch(insn[d->imm_offset])) {
        /* movb %al, vmm_port_latch+port; ret: no registers or flags to save. */
        p[n++] = 0xa2;
        previrt_put32(p + n, (u32)(unsigned long)(vmm_port_latch + insn[d->imm_offset]));
        n += 4;
        p[n++] = 0xc3;
        return n;
    }
    static const unsigned char save[] = {0x50, 0x51, 0x52, 0x9f, 0x0f, 0x90, 0xc0, 0x50}; /* push eax,ecx,edx; lahf; seto al; push eax */
    memcpy(p, save, sizeof save);
    n = sizeof save;
    p[n++] = 0x6a; p[n++] = out;                               /* push $out */
    p[n++] = 0x6a; p[n++] = (unsigned char)size;               /* push $size */
    p[n++] = 0xff; p[n++] = 0x74; p[n++] = 0x24; p[n++] = 0x14; /* push 0x14(%esp): the guest's eax */
    if (d->opcode & 8) {
        p[n++] = 0x52;                                         /* push %edx: the port */
    } else {
        p[n++] = 0x68; previrt_put32(p + n, insn[d->imm_offset]); n += 4; /* push $port */
    }
    p[n++] = 0xff; p[n++] = 0x15; previrt_put32(p + n, (u32)(unsigned long)&vmm_port_io_target); n += 4; /* call *vmm_port_io_target */
    p[n++] = 0x83; p[n++] = 0xc4; p[n++] = 0x10;               /* add $16,%esp */
    if (!out) {
        /* Merge the result into the saved eax at 8(%esp): al, ax or all of eax. */
        if (size == 1) { p[n++] = 0x88; p[n++] = 0x44; p[n++] = 0x24; p[n++] = 0x0c; }          /* mov %al,0xc(%esp) */
        else if (size == 2) { p[n++] = 0x66; p[n++] = 0x89; p[n++] = 0x44; p[n++] = 0x24; p[n++] = 0x0c; }
        else { p[n++] = 0x89; p[n++] = 0x44; p[n++] = 0x24; p[n++] = 0x0c; }
    }
    p[n++] = 0x58;                                             /* pop %eax: the saved flags */
    p[n++] = 0x04; p[n++] = 0x7f;                              /* add $0x7f,%al: OF back */
    p[n++] = 0x9e;                                             /* sahf */
    p[n++] = 0x5a; p[n++] = 0x59; p[n++] = 0x58;               /* pop edx, ecx, eax */
    p[n++] = 0xc3;
    return n;
}

/* The site becomes `call handler` + NOPs: a fast path, a port I/O stub, or a stub
 * `push $index; jmp vmm_entry` into the general emulator. */
static enum previrt_action linux_user_patch(void *ctx, const struct previrt_patch_site *site)
{
    struct host_site *h = &host_sites[site->index];
    unsigned char *stub = stub_area + stub_used;
    unsigned n_segment;
    (void)ctx;
    h->start = (u32)((long)site->start + guest_delta);
    h->insn = (u32)((long)site->insn + guest_delta);
    h->length = site->length;
    h->decoded = site->decoded;
    memcpy(h->bytes, site->insn, site->decoded.length);
    if (site->index + 1 > host_site_count)
        host_site_count = site->index + 1;
    if (left_native(site->decoded.kind))
        return PREVIRT_LEFT_NATIVE;
    if (fast_path(site->decoded.kind) && !site->decoded.opsize_prefix) {
        patch_call(site, fast_path(site->decoded.kind));
        return PREVIRT_PATCHED;
    }
    if (site->decoded.kind == PREVIRT_KIND_IN || site->decoded.kind == PREVIRT_KIND_OUT) {
        stub_used += port_stub(stub, &site->decoded, site->insn);
    } else if ((n_segment = segment_stub(stub, &site->decoded)) != 0) {
        stub_used += n_segment;
    } else if ((site->decoded.kind == PREVIRT_KIND_STI || site->decoded.kind == PREVIRT_KIND_POPF) && !site->decoded.opsize_prefix) {
        unsigned n = 0;
        if (site->decoded.kind == PREVIRT_KIND_STI) {
            stub[n++] = 0xc7; stub[n++] = 0x05;               /* movl $0x200, vmm_vif */
            previrt_put32(stub + n, (u32)(unsigned long)&vmm_vif); n += 4;
            previrt_put32(stub + n, 0x200); n += 4;
        }
        stub[n++] = 0x68;                                     /* push $index */
        previrt_put32(stub + n, site->index); n += 4;
        stub[n++] = 0xff; stub[n++] = 0x25;                   /* jmp *vmm_sti_next or *vmm_popf_next */
        previrt_put32(stub + n, (u32)(unsigned long)(site->decoded.kind == PREVIRT_KIND_STI ? &vmm_sti_next : &vmm_popf_next));
        n += 4;
        stub_used += n;
    } else {
        stub[0] = 0x68;                                       /* push $index */
        previrt_put32(stub + 1, site->index);
        stub[5] = 0xff;                                       /* jmp *vmm_entry_target */
        stub[6] = 0x25;
        previrt_put32(stub + 7, (u32)(unsigned long)&vmm_entry_target);
        stub_used += 11;
    }
    patch_call(site, stub);
    return PREVIRT_PATCHED;
}

void linux_user_backend(struct previrt_backend *backend, unsigned char *stubs, long delta)
{
    unsigned long fast = (unsigned long)(vmm_fast_end - vmm_fast_begin);
    stub_area = stubs;
    memcpy(stub_area, vmm_fast_begin, fast);
    stub_used = (fast + 15) & ~15ul;
    vmm_sti_fast = vmm_sti_next = stub_area + (vmm_sti_fast_code - vmm_fast_begin);
    vmm_popf_fast = vmm_popf_next = stub_area + (vmm_popf_fast_code - vmm_fast_begin);
    guest_delta = delta;
    backend->name = "linux-user";
    backend->lengths = PREVIRT_BACKEND_LENGTHS;
    backend->min_site_length[0] = 0; /* 16-bit code: refused by linux_user_check with its own message */
    backend->min_site_length[1] = 5; /* call rel32 */
    backend->min_site_length[2] = 0; /* 64-bit code: refused by linux_user_check */
    backend->check = linux_user_check;
    backend->patch = linux_user_patch;
    backend->ctx = 0;
}

/* The index of the site whose patched `call` at guest address `at` (read through the MMU) goes to a
 * stub of the general emulator, or -1. */
int site_called_at(u32 at)
{
    unsigned char call[5];
    u32 target, index;
    if (guest_read(at, call, 5) != 0 || call[0] != 0xe8)
        return -1;
    target = at + 5 + (u32)(call[1] | call[2] << 8 | call[3] << 16 | (u32)call[4] << 24);
    if (memory_in_stub_alias(target))
        target = target - memory_stub_alias() + VMM_STUB_BASE;
    if (target - VMM_STUB_BASE >= VMM_STUB_SIZE - 5 || stub_area[target - VMM_STUB_BASE] != 0x68)
        return -1;
    {
        const unsigned char *p = stub_area + (target - VMM_STUB_BASE) + 1;
        index = (u32)(p[0] | p[1] << 8 | p[2] << 16 | (u32)p[3] << 24);
    }
    return index < host_site_count ? (int)index : -1;
}
