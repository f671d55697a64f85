/* qemu_probe.S: the device probe guest's stack (qemu_probe.c; its multiboot header and entry:
 * Guests/common/multiboot.S).
 * SPDX-License-Identifier: MIT
 */
	.bss
	.align 16
	.space	8192
	.globl	stack_top
stack_top:

	.section .note.GNU-stack, "", @progbits
