/* init.c: the guest's first user process (milestone M4 of issue 10). It checks that the kernel under it
 * gives user space what hardware would: processes (fork, exec, wait), pipes, memory (anonymous, shared,
 * copy-on-write, file mappings), signals (handlers, kill, blocking, a caught SIGSEGV), the timer; that a
 * user process cannot read or write the kernel's memory; and that privileged instructions and faults in
 * user mode are the guest kernel's to handle (the child is killed by the signal hardware would cause).
 *
 * Every line it prints starts with "previrt userland: " and is the same on every platform that runs the
 * same kernel correctly (no pids, addresses or timings): the tests compare these lines between QEMU and
 * `previrt run`. The last line is the verdict, "previrt userland: N/N checks passed"; then, if every
 * check passed, it restarts the machine (QEMU -no-reboot exits with status 0), and otherwise halts it
 * (QEMU runs until its timeout). Booted without panic=, a kernel panic also hangs: status 0 means pass.
 *
 * The kernel passes the command line's words it does not know to init: "m4", "isolation", "privileged"
 * and "faults" choose groups (default: these four); "tls" (only when asked for) checks thread-local
 * data through %gs and that %gs reaches no kernel memory; "verbose" leaves the kernel's console
 * messages on.
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/klog.h>
#include <sys/mman.h>
#include <poll.h>
#include <time.h>

#include "userland.h"

#if !defined(__i386__)
#error "init.c is the i386 guest's init (its kernel addresses and instructions are i386's)"
#endif

#define PAGE 4096

static int checks, passed;

/* Records one check: prints its line with "ok", or "FAILED: why". */
static void check(const char *name, int ok, const char *why, ...)
{
    char reason[256] = "";
    if (!ok) {
        va_list ap;
        va_start(ap, why);
        vsnprintf(reason, sizeof reason, why, ap);
        va_end(ap);
    }
    checks++;
    passed += ok;
    say("previrt userland: ", ok ? "%s: ok" : "%s: FAILED: %s", name, reason);
}

/* A check whose child process must end in exactly one way. */
static void check_child(const char *name, void (*fn)(void), int want_signal, int want_exit)
{
    char how[64];
    int status = in_child(fn);
    int ok = want_signal ? WIFSIGNALED(status) && WTERMSIG(status) == want_signal
                         : WIFEXITED(status) && WEXITSTATUS(status) == want_exit;
    char name_and_result[200];
    snprintf(name_and_result, sizeof name_and_result, "%s: child %s", name, how_it_ended(status, how, sizeof how));
    check(name_and_result, ok, "expected %s%s", want_signal ? "SIG" : "a clean exit", want_signal ? signal_name(want_signal) : "");
}

/* ---- processes ---- */

static void exit_42(void) { _exit(42); }

static void exec_child(void)
{
    char *argv[] = { "/child", "exec-argument", NULL };
    char *envp[] = { "PREVIRT_USERLAND=child", NULL };
    execve("/child", argv, envp);
    _exit(127);
}

/* ---- pipes ---- */

static uint32_t fnv1a(uint32_t h, const unsigned char *p, size_t n)
{
    while (n--)
        h = (h ^ *p++) * 16777619u;
    return h;
}

static void pattern(unsigned char *buf, size_t n, size_t start)
{
    for (size_t i = 0; i < n; i++)
        buf[i] = (unsigned char)((start + i) * 7 + 3);
}

/* 256 KiB from parent to child in 4 KiB writes (four times the pipe's buffer); the child sends back the
 * FNV-1a hash of what it read, through a second pipe. */
static void check_pipe(void)
{
    enum { TOTAL = 256 * 1024, CHUNK = 4096 };
    int down[2], up[2];
    if (pipe(down) || pipe(up)) {
        check("pipe", 0, "pipe: %s", strerror(errno));
        return;
    }
    pid_t pid = fork();
    if (pid == 0) {
        close(down[1]);
        close(up[0]);
        unsigned char buf[CHUNK];
        uint32_t h = 2166136261u;
        size_t got = 0;
        ssize_t n;
        while ((n = read(down[0], buf, sizeof buf)) > 0) {
            h = fnv1a(h, buf, (size_t)n);
            got += (size_t)n;
        }
        uint32_t reply[2] = { h, (uint32_t)got };
        _exit(write(up[1], reply, sizeof reply) == sizeof reply ? 0 : 1);
    }
    close(down[0]);
    close(up[1]);
    unsigned char buf[CHUNK];
    uint32_t want = 2166136261u;
    for (size_t off = 0; off < TOTAL; off += CHUNK) {
        pattern(buf, CHUNK, off);
        want = fnv1a(want, buf, CHUNK);
        if (write(down[1], buf, CHUNK) != CHUNK)
            break;
    }
    close(down[1]);
    uint32_t reply[2] = { 0, 0 };
    ssize_t n = read(up[0], reply, sizeof reply);
    close(up[0]);
    int status;
    waitpid(pid, &status, 0);
    char name[128];
    snprintf(name, sizeof name, "pipe: %d bytes parent to child, hash 0x%08x back", TOTAL, want);
    check(name, n == sizeof reply && reply[0] == want && reply[1] == TOTAL && WIFEXITED(status) && WEXITSTATUS(status) == 0,
          "the child read %u bytes, hash 0x%08x", reply[1], reply[0]);
}

/* ---- memory ---- */

static void check_anonymous(void)
{
    enum { PAGES = 1024 };
    unsigned char *p = mmap(NULL, PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        check("mmap anonymous", 0, "mmap: %s", strerror(errno));
        return;
    }
    int zero = 1, kept = 1;
    for (int i = 0; i < PAGES; i++) {
        zero &= p[i * PAGE] == 0 && p[i * PAGE + PAGE - 1] == 0;
        p[i * PAGE + (i % PAGE)] = (unsigned char)(i | 1);
    }
    for (int i = 0; i < PAGES; i++)
        kept &= p[i * PAGE + (i % PAGE)] == (unsigned char)(i | 1);
    munmap(p, PAGES * PAGE);
    check("mmap anonymous: 1024 fresh pages read as zero, written and read back", zero && kept,
          zero ? "a written byte changed" : "a fresh page was not zero");
}

static volatile unsigned char *shared_page, *private_page;
static void write_both_pages(void)
{
    shared_page[0] = 0x5a;
    private_page[0] = 0xa5;
    _exit(shared_page[0] == 0x5a && private_page[0] == 0xa5 ? 0 : 1);
}

/* After fork, a MAP_SHARED page is the same memory in both processes; a MAP_PRIVATE one is copied on write. */
static void check_shared_and_cow(void)
{
    shared_page = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    private_page = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (shared_page == MAP_FAILED || private_page == MAP_FAILED) {
        check("mmap shared and copy-on-write", 0, "mmap: %s", strerror(errno));
        return;
    }
    shared_page[0] = 1;
    private_page[0] = 1;
    int status = in_child(write_both_pages);
    int child_ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    check("mmap shared anonymous: the child's write is seen by the parent", child_ok && shared_page[0] == 0x5a,
          "the parent reads 0x%02x", shared_page[0]);
    check("fork copy-on-write: the child's write to a private page is not seen by the parent", child_ok && private_page[0] == 1,
          "the parent reads 0x%02x", private_page[0]);
    munmap((void *)shared_page, PAGE);
    munmap((void *)private_page, PAGE);
}

/* /child, a file of the initramfs, mapped privately: its bytes equal what read(2) returns. */
static void check_file_mapping(void)
{
    int fd = open("/child", O_RDONLY);
    off_t size = fd < 0 ? -1 : lseek(fd, 0, SEEK_END);
    if (size <= 0) {
        check("mmap file", 0, "/child: %s", strerror(errno));
        if (fd >= 0)
            close(fd);
        return;
    }
    unsigned char *map = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd, 0);
    unsigned char *copy = malloc((size_t)size);
    size_t got = 0;
    ssize_t n;
    lseek(fd, 0, SEEK_SET);
    while (copy && got < (size_t)size && (n = read(fd, copy + got, (size_t)size - got)) > 0)
        got += (size_t)n;
    close(fd);
    int ok = map != MAP_FAILED && copy && got == (size_t)size && memcmp(map, "\177ELF", 4) == 0 && memcmp(map, copy, got) == 0;
    check("mmap file: /child mapped read-only equals read(2), and starts with the ELF magic", ok,
          map == MAP_FAILED ? "mmap failed" : "the mapping differs from the file");
    if (map != MAP_FAILED)
        munmap(map, (size_t)size);
    free(copy);
}

/* A file written through a MAP_SHARED mapping: read(2) sees the writes. */
static void check_file_write_mapping(void)
{
    enum { SIZE = 3 * PAGE };
    int fd = open("/scratch", O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || ftruncate(fd, SIZE)) {
        check("mmap file shared", 0, "/scratch: %s", strerror(errno));
        return;
    }
    unsigned char *map = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) {
        check("mmap file shared", 0, "mmap: %s", strerror(errno));
        close(fd);
        return;
    }
    pattern(map, SIZE, 11);
    msync(map, SIZE, MS_SYNC);
    munmap(map, SIZE);
    unsigned char back[SIZE], want[SIZE];
    pattern(want, SIZE, 11);
    ssize_t n = pread(fd, back, SIZE, 0);
    close(fd);
    unlink("/scratch");
    check("mmap file shared: 3 pages written through the mapping are read back by pread(2)", n == SIZE && memcmp(back, want, SIZE) == 0,
          "pread returned %d bytes, different", (int)n);
}

/* ---- signals ---- */

static volatile sig_atomic_t usr1_count;
static void on_usr1(int sig) { (void)sig; usr1_count++; }

static void check_handler_and_blocking(void)
{
    struct sigaction sa = { .sa_handler = on_usr1 };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
    usr1_count = 0;
    kill(getpid(), SIGUSR1);
    check("signals: a SIGUSR1 handler runs once for kill(getpid(), SIGUSR1)", usr1_count == 1, "it ran %d times", (int)usr1_count);

    sigset_t block, pending;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    sigprocmask(SIG_BLOCK, &block, NULL);
    usr1_count = 0;
    kill(getpid(), SIGUSR1);
    int held = usr1_count == 0 && sigpending(&pending) == 0 && sigismember(&pending, SIGUSR1);
    sigprocmask(SIG_UNBLOCK, &block, NULL);
    check("signals: a blocked SIGUSR1 stays pending and is delivered once unblocked", held && usr1_count == 1,
          held ? "not delivered after unblocking" : "delivered while blocked");
    signal(SIGUSR1, SIG_DFL);
}

static void wait_for_term(void)
{
    for (;;)
        pause();
}

static int ready_pipe[2];
static void on_usr2(int sig) { (void)sig; _exit(3); }
static void handler_in_child(void)
{
    signal(SIGUSR2, on_usr2);
    (void)!write(ready_pipe[1], "r", 1);
    for (;;)
        pause();
}

static void check_kill_other(void)
{
    char how[64];
    pid_t pid = fork();
    if (pid == 0)
        wait_for_term();
    kill(pid, SIGTERM);
    int status;
    waitpid(pid, &status, 0);
    char name[128];
    snprintf(name, sizeof name, "signals: kill(child, SIGTERM): child %s", how_it_ended(status, how, sizeof how));
    check(name, WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM, "expected SIGTERM");

    if (pipe(ready_pipe)) {
        check("signals: handler in another process", 0, "pipe: %s", strerror(errno));
        return;
    }
    pid = fork();
    if (pid == 0)
        handler_in_child();
    char c;
    (void)!read(ready_pipe[0], &c, 1);
    kill(pid, SIGUSR2);
    waitpid(pid, &status, 0);
    close(ready_pipe[0]);
    close(ready_pipe[1]);
    snprintf(name, sizeof name, "signals: kill(child, SIGUSR2) runs the child's handler, which exits 3: child %s",
             how_it_ended(status, how, sizeof how));
    check(name, WIFEXITED(status) && WEXITSTATUS(status) == 3, "expected exit status 3");
}

static unsigned char *readonly_page;
static volatile sig_atomic_t segv_seen, segv_addr_right, segv_code;
static void on_segv(int sig, siginfo_t *info, void *context)
{
    (void)sig;
    (void)context;
    segv_seen++;
    segv_addr_right = info->si_addr == readonly_page + 8;
    segv_code = info->si_code;
    mprotect(readonly_page, PAGE, PROT_READ | PROT_WRITE);
}

/* In a child (the kernel logs any SIGSEGV of init itself at KERN_EMERG, caught or not): a write to a
 * read-only page raises SIGSEGV (SEGV_ACCERR, at the address written); the handler makes the page
 * writable and returns, and the write is restarted. The exit status says what went wrong. */
static void catch_segv(void)
{
    readonly_page = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    struct sigaction sa = { .sa_sigaction = on_segv, .sa_flags = SA_SIGINFO };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, NULL);
    *(volatile unsigned char *)(readonly_page + 8) = 0x77;
    _exit((segv_seen != 1) | !segv_addr_right << 1 | (segv_code != SEGV_ACCERR) << 2 | (readonly_page[8] != 0x77) << 3);
}

static void check_caught_segv(void)
{
    int status = in_child(catch_segv);
    int bits = WIFEXITED(status) ? WEXITSTATUS(status) : 0xff;
    check("signals: SIGSEGV on a read-only page caught (SEGV_ACCERR, si_addr right), page made writable, write restarted",
          bits == 0, "%s%s%s%s%s", bits == 0xff ? "the child was killed" : "", bits != 0xff && bits & 1 ? "the handler did not run once; " : "",
          bits != 0xff && bits & 2 ? "wrong si_addr; " : "", bits != 0xff && bits & 4 ? "wrong si_code; " : "",
          bits != 0xff && bits & 8 ? "the write was lost" : "");
}

/* The timer: poll() with no descriptors and a 30 ms timeout sleeps at least 30 ms of CLOCK_MONOTONIC.
 * (Not nanosleep: the guest kernel has neither CONFIG_POSIX_TIMERS, for clock_nanosleep, nor
 * CONFIG_COMPAT_32BIT_TIME, for the old nanosleep; poll's timeout is in milliseconds.) */
static void check_sleep(void)
{
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    int r = poll(NULL, 0, 30);
    clock_gettime(CLOCK_MONOTONIC, &b);
    long long ns = (b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec);
    check("timer: poll() with a 30 ms timeout returns after at least 30 ms of CLOCK_MONOTONIC", r == 0 && ns >= 30000000LL,
          "returned %d (%s) after %lld us", r, r ? strerror(errno) : "no error", ns / 1000);
}

static void run_m4(void)
{
    char how[64], name[128];
    int status = in_child(exit_42);
    snprintf(name, sizeof name, "fork: child %s", how_it_ended(status, how, sizeof how));
    check(name, WIFEXITED(status) && WEXITSTATUS(status) == 42, "expected exit status 42");

    status = in_child(exec_child);
    snprintf(name, sizeof name, "exec: /child %s", how_it_ended(status, how, sizeof how));
    check(name, WIFEXITED(status) && WEXITSTATUS(status) == 7, "expected exit status 7");

    check_pipe();
    check_anonymous();
    check_shared_and_cow();
    check_file_mapping();
    check_file_write_mapping();
    check_handler_and_blocking();
    check_kill_other();
    check_caught_segv();
    check_sleep();
}

/* ---- user isolation: the kernel's memory (0xC0000000 and up on i386) ---- */

#define KERNEL_BASE 0xC0000000u /* CONFIG_PAGE_OFFSET (VMSPLIT_3G) */
#define KERNEL_TEXT 0xC1000000u /* CONFIG_PHYSICAL_START 0x1000000, mapped at PAGE_OFFSET + 16 MiB */

static void read_kernel_base(void) { say("previrt userland: ", "isolation: the read returned 0x%x", *(volatile unsigned *)KERNEL_BASE); }
static void read_kernel_text(void) { say("previrt userland: ", "isolation: the read returned 0x%x", *(volatile unsigned *)KERNEL_TEXT); }
static void write_kernel_base(void) { *(volatile unsigned *)(KERNEL_BASE + 0x1000) = 0; }

static void run_isolation(void)
{
    check_child("isolation: read of the kernel's first address from user mode", read_kernel_base, SIGSEGV, 0);
    check_child("isolation: read of the kernel's text from user mode", read_kernel_text, SIGSEGV, 0);
    check_child("isolation: write to the kernel's memory from user mode", write_kernel_base, SIGSEGV, 0);
}

/* ---- TLS: %gs reaches the thread's data below its base, never the kernel's memory ---- */

/* glibc's i386 TLS (variant II) lies below the thread pointer: code reaches it through %gs with offsets
 * that wrap around 4 GiB (tls_words@ntpoff is negative). Not static, so that asm can name them. */
__thread unsigned tls_words[64];
__thread unsigned char tls_bytes[8];

/* The thread pointer, %gs's base: glibc keeps it at %gs:0. */
static unsigned thread_pointer(void)
{
    unsigned tp;
    __asm__ volatile("movl %%gs:0, %0" : "=r"(tp));
    return tp;
}

/* The %gs offset that reaches `address` (modulo 4 GiB). */
static unsigned gs_offset(unsigned address) { return address - thread_pointer(); }

static void read_kernel_through_gs(void)
{
    unsigned v;
    __asm__ volatile("movl %%gs:(%1), %0" : "=r"(v) : "r"(gs_offset(KERNEL_TEXT)));
    say("previrt userland: ", "tls: the read returned 0x%x", v);
}

static void add_kernel_through_gs(void)
{
    unsigned v = 0;
    __asm__ volatile("addl %%gs:(%1), %0" : "+r"(v) : "r"(gs_offset(KERNEL_TEXT)));
    say("previrt userland: ", "tls: the add read 0x%x", v);
}

/* The kernel data word the write aims at: the command line's tls_write=ADDRESS (the kernel hands it to
 * init in the environment; the tests give jiffies, which the kernel writes at every tick, so that a
 * host that let the write through would find the page mapped and writable), else a page above
 * KERNEL_BASE. */
static void write_kernel_through_gs(void)
{
    const char *target = getenv("tls_write");
    unsigned address = target ? (unsigned)strtoul(target, NULL, 0) : KERNEL_BASE + 0x1000;
    __asm__ volatile("movl $0, %%gs:(%0)" : : "r"(gs_offset(address)) : "memory");
    say("previrt userland: ", "tls: the write to the kernel's memory went through");
}

/* Writes tls_words[i] (i = 0, 1, ...) through %gs with the instruction forms user code uses, each with
 * its negative offset: mov from a register, an immediate and the accumulator (moffs), byte and word
 * stores; add, xchg, cmpxchg, inc (read-modify-write). Reads them back through %gs the same ways. */
static unsigned tls_forms(unsigned seed)
{
    unsigned base = (unsigned)((char *)&tls_words[0] - (char *)thread_pointer()), v, sum = 0, old;
    __asm__ volatile("movl %1, %%gs:(%0)" : : "r"(base), "r"(seed) : "memory");
    __asm__ volatile("movl $0x5a5a5a5a, %%gs:4(%0)" : : "r"(base) : "memory");
    __asm__ volatile("movl %0, %%gs:tls_words@ntpoff+8" : : "a"(seed + 2) : "memory");
    __asm__ volatile("movw %w1, %%gs:12(%0); movw $0x1234, %%gs:14(%0)" : : "r"(base), "r"(seed + 3) : "memory");
    __asm__ volatile("movb %b1, %%gs:16(%0); movb $0x77, %%gs:17(%0)" : : "r"(base), "q"(seed + 4) : "memory");
    __asm__ volatile("movl %1, %%gs:20(%0); addl $7, %%gs:20(%0)" : : "r"(base), "r"(seed) : "memory");
    v = seed + 6;
    __asm__ volatile("movl $0, %%gs:24(%1); xchgl %0, %%gs:24(%1)" : "+r"(v) : "r"(base) : "memory");
    old = 0;
    __asm__ volatile("movl $0, %%gs:28(%2); lock cmpxchgl %1, %%gs:28(%2)" : "+a"(old) : "r"(seed + 7), "r"(base) : "memory", "cc");
    __asm__ volatile("movl %1, %%gs:32(%0); incl %%gs:32(%0)" : : "r"(base), "r"(seed + 7) : "memory", "cc");
    /* read back through %gs: mov to a register, the accumulator (moffs), movzbl, a byte, add */
    __asm__ volatile("movl %%gs:(%1), %0" : "=r"(v) : "r"(base));
    sum += v;
    __asm__ volatile("movl %%gs:tls_words@ntpoff+8, %0" : "=a"(v));
    sum += v;
    __asm__ volatile("movzbl %%gs:16(%1), %0" : "=r"(v) : "r"(base));
    sum += v;
    v = 0;
    __asm__ volatile("movb %%gs:17(%1), %b0" : "+q"(v) : "r"(base));
    sum += v;
    __asm__ volatile("addl %%gs:20(%1), %0" : "+r"(sum) : "r"(base) : "cc");
    return sum;
}

/* A pointer the compiler cannot see through: accesses through it use the flat segments, not %gs. */
static void *flat(void *p)
{
    __asm__("" : "+r"(p));
    return p;
}

/* What tls_forms(seed) leaves, read through plain pointers (flat segments, not %gs). */
static int tls_forms_hold(unsigned seed, unsigned sum, char *why, size_t size)
{
    const volatile unsigned *words = flat(&tls_words[0]);
    const volatile unsigned short *w = (const volatile unsigned short *)&words[3];
    const volatile unsigned char *b = (const volatile unsigned char *)&words[4];
    unsigned want[] = {seed, 0x5a5a5a5a, seed + 2, 0, 0, seed + 7, seed + 6, seed + 7, seed + 8};
    for (unsigned i = 0; i < 9; i++)
        if (i != 3 && i != 4 && words[i] != want[i]) {
            snprintf(why, size, "tls_words[%u] is 0x%x, not 0x%x", i, words[i], want[i]);
            return 0;
        }
    if (w[0] != (unsigned short)(seed + 3) || w[1] != 0x1234 || b[0] != (unsigned char)(seed + 4) || b[1] != 0x77) {
        snprintf(why, size, "16-bit words 0x%x 0x%x, bytes 0x%x 0x%x", w[0], w[1], b[0], b[1]);
        return 0;
    }
    if (sum != seed + (seed + 2) + ((seed + 4) & 0xff) + 0x77 + seed + 7) {
        snprintf(why, size, "the values read back through %%gs add up to 0x%x", sum);
        return 0;
    }
    return 1;
}

/* cmp and test of tls_words through %gs (after tls_forms(0x100)): eight conditions, each of which must
 * hold, as a bit mask (0xff when the flags are right). */
static unsigned tls_compares(void)
{
    unsigned base = (unsigned)((char *)&tls_words[0] - (char *)thread_pointer()), bits = 0;
    unsigned char c;
    __asm__ volatile("cmpl $0x5a5a5a5a, %%gs:4(%1); sete %0" : "=q"(c) : "r"(base) : "cc");
    bits |= c;
    __asm__ volatile("cmpb $0x78, %%gs:17(%1); setb %0" : "=q"(c) : "r"(base) : "cc");
    bits |= c << 1;
    __asm__ volatile("cmpl %2, %%gs:4(%1); sets %0" : "=q"(c) : "r"(base), "r"(0x5a5a5a5bu) : "cc");
    bits |= c << 2;
    __asm__ volatile("cmpl %%gs:4(%1), %2; seta %0" : "=q"(c) : "r"(base), "r"(0x5a5a5a5bu) : "cc");
    bits |= c << 3;
    __asm__ volatile("testb $0x08, %%gs:17(%1); sete %0" : "=q"(c) : "r"(base) : "cc");
    bits |= c << 4;
    __asm__ volatile("testl %2, %%gs:4(%1); setne %0" : "=q"(c) : "r"(base), "r"(0x5a000000u) : "cc");
    bits |= c << 5;
    __asm__ volatile("cmpw $0x1234, %%gs:14(%1); sete %0" : "=q"(c) : "r"(base) : "cc");
    bits |= c << 6;
    __asm__ volatile("cmpl $-1, %%gs:(%1); setb %0" : "=q"(c) : "r"(base) : "cc");
    bits |= c << 7;
    return bits;
}

/* Many accesses in a row that the VMM single-steps: the timer's interrupts arrive in the middle of
 * some of the steps (the VMM then closes the window and the instruction runs again). */
static int tls_loop(char *why, size_t size)
{
    unsigned base = (unsigned)((char *)&tls_words[0] - (char *)thread_pointer()), sum = 0;
    tls_words[10] = 3;
    tls_words[11] = 0;
    for (int i = 0; i < 20000; i++)
        __asm__ volatile("addl %%gs:40(%1), %0; incl %%gs:44(%1)" : "+r"(sum) : "r"(base) : "memory", "cc");
    unsigned count = ((volatile unsigned *)flat(&tls_words[0]))[11];
    snprintf(why, size, "sum %u, count %u", sum, count);
    return sum == 60000 && count == 20000;
}

static void tls_child_writes(void)
{
    char why[128];
    unsigned sum = tls_forms(0x1000);
    _exit(tls_forms_hold(0x1000, sum, why, sizeof why) ? 0 : 1);
}

static void run_tls(void)
{
    char why[128] = "";
    unsigned tp = thread_pointer(), sum, conditions;
    int status, ok;

    check("tls: __thread data and errno lie below the thread pointer (negative %gs offsets)",
          (unsigned)&tls_words[63] < tp && (unsigned)&errno < tp, "tls_words at tp%+d, errno at tp%+d",
          (int)((unsigned)&tls_words[0] - tp), (int)((unsigned)&errno - tp));
    errno = 0;
    ok = close(-1) == -1 && errno == EBADF;
    check("tls: errno after a failing system call", ok, "errno %d", errno);
    sum = tls_forms(0x100);
    check("tls: __thread words, halves and bytes written and read through %gs (mov, add, xchg, cmpxchg, inc)",
          tls_forms_hold(0x100, sum, why, sizeof why), "%s", why);
    conditions = tls_compares();
    check("tls: cmp and test through %gs set the flags (register, immediate, both directions, 8, 16 and 32 bits)", conditions == 0xff,
          "conditions 0x%x, not 0xff", conditions);
    check("tls: 20000 adds and incs through %gs in a loop (the timer interrupts some of them)", tls_loop(why, sizeof why), "%s", why);
    status = in_child(tls_child_writes);
    ok = WIFEXITED(status) && WEXITSTATUS(status) == 0 && tls_forms_hold(0x100, sum, why, sizeof why);
    check("tls: a __thread array written through %gs by a child after fork stays per-process", ok, "child status 0x%x; %s", status, why);
    check_child("tls: read of the kernel's text through %gs with a large offset", read_kernel_through_gs, SIGSEGV, 0);
    check_child("tls: add from the kernel's text through %gs with a large offset", add_kernel_through_gs, SIGSEGV, 0);
    check_child("tls: write to the kernel's memory through %gs with a large offset", write_kernel_through_gs, SIGSEGV, 0);
}

/* ---- privileged instructions in user mode: #GP, so SIGSEGV from the guest kernel ---- */

static void do_cli(void) { __asm__ volatile("cli"); }
static void do_sti(void) { __asm__ volatile("sti"); }
static void do_hlt(void) { __asm__ volatile("hlt"); }
static void do_in(void) { unsigned char v; __asm__ volatile("inb $0x64, %0" : "=a"(v)); }
static void do_out(void) { __asm__ volatile("outb %0, $0x80" : : "a"((unsigned char)0)); }
static void do_mov_from_cr0(void) { unsigned long v; __asm__ volatile("mov %%cr0, %0" : "=r"(v)); }
static void do_mov_to_cr3(void) { __asm__ volatile("mov %0, %%cr3" : : "r"(0ul)); }
static void do_lidt(void) { static struct { unsigned short limit; unsigned long base; } __attribute__((packed)) idt; __asm__ volatile("lidt %0" : : "m"(idt)); }
static void do_wbinvd(void) { __asm__ volatile("wbinvd"); }
static void do_rdmsr(void) { unsigned a, d; __asm__ volatile("rdmsr" : "=a"(a), "=d"(d) : "c"(0x10)); }

/* popf in user mode (IOPL 0) cannot clear IF: it is ignored, not a fault. */
static void check_popf(void)
{
    unsigned long before, after;
    __asm__ volatile("pushf; pop %0; push %0; andl $~0x200, (%%esp); popf; pushf; pop %1" : "=&r"(before), "=r"(after) : : "cc", "memory");
    check("privileged: popf in user mode does not clear the interrupt flag", (before & 0x200) && (after & 0x200),
          "IF before %d, after %d", (int)((before >> 9) & 1), (int)((after >> 9) & 1));
}

static void run_privileged(void)
{
    check_child("privileged: cli in user mode", do_cli, SIGSEGV, 0);
    check_child("privileged: sti in user mode", do_sti, SIGSEGV, 0);
    check_child("privileged: hlt in user mode", do_hlt, SIGSEGV, 0);
    check_child("privileged: in from port 0x64 in user mode", do_in, SIGSEGV, 0);
    check_child("privileged: out to port 0x80 in user mode", do_out, SIGSEGV, 0);
    check_child("privileged: mov from cr0 in user mode", do_mov_from_cr0, SIGSEGV, 0);
    check_child("privileged: mov to cr3 in user mode", do_mov_to_cr3, SIGSEGV, 0);
    check_child("privileged: lidt in user mode", do_lidt, SIGSEGV, 0);
    check_child("privileged: wbinvd in user mode", do_wbinvd, SIGSEGV, 0);
    check_child("privileged: rdmsr in user mode", do_rdmsr, SIGSEGV, 0);
    check_popf();
}

/* ---- faults in user mode: the guest kernel turns each exception into its signal ---- */

static void do_ud2(void) { __asm__ volatile("ud2"); }
static void do_int3(void) { __asm__ volatile("int3"); }
static void do_divide(void) { unsigned a = 1, d = 0, z = 0; __asm__ volatile("divl %2" : "+a"(a), "+d"(d) : "r"(z)); }
static void do_int_81(void) { __asm__ volatile("int $0x81"); }
static volatile int *volatile unmapped = (volatile int *)16;
static void do_null(void) { (void)*unmapped; }

static void run_faults(void)
{
    check_child("faults: ud2 (#UD)", do_ud2, SIGILL, 0);
    check_child("faults: int3 (#BP)", do_int3, SIGTRAP, 0);
    check_child("faults: divide by zero (#DE)", do_divide, SIGFPE, 0);
    check_child("faults: int $0x81, a gate user mode may not use (#GP)", do_int_81, SIGSEGV, 0);
    check_child("faults: read of address 16, not mapped (#PF)", do_null, SIGSEGV, 0);
}

int main(int argc, char **argv)
{
    int m4 = 0, isolation = 0, privileged = 0, faults = 0, tls = 0, verbose = 0, unknown = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "m4")) m4 = 1;
        else if (!strcmp(argv[i], "isolation")) isolation = 1;
        else if (!strcmp(argv[i], "privileged")) privileged = 1;
        else if (!strcmp(argv[i], "faults")) faults = 1;
        else if (!strcmp(argv[i], "tls")) tls = 1;
        else if (!strcmp(argv[i], "verbose")) verbose = 1;
        else unknown++;
    }
    if (!m4 && !isolation && !privileged && !faults && !tls)
        m4 = isolation = privileged = faults = 1;
    /* Kernel messages after this point (there should be none) would interleave with these lines. */
    if (!verbose)
        klogctl(8 /* SYSLOG_ACTION_CONSOLE_LEVEL */, NULL, 1);

    say("previrt userland: ", "init started (pid %d), groups:%s%s%s%s%s%s", (int)getpid(), m4 ? " m4" : "", isolation ? " isolation" : "",
        privileged ? " privileged" : "", faults ? " faults" : "", tls ? " tls" : "", unknown ? " (unknown words ignored)" : "");
    if (m4)
        run_m4();
    if (isolation)
        run_isolation();
    if (privileged)
        run_privileged();
    if (faults)
        run_faults();
    if (tls)
        run_tls();
    say("previrt userland: ", "%d/%d checks passed", passed, checks);
    leave_machine(passed == checks ? 0 : 1);
}
