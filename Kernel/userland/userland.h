/* userland.h: what the guest's user-space programs share: one line to the console per write (so that a
 * line is never split between two processes or by a kernel message), running a function in a child
 * process and describing how that child ended, and leaving the machine when the programs are done.
 * SPDX-License-Identifier: MIT
 */
#ifndef PREVIRT_USERLAND_H
#define PREVIRT_USERLAND_H

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/reboot.h>
#include <sys/wait.h>
#include <unistd.h>

/* Prints one line, prefixed, in one write(2). */
static inline void say(const char *prefix, const char *fmt, ...)
{
    char line[512];
    int n = snprintf(line, sizeof line, "%s", prefix);
    va_list ap;
    va_start(ap, fmt);
    n += vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof line - 2)
        n = (int)sizeof line - 2;
    line[n++] = '\n';
    (void)!write(1, line, (size_t)n);
}

/* Runs fn in a child process; returns the child's wait status (or -1 if fork or wait failed). */
static inline int in_child(void (*fn)(void))
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        fn();
        _exit(0);
    }
    int status;
    if (waitpid(pid, &status, 0) != pid)
        return -1;
    return status;
}

/* "SEGV" for SIGSEGV: the names of the signals the checks expect, the number for others. */
static inline const char *signal_name(int sig)
{
    static const struct { int sig; const char *name; } names[] = {
        { SIGHUP, "HUP" }, { SIGINT, "INT" }, { SIGQUIT, "QUIT" }, { SIGILL, "ILL" }, { SIGTRAP, "TRAP" },
        { SIGABRT, "ABRT" }, { SIGBUS, "BUS" }, { SIGFPE, "FPE" }, { SIGKILL, "KILL" }, { SIGUSR1, "USR1" },
        { SIGSEGV, "SEGV" }, { SIGUSR2, "USR2" }, { SIGPIPE, "PIPE" }, { SIGALRM, "ALRM" }, { SIGTERM, "TERM" },
        { SIGSYS, "SYS" },
    };
    static char other[16];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].sig == sig)
            return names[i].name;
    snprintf(other, sizeof other, "%d", sig);
    return other;
}

/* "exited with status 7", "killed by SIGSEGV": a wait status in words. */
static inline const char *how_it_ended(int status, char *buf, size_t size)
{
    if (status == -1)
        snprintf(buf, size, "could not be started or waited for");
    else if (WIFEXITED(status))
        snprintf(buf, size, "exited with status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, size, "killed by SIG%s", signal_name(WTERMSIG(status)));
    else
        snprintf(buf, size, "wait status 0x%x", status);
    return buf;
}

/* Leaves the machine, carrying pass (status 0) or fail in how. An i386 PC kernel without ACPI cannot power
 * off, but it can restart (through the keyboard controller, port 0x64), and QEMU run with -no-reboot then
 * exits with status 0; on failure it halts instead (interrupts off, nothing to wake it), so QEMU runs on
 * until its timeout and the caller sees the timeout's status. (User space cannot reach isa-debug-exit:
 * the kernel has neither CONFIG_X86_IOPL_IOPERM nor /dev/port.) User-Mode Linux (the x86_64 builds)
 * restarts by booting again, so there the programs always power off. Run outside a guest (not as pid 1,
 * e.g. the bench natively on the host), they just exit with the status. */
static inline void leave_machine(int status)
{
    if (getpid() != 1)
        _exit(status);
    sync();
#if defined(__x86_64__)
    reboot(RB_POWER_OFF);
#else
    reboot(status == 0 ? RB_AUTOBOOT : RB_HALT_SYSTEM);
#endif
    for (;;)
        pause();
}

#endif
