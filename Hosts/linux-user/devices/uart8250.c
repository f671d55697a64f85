/* uart8250.c: a 16550A as Linux's 8250 driver (drivers/tty/serial/8250/8250_port.c) probes and uses
 * it: the scratch register, the IER test and the loopback test of autoconfig, the FIFO found through
 * IIR bits 6-7 after FCR is written, the divisor latch behind LCR's DLAB, THR-empty and
 * received-data interrupts identified in IIR and gated by MCR OUT2, the THRE re-assertion tests of
 * serial8250_do_startup, and earlyprintk's polling of LSR THRE.
 *
 * Register offsets (DLAB is LCR bit 7):
 *   0 RBR (read) / THR (write), DLL with DLAB     4 MCR
 *   1 IER, DLM with DLAB                          5 LSR
 *   2 IIR (read) / FCR (write)                    6 MSR
 *   3 LCR                                         7 SCR
 * SPDX-License-Identifier: MIT
 */
#include "uart8250.h"

#define IER_RDI   0x01 /* received data available */
#define IER_THRI  0x02 /* THR empty */
#define IER_RLSI  0x04 /* receiver line status */
#define IER_MSI   0x08 /* modem status */
#define IIR_NONE  0x01
#define IIR_MSR   0x00
#define IIR_THRE  0x02
#define IIR_RDA   0x04
#define IIR_RLS   0x06
#define IIR_TIMEOUT 0x0c
#define IIR_FIFO  0xc0 /* FIFOs enabled: what marks a 16550A */
#define LCR_DLAB  0x80
#define MCR_DTR   0x01
#define MCR_RTS   0x02
#define MCR_OUT1  0x04
#define MCR_OUT2  0x08
#define MCR_LOOP  0x10
#define LSR_DR    0x01
#define LSR_OE    0x02
#define LSR_THRE  0x20
#define LSR_TEMT  0x40
#define MSR_CTS   0x10
#define MSR_DSR   0x20
#define MSR_RI    0x40
#define MSR_DCD   0x80

/* The modem status inputs: in loopback, MCR's outputs fed back; otherwise a line that is always
 * ready (CTS, DSR and DCD asserted, no ring). */
static uint8_t modem_inputs(const struct uart8250 *u)
{
    if (!(u->mcr & MCR_LOOP))
        return MSR_CTS | MSR_DSR | MSR_DCD;
    return (uint8_t)((u->mcr & MCR_RTS ? MSR_CTS : 0) | (u->mcr & MCR_DTR ? MSR_DSR : 0)
                     | (u->mcr & MCR_OUT1 ? MSR_RI : 0) | (u->mcr & MCR_OUT2 ? MSR_DCD : 0));
}

/* The highest-priority interrupt condition enabled in IER, as IIR bits 0-3. */
static uint8_t interrupt_id(const struct uart8250 *u)
{
    if ((u->ier & IER_RLSI) && u->line_errors)
        return IIR_RLS;
    if ((u->ier & IER_RDI) && u->rx_count)
        /* With the FIFO on, fewer bytes than the trigger level raise the character timeout, which
         * the model signals at once (the line is idle between the caller's pushes). */
        return u->fifo_enabled && u->rx_count < u->rx_trigger ? IIR_TIMEOUT : IIR_RDA;
    if ((u->ier & IER_THRI) && u->thre_pending)
        return IIR_THRE;
    if ((u->ier & IER_MSI) && (u->msr_delta & 0x0f))
        return IIR_MSR;
    return IIR_NONE;
}

int uart_irq_level(const struct uart8250 *u)
{
    return interrupt_id(u) != IIR_NONE && (u->mcr & (MCR_OUT2 | MCR_LOOP)) == MCR_OUT2;
}

/* Tells the caller when the interrupt output changes. */
static void update_irq(struct uart8250 *u)
{
    uint8_t level = (uint8_t)uart_irq_level(u);
    if (level == u->irq_level)
        return;
    u->irq_level = level;
    if (u->irq)
        u->irq(u->context, level);
}

void uart_init(struct uart8250 *u, uint16_t base, void (*transmit)(void *, uint8_t), void (*irq)(void *, int),
               void *context)
{
    u->base = base;
    u->ier = u->mcr = u->scr = 0;
    u->lcr = 0x03; /* 8 bits, no parity, 1 stop bit */
    u->dll = 12;   /* 9600 baud from the 1.8432 MHz clock */
    u->dlm = 0;
    u->fifo_enabled = 0;
    u->rx_trigger = 1;
    u->line_errors = u->msr_delta = 0;
    u->thre_pending = 0;
    u->irq_level = 0;
    u->rx_head = u->rx_count = 0;
    u->transmit = transmit;
    u->irq = irq;
    u->context = context;
    u->transmitted = u->received = u->overruns = 0;
}

int uart_handles_port(const struct uart8250 *u, uint16_t port)
{
    return port >= u->base && port - u->base < 8;
}

unsigned int uart_rx_room(const struct uart8250 *u)
{
    unsigned int size = u->fifo_enabled ? UART_FIFO_SIZE : 1;
    return u->rx_count < size ? size - u->rx_count : 0;
}

static int receive(struct uart8250 *u, uint8_t byte)
{
    if (!uart_rx_room(u)) {
        u->line_errors |= LSR_OE;
        u->overruns++;
        return 0;
    }
    u->rx[(u->rx_head + u->rx_count) % UART_FIFO_SIZE] = byte;
    u->rx_count++;
    u->received++;
    return 1;
}

int uart_receive(struct uart8250 *u, uint8_t byte)
{
    int taken = receive(u, byte);
    update_irq(u);
    return taken;
}

static uint8_t read_rbr(struct uart8250 *u)
{
    uint8_t byte;
    if (!u->rx_count)
        return 0;
    byte = u->rx[u->rx_head];
    u->rx_head = (uint8_t)((u->rx_head + 1) % UART_FIFO_SIZE);
    u->rx_count--;
    return byte;
}

/* THR: the byte leaves at once (or, in loopback, arrives at the receiver), and THR is empty again. */
static void write_thr(struct uart8250 *u, uint8_t byte)
{
    u->thre_pending = 0;
    update_irq(u); /* the THRE interrupt clears, then is raised again below: an edge for the PIC */
    if (u->mcr & MCR_LOOP) {
        receive(u, byte);
    } else {
        if (u->transmit)
            u->transmit(u->context, byte);
        u->transmitted++;
    }
    u->thre_pending = 1;
}

static void write_fcr(struct uart8250 *u, uint8_t value)
{
    static const uint8_t trigger[4] = {1, 4, 8, 14};
    uint8_t enable = value & 1;
    if (enable != u->fifo_enabled || (value & 0x02)) /* toggling the FIFOs or RCVR reset empties them */
        u->rx_head = u->rx_count = 0;
    u->fifo_enabled = enable;
    u->rx_trigger = trigger[value >> 6];
}

static void write_mcr(struct uart8250 *u, uint8_t value)
{
    uint8_t before = modem_inputs(u), after, changed;
    u->mcr = value & 0x1f;
    after = modem_inputs(u);
    changed = before ^ after;
    u->msr_delta |= (uint8_t)((changed & (MSR_CTS | MSR_DSR | MSR_DCD)) >> 4);
    if ((before & MSR_RI) && !(after & MSR_RI))
        u->msr_delta |= 0x04; /* trailing edge of RI */
}

uint8_t uart_read(struct uart8250 *u, uint16_t port)
{
    uint8_t v = 0xff, id;
    if (!uart_handles_port(u, port))
        return 0xff;
    switch (port - u->base) {
    case 0: v = (u->lcr & LCR_DLAB) ? u->dll : read_rbr(u); break;
    case 1: v = (u->lcr & LCR_DLAB) ? u->dlm : u->ier; break;
    case 2:
        id = interrupt_id(u);
        if (id == IIR_THRE)
            u->thre_pending = 0; /* reading IIR that names it clears the THRE interrupt */
        v = (uint8_t)(id | (u->fifo_enabled ? IIR_FIFO : 0));
        break;
    case 3: v = u->lcr; break;
    case 4: v = u->mcr; break;
    case 5:
        v = (uint8_t)(LSR_THRE | LSR_TEMT | (u->rx_count ? LSR_DR : 0) | u->line_errors);
        u->line_errors = 0;
        break;
    case 6:
        v = (uint8_t)(modem_inputs(u) | u->msr_delta);
        u->msr_delta = 0;
        break;
    default: v = u->scr; break;
    }
    update_irq(u);
    return v;
}

void uart_write(struct uart8250 *u, uint16_t port, uint8_t value)
{
    if (!uart_handles_port(u, port))
        return;
    switch (port - u->base) {
    case 0:
        if (u->lcr & LCR_DLAB)
            u->dll = value;
        else
            write_thr(u, value);
        break;
    case 1:
        if (u->lcr & LCR_DLAB) {
            u->dlm = value;
        } else {
            /* Enabling the THRE interrupt while THR is empty raises it at once. */
            if ((value & IER_THRI) && !(u->ier & IER_THRI))
                u->thre_pending = 1;
            u->ier = value & 0x0f;
        }
        break;
    case 2: write_fcr(u, value); break;
    case 3: u->lcr = value; break;
    case 4: write_mcr(u, value); break;
    case 7: u->scr = value; break;
    default: break; /* LSR and MSR: factory test writes, ignored */
    }
    update_irq(u);
}
