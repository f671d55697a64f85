/* vcpu.c: the linux-user backend. A Linux process is the hypervisor: each site calls into
 * vcpu_emulate, which applies the instruction to a virtual CPU (interrupt flag, control and debug
 * registers, descriptor tables, segment registers, MSRs) and to virtual devices (COM1, QEMU's
 * isa-debug-exit), then resumes the guest. i386 guests, 32-bit code.
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host.h"

typedef unsigned int u32;

struct frame {
    u32 edi, esi, ebp, esp_unused, ebx, edx, ecx, eax;
    u32 eflags;
};

/* The guest's stack pointer at entry: it points at [site index][return address]. */
u32 vmm_guest_esp;

struct vcpu vcpu;
u32 vmm_resume_eip, vmm_resume_esp;
u32 vmm_vif; /* the virtual interrupt flag: 0 or 0x200 */
struct host_site host_sites[HOST_MAX_SITES];
unsigned int host_site_count;
const struct host_site *vmm_current_site;
static unsigned char *stub_area;
static unsigned long stub_used, stub_size;

#define IF 0x200u
#define ARITH 0x8d5u /* CF PF AF ZF SF OF */
#define DF 0x400u

/* --- COM1 and isa-debug-exit --- */

static char out_buf[4096];
static size_t out_len;

/* Writes the buffered output; returns 0, or the errno of the write that failed. */
static int console_flush(void)
{
    size_t done = 0;
    while (done < out_len) {
        ssize_t n = write(1, out_buf + done, out_len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            out_len = 0;
            return n < 0 ? errno : EIO;
        }
        done += (size_t)n;
    }
    out_len = 0;
    return 0;
}

/* Says on standard error that the console output was lost, and why. */
static void report_console_error(int error)
{
    char text[256];
    snprintf(text, sizeof text, "previrt run: cannot write the guest's console output to standard output: %s\n", strerror(error));
    (void)!write(2, text, strlen(text));
}

void host_flush(void)
{
    int error = console_flush();
    if (error) {
        report_console_error(error);
        _exit(VMM_EXIT_ERROR);
    }
}

void vmm_exit(int status, const char *format, ...)
{
    va_list ap;
    int error = console_flush();
    char text[512];
    size_t n;
    va_start(ap, format);
    strcpy(text, "previrt run: ");
    n = strlen(text);
    vsnprintf(text + n, sizeof text - n, format, ap);
    va_end(ap);
    if (text[n])
        (void)!write(2, text, strlen(text));
    if (error) {
        report_console_error(error);
        if (status == VMM_EXIT_HALTED || (status & 1))
            status = VMM_EXIT_ERROR;
    }
    _exit(status);
}

static void com1_write(unsigned char c)
{
    if (out_len == sizeof out_buf)
        host_flush();
    out_buf[out_len++] = (char)c;
    if (c == '\n')
        host_flush();
}

/* Ports that are plain latches: POST/io-delay (0x80) and the PIC mask registers. Byte writes to them
 * from an immediate port are patched to a single store (see port_stub), as hot as Linux's io_delay. */
unsigned char vmm_port_latch[256];
static int is_latch(unsigned port) { return port == 0x80 || port == 0x21 || port == 0xa1; }

static u32 port_in(unsigned port, int size)
{
    vcpu.port_reads++;
    if (is_latch(port) && size == 1)
        return vmm_port_latch[port];
    if (port == 0x3fd) /* COM1 line status: transmitter empty */
        return 0x60;
    if (port >= 0x3f8 && port <= 0x3ff)
        return 0;
    return size == 1 ? 0xff : size == 2 ? 0xffff : 0xffffffffu;
}

static void port_out(unsigned port, u32 value, int size)
{
    (void)size;
    vcpu.port_writes++;
    if (is_latch(port))
        vmm_port_latch[port] = (unsigned char)value;
    else if (port == 0x3f8)
        com1_write((unsigned char)value);
    else if (port == 0xf4)
        vmm_exit((int)(((value & 0xff) << 1) | 1), "%s", "");
}

/* Called by the port I/O stubs (cdecl): returns the value read, for in. */
u32 vmm_port_io(u32 port, u32 value, u32 size, u32 out)
{
    u32 result = 0;
    vmm_selector = VMM_SELECTOR_ALLOW; /* the console may write */
    if (out)
        port_out(port & 0xffff, value, (int)size);
    else
        result = port_in(port & 0xffff, (int)size);
    vmm_selector = VMM_SELECTOR_BLOCK;
    return result;
}

/* --- registers and memory operands --- */

static u32 *reg(struct frame *f, int n)
{
    switch (n & 7) {
    case 0: return &f->eax;
    case 1: return &f->ecx;
    case 2: return &f->edx;
    case 3: return &f->ebx;
    case 4: return &vmm_resume_esp;
    case 5: return &f->ebp;
    case 6: return &f->esi;
    default: return &f->edi;
    }
}

/* The effective address of a 32-bit-addressing memory operand (segments are flat). */
static u32 effective_address(struct frame *f, const struct host_site *s)
{
    const unsigned char *p = s->bytes + s->decoded.modrm_offset; /* where the decoder found ModRM */
    unsigned mod = p[0] >> 6, rm = p[0] & 7, i = 1;
    u32 a = 0;
    if (rm == 4) {
        unsigned sib = p[i++], base = sib & 7, index = (sib >> 3) & 7, scale = sib >> 6;
        if (index != 4)
            a += *reg(f, (int)index) << scale;
        if (base == 5 && mod == 0) {
            a += (u32)(p[i] | p[i + 1] << 8 | p[i + 2] << 16 | (u32)p[i + 3] << 24);
            return a;
        }
        a += base == 4 ? s->guest_esp : *reg(f, (int)base);
    } else if (rm == 5 && mod == 0) {
        return (u32)(p[i] | p[i + 1] << 8 | p[i + 2] << 16 | (u32)p[i + 3] << 24);
    } else {
        a += *reg(f, (int)rm);
    }
    if (mod == 1)
        a += (u32)(int)(signed char)p[i];
    else if (mod == 2)
        a += (u32)(p[i] | p[i + 1] << 8 | p[i + 2] << 16 | (u32)p[i + 3] << 24);
    return a;
}

static int is_register_operand(const struct host_site *s) { return (s->decoded.modrm >> 6) == 3; }
static int modrm_reg(const struct host_site *s) { return (s->decoded.modrm >> 3) & 7; }
static int modrm_rm(const struct host_site *s) { return s->decoded.modrm & 7; }

static u32 read_rm16(struct frame *f, const struct host_site *s)
{
    return is_register_operand(s) ? *reg(f, modrm_rm(s)) & 0xffff : *(unsigned short *)(unsigned long)effective_address(f, s);
}

/* A selector stored to r/m16: a register gets it zero-extended, memory gets 16 bits. */
static void write_rm16(struct frame *f, const struct host_site *s, u32 v)
{
    if (!is_register_operand(s))
        *(unsigned short *)(unsigned long)effective_address(f, s) = (unsigned short)v;
    else if (s->decoded.opsize_prefix)
        *reg(f, modrm_rm(s)) = (*reg(f, modrm_rm(s)) & 0xffff0000u) | (v & 0xffff);
    else
        *reg(f, modrm_rm(s)) = v & 0xffff;
}

static void push32(u32 v)
{
    vmm_resume_esp -= 4;
    *(u32 *)(unsigned long)vmm_resume_esp = v;
}

static u32 pop32(void)
{
    u32 v = *(u32 *)(unsigned long)vmm_resume_esp;
    vmm_resume_esp += 4;
    return v;
}

static u32 imm32(const unsigned char *p) { return (u32)(p[0] | p[1] << 8 | p[2] << 16 | (u32)p[3] << 24); }

static unsigned short *segment(int n)
{
    static unsigned short none;
    switch (n) {
    case 0: return &vcpu.es;
    case 1: return &vcpu.cs;
    case 2: return &vcpu.ss;
    case 3: return &vcpu.ds;
    case 4: return &vcpu.fs;
    case 5: return &vcpu.gs;
    }
    return &none;
}

/* The segment register a push/pop opcode names. */
static int push_pop_segment(const struct previrt_insn *d)
{
    if (d->opcode == 0x0f)
        return d->opcode2 < 0xa8 ? 4 : 5;
    return (d->opcode >> 3) & 3; /* 06/07 es, 0e cs, 16/17 ss, 1e/1f ds */
}

static u32 virtual_flags(u32 real) { return (real & ~IF) | vmm_vif; }

static u32 msr_read(u32 index)
{
    unsigned i;
    for (i = 0; i < vcpu.msr_count; i++)
        if (vcpu.msr_index[i] == index)
            return i;
    return ~0u;
}

/* --- the emulator --- */

void vcpu_emulate(struct frame *f)
{
    u32 index = *(u32 *)(unsigned long)vmm_guest_esp;
    struct host_site *s = &host_sites[index < host_site_count ? index : 0];
    const struct previrt_insn *d = &s->decoded;
    const unsigned char *imm = s->bytes + d->imm_offset;
    u32 a, t;
    int size;

    s->guest_esp = vmm_guest_esp + 8;
    vmm_resume_esp = s->guest_esp;
    vmm_resume_eip = (u32)(unsigned long)(s->start + s->length);
    s->executions++;
    vmm_current_site = s;

    switch (d->kind) {
    case PREVIRT_KIND_CLI: vmm_vif = 0; break;
    case PREVIRT_KIND_STI: vmm_vif = IF; break;
    case PREVIRT_KIND_PUSHF: push32(virtual_flags(f->eflags)); break;
    case PREVIRT_KIND_POPF:
        t = pop32();
        vmm_vif = t & IF;
        f->eflags = (f->eflags & ~(ARITH | DF)) | (t & (ARITH | DF));
        break;
    case PREVIRT_KIND_HLT:
        if (!vmm_vif)
            vmm_exit(VMM_EXIT_HALTED, "the guest halted with interrupts off at %#x\n", (u32)(unsigned long)s->insn);
        break;
    case PREVIRT_KIND_MOV_TO_CR: vcpu.cr[modrm_reg(s)] = *reg(f, modrm_rm(s)); break;
    case PREVIRT_KIND_MOV_FROM_CR: *reg(f, modrm_rm(s)) = vcpu.cr[modrm_reg(s)]; break;
    case PREVIRT_KIND_MOV_TO_DR: vcpu.dr[modrm_reg(s)] = *reg(f, modrm_rm(s)); break;
    case PREVIRT_KIND_MOV_FROM_DR: *reg(f, modrm_rm(s)) = vcpu.dr[modrm_reg(s)]; break;
    case PREVIRT_KIND_SMSW: write_rm16(f, s, vcpu.cr[0] & 0xffff); break;
    case PREVIRT_KIND_LMSW: vcpu.cr[0] = (vcpu.cr[0] & ~0xeu) | (read_rm16(f, s) & 0xf) | (vcpu.cr[0] & 1); break;
    case PREVIRT_KIND_CLTS: vcpu.cr[0] &= ~8u; break;
    case PREVIRT_KIND_MOV_TO_SEG: *segment(modrm_reg(s)) = (unsigned short)read_rm16(f, s); break;
    case PREVIRT_KIND_MOV_FROM_SEG: write_rm16(f, s, *segment(modrm_reg(s))); break;
    case PREVIRT_KIND_PUSH_SEG: push32(*segment(push_pop_segment(d))); break;
    case PREVIRT_KIND_POP_SEG: *segment(push_pop_segment(d)) = (unsigned short)pop32(); break;
    case PREVIRT_KIND_LGDT:
    case PREVIRT_KIND_LIDT:
        a = effective_address(f, s);
        t = d->kind == PREVIRT_KIND_LGDT;
        vcpu.table_limit[!t] = *(unsigned short *)(unsigned long)a;
        vcpu.table_base[!t] = *(u32 *)(unsigned long)(a + 2);
        break;
    case PREVIRT_KIND_SGDT:
    case PREVIRT_KIND_SIDT:
        a = effective_address(f, s);
        t = d->kind == PREVIRT_KIND_SGDT;
        *(unsigned short *)(unsigned long)a = (unsigned short)vcpu.table_limit[!t];
        *(u32 *)(unsigned long)(a + 2) = vcpu.table_base[!t];
        break;
    case PREVIRT_KIND_LLDT: vcpu.ldtr = (unsigned short)read_rm16(f, s); break;
    case PREVIRT_KIND_SLDT: write_rm16(f, s, vcpu.ldtr); break;
    case PREVIRT_KIND_LTR: vcpu.tr = (unsigned short)read_rm16(f, s); break;
    case PREVIRT_KIND_STR: write_rm16(f, s, vcpu.tr); break;
    case PREVIRT_KIND_LDS: case PREVIRT_KIND_LES: case PREVIRT_KIND_LFS: case PREVIRT_KIND_LGS: case PREVIRT_KIND_LSS:
        a = effective_address(f, s);
        t = d->kind == PREVIRT_KIND_LDS ? 3 : d->kind == PREVIRT_KIND_LES ? 0 : d->kind == PREVIRT_KIND_LFS ? 4
            : d->kind == PREVIRT_KIND_LGS ? 5 : 2;
        *segment((int)t) = *(unsigned short *)(unsigned long)(a + 4);
        if (d->kind == PREVIRT_KIND_LSS)
            vmm_resume_esp = *(u32 *)(unsigned long)a;
        else
            *reg(f, modrm_reg(s)) = *(u32 *)(unsigned long)a;
        break;
    case PREVIRT_KIND_LJMP:
    case PREVIRT_KIND_LCALL:
        if (d->opcode == 0xea || d->opcode == 0x9a) {
            t = imm32(imm);
            a = (u32)(imm[4] | imm[5] << 8);
        } else {
            u32 ea = effective_address(f, s);
            t = *(u32 *)(unsigned long)ea;
            a = *(unsigned short *)(unsigned long)(ea + 4);
        }
        if (d->kind == PREVIRT_KIND_LCALL) {
            push32(vcpu.cs);
            push32(vmm_resume_eip);
        }
        vcpu.cs = (unsigned short)a;
        vmm_resume_eip = t;
        break;
    case PREVIRT_KIND_LRET:
        vmm_resume_eip = pop32();
        vcpu.cs = (unsigned short)pop32();
        if (d->opcode == 0xca)
            vmm_resume_esp += (u32)(imm[0] | imm[1] << 8);
        break;
    case PREVIRT_KIND_INT:
        /* Through the virtual IDT; no gate for the vector is #GP(vector * 8 + 2), as on a CPU. */
        t = deliver_to_guest(imm[0], 0, 0, &vmm_resume_eip, &vmm_resume_esp, &f->eflags);
        if (t == ~0u) {
            vmm_resume_eip = (u32)(unsigned long)s->start;
            t = deliver_to_guest(13, 1, imm[0] * 8u + 2, &vmm_resume_eip, &vmm_resume_esp, &f->eflags);
        }
        if (t == ~0u)
            vmm_exit(VMM_EXIT_ERROR, "guest fault: #GP at %#x (int $%#x: the guest's virtual IDT has no gate for the vector)\n",
                     (u32)(unsigned long)s->insn, imm[0]);
        if (t)
            vmm_exit(VMM_EXIT_ERROR, "guest fault: int $%#x at %#x: the guest's stack (esp %#x) cannot take the frame\n",
                     imm[0], (u32)(unsigned long)s->insn, vmm_resume_esp);
        break;
    case PREVIRT_KIND_IRET:
        vmm_resume_eip = pop32();
        vcpu.cs = (unsigned short)pop32();
        t = pop32();
        vmm_vif = t & IF;
        f->eflags = (f->eflags & ~(ARITH | DF)) | (t & (ARITH | DF));
        break;
    case PREVIRT_KIND_IN:
    case PREVIRT_KIND_OUT:
        size = (d->opcode & 1) ? (d->opsize_prefix ? 2 : 4) : 1;
        a = (d->opcode & 8) ? (f->edx & 0xffff) : imm[0];
        if (d->kind == PREVIRT_KIND_IN) {
            t = port_in(a, size);
            f->eax = size == 1 ? (f->eax & ~0xffu) | (t & 0xff) : size == 2 ? (f->eax & ~0xffffu) | (t & 0xffff) : t;
        } else {
            port_out(a, f->eax & (size == 1 ? 0xffu : size == 2 ? 0xffffu : ~0u), size);
        }
        break;
    case PREVIRT_KIND_RDMSR:
        t = msr_read(f->ecx);
        f->eax = t == ~0u ? 0 : (u32)vcpu.msr_value[t];
        f->edx = t == ~0u ? 0 : (u32)(vcpu.msr_value[t] >> 32);
        break;
    case PREVIRT_KIND_WRMSR:
        t = msr_read(f->ecx);
        if (t == ~0u && vcpu.msr_count < HOST_MAX_MSRS) {
            t = vcpu.msr_count++;
            vcpu.msr_index[t] = f->ecx;
        }
        if (t != ~0u)
            vcpu.msr_value[t] = ((unsigned long long)f->edx << 32) | f->eax;
        break;
    case PREVIRT_KIND_CPUID:
        a = f->eax;
        if (a == 0x40000000) {
            f->eax = 0x40000000;
            memcpy(&f->ebx, "PreV", 4);
            memcpy(&f->ecx, "irtL", 4);
            memcpy(&f->edx, "inux", 4);
        } else {
            u32 r[4];
            asm volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(a), "c"(f->ecx));
            f->eax = r[0];
            f->ebx = r[1];
            f->ecx = r[2] | (a == 1 ? 0x80000000u : 0); /* the hypervisor bit */
            f->edx = r[3];
        }
        break;
    case PREVIRT_KIND_INVLPG: vcpu.tlb_flushes++; break;
    case PREVIRT_KIND_WBINVD: case PREVIRT_KIND_INVD: vcpu.cache_flushes++; break;
    default:
        vmm_exit(VMM_EXIT_INTERNAL, "internal error: %s at %#x reached the emulator without support\n",
                 previrt_kind_names[d->kind], (u32)(unsigned long)s->insn);
    }
    vmm_current_site = 0;
}

/* --- the backend --- */

static int supported(unsigned kind)
{
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
    return 0;
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
    if (site->index >= HOST_MAX_SITES || (site->index + 1ul) * 64 > stub_size)
        return "more sites than the linux-user VMM's tables hold";
    if (site->decoded.mode != 32) {
        snprintf(why, sizeof why, "%d-bit code at %#lx: the linux-user VMM runs 32-bit code only", site->decoded.mode, (unsigned long)site->insn);
        return why;
    }
    if (!supported(site->decoded.kind) || (site->decoded.has_modrm && site->decoded.addrsize_prefix)) {
        snprintf(why, sizeof why, "%s at %#lx is not emulated by the linux-user VMM", previrt_kind_names[site->decoded.kind], (unsigned long)site->insn);
        return why;
    }
    if (site->decoded.opsize_prefix && stack_or_far_operand(site->decoded.kind)) {
        snprintf(why, sizeof why, "%s with a 16-bit operand size at %#lx is not emulated by the linux-user VMM",
                 previrt_kind_names[site->decoded.kind], (unsigned long)site->insn);
        return why;
    }
    return 0;
}

extern void vmm_entry(void), vmm_cli(void), vmm_sti(void), vmm_pushf(void), vmm_popf(void);

/* The handler a kind calls directly, without a frame, or 0. */
static void (*fast_path(unsigned kind))(void)
{
    switch (kind) {
    case PREVIRT_KIND_CLI: return vmm_cli;
    case PREVIRT_KIND_STI: return vmm_sti;
    case PREVIRT_KIND_PUSHF: return vmm_pushf;
    case PREVIRT_KIND_POPF: return vmm_popf;
    }
    return 0;
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
    p[n++] = 0xe8; previrt_put32(p + n, (u32)((unsigned long)vmm_port_io - (unsigned long)(p + n + 4))); n += 4;
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
    (void)ctx;
    h->start = site->start;
    h->insn = site->insn;
    h->length = site->length;
    h->decoded = site->decoded;
    memcpy(h->bytes, site->insn, site->decoded.length);
    if (site->index + 1 > host_site_count)
        host_site_count = site->index + 1;
    if (fast_path(site->decoded.kind) && !site->decoded.opsize_prefix) {
        site->start[0] = 0xe8;
        previrt_put32(site->start + 1, (u32)((unsigned long)fast_path(site->decoded.kind) - (unsigned long)(site->start + 5)));
        previrt_fill_nops(site->start + 5, site->length - 5, 32);
        return PREVIRT_PATCHED;
    }
    if (site->decoded.kind == PREVIRT_KIND_IN || site->decoded.kind == PREVIRT_KIND_OUT) {
        stub_used += port_stub(stub, &site->decoded, site->insn);
    } else {
        stub[0] = 0x68;
        previrt_put32(stub + 1, site->index);
        stub[5] = 0xe9;
        previrt_put32(stub + 6, (u32)((unsigned long)vmm_entry - (unsigned long)(stub + 10)));
        stub_used += 10;
    }
    site->start[0] = 0xe8;
    previrt_put32(site->start + 1, (u32)((unsigned long)stub - (unsigned long)(site->start + 5)));
    previrt_fill_nops(site->start + 5, site->length - 5, 32);
    return PREVIRT_PATCHED;
}

void linux_user_backend(struct previrt_backend *backend, unsigned char *stubs, unsigned long size)
{
    stub_area = stubs;
    stub_size = size;
    stub_used = 0;
    backend->name = "linux-user";
    backend->lengths = PREVIRT_BACKEND_LENGTHS;
    backend->min_site_length[0] = 0; /* 16-bit code: refused by linux_user_check with its own message */
    backend->min_site_length[1] = 5; /* call rel32 */
    backend->min_site_length[2] = 0; /* 64-bit code: refused by linux_user_check */
    backend->check = linux_user_check;
    backend->patch = linux_user_patch;
    backend->ctx = 0;
}
