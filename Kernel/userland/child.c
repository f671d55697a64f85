/* child.c: the program init execs (the "exec" check): it prints its arguments and environment, says
 * whether its parent is init, and exits with status 7, which init expects.
 * SPDX-License-Identifier: MIT
 */
#include <stdlib.h>

#include "userland.h"

int main(int argc, char **argv)
{
    const char *env = getenv("PREVIRT_USERLAND");
    say("previrt userland: ", "exec: %s running, argc %d, argv[1] %s, PREVIRT_USERLAND=%s, parent %s", argv[0], argc,
        argc > 1 ? argv[1] : "(none)", env ? env : "(unset)", getppid() == 1 ? "is init" : "is not init");
    return 7;
}
