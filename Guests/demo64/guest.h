/* guest.h: the x86_64 demo guest's own interfaces.
 * SPDX-License-Identifier: MIT
 */
#ifndef GUEST_H
#define GUEST_H

#include "console.h"

/* timer.c: the 8254's channel 0 on IRQ 0 of the 8259A, vector 0x20 of the IDT. */
extern volatile unsigned int timer_ticks;
void timer_setup(void);
void timer_idt(unsigned long *base, unsigned short *limit); /* the IDT timer_setup loaded */
void timer_start(int periodic, unsigned int count);
void timer_mask(int masked);
void timer_stop(void);  /* IRQ 0 masked and channel 0 stopped */
void timer_drain(void); /* and no request for IRQ 0 latched */
int timer_pending(void);
void timer_interrupt(void); /* boot.S */

/* boot.S: ring 3 and back. enter_user iretqs to `entry` in ring 3 on `stack` and returns when ring 3
 * makes int $0x80 (user_trap, the gate timer_setup puts at vector 0x80, records what it saw). */
void enter_user(void (*entry)(void), void *stack, unsigned long rflags);
void enter_user_far(void (*entry)(void), void *stack); /* the same through lretq, the flags unchanged */
void user_code(void);
void user_code_until_tick(void);
void user_trap(void);
void soft_interrupt(void); /* vector 0x81 */
extern unsigned long kernel_resume, user_frame_cs, user_trap_rsp;
extern unsigned int user_value;
extern unsigned short user_trap_ss;

/* checks.c: exercise every sensitive kind the guest uses and report; returns the number of failures.
 * `under_xen` changes what a check expects to observe (cpuid's hypervisor leaves), never what it
 * prints. */
int run_checks(int under_xen);

/* kernel.c */
struct previrt_backend;
struct previrt_result;
int patch_image(const struct previrt_backend *backend, struct previrt_result *result);
int run_demo(int under_xen);

#endif
