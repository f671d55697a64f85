/* entry.S: the way in and out of the linux-user VMM for a patched site (i386).
 *
 * A patched site is `call stub_i` + NOPs. The stub pushes the site index and jumps here, leaving
 * [index][return address] on the guest's stack. We switch to the VMM's own stack (the emulated
 * instruction may push onto the guest's), save the guest's flags and registers there as a frame, let
 * vcpu_emulate change the frame, the virtual CPU, guest memory and where to resume (vmm_resume_eip,
 * vmm_resume_esp), then restore and resume.
 *
 *   frame (low to high): edi esi ebp esp(unused) ebx edx ecx eax | eflags
 *
 * While the guest runs, the Syscall User Dispatch selector (vmm_selector) says BLOCK (1): a system call
 * instruction outside the VMM's text then raises SIGSYS (contain.c). vmm_entry sets it to ALLOW (0) for
 * the emulator, which may write the console, and back to BLOCK before it resumes the guest.
 *
 * SPDX-License-Identifier: MIT
 */
	.text
	.code32
	.globl	vmm_entry
vmm_entry:
	movb	$0, vmm_selector
	movl	%esp, vmm_guest_esp
	movl	$vmm_stack_top, %esp
	pushfl
	pushal
	cld
	pushl	%esp
	call	vcpu_emulate
	addl	$4, %esp
vmm_entry_return:
	cmpl	$0, vmm_resume_user
	jne	1f
	popal
	popfl
	movl	vmm_resume_esp, %esp
	movb	$1, vmm_selector
	jmp	*vmm_resume_eip
/* To guest user mode (an iret to CPL 3): the LDT segments of usermode.c, loaded without touching the
 * guest's registers or flags; %ds last, then every operand through %cs (flat, readable). */
1:	popal
	popfl
	movb	$1, vmm_selector
	movw	vmm_user_fs, %fs
	movw	vmm_user_gs, %gs
	movw	vmm_user_ds, %es
	lss	vmm_resume_stack, %esp
	movw	%cs:vmm_user_ds, %ds
	ljmp	*%cs:vmm_resume_far

/* Fast paths: kinds whose emulation fits in a few instructions are patched to call these directly,
 * without a frame. vmm_vif holds the virtual interrupt flag as 0 or 0x200 (the IF bit). sites.c copies
 * [vmm_fast_begin, vmm_fast_end) into the stub area, so this code must not depend on where it runs:
 * absolute memory operands only, no relative calls or jumps out of it. */
	.globl	vmm_cli, vmm_pushf, vmm_popf, vmm_fast_begin, vmm_fast_end
vmm_fast_begin:
vmm_cli:
	movl	$0, vmm_vif
	ret

/* pushf: push the real flags with the virtual IF. On entry [esp] is the return address (E-4, where
 * E is the guest's esp at the site); on return [E-4] holds the flags, as after a real pushf. Only mov
 * and lea are used after the pushfl, so the real flags are never changed and need no popfl. In user
 * mode the real IF is always set, so "IF cleared, virtual IF added" is "minus 0x200 plus vmm_vif". */
vmm_pushf:
	pushfl				/* E-8: real flags */
	pushl	%eax			/* E-12 */
	pushl	%edx			/* E-16 */
	movl	8(%esp), %eax
	movl	vmm_vif, %edx
	leal	-0x200(%eax,%edx), %eax	/* the flags to push */
	movl	12(%esp), %edx		/* the return address */
	movl	%eax, 12(%esp)		/* E-4 = flags */
	movl	%edx, 8(%esp)		/* E-8 = return address */
	popl	%edx
	popl	%eax
	ret				/* esp = E-4 */

/* popf: [E] is the value to pop. The virtual IF takes its IF bit; the real flags the rest, without TF
 * and without AC (the host sets CR0.AM: AC would make unaligned accesses fault).
 * No xchg with memory: it is locked, and costs more than the whole emulation. */
vmm_popf:
	pushl	%eax			/* E-8 */
	pushl	%edx			/* E-12 */
	movl	12(%esp), %eax		/* the value */
	movl	%eax, %edx
	andl	$0x200, %edx
	movl	%edx, vmm_vif
	andl	$0xfffbfeff, %eax	/* never the trap flag or AC */
	movl	8(%esp), %edx		/* the return address */
	movl	%edx, 12(%esp)		/* E = return address */
	movl	%eax, 8(%esp)		/* E-4 = the value, for popfl */
	popl	%edx
	popl	%eax
	popfl				/* flags = value; esp = E */
	ret				/* esp = E+4, as after a real popf */

/* sti and popf sites call a per-site stub that pushes the site's index and jumps through vmm_sti_next
 * or vmm_popf_next (sites.c, board.c): to vmm_entry while an interrupt is pending (the emulator then
 * delivers it), otherwise here: drop the index (lea: the flags are the guest's) and take the fast path. */
	.globl	vmm_sti_fast_code, vmm_popf_fast_code
vmm_sti_fast_code:
	leal	4(%esp), %esp
	ret
vmm_popf_fast_code:
	leal	4(%esp), %esp
	jmp	vmm_popf
vmm_fast_end:

/* Port I/O stubs call here: vmm_port_io(port, value, size, out) with eax, ecx, edx and the arithmetic
 * flags saved by the stub (lahf/seto, restored by add/sahf: cheaper than pushf/popf). */

/* enter_guest(entry, eax, ebx, esi): start the guest with these registers, the others 0, flags clear
 * but for the always-set IF (the virtual IF is vmm_vif). */
	.globl	enter_guest
enter_guest:
	movl	4(%esp), %ecx
	movl	8(%esp), %eax
	movl	12(%esp), %ebx
	movl	16(%esp), %esi
	movl	%ecx, vmm_resume_eip
	xorl	%ecx, %ecx
	xorl	%edx, %edx
	xorl	%edi, %edi
	xorl	%ebp, %ebp
	pushl	$0x202
	popfl
	movb	$1, vmm_selector
	jmp	*vmm_resume_eip

/* pool_enter: a slot of the address-space pool (pool.c) that has not run yet waits for its first turn
 * on a frame of its own stack, as if it had entered the emulator; pool_first_turn fills the frame with
 * the guest's registers when the slot takes over, and the slot resumes the guest as vmm_entry does. */
	.globl	pool_enter
pool_enter:
	movl	$vmm_stack_top, %esp
	pushfl
	pushal
	cld
	pushl	%esp
	call	pool_first_turn
	addl	$4, %esp
	jmp	vmm_entry_return

/* Every signal handler (contain.c): the guest may have loaded %gs natively, and glibc finds its thread
 * data (and its system call entry) through %gs, so reload the VMM's first. The kernel restores the
 * interrupted %gs on sigreturn. */
	.globl	vmm_signal
vmm_signal:
	movw	vmm_gs, %ax
	movw	%ax, %gs
	jmp	vmm_on_signal

/* The VMM's stack is each slot's own (vmm.ld): a slot waits for its turn on it. */
	.section .previrt_private, "aw", @progbits
	.align 16
	.space	65536
vmm_stack_top:

/* Far pointers for the way to user mode (emulate.c fills them): eip:cs and esp:ss. */
	.data
	.globl	vmm_resume_far, vmm_resume_stack
vmm_resume_far:
	.long	0
	.word	0
vmm_resume_stack:
	.long	0
	.word	0

	.section .note.GNU-stack, "", @progbits
