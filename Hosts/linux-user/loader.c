/* loader.c: `previrt run GUEST.elf`. Maps the guest's loadable segments at their addresses, patches
 * every site for the linux-user VMM (after validating all of them), sets up the virtual CPU as a
 * multiboot loader leaves a real one, and jumps to the entry point. i386 guests.
 * SPDX-License-Identifier: MIT
 */
#include <elf.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host.h"

struct multiboot_info {
    unsigned int flags, mem_lower, mem_upper, boot_device;
    const char *cmdline;
};

static void die(const char *path, const char *what)
{
    fprintf(stderr, "previrt run: %s: %s\n", path, what);
    exit(2);
}


int main(int argc, char **argv)
{
    const char *path;
    unsigned char *file, *stubs;
    struct stat st;
    const Elf32_Ehdr *eh;
    const Elf32_Phdr *ph;
    const Elf32_Shdr *sh;
    const char *names;
    struct previrt_image image = {0, 0, (unsigned char *)~0ul, 0};
    struct previrt_backend backend;
    struct previrt_result result;
    static struct multiboot_info mbi = {4, 640, 65536, 0, "previrt=linux-user"};
    int fd, i;

    if (argc != 2) {
        fprintf(stderr, "usage: previrt-linux-user GUEST.elf\n");
        return 2;
    }
    path = argv[1];
    fd = open(path, O_RDONLY);
    if (fd < 0 || fstat(fd, &st) != 0)
        die(path, "cannot open");
    file = mmap(0, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (file == MAP_FAILED || (size_t)st.st_size < sizeof *eh)
        die(path, "cannot read");
    eh = (const Elf32_Ehdr *)file;
    if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != ELFCLASS32 || eh->e_machine != EM_386)
        die(path, "not an ELF32 i386 executable");
    if (eh->e_phoff + (size_t)eh->e_phnum * sizeof *ph > (size_t)st.st_size
        || eh->e_shoff + (size_t)eh->e_shnum * sizeof *sh > (size_t)st.st_size || eh->e_shstrndx >= eh->e_shnum)
        die(path, "truncated headers");

    /* Map every loadable segment at its address, writable and executable (the VMM patches the text). */
    ph = (const Elf32_Phdr *)(file + eh->e_phoff);
    for (i = 0; i < eh->e_phnum; i++) {
        unsigned long start, end;
        if (ph[i].p_type != PT_LOAD || ph[i].p_memsz == 0)
            continue;
        if (ph[i].p_offset + (size_t)ph[i].p_filesz > (size_t)st.st_size || ph[i].p_filesz > ph[i].p_memsz)
            die(path, "a segment lies outside the file");
        start = ph[i].p_vaddr & ~0xffful;
        end = (ph[i].p_vaddr + ph[i].p_memsz + 0xfff) & ~0xffful;
        if (mmap((void *)start, end - start, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0)
            != (void *)start)
            die(path, "cannot map a segment at its address");
        memcpy((void *)(unsigned long)ph[i].p_vaddr, file + ph[i].p_offset, ph[i].p_filesz);
    }

    /* The notes and the text bounds, from the section headers. */
    sh = (const Elf32_Shdr *)(file + eh->e_shoff);
    names = (const char *)file + sh[eh->e_shstrndx].sh_offset;
    for (i = 0; i < eh->e_shnum; i++) {
        if ((sh[i].sh_flags & SHF_ALLOC) == 0)
            continue;
        if (strcmp(names + sh[i].sh_name, PREVIRT_NOTE_SECTION) == 0) {
            image.notes_begin = (const void *)(unsigned long)sh[i].sh_addr;
            image.notes_end = (const void *)(unsigned long)(sh[i].sh_addr + sh[i].sh_size);
        }
        if (sh[i].sh_flags & SHF_EXECINSTR) {
            if ((unsigned char *)(unsigned long)sh[i].sh_addr < image.text_begin)
                image.text_begin = (unsigned char *)(unsigned long)sh[i].sh_addr;
            if ((unsigned char *)(unsigned long)(sh[i].sh_addr + sh[i].sh_size) > image.text_end)
                image.text_end = (unsigned char *)(unsigned long)(sh[i].sh_addr + sh[i].sh_size);
        }
    }
    if (!image.notes_begin)
        die(path, "no .note.previrt section: the guest was not built with a previrt macro set");

    stubs = mmap(0, HOST_MAX_SITES * 64, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
    if (stubs == MAP_FAILED)
        die(path, "cannot map the stub area");
    linux_user_backend(&backend, stubs, HOST_MAX_SITES * 64);
    if (previrt_patch(&image, &backend, &result) != 0) {
        fprintf(stderr, "previrt run: %s: refused to patch: note %u, site %#lx: %s: %s; nothing was patched\n", path,
                result.failed_note, result.failed_address, previrt_failure_name(result.failure), result.why);
        return 2;
    }

    /* The state a multiboot loader leaves: protected mode, interrupts off, flat segments. */
    vcpu.cr[0] = 0x11;
    vcpu.cs = 0x10;
    vcpu.ds = vcpu.es = vcpu.fs = vcpu.gs = vcpu.ss = 0x18;
    vmm_vif = 0;
    enter_guest(eh->e_entry, 0x2badb002, &mbi);
    return 0;
}
