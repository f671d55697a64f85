/* pipe_transfer.c: the ways previrt-as could hand a regular file to gas's pipe, timed on their own
 * (Docs/benchmarks.md, "Where previrt-as's time goes"). MODE: 0 read into populated anonymous memory,
 * then writev (the old way); 1 the same, then vmsplice; 2 splice from the file only; 3 read, then
 * splice; 4 map the file (populated), then splice (previrt-as now). Writes the file to standard output,
 * which must be a pipe:
 *     cc -O2 Benchmarks/pipe_transfer.c -o .build/bench/pipe_transfer
 *     .build/bench/pipe_transfer 4 .build/bench/zstd.s | cat > /dev/null
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

static int read_all(int fd, char *p, size_t n)
{
    for (size_t c = 0; c < n;) {
        ssize_t k = pread(fd, p + c, n - c, (off_t)c);
        if (k <= 0)
            return -1;
        c += (size_t)k;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 3)
        return 64;
    int mode = atoi(argv[1]), fd = open(argv[2], O_RDONLY);
    struct stat s;
    if (fd < 0 || fstat(fd, &s) != 0 || s.st_size == 0)
        return 2;
    size_t n = (size_t)s.st_size;
    fcntl(1, F_SETPIPE_SZ, 1 << 20);
    if (mode == 0 || mode == 1 || mode == 3) {
        char *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
        if (p == MAP_FAILED || read_all(fd, p, n) != 0)
            return 2;
        for (size_t d = 0; mode != 3 && d < n;) {
            struct iovec v = { p + d, n - d };
            ssize_t k = mode == 1 ? vmsplice(1, &v, 1, 0) : writev(1, &v, 1);
            if (k <= 0)
                return 2;
            d += (size_t)k;
        }
        if (mode != 3)
            return 0;
    }
    if (mode == 4) {
        volatile const char *q = mmap(NULL, n, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
        if (q == MAP_FAILED)
            return 2;
        unsigned touched = 0;
        for (size_t i = 0; i < n; i += 4096)
            touched += (unsigned)q[i];
        (void)touched;
    }
    for (loff_t off = 0; off < (loff_t)n;) {
        if (splice(fd, &off, 1, NULL, n - (size_t)off, 0) <= 0)
            return 2;
    }
    return 0;
}
