/* entry.S: hand-written assembly in all three code modes, and a region the VMM must never patch.
 * SPDX-License-Identifier: MIT
 */
	.text
	.code16
	.globl real_mode_entry
real_mode_entry:
	cli
	lgdtl	gdt_descriptor
	movl	%cr0, %eax
	orl	$1, %eax
	movl	%eax, %cr0
	ljmpl	$0x08, $protected_entry

	.code32
protected_entry:
	movw	$0x10, %ax
	movw	%ax, %ds
	movw	%ax, %ss
	movl	$0x9000, %esp
	rep; outsb
#ifdef __x86_64__
	.code64
#endif
	.globl	halt_forever
halt_forever:
	previrt_off		/* the in-place VMM's own code stays native */
	cli
	previrt_on
1:	hlt
	jmp	1b

	.data
gdt_descriptor:
	.word	0
	.long	0
