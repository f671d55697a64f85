/* loops.S: the sensitive operations the Xen benchmark times, each twice: annotated (the xen backend
 * patches them) and inside previrt_off (left native: under Xen they trap or are ignored). Each takes
 * the number of iterations in %rdi.
 * SPDX-License-Identifier: MIT
 */
	.text
	.globl	bench_cli_sti_patched
bench_cli_sti_patched:
1:	cli
	sti
	decq	%rdi
	jnz	1b
	ret

	.globl	bench_pushf_popf_patched
bench_pushf_popf_patched:
1:	pushfq
	popfq
	decq	%rdi
	jnz	1b
	ret

	.globl	bench_out_patched
bench_out_patched:
1:	outb	%al, $0x80
	decq	%rdi
	jnz	1b
	ret

	.globl	bench_cr3_patched
bench_cr3_patched:
	movq	%cr3, %rax
1:	movq	%rax, %cr3
	decq	%rdi
	jnz	1b
	ret

	.globl	bench_nothing
bench_nothing:
1:	nop
	decq	%rdi
	jnz	1b
	ret

	previrt_off
	.globl	bench_cli_sti_native
bench_cli_sti_native:
1:	cli
	sti
	decq	%rdi
	jnz	1b
	ret

	.globl	bench_pushf_popf_native
bench_pushf_popf_native:
1:	pushfq
	popfq
	decq	%rdi
	jnz	1b
	ret

	.globl	bench_out_native
bench_out_native:
1:	outb	%al, $0x80
	decq	%rdi
	jnz	1b
	ret

	.globl	bench_cr3_native
bench_cr3_native:
	movq	%cr3, %rax
1:	movq	%rax, %cr3
	decq	%rdi
	jnz	1b
	ret

	previrt_on

	.section .note.GNU-stack, "", @progbits
