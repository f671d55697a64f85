/* boot.S: the x86_64 guest's entries.
 *
 * pvh_start: QEMU's -kernel enters here (the PVH boot ABI, found through the XEN_ELFNOTE_PHYS32_ENTRY
 * note in notes.S): 32-bit protected mode, paging off, %ebx = the hvm_start_info. It maps the first GiB
 * one to one with 2 MiB pages, switches to long mode and calls kernel_main_bare(start_info). This
 * code never runs under a hypervisor that patches: previrt_off keeps it out of the notes.
 *
 * xen_start: Xen enters a 64-bit PV kernel here (XEN_ELFNOTE_ENTRY): long mode, ring 3, on page
 * tables Xen built, %rsi = the start_info page.
 * SPDX-License-Identifier: MIT
 */
	.section .text.boot, "ax"
	.code32
	.globl	pvh_start
pvh_start:
	previrt_off
	cli
	cld
	movl	$boot_pml4, %eax
	movl	$boot_pdpt + 7, (%eax)		/* present, writable, user (ring 3 runs in checks.c) */
	movl	$boot_pd + 7, boot_pdpt
	xorl	%ecx, %ecx
1:	movl	%ecx, %eax
	shll	$21, %eax
	orl	$0x87, %eax			/* present, writable, user, 2 MiB */
	movl	%eax, boot_pd(, %ecx, 8)
	incl	%ecx
	cmpl	$512, %ecx
	jb	1b
	movl	$boot_pml4, %eax
	movl	%eax, %cr3
	movl	%cr4, %eax
	orl	$0x20, %eax			/* PAE */
	movl	%eax, %cr4
	movl	$0xc0000080, %ecx		/* EFER */
	rdmsr
	orl	$0x100, %eax			/* long mode enable */
	wrmsr
	movl	%cr0, %eax
	orl	$0x80000001, %eax		/* paging, protected mode */
	movl	%eax, %cr0
	lgdt	boot_gdt_pointer
	ljmp	$0x08, $long_mode

	.code64
long_mode:
	movl	$0x10, %eax
	movw	%ax, %ds
	movw	%ax, %es
	movw	%ax, %ss
	previrt_on
	movq	$stack_top, %rsp
	movl	%ebx, %edi			/* the hvm_start_info */
	call	kernel_main_bare
	jmp	halt

	.globl	xen_start
xen_start:
	movq	$stack_top, %rsp
	movq	%rsi, %rdi			/* the start_info page */
	call	kernel_main_xen
halt:
	jmp	halt

/* Vector 0x20, IRQ 0: counts, acknowledges at the 8259A, returns. */
	.globl	timer_interrupt
timer_interrupt:
	incl	timer_ticks(%rip)
	pushq	%rax
	movb	$0x20, %al
	outb	%al, $0x20
	popq	%rax
	iretq

/* Saves the callee-saved registers and the kernel's %rsp (kernel_resume) that user_trap returns through. */
.macro save_kernel_frame
	pushq	%rbx
	pushq	%rbp
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	movq	%rsp, kernel_resume(%rip)
.endm

/* enter_user(entry, stack, rflags): iretq to ring 3 (the GDT's user selectors 0x1b and 0x23) at entry
 * on stack with rflags. It returns when ring 3 makes int $0x80, through user_trap. */
	.globl	enter_user
enter_user:
	save_kernel_frame
	pushq	$0x23				/* ss */
	pushq	%rsi				/* rsp */
	pushq	%rdx				/* rflags */
	pushq	$0x1b				/* cs */
	pushq	%rdi				/* rip */
	iretq

/* enter_user_far(entry, stack): the same through lretq, a far return to ring 3 (the flags stay). */
	.globl	enter_user_far
enter_user_far:
	save_kernel_frame
	pushq	$0x23				/* ss */
	pushq	%rsi				/* rsp */
	pushq	$0x1b				/* cs */
	pushq	%rdi				/* rip */
	lretq

/* Ring 3's code. It is not the kernel's: no site of it is annotated (a patched site would run the
 * backend in ring 3). */
	.globl	user_code
user_code:
	previrt_off
	movl	$0x600d, %eax
	int	$0x80
	previrt_on
1:	jmp	1b

/* Ring 3 waits for a timer tick (the interrupt comes in ring 3), then reports 0x600d, or 0xbad if none
 * came. */
	.globl	user_code_until_tick
user_code_until_tick:
	previrt_off
	movl	timer_ticks(%rip), %edx
	movl	$100000000, %ecx
1:	cmpl	timer_ticks(%rip), %edx
	jne	2f
	decl	%ecx
	jnz	1b
	movl	$0xbad, %eax
	int	$0x80
2:	movl	$0x600d, %eax
	int	$0x80
	previrt_on
3:	jmp	3b

/* Vector 0x80 (a DPL 3 gate), entered from ring 3 on the TSS's rsp0: records ring 3's %eax, the cs in
 * the frame, the stack it runs on and %ss, then resumes the kernel where enter_user left it. */
	.globl	user_trap
user_trap:
	movl	%eax, user_value(%rip)
	movq	8(%rsp), %rax
	movq	%rax, user_frame_cs(%rip)
	movq	%rsp, user_trap_rsp(%rip)
	movw	%ss, %ax
	movw	%ax, user_trap_ss(%rip)
	movq	kernel_resume(%rip), %rsp
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbp
	popq	%rbx
	ret

/* Vector 0x81 (a DPL 0 gate): counts and records the cs in its frame. */
	.globl	soft_interrupt
soft_interrupt:
	incl	soft_interrupts(%rip)
	pushq	%rax
	movq	16(%rsp), %rax
	movq	%rax, soft_frame_cs(%rip)
	popq	%rax
	iretq

	.section .rodata
	.align	8
boot_gdt:
	.quad	0
	.quad	0x00af9a000000ffff		/* 0x08: 64-bit code */
	.quad	0x00cf92000000ffff		/* 0x10: data */
boot_gdt_pointer:
	.word	boot_gdt_pointer - boot_gdt - 1
	.long	boot_gdt

	.bss
	.align	4096
boot_pml4:	.space	4096
boot_pdpt:	.space	4096
boot_pd:	.space	4096
	.space	16384
stack_top:

	.section .note.GNU-stack, "", @progbits
