/* uml-xstate.c: an LD_PRELOAD shim that lets Debian's User-Mode Linux 6.1 (linux.uml) run on a host whose
 * XSAVE area is larger than UML 6.1 knows (this machine has AVX-512 and AMX). UML reads and sets its
 * processes' FPU state with PTRACE_GETREGSET / PTRACE_SETREGSET NT_X86_XSTATE and a fixed 832-byte buffer
 * (x87, SSE, AVX), around every system call and fault of a guest process. The host kernel (since 5.14)
 * takes for SETREGSET only a buffer of its whole user XSAVE size and fails with EFAULT otherwise, so UML
 * panics at its first user process ("ptrace set fp regs failed, errno = 14"). Later UML releases size the
 * buffer from the host; this shim does it for 6.1, with no extra system call: a GETREGSET reads the whole
 * state into a buffer kept for that host process and gives UML its part; a SETREGSET lays UML's x87, SSE
 * and AVX state over that buffer and sets the whole of it. The components UML does not know (AVX-512,
 * AMX) keep the host process's own values (a UML guest process is one host process, its threads aside).
 * Used only by Benchmarks/linux/bench.py, for the UML column; it costs two larger copies per round trip.
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
#define XSAVE_MAX (1 << 14)                /* this host's is 11,008 bytes with AMX */
#define UML_KNOWN_COMPONENTS 0x7ull        /* x87, SSE, AVX */
#define SLOTS 64                           /* host processes remembered, replaced in turn */

typedef long (*ptrace_fn)(enum __ptrace_request, pid_t, void *, void *);

static struct slot {
    pid_t pid;
    size_t len;
    unsigned char buf[XSAVE_MAX] __attribute__((aligned(64)));
} slots[SLOTS];
static unsigned next_slot;

static struct slot *find(pid_t pid)
{
    for (int i = 0; i < SLOTS; i++)
        if (slots[i].pid == pid)
            return &slots[i];
    return NULL;
}

/* Reads pid's whole XSAVE state into its slot; NULL if that fails or does not fit. */
static struct slot *read_whole(ptrace_fn real, pid_t pid, void *addr)
{
    struct slot *s = find(pid);
    if (!s) {
        s = &slots[next_slot++ % SLOTS];
        s->pid = 0;
    }
    struct iovec iov = { s->buf, sizeof s->buf };
    if (real(PTRACE_GETREGSET, pid, addr, &iov) != 0 || iov.iov_len >= sizeof s->buf) {
        s->pid = 0;
        return NULL;
    }
    s->pid = pid;
    s->len = iov.iov_len;
    return s;
}

long ptrace(enum __ptrace_request request, ...)
{
    static ptrace_fn real;
    va_list ap;
    va_start(ap, request);
    pid_t pid = va_arg(ap, pid_t);
    void *addr = va_arg(ap, void *);
    void *data = va_arg(ap, void *);
    va_end(ap);
    if (!real)
        real = (ptrace_fn)dlsym(RTLD_NEXT, "ptrace");
    if ((uintptr_t)addr != NT_X86_XSTATE || !data)
        return real(request, pid, addr, data);

    struct iovec *uml = data;
    if (request == PTRACE_GETREGSET) {
        struct slot *s = read_whole(real, pid, addr);
        if (!s)
            return real(request, pid, addr, data);
        if (uml->iov_len > s->len)
            uml->iov_len = s->len;
        memcpy(uml->iov_base, s->buf, uml->iov_len);
        return 0;
    }
    if (request == PTRACE_SETREGSET && uml->iov_len >= XSAVE_LEGACY + XSAVE_HEADER) {
        struct slot *s = find(pid);
        if (!s)
            s = read_whole(real, pid, addr);
        if (!s || s->len <= uml->iov_len)
            return real(request, pid, addr, data);
        const unsigned char *from = uml->iov_base;
        uint64_t uml_bv, bv;
        memcpy(s->buf, from, XSAVE_LEGACY);
        memcpy(s->buf + XSAVE_LEGACY + XSAVE_HEADER, from + XSAVE_LEGACY + XSAVE_HEADER, uml->iov_len - XSAVE_LEGACY - XSAVE_HEADER);
        memcpy(&uml_bv, from + XSAVE_LEGACY, sizeof uml_bv);
        memcpy(&bv, s->buf + XSAVE_LEGACY, sizeof bv);
        bv = (bv & ~UML_KNOWN_COMPONENTS) | (uml_bv & UML_KNOWN_COMPONENTS);
        memcpy(s->buf + XSAVE_LEGACY, &bv, sizeof bv);
        struct iovec iov = { s->buf, s->len };
        return real(PTRACE_SETREGSET, pid, addr, &iov);
    }
    return real(request, pid, addr, data);
}
