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
 *
 * The supervisor (pool.c), which runs no guest code but reads one byte a slot can write, gets a filter of
 * its own once the slots are forked (contain_supervisor): wait for its children, signal the slot pids
 * (baked into the program as constants) with SIGKILL or SIGALRM and itself with the four stop signals,
 * its --timeout alarm, messages to standard error, exit; anything else kills it (SECCOMP_RET_KILL_PROCESS).
 * SPDX-License-Identifier: MIT
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/futex.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
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

volatile unsigned char vmm_selector PER_PROCESS; /* VMM_SELECTOR_ALLOW (0) at the start; each slot's own */
unsigned short vmm_gs; /* the VMM's %gs (glibc's thread pointer), reloaded on every signal by vmm_signal */
extern unsigned short vmm_cs, vmm_ds;
static double timeout;

extern char __executable_start[], etext[];
extern void vmm_signal(int, siginfo_t *, void *); /* entry.S: restores %gs, then calls vmm_on_signal */
void vmm_fault(int sig, siginfo_t *si, void *context);

/* The filter: a list of alternatives, each "system call nr and these argument tests", allowed when one
 * holds; everything else is trapped (SECCOMP_RET_TRAP). Docs/in-place-vmm.md lists them and says why. */
static struct sock_filter filter[192] PER_PROCESS;
static unsigned short filter_length PER_PROCESS, pending[8] PER_PROCESS, npending PER_PROCESS;

static void emit(struct sock_filter f)
{
    if (filter_length == sizeof filter / sizeof filter[0])
        vmm_exit(VMM_EXIT_INTERNAL, "internal error: the seccomp filter is longer than %u instructions\n", filter_length);
    filter[filter_length++] = f;
}

/* Loads the low 32 bits of argument `arg` (an i386 process's arguments have no high bits). */
static void load_arg(unsigned arg) { emit((struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[arg]))); }

/* A test whose failure jumps to the end of the current alternative (patched by allow()). */
static void test(unsigned short code, u32 k, int fail_if_true)
{
    pending[npending++] = filter_length;
    emit((struct sock_filter)BPF_JUMP(BPF_JMP | code | BPF_K, k, fail_if_true ? 1 : 0, fail_if_true ? 0 : 1));
}

static void begin(int nr)
{
    npending = 0;
    emit((struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)));
    test(BPF_JEQ, (u32)nr, 0);
}

static void arg_equals(unsigned arg, u32 value) { load_arg(arg); test(BPF_JEQ, value, 0); }
static void arg_below(unsigned arg, u32 value) { load_arg(arg); test(BPF_JGE, value, 1); }
static void arg_at_most(unsigned arg, u32 value) { load_arg(arg); test(BPF_JGT, value, 1); }
static void arg_at_least(unsigned arg, u32 value) { load_arg(arg); test(BPF_JGE, value, 0); }

/* Argument `arg` is one of `values` (n >= 1): a match skips the rest of the list, the last one fails. */
static void arg_in(unsigned arg, const u32 *values, unsigned n)
{
    unsigned i;
    load_arg(arg);
    for (i = 0; i + 1 < n; i++)
        emit((struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, values[i], (unsigned char)(n - 1 - i), 0));
    test(BPF_JEQ, values[n - 1], 0);
}

static void allow(void)
{
    unsigned i;
    emit((struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
    for (i = 0; i < npending; i++) {
        struct sock_filter *f = &filter[pending[i]];
        unsigned short distance = (unsigned short)(filter_length - pending[i] - 1); /* to the next alternative */
        if (f->jt)
            f->jt = (unsigned char)distance;
        else
            f->jf = (unsigned char)distance;
    }
}

/* The first test of every filter: a system call of another architecture kills the process. */
static void only_i386(void)
{
    emit((struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)));
    emit((struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_I386, 1, 0));
    emit((struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS));
}

static int install_filter(void)
{
    struct sock_fprog program = {.len = filter_length, .filter = filter};
    return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &program);
}

static void build_filter(void)
{
    int ram, stubs;
    u32 alias;
    memory_descriptors(&ram, &stubs, &alias);
    only_i386();
    /* write: to standard output (the guest's console) and standard error (the VMM's messages) only */
    begin(SYS_write); arg_equals(0, 1); allow();
    begin(SYS_write); arg_equals(0, 2); allow();
    begin(SYS_exit_group); allow();
    begin(SYS_rt_sigreturn); allow();
    begin(SYS_sigreturn); allow();
    /* mmap2 of one page of guest RAM at a guest address (the MMU's fill) */
    begin(SYS_mmap2); arg_equals(4, (u32)ram); arg_equals(3, MAP_SHARED | MAP_FIXED); arg_equals(1, 0x1000);
    arg_below(0, VMM_REGION_BASE); allow();
    /* mmap2 of guest RAM at its physical addresses (paging off) */
    begin(SYS_mmap2); arg_equals(4, (u32)ram); arg_equals(3, MAP_SHARED | MAP_FIXED); arg_equals(0, GUEST_LOWEST_ADDRESS);
    arg_equals(5, GUEST_LOWEST_ADDRESS >> 12); arg_at_most(1, VMM_MAX_RAM_MIB << 20); allow();
    /* mmap2 of the stubs' alias, read and execute only, where it was first put */
    if (alias) {
        begin(SYS_mmap2); arg_equals(4, (u32)stubs); arg_equals(3, MAP_SHARED | MAP_FIXED); arg_equals(0, alias);
        arg_equals(1, VMM_STUB_SIZE); arg_equals(2, PROT_READ | PROT_EXEC); arg_equals(5, 0); allow();
    }
    /* the guest's timer (board.c): its own host timer only; the clock; hlt's sleep */
    if (board_timer_id() >= 0) {
        begin(SYS_timer_settime); arg_equals(0, (u32)board_timer_id()); allow();
    }
    begin(SYS_clock_gettime); allow();
#ifdef SYS_clock_gettime64
    begin(SYS_clock_gettime64); allow();
#endif
    begin(SYS_pause); allow();
    /* console input (board.c): read of standard input only; poll (which only waits: the VMM polls fd 0,
     * with a zero timeout at ticks and without one in hlt) */
    begin(SYS_read); arg_equals(0, 0); allow();
    begin(SYS_poll); allow();
    /* guest user mode's TLS segments into the host LDT (modify_ldt writes only DPL-3 code and data) */
    begin(SYS_modify_ldt); arg_equals(0, 0x11); arg_equals(2, 16); allow();
    /* the stubs' alias, dropped when the guest first enters user mode */
    if (alias) {
        begin(SYS_munmap); arg_equals(0, alias); arg_equals(1, VMM_STUB_SIZE); allow();
    }
    /* munmap of every guest mapping (a TLB flush), or of one guest page (invlpg) */
    begin(SYS_munmap); arg_equals(0, 0); arg_equals(1, VMM_REGION_BASE); allow();
    begin(SYS_munmap); arg_equals(0, 0); arg_equals(1, 0xc0000000u); allow();
    begin(SYS_munmap); arg_equals(1, 0x1000); arg_below(0, VMM_REGION_BASE); allow();
    /* the address-space pool (pool.c): wait and wake on the slots' turn words only, no timeout */
    if (pool.slots > 1) {
        u32 words = (u32)(unsigned long)pool_turn;
        begin(SYS_futex); arg_at_least(0, words); arg_below(0, words + sizeof pool_turn); arg_equals(1, FUTEX_WAIT);
        arg_equals(3, 0); allow();
        begin(SYS_futex); arg_at_least(0, words); arg_below(0, words + sizeof pool_turn); arg_equals(1, FUTEX_WAKE); allow();
    }
    emit((struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP));
}

static void on_sigsys(siginfo_t *si, ucontext_t *uc)
{
    greg_t *g = uc->uc_mcontext.gregs;
    u32 after = (u32)(unsigned long)si->si_call_addr, eip = after, esp = (u32)g[REG_ESP], eflags = (u32)g[REG_EFL];
    unsigned char p[2];
    int r;

    if (si->si_code != SYS_USER_DISPATCH)
        vmm_exit(VMM_EXIT_ERROR, "killed: host system call %d at %#x, which the VMM's seccomp filter does not allow "
                 "(the guest tried to reach the host kernel)\n", si->si_syscall, after - 2);
    if (guest_read(after - 2, p, 2) == 0 && p[0] == 0xcd && p[1] == 0x80) {
        r = deliver_from(0x80, 1, 0, 0, &eip, &esp, &eflags);
        if (r == -3) { /* a gate user mode may not use: #GP(0x80 * 8 + 2) at the instruction */
            eip = after - 2;
            r = deliver_from(13, 0, 1, 0x80 * 8 + 2, &eip, &esp, &eflags);
        }
        if (r == 0) {
            context_continue(uc, eip, esp, eflags);
            return;
        }
        vmm_exit(VMM_EXIT_ERROR, "guest fault: int $0x80 at %#x (eax %u): %s; the host system call was stopped\n", after - 2,
                 si->si_syscall, r == -2 ? "the guest's stack cannot take the frame" : "the guest's virtual IDT has no gate for vector 0x80");
    }
    if (guest_read(after - 2, p, 2) == 0 && p[0] == 0x0f && p[1] == 0x05) {
        eip = after - 2; /* syscall: #UD on an i386 CPU, a fault at the instruction */
        if (deliver_from(6, 0, 0, 0, &eip, &esp, &eflags) == 0) {
            context_continue(uc, eip, esp, eflags);
            return;
        }
        vmm_exit(VMM_EXIT_ERROR, "guest fault: #UD at %#x (syscall, eax %u); the host system call was stopped\n", after - 2, si->si_syscall);
    }
    /* sysenter: the host returns to its vDSO, so the guest's address is lost. The kernel takes the user
     * stack from ebp, and the vDSO convention leaves [ebp][edx][ecx][return address] there. */
    {
        u32 ret = 0;
        if (esp > 0xffffffffu - 16 || guest_read(esp + 12, &ret, 4) != 0)
            ret = 0;
        vmm_exit(VMM_EXIT_ERROR, "guest fault: sysenter (eax %u): the host lost its address; the return address on the "
                 "guest's stack (ebp %#x) is %#x; the host system call was stopped\n", si->si_syscall, esp, ret);
    }
}

/* The guest's timer: the 8254's periods become IRQ0 (board.c). When the guest itself was running (not
 * the VMM: the selector said BLOCK and the address is not the VMM's) with its virtual IF set, a pending
 * interrupt is delivered at once; otherwise the VMM handles the tick when it is done (vmm_catch_up) and
 * delivers at the next sti, popf, iret or hlt. */
static void on_timer(unsigned char selector, ucontext_t *uc)
{
    greg_t *g = uc->uc_mcontext.gregs;
    u32 eip = (u32)g[REG_EIP], esp, eflags;
    board_timer_fired();
    if (selector != VMM_SELECTOR_BLOCK || (vcpu.cpl == 0 && (eip - VMM_STUB_BASE < VMM_STUB_SIZE || memory_in_stub_alias(eip)))
        || eip >= VMM_REGION_BASE) {
        vmm_tick_due = 1;
        return;
    }
    board_tick();
    if (!vmm_vif || !vmm_irq_pending)
        return;
    esp = (u32)g[REG_ESP];
    eflags = (u32)g[REG_EFL];
    deliver_pending(&eip, &esp, &eflags);
    context_continue(uc, eip, esp, eflags);
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
    if (tls_close(sig, context)) /* the TLS fence is back first, whatever the signal (tls.c) */
        ;
    else if (sig == SIGSYS)
        on_sigsys(si, context);
    else if (sig == SIGALRM)
        on_alarm(context);
    else if (sig == SIGVTALRM)
        on_timer(selector, context);
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
    static unsigned char alt_stack[65536] PER_PROCESS;
    static const int handled[] = {SIGSYS, SIGSEGV, SIGILL, SIGFPE, SIGTRAP, SIGBUS, SIGALRM, SIGVTALRM};
    stack_t ss = {.ss_sp = alt_stack, .ss_size = sizeof alt_stack};
    struct sigaction sa;
    sigset_t unblock;
    unsigned i;

    asm volatile("movw %%gs, %0" : "=m"(vmm_gs));
    asm volatile("movw %%cs, %0" : "=m"(vmm_cs));
    asm volatile("movw %%ds, %0" : "=m"(vmm_ds));
    usermode_init();
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

    timeout = timeout_seconds; /* the supervisor's alarm (pool.c) sends SIGALRM to the running slot */

    /* Syscall User Dispatch: the VMM's text may always make system calls (the signal return path is
     * there); elsewhere the selector decides. Without it (Linux < 5.11) the seccomp filter still holds. */
    if (prctl(PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_ON, (unsigned long)__executable_start,
              (unsigned long)(etext - __executable_start), &vmm_selector) != 0 && errno != EINVAL)
        fail("prctl(PR_SET_SYSCALL_USER_DISPATCH)");
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        fail("prctl(PR_SET_NO_NEW_PRIVS)");
    build_filter();
    if (install_filter() != 0)
        fail("seccomp");
}

/* The supervisor's filter (Docs/in-place-vmm.md lists it): built after the fork, with the slots' pids
 * and its own as constants. Returns 0, or -1 with errno set (the caller ends the run). */
int contain_supervisor(const int *slot_pids, unsigned count)
{
    static const u32 to_slots[] = {SIGKILL, SIGALRM}, to_itself[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
    u32 pids[POOL_MAX_SLOTS];
    unsigned i;

    if (count == 0 || count > POOL_MAX_SLOTS) {
        errno = EINVAL;
        return -1;
    }
    for (i = 0; i < count; i++)
        pids[i] = (u32)slot_pids[i];
    filter_length = 0;
    only_i386();
    begin(SYS_write); arg_equals(0, 2); allow(); /* its messages */
    begin(SYS_exit_group); allow();
    begin(SYS_sigreturn); allow(); /* return from its handlers (no SA_SIGINFO: glibc's restorer is sigreturn) */
    /* waiting: it can only wait for its own children, the slots. waitid looks at the first to end
     * without reaping it (P_ALL, WEXITED | WNOWAIT, no rusage); waitpid (glibc: wait4, no options, no
     * rusage) reaps them. */
    begin(SYS_waitid); arg_equals(0, P_ALL); arg_equals(3, WEXITED | WNOWAIT); arg_equals(4, 0); allow();
    begin(SYS_wait4); arg_equals(2, 0); arg_equals(3, 0); allow();
    /* kill: SIGKILL or SIGALRM (--timeout) to a slot; a stop signal to itself, to die of it */
    begin(SYS_kill); arg_in(0, pids, count); arg_in(1, to_slots, 2); allow();
    begin(SYS_kill); arg_equals(0, (u32)getpid()); arg_in(1, to_itself, 4); allow();
    /* --timeout: its real-time interval timer, armed again for the 2 s grace */
    begin(SYS_setitimer); arg_equals(0, ITIMER_REAL); arg_equals(2, 0); allow();
    emit((struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS));
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return -1;
    return install_filter();
}
