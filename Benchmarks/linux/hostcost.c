/* hostcost.c: the bare cost, on this machine, of the host mechanisms a Linux-hosted VMM is built from
 * (issue 10: "this machine is itself a virtual machine, where host signals and faults are expensive").
 * A 32-bit static program, like the linux-user VMM. One line per figure, read by Benchmarks/linux/bench.py:
 *
 *   previrt host: getppid_us          a native system call that does no work
 *   previrt host: fault_us            the first write to a fresh anonymous page (the host kernel fills it)
 *   previrt host: segv_fill_us        a SIGSEGV on a reserved page, whose handler maps a memfd page there
 *                                     (MAP_FIXED) and returns, restarting the access: a VMM's page fill
 *   previrt host: signal_us           kill(getpid(), SIGUSR1) to an empty handler and back
 *   previrt host: trap_us             ud2 -> SIGILL, the handler steps over it and returns: trap and emulate
 *   previrt host: sud_int80_us        int $0x80 under Syscall User Dispatch -> SIGSYS, the handler answers
 *                                     and returns: a guest system call's floor under the linux-user VMM
 *
 * Each figure is the best of five rounds.
 * SPDX-License-Identifier: MIT
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "../../Kernel/userland/measure.h"

#if !defined(__i386__)
#error "hostcost.c measures what a 32-bit VMM pays: build it with -m32"
#endif

#ifndef PR_SET_SYSCALL_USER_DISPATCH
#define PR_SET_SYSCALL_USER_DISPATCH 59
#define PR_SYS_DISPATCH_OFF 0
#define PR_SYS_DISPATCH_ON 1
#endif
#define SUD_ALLOW 0
#define SUD_BLOCK 1

#define PAGE 4096
#define PAGES 1024
#define ROUNDS 5

static void on_signal(int sig, void (*fn)(int, siginfo_t *, void *))
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = fn;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    if (sigaction(sig, &sa, NULL)) {
        perror("sigaction");
        _exit(2);
    }
}

static double getppid_us(void)
{
    enum { N = 100000 };
    double t0 = now_us();
    for (int i = 0; i < N; i++)
        syscall(SYS_getppid);
    return (now_us() - t0) / N;
}

static double fault_us(void) { return fresh_page_fault_us(PAGES); }

static int memfd = -1;
static unsigned char *region;
static void fill_page(int sig, siginfo_t *info, void *context)
{
    (void)sig;
    (void)context;
    uintptr_t page = (uintptr_t)info->si_addr & ~(uintptr_t)(PAGE - 1);
    if (page < (uintptr_t)region || page >= (uintptr_t)region + PAGES * PAGE ||
        mmap((void *)page, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, memfd, (off_t)(page - (uintptr_t)region)) == MAP_FAILED)
        _exit(3);
}

static double segv_fill_us(void)
{
    region = mmap(NULL, PAGES * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (region == MAP_FAILED)
        return -1;
    on_signal(SIGSEGV, fill_page);
    double t0 = now_us();
    for (int i = 0; i < PAGES; i++)
        ((volatile unsigned char *)region)[i * PAGE] = 1;
    double t = (now_us() - t0) / PAGES;
    signal(SIGSEGV, SIG_DFL);
    munmap(region, PAGES * PAGE);
    return t;
}

static void empty(int sig, siginfo_t *info, void *context) { (void)sig; (void)info; (void)context; }

static double signal_us(void)
{
    enum { N = 20000 };
    on_signal(SIGUSR1, empty);
    pid_t me = getpid();
    double t0 = now_us();
    for (int i = 0; i < N; i++)
        kill(me, SIGUSR1);
    return (now_us() - t0) / N;
}

static void step_over_ud2(int sig, siginfo_t *info, void *context)
{
    (void)sig;
    (void)info;
    ((ucontext_t *)context)->uc_mcontext.gregs[REG_EIP] += 2;
}

static double trap_us(void)
{
    enum { N = 20000 };
    on_signal(SIGILL, step_over_ud2);
    double t0 = now_us();
    for (int i = 0; i < N; i++)
        __asm__ volatile("ud2" ::: "memory");
    double t = (now_us() - t0) / N;
    signal(SIGILL, SIG_DFL);
    return t;
}

static volatile char selector = SUD_ALLOW;
static void answer_syscall(int sig, siginfo_t *info, void *context)
{
    (void)sig;
    (void)info;
    selector = SUD_ALLOW; /* the handler's own return (rt_sigreturn from libc) must not be dispatched */
    ((ucontext_t *)context)->uc_mcontext.gregs[REG_EAX] = 1;
}

static double sud_int80_us(void)
{
    enum { N = 20000 };
    on_signal(SIGSYS, answer_syscall);
    if (prctl(PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_ON, 0, 0, &selector))
        return -1;
    double t0 = now_us();
    for (int i = 0; i < N; i++) {
        int r;
        selector = SUD_BLOCK;
        __asm__ volatile("int $0x80" : "=a"(r) : "a"(SYS_getppid) : "memory");
        if (r != 1)
            _exit(4);
    }
    double t = (now_us() - t0) / N;
    selector = SUD_ALLOW;
    prctl(PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_OFF, 0, 0, 0);
    return t;
}

static double best_of(double (*fn)(void))
{
    double b = 1e12;
    for (int r = 0; r < ROUNDS; r++) {
        double t = fn();
        if (t < 0)
            return -1;
        if (t < b)
            b = t;
    }
    return b;
}

int main(void)
{
    memfd = memfd_create("hostcost", 0);
    if (memfd < 0 || ftruncate(memfd, PAGES * PAGE)) {
        perror("memfd");
        return 2;
    }
    printf("previrt host: getppid_us %.3f\n", best_of(getppid_us));
    printf("previrt host: fault_us %.2f\n", best_of(fault_us));
    printf("previrt host: segv_fill_us %.2f\n", best_of(segv_fill_us));
    printf("previrt host: signal_us %.2f\n", best_of(signal_us));
    printf("previrt host: trap_us %.2f\n", best_of(trap_us));
    double s = best_of(sud_int80_us);
    if (s < 0)
        printf("previrt host: sud_int80_us unavailable (prctl PR_SET_SYSCALL_USER_DISPATCH failed)\n");
    else
        printf("previrt host: sud_int80_us %.2f\n", s);
    return 0;
}
