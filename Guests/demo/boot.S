/* boot.S: the targets of the far call and the software interrupt (the multiboot header and entry:
 * Guests/common/multiboot.S).
 * SPDX-License-Identifier: MIT
 */
	.text
	.code32

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
	.globl	stack_top
stack_top:

	.section .note.GNU-stack, "", @progbits
