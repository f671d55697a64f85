/* pv_file_pipe.h: a regular file read without copying it: mapped for the source scan, and moved from the
 * page cache into GNU as's pipe with splice (which Swift's Glibc module does not export). previrt as
 * (Sources/PrevirtAssembler/Input.swift) uses it for the inputs it rewrites in place.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef PV_FILE_PIPE_H
#define PV_FILE_PIPE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The first size bytes of regular file fd, mapped read-only and populated in one call, or NULL (size 0,
 * no memory, too many mappings: read the file instead). A page of the mapping that the file no longer
 * holds (it shrank) reads as zeros instead of raising SIGBUS, and pv_mapping_damaged() becomes 1. */
const uint8_t *pv_map_file(int fd, size_t size);

/* Unmaps what pv_map_file returned. */
void pv_unmap_file(const uint8_t *p, size_t size);

/* 1 when a mapped file shrank under its mapping since the program started (its bytes read were not
 * the file's), else 0. */
int pv_mapping_damaged(void);

/* Moves n bytes of fd from offset into the pipe out, by reference to the page cache (no copy): the
 * reader copies straight from the file's pages. Returns the bytes moved (possibly fewer, as write), 0 at
 * the file's end, or -1 with errno set (EINVAL or ENOSYS where splice does not apply: write instead). */
ssize_t pv_splice_to_pipe(int fd, int64_t offset, int out, size_t n);

#endif
