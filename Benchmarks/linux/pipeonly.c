/* pipeonly.c: the pipe round trip of Kernel/userland/bench.c alone, as init, for counting the host's work
 * per round trip (Benchmarks/linux/hostwork.sh): PIPE_ROUNDS x 2,000 round trips, then the machine
 * restarts. Built twice, with PIPE_ROUNDS 3 and 0; the difference of two counts over 6,000 is the count
 * per round trip (boot, fork and the child's exit are in both).
 * SPDX-License-Identifier: MIT
 */
#define main bench_main
#include "../../Kernel/userland/bench.c"
#undef main

int main(void)
{
    double p = 1e9;
    say("previrt bench: ", "start");
    if (getpid() == 1)
        klogctl(8 /* SYSLOG_ACTION_CONSOLE_LEVEL */, NULL, 1);
    for (int r = 0; r < PIPE_ROUNDS; r++)
        p = best(p, pipe_us());
    say("previrt bench: ", "pipe_us %.2f", p);
    leave_machine(0);
}
