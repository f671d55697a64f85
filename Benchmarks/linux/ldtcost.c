/* ldtcost.c: the host's bare costs behind the TLS fence (Hosts/linux-user/tls.c), in a 32-bit process
 * as the VMM is: a #GP from a segment limit delivered as SIGSEGV and returned from (what an emulated
 * access costs besides its decoding), a modify_ldt write that replaces one descriptor (a single step
 * makes two), and a trap-flag step delivered as SIGTRAP (a single step's second signal). Best of 5
 * rounds of 2,000, in nanoseconds (CLOCK_MONOTONIC). Built and run pinned by
 * Benchmarks/linux/tls-fence.sh.
 * SPDX-License-Identifier: MIT
 */
#define _GNU_SOURCE
#include <asm/ldt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "../../Kernel/userland/measure.h"

#if !defined(__i386__)
#error "ldtcost.c measures what a 32-bit VMM pays: build it with -m32"
#endif

#define ROUNDS 5
#define COUNT 2000

static int set_descriptor(unsigned limit)
{
    struct user_desc d;
    memset(&d, 0, sizeof d);
    d.entry_number = 0;
    d.base_addr = 0;
    d.limit = limit;
    d.seg_32bit = 1;
    d.useable = 1;
    return (int)syscall(SYS_modify_ldt, 0x11, &d, sizeof d);
}

/* SIGSEGV: skip the faulting 3-byte load (65 8b 00: mov %gs:(%eax), %eax). SIGTRAP: clear TF. */
static void on_segv(int sig, siginfo_t *si, void *context)
{
    (void)sig, (void)si;
    ((ucontext_t *)context)->uc_mcontext.gregs[REG_EIP] += 3;
}

static void on_trap(int sig, siginfo_t *si, void *context)
{
    (void)sig, (void)si;
    ((ucontext_t *)context)->uc_mcontext.gregs[REG_EFL] &= ~0x100;
}

static void report(const char *what, int kind)
{
    unsigned long long best = ~0ull;
    for (int round = 0; round < ROUNDS; round++) {
        unsigned long long t0 = now_ns();
        for (int i = 0; i < COUNT; i++) {
            if (kind == 0) {
                unsigned v = 0x2000; /* past the 4 KiB limit of LDT slot 0: #GP */
                /* with glibc's %gs put back at once: its system calls go through %gs:0x10 */
                __asm__ volatile("movw %%gs, %%cx; movw $7, %%dx; movw %%dx, %%gs; .byte 0x65, 0x8b, 0x00; movw %%cx, %%gs"
                                 : "+a"(v) : : "ecx", "edx", "memory");
            } else if (kind == 1) {
                set_descriptor(i & 1 ? 0 : 1);
            } else {
                __asm__ volatile("pushfl; orl $0x100, (%%esp); popfl; nop" : : : "memory", "cc");
            }
        }
        unsigned long long t = now_ns() - t0;
        if (t < best)
            best = t;
    }
    printf("%s: %llu ns each (best of %d rounds of %d)\n", what, best / COUNT, ROUNDS, COUNT);
}

int main(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_flags = SA_SIGINFO;
    sa.sa_sigaction = on_segv;
    sigaction(SIGSEGV, &sa, 0);
    sa.sa_sigaction = on_trap;
    sigaction(SIGTRAP, &sa, 0);
    if (set_descriptor(0) != 0) {
        perror("modify_ldt");
        return 2;
    }
    report("a #GP (segment limit) as SIGSEGV, handled and returned from", 0);
    report("modify_ldt writing one descriptor", 1);
    report("a trap-flag step as SIGTRAP, handled and returned from", 2);
    return 0;
}
