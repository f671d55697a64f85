/* boot.S: the paging guest's page-fault handler (its multiboot header and entry: Guests/common/multiboot.S).
 * SPDX-License-Identifier: MIT
 */
	.text
	.code32

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
	.globl	stack_top
stack_top:

	.section .note.GNU-stack, "", @progbits
