/* guest.h: the x86_64 demo guest's own interfaces.
 * SPDX-License-Identifier: MIT
 */
#ifndef GUEST_H
#define GUEST_H

static inline void outb(unsigned short port, unsigned char v) { asm volatile("outb %0,%1" : : "a"(v), "Nd"(port)); }
static inline unsigned char inb(unsigned short port)
{
    unsigned char v;
    asm volatile("inb %1,%0" : "=a"(v) : "Nd"(port));
    return v;
}

/* serial.c: COM1, through port I/O sites (patched under Xen to go to Xen's console). Until the sites
 * are patched, an early console may stand in (under Xen, port I/O would fault). */
extern void (*early_console)(const char *s, unsigned long n);
void serial_putc(char c);
void serial_puts(const char *s);
void serial_hex(unsigned long v);
void serial_dec(unsigned long v);
int serial_transmitter_empty(void);
void pic_mask_all(void);
void debug_exit(unsigned char value);

/* timer.c: the 8254's channel 0 on IRQ 0 of the 8259A, vector 0x20 of the IDT. */
extern volatile unsigned int timer_ticks;
void timer_setup(void);
void timer_idt(unsigned long *base, unsigned short *limit); /* the IDT timer_setup loaded */
void timer_start(int periodic, unsigned int count);
void timer_stop(void);
int timer_pending(void);
void timer_interrupt(void); /* boot.S */

/* checks.c: exercise every sensitive kind the guest uses and report; returns the number of failures.
 * `under_xen` changes what a check expects to observe (cpuid's hypervisor leaves), never what it
 * prints. */
int run_checks(int under_xen);

/* kernel.c */
struct previrt_backend;
struct previrt_result;
int patch_image(const struct previrt_backend *backend, struct previrt_result *result);
int run_demo(int under_xen);

/* QEMU isa-debug-exit: the process exits with (value << 1) | 1. */
#define EXIT_PASS 0x10
#define EXIT_FAIL 0x11

#endif
