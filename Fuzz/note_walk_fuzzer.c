/* libFuzzer harness over the runtime's freestanding note walker: whatever the bytes, it must stay inside
 * them and either walk to the end or stop with an error that names a note inside the input.
 * SPDX-License-Identifier: MIT
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "previrt_runtime.h"

static int count_site(const struct previrt_site *site, void *ctx)
{
    (void)site;
    ++*(long *)ctx;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A private copy, so that ASan sees any read past the end. */
    unsigned char *copy = malloc(size ? size : 1);
    struct previrt_walk_error error = {0};
    long seen = 0, result;
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    result = previrt_walk_notes(copy, copy + size, 0x100000, count_site, &seen, &error);
    if (result >= 0 && result != seen)
        abort();
    if (result < 0 && error.offset >= (size ? size : 1))
        abort();
    free(copy);
    return 0;
}
