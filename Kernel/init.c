/* init.c: the kernel check's whole userland: print one line, then restart (QEMU -no-reboot exits).
 * tinyconfig has no ACPI, so power-off is not available; reboot(RESTART) is.
 * SPDX-License-Identifier: MIT
 */
#include <sys/reboot.h>
#include <unistd.h>

int main(void)
{
    static const char line[] = "previrt kernel check: init is running\n";
    write(1, line, sizeof line - 1);
    sync();
    reboot(RB_AUTOBOOT);
    return 0;
}
