/* uart8250.h: a 16550A-compatible UART (COM1 is at 0x3f8, IRQ 4) for Linux's 8250 driver and its
 * earlyprintk. Transmission is instant: a byte written to THR goes at once to the caller's sink (the
 * VMM's console buffer), so THR and the transmitter are always empty again by the next access.
 * Received bytes are pushed by the caller (uart_receive). The interrupt output is a level: the VMM
 * reads it (uart_irq_level) or is told of each change (the `irq` callback), which it passes to the
 * 8259's IRQ 4. No libc; state is a plain struct.
 * SPDX-License-Identifier: MIT
 */
#ifndef UART8250_H
#define UART8250_H

#include <stdint.h>

#define UART_COM1      0x3f8
#define UART_COM1_IRQ  4
#define UART_FIFO_SIZE 16

struct uart8250 {
    uint16_t base;                 /* the first of the eight ports */
    uint8_t ier, lcr, mcr, scr;
    uint8_t dll, dlm;              /* the divisor latch (recorded; there is no baud rate) */
    uint8_t fifo_enabled, rx_trigger;
    uint8_t line_errors;           /* LSR error bits (overrun) waiting to be read */
    uint8_t msr_delta;             /* MSR bits 0-3: modem inputs changed since MSR was read */
    uint8_t thre_pending;          /* the THR-empty interrupt is pending (until IIR read or THR write) */
    uint8_t irq_level;             /* the interrupt output as last reported */
    uint8_t rx[UART_FIFO_SIZE];
    uint8_t rx_head, rx_count;
    void (*transmit)(void *context, uint8_t byte); /* a transmitted byte (never called in loopback) */
    void (*irq)(void *context, int level);         /* the IRQ line changed (may be 0: poll instead) */
    void *context;
    uint32_t transmitted, received, overruns;      /* statistics */
};

/* Reset state. `transmit` receives each byte sent (0 discards them); `irq` may be 0 (poll instead). */
void uart_init(struct uart8250 *uart, uint16_t base, void (*transmit)(void *, uint8_t),
               void (*irq)(void *, int), void *context);

int uart_handles_port(const struct uart8250 *uart, uint16_t port);
uint8_t uart_read(struct uart8250 *uart, uint16_t port);
void uart_write(struct uart8250 *uart, uint16_t port, uint8_t value);

/* Room in the receiver (16 with the FIFO on, 1 without, less what waits to be read). */
unsigned int uart_rx_room(const struct uart8250 *uart);
/* A byte arriving on the line: 1 if taken, 0 if the receiver was full (an overrun, as on the chip:
 * the byte is lost and LSR reports it; check uart_rx_room first to avoid that). */
int uart_receive(struct uart8250 *uart, uint8_t byte);

/* The IRQ output: an interrupt is identified in IIR, MCR's OUT2 is set (on a PC it gates the line)
 * and the UART is not in loopback. */
int uart_irq_level(const struct uart8250 *uart);

#endif
