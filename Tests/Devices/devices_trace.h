/* devices_trace.h: the record format shared by devices-test --trace (which writes Linux's port
 * sequences) and the device models' fuzzer (Fuzz/devices_fuzzer.c, which reads them as seeds).
 * A record is 5 bytes: op (bits 0-2: what, bits 3-7: a time shift s), arg, value, and a 16-bit
 * little-endian delta; the clock advances by delta << s ns before the op. For port reads and writes,
 * arg indexes device_trace_ports.
 * SPDX-License-Identifier: MIT
 */
#ifndef DEVICES_TRACE_H
#define DEVICES_TRACE_H

#include <stdint.h>

enum device_trace_op {
    TRACE_READ, TRACE_WRITE, TRACE_IRQ_LINE, TRACE_INTA, TRACE_RECEIVE, TRACE_TIMER, TRACE_PIT_LOOK, TRACE_UART_LOOK,
};

static const uint16_t device_trace_ports[] = {0x20, 0x21, 0xa0, 0xa1, 0x4d0, 0x4d1, 0x40, 0x41, 0x42, 0x43, 0x61,
                                              0x3f8, 0x3f9, 0x3fa, 0x3fb, 0x3fc, 0x3fd, 0x3fe, 0x3ff, 0x80, 0x2f8};
#define DEVICE_TRACE_PORTS (sizeof device_trace_ports / sizeof device_trace_ports[0])

#endif
