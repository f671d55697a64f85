/* device_script_print.h: one line per recorded read of device_scripts.h, "step port value" in hex,
 * the value masked as the step says; shared by the QEMU probe guest and devices-test --script.
 * SPDX-License-Identifier: MIT
 */
#ifndef DEVICE_SCRIPT_PRINT_H
#define DEVICE_SCRIPT_PRINT_H

#include "device_scripts.h"

static void device_script_hex(void (*put)(char), unsigned int value, int digits)
{
    while (digits--)
        put("0123456789abcdef"[(value >> (4 * digits)) & 15]);
}

static void device_script_print(void (*put)(char), unsigned int step, const struct device_step *s, uint8_t value)
{
    device_script_hex(put, step, 3);
    put(' ');
    device_script_hex(put, s->port, 3);
    put(' ');
    device_script_hex(put, s->value ? (unsigned int)(value & s->value) : value, 2);
    put('\n');
}

static void device_script_print_end(void (*put)(char))
{
    const char *end = "end of script\n";
    while (*end)
        put(*end++);
}

#endif
