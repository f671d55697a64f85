/* multiboot.S: the multiboot header and entry the bare i386 guests share (Guests/demo, Guests/paging,
 * Guests/rings, the device probe Tests/Devices/qemu_probe.c): the loader (QEMU's -kernel, `previrt run`)
 * enters _start in 32-bit protected mode with paging and interrupts off; _start takes the guest's stack
 * (stack_top, which the guest defines) and calls guest_main(magic, multiboot information); if it returns,
 * the CPU halts.
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
	movl	$stack_top, %esp
	pushl	%ebx			/* multiboot information */
	pushl	%eax			/* multiboot magic */
	call	guest_main
1:	cli
	hlt
	jmp	1b
