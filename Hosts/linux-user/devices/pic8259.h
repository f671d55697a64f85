/* pic8259.h: the PC's pair of 8259A interrupt controllers (master at 0x20, slave at 0xa0 on the
 * master's IR2) and the ELCR at 0x4d0/0x4d1, as a model the VMM drives: devices set their request
 * lines, the VMM asks which vector is pending, acknowledges it (the CPU's INTA cycle) when it delivers
 * the interrupt, and forwards the guest's port I/O. No libc; state is a plain struct.
 * SPDX-License-Identifier: MIT
 */
#ifndef PIC8259_H
#define PIC8259_H

#include <stdint.h>

#define PIC_MASTER_CMD  0x20
#define PIC_MASTER_DATA 0x21
#define PIC_SLAVE_CMD   0xa0
#define PIC_SLAVE_DATA  0xa1
#define PIC_ELCR1       0x4d0
#define PIC_ELCR2       0x4d1
#define PIC_CASCADE_IRQ 2

/* One 8259A. */
struct pic8259_chip {
    uint8_t irr, isr, imr;  /* request, in-service and mask registers */
    uint8_t line;           /* the IR input lines as they are now (for edge detection) */
    uint8_t elcr;           /* level-triggered inputs (ELCR; LTIM in ICW1 makes all eight level) */
    uint8_t vector_base;    /* ICW2 & 0xf8 */
    uint8_t icw1, icw3, icw4;
    uint8_t init_step;      /* 0 ready; 2, 3, 4: the ICW expected next */
    uint8_t lowest;         /* the lowest-priority input (rotation); 7 after initialization */
    uint8_t read_isr;       /* OCW3 RIS: reads of the command port return ISR, else IRR */
    uint8_t poll;           /* OCW3 P: the next command-port read is a poll (and acknowledges) */
    uint8_t special_mask;   /* OCW3 SMM */
    uint8_t rotate_aeoi;    /* OCW2 R with AEOI */
};

struct pic8259 {
    struct pic8259_chip master, slave;
    uint32_t acknowledged, spurious; /* statistics: INTA cycles, and how many found no request */
};

/* Power-on state: everything masked off, no vector base programmed (the guest must initialize). */
void pic_init(struct pic8259 *pic);

/* Sets input `irq` (0-15) to `level`. An edge-triggered input latches a request in IRR on a rising
 * edge; the request stays until acknowledged, even if the line drops. A level-triggered input's
 * request follows the line. IRQ 2 is the cascade: setting it does nothing. */
void pic_set_irq(struct pic8259 *pic, unsigned int irq, int level);
static inline void pic_raise(struct pic8259 *pic, unsigned int irq) { pic_set_irq(pic, irq, 1); }
static inline void pic_lower(struct pic8259 *pic, unsigned int irq) { pic_set_irq(pic, irq, 0); }
/* A rising then a falling edge: what the PIT's output does once per period. */
void pic_pulse(struct pic8259 *pic, unsigned int irq);

/* The vector the CPU would get if it acknowledged now (the INTR line is up), or -1. This is the
 * highest-priority unmasked request not blocked by a request of equal or higher priority in service;
 * through the cascade, the slave's. Does not change state. */
int pic_pending(const struct pic8259 *pic);

/* The INTA cycle: moves the pending request from IRR to ISR (unless auto-EOI) and returns its vector.
 * With nothing pending it returns the spurious vector of IR7 (master) or IR15 (slave, with the
 * master's IR2 put in service), as the hardware does; call it only after pic_pending said >= 0. */
int pic_acknowledge(struct pic8259 *pic);

/* Port I/O: 0x20, 0x21, 0xa0, 0xa1, 0x4d0, 0x4d1. Other ports read 0xff and ignore writes. */
int pic_handles_port(uint16_t port);
uint8_t pic_read(struct pic8259 *pic, uint16_t port);
void pic_write(struct pic8259 *pic, uint16_t port, uint8_t value);

#endif
