/* pic8259.c: the master/slave 8259A pair, as Linux's i8259 driver (arch/x86/kernel/i8259.c) drives
 * it: the ICW1-ICW4 initialization, the mask (OCW1), specific and non-specific EOI (OCW2), reading
 * IRR or ISR (OCW3), the cascade on IR2, edge-triggered requests latched in IRR, fully nested
 * priority with rotation, and the spurious IR7/IR15 of an INTA that finds no request.
 *
 * The slave's INT output is the master's IR2 input: after every change to the slave the model
 * recomputes it, so the master sees its rising edges as it sees any device's.
 * SPDX-License-Identifier: MIT
 */
#include "pic8259.h"

#define ICW1_IC4  0x01 /* ICW4 follows */
#define ICW1_SNGL 0x02 /* no cascade: ICW3 is skipped */
#define ICW1_LTIM 0x08 /* all inputs level-triggered */
#define ICW1_INIT 0x10 /* a command-port write with this bit is ICW1 */
#define ICW4_AEOI 0x02

static uint8_t level_triggered(const struct pic8259_chip *c)
{
    return (c->icw1 & ICW1_LTIM) ? 0xff : c->elcr;
}

/* Position of input `irq` in the priority order: 0 is the highest, 7 the lowest. */
static unsigned int rank(const struct pic8259_chip *c, unsigned int irq)
{
    return (irq - c->lowest - 1) & 7;
}

/* The highest-priority input whose bit is set in `bits`, or -1. */
static int highest(const struct pic8259_chip *c, uint8_t bits)
{
    unsigned int i;
    for (i = 1; i <= 8; i++) {
        unsigned int irq = (c->lowest + i) & 7;
        if (bits & (1u << irq))
            return (int)irq;
    }
    return -1;
}

/* The input this chip would raise INT for: the highest unmasked request, unless something of equal
 * or higher priority is in service (in special mask mode, masked in-service levels do not count). */
static int chip_pending(const struct pic8259_chip *c)
{
    uint8_t in_service = c->special_mask ? (uint8_t)(c->isr & ~c->imr) : c->isr;
    int request, serving;
    if (c->init_step)
        return -1;
    request = highest(c, (uint8_t)(c->irr & ~c->imr));
    if (request < 0)
        return -1;
    serving = highest(c, in_service);
    if (serving >= 0 && rank(c, (unsigned int)serving) <= rank(c, (unsigned int)request))
        return -1;
    return request;
}

static void set_line(struct pic8259_chip *c, unsigned int irq, int level)
{
    uint8_t bit = (uint8_t)(1u << irq);
    if (level) {
        if (!(c->line & bit) || (level_triggered(c) & bit))
            c->irr |= bit; /* a rising edge, or a level request */
        c->line |= bit;
    } else {
        c->line &= (uint8_t)~bit;
        if (level_triggered(c) & bit)
            c->irr &= (uint8_t)~bit;
    }
}

/* The slave's INT output drives the master's IR2. */
static void update_cascade(struct pic8259 *pic)
{
    set_line(&pic->master, PIC_CASCADE_IRQ, chip_pending(&pic->slave) >= 0);
}

/* One chip's part of INTA: the request goes from IRR to ISR (or, with auto-EOI, nowhere). */
static void acknowledge_chip(struct pic8259_chip *c, unsigned int irq)
{
    uint8_t bit = (uint8_t)(1u << irq);
    if (!(level_triggered(c) & bit))
        c->irr &= (uint8_t)~bit;
    if (!(c->icw4 & ICW4_AEOI))
        c->isr |= bit;
    else if (c->rotate_aeoi)
        c->lowest = (uint8_t)irq;
}

static void reset_chip(struct pic8259_chip *c, uint8_t base, uint8_t icw3)
{
    c->irr = c->isr = 0;
    c->imr = 0xff;
    c->vector_base = base;
    c->icw1 = ICW1_INIT | ICW1_IC4;
    c->icw3 = icw3;
    c->icw4 = 0x01;
    c->init_step = 0;
    c->lowest = 7;
    c->read_isr = c->poll = c->special_mask = c->rotate_aeoi = 0;
}

void pic_init(struct pic8259 *pic)
{
    /* As a PC BIOS leaves it (vectors 0x08 and 0x70, slave on IR2), but with every input masked. */
    reset_chip(&pic->master, 0x08, 1u << PIC_CASCADE_IRQ);
    reset_chip(&pic->slave, 0x70, PIC_CASCADE_IRQ);
    pic->master.line = pic->slave.line = 0;
    pic->master.elcr = pic->slave.elcr = 0;
    pic->acknowledged = pic->spurious = 0;
}

void pic_set_irq(struct pic8259 *pic, unsigned int irq, int level)
{
    if (irq >= 16 || irq == PIC_CASCADE_IRQ)
        return;
    if (irq < 8) {
        set_line(&pic->master, irq, level);
    } else {
        set_line(&pic->slave, irq - 8, level);
        update_cascade(pic);
    }
}

void pic_pulse(struct pic8259 *pic, unsigned int irq)
{
    pic_set_irq(pic, irq, 1);
    pic_set_irq(pic, irq, 0);
}

int pic_pending(const struct pic8259 *pic)
{
    int irq = chip_pending(&pic->master);
    if (irq < 0)
        return -1;
    if (irq != PIC_CASCADE_IRQ || (pic->master.icw1 & ICW1_SNGL))
        return pic->master.vector_base + irq;
    irq = chip_pending(&pic->slave);
    return pic->slave.vector_base + (irq < 0 ? 7 : irq);
}

int pic_acknowledge(struct pic8259 *pic)
{
    int irq = chip_pending(&pic->master), vector;
    pic->acknowledged++;
    if (irq < 0) { /* the request went away between INT and INTA: IR7, nothing put in service */
        pic->spurious++;
        return pic->master.vector_base + 7;
    }
    acknowledge_chip(&pic->master, (unsigned int)irq);
    if (irq != PIC_CASCADE_IRQ || (pic->master.icw1 & ICW1_SNGL))
        return pic->master.vector_base + irq;
    irq = chip_pending(&pic->slave);
    if (irq < 0) { /* the slave's spurious IR7; the master's IR2 stays in service */
        pic->spurious++;
        vector = pic->slave.vector_base + 7;
    } else {
        acknowledge_chip(&pic->slave, (unsigned int)irq);
        vector = pic->slave.vector_base + irq;
    }
    update_cascade(pic);
    return vector;
}

/* OCW2: end of interrupt, rotation and priority. */
static void write_ocw2(struct pic8259_chip *c, uint8_t v)
{
    unsigned int level = v & 7;
    int irq;
    switch (v >> 5) {
    case 0: /* clear rotate in AEOI */
    case 4: /* set rotate in AEOI */
        c->rotate_aeoi = (uint8_t)(v >> 7);
        break;
    case 1: /* non-specific EOI: the highest-priority level in service */
    case 5: /* the same, and rotate so that it becomes the lowest */
        irq = highest(c, c->isr);
        if (irq >= 0) {
            c->isr &= (uint8_t)~(1u << irq);
            if (v & 0x80)
                c->lowest = (uint8_t)irq;
        }
        break;
    case 3: /* specific EOI */
    case 7: /* the same, and rotate */
        c->isr &= (uint8_t)~(1u << level);
        if (v & 0x80)
            c->lowest = (uint8_t)level;
        break;
    case 6: /* set priority */
        c->lowest = (uint8_t)level;
        break;
    default: /* 2: no operation */
        break;
    }
}

static void write_command(struct pic8259_chip *c, uint8_t v)
{
    if (v & ICW1_INIT) {
        c->icw1 = v;
        c->init_step = 2;
        c->imr = c->isr = 0;
        c->irr = c->line & level_triggered(c); /* an edge input must see a new rising edge */
        c->lowest = 7;
        c->read_isr = c->poll = c->special_mask = c->rotate_aeoi = 0;
        if (!(v & ICW1_IC4))
            c->icw4 = 0;
    } else if (v & 0x08) { /* OCW3 */
        if (v & 0x02)
            c->read_isr = v & 1;
        if (v & 0x40)
            c->special_mask = (v >> 5) & 1;
        c->poll = (v >> 2) & 1;
    } else {
        write_ocw2(c, v);
    }
}

static void write_data(struct pic8259_chip *c, uint8_t v)
{
    switch (c->init_step) {
    case 2: /* ICW2: the vector of IR0 */
        c->vector_base = v & 0xf8;
        c->init_step = (c->icw1 & ICW1_SNGL) ? ((c->icw1 & ICW1_IC4) ? 4 : 0) : 3;
        break;
    case 3: /* ICW3: the master's slave inputs, or the slave's id */
        c->icw3 = v;
        c->init_step = (c->icw1 & ICW1_IC4) ? 4 : 0;
        break;
    case 4: /* ICW4: 8086 mode, auto-EOI */
        c->icw4 = v;
        c->init_step = 0;
        break;
    default: /* OCW1: the mask */
        c->imr = v;
        break;
    }
}

static uint8_t read_command(struct pic8259_chip *c)
{
    int irq;
    if (!c->poll)
        return c->read_isr ? c->isr : c->irr;
    c->poll = 0; /* a poll is an INTA done by reading */
    irq = chip_pending(c);
    if (irq < 0)
        return 0;
    acknowledge_chip(c, (unsigned int)irq);
    return (uint8_t)(0x80 | irq);
}

/* The ELCR: inputs made level-triggered request while their line is high. */
static void set_elcr(struct pic8259_chip *c, uint8_t elcr)
{
    c->elcr = elcr;
    c->irr = (uint8_t)((c->irr & ~level_triggered(c)) | (c->line & level_triggered(c)));
}

int pic_handles_port(uint16_t port)
{
    return port == PIC_MASTER_CMD || port == PIC_MASTER_DATA || port == PIC_SLAVE_CMD || port == PIC_SLAVE_DATA
        || port == PIC_ELCR1 || port == PIC_ELCR2;
}

uint8_t pic_read(struct pic8259 *pic, uint16_t port)
{
    uint8_t v;
    switch (port) {
    case PIC_MASTER_CMD: return read_command(&pic->master);
    case PIC_MASTER_DATA: return pic->master.imr;
    case PIC_SLAVE_CMD:
        v = read_command(&pic->slave);
        update_cascade(pic);
        return v;
    case PIC_SLAVE_DATA: return pic->slave.imr;
    case PIC_ELCR1: return pic->master.elcr;
    case PIC_ELCR2: return pic->slave.elcr;
    default: return 0xff;
    }
}

void pic_write(struct pic8259 *pic, uint16_t port, uint8_t value)
{
    switch (port) {
    case PIC_MASTER_CMD: write_command(&pic->master, value); break;
    case PIC_MASTER_DATA: write_data(&pic->master, value); break;
    case PIC_SLAVE_CMD: write_command(&pic->slave, value); break;
    case PIC_SLAVE_DATA: write_data(&pic->slave, value); break;
    case PIC_ELCR1: set_elcr(&pic->master, value & 0xf8); break; /* IRQ 0, 1, 2 are always edge */
    case PIC_ELCR2: set_elcr(&pic->slave, value & 0xde); break;  /* and IRQ 8 and 13 */
    default: return;
    }
    if (port == PIC_SLAVE_CMD || port == PIC_SLAVE_DATA || port == PIC_ELCR2)
        update_cascade(pic);
}
