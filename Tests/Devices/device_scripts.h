/* device_scripts.h: port sequences run twice, once against QEMU's own PC devices (by the probe guest,
 * Tests/Devices/qemu_probe.c, booted with qemu-system-i386 -kernel) and once against the VMM's device
 * models (devices-test --script). Both print every recorded read the same way, and the test compares
 * the two transcripts line by line: a differential test against a PC model Linux is known to run on.
 *
 * The steps follow Linux 6.1's drivers (i8259.c, early_printk.c, 8250_port.c autoconfig, size_fifo
 * and startup, the PIT's control words). Only reads whose value does not depend on time are recorded:
 * QEMU's devices run on the host's clock, the models on a simulated one. A read recorded with a mask
 * compares only the masked bits; each mask says below why: a bit that depends on time, or one where
 * QEMU and the datasheet part (the models follow the datasheet).
 * SPDX-License-Identifier: MIT
 */
#ifndef DEVICE_SCRIPTS_H
#define DEVICE_SCRIPTS_H

#include <stdint.h>

struct device_step {
    uint8_t op;     /* 'o' write, 'i' read and record (value: mask, 0 = all bits), 'x' read, not recorded */
    uint16_t port;
    uint8_t value;
};

#define O(port, v) {'o', port, v}
#define I(port) {'i', port, 0}
#define M(port, mask) {'i', port, mask}
#define X(port) {'x', port, 0}

static const struct device_step device_script[] = {
    /* Quiet the PC: stop channel 0 as Linux's clockevent_i8253_disable does (mode 0, a zero count,
     * mode 0 again); COM1's interrupt output off. On an 8254 (and the model) a control word stops
     * the count with OUT0 low: no IRQ 0 edge ever. QEMU's PIT ignores control words until its next
     * timer event: a lone 0x30 leaves the BIOS's tick armed, which then latches IRQ 0 in the IRR at
     * a random point of the script (3 runs in 100 on a loaded machine, measured with `make
     * device-probe-repeat` on a script with the lone 0x30 and bit 0 compared). The count write
     * re-arms it for one edge 54.9 ms (65536 ticks) later, after the script unless the host stalls
     * QEMU that long. So IRQ 0 stays masked below and bit 0 of every IRR read is left out of the
     * comparison: it depends on the host's clock. */
    O(0x43, 0x30), O(0x40, 0), O(0x40, 0), O(0x43, 0x30), O(0x3f9, 0), O(0x3fc, 0),

    /* ---- 8259A: probe_8259A, init_8259A(0) */
    O(0xa1, 0xff), O(0x21, 0xfb), I(0x21),
    O(0x21, 0xff), O(0x20, 0x11), O(0x21, 0x30), O(0x21, 0x04), O(0x21, 0x01),
    O(0xa0, 0x11), O(0xa1, 0x38), O(0xa1, 0x02), O(0xa1, 0x01), O(0x21, 0xff), O(0xa1, 0xff),
    I(0x21), I(0xa1), M(0x20, 0xfe), I(0xa0),
    O(0x20, 0x0b), O(0xa0, 0x0b), I(0x20), I(0xa0), O(0x20, 0x0a), O(0xa0, 0x0a),
    /* ELCR: the reserved bits (IRQ 0, 1, 2, 8, 13) read 0 */
    O(0x4d0, 0xff), O(0x4d1, 0xff), I(0x4d0), I(0x4d1), O(0x4d0, 0), O(0x4d1, 0), I(0x4d0), I(0x4d1),
    /* masks; a poll with nothing pending */
    O(0x21, 0xeb), O(0xa1, 0xef), I(0x21), I(0xa1),
    O(0x20, 0x0c), I(0x20), M(0x20, 0xfe),

    /* ---- 16550A: early_serial_hw_init, probe_baud, one earlyprintk byte */
    O(0x3fb, 0x03), O(0x3f9, 0), O(0x3fa, 0), O(0x3fc, 0x03), I(0x3fb),
    O(0x3fb, 0x83), O(0x3f8, 12), O(0x3f9, 0), I(0x3f8), I(0x3f9), O(0x3fb, 0x03),
    I(0x3fd), O(0x3f8, 'k'), I(0x3fd), I(0x3fa),
    /* autoconfig: scratch, the IER test, the loopback test (MSR: Linux masks 0xf0; QEMU has no
     * delta bits in loopback, the datasheet and the models do), FIFO detection */
    O(0x3ff, 0xa5), I(0x3ff),
    I(0x3f9), O(0x3f9, 0), I(0x3f9), O(0x3f9, 0x0f), I(0x3f9), O(0x3f9, 0),
    I(0x3fc), I(0x3fb), O(0x3fc, 0x1a), M(0x3fe, 0xf0), O(0x3fc, 0x03), M(0x3fe, 0xf0),
    O(0x3fb, 0xbf), O(0x3fa, 0), O(0x3fb, 0), O(0x3fa, 0x01), I(0x3fa),
    /* autoconfig_16550a's full probe: no EFR, no NS SuperIO, no TI16750, no XScale */
    O(0x3fb, 0xbf), I(0x3fa), O(0x3fb, 0), I(0x3fc), O(0x3fb, 0xe0), I(0x3fa), O(0x3fb, 0),
    O(0x3fa, 0x21), I(0x3fa), O(0x3fa, 0x01), O(0x3fb, 0x80), O(0x3fa, 0x21), I(0x3fa), O(0x3fa, 0x01),
    O(0x3fb, 0), I(0x3f9), O(0x3f9, 0x40), I(0x3f9), O(0x3f9, 0),
    /* serial8250_clear_fifos, then the reads of serial8250_do_startup (IIR: FIFOs off) */
    O(0x3fa, 0x01), O(0x3fa, 0x07), O(0x3fa, 0), X(0x3fd), X(0x3f8), I(0x3fa), M(0x3fe, 0xf0), I(0x3fd),
    /* the THRE test */
    O(0x3f9, 0x02), I(0x3fa), O(0x3f9, 0), O(0x3f9, 0x02), I(0x3fa), O(0x3f9, 0),
    /* LCR 8n1, MCR DTR | RTS | OUT2, the TXEN test: IRQ 4 reaches the 8259's IRR */
    O(0x3fb, 0x03), O(0x3fc, 0x0b), I(0x3fc),
    O(0x3f9, 0x02), I(0x3fd), M(0x20, 0xfe), I(0x3fa), M(0x20, 0xfe), O(0x3f9, 0), M(0x20, 0xfe),
    /* IRQ 4 pending and unmasked: a poll acknowledges it and puts it in service; EOI ends it */
    O(0x3f9, 0x02), M(0x20, 0xfe), O(0x20, 0x0c), I(0x20), O(0x20, 0x0b), I(0x20), O(0x20, 0x64), I(0x20),
    O(0x20, 0x0a), O(0x3f9, 0), M(0x20, 0xfe),
    /* set_termios: 115200, FIFO with an 8-byte trigger, IER RLSI | RDI; IIR with the FIFOs on */
    O(0x3fb, 0x83), O(0x3f8, 1), O(0x3f9, 0), O(0x3fb, 0x03), O(0x3fa, 0x81), O(0x3f9, 0x05),
    I(0x3fa), I(0x3f9), I(0x3fd),
    /* the console: THRE before a byte, BOTH_EMPTY after. With OUT2 off a PC's UART cannot raise
     * IRQ 4 (which is why Linux sets OUT2); QEMU raises it anyway, so IRR bit 4 is not compared
     * (nor bit 0, IRQ 0, as in every IRR read). */
    O(0x3f9, 0), I(0x3fd), O(0x3f8, '\n'), I(0x3fd), O(0x3fc, 0x03), O(0x3f9, 0x07), I(0x3fa), M(0x20, 0xee),
    O(0x3f9, 0),

    /* ---- 8254: control words and read-back status of channel 2 with its gate low. Only the
     * access and mode bits are compared: the OUT bit depends on time, and QEMU never sets the
     * null-count bit. Port 0x61: bits 0-1 (QEMU does not keep bits 2-3; a PC does). */
    O(0x61, 0x00), M(0x61, 0x03), O(0x61, 0x03), M(0x61, 0x03), O(0x61, 0x00),
    O(0x43, 0xb0), O(0x42, 0x34), O(0x42, 0x12), O(0x43, 0xe8), M(0x42, 0x3f),
    O(0x43, 0x94), O(0x42, 0x10), O(0x43, 0xe8), M(0x42, 0x3f),
    O(0x43, 0xa6), O(0x42, 0x10), O(0x43, 0xe8), M(0x42, 0x3f),
    O(0x43, 0xb8), O(0x42, 0x10), O(0x42, 0x00), O(0x43, 0xe8), M(0x42, 0x3f),
    O(0x43, 0x92), O(0x42, 0x10), O(0x43, 0xe8), M(0x42, 0x3f),
    O(0x43, 0x9a), O(0x42, 0x10), O(0x43, 0xe8), M(0x42, 0x3f),
    O(0x43, 0x34), O(0x40, 0x9c), O(0x40, 0x2e), O(0x43, 0xe2), M(0x40, 0x3f),
    O(0x43, 0x30),
};

#define DEVICE_SCRIPT_STEPS (sizeof device_script / sizeof device_script[0])

#undef O
#undef I
#undef M
#undef X

#endif
