/* console.h: what both demo guests share: port I/O, COM1 (the transcript), QEMU's isa-debug-exit, the
 * 8259A masks, the checks' verdict lines, and small helpers for the command line and the text checksum.
 * SPDX-License-Identifier: MIT
 */
#ifndef CONSOLE_H
#define CONSOLE_H

static inline void outb(unsigned short port, unsigned char v) { asm volatile("outb %0,%1" : : "a"(v), "Nd"(port)); }
static inline unsigned char inb(unsigned short port)
{
    unsigned char v;
    asm volatile("inb %1,%0" : "=a"(v) : "Nd"(port));
    return v;
}

/* COM1, through port I/O sites. Until the sites are patched an early console may stand in (under Xen,
 * port I/O would fault). */
extern void (*early_console)(const char *s, unsigned long n);
void serial_putc(char c);
void serial_puts(const char *s);
void serial_hex(unsigned long v);
void serial_dec(unsigned long v);
int serial_transmitter_empty(void);
void pic_mask_all(void);
void debug_exit(unsigned char value);

/* Prints "WHAT: ok" or "WHAT: FAIL" (a transcript line) and counts the failures. */
void check(const char *what, int ok);
int check_failures(void);

/* The value of `previrt=` in a command line (up to the end of the line), or "native". */
const char *backend_option(const char *cmdline);
/* Whether s starts with the word `word` (followed by the end or a blank). */
int starts_with(const char *s, const char *word);
/* A checksum of [begin, end): shows that a refused patch wrote nothing. */
unsigned long checksum(const unsigned char *begin, const unsigned char *end);

/* QEMU isa-debug-exit: the process exits with (value << 1) | 1. */
#define EXIT_PASS 0x10
#define EXIT_FAIL 0x11

#endif
