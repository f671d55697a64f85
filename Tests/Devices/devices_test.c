/* devices_test.c: unit tests of the linux-user VMM's device models (Hosts/linux-user/devices), each
 * driven with the port sequences Linux 6.1's drivers use, in their order: arch/x86/kernel/i8259.c
 * (probe, init, mask-and-ack, the spurious IRQ check), drivers/clocksource/i8253.c (periodic,
 * one-shot and shutdown of channel 0, the "pit" clocksource's latched read), arch/x86/kernel/tsc.c
 * (pit_calibrate_tsc and quick_pit_calibrate on channel 2 through port 0x61),
 * arch/x86/kernel/early_printk.c, and drivers/tty/serial/8250/8250_port.c (autoconfig, size_fifo,
 * serial8250_do_startup's THRE and TXEN tests, set_termios, the interrupt handler, the console).
 *
 * Time is simulated: every port access advances a nanosecond clock by `io_ns`. Expected values come
 * from the drivers' arithmetic and the chips' datasheets, computed here independently of the models.
 *
 * Prints one line per failed check and "devices-test: N checks, F failed"; exits 1 if any failed.
 * `--flip N` inverts check N's expectation (so a test can show that a wrong expectation fails);
 * `--trace FILE` also writes every port access, timed, as the device fuzzer's records;
 * `--bench` times the models' calls;
 * `--script` runs device_scripts.h against the models (the QEMU comparison's other half);
 * `--calibration-sweep` prints which of Linux's PIT calibrations of the TSC succeed at which cost of a
 * port access (what a VMM's port emulation must stay under).
 * SPDX-License-Identifier: MIT
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pic8259.h"
#include "pit8253.h"
#include "uart8250.h"
#include "devices_trace.h"
#include "device_scripts.h"
#include "device_script_print.h"

static int checks, failures, flip;

static void check(int ok, const char *what, long long actual, long long expected, int line)
{
    checks++;
    if (checks == flip)
        ok = !ok;
    if (!ok) {
        failures++;
        printf("FAIL check %d (line %d): %s: got %lld (0x%llx), expected %lld (0x%llx)\n", checks, line, what,
               actual, (unsigned long long)actual, expected, (unsigned long long)expected);
    }
}
#define EXPECT_EQ(actual, expected, what) do { long long a_ = (long long)(actual), e_ = (long long)(expected); \
        check(a_ == e_, what, a_, e_, __LINE__); } while (0)
#define EXPECT(cond, what) check(!!(cond), what, !!(cond), 1, __LINE__)

/* The machine: the three models on one port bus, as the VMM will wire them. */
static struct pic8259 pic;
static struct pit8253 pit;
static struct uart8250 uart;
static uint64_t clock_ns, io_ns = 1000;
static char console[4096];
static unsigned int console_len, irq4_rises;

static void console_sink(void *context, uint8_t byte)
{
    (void)context;
    if (console_len < sizeof console - 1)
        console[console_len++] = (char)byte;
    console[console_len] = 0;
}

static void uart_irq(void *context, int level)
{
    (void)context;
    irq4_rises += level != 0;
    pic_set_irq(&pic, UART_COM1_IRQ, level);
}

static FILE *trace;
static uint64_t traced_ns;

static void trace_access(enum device_trace_op op, uint16_t port, uint8_t value)
{
    uint64_t delta = clock_ns > traced_ns ? clock_ns - traced_ns : 0;
    unsigned int shift = 0, i;
    for (i = 0; i < DEVICE_TRACE_PORTS && device_trace_ports[i] != port; i++)
        ;
    if (!trace || i == DEVICE_TRACE_PORTS)
        return;
    while ((delta >> shift) > 0xffff)
        shift++;
    fputc((int)(op | shift << 3), trace);
    fputc((int)i, trace);
    fputc(value, trace);
    fputc((int)((delta >> shift) & 0xff), trace);
    fputc((int)((delta >> shift) >> 8), trace);
    traced_ns = clock_ns;
}

static uint8_t inb(uint16_t port)
{
    clock_ns += io_ns;
    trace_access(TRACE_READ, port, 0);
    if (pic_handles_port(port))
        return pic_read(&pic, port);
    if (pit_handles_port(port))
        return pit_read(&pit, port, clock_ns);
    if (uart_handles_port(&uart, port))
        return uart_read(&uart, port);
    return 0xff;
}

static void outb(uint8_t value, uint16_t port)
{
    clock_ns += io_ns;
    trace_access(TRACE_WRITE, port, value);
    if (pic_handles_port(port))
        pic_write(&pic, port, value);
    else if (pit_handles_port(port))
        pit_write(&pit, port, value, clock_ns);
    else if (uart_handles_port(&uart, port))
        uart_write(&uart, port, value);
}

static void machine_reset(uint64_t start_ns)
{
    clock_ns = traced_ns = start_ns;
    pic_init(&pic);
    pit_init(&pit, clock_ns);
    uart_init(&uart, UART_COM1, console_sink, uart_irq, 0);
    console_len = 0;
    console[0] = 0;
    irq4_rises = 0;
}

/* The PIT's clock, computed here the plain way (valid for the small times these tests use). */
static uint64_t ticks_at(uint64_t ns) { return ns * PIT_HZ / 1000000000ull; }
static uint64_t ns_of_tick(uint64_t tick) { return (tick * 1000000000ull + PIT_HZ - 1) / PIT_HZ; }

/* ---------------------------------------------------------------- 8259A (arch/x86/kernel/i8259.c) */

#define ISA_IRQ_VECTOR(irq) (0x30 + (irq))
static unsigned int cached_irq_mask = 0xffff;

static void init_8259A(int auto_eoi)
{
    outb(0xff, 0x21);                      /* mask all of 8259A-1 */
    outb(0x11, 0x20);                      /* ICW1: select 8259A-1 init */
    outb(ISA_IRQ_VECTOR(0), 0x21);         /* ICW2 */
    outb(1u << 2, 0x21);                   /* ICW3: slave on IR2 */
    outb(auto_eoi ? 0x03 : 0x01, 0x21);    /* ICW4 */
    outb(0x11, 0xa0);
    outb(ISA_IRQ_VECTOR(8), 0xa1);
    outb(2, 0xa1);                         /* slave id */
    outb(0x01, 0xa1);
    outb(cached_irq_mask & 0xff, 0x21);    /* restore masks */
    outb(cached_irq_mask >> 8, 0xa1);
}

static void unmask_8259A_irq(unsigned int irq)
{
    cached_irq_mask &= ~(1u << irq);
    if (irq & 8)
        outb(cached_irq_mask >> 8, 0xa1);
    else
        outb(cached_irq_mask & 0xff, 0x21);
}

static int i8259A_irq_real(unsigned int irq)
{
    int value;
    uint16_t port = irq < 8 ? 0x20 : 0xa0;
    outb(0x0b, port);                      /* ISR register */
    value = inb(port) & (1 << (irq & 7));
    outb(0x0a, port);                      /* back to the IRR register */
    return value;
}

/* mask_and_ack_8259A, including its spurious-IRQ slow path; returns whether it found the IRQ real. */
static int mask_and_ack_8259A(unsigned int irq)
{
    unsigned int irqmask = 1u << irq;
    int real = 1;
    if (cached_irq_mask & irqmask)
        real = i8259A_irq_real(irq) != 0;
    cached_irq_mask |= irqmask;
    if (irq & 8) {
        inb(0xa1);
        outb(cached_irq_mask >> 8, 0xa1);
        outb(0x60 + (irq & 7), 0xa0);      /* specific EOI to slave */
        outb(0x60 + 2, 0x20);              /* specific EOI to master IR2 */
    } else {
        inb(0x21);
        outb(cached_irq_mask & 0xff, 0x21);
        outb(0x60 + irq, 0x20);
    }
    return real;
}

/* What the CPU and Linux's handle_level_irq do with one interrupt: INTA, mask and ack, handler, unmask. */
static int deliver_one(void)
{
    int vector = pic_pending(&pic), irq;
    if (vector < 0)
        return -1;
    EXPECT_EQ(pic_acknowledge(&pic), vector, "INTA returns the vector pic_pending announced");
    irq = vector - ISA_IRQ_VECTOR(0);
    mask_and_ack_8259A((unsigned int)irq);
    unmask_8259A_irq((unsigned int)irq);
    return irq;
}

static void test_pic(void)
{
    unsigned char probe_val = (unsigned char)~(1u << 2);
    machine_reset(0);
    cached_irq_mask = 0xffff;

    /* probe_8259A */
    outb(0xff, 0xa1);
    outb(probe_val, 0x21);
    EXPECT_EQ(inb(0x21), probe_val, "probe_8259A reads back the master mask");
    init_8259A(0);
    EXPECT_EQ(inb(0x21), 0xff, "init_8259A restores the master mask");
    EXPECT_EQ(inb(0xa1), 0xff, "init_8259A restores the slave mask");
    EXPECT_EQ(inb(0x20), 0, "IRR reads empty after init (OCW3 default: IRR)");
    EXPECT_EQ(pic_pending(&pic), -1, "nothing pending after init");

    /* A request on a masked input is latched in IRR and waits. */
    pic_pulse(&pic, 0);
    EXPECT_EQ(inb(0x20) & 1, 1, "a masked edge is latched in IRR");
    EXPECT_EQ(pic_pending(&pic), -1, "a masked request is not delivered");
    unmask_8259A_irq(2); /* the cascade (request_irq(2, ...) in init_ISA_irqs) */
    unmask_8259A_irq(0);
    EXPECT_EQ(inb(0x21), 0xfa, "IRQ 0 and the cascade unmasked");
    EXPECT_EQ(pic_pending(&pic), ISA_IRQ_VECTOR(0), "the latched IRQ 0 is delivered once unmasked");
    EXPECT_EQ(pic_acknowledge(&pic), 0x30, "INTA gives vector 0x30");
    EXPECT_EQ(inb(0x20) & 1, 0, "INTA clears the edge request from IRR");
    EXPECT_EQ(i8259A_irq_real(0), 1, "INTA puts IRQ 0 in service (OCW3 read ISR)");
    EXPECT_EQ(inb(0x20), 0, "after OCW3 0x0a reads return IRR again");
    pic_pulse(&pic, 0);
    EXPECT_EQ(pic_pending(&pic), -1, "a new IRQ 0 waits while IRQ 0 is in service");
    EXPECT_EQ(mask_and_ack_8259A(0), 1, "mask_and_ack finds IRQ 0 real");
    EXPECT_EQ(i8259A_irq_real(0), 0, "specific EOI 0x60 ends IRQ 0's service");
    EXPECT_EQ(pic_pending(&pic), -1, "masked by mask_and_ack: not delivered");
    unmask_8259A_irq(0);
    EXPECT_EQ(pic_pending(&pic), 0x30, "the edge that came during service is delivered after unmask");
    EXPECT_EQ(deliver_one(), 0, "IRQ 0 handled through handle_level_irq's sequence");
    EXPECT_EQ(pic_pending(&pic), -1, "and nothing is left");

    /* Priority: IRQ 0 before IRQ 4; IRQ 4 waits for IRQ 0's EOI; IRQ 0 preempts IRQ 4. */
    unmask_8259A_irq(4);
    pic_raise(&pic, 4);
    pic_pulse(&pic, 0);
    EXPECT_EQ(pic_acknowledge(&pic), 0x30, "IRQ 0 has priority over IRQ 4");
    EXPECT_EQ(pic_pending(&pic), -1, "IRQ 4 is blocked while IRQ 0 is in service");
    outb(0x20, 0x20); /* non-specific EOI */
    EXPECT_EQ(pic_pending(&pic), 0x34, "after a non-specific EOI, IRQ 4 is delivered");
    EXPECT_EQ(pic_acknowledge(&pic), 0x34, "INTA gives vector 0x34");
    pic_pulse(&pic, 0);
    EXPECT_EQ(pic_pending(&pic), 0x30, "IRQ 0 preempts IRQ 4 in service");
    EXPECT_EQ(pic_acknowledge(&pic), 0x30, "nested INTA");
    outb(0x0b, 0x20);
    EXPECT_EQ(inb(0x20), 0x11, "ISR holds IRQ 0 and IRQ 4");
    outb(0x20, 0x20);
    EXPECT_EQ(inb(0x20), 0x10, "a non-specific EOI ends the highest priority (IRQ 0)");
    outb(0x64, 0x20);
    EXPECT_EQ(inb(0x20), 0x00, "a specific EOI ends IRQ 4");
    outb(0x0a, 0x20);
    /* Edge-triggered: a line held high raises one request, not one per look. */
    EXPECT_EQ(inb(0x20) & 0x10, 0, "IRQ 4's edge was consumed by INTA");
    pic_raise(&pic, 4);
    EXPECT_EQ(pic_pending(&pic), -1, "raising a line already high is not a new edge");
    pic_lower(&pic, 4);
    pic_raise(&pic, 4);
    EXPECT_EQ(pic_pending(&pic), 0x34, "low then high is a new edge");
    EXPECT_EQ(deliver_one(), 4, "IRQ 4 delivered");
    pic_lower(&pic, 4);

    /* The slave: IRQ 12 through the cascade; Linux's EOIs to the slave and then master IR2. */
    unmask_8259A_irq(12);
    EXPECT_EQ(inb(0xa1), 0xef, "IRQ 12 unmasked on the slave");
    pic_pulse(&pic, 12);
    EXPECT_EQ(inb(0x20) & 4, 4, "the slave's request raises the master's IR2");
    EXPECT_EQ(pic_pending(&pic), ISA_IRQ_VECTOR(12), "IRQ 12's vector through the cascade");
    EXPECT_EQ(pic_acknowledge(&pic), 0x3c, "INTA gives the slave's vector");
    EXPECT_EQ(i8259A_irq_real(12), 0x10, "the slave has IRQ 12 in service");
    EXPECT_EQ(i8259A_irq_real(2), 0x04, "the master has the cascade in service");
    mask_and_ack_8259A(12);
    EXPECT_EQ(i8259A_irq_real(12) | i8259A_irq_real(2), 0, "EOIs to slave and master IR2 end both");
    unmask_8259A_irq(12);
    pic_pulse(&pic, 12);
    pic_pulse(&pic, 1); /* masked: IRQ 1 was never unmasked */
    pic_pulse(&pic, 0);
    EXPECT_EQ(deliver_one(), 0, "IRQ 0 before the cascade");
    EXPECT_EQ(deliver_one(), 12, "then IRQ 12");
    EXPECT_EQ(deliver_one(), -1, "masked IRQ 1 stays pending in IRR only");
    EXPECT_EQ(inb(0x20) & 2, 2, "IRQ 1's request is in IRR");

    /* Spurious IRQ 7: the request went away between INT and INTA (a level input, via the ELCR). */
    outb(0xff, 0x4d0);
    EXPECT_EQ(inb(0x4d0), 0xf8, "ELCR1: IRQ 0-2 cannot be level-triggered");
    outb(0xff, 0x4d1);
    EXPECT_EQ(inb(0x4d1), 0xde, "ELCR2: IRQ 8 and 13 cannot be level-triggered");
    unmask_8259A_irq(3);
    pic_raise(&pic, 3);
    EXPECT_EQ(pic_pending(&pic), 0x33, "a level request on IRQ 3");
    pic_lower(&pic, 3);
    EXPECT_EQ(pic_pending(&pic), -1, "a level request follows its line");
    pic_raise(&pic, 3);
    EXPECT_EQ(deliver_one(), 3, "IRQ 3 delivered");
    EXPECT_EQ(pic_pending(&pic), 0x33, "a level request still high is delivered again after EOI");
    pic_lower(&pic, 3);
    EXPECT_EQ(pic_acknowledge(&pic), 0x37, "INTA with nothing left gives the spurious IR7 vector");
    EXPECT_EQ(mask_and_ack_8259A(7), 0, "Linux's check finds IRQ 7 not in service: spurious");
    EXPECT_EQ(pic.spurious, 1, "the model counted one spurious INTA");
    /* Spurious IRQ 15: a slave level request drops after the master latched IR2. */
    unmask_8259A_irq(11);
    pic_raise(&pic, 11);
    pic_lower(&pic, 11);
    EXPECT_EQ(pic_pending(&pic), 0x3f, "the master's latched IR2 with nothing on the slave: IRQ 15");
    EXPECT_EQ(pic_acknowledge(&pic), 0x3f, "INTA gives the slave's spurious vector");
    EXPECT_EQ(i8259A_irq_real(2), 4, "the cascade is in service on the master");
    EXPECT_EQ(mask_and_ack_8259A(15), 0, "Linux finds IRQ 15 spurious");
    EXPECT_EQ(i8259A_irq_real(2), 0, "and its EOI to master IR2 ends the cascade's service");
    outb(0x00, 0x4d0);
    outb(0x00, 0x4d1);

    /* The rest of OCW2/OCW3: poll, rotation, set priority; auto-EOI; ICW1 resets. */
    pic_pulse(&pic, 4);
    outb(0x0c, 0x20); /* poll */
    EXPECT_EQ(inb(0x20), 0x84, "a poll read returns 0x80 | IRQ 4 and acknowledges it");
    EXPECT_EQ(pic_pending(&pic), -1, "after the poll IRQ 4 is in service");
    outb(0xa0, 0x20); /* rotate on non-specific EOI: IRQ 4 becomes the lowest priority */
    pic_pulse(&pic, 4);
    pic_pulse(&pic, 5);
    cached_irq_mask &= ~0x20u;
    outb(cached_irq_mask & 0xff, 0x21);
    EXPECT_EQ(pic_acknowledge(&pic), 0x35, "after rotation IRQ 5 outranks IRQ 4");
    outb(0x65, 0x20);
    outb(0xc7, 0x20); /* set priority: IRQ 7 lowest, as at reset */
    pic_pulse(&pic, 5);
    EXPECT_EQ(pic_acknowledge(&pic), 0x34, "set priority restores IRQ 4 before IRQ 5");
    outb(0x64, 0x20);
    EXPECT_EQ(pic_acknowledge(&pic), 0x35, "then IRQ 5");
    outb(0x65, 0x20);
    init_8259A(1); /* auto-EOI */
    EXPECT_EQ(inb(0x20), 0, "ICW1 clears IRR");
    pic_pulse(&pic, 0);
    EXPECT_EQ(pic_acknowledge(&pic), 0x30, "auto-EOI: INTA gives the vector");
    EXPECT_EQ(i8259A_irq_real(0), 0, "auto-EOI: nothing is put in service");
    outb(0x11, 0x20);
    EXPECT_EQ(pic_pending(&pic), -1, "nothing is delivered in the middle of initialization");
    EXPECT_EQ(inb(0x21), 0x00, "ICW1 clears the mask");
    outb(0x20, 0x21);
    outb(0x04, 0x21);
    outb(0x01, 0x21);
    pic_pulse(&pic, 6);
    EXPECT_EQ(pic_acknowledge(&pic), 0x26, "ICW2 sets the vector base");
    EXPECT_EQ(pic_read(&pic, 0x22), 0xff, "other ports read 0xff");

    /* Special mask mode: a masked level in service no longer blocks lower priorities. */
    outb(0x60 + 6, 0x20);
    pic_pulse(&pic, 3);
    EXPECT_EQ(pic_acknowledge(&pic), 0x23, "IRQ 3 in service");
    outb(0x08, 0x21); /* mask IRQ 3 */
    pic_pulse(&pic, 5);
    EXPECT_EQ(pic_pending(&pic), -1, "fully nested: IRQ 5 waits for IRQ 3");
    outb(0x68, 0x20); /* OCW3: set special mask mode */
    EXPECT_EQ(pic_pending(&pic), 0x25, "special mask mode: IRQ 5 is delivered");
    outb(0x48, 0x20); /* reset special mask mode */
    EXPECT_EQ(pic_pending(&pic), -1, "special mask mode off: blocked again");
    /* Single mode (ICW1 SNGL): no ICW3; the next data byte after ICW2 is ICW4. */
    outb(0x13, 0x20);
    outb(0x40, 0x21);
    outb(0x01, 0x21); /* ICW4 */
    outb(0xfe, 0x21); /* OCW1 */
    EXPECT_EQ(inb(0x21), 0xfe, "single mode: ICW3 skipped, the third byte is the mask");
    pic_pulse(&pic, 2);
    pic_pulse(&pic, 0);
    EXPECT_EQ(pic_acknowledge(&pic), 0x40, "single mode: IRQ 0 at the new base");
}

/* ------------------------------------------------ 8254 (drivers/clocksource/i8253.c, tsc.c) */

#define PIT_LATCH ((PIT_HZ + 100 / 2) / 100) /* HZ=100 */

/* i8253_read: the "pit" clocksource's read of channel 0. */
static unsigned int latched_count(void)
{
    unsigned int count;
    outb(0x00, 0x43);
    count = inb(0x40);
    count |= (unsigned int)inb(0x40) << 8;
    return count;
}

static void test_pit_periodic(void)
{
    uint64_t start, next, t, k;
    unsigned int count, previous, i;
    machine_reset(5000000); /* 5 ms of "uptime" before the PIT is programmed */
    EXPECT_EQ(pit_next_irq0_ns(&pit, clock_ns), PIT_NEVER, "no IRQ 0 before channel 0 is programmed");

    /* pit_set_periodic */
    outb(0x34, 0x43);
    outb(PIT_LATCH & 0xff, 0x40);
    start = clock_ns + io_ns; /* the count loads with the high byte */
    outb(PIT_LATCH >> 8, 0x40);
    next = pit_next_irq0_ns(&pit, clock_ns);
    EXPECT_EQ(next, ns_of_tick(ticks_at(start) + PIT_LATCH), "the first tick comes PIT_LATCH ticks after the load");
    EXPECT(next - start > 9999000 && next - start < 10001000, "that is 10 ms (HZ=100)");
    EXPECT_EQ(pit_irq0_edges(&pit, next - 1), 0, "no edge just before it");
    EXPECT_EQ(pit_irq0_edges(&pit, next), 1, "one edge at it");
    EXPECT_EQ(pit_irq0_edges(&pit, next), 0, "edges are counted once");
    EXPECT_EQ(pit_next_irq0_ns(&pit, next), ns_of_tick(ticks_at(start) + 2 * PIT_LATCH), "the next, one period on");
    t = start + 1000000000ull;
    EXPECT_EQ(pit_irq0_edges(&pit, t), (ticks_at(t) - ticks_at(start)) / PIT_LATCH - 1, "one second: the rest of 99 ticks");
    EXPECT_EQ(pit_output(&pit, 0, t), 1, "OUT0 is high between ticks");
    t = ns_of_tick(ticks_at(start) + 200 * PIT_LATCH - 1);
    EXPECT_EQ(pit_output(&pit, 0, t), 0, "OUT0 is low for the tick before the reload (mode 2)");
    pit_irq0_edges(&pit, t);

    /* The clocksource: latch, read low, read high; count in [1, PIT_LATCH], falling within a period. */
    clock_ns = t + 3000000;
    count = latched_count();
    k = ticks_at(clock_ns - 2 * io_ns) - ticks_at(start); /* latched by the first of the three accesses */
    EXPECT_EQ(count, PIT_LATCH - k % PIT_LATCH, "the latched count is PIT_LATCH - elapsed % PIT_LATCH");
    previous = count;
    for (i = 0; i < 20; i++) {
        clock_ns += 100000;
        count = latched_count();
        if (count < previous) {
            previous = count;
            continue;
        }
        break;
    }
    EXPECT_EQ(i, 20, "successive latched reads within a period fall");
    EXPECT(count >= 1 && count <= PIT_LATCH, "the count never exceeds PIT_LATCH (i8253_read's VIA check)");
    /* A latch holds its value however late it is read; a second latch before the read is ignored. */
    outb(0x00, 0x43);
    k = ticks_at(clock_ns) - ticks_at(start);
    clock_ns += 2000000;
    outb(0x00, 0x43);
    count = inb(0x40);
    count |= (unsigned int)inb(0x40) << 8;
    EXPECT_EQ(count, PIT_LATCH - k % PIT_LATCH, "the first latch's value, 2 ms later");
    /* Unlatched reads (lo, hi) see the running count. */
    count = inb(0x40);
    count |= (unsigned int)inb(0x40) << 8;
    k = ticks_at(clock_ns) - ticks_at(start);
    EXPECT(count >= PIT_LATCH - k % PIT_LATCH && count <= PIT_LATCH - k % PIT_LATCH + 2, "an unlatched read");
    /* The read-back command: status then count of channel 0. */
    outb(0xc2, 0x43);
    EXPECT_EQ(inb(0x40), 0x80 | 0x34, "read-back status: OUT high, lo/hi, mode 2, binary");
    count = inb(0x40);
    count |= (unsigned int)inb(0x40) << 8;
    EXPECT(count >= 1 && count <= PIT_LATCH, "read-back count follows the status");
    /* The clock never goes back. */
    count = pit_count(&pit, 0, clock_ns);
    EXPECT_EQ(pit_count(&pit, 0, clock_ns - 5000000), count, "an earlier now_ns reads as the latest");
}

static void test_pit_oneshot(void)
{
    uint64_t load, next;
    machine_reset(0);
    /* pit_set_oneshot, then pit_next_event(delta = 1 ms). */
    outb(0x38, 0x43);
    EXPECT_EQ(pit_output(&pit, 0, clock_ns), 1, "mode 4: OUT high after the control word");
    outb(1193 & 0xff, 0x40);
    load = clock_ns + io_ns;
    outb(1193 >> 8, 0x40);
    next = pit_next_irq0_ns(&pit, clock_ns);
    EXPECT_EQ(next, ns_of_tick(ticks_at(load) + 1193 + 1), "mode 4: the strobe ends one tick after terminal count");
    EXPECT_EQ(pit_output(&pit, 0, next - 1), 0, "OUT low during the strobe");
    EXPECT_EQ(pit_irq0_edges(&pit, next), 1, "one rising edge");
    EXPECT_EQ(pit_next_irq0_ns(&pit, next), PIT_NEVER, "a one-shot fires once");
    clock_ns = next + 1000000000ull;
    EXPECT_EQ(pit_irq0_edges(&pit, clock_ns), 0, "and never again");
    /* Rewriting the count re-arms it. */
    clock_ns += 5000000;
    outb(100, 0x40);
    load = clock_ns + io_ns;
    outb(0, 0x40);
    EXPECT_EQ(pit_next_irq0_ns(&pit, clock_ns), ns_of_tick(ticks_at(load) + 101), "a new count re-arms mode 4");

    /* clockevent_i8253_disable: mode 0, count 0, mode 0 again: stopped, no IRQ. */
    outb(0x30, 0x43);
    outb(0, 0x40);
    outb(0, 0x40);
    outb(0x30, 0x43);
    EXPECT_EQ(pit_next_irq0_ns(&pit, clock_ns), PIT_NEVER, "shutdown: no next IRQ 0");
    clock_ns += 2000000000ull;
    EXPECT_EQ(pit_irq0_edges(&pit, clock_ns), 0, "shutdown: no edges in 2 s");
    EXPECT_EQ(pit_output(&pit, 0, clock_ns), 0, "mode 0 holds OUT low until a count");

    /* Mode 0 with a count: OUT rises at terminal count, once. */
    outb(50, 0x40);
    load = clock_ns + io_ns;
    outb(0, 0x40);
    EXPECT_EQ(pit_next_irq0_ns(&pit, clock_ns), ns_of_tick(ticks_at(load) + 50), "mode 0: OUT rises at terminal count");
    clock_ns += 1000000;
    EXPECT_EQ(pit_irq0_edges(&pit, clock_ns), 1, "mode 0: one edge");
    EXPECT_EQ(pit_output(&pit, 0, clock_ns), 1, "mode 0: OUT stays high");
    /* Mode 3 (the BIOS's 18.2 Hz), lobyte-only and hibyte-only access. */
    outb(0x36, 0x43);
    outb(0, 0x40);
    load = clock_ns + io_ns;
    outb(0, 0x40);
    clock_ns = load + 1000000000ull;
    EXPECT_EQ(pit_irq0_edges(&pit, clock_ns), (ticks_at(clock_ns) - ticks_at(load)) / 65536,
              "mode 3, count 65536: 18 rising edges a second");
    EXPECT_EQ((ticks_at(clock_ns) - ticks_at(load)) / 65536, 18, "(that is 18)");
    outb(0x14, 0x43); /* channel 0, low byte only, mode 2 */
    load = clock_ns + io_ns;
    outb(200, 0x40);
    EXPECT_EQ(pit_next_irq0_ns(&pit, clock_ns), ns_of_tick(ticks_at(load) + 200), "low byte only: count 200");
    outb(0x24, 0x43); /* high byte only */
    load = clock_ns + io_ns;
    outb(2, 0x40);
    EXPECT_EQ(pit_next_irq0_ns(&pit, clock_ns), ns_of_tick(ticks_at(load) + 512), "high byte only: count 512");
    EXPECT_EQ(inb(0x40), pit_count(&pit, 0, clock_ns) >> 8, "high byte only: a read returns the high byte");
}

/* tsc.c's calibrations, with a simulated 3 GHz TSC. */
static uint64_t get_cycles(void) { return clock_ns * 3; }

static unsigned long pit_calibrate_tsc(uint32_t latch, unsigned long ms, int loopmin, int *pitcnt_out)
{
    uint64_t tsc, t1, t2, delta, tscmin = ~0ull, tscmax = 0;
    int pitcnt = 0;
    outb((uint8_t)((inb(0x61) & ~0x02) | 0x01), 0x61);
    outb(0xb0, 0x43);
    outb(latch & 0xff, 0x42);
    outb(latch >> 8, 0x42);
    tsc = t1 = t2 = get_cycles();
    while ((inb(0x61) & 0x20) == 0) {
        t2 = get_cycles();
        delta = t2 - tsc;
        tsc = t2;
        if (delta < tscmin)
            tscmin = delta;
        if (delta > tscmax)
            tscmax = delta;
        if (++pitcnt > 10000000)
            break; /* OUT2 never rose: fail below rather than hang */
    }
    *pitcnt_out = pitcnt;
    if (pitcnt < loopmin || tscmax > 10 * tscmin)
        return ~0ul;
    return (unsigned long)((t2 - t1) / ms);
}

static int pit_verify_msb(unsigned char val)
{
    inb(0x42);
    return inb(0x42) == val;
}

static int pit_expect_msb(unsigned char val, uint64_t *tscp, unsigned long *deltap)
{
    int count;
    uint64_t tsc = 0, prev_tsc = 0;
    for (count = 0; count < 50000; count++) {
        if (!pit_verify_msb(val))
            break;
        prev_tsc = tsc;
        tsc = get_cycles();
    }
    *deltap = (unsigned long)(get_cycles() - prev_tsc);
    *tscp = tsc;
    return count > 5;
}

static unsigned long quick_pit_calibrate(void)
{
    enum { MAX_QUICK_PIT_ITERATIONS = 50 * PIT_HZ / 1000 / 256 };
    int i;
    uint64_t tsc, delta;
    unsigned long d1, d2;
    outb((uint8_t)((inb(0x61) & ~0x02) | 0x01), 0x61);
    outb(0xb0, 0x43);
    outb(0xff, 0x42);
    outb(0xff, 0x42);
    pit_verify_msb(0);
    if (pit_expect_msb(0xff, &tsc, &d1)) {
        for (i = 1; i <= MAX_QUICK_PIT_ITERATIONS; i++) {
            if (!pit_expect_msb((unsigned char)(0xff - i), &delta, &d2))
                break;
            delta -= tsc;
            if (i == 1 && d1 + d2 >= (delta * MAX_QUICK_PIT_ITERATIONS) >> 11)
                return 0;
            if (d1 + d2 >= delta >> 11)
                continue;
            if (!pit_verify_msb((unsigned char)(0xfe - i)))
                break;
            return (unsigned long)(delta * PIT_HZ / ((uint64_t)i * 256 * 1000));
        }
    }
    return 0;
}

static void test_pit_calibration(void)
{
    unsigned long khz;
    int pitcnt;
    uint8_t b;
    machine_reset(123456789);
    b = inb(0x61);
    EXPECT_EQ(b & 0xc1, 0, "port 0x61 at reset: gate 2 low, no NMI sources");
    EXPECT_EQ(b & 0x20, 0x20, "OUT2 is high before channel 2 is programmed (mode 3)");
    /* pit_hpet_ptimer_calibrate_cpu's PIT loop: CAL_LATCH for 10 ms, CAL_PIT_LOOPS = 1000. */
    {
        uint64_t load = clock_ns + 5 * io_ns; /* inb, outb 0x61, outb 0x43, two count bytes */
        int polls = 0;
        while (ticks_at(load + (uint64_t)(polls + 1) * io_ns) - ticks_at(load) < PIT_HZ / 100)
            polls++;
        khz = pit_calibrate_tsc(PIT_HZ / (1000 / 10), 10, 1000, &pitcnt);
        EXPECT_EQ(pitcnt, polls, "OUT2 rose after CAL_LATCH = 11931 ticks of 1-us polls");
        EXPECT(pitcnt >= 1000, "the PIT loop ran at least loopmin times before OUT2 rose");
    }
    EXPECT(khz >= 2999000 && khz <= 3001000, "pit_calibrate_tsc measures the 3 GHz TSC");
    EXPECT_EQ(inb(0x61) & 0x23, 0x21, "after calibration: gate high, speaker off, OUT2 high");
    /* The gate pauses a mode 0 count. */
    outb(0xb0, 0x43);
    outb(0x00, 0x42);
    outb(0x10, 0x42);
    outb(0x00, 0x61); /* gate low */
    {
        uint16_t frozen = pit_count(&pit, 2, clock_ns);
        clock_ns += 50000000;
        EXPECT_EQ(pit_count(&pit, 2, clock_ns), frozen, "gate low: the mode 0 count holds");
        outb(0x01, 0x61);
        clock_ns += 1000000;
        EXPECT_EQ(pit_count(&pit, 2, clock_ns), (uint16_t)(frozen - (ticks_at(clock_ns) - ticks_at(clock_ns - 1000000))),
                  "gate high again: it resumes from where it stopped");
    }
    outb(0x03, 0x61);
    EXPECT_EQ(inb(0x61) & 0x0f, 0x03, "port 0x61 keeps bits 0-3");
    {
        uint64_t trigger;
        uint16_t c1, c2;
        /* Mode 1 on channel 2: the gate's rising edge starts a low pulse of `count` ticks. */
        outb(0x00, 0x61);
        outb(0x92, 0x43); /* channel 2, low byte only, mode 1 */
        outb(100, 0x42);
        EXPECT_EQ(inb(0x61) & 0x20, 0x20, "mode 1: OUT2 high until triggered");
        outb(0x01, 0x61);
        trigger = clock_ns;
        EXPECT_EQ(pit_output(&pit, 2, ns_of_tick(ticks_at(trigger) + 99)), 0, "mode 1: OUT2 low after the trigger");
        EXPECT_EQ(pit_output(&pit, 2, ns_of_tick(ticks_at(trigger) + 100)), 1, "mode 1: high again after the count");
        /* Mode 5: the trigger starts a count that ends in a one-tick strobe. */
        clock_ns = ns_of_tick(ticks_at(trigger) + 200);
        outb(0x9a, 0x43); /* channel 2, low byte only, mode 5 */
        outb(50, 0x42);
        outb(0x00, 0x61);
        outb(0x01, 0x61);
        trigger = clock_ns;
        EXPECT_EQ(pit_output(&pit, 2, ns_of_tick(ticks_at(trigger) + 49)), 1, "mode 5: OUT2 high while counting");
        EXPECT_EQ(pit_output(&pit, 2, ns_of_tick(ticks_at(trigger) + 50)), 0, "mode 5: the strobe at terminal count");
        EXPECT_EQ(pit_output(&pit, 2, ns_of_tick(ticks_at(trigger) + 51)), 1, "mode 5: one tick long");
        /* Mode 3: a square wave; the count falls by two each tick. */
        clock_ns = ns_of_tick(ticks_at(trigger) + 100);
        outb(0xb6, 0x43); /* channel 2, lo/hi, mode 3 */
        outb(1000 & 0xff, 0x42);
        outb(1000 >> 8, 0x42);
        trigger = clock_ns;
        c1 = pit_count(&pit, 2, ns_of_tick(ticks_at(trigger) + 10));
        c2 = pit_count(&pit, 2, ns_of_tick(ticks_at(trigger) + 11));
        EXPECT_EQ(c1 - c2, 2, "mode 3: the count falls by two a tick");
        EXPECT_EQ(pit_output(&pit, 2, ns_of_tick(ticks_at(trigger) + 499)), 1, "mode 3: high for the first half");
        EXPECT_EQ(pit_output(&pit, 2, ns_of_tick(ticks_at(trigger) + 500)), 0, "mode 3: low for the second");
        EXPECT_EQ(pit_output(&pit, 2, ns_of_tick(ticks_at(trigger) + 1000)), 1, "mode 3: high again each period");
        outb(0x00, 0x61);
        EXPECT_EQ(inb(0x61) & 0x20, 0x20, "mode 3: gate low holds OUT2 high");
    }
    {
        uint8_t r1, r2;
        clock_ns = 1000000 * 15085ull; /* at an even refresh period */
        r1 = pit_read(&pit, 0x61, clock_ns) & 0x10;
        r2 = pit_read(&pit, 0x61, clock_ns + 15085) & 0x10;
        EXPECT_EQ(r1 ^ r2, 0x10, "bit 4 toggles every 15.085 us (refresh)");
    }

    /* native_calibrate_cpu_early's quick_pit_calibrate: reads of channel 2's running MSB. */
    io_ns = 700; /* about what an ISA access costs */
    machine_reset(0);
    khz = quick_pit_calibrate();
    EXPECT(khz >= 2998500 && khz <= 3001500, "quick_pit_calibrate succeeds within 500 ppm of 3 GHz");
    /* The model keeps time, not access counts: when a port access costs 20 us (a VMM that traps
     * each one), both of Linux's sanity checks refuse the PIT, as they would on slow hardware. */
    io_ns = 20000;
    machine_reset(0);
    EXPECT_EQ(quick_pit_calibrate(), 0, "20 us a port access: quick_pit_calibrate gives up");
    machine_reset(0);
    EXPECT_EQ(pit_calibrate_tsc(PIT_HZ / (1000 / 10), 10, 1000, &pitcnt), ~0ul,
              "20 us a port access: pit_calibrate_tsc polls fewer than CAL_PIT_LOOPS times");
    io_ns = 1000;
}

/* --script: device_scripts.h against the models, printed as the QEMU probe guest prints QEMU's. */
static void put_stdout(char c)
{
    putchar(c);
}

static void run_script(void)
{
    unsigned int i;
    machine_reset(0);
    for (i = 0; i < DEVICE_SCRIPT_STEPS; i++) {
        const struct device_step *step = &device_script[i];
        if (step->op == 'o') {
            outb(step->value, step->port);
        } else {
            uint8_t v = inb(step->port);
            if (step->op == 'i')
                device_script_print(put_stdout, i, step, v);
        }
        if (pit_irq0_edges(&pit, clock_ns))
            pic_pulse(&pic, 0);
    }
    device_script_print_end(put_stdout);
    printf("transmitted:");
    for (i = 0; i < console_len; i++)
        printf(" %02x", (unsigned char)console[i]);
    printf("\n");
}

/* --bench: what the models cost per call on this machine, with the host's clock as now_ns. */
static double ns_since(const struct timespec *start)
{
    struct timespec end;
    clock_gettime(CLOCK_MONOTONIC, &end);
    return (double)(end.tv_sec - start->tv_sec) * 1e9 + (double)(end.tv_nsec - start->tv_nsec);
}

static uint64_t host_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static void bench(void)
{
    enum { N = 2000000 };
    struct timespec start;
    volatile unsigned sink = 0;
    unsigned i;
    machine_reset(host_ns());
    init_8259A(0);
    outb(0x34, 0x43);
    outb(PIT_LATCH & 0xff, 0x40);
    outb(PIT_LATCH >> 8, 0x40);
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (i = 0; i < N; i++)
        sink += host_ns() != 0;
    printf("clock_gettime(CLOCK_MONOTONIC): %.1f ns\n", ns_since(&start) / N);
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (i = 0; i < N; i++) {
        uint64_t now = host_ns();
        pit_write(&pit, 0x43, 0x00, now);
        sink += pit_read(&pit, 0x40, now);
        sink += pit_read(&pit, 0x40, now);
    }
    printf("i8253_read (latch, two reads) with a clock read: %.1f ns\n", ns_since(&start) / N);
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (i = 0; i < N; i++)
        sink += uart_read(&uart, 0x3fd);
    printf("uart_read(LSR): %.1f ns\n", ns_since(&start) / N);
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (i = 0; i < N; i++)
        uart_write(&uart, 0x3f8, (uint8_t)0x78);
    printf("uart_write(THR) to a sink that keeps 4 KiB: %.1f ns\n", ns_since(&start) / N);
    pic_write(&pic, 0x21, 0xfe);
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (i = 0; i < N; i++) {
        pic_pulse(&pic, 0);
        sink += (unsigned)pic_acknowledge(&pic);
        pic_write(&pic, 0x20, 0x60);
    }
    printf("one IRQ 0: pic_pulse, pic_acknowledge, specific EOI: %.1f ns\n", ns_since(&start) / N);
    (void)sink;
}

/* --calibration-sweep: which of Linux's PIT calibrations succeed at each cost of a port access. */
static void calibration_sweep(void)
{
    static const unsigned costs[] = {250, 500, 700, 1000, 1500, 2000, 3000, 5000, 7500, 10000, 15000, 20000, 30000};
    unsigned i;
    int pitcnt;
    printf("port access ns | quick_pit_calibrate kHz | pit_calibrate_tsc kHz (10 ms, >= 1000 polls) | polls\n");
    for (i = 0; i < sizeof costs / sizeof costs[0]; i++) {
        unsigned long quick, slow;
        io_ns = costs[i];
        machine_reset(0);
        quick = quick_pit_calibrate();
        machine_reset(0);
        slow = pit_calibrate_tsc(PIT_HZ / (1000 / 10), 10, 1000, &pitcnt);
        printf("%14u | %23lu | %45ld | %d\n", costs[i], quick, slow == ~0ul ? -1l : (long)slow, pitcnt);
    }
}

/* ------------------------------------------------------- 8250 (early_printk.c, 8250_port.c) */

#define COM 0x3f8
enum { RX = 0, TX = 0, DLL = 0, IER = 1, DLM = 1, IIR = 2, FCR = 2, EFR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7 };

static void early_serial_putc(unsigned char ch)
{
    unsigned timeout = 0xffff;
    while ((inb(COM + LSR) & 0x20) == 0 && --timeout)
        ;
    EXPECT(timeout == 0xffff, "earlyprintk finds THRE at its first poll");
    outb(ch, COM + TX);
}

static void test_earlyprintk(void)
{
    const char *s = "Linux version 6.1\n";
    unsigned char c;
    unsigned divisor = 115200 / 9600;
    machine_reset(0);
    /* early_serial_hw_init */
    outb(0x3, COM + LCR);
    outb(0, COM + IER);
    outb(0, COM + FCR);
    outb(0x3, COM + MCR);
    c = inb(COM + LCR);
    EXPECT_EQ(c, 3, "LCR reads back 8n1");
    outb(c | 0x80, COM + LCR);
    outb(divisor & 0xff, COM + DLL);
    outb((divisor >> 8) & 0xff, COM + DLM);
    outb(c & ~0x80, COM + LCR);
    EXPECT_EQ(console_len, 0, "divisor writes are not transmitted");
    for (; *s; s++) { /* early_serial_write */
        if (*s == '\n')
            early_serial_putc('\r');
        early_serial_putc((unsigned char)*s);
    }
    EXPECT_EQ(strcmp(console, "Linux version 6.1\r\n"), 0, "the sink got the line with CR LF");
    EXPECT_EQ(uart.transmitted, 19, "19 bytes transmitted");
    EXPECT_EQ(irq4_rises, 0, "no interrupt with IER 0 and OUT2 clear");
    /* probe_baud reads the divisor back. */
    outb(c | 0x80, COM + LCR);
    EXPECT_EQ(inb(COM + DLL) | inb(COM + DLM) << 8, 12, "the divisor latch reads back");
    outb(c, COM + LCR);
}

/* autoconfig() for a port without UPF_SKIP_TEST, then autoconfig_16550a's full probe. Returns
 * 1 if every step found a 16550A, as Linux would. */
static int autoconfig(int full_probe)
{
    unsigned char scratch, scratch2, scratch3, save_lcr, save_mcr, status1, status2;
    unsigned int iersave, count;
    scratch = inb(COM + IER);
    outb(0, COM + IER);
    outb(0xff, 0x80);
    scratch2 = inb(COM + IER) & 0x0f;
    outb(0x0f, COM + IER);
    outb(0, 0x80);
    scratch3 = inb(COM + IER) & 0x0f;
    outb(scratch, COM + IER);
    EXPECT_EQ(scratch2, 0, "autoconfig IER test: IER reads 0");
    EXPECT_EQ(scratch3, 0x0f, "autoconfig IER test: IER reads 0x0f");
    save_mcr = inb(COM + MCR);
    save_lcr = inb(COM + LCR);
    outb(0x10 | 0x0a, COM + MCR); /* loopback test */
    status1 = inb(COM + MSR) & 0xf0;
    outb(save_mcr, COM + MCR);
    EXPECT_EQ(status1, 0x90, "loopback test: RTS and OUT2 come back as CTS and DCD");
    outb(0xbf, COM + LCR);
    outb(0, COM + EFR);
    outb(0, COM + LCR);
    outb(0x01, COM + FCR);
    scratch = inb(COM + IIR);
    EXPECT_EQ(scratch >> 6, 3, "IIR bits 6-7 after FCR enable: a 16550A");
    if (full_probe) { /* UPF_FULL_PROBE / CONFIG_SERIAL_8250_16550A_VARIANTS */
        outb(0xbf, COM + LCR);
        EXPECT(inb(COM + EFR) != 0, "no EFR (ST16C650V2 test)");
        outb(0, COM + LCR);
        status1 = inb(COM + MCR);
        outb(0xe0, COM + LCR);
        status2 = inb(COM + 2);
        if (!((status2 ^ status1) & 0x10)) {
            outb(0, COM + LCR);
            outb(status1 ^ 0x10, COM + MCR);
            outb(0xe0, COM + LCR);
            status2 = inb(COM + 2);
            outb(0, COM + LCR);
            outb(status1, COM + MCR);
            EXPECT_EQ((status2 ^ status1) & 0x10, 0, "not a National Semiconductor SuperIO");
        }
        outb(0, COM + LCR);
        outb(0x21, COM + FCR);
        status1 = inb(COM + IIR) >> 5;
        outb(0x01, COM + FCR);
        outb(0x80, COM + LCR);
        outb(0x21, COM + FCR);
        status2 = inb(COM + IIR) >> 5;
        outb(0x01, COM + FCR);
        outb(0, COM + LCR);
        EXPECT(!(status1 == 6 && status2 == 7), "not a TI16750");
        iersave = inb(COM + IER);
        outb(iersave & ~0x40u, COM + IER);
        EXPECT_EQ(inb(COM + IER) & 0x40, 0, "IER bit 6 (UUE) reads 0");
        outb(iersave | 0x40, COM + IER);
        EXPECT_EQ(inb(COM + IER) & 0x40, 0, "IER bit 6 cannot be set: not an XScale");
        outb(iersave, COM + IER);
        { /* size_fifo */
            unsigned char old_fcr, old_mcr, old_lcr, dll, dlm;
            old_lcr = inb(COM + LCR);
            outb(0, COM + LCR);
            old_fcr = inb(COM + FCR);
            old_mcr = inb(COM + MCR);
            outb(0x07, COM + FCR);
            outb(0x10, COM + MCR);
            outb(0x80, COM + LCR);
            dll = inb(COM + DLL);
            dlm = inb(COM + DLM);
            outb(1, COM + DLL);
            outb(0, COM + DLM);
            outb(0x03, COM + LCR);
            for (count = 0; count < 256; count++)
                outb((uint8_t)count, COM + TX);
            for (count = 0; (inb(COM + LSR) & 0x01) && count < 256; count++)
                inb(COM + RX);
            outb(old_fcr, COM + FCR);
            outb(old_mcr, COM + MCR);
            outb(0x80, COM + LCR);
            outb(dll, COM + DLL);
            outb(dlm, COM + DLM);
            outb(old_lcr, COM + LCR);
            EXPECT_EQ(count, 16, "size_fifo counts a 16-byte FIFO: a 16550A, not a U6_16550A");
            EXPECT_EQ(uart.transmitted, 0, "loopback bytes never reach the sink");
        }
    }
    outb(save_lcr, COM + LCR);
    outb(save_mcr, COM + MCR); /* reset the UART */
    outb(0x01, COM + FCR);     /* serial8250_clear_fifos */
    outb(0x07, COM + FCR);
    outb(0x00, COM + FCR);
    inb(COM + RX);
    outb(0, COM + IER);        /* serial8250_clear_IER */
    return (scratch >> 6) == 3;
}

static void test_uart_driver(void)
{
    unsigned char iir, iir1, lsr;
    unsigned int rises, i;
    machine_reset(0);
    init_8259A(0);
    cached_irq_mask = 0xffff;
    unmask_8259A_irq(2);
    outb(0x5a, COM + SCR);
    EXPECT_EQ(inb(COM + SCR), 0x5a, "the scratch register holds a byte");
    EXPECT_EQ(autoconfig(0), 1, "autoconfig finds a 16550A");
    EXPECT_EQ(autoconfig(1), 1, "the full 16550A variant probe finds a plain 16550A");
    EXPECT_EQ(console_len, 0, "probing transmits nothing");

    /* serial8250_do_startup */
    outb(0x01, COM + FCR);
    outb(0x07, COM + FCR);
    outb(0x00, COM + FCR);
    inb(COM + LSR);
    inb(COM + RX);
    inb(COM + IIR);
    inb(COM + MSR);
    EXPECT(inb(COM + LSR) != 0xff, "the LSR safety check");
    EXPECT(inb(COM + LSR) & 0x20, "wait_for_xmitr(THRE)");
    outb(0x02, COM + IER);
    iir1 = inb(COM + IIR);
    outb(0, COM + IER);
    outb(0x02, COM + IER);
    iir = inb(COM + IIR);
    outb(0, COM + IER);
    EXPECT_EQ(iir1, 0x02, "THRE test: enabling THRI raises the THRE interrupt (FIFOs off)");
    EXPECT_EQ(iir, 0x02, "THRE test: re-enabling re-asserts it: no UART_BUG_THRE");
    outb(0x03, COM + LCR);
    outb(0x0b, COM + MCR); /* serial8250_set_mctrl: DTR, RTS, OUT2 */
    unmask_8259A_irq(4);   /* request_irq(4) */
    outb(0x02, COM + IER); /* the TXEN test */
    lsr = inb(COM + LSR);
    iir = inb(COM + IIR);
    outb(0, COM + IER);
    EXPECT(!((lsr & 0x40) && (iir & 0x01)), "TXEN test: the THRE interrupt shows: no UART_BUG_TXEN");
    inb(COM + LSR);
    inb(COM + RX);
    inb(COM + IIR);
    inb(COM + MSR);
    /* The TXEN test raised and dropped IRQ 4: Linux would take it as a stray edge; take it here. */
    if (pic_pending(&pic) == 0x34)
        deliver_one();
    /* serial8250_do_set_termios: 115200 8n1, FIFO with an 8-byte trigger, IER RLSI | RDI. */
    outb(0x83, COM + LCR);
    outb(1, COM + DLL);
    outb(0, COM + DLM);
    outb(0x03, COM + LCR);
    outb(0x81, COM + FCR);
    outb(0x05, COM + IER);
    EXPECT_EQ(inb(COM + IIR), 0xc1, "FIFOs on, no interrupt");
    EXPECT_EQ(uart_irq_level(&uart), 0, "IRQ 4 low");

    /* Transmit by interrupt: start_tx sets THRI; each interrupt, serial8250_tx_chars writes up to 16. */
    {
        const char *msg = "init: hello from user space, through the 8250 interrupt path\n";
        unsigned int sent = 0, n = (unsigned int)strlen(msg), loops = 0, handled = 0;
        console_len = 0;
        rises = irq4_rises;
        outb(0x07, COM + IER); /* __start_tx */
        EXPECT_EQ(uart_irq_level(&uart), 1, "enabling THRI with OUT2 set raises IRQ 4");
        EXPECT_EQ(pic_pending(&pic), 0x34, "the PIC offers vector 0x34");
        while (pic_pending(&pic) == 0x34 && loops++ < 100) {
            pic_acknowledge(&pic);
            mask_and_ack_8259A(4);
            for (;;) { /* serial8250_interrupt: until IIR says no interrupt */
                iir = inb(COM + IIR);
                if (iir & 0x01)
                    break;
                handled++;
                lsr = inb(COM + LSR);
                if ((lsr & 0x20) && sent < n) {
                    for (i = 0; i < 16 && sent < n; i++)
                        outb((uint8_t)msg[sent++], COM + TX);
                }
                if (sent == n)
                    outb(0x05, COM + IER); /* __stop_tx */
            }
            unmask_8259A_irq(4);
        }
        EXPECT_EQ(strcmp(console, msg), 0, "the whole message reached the sink by THRE interrupts");
        EXPECT_EQ(handled, (n + 15) / 16, "one THRE interrupt per 16 bytes");
        EXPECT(irq4_rises - rises >= 2, "the line rose again after each refill (edges for the 8259)");
        EXPECT_EQ(uart_irq_level(&uart), 0, "IRQ 4 low after stop_tx");
        EXPECT_EQ(pic_pending(&pic), -1, "nothing left for the PIC");
    }

    /* Receive: bytes pushed by the VMM; the timeout interrupt below the trigger level, RDA at it. */
    EXPECT_EQ(uart_rx_room(&uart), 16, "a 16-byte receive FIFO");
    uart_receive(&uart, 'h');
    uart_receive(&uart, 'i');
    EXPECT_EQ(uart_irq_level(&uart), 1, "received data raises IRQ 4");
    EXPECT_EQ(pic_pending(&pic), 0x34, "and the PIC offers it");
    EXPECT_EQ(inb(COM + IIR), 0xcc, "two bytes under the trigger level: character timeout");
    EXPECT_EQ(inb(COM + LSR) & 0x61, 0x61, "LSR: data ready, THR and transmitter empty");
    EXPECT_EQ(inb(COM + RX), 'h', "first byte");
    EXPECT_EQ(inb(COM + RX), 'i', "second byte");
    EXPECT_EQ(inb(COM + LSR) & 0x01, 0, "no more data");
    EXPECT_EQ(inb(COM + IIR), 0xc1, "no interrupt once the FIFO is read");
    EXPECT_EQ(uart_irq_level(&uart), 0, "IRQ 4 low again");
    deliver_one();
    for (i = 0; i < 8; i++)
        uart_receive(&uart, (uint8_t)('0' + i));
    EXPECT_EQ(inb(COM + IIR), 0xc4, "eight bytes: received data available at the trigger level");
    rises = uart.overruns;
    for (i = 0; i < 12; i++)
        uart_receive(&uart, 'x');
    EXPECT_EQ(uart.overruns - rises, 4, "20 bytes into 16: four overruns");
    EXPECT_EQ(inb(COM + IIR), 0xc6, "the overrun is the highest-priority interrupt");
    EXPECT_EQ(inb(COM + LSR) & 0x03, 0x03, "LSR: overrun and data ready");
    EXPECT_EQ(inb(COM + LSR) & 0x02, 0, "reading LSR clears the overrun");
    EXPECT_EQ(inb(COM + RX), '0', "the FIFO kept the first bytes");
    outb(0x87, COM + FCR); /* clear the FIFOs */
    EXPECT_EQ(inb(COM + LSR) & 0x01, 0, "FCR clears the receive FIFO");
    outb(0x00, COM + FCR);
    EXPECT_EQ(uart_rx_room(&uart), 1, "without the FIFO, one byte");
    EXPECT_EQ(uart_receive(&uart, 'a'), 1, "the holding register takes one");
    EXPECT_EQ(uart_receive(&uart, 'b'), 0, "the second overruns");
    EXPECT_EQ(inb(COM + IIR), 0x06, "FIFOs off: IIR bits 6-7 clear, line status first");
    inb(COM + LSR);
    EXPECT_EQ(inb(COM + IIR), 0x04, "then received data (no timeout without the FIFO)");
    inb(COM + RX);
    deliver_one();

    /* serial8250_console_write: save IER, clear it, poll THRE per byte, wait BOTH_EMPTY, restore. */
    {
        unsigned int ier;
        console_len = 0;
        ier = inb(COM + IER);
        outb(0, COM + IER);
        for (i = 0; i < 3; i++) {
            EXPECT(inb(COM + LSR) & 0x20, "console: THRE before each byte");
            outb((uint8_t)"ok\n"[i], COM + TX);
        }
        EXPECT_EQ(inb(COM + LSR) & 0x60, 0x60, "console: BOTH_EMPTY at the end");
        outb((uint8_t)ier, COM + IER);
        EXPECT_EQ(strcmp(console, "ok\n"), 0, "the console line reached the sink");
    }

    /* MCR OUT2 gates the line; loopback disconnects it; modem status deltas and their interrupt. */
    outb(0x0f, COM + IER);
    outb(0x03, COM + MCR); /* OUT2 off */
    uart_receive(&uart, 'z');
    EXPECT_EQ(uart_irq_level(&uart), 0, "OUT2 clear: no IRQ even with data ready");
    outb(0x0b, COM + MCR);
    EXPECT_EQ(uart_irq_level(&uart), 1, "OUT2 set: IRQ");
    outb(0x1b, COM + MCR);
    EXPECT_EQ(uart_irq_level(&uart), 0, "loopback: the IRQ line is not driven");
    inb(COM + RX);
    inb(COM + MSR);
    outb(0x19, COM + MCR); /* loopback, DTR and OUT2 (RTS dropped) */
    EXPECT_EQ(inb(COM + IIR), 0x02, "THRE (enabled by IER 0x0f) outranks modem status");
    EXPECT_EQ(inb(COM + IIR), 0x00, "then the modem status change: IIR 0 (FIFOs off)");
    EXPECT_EQ(inb(COM + MSR), 0xa1, "MSR: DSR and DCD, delta CTS");
    EXPECT_EQ(inb(COM + IIR), 0x01, "reading MSR clears it: no interrupt");
    outb(0x0b, COM + MCR);
    inb(COM + MSR);
    EXPECT_EQ(inb(COM + MSR), 0xb0, "out of loopback: CTS, DSR and DCD asserted");
    EXPECT_EQ(uart_read(&uart, 0x2f8), 0xff, "other ports read 0xff");
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "--flip")) {
        flip = atoi(argv[2]);
    } else if (argc == 2 && !strcmp(argv[1], "--bench")) {
        bench();
        return 0;
    } else if (argc == 2 && !strcmp(argv[1], "--script")) {
        run_script();
        return 0;
    } else if (argc == 2 && !strcmp(argv[1], "--calibration-sweep")) {
        calibration_sweep();
        return 0;
    } else if (argc == 3 && !strcmp(argv[1], "--trace")) {
        trace = fopen(argv[2], "wb");
        if (!trace) {
            perror(argv[2]);
            return 2;
        }
    } else if (argc != 1) {
        fprintf(stderr, "usage: devices-test [--flip N | --trace FILE | --script | --calibration-sweep | --bench]\n");
        return 64;
    }
    test_pic();
    test_pit_periodic();
    test_pit_oneshot();
    test_pit_calibration();
    test_earlyprintk();
    test_uart_driver();
    printf("devices-test: %d checks, %d failed\n", checks, failures);
    if (trace && fclose(trace) != 0) {
        perror("trace");
        return 2;
    }
    return failures ? 1 : 0;
}
