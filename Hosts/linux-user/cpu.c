/* cpu.c: what the virtual CPU says it is, and its model-specific registers.
 *
 * cpuid passes the host's answers through with every feature the VMM cannot give a guest kernel taken
 * out, so that the kernel never takes those paths: no VME/DE/MCE/MCA (no machine checks), no APIC or
 * x2APIC, no SEP or SYSCALL (guest system calls are int $0x80), no PAT/MTRR/PSE36/PAE, no MONITOR/MWAIT, no XSAVE/OSXSAVE/AVX (the kernel would run xsetbv),
 * no PCID, no TSC deadline, no leaf 7 features (SMEP, SMAP, FSGSBASE, ...), no long mode, no RDTSCP,
 * no hypervisor-specific leaves but a signature "PreVirtLinux" at 0x40000000. The hypervisor bit is set.
 *
 * Leaf 0x15 (TSC to crystal ratio) tells the guest the TSC's frequency: the crystal is said to run at
 * the TSC's rate (ecx, in Hz) with a ratio of 1/1. The VMM measures the host's TSC against
 * CLOCK_MONOTONIC before the guest starts (cpu_measure_tsc). Linux (native_calibrate_tsc, Intel only)
 * then trusts that frequency and does not depend on its PIT calibration, which fails when the host
 * deschedules the VMM in the middle of it. Leaves 5-0x14 read as zeros.
 *
 * MSRs: only those below exist. rdmsr and wrmsr of any other index raise #GP in the guest, as they do on a CPU for an
 * index it does not implement; Linux's rdmsr_safe/wrmsr_safe recover from that.
 * SPDX-License-Identifier: MIT
 */
#include <string.h>
#include <time.h>

#include "host.h"

static u32 tsc_hz; /* the host TSC's frequency, or 0 (not measured, or above 4.29 GHz: leaf 0x15 is not offered) */

static u64 rdtsc(void)
{
    u32 lo, hi;
    asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (u64)hi << 32 | lo;
}

static u64 monotonic_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC_RAW, &t);
    return (u64)t.tv_sec * 1000000000ull + (u64)t.tv_nsec;
}

/* A (clock, TSC) pair taken close together: the TSC between two clock reads, the closest of 5 tries. */
static void sample(u64 *ns, u64 *tsc)
{
    u64 best = ~0ull, a, t, b;
    int i;
    for (i = 0; i < 5; i++) {
        a = monotonic_ns();
        t = rdtsc();
        b = monotonic_ns();
        if (b - a < best) {
            best = b - a;
            *ns = a + (b - a) / 2;
            *tsc = t;
        }
    }
}

void cpu_measure_tsc(void)
{
    u64 ns0, tsc0, ns1, tsc1, hz;
    struct timespec pause = {0, 10000000}; /* 10 ms: the error of a sample (~100 ns) is 10 ppm of that */
    sample(&ns0, &tsc0);
    nanosleep(&pause, 0);
    sample(&ns1, &tsc1);
    if (ns1 <= ns0 || tsc1 <= tsc0)
        return;
    hz = (tsc1 - tsc0) * 1000000000ull / (ns1 - ns0);
    tsc_hz = hz <= 0xffffffffull ? (u32)hz : 0;
}

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
        if (tsc_hz)
            r[0] = 0x15;          /* and 0x15, the TSC's frequency; 5-0x14 read as zeros */
        return;
    }
    if (leaf == 0x15 && tsc_hz) {
        r[0] = 1;                 /* denominator */
        r[1] = 1;                 /* numerator */
        r[2] = tsc_hz;            /* the "crystal", in Hz */
        r[3] = 0;
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
