/* xen.c: the guest as a Xen PV domain (entered at xen_start). It patches itself with the xen backend,
 * prints the same transcript as on bare hardware (COM1, which the backend sends to Xen's console),
 * then the backend's counts, and ends the domain with sched_op(SCHEDOP_shutdown, SHUTDOWN_reboot):
 * QEMU, started with -no-reboot, then exits.
 * SPDX-License-Identifier: MIT
 */
#include "guest.h"
#include "previrt_runtime.h"

#define SHUTDOWN_REBOOT 1
#define MAX_SITES 512

extern unsigned char hypercall_page[], __text_end[];
static unsigned char shared_info_page[4096] __attribute__((aligned(4096)));
static unsigned char stubs[MAX_SITES * 80] __attribute__((aligned(16)));
static struct previrt_xen_site sites[MAX_SITES];
static struct previrt_xen xen;
static unsigned char gdt_copy[4096] __attribute__((aligned(4096))); /* what Xen validates: read-only after lgdt */
static unsigned char ldt_copy[4096] __attribute__((aligned(4096)));

#ifdef PREVIRT_BENCH
void xen_bench(struct previrt_xen *xen); /* Benchmarks/xen/bench.c */
#endif

static void xen_console(const char *s, unsigned long n) { previrt_xen_console_write(&xen, s, n); }

/* "name count, name count, ..." for the non-zero entries of counts[]. */
static void print_counts(const char *title, const unsigned long *counts, const char *const *names, unsigned int n)
{
    unsigned int i, first = 1;
    serial_puts(title);
    for (i = 0; i < n; i++) {
        if (!counts[i] || !names[i])
            continue;
        serial_puts(first ? " " : ", ");
        serial_puts(names[i]);
        serial_puts(" ");
        serial_dec(counts[i]);
        first = 0;
    }
    serial_puts("\n");
}

static void print_xen_counts(const struct previrt_result *result)
{
    static const char *const hypercall_names[64] = {
        [1] = "mmu_update", [2] = "set_gdt", [3] = "stack_switch", [8] = "set_debugreg", [9] = "get_debugreg",
        [10] = "update_descriptor", [5] = "fpu_taskswitch", [14] = "update_va_mapping", [17] = "xen_version", [18] = "console_io",
        [24] = "vcpu_op", [25] = "set_segment_base", [26] = "mmuext_op", [29] = "sched_op", [30] = "callback_op", [32] = "event_channel_op",
        [33] = "physdev_op", [0] = "set_trap_table",
    };
    unsigned long calls[64];
    unsigned int i;
    for (i = 0; i < 64; i++) /* a snapshot: printing makes more */
        calls[i] = xen.hypercalls[i];
    serial_puts("xen: ");
    serial_dec(result->patched);
    serial_puts(" sites patched, ");
    serial_dec(result->native);
    serial_puts(" left native\n");
    print_counts("xen: patched:", xen.patched, previrt_kind_names, PREVIRT_KIND_MAX + 1);
    print_counts("xen: hypercalls:", calls, hypercall_names, 64);
    serial_puts("xen: events: ");
    serial_dec(xen.upcalls);
    serial_puts(" upcalls, ");
    serial_dec(xen.interrupts);
    serial_puts(" virtual interrupts, ");
    serial_dec(xen.traps);
    serial_puts(" traps, ");
    serial_dec(xen.user_returns);
    serial_puts(" returns to ring 3\n");
    serial_puts("xen: failed hypercalls: ");
    serial_dec(xen.failed_hypercalls);
    serial_puts("\n");
}

void kernel_main_xen(const void *start_info)
{
    struct previrt_backend backend;
    struct previrt_result result;

    xen.start_info = start_info;
    xen.hypercall_page = hypercall_page;
    xen.shared_info = shared_info_page;
    xen.virt_base = 0; /* XEN_ELFNOTE_VIRT_BASE in notes.S */
    xen.text_end = __text_end;
    xen.stubs = stubs;
    xen.stub_size = sizeof stubs;
    xen.sites = sites;
    xen.max_sites = MAX_SITES;
    xen.gdt_copy = gdt_copy;
    xen.gdt_copy_pages = 1;
    xen.ldt_copy = ldt_copy;
    xen.ldt_copy_pages = 1;
    early_console = xen_console; /* port I/O faults until the sites are patched */
    if (previrt_xen_init(&xen) != 0) {
        serial_puts("previrt: xen: a hypercall failed while setting up the backend\n");
        previrt_xen_shutdown(&xen, SHUTDOWN_REBOOT);
    }
    previrt_xen_backend(&backend, &xen);
    if (patch_image(&backend, &result) != 0)
        previrt_xen_shutdown(&xen, SHUTDOWN_REBOOT);
    early_console = 0;

    run_demo(1); /* the transcript says pass or FAIL: under Xen there is no exit status to carry it */
    print_xen_counts(&result);
#ifdef PREVIRT_BENCH
    xen_bench(&xen);
#endif
    previrt_xen_shutdown(&xen, SHUTDOWN_REBOOT);
}
