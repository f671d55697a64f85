/* bench.c: the Linux-on-Linux benchmark (issue 10), run as init (`rdinit=/bench`) under `previrt run`,
 * QEMU and User-Mode Linux, or natively on the host as an ordinary program. Built for i386 (previrt, QEMU,
 * native) and x86_64 (UML, whose guests are x86_64). Benchmarks/linux/bench.py runs it and reads its lines:
 *
 *   previrt bench: start                    the first line: the harness takes "boot to init" here
 *   previrt bench: getppid_us 0.750         one system call that does no work, round trip
 *   previrt bench: fork_us 580.0            fork, the child _exits, the parent waits
 *   previrt bench: fault_us 17.0            first write to a fresh anonymous page
 *   previrt bench: pipe_us 48.0             a one-byte round trip between two processes over two pipes
 *   previrt bench: cpu_ms 250.0             a CPU-bound loop with no system calls (a sieve)
 *   previrt bench: done                     then power off (UML) or restart (i386; QEMU -no-reboot exits)
 *
 * Each figure is the best of a few rounds inside one run (the harness takes medians over runs).
 * SPDX-License-Identifier: MIT
 */
#include <stdint.h>
#include <stdlib.h>
#include <sys/klog.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>

#include "measure.h"
#include "userland.h"

#define ROUNDS 3

static double best(double a, double b) { return a < b ? a : b; }

static double getppid_us(void)
{
    enum { N = 20000 };
    double t0 = now_us();
    for (int i = 0; i < N; i++)
        syscall(SYS_getppid); /* not glibc's getppid(), in case a libc ever caches it */
    return (now_us() - t0) / N;
}

static double fork_us(void)
{
    enum { N = 100 };
    double t0 = now_us();
    for (int i = 0; i < N; i++) {
        pid_t pid = fork();
        if (pid == 0)
            _exit(0);
        if (pid < 0 || waitpid(pid, NULL, 0) != pid) {
            say("previrt bench: ", "error fork failed");
            return -1;
        }
    }
    return (now_us() - t0) / N;
}

static double fault_us(void) { return fresh_page_fault_us(2048); /* 8 MiB */ }

static double pipe_us(void)
{
    enum { N = 2000 };
    int ping[2], pong[2];
    if (pipe(ping) || pipe(pong))
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        char c;
        close(ping[1]);
        close(pong[0]);
        while (read(ping[0], &c, 1) == 1 && write(pong[1], &c, 1) == 1)
            ;
        _exit(0);
    }
    char c = 'x';
    double t0 = now_us();
    for (int i = 0; i < N; i++)
        if (write(ping[1], &c, 1) != 1 || read(pong[0], &c, 1) != 1)
            break;
    double t = (now_us() - t0) / N;
    close(ping[1]);
    close(pong[0]);
    waitpid(pid, NULL, 0);
    close(ping[0]);
    close(pong[1]);
    return t;
}

/* The sieve of Eratosthenes below 2^21, four times: loads, stores and branches over 2 MiB, no system
 * calls and (after the first pass) no page faults. An emulator pays for every memory access; native
 * execution (previrt, UML) does not. The count (155,611 primes) is printed so the work is not removed. */
static unsigned cpu_result;
static double cpu_ms(void)
{
    enum { N = 1 << 21 };
    static unsigned char composite[N];
    double t0 = now_us();
    for (int round = 0; round < 4; round++) {
        memset(composite, 0, sizeof composite);
        unsigned count = 0;
        for (unsigned i = 2; i < N; i++) {
            if (composite[i])
                continue;
            count++;
            for (unsigned j = i * 2; j < N; j += i)
                composite[j] = 1;
        }
        cpu_result = count;
    }
    return (now_us() - t0) / 1000;
}

int main(void)
{
    say("previrt bench: ", "start");
    if (getpid() == 1)
        klogctl(8 /* SYSLOG_ACTION_CONSOLE_LEVEL */, NULL, 1);
    double g = 1e9, f = 1e9, pf = 1e9, p = 1e9, c = 1e9;
    for (int r = 0; r < ROUNDS; r++) {
        g = best(g, getppid_us());
        f = best(f, fork_us());
        pf = best(pf, fault_us());
        p = best(p, pipe_us());
    }
    c = cpu_ms();
    say("previrt bench: ", "getppid_us %.3f", g);
    say("previrt bench: ", "fork_us %.1f", f);
    say("previrt bench: ", "fault_us %.2f", pf);
    say("previrt bench: ", "pipe_us %.2f", p);
    say("previrt bench: ", "cpu_ms %.1f (%u primes)", c, cpu_result);
    say("previrt bench: ", "done");
    leave_machine(0);
}
