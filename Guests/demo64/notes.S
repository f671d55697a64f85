/* notes.S: Xen's ELF notes, which both platforms read. QEMU's -kernel looks for PHYS32_ENTRY (the
 * PVH entry) in the first PT_NOTE segment; Xen's domain builder reads the others to load a 64-bit
 * PV kernel (the constants are Xen's public ABI, elfnote.h).
 * SPDX-License-Identifier: MIT
 */
#define XEN_ELFNOTE_ENTRY		1
#define XEN_ELFNOTE_HYPERCALL_PAGE	2
#define XEN_ELFNOTE_VIRT_BASE		3
#define XEN_ELFNOTE_PADDR_OFFSET	4
#define XEN_ELFNOTE_XEN_VERSION		5
#define XEN_ELFNOTE_GUEST_OS		6
#define XEN_ELFNOTE_LOADER		8
#define XEN_ELFNOTE_PHYS32_ENTRY	18

	.macro	xen_note type, payload:vararg
	.balign	4
	.long	4, 3f - 2f, \type
	.asciz	"Xen"
2:	\payload
3:	.balign	4
	.endm

	.section .note.Xen, "a", @note
	xen_note XEN_ELFNOTE_PHYS32_ENTRY, .long pvh_start
	xen_note XEN_ELFNOTE_GUEST_OS, .asciz "previrt-demo64"
	xen_note XEN_ELFNOTE_XEN_VERSION, .asciz "xen-3.0"
	xen_note XEN_ELFNOTE_LOADER, .asciz "generic"
	xen_note XEN_ELFNOTE_VIRT_BASE, .quad 0
	xen_note XEN_ELFNOTE_PADDR_OFFSET, .quad 0
	xen_note XEN_ELFNOTE_ENTRY, .quad xen_start
	xen_note XEN_ELFNOTE_HYPERCALL_PAGE, .quad hypercall_page

/* Xen writes its hypercall stubs here, 32 bytes per hypercall, when it builds the domain. */
	.section .text.hypercall, "ax"
	.balign	4096
	.globl	hypercall_page
hypercall_page:
	.space	4096

	.section .note.GNU-stack, "", @progbits
