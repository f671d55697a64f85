/* loops.S: the measured loops. Each runs one sensitive instruction n times (n in the first argument).
 * Assembled with the i386 macro set: the annotated loops become sites the VMM patches; the copies inside
 * previrt_off stay native, for trap-and-emulate.
 * SPDX-License-Identifier: MIT
 */
	.text
	.code32

.macro loop name, insn, second
	.globl	\name
\name:
	movl	4(%esp), %ecx
	xorl	%eax, %eax
1:	\insn
	\second
	decl	%ecx
	jnz	1b
	ret
.endm

	loop	patched_cli, cli
	loop	patched_sti, sti
	loop	patched_pushf_popf, pushfl, popfl
	loop	patched_out, "outb %al, $0x80"
	loop	patched_in, "inb $0x61, %al"

	previrt_off
	loop	native_cli, cli
	loop	native_sti, sti
	loop	native_pushf_popf, pushfl, popfl
	loop	native_out, "outb %al, $0x80"
	loop	native_in, "inb $0x61, %al"
	previrt_on

/* Synthetic sites for timing the patcher: 100,000 cli sites. */
	.section .text.synthetic, "ax"
	.globl	synthetic_begin, synthetic_end
synthetic_begin:
	.rept	100000
	cli
	.endr
synthetic_end:

	.section .note.GNU-stack, "", @progbits
