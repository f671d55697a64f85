/* pit8253.c: the 8254 PIT as Linux uses it: channel 0 in mode 2 (the periodic tick,
 * drivers/clocksource/i8253.c) or modes 4 and 0 (one-shot and shutdown), its count read through the
 * counter-latch command (the "pit" clocksource); channel 2 in mode 0 gated by port 0x61 for the TSC
 * calibration (arch/x86/kernel/tsc.c), which polls OUT2 in port 0x61 bit 5 or reads the running
 * count byte by byte. Modes 1, 3 and 5 and the read-back command are there too.
 *
 * Nothing ticks: a channel records the PIT tick at which its count was loaded, and its count and
 * output at any time are computed from the ticks elapsed since (k below), so the model costs nothing
 * between accesses. Counting is binary (BCD is recorded, not applied).
 * SPDX-License-Identifier: MIT
 */
#include "pit8253.h"

#define NS_PER_S 1000000000ull

uint64_t pit_tick_at(uint64_t ns)
{
    return ns / NS_PER_S * PIT_HZ + ns % NS_PER_S * PIT_HZ / NS_PER_S;
}

uint64_t pit_tick_ns(uint64_t tick)
{
    uint64_t q = tick / PIT_HZ, r = tick % PIT_HZ;
    uint64_t part = (r * NS_PER_S + PIT_HZ - 1) / PIT_HZ;
    if (q > (PIT_NEVER - part) / NS_PER_S)
        return PIT_NEVER;
    return q * NS_PER_S + part;
}

/* The tick at now_ns; the clock never goes back, whatever the caller passes. */
static uint64_t tick_now(struct pit8253 *pit, uint64_t now_ns)
{
    uint64_t tick = pit_tick_at(now_ns);
    if (tick < pit->last_tick)
        return pit->last_tick;
    return pit->last_tick = tick;
}

/* Ticks counted since the count was loaded (frozen while the gate or a reprogramming stops it). */
static uint64_t elapsed(const struct pit_channel *c, uint64_t tick)
{
    return c->running ? tick - c->start_tick : c->frozen;
}

static uint16_t count_at(const struct pit_channel *c, uint64_t k)
{
    uint32_t n = c->reload, j;
    switch (c->mode) {
    case 2: /* n, n-1, ..., 1, n, ... */
        return (uint16_t)(n - k % n);
    case 3: /* each half period counts down by two (an odd count: approximately) */
        j = (uint32_t)(k % n);
        if (j >= (n + 1) / 2)
            j -= (n + 1) / 2;
        return (uint16_t)((n & ~1u) - 2 * j);
    default: /* 0, 1, 4, 5: down through 0, then on from 0xffff */
        return (uint16_t)(n - (uint32_t)(k & 0xffff));
    }
}

static int output_at(const struct pit_channel *c, uint64_t k)
{
    uint64_t n = c->reload;
    if (!c->loaded)
        return c->mode != 0; /* mode 0 drives OUT low from the control word on; the others high */
    switch (c->mode) {
    case 0: return k >= n;                         /* low until terminal count, then high */
    case 1: return !c->triggered || k >= n;        /* the same, from a gate trigger */
    case 2: return !c->gate || k % n != n - 1;     /* low for the one tick before each reload */
    case 3: return !c->gate || k % n < (n + 1) / 2; /* high for the first half of each period */
    case 4: return k != n;                         /* low for one tick at terminal count */
    default: return !c->triggered || k != n;       /* 5: the same, from a gate trigger */
    }
}

/* Rising edges of a running channel's output with elapsed ticks in (a, b]. */
static uint64_t rising_edges(const struct pit_channel *c, uint64_t a, uint64_t b)
{
    uint64_t n = c->reload;
    switch (c->mode) {
    case 0: case 1: return a < n && n <= b;
    case 2: case 3: return b / n - a / n;
    default: return a < n + 1 && n + 1 <= b;
    }
}

/* Counts channel 0's rising edges up to `tick`; called before anything changes channel 0. */
static void sync_edges(struct pit8253 *pit, uint64_t tick)
{
    const struct pit_channel *c = &pit->channel[0];
    if (c->running && tick > pit->edges_tick) {
        uint64_t from = pit->edges_tick > c->start_tick ? pit->edges_tick - c->start_tick : 0;
        uint64_t more = rising_edges(c, from, tick - c->start_tick);
        pit->edges = pit->edges + more < pit->edges ? PIT_NEVER : pit->edges + more;
    }
    if (tick > pit->edges_tick)
        pit->edges_tick = tick;
}

static void stop(struct pit_channel *c, uint64_t tick)
{
    c->frozen = elapsed(c, tick);
    c->running = 0;
}

static void start(struct pit_channel *c, uint64_t tick, uint64_t already)
{
    c->start_tick = tick - already;
    c->running = 1;
}

void pit_init(struct pit8253 *pit, uint64_t now_ns)
{
    unsigned int i;
    for (i = 0; i < 3; i++) {
        struct pit_channel *c = &pit->channel[i];
        c->mode = 3;
        c->access = 3;
        c->bcd = c->loaded = c->triggered = c->running = 0;
        c->write_high = c->read_high = c->latch_bytes = c->latch_high = c->status_latched = 0;
        c->status = c->write_low = 0;
        c->latched = 0;
        c->reload = 0x10000;
        c->start_tick = c->frozen = 0;
        c->gate = i != 2; /* channel 2's gate is port 0x61 bit 0, low at power-on */
    }
    pit->port_b = 0;
    pit->last_tick = pit->edges_tick = pit_tick_at(now_ns);
    pit->edges = 0;
}

/* A count written: modes 0, 2, 3 and 4 start counting (if the gate is high), 1 and 5 wait for a
 * trigger. A count written while a mode 2 or 3 channel runs takes effect at once (on the chip, at
 * the next reload; Linux always writes the control word first). */
static void load(struct pit_channel *c, uint32_t value, uint64_t tick)
{
    c->reload = value ? value : 0x10000;
    c->loaded = 1;
    c->triggered = 0;
    c->running = 0;
    c->frozen = 0;
    if (c->mode != 1 && c->mode != 5 && c->gate)
        start(c, tick, 0);
}

static void set_gate(struct pit_channel *c, int gate, uint64_t tick)
{
    if (gate == c->gate)
        return;
    c->gate = (uint8_t)gate;
    if (!c->loaded)
        return;
    switch (c->mode) {
    case 0: case 4: /* the gate pauses the count */
        if (!gate)
            stop(c, tick);
        else
            start(c, tick, c->frozen);
        break;
    case 2: case 3: /* low stops the count (OUT high); the rising edge reloads it */
        if (!gate)
            stop(c, tick);
        else
            start(c, tick, 0);
        break;
    default: /* 1, 5: a rising edge (re)triggers */
        if (gate) {
            c->triggered = 1;
            start(c, tick, 0);
        }
        break;
    }
}

static void latch_count(struct pit_channel *c, uint64_t tick)
{
    if (c->latch_bytes) /* a second latch before the first is read is ignored */
        return;
    c->latched = count_at(c, elapsed(c, tick));
    c->latch_bytes = c->access == 3 ? 2 : 1;
    c->latch_high = c->access == 2;
}

/* Read-back (8254): bits 1-3 select channels; bit 5 clear latches the count, bit 4 clear the status. */
static void read_back(struct pit8253 *pit, uint8_t v, uint64_t tick)
{
    unsigned int i;
    for (i = 0; i < 3; i++) {
        struct pit_channel *c = &pit->channel[i];
        if (!(v & (2u << i)))
            continue;
        if (!(v & 0x20))
            latch_count(c, tick);
        if (!(v & 0x10) && !c->status_latched) {
            c->status = (uint8_t)(output_at(c, elapsed(c, tick)) << 7 | (!c->loaded) << 6 | c->access << 4
                                  | c->mode << 1 | c->bcd);
            c->status_latched = 1;
        }
    }
}

static void write_control(struct pit8253 *pit, uint8_t v, uint64_t tick)
{
    struct pit_channel *c;
    unsigned int access = (v >> 4) & 3;
    if ((v >> 6) == 3) {
        read_back(pit, v, tick);
        return;
    }
    c = &pit->channel[v >> 6];
    if (access == 0) {
        latch_count(c, tick);
        return;
    }
    stop(c, tick); /* the counter holds its value until a count is written */
    c->access = (uint8_t)access;
    c->mode = (uint8_t)((v >> 1) & 7);
    if (c->mode > 5)
        c->mode -= 4; /* 6 and 7 are 2 and 3 */
    c->bcd = v & 1;
    c->loaded = c->triggered = 0;
    c->write_high = c->read_high = c->latch_bytes = c->latch_high = c->status_latched = 0;
}

static void write_count(struct pit_channel *c, uint8_t v, uint64_t tick)
{
    switch (c->access) {
    case 1: load(c, v, tick); break;
    case 2: load(c, (uint32_t)v << 8, tick); break;
    default:
        if (c->write_high) {
            c->write_high = 0;
            load(c, c->write_low | (uint32_t)v << 8, tick);
        } else {
            c->write_low = v;
            c->write_high = 1;
            if (c->mode == 0) { /* the first byte stops the count and drives OUT low */
                stop(c, tick);
                c->loaded = 0;
            }
        }
        break;
    }
}

static uint8_t read_counter(struct pit_channel *c, uint64_t tick)
{
    uint16_t v;
    if (c->status_latched) {
        c->status_latched = 0;
        return c->status;
    }
    if (c->latch_bytes) {
        v = c->latch_high ? (uint16_t)(c->latched >> 8) : (uint16_t)(c->latched & 0xff);
        c->latch_bytes--;
        c->latch_high = 1;
        return (uint8_t)v;
    }
    v = count_at(c, elapsed(c, tick));
    switch (c->access) {
    case 1: return (uint8_t)v;
    case 2: return (uint8_t)(v >> 8);
    default:
        c->read_high ^= 1;
        return (uint8_t)(c->read_high ? v : v >> 8);
    }
}

int pit_handles_port(uint16_t port)
{
    return (port >= PIT_CHANNEL0 && port <= PIT_CONTROL) || port == PIT_PORT_B;
}

uint8_t pit_read(struct pit8253 *pit, uint16_t port, uint64_t now_ns)
{
    uint64_t tick = tick_now(pit, now_ns);
    if (port == PIT_PORT_B) {
        /* bit 4 toggles with each DRAM refresh (15.085 us); bit 5 is OUT2; bits 6, 7 (NMI
         * sources) read 0 */
        struct pit_channel *c = &pit->channel[2];
        uint8_t refresh = (uint8_t)((now_ns / 15085) & 1);
        return (uint8_t)((pit->port_b & 0x0f) | refresh << 4 | output_at(c, elapsed(c, tick)) << 5);
    }
    if (port < PIT_CHANNEL0 || port >= PIT_CONTROL)
        return 0xff; /* the control word is write-only */
    return read_counter(&pit->channel[port - PIT_CHANNEL0], tick);
}

void pit_write(struct pit8253 *pit, uint16_t port, uint8_t value, uint64_t now_ns)
{
    uint64_t tick = tick_now(pit, now_ns);
    sync_edges(pit, tick);
    if (port == PIT_PORT_B) {
        pit->port_b = value & 0x0f;
        set_gate(&pit->channel[2], value & 1, tick);
    } else if (port == PIT_CONTROL) {
        write_control(pit, value, tick);
    } else if (port >= PIT_CHANNEL0 && port < PIT_CONTROL) {
        write_count(&pit->channel[port - PIT_CHANNEL0], value, tick);
    }
}

uint64_t pit_irq0_edges(struct pit8253 *pit, uint64_t now_ns)
{
    uint64_t edges;
    sync_edges(pit, tick_now(pit, now_ns));
    edges = pit->edges;
    pit->edges = 0;
    return edges;
}

uint64_t pit_next_irq0_ns(struct pit8253 *pit, uint64_t now_ns)
{
    const struct pit_channel *c = &pit->channel[0];
    uint64_t k = elapsed(c, tick_now(pit, now_ns)), n = c->reload, edge;
    if (!c->running)
        return PIT_NEVER;
    switch (c->mode) {
    case 0: case 1: edge = n; break;
    case 2: case 3: edge = (k / n + 1) * n; break;
    default: edge = n + 1; break;
    }
    if (edge <= k)
        return PIT_NEVER; /* a one-shot that has fired */
    return pit_tick_ns(c->start_tick + edge);
}

int pit_output(struct pit8253 *pit, unsigned int channel, uint64_t now_ns)
{
    const struct pit_channel *c = &pit->channel[channel < 3 ? channel : 0];
    return output_at(c, elapsed(c, tick_now(pit, now_ns)));
}

uint16_t pit_count(struct pit8253 *pit, unsigned int channel, uint64_t now_ns)
{
    const struct pit_channel *c = &pit->channel[channel < 3 ? channel : 0];
    return count_at(c, elapsed(c, tick_now(pit, now_ns)));
}
