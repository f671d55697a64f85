/* bench.c: the linux-user VMM's cost per emulated instruction, side by side:
 *   patched    the site rewritten in place to call the VMM (what `previrt run` does)
 *   trap       an unpatched copy; the CPU faults (SIGSEGV) and a signal handler emulates
 *   direct     the guest calls the VMM's C function itself (the para-virtual baseline)
 * and the patcher's own speed on 1,000, 10,000 and 100,000 sites.
 * SPDX-License-Identifier: MIT
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <ucontext.h>
#include <elf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host.h"

extern void patched_cli(unsigned), patched_sti(unsigned), patched_pushf_popf(unsigned), patched_out(unsigned),
    patched_in(unsigned);
extern void native_cli(unsigned), native_sti(unsigned), native_pushf_popf(unsigned), native_out(unsigned),
    native_in(unsigned);
extern unsigned char synthetic_begin[], synthetic_end[];

/* This program's own .note.previrt, from its section headers. */
static const unsigned char *own_notes(unsigned long *size)
{
    struct stat st;
    int fd = open("/proc/self/exe", O_RDONLY);
    const unsigned char *f;
    const Elf32_Ehdr *eh;
    const Elf32_Shdr *sh;
    int i;
    if (fd < 0 || fstat(fd, &st) != 0)
        return 0;
    f = mmap(0, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    eh = (const Elf32_Ehdr *)f;
    sh = (const Elf32_Shdr *)(f + eh->e_shoff);
    for (i = 0; i < eh->e_shnum; i++)
        if (strcmp((const char *)f + sh[eh->e_shstrndx].sh_offset + sh[i].sh_name, PREVIRT_NOTE_SECTION) == 0) {
            *size = sh[i].sh_size;
            return (const unsigned char *)(unsigned long)sh[i].sh_addr;
        }
    return 0;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

/* --- the para-virtual baseline: C functions the guest would call --- */
static volatile unsigned port_80;
__attribute__((noinline)) void pv_cli(void) { vmm_vif = 0; }
__attribute__((noinline)) void pv_sti(void) { vmm_vif = 0x200; }
__attribute__((noinline)) unsigned pv_save_fl(void)
{
    unsigned f;
    asm volatile("pushfl; popl %0" : "=r"(f));
    return (f & ~0x200u) | vmm_vif;
}
__attribute__((noinline)) void pv_restore_fl(unsigned f)
{
    vmm_vif = f & 0x200;
    asm volatile("pushl %0; popfl" : : "r"(f & ~0x300u) : "cc");
}
__attribute__((noinline)) void pv_outb(unsigned port, unsigned value)
{
    if (port == 0x80)
        port_80 = value;
}

static void direct_cli(unsigned n) { while (n--) pv_cli(); }
static void direct_sti(unsigned n) { while (n--) pv_sti(); }
static void direct_pushf_popf(unsigned n) { while (n--) pv_restore_fl(pv_save_fl()); }
static void direct_out(unsigned n) { while (n--) pv_outb(0x80, 0); }
/* in $0x61: port B of the PIT model (board.c), a clock read included, as the guest's TSC calibration does */
static void direct_in(unsigned n) { while (n--) port_in(0x61, 1); }

/* --- trap-and-emulate --- */
static void on_fault(int sig, siginfo_t *info, void *context)
{
    ucontext_t *uc = context;
    unsigned char *eip = (unsigned char *)uc->uc_mcontext.gregs[REG_EIP];
    struct previrt_insn insn;
    (void)sig;
    (void)info;
    if (previrt_decode(eip, 15, 32, &insn) <= 0)
        abort();
    switch (insn.kind) {
    case PREVIRT_KIND_CLI: vmm_vif = 0; break;
    case PREVIRT_KIND_STI: vmm_vif = 0x200; break;
    case PREVIRT_KIND_OUT: pv_outb(eip[insn.imm_offset], (unsigned)uc->uc_mcontext.gregs[REG_EAX] & 0xff); break;
    case PREVIRT_KIND_IN: uc->uc_mcontext.gregs[REG_EAX] = (greg_t)((uc->uc_mcontext.gregs[REG_EAX] & ~0xff) | port_in(eip[insn.imm_offset], 1)); break;
    default: abort();
    }
    uc->uc_mcontext.gregs[REG_EIP] += insn.length;
}

static double per_call(void (*loop)(unsigned), unsigned n)
{
    double best = 1e9;
    int r;
    for (r = 0; r < 5; r++) {
        double t = now();
        loop(n);
        t = (now() - t) / n;
        if (t < best)
            best = t;
    }
    return best * 1e9;
}


int main(void)
{
    struct previrt_backend backend;
    struct previrt_result result;
    struct previrt_image image;
    unsigned char *stubs = mmap(0, VMM_STUB_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    struct sigaction sa;
    unsigned long text_size = (unsigned long)(synthetic_end - synthetic_begin);
    unsigned char *pristine = malloc(text_size);
    unsigned counts[] = {1000, 10000, 100000}, i;
    unsigned long notes_size = 0;
    const unsigned char *notes = own_notes(&notes_size);
    unsigned char *lo = (unsigned char *)patched_cli < synthetic_begin ? (unsigned char *)patched_cli : synthetic_begin;
    unsigned char *hi = (unsigned char *)native_in > synthetic_end ? (unsigned char *)native_in + 64 : synthetic_end;
    unsigned char *page = (unsigned char *)((unsigned long)lo & ~0xffful);

    if (!notes || notes_size < 60 + 32ul * 100006) {
        fprintf(stderr, "no .note.previrt with the expected sites in this program\n");
        return 1;
    }
    /* The whole text writable, as a guest's is. */
    mprotect(page, (unsigned long)hi - (unsigned long)page + 4096, PROT_READ | PROT_WRITE | PROT_EXEC);
    memcpy(pristine, synthetic_begin, text_size);

    /* Patch the measured loops (the notes before the synthetic ones: the first 4 sites... all sites of
     * the loops come first in the note section, then the 100,000 synthetic ones). */
    image.notes_begin = notes;
    image.notes_end = notes + 60 + 32 * 6; /* header + the loops' 6 sites */
    image.text_begin = page;
    image.text_end = hi;
    linux_user_backend(&backend, stubs, 0);
    if (previrt_patch(&image, &backend, &result) != 0 || result.patched != 6) {
        fprintf(stderr, "cannot patch the loops: %s, %s (%ld patched)\n", previrt_failure_name(result.failure), result.why ? result.why : "", result.patched);
        return 1;
    }

    setvbuf(stdout, 0, _IONBF, 0);
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSEGV, &sa, 0);

    printf("%-26s %12s %12s %12s %14s %14s\n", "ns per instruction", "patched", "trap", "direct", "trap/patched", "patched/direct");
    {
        struct { const char *name; void (*p)(unsigned), (*t)(unsigned), (*d)(unsigned); } rows[] = {
            {"cli", patched_cli, native_cli, direct_cli},
            {"sti", patched_sti, native_sti, direct_sti},
            {"pushf + popf (a pair)", patched_pushf_popf, 0, direct_pushf_popf},
            {"out $0x80", patched_out, native_out, direct_out},
            {"in $0x61 (PIT port B)", patched_in, native_in, direct_in},
        };
        for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
            double p = per_call(rows[i].p, 2000000), d = per_call(rows[i].d, 2000000);
            if (rows[i].t) {
                double t = per_call(rows[i].t, 20000);
                printf("%-26s %12.1f %12.1f %12.1f %13.0fx %13.2fx\n", rows[i].name, p, t, d, t / p, p / d);
            } else {
                printf("%-26s %12.1f %12s %12.1f %14s %13.2fx\n", rows[i].name, p, "no trap", d, "-", p / d);
            }
        }
    }
    printf("(pushf and popf do not fault at CPL 3: trap-and-emulate cannot see them at all; they run\n"
           " natively and read or drop the real interrupt flag.)\n");

    /* The patcher on 1,000, 10,000 and 100,000 sites: validate all, then patch all. */
    for (i = 0; i < 3; i++) {
        double best = 1e9;
        int r;
        for (r = 0; r < 5; r++) {
            double t;
            memcpy(synthetic_begin, pristine, text_size);
            image.notes_begin = notes + 60 + 32 * 6;
            image.notes_end = (const unsigned char *)image.notes_begin + 32ul * counts[i];
            linux_user_backend(&backend, stubs, 0);
            t = now();
            if (previrt_patch(&image, &backend, &result) != 0 || result.patched != (long)counts[i]) {
                fprintf(stderr, "patching %u sites failed: %s\n", counts[i], result.why ? result.why : "");
                return 1;
            }
            t = now() - t;
            if (t < best)
                best = t;
        }
        printf("patching %6u sites: %8.3f ms, %6.1f ns per site\n", counts[i], best * 1e3, best * 1e9 / counts[i]);
    }
    return 0;
}
