/* guest.h: the demo guest's own interfaces.
 * SPDX-License-Identifier: MIT
 */
#ifndef GUEST_H
#define GUEST_H

void serial_putc(char c);
void serial_puts(const char *s);
void serial_hex(unsigned long v);
void serial_dec(unsigned long v);
int serial_transmitter_empty(void);
void pic_mask_all(void);
void debug_exit(unsigned char value);

/* checks.c: exercise every sensitive kind and report; returns the number of failures. */
int run_checks(void);

/* boot.S */
void far_target(void);
void soft_interrupt(void);
extern volatile unsigned int far_calls, soft_interrupts;

/* QEMU isa-debug-exit: the process exits with (value << 1) | 1. */
#define EXIT_PASS 0x10
#define EXIT_FAIL 0x11

#endif
