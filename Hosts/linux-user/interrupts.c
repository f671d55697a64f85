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

int deliver_to_guest(unsigned vector, int has_error, unsigned error, u32 *eip, u32 *esp, u32 *eflags)
{
    u32 gate[2], type, frame[4], n = 0, size;
    if (vector > 255 || 8u * vector + 7 > vcpu.table_limit[1] || guest_read(vcpu.table_base[1] + 8u * vector, gate, 8) != 0)
        return -1;
    type = (gate[1] >> 8) & 0x1f;
    if (!(gate[1] & 0x8000) || (type != 0xe && type != 0xf)) /* present 32-bit interrupt or trap gate */
        return -1;
    if (has_error)
        frame[n++] = error;
    frame[n++] = *eip;
    frame[n++] = vcpu.cs;
    frame[n++] = (*eflags & ~IF) | vmm_vif;
    size = 4 * n;
    if (*esp < size || guest_write(*esp - size, frame, size) != 0)
        return -2;
    *esp -= size;
    *eip = (gate[0] & 0xffff) | (gate[1] & 0xffff0000u);
    vcpu.cs = (unsigned short)(gate[0] >> 16);
    if (type == 0xe)
        vmm_vif = 0;
    *eflags &= ~(TF | AC);
    return 0;
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
