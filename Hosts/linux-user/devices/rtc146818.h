/* rtc146818.h: the PC's CMOS real-time clock (an MC146818: index port 0x70, data port 0x71), enough
 * for Linux's mc146818_get_time: the time and date registers (BCD, 24-hour) from the caller's
 * wall-clock seconds, status register A with UIP clear (no update is ever in progress: the registers are
 * computed at each read), B (24-hour, BCD, no interrupts), C and D (valid RAM and time). No alarm, no
 * periodic or update interrupts (IRQ 8 never rises), no NVRAM beyond what reads back as written.
 * No libc; state is a plain struct.
 * SPDX-License-Identifier: MIT
 */
#ifndef RTC146818_H
#define RTC146818_H

#include <stdint.h>

#define RTC_INDEX 0x70
#define RTC_DATA  0x71

struct rtc146818 {
    uint8_t index;        /* the register selected through port 0x70 (bit 7, NMI disable, is dropped) */
    uint8_t ram[128];     /* registers 0x0e-0x7f: CMOS RAM, read back as written */
};

void rtc_init(struct rtc146818 *rtc);
int rtc_handles_port(uint16_t port);
/* `unix_seconds`: the wall-clock time (UTC) at the access. */
uint8_t rtc_read(struct rtc146818 *rtc, uint16_t port, uint64_t unix_seconds);
void rtc_write(struct rtc146818 *rtc, uint16_t port, uint8_t value);

#endif
