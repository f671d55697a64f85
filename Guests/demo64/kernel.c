/* kernel.c: the x86_64 demo guest. One ELF file, two entries (boot.S): entered by QEMU's PVH loader it
 * runs on bare hardware and patches itself with the backend the command line names (previrt=native or
 * previrt=trace); entered by Xen as a PV domain it patches itself with the xen backend. Then it runs
 * the checks and prints the same transcript on COM1 either way.
 * SPDX-License-Identifier: MIT
 */
#include "guest.h"
#include "previrt_runtime.h"

extern unsigned char __text_start[], __text_end[], __previrt_notes_start[], __previrt_notes_end[];

/* The PVH boot ABI's start information (Xen's public hvm/start_info.h). */
struct hvm_start_info {
    unsigned int magic, version, flags, nr_modules;
    unsigned long modlist_paddr, cmdline_paddr, rsdp_paddr;
};
#define HVM_START_MAGIC 0x336ec578

#define MAX_SITES 512
static unsigned char stubs[MAX_SITES * 32] __attribute__((aligned(16)));
static unsigned long trace_sites[MAX_SITES];
static unsigned short trace_kinds[MAX_SITES];
static volatile unsigned int trace_counts[MAX_SITES];
static struct previrt_trace trace = {
    stubs, sizeof stubs, 0, __text_start, trace_sites, trace_kinds, trace_counts, MAX_SITES, 0,
};

/* Patches the image through `backend`; on refusal says which site and why and returns -1. */
int patch_image(const struct previrt_backend *backend, struct previrt_result *result)
{
    struct previrt_image image = {__previrt_notes_start, __previrt_notes_end, __text_start, __text_end};
    unsigned long before = checksum(__text_start, __text_end);
    if (previrt_patch(&image, backend, result) == 0)
        return 0;
    serial_puts("previrt: refused to patch: note ");
    serial_dec(result->failed_note);
    serial_puts(", site ");
    serial_hex(result->failed_address);
    serial_puts(": ");
    serial_puts(previrt_failure_name(result->failure));
    serial_puts(": ");
    serial_puts(result->why);
    serial_puts(checksum(__text_start, __text_end) == before ? "; nothing was patched\n" : "; BUT THE TEXT CHANGED\n");
    return -1;
}

/* The transcript both platforms print; returns the number of failed checks. */
int run_demo(int under_xen)
{
    int failures;
    serial_puts("previrt demo64 guest\n");
    failures = run_checks(under_xen);
    serial_puts(failures ? "result: FAIL\n" : "result: pass\n");
    return failures;
}

static void print_trace(const struct previrt_result *result)
{
    unsigned int i;
    serial_puts("trace: ");
    serial_dec(result->patched);
    serial_puts(" sites patched, ");
    serial_dec(result->native);
    serial_puts(" left native\n");
    for (i = 0; i < trace.site_count; i++) {
        if (!trace_counts[i])
            continue;
        serial_puts("trace: site ");
        serial_hex(trace_sites[i]);
        serial_puts(" ");
        serial_puts(trace_kinds[i] <= PREVIRT_KIND_MAX ? previrt_kind_names[trace_kinds[i]] : "?");
        serial_puts(" ran ");
        serial_dec(trace_counts[i]);
        serial_puts(" times\n");
    }
}

/* Entered from pvh_start: bare hardware, ring 0, long mode, the first GiB mapped one to one. */
void kernel_main_bare(const struct hvm_start_info *info)
{
    const char *cmdline = info && info->magic == HVM_START_MAGIC ? (const char *)info->cmdline_paddr : 0;
    const char *name = backend_option(cmdline);
    int tracing = starts_with(name, "trace"), failures;
    struct previrt_backend backend;
    struct previrt_result result;

    if (tracing)
        previrt_trace_backend(&backend, &trace);
    else
        previrt_native_backend(&backend);
    if (patch_image(&backend, &result) != 0) {
        debug_exit(EXIT_FAIL);
        return;
    }
    failures = run_demo(0);
    if (tracing)
        print_trace(&result);
    debug_exit(failures ? EXIT_FAIL : EXIT_PASS);
}

