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
 * SPDX-License-Identifier: MIT
 */
	.text
	.code32
	.globl	vmm_entry
vmm_entry:
	movl	%esp, vmm_guest_esp
	movl	$vmm_stack_top, %esp
	pushfl
	pushal
	cld
	pushl	%esp
	call	vcpu_emulate
	addl	$4, %esp
	popal
	popfl
	movl	vmm_resume_esp, %esp
	jmp	*vmm_resume_eip

/* enter_guest(entry, magic, mbi): start the guest with the multiboot register state. */
	.globl	enter_guest
enter_guest:
	movl	4(%esp), %ecx
	movl	8(%esp), %eax
	movl	12(%esp), %ebx
	jmp	*%ecx

	.bss
	.align 16
	.space	65536
vmm_stack_top:

	.section .note.GNU-stack, "", @progbits
