/* uml-xstate.c: an LD_PRELOAD shim that lets Debian's User-Mode Linux 6.1 (linux.uml) run on a host whose
 * XSAVE area is larger than UML 6.1 knows (this machine has AVX-512 and AMX). UML sets its processes'
 * FPU state with PTRACE_SETREGSET NT_X86_XSTATE and a fixed 832-byte buffer (x87, SSE, AVX); the host
 * kernel (since 5.14) takes only a buffer of its whole user XSAVE size and fails with EFAULT otherwise,
 * so UML panics at its first user process ("ptrace set fp regs failed, errno = 14"). Later UML releases
 * size the buffer from the host; this shim does it for 6.1: it reads the whole current state, lays
 * UML's x87, SSE and AVX state over it, and sets the whole buffer. The components UML does not know
 * (AVX-512, AMX) keep the host process's current values, shared by UML's guest processes: the benchmark
 * run under UML is therefore given GLIBC_TUNABLES that keep its glibc off AVX-512.
 * Used only by Benchmarks/linux/bench.py, for the UML column.
 * SPDX-License-Identifier: MIT
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <elf.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/types.h>
#include <sys/uio.h>

#define XSAVE_LEGACY 512                   /* x87 and SSE */
#define XSAVE_HEADER 64                    /* XSTATE_BV at its start */
#define UML_KNOWN_COMPONENTS 0x7ull        /* x87, SSE, AVX */

long ptrace(enum __ptrace_request request, ...)
{
    static long (*real)(enum __ptrace_request, pid_t, void *, void *);
    static unsigned char whole[1 << 16] __attribute__((aligned(64)));
    va_list ap;
    va_start(ap, request);
    pid_t pid = va_arg(ap, pid_t);
    void *addr = va_arg(ap, void *);
    void *data = va_arg(ap, void *);
    va_end(ap);
    if (!real)
        real = (long (*)(enum __ptrace_request, pid_t, void *, void *))dlsym(RTLD_NEXT, "ptrace");

    if (request == PTRACE_SETREGSET && (uintptr_t)addr == NT_X86_XSTATE && data) {
        const struct iovec *uml = data;
        struct iovec iov = { whole, sizeof whole };
        if (uml->iov_len >= XSAVE_LEGACY + XSAVE_HEADER && real(PTRACE_GETREGSET, pid, addr, &iov) == 0 && iov.iov_len > uml->iov_len) {
            const unsigned char *from = uml->iov_base;
            uint64_t uml_bv, bv;
            memcpy(whole, from, XSAVE_LEGACY);
            memcpy(whole + XSAVE_LEGACY + XSAVE_HEADER, from + XSAVE_LEGACY + XSAVE_HEADER, uml->iov_len - XSAVE_LEGACY - XSAVE_HEADER);
            memcpy(&uml_bv, from + XSAVE_LEGACY, sizeof uml_bv);
            memcpy(&bv, whole + XSAVE_LEGACY, sizeof bv);
            bv = (bv & ~UML_KNOWN_COMPONENTS) | (uml_bv & UML_KNOWN_COMPONENTS);
            memcpy(whole + XSAVE_LEGACY, &bv, sizeof bv);
            return real(PTRACE_SETREGSET, pid, addr, &iov);
        }
    }
    return real(request, pid, addr, data);
}
