/* boot.S: the rings guest's way to user mode and back, and its #PF and int $0x80 handlers (its multiboot
 * header and entry: Guests/common/multiboot.S).
 * SPDX-License-Identifier: MIT
 */
	.text
	.code32

/* run_user(entry): iret to entry at CPL 3 (cs 0x1b, ss 0x23, the user stack), with the kernel's esp
 * kept so that the #PF or int $0x80 handler can come back here; returns when user mode ends. */
	.globl	run_user
run_user:
	pushl	%ebp
	pushl	%ebx
	pushl	%esi
	pushl	%edi
	movl	%esp, kernel_esp
	movl	20(%esp), %eax		/* entry */
	pushl	$0x23			/* ss */
	pushl	$user_stack_top		/* esp */
	pushl	$0x002			/* eflags: interrupts stay off (the guest has no timer handler) */
	pushl	$0x1b			/* cs */
	pushl	%eax			/* eip */
	iret
back_in_kernel:
	movl	kernel_esp, %esp
	popl	%edi
	popl	%esi
	popl	%ebx
	popl	%ebp
	ret

/* #PF: records the error code, CR2 and the ring it came from. From user mode, user mode ends (back to
 * run_user's caller); from the kernel, the access is skipped (fault_resume). */
	.globl	page_fault_entry
page_fault_entry:
	popl	fault_error
	pushl	%eax
	movl	%cr2, %eax
	movl	%eax, fault_address
	incl	fault_count
	movl	8(%esp), %eax		/* the saved cs */
	andl	$3, %eax
	movl	%eax, fault_ring
	jnz	back_in_kernel
	movl	fault_resume, %eax
	movl	%eax, 4(%esp)
	popl	%eax
	iret

/* int $0x80 from user mode: user mode is done. */
	.globl	syscall_entry
syscall_entry:
	jmp	back_in_kernel

	.data
kernel_esp:
	.long	0

	.bss
	.align 16
	.space	16384
	.globl	stack_top
stack_top:
	.space	4096
user_stack_top:

	.section .note.GNU-stack, "", @progbits
