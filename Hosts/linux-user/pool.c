/* pool.c: one host process per guest address space (a software ASID).
 *
 * A host process has one set of page tables, so a VMM that is one process must swap the user pages two
 * guest processes use at the same addresses on every context switch (mmu.c's flush_local). The pool is
 * --address-spaces N host processes (slots), forked before the guest is contained; each holds the host
 * mappings of one guest address space (a CR3 value). Everything else the VMM knows is common: pool_start
 * remaps the VMM's .data and .bss MAP_SHARED from a memfd before it forks, so the virtual CPU, the device
 * models, interrupt state, console buffer, sites and this file's bookkeeping are one copy that every
 * slot reads and writes. What each process keeps for itself is marked PER_PROCESS (host.h, vmm.ld): the
 * host pages it has mapped, its stacks, its timer, its LDT cache and its dispatch selector.
 *
 * Exactly one slot runs at a time. A guest CR3 write to an address space another slot holds (or, when
 * no slot holds it, the least recently used one, whose user range is then dropped) is finished by the
 * emulator in the running slot; at the end of the site (vcpu_emulate) the slot copies the guest's
 * registers (the emulator's frame) and its x87/SSE state into shared memory, sets the next slot's futex
 * word and wakes it, then sleeps on its own. The woken slot restores that state into its own frame,
 * brings its host mappings up to date (mmu_switch_in: kernel pages another slot invalidated, and every
 * user page it kept checked against the guest's current page tables, as a CR3 write requires), makes its
 * own host timer follow the PIT, and returns through vmm_entry into the guest. A slot that has never run
 * waits in pool_enter (entry.S) on the same kind of frame.
 *
 * The process that started is the supervisor and runs no guest code: it waits for a slot to end the run
 * and exits with that slot's status (the VMM's statuses, host.h), kills the rest; a slot that dies of a
 * signal ends the run with VMM_EXIT_ERROR; --timeout is its alarm, passed to the running slot as SIGALRM
 * (whose handler names where the guest was). Slots die with the supervisor (PR_SET_PDEATHSIG). Once the
 * slots are forked the supervisor holds no guest memory and is under a seccomp filter of its own
 * (contain.c: contain_supervisor), with the slot pids as constants.
 * SPDX-License-Identifier: MIT
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "host.h"

struct pool pool;
volatile u32 pool_turn[POOL_MAX_SLOTS];
unsigned pool_self PER_PROCESS;
static unsigned requested; /* a slot + 1: the running slot hands over at the end of the site */

extern char __data_start[], vmm_private_begin[], vmm_private_end[];

/* --- the shared state --- */

static int all_zero(const unsigned char *p, u32 n)
{
    const u32 *w = (const u32 *)p;
    u32 i;
    for (i = 0; i < n / 4; i++)
        if (w[i])
            return 0;
    return 1;
}

/* The shared state: .data and .bss, from __data_start's page to the private pages. */
static u32 state_begin(void) { return (u32)(unsigned long)__data_start & ~0xfffu; }
static u32 state_end(void) { return (u32)(unsigned long)vmm_private_begin; }

/* A memfd with the VMM's state as it is now (pages that are all zero left as holes). */
static int snapshot_state(void)
{
    u32 begin = state_begin(), end = state_end(), at;
    int fd = memfd_create("previrt-vmm-state", MFD_CLOEXEC);
    if (fd < 0 || ftruncate(fd, end - begin) != 0)
        vmm_exit(VMM_EXIT_ERROR, "cannot create the VMM's shared state: %s\n", strerror(errno));
    for (at = begin; at < end; at += 0x1000) {
        if (all_zero((const unsigned char *)(unsigned long)at, 0x1000))
            continue;
        if (pwrite(fd, (const void *)(unsigned long)at, 0x1000, (off_t)(at - begin)) != 0x1000)
            vmm_exit(VMM_EXIT_ERROR, "cannot copy the VMM's state: %s\n", strerror(errno));
    }
    return fd;
}

/* In a slot, first thing after fork: its .data and .bss become the shared snapshot. */
static void map_shared_state(int fd)
{
    u32 begin = state_begin(), end = state_end();
    if (mmap((void *)(unsigned long)begin, end - begin, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0)
        != (void *)(unsigned long)begin)
        _exit(VMM_EXIT_ERROR);
    close(fd);
}

/* --- handing the virtual CPU over --- */

static long futex(volatile u32 *word, int op, u32 value)
{
    return syscall(SYS_futex, word, op, value, 0, 0, 0);
}

/* Sleeps until another slot gives this one the CPU. */
static void wait_turn(void)
{
    while (!__atomic_load_n(&pool_turn[pool_self], __ATOMIC_ACQUIRE))
        futex(&pool_turn[pool_self], FUTEX_WAIT, 0);
}

/* The slot holding the address space at `cr3`, or the least recently used other one (its user range is
 * then dropped when it takes over). */
unsigned pool_slot_for(u32 cr3)
{
    unsigned i, best = pool_self == 0 ? 1 : 0;
    for (i = 0; i < pool.slots; i++)
        if (pool.cr3[i] == cr3 && (pool.used[i] || i == pool_self))
            break;
    if (i == pool.slots) {
        for (i = 0; i < pool.slots; i++)
            if (i != pool_self && pool.used[i] < pool.used[best])
                best = i;
        i = best;
        pool.cr3[i] = cr3;
        pool.stale[i] = 1;
        pool.evictions++;
    }
    pool.used[i] = ++pool.clock;
    return i;
}

void pool_holds(u32 cr3)
{
    pool.cr3[pool_self] = cr3;
    pool.used[pool_self] = ++pool.clock;
}

void pool_request(unsigned slot) { requested = slot + 1; }

/* The slot takes over the virtual CPU: the frame and FPU the last slot left, its host mappings brought
 * up to date, its timer following the PIT. */
static void take_over(void *frame, int first)
{
    asm volatile("fxrstor %0" : : "m"(pool.fpu));
    memcpy(frame, pool.frame, sizeof pool.frame);
    mmu_switch_in(first ? MMU_SWITCH_FIRST : pool.stale[pool_self] ? MMU_SWITCH_OTHER : MMU_SWITCH_OWN);
    pool.stale[pool_self] = 0;
    board_follow_timer();
    vmm_catch_up();
    if (vmm_resume_user)
        usermode_enter();
}

/* At the end of an emulated site (vcpu_emulate): if a CR3 write asked for another slot, hand over. */
void pool_switch_if_requested(void *frame)
{
    unsigned to;
    if (!requested)
        return;
    to = requested - 1;
    requested = 0;
    memcpy(pool.frame, frame, sizeof pool.frame);
    asm volatile("fxsave %0" : "=m"(pool.fpu));
    pool.switches++;
    __atomic_store_n(&pool_turn[pool_self], 0, __ATOMIC_RELAXED);
    pool.running = to;
    __atomic_store_n(&pool_turn[to], 1, __ATOMIC_RELEASE);
    futex(&pool_turn[to], FUTEX_WAKE, 1);
    wait_turn();
    take_over(frame, 0);
}

/* pool_enter (entry.S): a slot's first turn, on a frame of its own stack. */
void pool_first_turn(void *frame)
{
    wait_turn();
    take_over(frame, 1);
}

/* --- the supervisor --- */

/* The supervisor's own state is private: it never maps the shared state (a guest that took over a slot
 * could write anything there), only a read-only view of the page that says which slot runs; before it
 * reads that, it drops its mappings of guest memory and puts itself under its own seccomp filter
 * (contain_supervisor), with the slot pids in the program.
 *
 * The run ends once, by whichever comes first: a slot ends (the main loop), a stop signal or the
 * timeout's second alarm (their handlers, so that a signal that arrives just before the wait is not
 * left waiting with it). `ending` says one of them has begun; the others then leave it alone. No slot is
 * reaped before that (the main loop only looks, WNOWAIT), so a pid the supervisor signals is always its
 * own child, alive or a zombie, never a reused pid. */
static volatile sig_atomic_t alarm_count, stop_signal, ending;
static pid_t slot_pid[POOL_MAX_SLOTS], supervisor_pid;
static unsigned slot_count;
static const volatile unsigned *running_view;
static char timeout_message[96];

static void say(const char *text) { (void)!write(2, text, strlen(text)); }

/* Every slot is killed (one that already ended is a zombie: no harm) and reaped. */
static void kill_slots(void)
{
    unsigned i;
    for (i = 0; i < slot_count; i++)
        kill(slot_pid[i], SIGKILL);
    for (i = 0; i < slot_count; i++)
        while (waitpid(slot_pid[i], 0, 0) < 0 && errno == EINTR)
            ;
}

static void arm_alarm(double seconds)
{
    struct itimerval it = {{0, 0}, {(long)seconds, (long)((seconds - (long)seconds) * 1e6)}};
    if (it.it_value.tv_sec == 0 && it.it_value.tv_usec == 0)
        it.it_value.tv_usec = 1;
    setitimer(ITIMER_REAL, &it, 0);
}

/* --timeout: the running slot says where the guest was and exits 124; if it has not within 2 s, the
 * supervisor ends the run itself. */
static void on_supervisor_alarm(int sig)
{
    int saved = errno;
    unsigned running;
    (void)sig;
    if (!ending && ++alarm_count == 1) {
        running = running_view ? *running_view : 0;
        kill(slot_pid[running < slot_count ? running : 0], SIGALRM);
        arm_alarm(2);
    } else if (!ending) {
        ending = 1;
        kill_slots();
        say(timeout_message);
        _exit(VMM_EXIT_TIMEOUT);
    }
    errno = saved;
}

/* SIGINT, SIGTERM, SIGHUP, SIGQUIT: the slots go, and the supervisor dies of the signal, as the VMM did
 * when it was one process. The handler is SA_RESETHAND | SA_NODEFER: the action is the default again
 * and the signal is not blocked, so sending it to itself ends the process there (no sigaction, no
 * sigprocmask). If the run is already ending, the main loop does the same once the slots are gone. */
static void on_supervisor_stop(int sig)
{
    if (ending) {
        stop_signal = sig;
        return;
    }
    ending = 1;
    kill_slots();
    kill(supervisor_pid, sig);
    _exit(128 + sig);
}

/* Test-only (Tests/PrevirtTests/SupervisorContainmentTests.swift): PREVIRT_TEST_SUPERVISOR_CALL="NR A B"
 * makes the supervisor, once its filter is in place, make system call NR with arguments A and B (decimal;
 * "slot" stands for slot 0's pid, "self" for its own), as a guest that took it over might: the only way
 * to show from outside that the filter stops what the supervisor itself never does. The variable is read
 * before the filter, from the environment of whoever started the VMM (who can run anything already). */
static int test_call(long call[3])
{
    const char *text = getenv("PREVIRT_TEST_SUPERVISOR_CALL");
    char *end;
    unsigned i;
    if (!text)
        return 0;
    for (i = 0; i < 3; i++) {
        while (*text == ' ')
            text++;
        if (strncmp(text, "slot", 4) == 0) {
            call[i] = slot_pid[0];
            end = (char *)text + 4;
        } else if (strncmp(text, "self", 4) == 0) {
            call[i] = supervisor_pid;
            end = (char *)text + 4;
        } else {
            call[i] = strtol(text, &end, 10);
            if (end == text)
                return 0;
        }
        text = end;
    }
    return 1;
}

static void __attribute__((noreturn)) supervise(double timeout)
{
    static const int stops[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
    struct sigaction sa;
    sigset_t unblock;
    siginfo_t ended;
    char text[256];
    unsigned i;
    int probe;
    long call[3];

    supervisor_pid = getpid();
    snprintf(timeout_message, sizeof timeout_message, "previrt run: timed out after %g seconds (--timeout)\n", timeout);
    /* No handler interrupts another; no SA_RESTART: the wait returns EINTR. */
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGALRM);
    for (i = 0; i < sizeof stops / sizeof stops[0]; i++)
        sigaddset(&sa.sa_mask, stops[i]);
    sa.sa_handler = on_supervisor_alarm;
    sigaction(SIGALRM, &sa, 0);
    sa.sa_handler = on_supervisor_stop;
    sa.sa_flags = SA_RESETHAND | SA_NODEFER; /* SA_NODEFER: the signal itself is not blocked in its handler */
    for (i = 0; i < sizeof stops / sizeof stops[0]; i++) {
        sigdelset(&sa.sa_mask, stops[i]);
        sigaction(stops[i], &sa, 0);
        sigaddset(&sa.sa_mask, stops[i]);
    }
    /* The parent may have left signals blocked (the slots unblock theirs in contain_guest). */
    sigemptyset(&unblock);
    sigprocmask(SIG_SETMASK, &unblock, 0);
    if (timeout > 0)
        arm_alarm(timeout);
    probe = test_call(call);
    if (contain_supervisor(slot_pid, slot_count) != 0) {
        snprintf(text, sizeof text, "previrt run: cannot contain the VMM's supervisor: seccomp: %s\n", strerror(errno));
        ending = 1;
        kill_slots();
        say(text);
        _exit(VMM_EXIT_ERROR);
    }
    if (probe)
        syscall(call[0], call[1], call[2], 0L, 0L);
    for (;;) {
        memset(&ended, 0, sizeof ended);
        if (waitid(P_ALL, 0, &ended, WEXITED | WNOWAIT) != 0) {
            if (errno == EINTR)
                continue;
            _exit(VMM_EXIT_INTERNAL);
        }
        for (i = 0; i < slot_count && slot_pid[i] != ended.si_pid; i++)
            ;
        if (i == slot_count) { /* not a slot (the VMM starts no other process): reaped, ignored */
            waitpid(ended.si_pid, 0, 0);
            continue;
        }
        ending = 1;
        kill_slots();
        if (stop_signal) /* it came while the slots were going */
            kill(supervisor_pid, stop_signal);
        if (ended.si_code == CLD_EXITED)
            _exit(ended.si_status);
        snprintf(text, sizeof text, "previrt run: the VMM's process for address-space slot %u (pid %d) was killed by signal %d (%s); "
                 "the run is stopped\n", i, (int)ended.si_pid, ended.si_status, strsignal(ended.si_status));
        say(text);
        _exit(VMM_EXIT_ERROR);
    }
}

/* --- start --- */

void pool_start(unsigned slots, double timeout)
{
    pid_t supervisor = getpid(), pid;
    unsigned i;
    u32 running_offset = (u32)(unsigned long)&pool.running - state_begin();
    int fd;
    void *view;

    pool.slots = slots;
    pool_turn[0] = 1;
    pool.running = 0;
    host_flush();
    fd = snapshot_state();
    for (i = 0; i < slots; i++) {
        pid = fork();
        if (pid < 0) {
            kill_slots();
            vmm_exit(VMM_EXIT_ERROR, "cannot start the address-space pool (%u processes): %s\n", slots, strerror(errno));
        }
        if (pid == 0) {
            map_shared_state(fd);
            pool_self = i;
            if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != supervisor)
                _exit(VMM_EXIT_ERROR);
            board_timer_create();
            contain_guest(timeout);
            if (i == 0)
                return;
            pool_enter(); /* never returns */
        }
        slot_pid[slot_count++] = pid;
    }
    /* The supervisor reads no guest memory: guest RAM (the window and any mapping at guest addresses)
     * and the stubs, which a guest can write, are not mapped in it at all. */
    munmap(0, VMM_REGION_BASE);
    munmap((void *)(unsigned long)VMM_RAM_WINDOW, guest_ram_size);
    munmap((void *)(unsigned long)VMM_STUB_BASE, VMM_STUB_SIZE);
    view = mmap(0, 0x1000, PROT_READ, MAP_SHARED, fd, (off_t)(running_offset & ~0xfffu));
    if (view != MAP_FAILED)
        running_view = (const volatile unsigned *)((char *)view + (running_offset & 0xfffu));
    close(fd);
    supervise(timeout);
}
