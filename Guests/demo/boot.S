/* boot.S: multiboot header, entry, and the targets of the far call and the software interrupt.
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
	call	kernel_main
1:	cli
	hlt
	jmp	1b

/* Target of the far call check: counts, then returns far. */
	.globl	far_target
far_target:
	incl	far_calls
	lret

/* Handler of int $0x30: counts, then returns from the interrupt. */
	.globl	soft_interrupt
soft_interrupt:
	incl	soft_interrupts
	iret

	.bss
	.align 16
	.space	16384
stack_top:

	.section .note.GNU-stack, "", @progbits
