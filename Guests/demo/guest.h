/* guest.h: the demo guest's own interfaces.
 * SPDX-License-Identifier: MIT
 */
#ifndef GUEST_H
#define GUEST_H

#include "console.h"

/* checks.c: exercise every sensitive kind and report; returns the number of failures. */
int run_checks(void);

/* boot.S */
void far_target(void);
void soft_interrupt(void);
extern volatile unsigned int far_calls, soft_interrupts;

#endif
