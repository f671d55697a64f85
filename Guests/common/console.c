/* console.c: COM1 output (the transcript), QEMU's isa-debug-exit, and the helpers both demo guests use.
 * SPDX-License-Identifier: MIT
 */
#include "console.h"

void (*early_console)(const char *s, unsigned long n);

#define COM1 0x3f8

void serial_putc(char c)
{
    if (early_console) {
        early_console(&c, 1);
        return;
    }
    while ((inb(COM1 + 5) & 0x20) == 0)
        ;
    outb(COM1, (unsigned char)c);
}

void serial_puts(const char *s)
{
    while (*s)
        serial_putc(*s++);
}

void serial_hex(unsigned long v)
{
    static const char digits[] = "0123456789abcdef";
    int shift;
    serial_puts("0x");
    for (shift = 28; shift >= 0; shift -= 4)
        serial_putc(digits[(v >> shift) & 15]);
}

void serial_dec(unsigned long v)
{
    char buf[24];
    int i = 0;
    do
        buf[i++] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    while (i)
        serial_putc(buf[--i]);
}

int serial_transmitter_empty(void) { return (inb(COM1 + 5) & 0x20) != 0; }

void pic_mask_all(void)
{
    outb(0x21, 0xff);
    outb(0xa1, 0xff);
}

void debug_exit(unsigned char value) { outb(0xf4, value); }

static int failures;

void check(const char *what, int ok)
{
    serial_puts(what);
    serial_puts(ok ? ": ok\n" : ": FAIL\n");
    if (!ok)
        failures++;
}

int check_failures(void) { return failures; }

const char *backend_option(const char *cmdline)
{
    const char *p;
    for (p = cmdline; p && *p; p++) {
        const char *k = "previrt=", *q = p;
        while (*k && *q == *k) {
            k++;
            q++;
        }
        if (!*k)
            return q;
    }
    return "native";
}

int starts_with(const char *s, const char *word)
{
    while (*word)
        if (*s++ != *word++)
            return 0;
    return *s == 0 || *s == ' ';
}

unsigned long checksum(const unsigned char *begin, const unsigned char *end)
{
    unsigned long sum = 0;
    const unsigned char *p;
    for (p = begin; p < end; p++)
        sum = sum * 31 + *p;
    return sum;
}
