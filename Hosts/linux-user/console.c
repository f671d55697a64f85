/* console.c: the guest's console output (the UART's transmitted bytes, buffered for standard output),
 * the VMM's own messages, and the port map: the board's devices (board.c), QEMU's isa-debug-exit (port
 * 0xf4: the guest's exit status), the reset lines Linux pulls when it reboots (0xfe to the keyboard
 * controller at 0x64, a reset through 0xcf9: the run ends with status 0), and the POST/io-delay latch
 * (0x80). Any other port reads all ones and ignores writes.
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host.h"

static char out_buf[4096];
static size_t out_len;

/* Writes the buffered output; returns 0, or the errno of the write that failed. */
static int console_flush(void)
{
    size_t done = 0;
    while (done < out_len) {
        ssize_t n = write(1, out_buf + done, out_len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            out_len = 0;
            return n < 0 ? errno : EIO;
        }
        done += (size_t)n;
    }
    out_len = 0;
    return 0;
}

/* Says on standard error that the console output was lost, and why. */
static void report_console_error(int error)
{
    char text[256];
    snprintf(text, sizeof text, "previrt run: cannot write the guest's console output to standard output: %s\n", strerror(error));
    (void)!write(2, text, strlen(text));
}

void host_flush(void)
{
    int error = console_flush();
    if (error) {
        report_console_error(error);
        _exit(VMM_EXIT_ERROR);
    }
}

void vmm_exit(int status, const char *format, ...)
{
    va_list ap;
    int error;
    char text[512];
    size_t n;
    vmm_selector = VMM_SELECTOR_ALLOW; /* the VMM's own system calls from here on */
    error = console_flush();
    if (vmm_trace)
        vmm_trace_log("previrt run: trace: TLS fence: totals: %lu emulated, %lu stepped, %lu refused\n", vmm_tls_emulated,
                      vmm_tls_stepped, vmm_tls_refused);
    va_start(ap, format);
    strcpy(text, "previrt run: ");
    n = strlen(text);
    vsnprintf(text + n, sizeof text - n, format, ap);
    va_end(ap);
    if (text[n])
        (void)!write(2, text, strlen(text));
    if (error) {
        report_console_error(error);
        if (status == VMM_EXIT_RESET || status == VMM_EXIT_HALTED || (status & 1))
            status = VMM_EXIT_ERROR;
    }
    _exit(status);
}

void vmm_trace_log(const char *format, ...)
{
    va_list ap;
    char text[512];
    unsigned char selector = vmm_selector;
    vmm_selector = VMM_SELECTOR_ALLOW;
    va_start(ap, format);
    vsnprintf(text, sizeof text, format, ap);
    va_end(ap);
    (void)!write(2, text, strlen(text));
    vmm_selector = selector;
}

void console_putc(unsigned char c)
{
    if (out_len == sizeof out_buf)
        host_flush();
    out_buf[out_len++] = (char)c;
    if (c == '\n')
        host_flush();
}

/* Ports that are plain latches: POST/io-delay (0x80). Byte writes to them
 * from an immediate port are patched to a single store (sites.c), as hot as Linux's io_delay. */
unsigned char vmm_port_latch[256];
int is_latch(unsigned port) { return port == 0x80; }

u32 port_in(unsigned port, int size)
{
    u32 v;
    vcpu.port_reads++;
    if (is_latch(port) && size == 1)
        return vmm_port_latch[port];
    if (board_port_in(port, size, &v))
        return v;
    return size == 1 ? 0xff : size == 2 ? 0xffff : 0xffffffffu; /* nothing there: a floating bus */
}

void port_out(unsigned port, u32 value, int size)
{
    vcpu.port_writes++;
    if (is_latch(port))
        vmm_port_latch[port] = (unsigned char)value;
    else if (board_port_out(port, size, value))
        return;
    else if (port == 0xf4)
        vmm_exit((int)(((value & 0xff) << 1) | 1), "%s", "");
    else if ((port == 0x64 && (value & 0xff) == 0xfe) || (port == 0xcf9 && (value & 0x04)))
        vmm_exit(VMM_EXIT_RESET, "%s", ""); /* the keyboard controller's reset pulse, or the PCI reset control register */
}

/* Called by the port I/O stubs (cdecl): returns the value read, for in. */
u32 vmm_port_io(u32 port, u32 value, u32 size, u32 out)
{
    u32 result = 0;
    vmm_selector = VMM_SELECTOR_ALLOW; /* the console may write */
    if (out)
        port_out(port & 0xffff, value, (int)size);
    else
        result = port_in(port & 0xffff, (int)size);
    vmm_catch_up();
    vmm_selector = VMM_SELECTOR_BLOCK;
    return result;
}
