/* xen_pv.h: what the xen backend's files share (backend_xen.c, xen_events.c, xen_devices.c,
 * xen_emulate.c): Xen's 64-bit PV ABI as the backend uses it (hypercall numbers, structure layouts,
 * shared info offsets; defined here from Xen's public headers, not included from them), the frames the
 * entries save, and the functions the files call across. Private to the runtime.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 the previrt authors. Permission is hereby granted, free of charge, to any
 * person obtaining a copy of this file, to deal in it without restriction, subject to this notice
 * being kept. THE FILE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND.
 */
#ifndef XEN_PV_H
#define XEN_PV_H

#include "previrt_runtime.h"

#if defined(__x86_64__)

/* Hypercall numbers. */
#define HYPERCALL_SET_TRAP_TABLE 0
#define HYPERCALL_SET_GDT 2
#define HYPERCALL_STACK_SWITCH 3
#define HYPERCALL_SET_DEBUGREG 8
#define HYPERCALL_GET_DEBUGREG 9
#define HYPERCALL_UPDATE_DESCRIPTOR 10
#define HYPERCALL_FPU_TASKSWITCH 5
#define HYPERCALL_UPDATE_VA_MAPPING 14
#define HYPERCALL_XEN_VERSION 17
#define HYPERCALL_IRET 23          /* jumped to, not called, with an iret context on the stack */
#define HYPERCALL_CONSOLE_IO 18
#define HYPERCALL_VCPU_OP 24
#define HYPERCALL_SET_SEGMENT_BASE 25
#define HYPERCALL_MMUEXT_OP 26
#define HYPERCALL_SCHED_OP 29
#define HYPERCALL_CALLBACK_OP 30
#define HYPERCALL_EVENT_CHANNEL_OP 32
#define HYPERCALL_PHYSDEV_OP 33

#define CONSOLEIO_WRITE 0
#define SCHEDOP_BLOCK 1
#define SCHEDOP_SHUTDOWN 2
#define SHUTDOWN_CRASH 3
#define VCPUOP_STOP_PERIODIC_TIMER 7
#define VCPUOP_SET_SINGLESHOT_TIMER 8
#define VCPUOP_STOP_SINGLESHOT_TIMER 9
#define EVTCHNOP_BIND_VIRQ 1
#define VIRQ_TIMER 0
#define CALLBACKOP_REGISTER 0
#define CALLBACKTYPE_EVENT 0
#define SEGBASE_FS 0
#define SEGBASE_GS_USER 1
#define SEGBASE_GS_KERNEL 2
#define FLAT_KERNEL_CS 0xe033      /* a 64-bit PV kernel's flat ring-3 code and stack selectors */
#define FLAT_KERNEL_SS 0xe02b
#define FLAT_KERNEL_DS 0           /* data segments: the null selector (bases through set_segment_base) */
#define PHYSDEVOP_SET_IOPL 6
#define MMUEXT_NEW_BASEPTR 5
#define MMUEXT_INVLPG_LOCAL 7
#define MMUEXT_FLUSH_CACHE 12
#define MMUEXT_SET_LDT 13
#define MMUEXT_NEW_USER_BASEPTR 15
#define UVMF_INVLPG 2
#define DOMID_SELF 0x7ff0
#define PTE_PRESENT_WRITABLE_ACCESSED_DIRTY 0x63ul
#define PTE_PRESENT_ACCESSED 0x21ul
#define XEN_SELECTORS 0xe000       /* selectors from here on are Xen's reserved GDT entries */

/* The start_info page's layout (64-bit). */
struct xen_start_info {
    char magic[32];
    unsigned long nr_pages;
    unsigned long shared_info;     /* machine address */
    unsigned int flags;
    unsigned long store_mfn;
    unsigned int store_evtchn;
    unsigned long console[2];
    unsigned long pt_base;         /* virtual address of the top-level page table */
    unsigned long nr_pt_frames;
    unsigned long *mfn_list;       /* virtual address of the pseudo-physical to machine table */
};

/* vcpu_info, the first of 32 at the start of the shared info page, and the event channel bitmaps. */
#define VCPU_UPCALL_PENDING 0
#define VCPU_UPCALL_MASK 1
#define VCPU_PENDING_SEL 8
#define VCPU_TIME 32               /* version, pad, tsc_timestamp, system_time, tsc_to_system_mul, tsc_shift */
#define SHARED_EVTCHN_PENDING 2048
#define SHARED_EVTCHN_MASK 2560

/* The virtual devices' ports. */
#define PIC_MASTER 0x20
#define PIC_SLAVE 0xa0
#define PIT_CHANNEL0 0x40
#define PIT_CONTROL 0x43
#define PIT_HZ 1193182ul

struct trap_info {
    unsigned char vector, flags;   /* flags: DPL, and 4 to mask events on entry (an interrupt gate) */
    unsigned short cs;
    unsigned long address;
};

struct mmuext_op {
    unsigned int cmd;
    unsigned long arg1;            /* machine frame or linear address */
    unsigned long arg2;
};

/* What previrt_xen_entry saves, lowest address first. */
struct xen_frame {
    unsigned long r15, r14, r13, r12, r11, r10, r9, r8, rdi, rsi, rbp, rbx, rdx, rcx, rax;
    unsigned long rflags, return_address, index;
};

/* What previrt_xen_upcall saves: the registers, then where to go, then the iretq frame Xen built. */
struct xen_upcall_frame {
    unsigned long r15, r14, r13, r12, r11, r10, r9, r8, rdi, rsi, rbp, rbx, rdx, rcx, rax;
    unsigned long rflags, target;
    unsigned long rip, cs, interrupted_rflags, rsp, ss;
};

/* What previrt_xen_trap saves: the registers, the vector (replaced by where to go), then what the CPU
 * would have pushed (an error code for some vectors, then the iretq frame); Xen's %rcx and %r11 are
 * popped by the vector's trampoline. */
struct xen_trap_frame {
    unsigned long r15, r14, r13, r12, r11, r10, r9, r8, rdi, rsi, rbp, rbx, rdx, rcx, rax;
    unsigned long rflags, target;
    unsigned long rest[6];
};

/* The stubs' layout the handlers rely on, counted from the entry call's return address: the
 * `lea 136(%rsp),%rsp` there (then the instruction for iretq and lretq, whose second way on follows);
 * `mov slot(%rip),%rsp; jmp *slot(%rip)` and its two slots (int, lretq to ring 3); `jmp *slot(%rip)`
 * and its slot (ljmp). */
#define STUB_AFTER_CALL 8          /* lea 136(%rsp),%rsp */
#define STUB_TO_SLOTS 13           /* mov 6(%rip),%rsp; jmp *8(%rip); then the rsp slot and the target slot */
#define STUB_TO_JUMP_SLOT 6        /* jmp *0(%rip); then the target slot */

/* The virtual segment registers, by their ModRM numbers. */
#define SEG_ES 0
#define SEG_CS 1
#define SEG_SS 2
#define SEG_DS 3
#define SEG_FS 4
#define SEG_GS 5

#define RED_ZONE 128
#define IF 0x200ul
#define CR0_TS 8ul
#define MSR_SYSENTER_CS 0x174
#define MSR_FS_BASE 0xc0000100
#define MSR_GS_BASE 0xc0000101
#define MSR_KERNEL_GS_BASE 0xc0000102
#define COM1 0x3f8

/* The backend in force (previrt_xen_backend sets it): the entries from stubs and upcalls find it here. */
extern struct previrt_xen *previrt_xen_active;

static inline volatile unsigned char *xen_vcpu(struct previrt_xen *xen, unsigned int field) { return xen->shared_info + field; }

/* backend_xen.c */
long xen_mmuext(struct previrt_xen *xen, unsigned int cmd, unsigned long arg1);
long xen_mmuext2(struct previrt_xen *xen, unsigned int cmd, unsigned long arg1, unsigned long arg2);
unsigned long xen_machine_frame(struct previrt_xen *xen, const void *virtual_address);
long xen_new_baseptr(struct previrt_xen *xen, unsigned long mfn, int kernel_too);
void xen_console_flush(struct previrt_xen *xen);

/* xen_events.c: the timer's event channel, the upcall, Xen's time. */
int xen_events_init(struct previrt_xen *xen);
unsigned long xen_system_time(struct previrt_xen *xen);
void xen_one_shot(struct previrt_xen *xen, unsigned long ns);
int xen_timer_event_pending(struct previrt_xen *xen);
void xen_set_virtual_if(struct previrt_xen *xen, int enabled);
void xen_raise_pending(struct previrt_xen *xen);
void previrt_xen_upcall(void);
void previrt_xen_upcall_return(void);
void previrt_xen_event(struct xen_upcall_frame *f);
void previrt_xen_upcall_return_user(void);
void previrt_xen_trap(void);
void previrt_xen_trap_entry(struct xen_trap_frame *f);
void xen_load_idt(struct previrt_xen *xen, const unsigned char *pointer);
unsigned long xen_gate(struct previrt_xen *xen, unsigned int vector, unsigned short *selector);

/* xen_segments.c: descriptor tables, segment registers, the task register. */
void xen_segments_init(struct previrt_xen *xen);
void xen_load_gdt(struct previrt_xen *xen, const unsigned char *pointer);
void xen_load_ldt(struct previrt_xen *xen, unsigned int selector);
void xen_load_tr(struct previrt_xen *xen, unsigned int selector);
void xen_load_segment(struct previrt_xen *xen, unsigned int seg, unsigned int selector);
void xen_kernel_stack(struct previrt_xen *xen);
void xen_enter_kernel(struct previrt_xen *xen, unsigned long *frame, unsigned short gate_selector);

/* xen_devices.c: the backend's COM1, 8259A and 8254, and port I/O. */
void xen_port_io(struct previrt_xen *xen, struct xen_frame *f, const struct previrt_xen_site *s);

/* xen_emulate.c: the stubs' entry and the handlers. */
void previrt_xen_entry(void);
void previrt_xen_emulate(struct xen_frame *f);

#endif /* __x86_64__ */
#endif /* XEN_PV_H */
