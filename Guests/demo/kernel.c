/* kernel.c: the demo guest. One binary: on bare hardware it patches itself with the backend the
 * multiboot command line names (previrt=native or previrt=trace); under `previrt run` (the linux-user
 * VMM) the host has patched it already and says so (previrt=linux-user). Then it runs the checks,
 * prints the transcript on COM1 and exits through QEMU's isa-debug-exit.
 * SPDX-License-Identifier: MIT
 */
#include "guest.h"
#include "previrt_runtime.h"

extern unsigned char __text_start[], __text_end[], __previrt_notes_start[], __previrt_notes_end[];

struct multiboot_info {
    unsigned long flags, mem_lower, mem_upper, boot_device;
    const char *cmdline;
};

#define MAX_SITES 512
static unsigned char stubs[MAX_SITES * 32] __attribute__((aligned(16)));
static unsigned long trace_sites[MAX_SITES];
static unsigned short trace_kinds[MAX_SITES];
static volatile unsigned int trace_counts[MAX_SITES];
/* Room for one extent per site: the core sorts it to prove that no two sites overlap. */
static struct previrt_span spans[MAX_SITES];
static struct previrt_trace trace = {
    stubs, sizeof stubs, 0, __text_start, trace_sites, trace_kinds, trace_counts, MAX_SITES, 0,
};

/* The backend the command line names: "native" without a multiboot command line. */
static const char *backend_name(const struct multiboot_info *mbi, unsigned long magic)
{
    if (magic != 0x2badb002 || !(mbi->flags & 4) || !mbi->cmdline)
        return "native";
    return backend_option(mbi->cmdline);
}

void guest_main(unsigned long magic, const struct multiboot_info *mbi)
{
    const char *name = backend_name(mbi, magic);
    struct previrt_backend backend;
    struct previrt_image image = {__previrt_notes_start, __previrt_notes_end, __text_start, __text_end};
    struct previrt_result result;
    int tracing = starts_with(name, "trace"), failures;
    unsigned int i;

    if (starts_with(name, "linux-user")) {
        /* The host VMM patched the image before starting it. */
    } else {
        if (tracing)
            previrt_trace_backend(&backend, &trace);
        else
            previrt_native_backend(&backend);
        unsigned long before = checksum(__text_start, __text_end);
        if (previrt_patch_with_table(&image, &backend, spans, MAX_SITES, &result) != 0) {
            serial_puts("previrt: refused to patch: note ");
            serial_dec(result.failed_note);
            serial_puts(", site ");
            serial_hex(result.failed_address);
            serial_puts(": ");
            serial_puts(previrt_failure_name(result.failure));
            serial_puts(": ");
            serial_puts(result.why);
            serial_puts(checksum(__text_start, __text_end) == before ? "; nothing was patched\n" : "; BUT THE TEXT CHANGED\n");
            debug_exit(EXIT_FAIL);
            return;
        }
    }

    serial_puts("previrt demo guest\n");
    failures = run_checks();
    serial_puts(failures ? "result: FAIL\n" : "result: pass\n");

    if (tracing) {
        serial_puts("trace: ");
        serial_dec(result.patched);
        serial_puts(" sites patched, ");
        serial_dec(result.native);
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
    debug_exit(failures ? EXIT_FAIL : EXIT_PASS);
}
