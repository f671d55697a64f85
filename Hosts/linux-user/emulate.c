/* emulate.c: the general emulator. A patched site that has no fast path calls into vcpu_emulate
 * (through its stub and vmm_entry, entry.S), which applies the site's original instruction to the
 * virtual CPU (interrupt flag, control and debug registers, descriptor tables, segment registers,
 * MSRs, cpuid), to the ports (console.c) and to guest memory, then says where the guest resumes. Guest
 * memory operands are linear addresses: they are read and written through the guest's page tables and
 * the window on guest RAM (mmu.c); an operand the guest cannot access is a #PF (or, with paging off and
 * no RAM there, the end of the run), raised at the site as the instruction itself would raise it.
 * i386 guests, 32-bit code.
 * SPDX-License-Identifier: MIT
 */
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "host.h"

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
int vmm_trace;
int vmm_resume_user; /* vmm_entry resumes the guest in user mode (usermode.c's segments) */
extern unsigned char vmm_resume_far[6], vmm_resume_stack[6]; /* entry.S */

#define IF 0x200u
#define ARITH 0x8d5u /* CF PF AF ZF SF OF */
#define DF 0x400u
#define ID 0x200000u

/* Where the emulation of the current site goes when an operand faults (raise, below). */
static jmp_buf site_fault;
enum { FAULT_PAGE = 1, FAULT_GP, FAULT_UD };

static int site_fault_kind;
static void __attribute__((noreturn)) raise_fault(int kind)
{
    site_fault_kind = kind;
    _longjmp(site_fault, 1);
}

static u32 read32(u32 a)
{
    u32 v;
    if (guest_read(a, &v, 4) != 0)
        raise_fault(FAULT_PAGE);
    return v;
}

static unsigned short read16(u32 a)
{
    unsigned short v;
    if (guest_read(a, &v, 2) != 0)
        raise_fault(FAULT_PAGE);
    return v;
}

static void write32(u32 a, u32 v)
{
    if (guest_write(a, &v, 4) != 0)
        raise_fault(FAULT_PAGE);
}

static void write16(u32 a, unsigned short v)
{
    if (guest_write(a, &v, 2) != 0)
        raise_fault(FAULT_PAGE);
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

/* The offset of the 32-bit-addressing memory operand whose ModRM byte is p[0] (then SIB and displacement),
 * with the general registers r[0..7] in ModRM order (eax ecx edx ebx esp ebp esi edi); its ModRM, SIB
 * and displacement bytes in *length. At most 6 bytes are read from p. The emulator's sites and the TLS
 * fence (tls.c) both decode their memory operands here. */
u32 modrm_offset(const unsigned char *p, const u32 r[8], unsigned *length)
{
    unsigned mod = p[0] >> 6, rm = p[0] & 7, i = 1;
    u32 a = 0;
    if (rm == 4) {
        unsigned sib = p[i++], base = sib & 7, index = (sib >> 3) & 7, scale = sib >> 6;
        if (index != 4)
            a += r[index] << scale;
        if (base == 5 && mod == 0) {
            *length = i + 4;
            return a + (u32)(p[i] | p[i + 1] << 8 | p[i + 2] << 16 | (u32)p[i + 3] << 24);
        }
        a += r[base];
    } else if (rm == 5 && mod == 0) {
        *length = 5;
        return (u32)(p[i] | p[i + 1] << 8 | p[i + 2] << 16 | (u32)p[i + 3] << 24);
    } else {
        a += r[rm];
    }
    if (mod == 1)
        a += (u32)(int)(signed char)p[i++];
    else if (mod == 2) {
        a += (u32)(p[i] | p[i + 1] << 8 | p[i + 2] << 16 | (u32)p[i + 3] << 24);
        i += 4;
    }
    *length = i;
    return a;
}

/* The effective address of a site's memory operand (segments are flat); esp is the guest's at the site. */
static u32 effective_address(struct frame *f, const struct host_site *s)
{
    u32 r[8] = {f->eax, f->ecx, f->edx, f->ebx, s->guest_esp, f->ebp, f->esi, f->edi};
    unsigned length;
    return modrm_offset(s->bytes + s->decoded.modrm_offset, r, &length);
}

static int is_register_operand(const struct host_site *s) { return (s->decoded.modrm >> 6) == 3; }
static int modrm_reg(const struct host_site *s) { return (s->decoded.modrm >> 3) & 7; }
static int modrm_rm(const struct host_site *s) { return s->decoded.modrm & 7; }

static u32 read_rm16(struct frame *f, const struct host_site *s)
{
    return is_register_operand(s) ? *reg(f, modrm_rm(s)) & 0xffff : read16(effective_address(f, s));
}

/* A selector stored to r/m16: a register gets it zero-extended, memory gets 16 bits. */
static void write_rm16(struct frame *f, const struct host_site *s, u32 v)
{
    if (!is_register_operand(s))
        write16(effective_address(f, s), (unsigned short)v);
    else if (s->decoded.opsize_prefix)
        *reg(f, modrm_rm(s)) = (*reg(f, modrm_rm(s)) & 0xffff0000u) | (v & 0xffff);
    else
        *reg(f, modrm_rm(s)) = v & 0xffff;
}

static void push32(u32 v)
{
    write32(vmm_resume_esp - 4, v);
    vmm_resume_esp -= 4;
}

static u32 pop32(void)
{
    u32 v = read32(vmm_resume_esp);
    vmm_resume_esp += 4;
    return v;
}

static u32 imm32(const unsigned char *p) { return (u32)(p[0] | p[1] << 8 | p[2] << 16 | (u32)p[3] << 24); }

/* The virtual segment register `n` (the ModRM encoding: es, cs, ss, ds, fs, gs), or 0. */
unsigned short *vcpu_segment(int n)
{
    switch (n) {
    case 0: return &vcpu.es;
    case 1: return &vcpu.cs;
    case 2: return &vcpu.ss;
    case 3: return &vcpu.ds;
    case 4: return &vcpu.fs;
    case 5: return &vcpu.gs;
    }
    return 0;
}

/* The same for the emulator, whose sites were checked when they were patched (sites.c): a number above
 * 5 cannot reach it, but it writes to a dummy rather than through a null pointer. */
static unsigned short *segment(int n)
{
    static unsigned short none;
    unsigned short *field = vcpu_segment(n);
    return field ? field : &none;
}

/* The segment register a push/pop opcode names. */
static int push_pop_segment(const struct previrt_insn *d)
{
    if (d->opcode == 0x0f)
        return d->opcode2 < 0xa8 ? 4 : 5;
    return (d->opcode >> 3) & 3; /* 06/07 es, 0e cs, 16/17 ss, 1e/1f ds */
}

static u32 virtual_flags(u32 real) { return (real & ~IF) | vmm_vif; }

/* The flags a popf or iret loads: the virtual IF, the arithmetic flags, DF and ID; never TF or AC. */
static void load_flags(struct frame *f, u32 t)
{
    vmm_vif = t & IF;
    f->eflags = (f->eflags & ~(ARITH | DF | ID)) | (t & (ARITH | DF | ID));
}

/* mov to a control register: CR0, CR3 and CR4 changes reach the MMU. */
static void write_cr(int n, u32 value)
{
    u32 old0 = vcpu.cr[0], old4 = vcpu.cr[4];
    if (n == 0)
        value |= 0x10; /* ET: always 1 on a CPU with an FPU */
    vcpu.cr[n] = value;
    if (n == 0 || n == 3 || n == 4)
        mmu_control_registers(old0, n == 3, old4);
}

/* --- the emulator --- */

static struct host_site *site_at(u32 index) { return &host_sites[index < host_site_count ? index : 0]; }

/* The site's instruction faults (fault: FAULT_*): deliver the exception at the site, as the instruction
 * would raise it. Nothing the instruction did is kept: every emulated kind does its memory accesses
 * before it changes the virtual CPU. */
static u32 site_start;
static void site_faulted(struct frame *f, int fault)
{
    const struct host_site *s = vmm_current_site;
    const struct previrt_insn *d = &s->decoded;
    u32 eip = site_start, esp = s->guest_esp, start = site_start;
    unsigned vector = fault == FAULT_PAGE ? 14 : fault == FAULT_GP ? 13 : 6;
    const char *name = vector == 14 ? "#PF" : vector == 13 ? "#GP" : "#UD";
    int r;
    if (fault == FAULT_PAGE && !(vcpu.cr[0] & CR0_PG))
        vmm_exit(VMM_EXIT_ERROR, "guest fault: %s at %#x: its operand at %#x is not guest memory\n", previrt_kind_names[d->kind],
                 start + (s->insn - s->start), mmu_fault_address);
    if (fault == FAULT_PAGE)
        vcpu.cr[2] = mmu_fault_address;
    if (vmm_trace)
        vmm_trace_log("previrt run: trace: %s at %s %#x (cr2 %#x error %#x)\n", name, previrt_kind_names[d->kind], start, vcpu.cr[2],
                      mmu_fault_error);
    r = deliver_to_guest(vector, vector != 6, vector == 14 ? mmu_fault_error : 0, &eip, &esp, &f->eflags);
    if (r != 0)
        vmm_exit(VMM_EXIT_ERROR, "guest fault: %s at %#x (%s)%s\n", name, start, previrt_kind_names[d->kind],
                 r == -2 ? ": the guest's stack cannot take the exception frame (double fault)" : ": the guest's virtual IDT has no gate for it");
    vmm_resume_eip = eip;
    vmm_resume_esp = esp;
    vmm_current_site = 0;
}

static void emulate(struct frame *f, struct host_site *s, u32 start);

static int next_is_hlt(u32 eip)
{
    int i = site_called_at(eip);
    return i >= 0 && host_sites[i].decoded.kind == PREVIRT_KIND_HLT;
}

void vcpu_emulate(struct frame *f)
{
    u32 ret = *(u32 *)(unsigned long)(vmm_guest_esp + 4);
    struct host_site *s = site_at(*(u32 *)(unsigned long)vmm_guest_esp);
    int faulted;

    /* The site runs at its guest address or at its physical alias (a kernel before paging): the
     * return address says which. */
    site_start = ret - 5;
    vmm_resume_user = 0;
    s->guest_esp = vmm_guest_esp + 8;
    vmm_resume_esp = s->guest_esp;
    vmm_resume_eip = site_start + s->length;
    s->executions++;
    vmm_current_site = s;
    if (vmm_trace)
        vmm_trace_log("previrt run: trace: %s at %#x (eax %#x ecx %#x edx %#x esp %#x)\n", previrt_kind_names[s->decoded.kind],
                      site_start + (s->insn - s->start), f->eax, f->ecx, f->edx, s->guest_esp);
    faulted = _setjmp(site_fault);
    if (!faulted)
        emulate(f, (struct host_site *)vmm_current_site, site_start);
    else
        site_faulted(f, site_fault_kind);
    vmm_catch_up();
    /* An interrupt pending while the virtual IF is set is delivered now, at the instruction boundary
     * after the site; but sti's one-instruction shadow keeps it until the hlt of `sti; hlt`, which then
     * returns at once, as on a CPU. */
    if (vmm_vif && vmm_irq_pending && !faulted
        && !(vmm_current_site->decoded.kind == PREVIRT_KIND_STI && next_is_hlt(vmm_resume_eip)))
    {
        deliver_pending(&vmm_resume_eip, &vmm_resume_esp, &f->eflags);
        if (vmm_left_user)
            vmm_resume_user = 0;
    }
    if (vmm_resume_user) {
        struct __attribute__((packed)) { u32 offset; unsigned short selector; } far = {vmm_resume_eip, vmm_user_cs},
            stack = {vmm_resume_esp, vmm_user_ds};
        memcpy(vmm_resume_far, &far, 6);
        memcpy(vmm_resume_stack, &stack, 6);
    }
    vmm_current_site = 0;
    pool_switch_if_requested(f); /* a CR3 write for an address space another slot holds (pool.c) */
}

static void emulate(struct frame *f, struct host_site *s, u32 start)
{
    const struct previrt_insn *d = &s->decoded;
    const unsigned char *imm = s->bytes + d->imm_offset;
    u32 a, t, r[4];
    u64 v;
    int size;

    if (vmm_unavailable(d->kind))
        raise_fault(d->kind == PREVIRT_KIND_RDPMC ? FAULT_GP : FAULT_UD);
    switch (d->kind) {
    case PREVIRT_KIND_CLI: vmm_vif = 0; break;
    case PREVIRT_KIND_STI: vmm_vif = IF; break;
    case PREVIRT_KIND_PUSHF: push32(virtual_flags(f->eflags)); break;
    case PREVIRT_KIND_POPF: load_flags(f, pop32()); break;
    case PREVIRT_KIND_HLT:
        if (!vmm_vif)
            vmm_exit(VMM_EXIT_HALTED, "the guest halted with interrupts off at %#x\n", start);
        /* Sleep until an interrupt is pending: the timer's signal or console input ends the sleep. A
         * tick that comes between the test and the sleep is seen at the next one. */
        for (;;) {
            vmm_catch_up();
            board_tick();
            if (vmm_irq_pending)
                break;
            board_sleep();
        }
        break;
    case PREVIRT_KIND_MOV_TO_CR:
        if (modrm_reg(s) == 1 || modrm_reg(s) > 4)
            raise_fault(FAULT_UD);
        write_cr(modrm_reg(s), *reg(f, modrm_rm(s)));
        break;
    case PREVIRT_KIND_MOV_FROM_CR:
        if (modrm_reg(s) == 1 || modrm_reg(s) > 4)
            raise_fault(FAULT_UD);
        *reg(f, modrm_rm(s)) = vcpu.cr[modrm_reg(s)];
        break;
    case PREVIRT_KIND_MOV_TO_DR: vcpu.dr[modrm_reg(s)] = *reg(f, modrm_rm(s)); break;
    case PREVIRT_KIND_MOV_FROM_DR: *reg(f, modrm_rm(s)) = vcpu.dr[modrm_reg(s)]; break;
    case PREVIRT_KIND_SMSW: write_rm16(f, s, vcpu.cr[0] & 0xffff); break;
    case PREVIRT_KIND_LMSW: write_cr(0, (vcpu.cr[0] & ~0xeu) | (read_rm16(f, s) & 0xf) | (vcpu.cr[0] & 1)); break;
    case PREVIRT_KIND_CLTS: vcpu.cr[0] &= ~CR0_TS; break;
    case PREVIRT_KIND_MOV_TO_SEG: *segment(modrm_reg(s)) = (unsigned short)read_rm16(f, s); break;
    case PREVIRT_KIND_MOV_FROM_SEG: write_rm16(f, s, *segment(modrm_reg(s))); break;
    case PREVIRT_KIND_PUSH_SEG: push32(*segment(push_pop_segment(d))); break;
    case PREVIRT_KIND_POP_SEG: *segment(push_pop_segment(d)) = (unsigned short)pop32(); break;
    case PREVIRT_KIND_LGDT:
    case PREVIRT_KIND_LIDT:
        a = effective_address(f, s);
        t = d->kind == PREVIRT_KIND_LGDT;
        size = read16(a);
        a = read32(a + 2);
        vcpu.table_limit[!t] = (u32)size;
        vcpu.table_base[!t] = a;
        break;
    case PREVIRT_KIND_SGDT:
    case PREVIRT_KIND_SIDT:
        a = effective_address(f, s);
        t = d->kind == PREVIRT_KIND_SGDT;
        write16(a, (unsigned short)vcpu.table_limit[!t]);
        write32(a + 2, vcpu.table_base[!t]);
        break;
    case PREVIRT_KIND_LLDT: vcpu.ldtr = (unsigned short)read_rm16(f, s); break;
    case PREVIRT_KIND_SLDT: write_rm16(f, s, vcpu.ldtr); break;
    case PREVIRT_KIND_LTR: vcpu.tr = (unsigned short)read_rm16(f, s); break;
    case PREVIRT_KIND_STR: write_rm16(f, s, vcpu.tr); break;
    case PREVIRT_KIND_LDS: case PREVIRT_KIND_LES: case PREVIRT_KIND_LFS: case PREVIRT_KIND_LGS: case PREVIRT_KIND_LSS:
        a = effective_address(f, s);
        t = d->kind == PREVIRT_KIND_LDS ? 3 : d->kind == PREVIRT_KIND_LES ? 0 : d->kind == PREVIRT_KIND_LFS ? 4
            : d->kind == PREVIRT_KIND_LGS ? 5 : 2;
        {
            u32 offset = read32(a);
            *segment((int)t) = read16(a + 4);
            if (d->kind == PREVIRT_KIND_LSS)
                vmm_resume_esp = offset;
            else
                *reg(f, modrm_reg(s)) = offset;
        }
        break;
    case PREVIRT_KIND_LJMP:
    case PREVIRT_KIND_LCALL:
        if (d->opcode == 0xea || d->opcode == 0x9a) {
            t = imm32(imm);
            a = (u32)(imm[4] | imm[5] << 8);
        } else {
            u32 ea = effective_address(f, s);
            t = read32(ea);
            a = read16(ea + 4);
        }
        if (d->kind == PREVIRT_KIND_LCALL) {
            push32(vcpu.cs);
            push32(vmm_resume_eip);
        }
        vcpu.cs = (unsigned short)a;
        vmm_resume_eip = t;
        break;
    case PREVIRT_KIND_LRET:
        t = pop32();
        a = pop32();
        vmm_resume_eip = t;
        vcpu.cs = (unsigned short)a;
        if (d->opcode == 0xca)
            vmm_resume_esp += (u32)(imm[0] | imm[1] << 8);
        break;
    case PREVIRT_KIND_INT:
        /* Through the virtual IDT; no gate for the vector is #GP(vector * 8 + 2), as on a CPU. */
        t = (u32)deliver_to_guest(imm[0], 0, 0, &vmm_resume_eip, &vmm_resume_esp, &f->eflags);
        if (t == ~0u) {
            vmm_resume_eip = start;
            t = (u32)deliver_to_guest(13, 1, imm[0] * 8u + 2, &vmm_resume_eip, &vmm_resume_esp, &f->eflags);
        }
        if (t == ~0u)
            vmm_exit(VMM_EXIT_ERROR, "guest fault: #GP at %#x (int $%#x: the guest's virtual IDT has no gate for the vector)\n",
                     s->insn, imm[0]);
        if (t)
            vmm_exit(VMM_EXIT_ERROR, "guest fault: int $%#x at %#x: the guest's stack (esp %#x) cannot take the frame\n",
                     imm[0], s->insn, vmm_resume_esp);
        break;
    case PREVIRT_KIND_IRET:
        t = read32(vmm_resume_esp + 8);
        a = read32(vmm_resume_esp + 4);
        if ((a & 3) > vcpu.cpl) {
            /* to user mode: the frame also has esp and ss */
            u32 user_esp = read32(vmm_resume_esp + 12), user_ss = read32(vmm_resume_esp + 16);
            vmm_resume_eip = read32(vmm_resume_esp);
            vcpu.cs = (unsigned short)a;
            vcpu.ss = (unsigned short)user_ss;
            vcpu.cpl = 3;
            vmm_resume_esp = user_esp;
            load_flags(f, t);
            memory_drop_alias();
            mmu_enter_user();
            usermode_enter();
            vmm_resume_user = 1;
            break;
        }
        vmm_resume_eip = read32(vmm_resume_esp);
        vcpu.cs = (unsigned short)a;
        vmm_resume_esp += 12;
        load_flags(f, t);
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
        if (cpu_rdmsr(f->ecx, &v) != 0)
            raise_fault(FAULT_GP);
        f->eax = (u32)v;
        f->edx = (u32)(v >> 32);
        break;
    case PREVIRT_KIND_WRMSR:
        if (cpu_wrmsr(f->ecx, ((u64)f->edx << 32) | f->eax) != 0)
            raise_fault(FAULT_GP);
        break;
    case PREVIRT_KIND_CPUID:
        cpu_cpuid(f->eax, f->ecx, r);
        f->eax = r[0];
        f->ebx = r[1];
        f->ecx = r[2];
        f->edx = r[3];
        break;
    case PREVIRT_KIND_INVLPG: mmu_invlpg(effective_address(f, s)); break;
    case PREVIRT_KIND_WBINVD: case PREVIRT_KIND_INVD: vcpu.cache_flushes++; break;
    default:
        vmm_exit(VMM_EXIT_INTERNAL, "internal error: %s at %#x reached the emulator without support\n",
                 previrt_kind_names[d->kind], s->insn);
    }
}
