/* rtc146818.c: the CMOS clock, computed at each read from the caller's clock (rtc146818.h).
 * SPDX-License-Identifier: MIT
 */
#include "rtc146818.h"

static uint8_t bcd(unsigned int v) { return (uint8_t)(((v / 10) << 4) | (v % 10)); }

void rtc_init(struct rtc146818 *rtc)
{
    unsigned int i;
    rtc->index = 0;
    for (i = 0; i < sizeof rtc->ram; i++)
        rtc->ram[i] = 0;
}

int rtc_handles_port(uint16_t port) { return port == RTC_INDEX || port == RTC_DATA; }

/* The civil date of a day count since 1970-01-01 (the proleptic Gregorian calendar, in 400-year eras). */
static void civil(uint64_t days, unsigned int *year, unsigned int *month, unsigned int *day)
{
    uint64_t z = days + 719468, era = z / 146097, doe = z - era * 146097;
    uint64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    uint64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
    *day = (unsigned int)(doy - (153 * mp + 2) / 5 + 1);
    *month = (unsigned int)(mp < 10 ? mp + 3 : mp - 9);
    *year = (unsigned int)(yoe + era * 400 + (*month <= 2));
}

uint8_t rtc_read(struct rtc146818 *rtc, uint16_t port, uint64_t t)
{
    unsigned int year, month, day;
    uint64_t days = t / 86400, s = t % 86400;
    if (port != RTC_DATA)
        return 0xff; /* the index port is write-only */
    civil(days, &year, &month, &day);
    switch (rtc->index) {
    case 0x00: return bcd((unsigned int)(s % 60));
    case 0x02: return bcd((unsigned int)(s / 60 % 60));
    case 0x04: return bcd((unsigned int)(s / 3600));
    case 0x06: return bcd((unsigned int)((days + 4) % 7 + 1)); /* 1970-01-01 was a Thursday: 1 is Sunday */
    case 0x07: return bcd(day);
    case 0x08: return bcd(month);
    case 0x09: return bcd(year % 100);
    case 0x32: return bcd(year / 100 % 100); /* the century (IBM's convention; Linux reads it only when ACPI names it) */
    case 0x01: case 0x03: case 0x05: return 0; /* the alarms */
    case 0x0a: return 0x26;  /* 32.768 kHz time base, 1,024 Hz rate, UIP clear */
    case 0x0b: return 0x02;  /* 24-hour, BCD, no interrupts enabled, no daylight saving */
    case 0x0c: return 0x00;  /* no interrupt flags */
    case 0x0d: return 0x80;  /* the RAM and time are valid */
    default: return rtc->ram[rtc->index & 0x7f];
    }
}

void rtc_write(struct rtc146818 *rtc, uint16_t port, uint8_t value)
{
    if (port == RTC_INDEX)
        rtc->index = value & 0x7f;
    else if (rtc->index >= 0x0e)
        rtc->ram[rtc->index] = value; /* the clock registers ignore writes: the host's clock is the time */
}
