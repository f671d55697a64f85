/* qemu_probe.S: the multiboot entry of the device probe guest (qemu_probe.c).
 * SPDX-License-Identifier: MIT
 */
	.section .multiboot, "a"
	.align 4
	.long	0x1badb002		/* magic */
	.long	0x00000003		/* page-align modules, memory information */
	.long	-(0x1badb002 + 0x00000003)

	.text
	.code32
	.globl	_start
_start:
	cli
	movl	$stack_top, %esp
	call	probe_main
1:	hlt
	jmp	1b

	.bss
	.align 16
	.space	8192
stack_top:

	.section .note.GNU-stack, "", @progbits
