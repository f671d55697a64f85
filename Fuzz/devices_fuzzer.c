/* libFuzzer harness over the linux-user VMM's device models (Hosts/linux-user/devices): the input is a
 * sequence of 5-byte records, each advancing a nanosecond clock and then doing one thing the VMM or
 * the guest could do: a port read or write on the 8259A pair, the 8254 and port 0x61, or the 16550A;
 * a device's IRQ line; an INTA; a byte from the host's stdin; a timer expiry. Whatever the sequence,
 * the models must not crash, hang or overflow (ASan, UBSan), and what they report must hold:
 * vectors within the programmed bases, a next-IRQ-0 time in the future at which an edge is really
 * found (and none just before), no more IRQ 0 edges than PIT ticks, the UART's IRQ callback in step
 * with its level, a receive FIFO of at most 16.
 *
 * The record format is in Tests/Devices/devices_trace.h; `devices-test --trace FILE` writes Linux's
 * sequences in it (the seeds `make fuzz-devices` uses).
 * SPDX-License-Identifier: MIT
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "pic8259.h"
#include "pit8253.h"
#include "uart8250.h"
#include "devices_trace.h"

struct machine {
    struct pic8259 pic;
    struct pit8253 pit;
    struct uart8250 uart;
    uint64_t now, consumed_tick; /* the PIT tick of the last pit_irq0_edges() */
    int irq4;
    unsigned long sent;
};

static void sink(void *context, uint8_t byte)
{
    struct machine *m = context;
    (void)byte;
    m->sent++;
}

static void irq4(void *context, int level)
{
    struct machine *m = context;
    if (level != 0 && level != 1)
        abort();
    m->irq4 = level;
    pic_set_irq(&m->pic, UART_COM1_IRQ, level);
}

static void check_vector(const struct machine *m, int vector, int may_be_none)
{
    int mb = m->pic.master.vector_base, sb = m->pic.slave.vector_base;
    if (vector < 0 && may_be_none)
        return;
    if (!((vector >= mb && vector < mb + 8) || (vector >= sb && vector < sb + 8)))
        abort();
}

/* The VMM's timer path: flush edges, look at the next one, check nothing comes before it, fire it. */
static void timer(struct machine *m)
{
    uint64_t next, edges;
    edges = pit_irq0_edges(&m->pit, m->now);
    if (edges > pit_tick_at(m->now) - m->consumed_tick)
        abort();
    m->consumed_tick = pit_tick_at(m->now);
    next = pit_next_irq0_ns(&m->pit, m->now);
    if (next == PIT_NEVER)
        return;
    if (next <= m->now)
        abort();
    if (next - m->now > 55000000) /* further than any count allows (65537 ticks: 54.9 ms) */
        abort();
    if (pit_irq0_edges(&m->pit, next - 1) != 0)
        abort();
    edges = pit_irq0_edges(&m->pit, next);
    if (edges < 1 || edges > pit_tick_at(next) - m->consumed_tick)
        abort();
    m->consumed_tick = pit_tick_at(next);
    m->now = next;
    pic_pulse(&m->pic, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct machine m;
    size_t i;
    m.now = 1000000;
    m.irq4 = 0;
    m.sent = 0;
    pic_init(&m.pic);
    pit_init(&m.pit, m.now);
    m.consumed_tick = pit_tick_at(m.now);
    uart_init(&m.uart, UART_COM1, sink, irq4, &m);
    for (i = 0; i + 5 <= size; i += 5) {
        uint8_t op = data[i], arg = data[i + 1], value = data[i + 2];
        uint64_t delta = (uint64_t)(data[i + 3] | data[i + 4] << 8) << (op >> 3);
        uint16_t port = device_trace_ports[arg % DEVICE_TRACE_PORTS];
        if (delta > (1ull << 50)) /* keep the clock far from wrapping: 13 days a step at most */
            delta = 1ull << 50;
        m.now += delta;
        switch (op & 7) {
        case TRACE_READ: /* the guest reads a port */
            if (pic_handles_port(port))
                pic_read(&m.pic, port);
            else if (pit_handles_port(port))
                pit_read(&m.pit, port, m.now);
            else
                uart_read(&m.uart, port);
            break;
        case TRACE_WRITE: /* the guest writes a port */
            if (pic_handles_port(port))
                pic_write(&m.pic, port, value);
            else if (pit_handles_port(port))
                pit_write(&m.pit, port, value, m.now);
            else
                uart_write(&m.uart, port, value);
            break;
        case TRACE_IRQ_LINE: /* a device's line */
            pic_set_irq(&m.pic, arg & 31, value & 1);
            break;
        case TRACE_INTA: /* the VMM delivers an interrupt */
            check_vector(&m, pic_pending(&m.pic), 1);
            if (pic_pending(&m.pic) >= 0 || (value & 1))
                check_vector(&m, pic_acknowledge(&m.pic), 0);
            break;
        case TRACE_RECEIVE: /* a byte from the host */
            if (uart_rx_room(&m.uart) > 16)
                abort();
            uart_receive(&m.uart, value);
            break;
        case TRACE_TIMER: /* a host timer expires */
            timer(&m);
            break;
        case TRACE_PIT_LOOK: { /* the PIT seen from outside */
            uint64_t edges;
            m.now += (uint64_t)value << 10;
            edges = pit_irq0_edges(&m.pit, m.now);
            if (edges > pit_tick_at(m.now) - m.consumed_tick) /* at most one edge a tick */
                abort();
            m.consumed_tick = pit_tick_at(m.now);
            if (pit_output(&m.pit, arg % 3, m.now) > 1)
                abort();
            break;
        }
        default: /* the UART's state as the VMM sees it */
            if (uart_irq_level(&m.uart) != m.irq4)
                abort();
            if (m.uart.rx_count > UART_FIFO_SIZE)
                abort();
            break;
        }
        if (uart_irq_level(&m.uart) != m.irq4)
            abort();
    }
    return 0;
}
