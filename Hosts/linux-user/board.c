/* board.c: the guest's interrupt sources, as the rest of the VMM sees them: the ports of the 8259A
 * pair (0x20/0x21, 0xa0/0xa1) and of the 8254's channel 0 (0x40, 0x43), the host timer that stands for
 * the 8254's clock, and the question "which vector is pending?".
 *
 * The two device models here are STAND-INS, just enough for Linux's i8259 and i8253 drivers (ICW1-4,
 * the masks, non-specific and specific EOI, IRR/ISR reads; channel 0 in modes 0, 2 and 3 with its
 * count readable through a latch). The full 8259A, 8254 and 8250 models (Hosts/linux-user/devices/)
 * replace them: only this file changes.
 *
 * The host timer is a POSIX timer on CLOCK_MONOTONIC whose signal (SIGVTALRM) runs board_tick: the
 * 8254's count is worked out from the clock, each period that has passed raises IRQ0, and the signal
 * handler (contain.c) delivers the interrupt at once when the guest runs with its virtual IF set;
 * otherwise it waits for the next sti, popf, iret or hlt (emulate.c).
 * SPDX-License-Identifier: MIT
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "host.h"

#define PIT_HZ 1193182ull
#define MIN_PERIOD_NS 100000ull

/* --- the 8259A pair (stand-in) --- */

struct pic {
    unsigned char irr, isr, imr, base, init_step, icw4_needed, read_isr;
};
static struct pic pics[2]; /* master, slave */

static void update_pending(void);

/* The highest-priority request not masked and not below one in service: its IR line, or -1. */
static int pic_highest(const struct pic *p, unsigned char extra_irr)
{
    unsigned char request = (unsigned char)((p->irr | extra_irr) & ~p->imr);
    int i;
    for (i = 0; i < 8; i++) {
        if (p->isr & (1u << i))
            return -1; /* fully nested: nothing below an in-service line */
        if (request & (1u << i))
            return i;
    }
    return -1;
}

static int slave_requests(void) { return pic_highest(&pics[1], 0) >= 0; }

int board_pending(void) { return pic_highest(&pics[0], slave_requests() ? 4 : 0) >= 0; }

/* vmm_irq_pending mirrors board_pending() for the stubs of sti and popf (sites.c), which take the
 * emulator's path, where the interrupt is delivered, only while an interrupt is pending. */
volatile u32 vmm_irq_pending;
extern void *vmm_sti_next, *vmm_popf_next;
extern unsigned char *vmm_sti_fast, *vmm_popf_fast;
extern void vmm_entry(void);

static void update_pending(void)
{
    vmm_irq_pending = (u32)board_pending();
    vmm_sti_next = vmm_irq_pending ? (void *)vmm_entry : (void *)vmm_sti_fast;
    vmm_popf_next = vmm_irq_pending ? (void *)vmm_entry : (void *)vmm_popf_fast;
}

int board_acknowledge(void)
{
    int line = pic_highest(&pics[0], slave_requests() ? 4 : 0), s;
    if (line < 0)
        return -1;
    if (line == 2) {
        s = pic_highest(&pics[1], 0);
        pics[0].isr |= 4;
        pics[0].irr &= ~4u;
        pics[1].isr |= (unsigned char)(1u << s);
        pics[1].irr &= (unsigned char)~(1u << s);
        update_pending();
        return pics[1].base + s;
    }
    pics[0].isr |= (unsigned char)(1u << line);
    pics[0].irr &= (unsigned char)~(1u << line);
    update_pending();
    return pics[0].base + line;
}

void board_raise(unsigned irq)
{
    if (irq < 8)
        pics[0].irr |= (unsigned char)(1u << irq);
    else if (irq < 16)
        pics[1].irr |= (unsigned char)(1u << (irq - 8));
    update_pending();
}

static unsigned char pic_read(struct pic *p, int data)
{
    if (data)
        return p->imr;
    return p->read_isr ? p->isr : p->irr;
}

static void pic_write(struct pic *p, int data, unsigned char v)
{
    int i;
    if (!data && (v & 0x10)) { /* ICW1 */
        p->init_step = 2;
        p->icw4_needed = v & 1;
        p->imr = p->isr = p->irr = 0;
        p->read_isr = 0;
        return;
    }
    if (data && p->init_step) {
        if (p->init_step == 2) {
            p->base = v & 0xf8;
            p->init_step = 3;
        } else if (p->init_step == 3) {
            p->init_step = p->icw4_needed ? 4 : 0;
        } else {
            p->init_step = 0;
        }
        return;
    }
    if (data) {
        p->imr = v;
        return;
    }
    if ((v & 0x18) == 0x08) { /* OCW3 */
        if (v & 2)
            p->read_isr = v & 1;
        return;
    }
    if ((v & 0xe0) == 0x20) { /* non-specific EOI: the highest in service */
        for (i = 0; i < 8; i++)
            if (p->isr & (1u << i)) {
                p->isr &= (unsigned char)~(1u << i);
                break;
            }
    } else if ((v & 0xe0) == 0x60) { /* specific EOI */
        p->isr &= (unsigned char)~(1u << (v & 7));
    }
}

/* --- the 8254's channel 0 (stand-in) --- */

static struct {
    unsigned char mode, access, write_high, read_high, latched_valid;
    unsigned short latched;
    u32 reload;          /* 1-65536 */
    u64 start_ns;        /* when the count was loaded */
    u64 periods_raised;  /* IRQ0 edges raised since start_ns */
    int running;
} pit;

static int host_timer = -1; /* the kernel's timer id (raw system calls: seccomp allows this one) */

static u64 now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (u64)t.tv_sec * 1000000000ull + (u64)t.tv_nsec;
}

static u64 ticks_since_start(u64 now) { return now > pit.start_ns ? (now - pit.start_ns) * PIT_HZ / 1000000000ull : 0; }

static unsigned short pit_count(u64 now)
{
    u64 ticks = ticks_since_start(now);
    if (!pit.running)
        return 0;
    if (pit.mode == 0)
        return ticks >= pit.reload ? (unsigned short)(0x10000 - (ticks - pit.reload) % 0x10000) : (unsigned short)(pit.reload - ticks);
    return (unsigned short)(pit.reload - ticks % pit.reload);
}

/* (Re)arms the host timer for channel 0's period (modes 2, 3) or its one expiry (mode 0). */
static void arm_host_timer(void)
{
    struct itimerspec it;
    u64 period = (u64)pit.reload * 1000000000ull / PIT_HZ;
    if (period < MIN_PERIOD_NS)
        period = MIN_PERIOD_NS; /* the host signals at most 10,000 times a second; IRQ0 counts periods from the clock */
    if (host_timer < 0)
        return;
    memset(&it, 0, sizeof it);
    if (pit.running) {
        it.it_value.tv_sec = (time_t)(period / 1000000000ull);
        it.it_value.tv_nsec = (long)(period % 1000000000ull);
        if (!it.it_value.tv_sec && !it.it_value.tv_nsec)
            it.it_value.tv_nsec = 1;
        if (pit.mode != 0)
            it.it_interval = it.it_value;
    }
    syscall(SYS_timer_settime, host_timer, 0, &it, 0);
}

static void pit_load(void)
{
    pit.start_ns = now_ns();
    pit.periods_raised = 0;
    pit.running = 1;
    arm_host_timer();
}

void board_tick(void)
{
    u64 ticks, periods;
    if (!pit.running)
        return;
    ticks = ticks_since_start(now_ns());
    if (pit.mode == 0) {
        if (ticks >= pit.reload && pit.periods_raised == 0) {
            pit.periods_raised = 1;
            board_raise(0);
        }
        return;
    }
    periods = ticks / pit.reload;
    if (periods > pit.periods_raised) {
        pit.periods_raised = periods; /* an edge-triggered line: missed periods are one request */
        board_raise(0);
    }
}

static unsigned char pit_read_port(unsigned port)
{
    unsigned short count;
    if (port != 0x40)
        return 0xff;
    count = pit.latched_valid ? pit.latched : pit_count(now_ns());
    if (pit.access == 1 || (pit.access == 3 && !pit.read_high)) {
        if (pit.access == 3)
            pit.read_high = 1;
        else
            pit.latched_valid = 0;
        return (unsigned char)count;
    }
    pit.read_high = 0;
    pit.latched_valid = 0;
    return (unsigned char)(count >> 8);
}

static void pit_write_port(unsigned port, unsigned char v)
{
    if (port == 0x43) {
        if ((v >> 6) != 0)
            return; /* channels 1 and 2 are not modelled */
        if (((v >> 4) & 3) == 0) { /* counter latch */
            pit.latched = pit_count(now_ns());
            pit.latched_valid = 1;
            pit.read_high = 0;
            return;
        }
        pit.access = (v >> 4) & 3;
        pit.mode = (v >> 1) & 7;
        if (pit.mode > 5)
            pit.mode -= 4;
        pit.write_high = pit.read_high = 0;
        pit.running = 0;
        arm_host_timer();
        return;
    }
    if (port != 0x40)
        return;
    if (pit.access == 1 || (pit.access == 3 && !pit.write_high)) {
        pit.reload = (pit.reload & 0xff00) | v;
        if (pit.access == 3) {
            pit.write_high = 1;
            return;
        }
    } else {
        pit.reload = (pit.reload & 0xff) | (u32)v << 8;
        pit.write_high = 0;
    }
    pit.reload &= 0xffff;
    if (pit.reload == 0)
        pit.reload = 0x10000;
    pit_load();
}

/* --- the ports --- */

int board_port_in(unsigned port, u32 *value)
{
    if (port == 0x20 || port == 0x21 || port == 0xa0 || port == 0xa1) {
        *value = pic_read(&pics[port >= 0xa0], port & 1);
        return 1;
    }
    if (port >= 0x40 && port <= 0x43) {
        *value = pit_read_port(port);
        return 1;
    }
    return 0;
}

int board_port_out(unsigned port, u32 value)
{
    if (port == 0x20 || port == 0x21 || port == 0xa0 || port == 0xa1) {
        pic_write(&pics[port >= 0xa0], port & 1, (unsigned char)value);
        update_pending();
        return 1;
    }
    if (port >= 0x40 && port <= 0x43) {
        pit_write_port(port, (unsigned char)value);
        return 1;
    }
    return 0;
}

/* The host timer, created before the seccomp filter (timer_settime of this one timer is allowed). */
int board_timer_id(void) { return host_timer; }

void board_init(void)
{
    struct sigevent ev;
    memset(&ev, 0, sizeof ev);
    ev.sigev_notify = SIGEV_SIGNAL;
    ev.sigev_signo = SIGVTALRM;
    if (syscall(SYS_timer_create, CLOCK_MONOTONIC, &ev, &host_timer) != 0)
        vmm_exit(VMM_EXIT_ERROR, "cannot create the host timer: %s\n", strerror(errno));
    pics[0].imr = pics[1].imr = 0xff;
    update_pending();
}
