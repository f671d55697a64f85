/* tlscost.c: what the TLS fence (Hosts/linux-user/tls.c) costs guest user code. Booted as init
 * (rdinit=/tlscost, Benchmarks/linux/tls-fence.sh), it times, best of 5 rounds of 20,000 each, a %gs
 * load at a positive offset (never fenced: the hardware does it), a load below the thread pointer (a
 * negative offset: under `previrt run` the VMM emulates it), an add from below the thread pointer (the
 * VMM single-steps it), and getppid() for scale; in nanoseconds (CLOCK_MONOTONIC) and TSC cycles each.
 * Then it restarts the machine.
 * SPDX-License-Identifier: MIT
 */
#include <time.h>

#include "measure.h"
#include "userland.h"

#if !defined(__i386__)
#error "tlscost.c measures i386 TLS through %gs"
#endif

__thread unsigned tls_word = 1; /* below the thread pointer (glibc's variant II) */

#define ROUNDS 5
#define COUNT 20000

static unsigned long long cycles(void)
{
    unsigned lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (unsigned long long)hi << 32 | lo;
}

static void measure(const char *name, int kind)
{
    unsigned tp, offset, v = 0;
    unsigned long long best_ns = ~0ull, best_cycles = ~0ull;
    __asm__ volatile("movl %%gs:0, %0" : "=r"(tp));
    offset = (unsigned)((char *)&tls_word - (char *)tp);
    for (int round = 0; round < ROUNDS; round++) {
        unsigned long long t0 = now_ns(), c0 = cycles();
        for (int i = 0; i < COUNT; i++) {
            switch (kind) {
            case 0: __asm__ volatile("movl %%gs:0, %0" : "=r"(v)); break;
            case 1: __asm__ volatile("movl %%gs:(%1), %0" : "=r"(v) : "r"(offset)); break;
            case 2: __asm__ volatile("addl %%gs:(%1), %0" : "+r"(v) : "r"(offset) : "cc"); break;
            default: v += (unsigned)getppid(); break;
            }
        }
        unsigned long long c = cycles() - c0, t = now_ns() - t0;
        if (t < best_ns)
            best_ns = t;
        if (c < best_cycles)
            best_cycles = c;
    }
    say("previrt tlscost: ", "%s: %llu ns, %llu cycles each (best of %d rounds of %d; value %u)", name, best_ns / COUNT,
        best_cycles / COUNT, ROUNDS, COUNT, v & 1);
}

int main(void)
{
    say("previrt tlscost: ", "start");
    measure("%gs load at a positive offset (native)", 0);
    measure("%gs load below the thread pointer (mov: emulated under previrt run)", 1);
    measure("%gs add from below the thread pointer (add: single-stepped under previrt run)", 2);
    measure("getppid() (a system call, for scale)", 3);
    leave_machine(0);
}
