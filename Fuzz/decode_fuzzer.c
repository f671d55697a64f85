/* libFuzzer harness over the runtime's decoder, previrt_decode, in 16-, 32- and 64-bit code. Whatever
 * the bytes, it reads only the bytes it is given (each call gets a private copy of exactly `avail`
 * bytes, so AddressSanitizer sees a read past them) and its answer is consistent:
 *   - it returns -1 (runs past the bytes), 0 (not a catalog instruction) or a length n, 1 <= n <= 15,
 *     n <= avail, with insn.length == n, insn.mode == mode and a kind in 1..PREVIRT_KIND_MAX;
 *   - kind is 0 unless it returns a length;
 *   - prefixes and immediate lie inside the instruction, the displacement offset at most at its end;
 *   - the answer depends on the instruction's own bytes only: given exactly its n bytes it says the
 *     same, and given fewer it says -1.
 * SPDX-License-Identifier: MIT
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "previrt_runtime.h"

static int decode_copy(const uint8_t *data, size_t avail, int mode, struct previrt_insn *insn)
{
    unsigned char *copy = malloc(avail ? avail : 1);
    int n;
    if (!copy)
        abort();
    memcpy(copy, data, avail);
    n = previrt_decode(copy, avail, mode, insn);
    free(copy);
    return n;
}

static void check_mode(const uint8_t *data, size_t size, int mode)
{
    struct previrt_insn insn, again;
    int n = decode_copy(data, size, mode, &insn), k;
    if (n < -1 || n > 15 || (n > 0 && (size_t)n > size))
        abort();
    if (insn.mode != mode)
        abort();
    if (n <= 0) {
        if (insn.kind != 0)
            abort();
        return;
    }
    if (insn.kind == 0 || insn.kind > PREVIRT_KIND_MAX || insn.length != n || insn.prefix_len >= n)
        abort();
    if (insn.disp_offset > n || (insn.imm_offset && insn.imm_offset >= n))
        abort();
    if (decode_copy(data, (size_t)n, mode, &again) != n || again.kind != insn.kind || memcmp(&again, &insn, sizeof insn) != 0)
        abort();
    for (k = 0; k < n; k++)
        if (decode_copy(data, (size_t)k, mode, &again) != -1)
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_mode(data, size, 16);
    check_mode(data, size, 32);
    check_mode(data, size, 64);
    return 0;
}
