/* board.c: the guest's PC board as the rest of the VMM sees it. It owns the three device models
 * (devices/: the 8259A pair, the 8254 PIT with port 0x61, the 16550A UART on COM1, the CMOS clock), dispatches the
 * guest's port I/O to them, turns the host timer's signal into IRQ0 edges, feeds standard input to the
 * UART's receiver, and answers "which vector is pending?".
 *
 * Time: the PIT computes everything from CLOCK_MONOTONIC. A POSIX timer (SIGVTALRM, armed with an
 * absolute time) fires when channel 0's output next rises (pit_next_irq0_ns); board_tick collects the
 * edges that passed (pit_irq0_edges) before it arms the next one. The 8259A is edge-triggered, so
 * edges that come while IRQ0 is still requested would collapse into one; the board keeps a count of
 * the edges it still owes and pulses IRQ0 again as soon as the request has been acknowledged, so no
 * jiffy is lost (as KVM's PIT re-injection does).
 *
 * Console input: standard input (fd 0) is polled with a zero timeout and read only when it has data,
 * at every tick and when the guest halts (hlt sleeps in poll on fd 0 until input or the timer's
 * signal). fd 0 is not switched to O_NONBLOCK: that flag belongs to the open file description, which
 * the parent (a shell's terminal) shares.
 * SPDX-License-Identifier: MIT
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "host.h"
#include "devices/pic8259.h"
#include "devices/pit8253.h"
#include "devices/rtc146818.h"
#include "devices/uart8250.h"

#define MIN_TIMER_NS 100000ull /* the host timer fires at most 10,000 times a second */
#define MAX_OWED 100000ull     /* IRQ0 edges owed beyond this are dropped (a guest stopped for minutes) */

static struct pic8259 pic;
static struct pit8253 pit;
static struct uart8250 uart;
static struct rtc146818 rtc;
/* Each process of the address-space pool (pool.c) has its own host timer (timers are not inherited by
 * fork): the running slot's follows the PIT (next_edge); a slot that takes over re-arms its own only if
 * it is not already armed for that edge (board_follow_timer). A slot's timer that fires while it waits
 * for its turn only leaves a tick for the running slot to catch up (vmm_tick_due). */
static int host_timer PER_PROCESS;    /* the kernel's timer id (raw system calls: seccomp allows this one) */
static int timer_created PER_PROCESS;
static u64 armed_for PER_PROCESS;     /* the absolute time this process's timer is armed for, or 0 */
static u64 next_edge;                 /* the time the running slot armed its timer for (PIT_NEVER: none) */
static u64 irq0_owed;         /* IRQ0 edges the PIT produced and the 8259 has not been given yet */
static int input_closed;      /* standard input reached its end (or is not open) */

static u64 now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (u64)t.tv_sec * 1000000000ull + (u64)t.tv_nsec;
}

static u64 wall_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return t.tv_sec > 0 ? (u64)t.tv_sec : 0;
}

/* vmm_irq_pending mirrors board_pending() for the stubs of sti and popf (sites.c), which take the
 * emulator's path, where the interrupt is delivered, only while an interrupt is pending. */
volatile u32 vmm_irq_pending;
extern void *vmm_sti_next, *vmm_popf_next;
extern unsigned char *vmm_sti_fast, *vmm_popf_fast;
extern void vmm_entry(void);

static void update_pending(void)
{
    vmm_irq_pending = pic_pending(&pic) >= 0;
    vmm_sti_next = vmm_irq_pending ? (void *)vmm_entry : (void *)vmm_sti_fast;
    vmm_popf_next = vmm_irq_pending ? (void *)vmm_entry : (void *)vmm_popf_fast;
}

int board_pending(void) { return pic_pending(&pic) >= 0; }

/* One owed IRQ0 edge goes to the 8259 if its request for IRQ0 is free (else it waits for the INTA). */
static void pay_irq0(void)
{
    if (irq0_owed && !(pic.master.irr & 1)) {
        irq0_owed--;
        pic_pulse(&pic, 0);
    }
}

int board_acknowledge(void)
{
    int vector;
    if (pic_pending(&pic) < 0)
        return -1;
    vector = pic_acknowledge(&pic);
    pay_irq0(); /* if that was IRQ0, its request is free again for an owed edge */
    update_pending();
    return vector;
}

/* --- the host timer --- */

/* Arms the host timer for channel 0's next rising edge (absolute CLOCK_MONOTONIC), or disarms it. */
static void set_host_timer(u64 next, u64 now)
{
    struct itimerspec it;
    if (!timer_created)
        return;
    memset(&it, 0, sizeof it);
    if (next != PIT_NEVER) {
        if (next < now + MIN_TIMER_NS)
            next = now + MIN_TIMER_NS;
        it.it_value.tv_sec = (time_t)(next / 1000000000ull);
        it.it_value.tv_nsec = (long)(next % 1000000000ull);
    }
    syscall(SYS_timer_settime, host_timer, TIMER_ABSTIME, &it, 0);
    armed_for = next == PIT_NEVER ? 0 : next;
    next_edge = next;
}

static void arm_host_timer(u64 now) { set_host_timer(pit_next_irq0_ns(&pit, now), now); }

void board_follow_timer(void)
{
    if (timer_created && armed_for != (next_edge == PIT_NEVER ? 0 : next_edge))
        set_host_timer(next_edge, now_ns());
}

void board_timer_fired(void) { armed_for = 0; }

/* Standard input to the UART's receiver, as much as it has room for, without blocking. */
static void poll_input(void)
{
    unsigned char buf[UART_FIFO_SIZE];
    unsigned room = uart_rx_room(&uart), i;
    struct pollfd p = {.fd = 0, .events = POLLIN};
    long n;
    if (input_closed || room == 0)
        return;
    if (syscall(SYS_poll, &p, 1, 0) != 1)
        return;
    if (!(p.revents & POLLIN)) {
        if (p.revents & (POLLHUP | POLLNVAL | POLLERR))
            input_closed = 1;
        return;
    }
    n = syscall(SYS_read, 0, buf, room);
    if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
        input_closed = 1;
    for (i = 0; n > 0 && i < (unsigned)n; i++)
        uart_receive(&uart, buf[i]);
    update_pending();
}

void board_tick(void)
{
    u64 now = now_ns(), edges = pit_irq0_edges(&pit, now);
    irq0_owed += edges;
    if (irq0_owed > MAX_OWED)
        irq0_owed = MAX_OWED;
    pay_irq0();
    poll_input();
    arm_host_timer(now); /* after pit_irq0_edges, so no edge already past is missed */
    update_pending();
}

void board_sleep(void)
{
    struct pollfd p = {.fd = 0, .events = POLLIN};
    if (vmm_irq_pending)
        return;
    if (input_closed || uart_rx_room(&uart) == 0)
        syscall(SYS_pause);
    else
        syscall(SYS_poll, &p, 1, -1); /* input, or the timer's signal (EINTR) */
}

/* --- the ports --- */

static int uart_has(unsigned port) { return port <= 0xffff && uart_handles_port(&uart, (unsigned short)port); }

/* One byte from a device port; 0xff (a floating ISA bus) from nothing. */
static unsigned char read_byte(unsigned port)
{
    unsigned char v;
    if (pic_handles_port((unsigned short)port))
        v = pic_read(&pic, (unsigned short)port);
    else if (pit_handles_port((unsigned short)port))
        v = pit_read(&pit, (unsigned short)port, now_ns());
    else if (uart_has(port))
        v = uart_read(&uart, (unsigned short)port);
    else if (rtc_handles_port((unsigned short)port))
        return rtc_read(&rtc, (unsigned short)port, wall_seconds());
    else
        return 0xff;
    update_pending();
    return v;
}

static void write_byte(unsigned port, unsigned char v)
{
    if (pic_handles_port((unsigned short)port)) {
        pic_write(&pic, (unsigned short)port, v);
        pay_irq0(); /* ICW1 clears IRR: an owed edge can go in now */
    } else if (pit_handles_port((unsigned short)port)) {
        u64 now = now_ns();
        /* edges before the new programming are collected first, then the timer follows the new count */
        u64 edges = pit_irq0_edges(&pit, now);
            irq0_owed += edges;
        pit_write(&pit, (unsigned short)port, v, now);
        pay_irq0();
        arm_host_timer(now);
    } else if (uart_has(port)) {
        uart_write(&uart, (unsigned short)port, v);
    } else if (rtc_handles_port((unsigned short)port)) {
        rtc_write(&rtc, (unsigned short)port, v);
        return;
    } else {
        return;
    }
    update_pending();
}

/* A device port the board models (each byte of a word or doubleword access: the ISA bus splits them). */
int board_handles(unsigned port)
{
    return port <= 0xffff && (pic_handles_port((unsigned short)port) || pit_handles_port((unsigned short)port) || uart_has(port)
                              || rtc_handles_port((unsigned short)port));
}

int board_port_in(unsigned port, int size, u32 *value)
{
    int i;
    if (!board_handles(port))
        return 0;
    *value = 0;
    for (i = 0; i < size; i++)
        *value |= (u32)read_byte((port + (unsigned)i) & 0xffff) << (8 * i);
    return 1;
}

int board_port_out(unsigned port, int size, u32 value)
{
    int i;
    if (!board_handles(port))
        return 0;
    for (i = 0; i < size; i++)
        write_byte((port + (unsigned)i) & 0xffff, (unsigned char)(value >> (8 * i)));
    return 1;
}

/* --- set-up --- */

static void uart_transmit(void *context, uint8_t byte)
{
    (void)context;
    console_putc(byte);
}

static void uart_irq(void *context, int level)
{
    (void)context;
    pic_set_irq(&pic, UART_COM1_IRQ, level);
}

/* The host timer, created in each slot before the seccomp filter (timer_settime of this one timer is
 * allowed). */
int board_timer_id(void) { return timer_created ? host_timer : -1; }

void board_timer_create(void)
{
    struct sigevent ev;
    memset(&ev, 0, sizeof ev);
    ev.sigev_notify = SIGEV_SIGNAL;
    ev.sigev_signo = SIGVTALRM;
    if (syscall(SYS_timer_create, CLOCK_MONOTONIC, &ev, &host_timer) != 0)
        vmm_exit(VMM_EXIT_ERROR, "cannot create the host timer: %s\n", strerror(errno));
    timer_created = 1;
}

void board_init(void)
{
    pic_init(&pic);
    pit_init(&pit, now_ns());
    uart_init(&uart, UART_COM1, uart_transmit, uart_irq, 0);
    rtc_init(&rtc);
    update_pending();
}
