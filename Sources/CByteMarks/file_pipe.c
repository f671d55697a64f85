/* file_pipe.c: a regular file mapped for reading and spliced into a pipe (see pv_file_pipe.h).
 * A file that shrinks while it is mapped would raise SIGBUS on the pages it lost: a handler replaces
 * each such page by a page of zeros and notes it, and the caller finds out from pv_mapping_damaged().
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define _GNU_SOURCE
#include "pv_file_pipe.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

enum { max_mappings = 64 };

static struct {
    uintptr_t start;
    size_t size;
} mappings[max_mappings];
static volatile sig_atomic_t damaged;
static int handler_installed;
static long page_size;

static void on_sigbus(int sig, siginfo_t *info, void *context)
{
    (void)context;
    uintptr_t address = (uintptr_t)info->si_addr;
    for (int i = 0; i < max_mappings; i++) {
        if (mappings[i].size == 0 || address < mappings[i].start || address - mappings[i].start >= mappings[i].size)
            continue;
        void *page = (void *)(address & ~(uintptr_t)(page_size - 1));
        if (mmap(page, (size_t)page_size, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != MAP_FAILED) {
            damaged = 1;
            return; /* the load is retried, and reads zeros */
        }
        break;
    }
    /* Not a page of ours: the default action, as if there were no handler. */
    signal(sig, SIG_DFL);
}

const uint8_t *pv_map_file(int fd, size_t size)
{
    if (size == 0)
        return NULL;
    int slot = -1;
    for (int i = 0; i < max_mappings && slot < 0; i++)
        if (mappings[i].size == 0)
            slot = i;
    if (slot < 0)
        return NULL;
    if (!handler_installed) {
        page_size = sysconf(_SC_PAGESIZE);
        if (page_size <= 0)
            return NULL;
        struct sigaction action;
        memset(&action, 0, sizeof action);
        action.sa_sigaction = on_sigbus;
        action.sa_flags = SA_SIGINFO | SA_NODEFER;
        sigemptyset(&action.sa_mask);
        if (sigaction(SIGBUS, &action, NULL) != 0)
            return NULL;
        handler_installed = 1;
    }
    void *p = mmap(NULL, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    if (p == MAP_FAILED)
        return NULL;
    mappings[slot].start = (uintptr_t)p;
    mappings[slot].size = size;
    return p;
}

void pv_unmap_file(const uint8_t *p, size_t size)
{
    for (int i = 0; i < max_mappings; i++) {
        if (mappings[i].start == (uintptr_t)p && mappings[i].size == size) {
            mappings[i].size = 0;
            break;
        }
    }
    munmap((void *)p, size);
}

int pv_mapping_damaged(void)
{
    return damaged != 0;
}

ssize_t pv_splice_to_pipe(int fd, int64_t offset, int out, size_t n)
{
#if defined(__linux__)
    loff_t at = offset;
    return splice(fd, &at, out, NULL, n, SPLICE_F_MORE);
#else
    (void)fd;
    (void)offset;
    (void)out;
    (void)n;
    errno = ENOSYS;
    return -1;
#endif
}
