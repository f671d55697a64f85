/* interrupts.c: delivery of exceptions and interrupts into the guest, as a CPU does it in ring 0:
 * read the gate from the guest's virtual IDT (a linear address: through the guest's page tables),
 * push eflags, cs, eip and the error code on the guest's stack, clear the virtual IF for an interrupt
 * gate, and continue at the gate's offset.
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "host.h"

#define IF 0x200u
#define TF 0x100u
#define AC 0x40000u

/* The kernel stack for an entry from CPL 3: ss0:esp0 from the guest's TSS (the descriptor vcpu.tr names). */
static int tss_stack(u32 *esp0, u32 *ss0)
{
    u32 d[2], base;
    if ((vcpu.tr & ~7u) == 0 || (vcpu.tr | 7u) > vcpu.table_limit[0] || guest_read_system(vcpu.table_base[0] + (vcpu.tr & ~7u), d, 8) != 0)
        return -1;
    base = (d[0] >> 16) | ((d[1] & 0xff) << 16) | (d[1] & 0xff000000u);
    if (guest_read_system(base + 4, esp0, 4) != 0 || guest_read_system(base + 8, ss0, 4) != 0)
        return -1;
    return 0;
}

int vmm_left_user; /* the last delivery switched from CPL 3 to CPL 0 */

int deliver_from(unsigned vector, int software, int has_error, unsigned error, u32 *eip, u32 *esp, u32 *eflags)
{
    u32 gate[2], type, frame[6], n = 0, size, stack = *esp, ss0 = vcpu.ss, from_user = vcpu.cpl == 3;
    vmm_left_user = 0;
    if (vector > 255 || 8u * vector + 7 > vcpu.table_limit[1] || guest_read_system(vcpu.table_base[1] + 8u * vector, gate, 8) != 0)
        return -1;
    type = (gate[1] >> 8) & 0x1f;
    if (!(gate[1] & 0x8000) || (type != 0xe && type != 0xf)) /* present 32-bit interrupt or trap gate */
        return -1;
    if (software && ((gate[1] >> 13) & 3) < vcpu.cpl)
        return -3; /* int $n from user mode to a kernel-only gate: #GP(n * 8 + 2) */
    if (from_user && tss_stack(&stack, &ss0) != 0)
        return -2;
    if (has_error)
        frame[n++] = error;
    frame[n++] = *eip;
    frame[n++] = vcpu.cs;
    frame[n++] = (*eflags & ~IF) | vmm_vif;
    if (from_user) {
        frame[n++] = *esp;
        frame[n++] = vcpu.ss;
    }
    size = 4 * n;
    if (stack < size || guest_write_system(stack - size, frame, size) != 0)
        return -2;
    *esp = stack - size;
    *eip = (gate[0] & 0xffff) | (gate[1] & 0xffff0000u);
    vcpu.cs = (unsigned short)(gate[0] >> 16);
    if (from_user) {
        vcpu.cpl = 0;
        vcpu.ss = (unsigned short)ss0;
        vmm_left_user = 1;
    }
    if (type == 0xe)
        vmm_vif = 0;
    *eflags &= ~(TF | AC);
    return 0;
}

int deliver_to_guest(unsigned vector, int has_error, unsigned error, u32 *eip, u32 *esp, u32 *eflags)
{
    return deliver_from(vector, 0, has_error, error, eip, esp, eflags);
}

volatile u32 vmm_tick_due;

void deliver_pending(u32 *eip, u32 *esp, u32 *eflags)
{
    int vector = board_acknowledge(), r;
    if (vector < 0)
        return;
    if (vmm_trace)
        vmm_trace_log("previrt run: trace: interrupt %#x at %#x\n", vector, *eip);
    if ((r = deliver_to_guest((unsigned)vector, 0, 0, eip, esp, eflags)) != 0)
        vmm_exit(VMM_EXIT_ERROR, "guest fault: interrupt %#x at %#x: %s\n", vector, *eip,
                 r == -2 ? "the guest's stack cannot take the frame (double fault)" : "the guest's virtual IDT has no gate for it");
}
