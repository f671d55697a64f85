/* contain.c: the guest never reaches the host kernel.
 *
 * Two layers. Syscall User Dispatch (Linux >= 5.11) turns every system call instruction executed outside
 * the VMM's own text while the selector byte says BLOCK (that is, while guest code runs) into SIGSYS
 * before the kernel acts on it; the VMM reflects it to the guest as what it is on hardware: int $0x80
 * through the guest's virtual IDT, syscall as #UD, or ends the run naming the guest address. Guest code
 * shares the VMM's address space and could flip the selector, so the boundary is the second layer: a
 * seccomp filter, installed before the first guest instruction, that allows only the system calls the
 * VMM itself makes from then on (Docs/in-place-vmm.md lists them). Any other system call is trapped
 * (SECCOMP_RET_TRAP): the SIGSYS handler names it and the address, then the process exits. A call from
 * another architecture (a far jump to a 64-bit code segment) kills the process outright.
 * SPDX-License-Identifier: MIT
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <ucontext.h>
#include <unistd.h>

#include "host.h"

#ifndef PR_SET_SYSCALL_USER_DISPATCH
#define PR_SET_SYSCALL_USER_DISPATCH 59
#define PR_SYS_DISPATCH_ON 1
#endif
#ifndef SYS_USER_DISPATCH
#define SYS_USER_DISPATCH 2
#endif

typedef unsigned int u32;

volatile unsigned char vmm_selector = VMM_SELECTOR_ALLOW;
unsigned short vmm_gs; /* the VMM's %gs (glibc's thread pointer), reloaded on every signal by vmm_signal */
static double timeout;

extern char __executable_start[], etext[];
extern void vmm_signal(int, siginfo_t *, void *); /* entry.S: restores %gs, then calls vmm_on_signal */
void vmm_fault(int sig, siginfo_t *si, void *context);

/* The system calls allowed after the filter is installed; everything else is trapped. */
static struct sock_filter filter[] = {
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_I386, 1, 0),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_write, 0, 4),
    /* write: to standard output (the guest's console) and standard error (the VMM's messages) only */
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 1, 6, 0),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 2, 5, 0),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_exit_group, 3, 0),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_rt_sigreturn, 2, 0),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_sigreturn, 1, 0),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
};

static void on_sigsys(siginfo_t *si, ucontext_t *uc)
{
    greg_t *g = uc->uc_mcontext.gregs;
    u32 after = (u32)(unsigned long)si->si_call_addr, eip = after, esp = (u32)g[REG_ESP], eflags = (u32)g[REG_EFL];
    const unsigned char *p = (const unsigned char *)(unsigned long)(after - 2);
    int r;

    if (si->si_code != SYS_USER_DISPATCH)
        vmm_exit(VMM_EXIT_ERROR, "killed: host system call %d at %#x, which the VMM's seccomp filter does not allow "
                 "(the guest tried to reach the host kernel)\n", si->si_syscall, after - 2);
    if (guest_memory(after - 2, 2) && p[0] == 0xcd && p[1] == 0x80) {
        if ((r = deliver_to_guest(0x80, 0, 0, &eip, &esp, &eflags)) == 0) {
            g[REG_EIP] = (greg_t)eip;
            g[REG_ESP] = (greg_t)esp;
            g[REG_EFL] = (greg_t)eflags;
            return;
        }
        vmm_exit(VMM_EXIT_ERROR, "guest fault: int $0x80 at %#x (eax %u): %s; the host system call was stopped\n", after - 2,
                 si->si_syscall, r == -2 ? "the guest's stack cannot take the frame" : "the guest's virtual IDT has no gate for vector 0x80");
    }
    if (guest_memory(after - 2, 2) && p[0] == 0x0f && p[1] == 0x05) {
        eip = after - 2; /* syscall: #UD on an i386 CPU, a fault at the instruction */
        if (deliver_to_guest(6, 0, 0, &eip, &esp, &eflags) == 0) {
            g[REG_EIP] = (greg_t)eip;
            g[REG_ESP] = (greg_t)esp;
            g[REG_EFL] = (greg_t)eflags;
            return;
        }
        vmm_exit(VMM_EXIT_ERROR, "guest fault: #UD at %#x (syscall, eax %u); the host system call was stopped\n", after - 2, si->si_syscall);
    }
    /* sysenter: the host returns to its vDSO, so the guest's address is lost. The kernel takes the user
     * stack from ebp, and the vDSO convention leaves [ebp][edx][ecx][return address] there. */
    {
        u32 ret = esp <= 0xffffffffu - 16 && guest_memory(esp + 12, 4) ? *(const u32 *)(unsigned long)(esp + 12) : 0;
        vmm_exit(VMM_EXIT_ERROR, "guest fault: sysenter (eax %u): the host lost its address; the return address on the "
                 "guest's stack (ebp %#x) is %#x; the host system call was stopped\n", si->si_syscall, esp, ret);
    }
}

static void on_alarm(ucontext_t *uc)
{
    vmm_exit(VMM_EXIT_TIMEOUT, "timed out after %g seconds (--timeout): the guest was stopped at %#x\n", timeout,
             (u32)uc->uc_mcontext.gregs[REG_EIP]);
}

/* Every signal the VMM handles, on its own stack, with the VMM's %gs (entry.S: vmm_signal). */
void vmm_on_signal(int sig, siginfo_t *si, void *context)
{
    unsigned char selector = vmm_selector;
    vmm_selector = VMM_SELECTOR_ALLOW;
    if (sig == SIGSYS)
        on_sigsys(si, context);
    else if (sig == SIGALRM)
        on_alarm(context);
    else
        vmm_fault(sig, si, context);
    vmm_selector = selector;
}

static void fail(const char *what)
{
    vmm_exit(VMM_EXIT_ERROR, "cannot contain the guest: %s: %s\n", what, strerror(errno));
}

void contain_guest(double timeout_seconds)
{
    static unsigned char alt_stack[65536];
    static const int handled[] = {SIGSYS, SIGSEGV, SIGILL, SIGFPE, SIGTRAP, SIGBUS, SIGALRM};
    stack_t ss = {.ss_sp = alt_stack, .ss_size = sizeof alt_stack};
    struct sigaction sa;
    sigset_t unblock;
    struct sock_fprog program = {sizeof filter / sizeof filter[0], filter};
    unsigned i;

    asm volatile("movw %%gs, %0" : "=m"(vmm_gs));
    if (sigaltstack(&ss, 0) != 0)
        fail("sigaltstack");
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = vmm_signal;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigfillset(&sa.sa_mask);
    for (i = 0; i < sizeof handled / sizeof handled[0]; i++)
        if (sigaction(handled[i], &sa, 0) != 0)
            fail("sigaction");
    /* The parent may have left signals blocked: a blocked SIGALRM would never stop the guest, a blocked
     * SIGTERM would make it unkillable but by SIGKILL, a blocked SIGSEGV would kill it without a word. */
    sigemptyset(&unblock);
    if (sigprocmask(SIG_SETMASK, &unblock, 0) != 0)
        fail("sigprocmask");
    signal(SIGPIPE, SIG_IGN); /* a closed pipe is a failed write (EPIPE), reported, not a silent death */

    timeout = timeout_seconds;
    if (timeout_seconds > 0) {
        struct itimerval it = {{0, 0}, {(long)timeout_seconds, (long)((timeout_seconds - (long)timeout_seconds) * 1e6)}};
        if (it.it_value.tv_sec == 0 && it.it_value.tv_usec == 0)
            it.it_value.tv_usec = 1;
        if (setitimer(ITIMER_REAL, &it, 0) != 0)
            fail("setitimer");
    }

    /* Syscall User Dispatch: the VMM's text may always make system calls (the signal return path is
     * there); elsewhere the selector decides. Without it (Linux < 5.11) the seccomp filter still holds. */
    if (prctl(PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_ON, (unsigned long)__executable_start,
              (unsigned long)(etext - __executable_start), &vmm_selector) != 0 && errno != EINVAL)
        fail("prctl(PR_SET_SYSCALL_USER_DISPATCH)");
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        fail("prctl(PR_SET_NO_NEW_PRIVS)");
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &program) != 0)
        fail("seccomp");
}
