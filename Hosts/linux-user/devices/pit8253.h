/* pit8253.h: the 8253/8254 programmable interval timer (ports 0x40-0x43) and the PC's system control
 * port B (0x61: channel 2's gate, the speaker enable, OUT2). Time is the caller's: every call that
 * can observe the counters takes `now_ns`, a monotonic nanosecond clock, so the model is exact and
 * deterministic. The PIT's 1,193,182 Hz clock ticks at fixed points of that clock (tick n at
 * ceil(n * 10^9 / 1193182) ns). Channel 0's output is IRQ 0: the VMM asks when it next rises
 * (pit_next_irq0_ns) to arm a host timer, and how many rising edges have passed (pit_irq0_edges).
 * No libc; state is a plain struct.
 * SPDX-License-Identifier: MIT
 */
#ifndef PIT8253_H
#define PIT8253_H

#include <stdint.h>

#define PIT_HZ        1193182u
#define PIT_CHANNEL0  0x40
#define PIT_CHANNEL2  0x42
#define PIT_CONTROL   0x43
#define PIT_PORT_B    0x61
#define PIT_NEVER     UINT64_MAX

struct pit_channel {
    uint8_t mode;         /* 0-5 */
    uint8_t access;       /* 1 low byte, 2 high byte, 3 low then high */
    uint8_t bcd;          /* recorded and reported in the status; counting is binary */
    uint8_t loaded;       /* a count has been written since the control word: the counter runs */
    uint8_t gate;         /* the GATE input (channels 0 and 1: always high) */
    uint8_t triggered;    /* modes 1 and 5: a gate rising edge has started the count */
    uint8_t write_high;   /* access 3: the next count byte written is the high byte */
    uint8_t read_high;    /* access 3: the next unlatched byte read is the high byte */
    uint8_t latch_bytes;  /* count-latch bytes still to read: 0, 1 or 2 */
    uint8_t latch_high;   /* with two latched bytes, whether the next is the high byte (access 2: only) */
    uint8_t status_latched, status;
    uint8_t write_low;    /* the low byte of a count being written */
    uint16_t latched;     /* the latched count */
    uint32_t reload;      /* the count written, 1-65536 (0 means 65536) */
    uint64_t start_tick;  /* the tick at which the count was loaded (elapsed ticks are counted from it) */
    uint64_t frozen;      /* elapsed ticks when the gate stopped the count */
    uint8_t running;      /* counting (loaded, triggered if mode 1 or 5, gate allows) */
};

struct pit8253 {
    struct pit_channel channel[3];
    uint8_t port_b;        /* the writable bits of port 0x61: 0 gate 2, 1 speaker data, 2, 3 */
    uint64_t last_tick;    /* the latest tick seen (the clock never goes back) */
    uint64_t edges_tick;   /* channel 0's rising edges up to this tick are counted in `edges` */
    uint64_t edges;
};

void pit_init(struct pit8253 *pit, uint64_t now_ns);

int pit_handles_port(uint16_t port);
uint8_t pit_read(struct pit8253 *pit, uint16_t port, uint64_t now_ns);
void pit_write(struct pit8253 *pit, uint16_t port, uint8_t value, uint64_t now_ns);

/* The rising edges of channel 0's output (IRQ 0) since the previous call, up to now_ns. */
uint64_t pit_irq0_edges(struct pit8253 *pit, uint64_t now_ns);
/* When channel 0's output next rises after now_ns, in ns, or PIT_NEVER (stopped, or a one-shot
 * that has fired). A host timer armed for that time finds pit_irq0_edges() >= 1. */
uint64_t pit_next_irq0_ns(struct pit8253 *pit, uint64_t now_ns);
/* A channel's output level and its count as a read would see it (without the read's side effects). */
int pit_output(struct pit8253 *pit, unsigned int channel, uint64_t now_ns);
uint16_t pit_count(struct pit8253 *pit, unsigned int channel, uint64_t now_ns);

/* The PIT's clock in ticks at now_ns, and the time of a tick (the conversions the model uses). */
uint64_t pit_tick_at(uint64_t now_ns);
uint64_t pit_tick_ns(uint64_t tick);

#endif
