/* boot.S: the paging guest's multiboot header, entry and page-fault handler.
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
	call	paging_main
1:	cli
	hlt
	jmp	1b

/* #PF: records the error code and CR2, then resumes at fault_resume (set by the check that expects
 * the fault) instead of retrying the access. */
	.globl	page_fault_entry
page_fault_entry:
	popl	fault_error
	pushl	%eax
	movl	%cr2, %eax
	movl	%eax, fault_address
	incl	fault_count
	movl	fault_resume, %eax
	movl	%eax, 4(%esp)		/* the saved eip */
	popl	%eax
	iret

	.bss
	.align 16
	.space	16384
stack_top:

	.section .note.GNU-stack, "", @progbits
