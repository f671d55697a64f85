/* measure.h: the clock and the fresh-page measurement that the guest's benchmarks (bench.c, tlscost.c)
 * and the host's bare costs (Benchmarks/linux/hostcost.c, ldtcost.c) share, so that a figure measured in
 * the guest and its host counterpart are taken the same way.
 * SPDX-License-Identifier: MIT
 */
#ifndef PREVIRT_MEASURE_H
#define PREVIRT_MEASURE_H

#include <sys/mman.h>
#include <time.h>

#define MEASURE_PAGE 4096

static inline unsigned long long now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (unsigned long long)t.tv_sec * 1000000000ull + (unsigned long long)t.tv_nsec;
}

static inline double now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

/* Microseconds per first write to a page of `pages` fresh anonymous pages, or -1 if they cannot be
 * mapped. */
static inline double fresh_page_fault_us(int pages)
{
    volatile unsigned char *p = mmap(NULL, (size_t)pages * MEASURE_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return -1;
    double t0 = now_us();
    for (int i = 0; i < pages; i++)
        p[i * MEASURE_PAGE] = 1;
    double t = (now_us() - t0) / pages;
    munmap((void *)p, (size_t)pages * MEASURE_PAGE);
    return t;
}

#endif
