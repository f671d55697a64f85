/* qemu_probe.c: a bare multiboot guest for qemu-system-i386 that runs device_scripts.h against QEMU's
 * own PC devices (8259A pair, 8254 and port 0x61, 16550A at 0x3f8) with interrupts off, prints each
 * recorded read on QEMU's debug console (port 0xe9) as devices-test --script prints the models', and
 * exits through isa-debug-exit (port 0xf4) with status 33.
 * SPDX-License-Identifier: MIT
 */
#include <stdint.h>

#include "device_scripts.h"
#include "device_script_print.h"

static inline void outb(uint8_t value, uint16_t port)
{
    __asm__ volatile("outb %0, %1" : : "a"(value), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
    uint8_t value;
    __asm__ volatile("inb %1, %0" : "=a"(value) : "Nd"(port));
    return value;
}

static void debug_put(char c)
{
    outb((uint8_t)c, 0xe9);
}

void guest_main(void);

void guest_main(void)
{
    unsigned int i;
    for (i = 0; i < DEVICE_SCRIPT_STEPS; i++) {
        const struct device_step *s = &device_script[i];
        if (s->op == 'o') {
            outb(s->value, s->port);
        } else {
            uint8_t v = inb(s->port);
            if (s->op == 'i')
                device_script_print(debug_put, i, s, v);
        }
    }
    device_script_print_end(debug_put);
    outb(0x10, 0xf4);
}
