/* bench.c: under Xen, the cost of sensitive operations patched by the xen backend against the same
 * instructions left native, which Xen traps and emulates (or, for pushf/popf, runs natively with Xen's
 * IF instead of the guest's). Linked into the x86_64 demo guest as out/bench/guest64-bench.elf; `make
 * bench` boots it as dom0. Times are Xen's system time per iteration of each loop (loops.S), the
 * median of rounds that alternate patched and native; under QEMU's TCG they are not hardware times.
 * SPDX-License-Identifier: MIT
 */
#include "guest.h"
#include "previrt_runtime.h"

void bench_cli_sti_patched(unsigned long n), bench_cli_sti_native(unsigned long n);
void bench_pushf_popf_patched(unsigned long n), bench_pushf_popf_native(unsigned long n);
void bench_out_patched(unsigned long n), bench_out_native(unsigned long n);
void bench_cr3_patched(unsigned long n), bench_cr3_native(unsigned long n);
void bench_nothing(unsigned long n);

struct bench_row {
    const char *name;
    void (*patched)(unsigned long), (*native)(unsigned long);
    const char *native_traps; /* which native instructions fault in ring 3 (Docs/in-place-vmm.md) */
};

static const struct bench_row rows[] = {
    {"cli; sti", bench_cli_sti_patched, bench_cli_sti_native, "2 (Xen emulates both as no-ops)"},
    {"pushfq; popfq", bench_pushf_popf_patched, bench_pushf_popf_native, "0 (but IF is Xen's, not the guest's)"},
    {"outb to port 0x80", bench_out_patched, bench_out_native, "1 (the backend passes the port through: 1 trap too)"},
    {"mov to cr3 (same value)", bench_cr3_patched, bench_cr3_native, "1 (Xen emulates the write)"},
};

#define ITERATIONS 2000
#define ROUNDS 5

static unsigned long hypercalls(const struct previrt_xen *xen)
{
    unsigned long sum = 0;
    unsigned int i;
    for (i = 0; i < 64; i++)
        sum += xen->hypercalls[i];
    return sum;
}

/* Nanoseconds for one call of fn(ITERATIONS). */
static unsigned long time_loop(struct previrt_xen *xen, void (*fn)(unsigned long))
{
    unsigned long start = previrt_xen_time_ns(xen);
    fn(ITERATIONS);
    return previrt_xen_time_ns(xen) - start;
}

static unsigned long median(unsigned long *v, unsigned int n)
{
    unsigned int i, j;
    for (i = 1; i < n; i++)
        for (j = i; j > 0 && v[j - 1] > v[j]; j--) {
            unsigned long t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    return v[n / 2];
}

/* v / 10 with one decimal. */
static void print_tenths(unsigned long v)
{
    serial_dec(v / 10);
    serial_putc('.');
    serial_dec(v % 10);
}

/* v / 100 with two decimals. */
static void print_hundredths(unsigned long v)
{
    serial_dec(v / 100);
    serial_putc('.');
    serial_putc((char)('0' + v / 10 % 10));
    serial_putc((char)('0' + v % 10));
}

void xen_bench(struct previrt_xen *xen)
{
    unsigned long patched[ROUNDS], native[ROUNDS], empty[ROUNDS], p, q, calls;
    unsigned int r, i;
    serial_puts("bench: Xen 4.17 dom0 under QEMU TCG (not hardware times); ns per iteration, median of 5 rounds of 2000\n");
    for (r = 0; r < ROUNDS; r++)
        empty[r] = time_loop(xen, bench_nothing);
    serial_puts("bench: empty loop: ");
    print_tenths(median(empty, ROUNDS) * 10 / ITERATIONS);
    serial_puts(" ns\n");
    for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        calls = hypercalls(xen);
        for (r = 0; r < ROUNDS; r++) {
            patched[r] = time_loop(xen, rows[i].patched);
            native[r] = time_loop(xen, rows[i].native);
        }
        calls = hypercalls(xen) - calls;
        p = median(patched, ROUNDS) * 10 / ITERATIONS;
        q = median(native, ROUNDS) * 10 / ITERATIONS;
        serial_puts("bench: ");
        serial_puts(rows[i].name);
        serial_puts(": patched ");
        print_tenths(p);
        serial_puts(" ns, native ");
        print_tenths(q);
        serial_puts(" ns, native/patched ");
        print_hundredths(p ? q * 100 / p : 0);
        serial_puts("x; hypercalls per patched iteration ");
        print_tenths(calls * 10 / (ROUNDS * ITERATIONS));
        serial_puts(", native traps per iteration ");
        serial_puts(rows[i].native_traps);
        serial_puts("\n");
    }
}
