/* cpu.c: what the virtual CPU says it is, and its model-specific registers.
 *
 * cpuid passes the host's answers through with every feature the VMM cannot give a guest kernel taken
 * out, so that the kernel never takes those paths: no VME/DE/MCE/MCA (no machine checks), no APIC or
 * x2APIC, no SEP or SYSCALL (guest system calls are int $0x80), no PAT/MTRR/PSE36/PAE, no MONITOR/MWAIT, no XSAVE/OSXSAVE/AVX (the kernel would run xsetbv),
 * no PCID, no TSC deadline, no leaf 7 features (SMEP, SMAP, FSGSBASE, ...), no long mode, no RDTSCP,
 * no hypervisor-specific leaves but a signature "PreVirtLinux" at 0x40000000. The hypervisor bit is set.
 *
 * MSRs: only those below exist. rdmsr and wrmsr of any other index raise #GP in the guest, as they do on a CPU for an
 * index it does not implement; Linux's rdmsr_safe/wrmsr_safe recover from that.
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "host.h"

/* Leaf 1 edx: FPU PSE TSC CX8 PGE CMOV CLFSH MMX FXSR SSE SSE2: what we keep. */
#define KEEP_1_EDX (1u << 0 | 1u << 3 | 1u << 4 | 1u << 8 | 1u << 13 | 1u << 15 | 1u << 19 | 1u << 23 | 1u << 24 | 1u << 25 | 1u << 26)
/* Leaf 1 ecx: SSE3 PCLMUL SSSE3 FMA-less CX16 SSE4.1 SSE4.2 MOVBE POPCNT AES RDRAND. */
#define KEEP_1_ECX (1u << 0 | 1u << 1 | 1u << 9 | 1u << 13 | 1u << 19 | 1u << 20 | 1u << 22 | 1u << 23 | 1u << 25 | 1u << 30)
/* Leaf 0x80000001 edx: none of SYSCALL, NX, RDTSCP, LM; ecx: LAHF only. */
#define KEEP_E1_EDX 0u
#define KEEP_E1_ECX (1u << 0)

void cpu_cpuid(u32 leaf, u32 subleaf, u32 r[4])
{
    u32 max;
    asm volatile("cpuid" : "=a"(max), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf & 0x80000000u), "c"(0));
    if (leaf == 0x40000000) {
        r[0] = 0x40000000;
        memcpy(&r[1], "PreV", 4);
        memcpy(&r[2], "irtL", 4);
        memcpy(&r[3], "inux", 4);
        return;
    }
    if (leaf == 0) {
        r[0] = max < 4 ? max : 4; /* leaves 0-4: no leaf 7 (structured features), no 0xb, no 0xd (XSAVE) */
        return;
    }
    if (leaf > 0x40000000u && leaf < 0x80000000u) {
        r[0] = r[1] = r[2] = r[3] = 0;
        return;
    }
    if (leaf == 0x80000000u) {
        r[0] = max < 0x80000008u ? max : 0x80000008u;
        return;
    }
    if ((leaf < 0x80000000u && leaf > 4) || (leaf >= 0x80000000u && leaf > max)) {
        r[0] = r[1] = r[2] = r[3] = 0;
        return;
    }
    asm volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(subleaf));
    if (leaf == 1) {
        r[1] &= 0x0000ffffu;            /* one logical processor, APIC id 0 */
        r[2] = (r[2] & KEEP_1_ECX) | 0x80000000u; /* the hypervisor bit */
        r[3] &= KEEP_1_EDX;
    } else if (leaf == 4) {
        r[0] &= 0x3ffu;                 /* one core, one thread per cache */
    } else if (leaf == 0x80000001u) {
        r[2] &= KEEP_E1_ECX;
        r[3] &= KEEP_E1_EDX;
    } else if (leaf == 0x80000008u) {
        r[0] = 0x2020;                  /* 32 physical, 32 linear address bits */
        r[1] = r[2] = r[3] = 0;
    }
}

/* The MSRs that exist: SYSENTER_CS/ESP/EIP (0x174-0x176), kept but never used by the VMM (SEP is not
 * advertised), and IA32_BIOS_SIGN_ID (0x8b, the microcode revision: reads 0, writes ignored), which
 * Linux writes and reads unguarded on Intel CPUs, and IA32_MISC_ENABLE (0x1a0: fast strings on, writes
 * ignored), which it reads unguarded too. */
static u64 sysenter_msrs[3];

int cpu_rdmsr(u32 index, u64 *value)
{
    if (index == 0x8b || index == 0x1a0) {
        *value = index == 0x1a0;
        return 0;
    }
    if (index - 0x174u < 3) {
        *value = sysenter_msrs[index - 0x174u];
        return 0;
    }
    *value = 0;
    return -1;
}

int cpu_wrmsr(u32 index, u64 value)
{
    if (index == 0x8b || index == 0x1a0)
        return 0;
    if (index - 0x174u < 3) {
        sysenter_msrs[index - 0x174u] = value;
        return 0;
    }
    return -1;
}
