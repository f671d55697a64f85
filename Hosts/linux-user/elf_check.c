/* elf_check.c: trust no field of the guest's ELF file. Every offset and size is checked against the
 * file (in 64-bit arithmetic, so nothing wraps) before it is used; the note area and every site must
 * lie in the file-backed part of a PT_LOAD segment, so that the patcher reads and writes only the
 * guest's own memory. (A Linux kernel has sites in .init.text, which is in its writable segment.)
 * The file is read through struct guest_file: only the headers, the section names and the notes, each
 * after its offset and size were checked (the loader preads them; the fuzzer hands a buffer).
 * SPDX-License-Identifier: MIT
 */
#include <elf.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "elf_check.h"
#include "previrt_runtime.h"

typedef unsigned long long u64;
typedef unsigned int u32;

static int refuse(char *why, unsigned long whylen, const char *format, ...)
{
    va_list ap;
    va_start(ap, format);
    vsnprintf(why, whylen, format, ap);
    va_end(ap);
    return -1;
}

/* The file's bytes [offset, offset + length), checked to lie inside it; 0 with the reader's reason in why. */
static const unsigned char *file_at(const struct guest_file *file, u64 offset, u64 length, char *why, unsigned long whylen)
{
    if (offset > file->size || length > file->size - offset) {
        refuse(why, whylen, "internal error: a read at %#llx + %#llx outside the file", offset, length);
        return 0;
    }
    return file->at(file->ctx, offset, (unsigned long)length, why, whylen);
}

static u64 page_down(u64 a) { return a & ~(u64)(GUEST_PAGE - 1); }
static u64 page_up(u64 a) { return (a + GUEST_PAGE - 1) & ~(u64)(GUEST_PAGE - 1); }

const struct guest_segment *guest_segment_holding(const struct guest_layout *layout, u64 address, u64 length, int exec)
{
    unsigned int i;
    for (i = 0; i < layout->count; i++) {
        const struct guest_segment *s = &layout->segment[i];
        if (exec && !(s->flags & PF_X))
            continue;
        if (address >= s->vaddr && address + length <= (u64)s->vaddr + s->memsz && address + length >= address)
            return s;
    }
    return 0;
}

/* The file-backed segment holding [vaddr, vaddr + size), or 0. */
static const struct guest_segment *file_backed(const struct guest_layout *layout, u64 vaddr, u64 size)
{
    unsigned int i;
    for (i = 0; i < layout->count; i++) {
        const struct guest_segment *s = &layout->segment[i];
        if (vaddr >= s->vaddr && vaddr + size <= (u64)s->vaddr + s->filesz)
            return s;
    }
    return 0;
}

static int check_segments(const unsigned char *phdrs, unsigned long size, const Elf32_Ehdr *eh,
                          const struct guest_reserved *reserved, unsigned int nreserved, struct guest_layout *layout,
                          char *why, unsigned long whylen)
{
    unsigned int i, j;
    u64 text_begin = ~0ull, text_end = 0;
    layout->count = 0;
    for (i = 0; i < eh->e_phnum; i++) {
        Elf32_Phdr ph;
        u64 begin, end;
        memcpy(&ph, phdrs + (u64)i * sizeof ph, sizeof ph);
        if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
            continue;
        if (ph.p_filesz > ph.p_memsz)
            return refuse(why, whylen, "program header %u: p_filesz %#x is larger than p_memsz %#x", i, ph.p_filesz, ph.p_memsz);
        if ((u64)ph.p_offset + ph.p_filesz > size)
            return refuse(why, whylen, "program header %u: p_offset %#x + p_filesz %#x runs past the end of the file (%lu bytes)",
                          i, ph.p_offset, ph.p_filesz, size);
        if ((u64)ph.p_vaddr + ph.p_memsz > 0x100000000ull)
            return refuse(why, whylen, "program header %u: p_vaddr %#x + p_memsz %#x wraps past 4 GiB", i, ph.p_vaddr, ph.p_memsz);
        if ((u64)ph.p_paddr + ph.p_memsz > 0x100000000ull)
            return refuse(why, whylen, "program header %u: p_paddr %#x + p_memsz %#x wraps past 4 GiB", i, ph.p_paddr, ph.p_memsz);
        if (layout->count && ph.p_vaddr - ph.p_paddr != layout->virtual_offset)
            return refuse(why, whylen, "program header %u: p_vaddr - p_paddr is %#x, not %#lx as in the first PT_LOAD", i,
                          ph.p_vaddr - ph.p_paddr, layout->virtual_offset);
        layout->virtual_offset = ph.p_vaddr - ph.p_paddr;
        begin = page_down(ph.p_vaddr);
        end = page_up((u64)ph.p_vaddr + ph.p_memsz);
        if (begin < GUEST_LOWEST_ADDRESS)
            return refuse(why, whylen, "program header %u: a PT_LOAD at %#x, below %#lx, where Linux maps nothing", i,
                          ph.p_vaddr, GUEST_LOWEST_ADDRESS);
        for (j = 0; j < nreserved; j++)
            if (begin < reserved[j].end && reserved[j].begin < end)
                return refuse(why, whylen, "program header %u: the PT_LOAD at %#x-%#llx overlaps the VMM's %s (%#llx-%#llx)", i,
                              ph.p_vaddr, (u64)ph.p_vaddr + ph.p_memsz, reserved[j].name, reserved[j].begin, reserved[j].end);
        for (j = 0; j < layout->count; j++) {
            const struct guest_segment *o = &layout->segment[j];
            if (begin < page_up((u64)o->vaddr + o->memsz) && page_down(o->vaddr) < end)
                return refuse(why, whylen, "program header %u: the PT_LOAD at %#x shares a page with the one at %#lx", i,
                              ph.p_vaddr, o->vaddr);
        }
        if (layout->count == GUEST_MAX_SEGMENTS)
            return refuse(why, whylen, "more than %d PT_LOAD segments", GUEST_MAX_SEGMENTS);
        layout->segment[layout->count].vaddr = ph.p_vaddr;
        layout->segment[layout->count].paddr = ph.p_paddr;
        layout->segment[layout->count].memsz = ph.p_memsz;
        layout->segment[layout->count].offset = ph.p_offset;
        layout->segment[layout->count].filesz = ph.p_filesz;
        layout->segment[layout->count].flags = ph.p_flags;
        layout->count++;
        if (ph.p_filesz) {
            if (ph.p_vaddr < text_begin)
                text_begin = ph.p_vaddr;
            if ((u64)ph.p_vaddr + ph.p_filesz > text_end)
                text_end = (u64)ph.p_vaddr + ph.p_filesz;
        }
    }
    if (layout->count == 0)
        return refuse(why, whylen, "no PT_LOAD segment: nothing to load");
    if (text_end == 0)
        return refuse(why, whylen, "no PT_LOAD segment with contents in the file");
    layout->text_begin = (unsigned long)text_begin;
    layout->text_end = (unsigned long)text_end;
    return 0;
}

/* The section headers, when there are any: each in the file, each name inside the string table. The
 * .note.previrt section, if present, gives the note area. */
static int check_sections(const struct guest_file *file, const Elf32_Ehdr *eh, struct guest_layout *layout,
                          char *why, unsigned long whylen)
{
    Elf32_Shdr strtab, sh;
    unsigned int i;
    int found = 0;
    unsigned long size = file->size;
    const unsigned char *shdrs, *names;
    if (eh->e_shnum == 0) {
        if (eh->e_shoff != 0)
            return refuse(why, whylen, "e_shoff %#x with e_shnum 0: extended section numbering is not supported", eh->e_shoff);
        return 0;
    }
    if (eh->e_shentsize != sizeof(Elf32_Shdr))
        return refuse(why, whylen, "e_shentsize %u, not %zu", eh->e_shentsize, sizeof(Elf32_Shdr));
    if ((u64)eh->e_shoff + (u64)eh->e_shnum * sizeof(Elf32_Shdr) > size)
        return refuse(why, whylen, "e_shoff %#x + %u section headers runs past the end of the file (%lu bytes)", eh->e_shoff,
                      eh->e_shnum, size);
    if (eh->e_shstrndx == SHN_UNDEF)
        return 0; /* no section names: the notes come from PT_NOTE */
    if (eh->e_shstrndx >= eh->e_shnum)
        return refuse(why, whylen, "e_shstrndx %u is not a section (there are %u)", eh->e_shstrndx, eh->e_shnum);
    if (!(shdrs = file_at(file, eh->e_shoff, (u64)eh->e_shnum * sizeof(Elf32_Shdr), why, whylen)))
        return -1;
    memcpy(&strtab, shdrs + (u64)eh->e_shstrndx * sizeof strtab, sizeof strtab);
    if (strtab.sh_type != SHT_STRTAB || (u64)strtab.sh_offset + strtab.sh_size > size || strtab.sh_size == 0)
        return refuse(why, whylen, "e_shstrndx %u: the section name table is not a string table inside the file", eh->e_shstrndx);
    if (!(names = file_at(file, strtab.sh_offset, strtab.sh_size, why, whylen)))
        return -1;
    for (i = 0; i < eh->e_shnum; i++) {
        const char *name;
        memcpy(&sh, shdrs + (u64)i * sizeof sh, sizeof sh);
        if (sh.sh_name >= strtab.sh_size || !memchr(names + sh.sh_name, 0, strtab.sh_size - sh.sh_name))
            return refuse(why, whylen, "section %u: sh_name %#x runs past the section name table", i, sh.sh_name);
        name = (const char *)names + sh.sh_name;
        if (strcmp(name, PREVIRT_NOTE_SECTION) != 0)
            continue;
        if (found++)
            return refuse(why, whylen, "section %u: a second %s section", i, PREVIRT_NOTE_SECTION);
        if (sh.sh_type != SHT_NOTE || !(sh.sh_flags & SHF_ALLOC))
            return refuse(why, whylen, "section %u: %s is not an allocated SHT_NOTE section", i, PREVIRT_NOTE_SECTION);
        if (!file_backed(layout, sh.sh_addr, sh.sh_size))
            return refuse(why, whylen, "section %u: the note area %#x + %#x is not inside the file-backed part of a PT_LOAD segment",
                          i, sh.sh_addr, sh.sh_size);
        layout->notes_vaddr = sh.sh_addr;
        layout->notes_size = sh.sh_size;
        layout->notes_from = "section " PREVIRT_NOTE_SECTION;
    }
    return 0;
}

/* The file's bytes behind [vaddr, vaddr + size), which file_backed says a segment holds. */
static const unsigned char *notes_bytes(const struct guest_file *file, const struct guest_layout *layout, u64 vaddr, u64 size,
                                        char *why, unsigned long whylen)
{
    const struct guest_segment *s = file_backed(layout, vaddr, size);
    return file_at(file, s->offset + (vaddr - s->vaddr), size, why, whylen);
}

/* Without a .note.previrt section: the PT_NOTE segment that holds PreVirt notes. */
static int check_note_segments(const struct guest_file *file, const unsigned char *phdrs, const Elf32_Ehdr *eh,
                               struct guest_layout *layout, char *why, unsigned long whylen)
{
    unsigned int i;
    unsigned long size = file->size;
    for (i = 0; i < eh->e_phnum; i++) {
        Elf32_Phdr ph;
        struct previrt_walk_error error;
        const unsigned char *p;
        memcpy(&ph, phdrs + (u64)i * sizeof ph, sizeof ph);
        if (ph.p_type != PT_NOTE)
            continue;
        if ((u64)ph.p_offset + ph.p_filesz > size)
            return refuse(why, whylen, "program header %u: the PT_NOTE's p_offset %#x + p_filesz %#x runs past the end of the file",
                          i, ph.p_offset, ph.p_filesz);
        if (!file_backed(layout, ph.p_vaddr, ph.p_filesz))
            return refuse(why, whylen, "program header %u: the PT_NOTE at %#x + %#x is not inside the file-backed part of a PT_LOAD segment",
                          i, ph.p_vaddr, ph.p_filesz);
        if (!(p = notes_bytes(file, layout, ph.p_vaddr, ph.p_filesz, why, whylen)))
            return -1;
        if (previrt_walk_notes(p, p + ph.p_filesz, ph.p_vaddr, 0, 0, &error) == 0)
            continue; /* no PreVirt site notes here */
        if (layout->notes_from)
            return refuse(why, whylen, "program header %u: a second PT_NOTE segment with PreVirt notes", i);
        layout->notes_vaddr = ph.p_vaddr;
        layout->notes_size = ph.p_filesz;
        layout->notes_from = "a PT_NOTE segment";
    }
    return 0;
}

/* Xen's PVH entry note (owner "Xen", type XEN_ELFNOTE_PHYS32_ENTRY, 18): the physical address of a 32-bit
 * entry point, which must lie in an executable segment. */
static int check_pvh_note(const struct guest_file *file, const unsigned char *phdrs, const Elf32_Ehdr *eh,
                          struct guest_layout *layout, char *why, unsigned long whylen)
{
    unsigned int i;
    for (i = 0; i < eh->e_phnum; i++) {
        Elf32_Phdr ph;
        u64 at, end;
        const unsigned char *note;
        memcpy(&ph, phdrs + (u64)i * sizeof ph, sizeof ph);
        if (ph.p_type != PT_NOTE || (u64)ph.p_offset + ph.p_filesz > file->size)
            continue;
        if (!(note = file_at(file, ph.p_offset, ph.p_filesz, why, whylen)))
            return -1;
        at = 0;
        end = ph.p_filesz;
        while (at + 12 <= end) {
            u32 namesz, descsz, type;
            u64 desc, next;
            memcpy(&namesz, note + at, 4);
            memcpy(&descsz, note + at + 4, 4);
            memcpy(&type, note + at + 8, 4);
            desc = at + 12 + (((u64)namesz + 3) & ~3ull);
            next = desc + (((u64)descsz + 3) & ~3ull);
            if (next > end)
                break;
            if (namesz == 4 && memcmp(note + at + 12, "Xen", 4) == 0 && type == 18 && descsz >= 4) {
                u32 entry;
                memcpy(&entry, note + desc, 4);
                if (!guest_segment_holding(layout, (u64)entry + layout->virtual_offset, 1, 1))
                    return refuse(why, whylen, "the PVH entry point %#x is not inside an executable PT_LOAD segment", entry);
                layout->pvh_entry = entry;
            }
            at = next;
        }
    }
    return 0;
}

struct site_check {
    const struct guest_layout *layout;
    char *why;
    unsigned long whylen;
    int failed;
};

static int check_site(const struct previrt_site *site, void *ctx)
{
    struct site_check *c = ctx;
    u64 address = (u64)site->address & 0xffffffffull;
    if (file_backed(c->layout, address, site->site_len ? site->site_len : 1))
        return 0;
    c->failed = refuse(c->why, c->whylen, "note %u: the site at %#llx (%u bytes) is not inside the file-backed part of a PT_LOAD segment of the guest",
                       site->note_index, address, site->site_len);
    return 1;
}

int elf_check_file(const struct guest_file *file, const struct guest_reserved *reserved, unsigned int nreserved,
                   struct guest_layout *layout, char *why, unsigned long whylen)
{
    Elf32_Ehdr eh;
    struct site_check sites = {layout, why, whylen, 0};
    struct previrt_walk_error error;
    const unsigned char *notes, *header, *phdrs;
    unsigned long size = file->size;
    long n;

    memset(layout, 0, sizeof *layout);
    if (size < sizeof eh)
        return refuse(why, whylen, "%lu bytes: too small for an ELF header", size);
    if (!(header = file_at(file, 0, sizeof eh, why, whylen)))
        return -1;
    memcpy(&eh, header, sizeof eh);
    if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS32 || eh.e_ident[EI_DATA] != ELFDATA2LSB
        || eh.e_machine != EM_386)
        return refuse(why, whylen, "not an ELF32 i386 executable");
    if (eh.e_type != ET_EXEC)
        return refuse(why, whylen, "e_type %u: not an executable (ET_EXEC)", eh.e_type);
    if (eh.e_phnum == 0)
        return refuse(why, whylen, "e_phnum 0: no program headers, nothing to load");
    if (eh.e_phnum == PN_XNUM)
        return refuse(why, whylen, "e_phnum PN_XNUM: extended program header numbering is not supported");
    if (eh.e_phentsize != sizeof(Elf32_Phdr))
        return refuse(why, whylen, "e_phentsize %u, not %zu", eh.e_phentsize, sizeof(Elf32_Phdr));
    if ((u64)eh.e_phoff + (u64)eh.e_phnum * sizeof(Elf32_Phdr) > size)
        return refuse(why, whylen, "e_phoff %#x + %u program headers runs past the end of the file (%lu bytes)", eh.e_phoff,
                      eh.e_phnum, size);
    if (!(phdrs = file_at(file, eh.e_phoff, (u64)eh.e_phnum * sizeof(Elf32_Phdr), why, whylen)))
        return -1;
    if (check_segments(phdrs, size, &eh, reserved, nreserved, layout, why, whylen) != 0
        || check_sections(file, &eh, layout, why, whylen) != 0)
        return -1;
    if (!layout->notes_from && check_note_segments(file, phdrs, &eh, layout, why, whylen) != 0)
        return -1;
    if (!layout->notes_from)
        return refuse(why, whylen, "no PreVirt notes (no %s section, no PT_NOTE segment with PreVirt notes): "
                                   "the guest was not built with a previrt macro set", PREVIRT_NOTE_SECTION);
    if (check_pvh_note(file, phdrs, &eh, layout, why, whylen) != 0)
        return -1;
    if (!guest_segment_holding(layout, eh.e_entry, 1, 1) && !guest_segment_holding(layout, (u64)eh.e_entry + layout->virtual_offset, 1, 1)
        && !layout->pvh_entry)
        return refuse(why, whylen, "the entry point %#x is not inside an executable PT_LOAD segment", eh.e_entry);
    layout->entry = eh.e_entry;

    /* Every site in an executable segment: then the patcher reads and writes only guest memory. A note
     * area that cannot be walked is left to the patcher, which names the note. */
    if (!(notes = notes_bytes(file, layout, layout->notes_vaddr, layout->notes_size, why, whylen)))
        return -1;
    n = previrt_walk_notes(notes, notes + layout->notes_size, layout->notes_vaddr, check_site, &sites, &error);
    if (sites.failed)
        return -1;
    layout->sites = n < 0 ? 0 : (unsigned long)n;
    return 0;
}

/* elf_check over a buffer: every read is a pointer into it. */
static const unsigned char *buffer_at(void *ctx, unsigned long long offset, unsigned long length, char *why, unsigned long whylen)
{
    (void)length, (void)why, (void)whylen;
    return (const unsigned char *)ctx + offset;
}

int elf_check(const unsigned char *bytes, unsigned long size, const struct guest_reserved *reserved, unsigned int nreserved,
              struct guest_layout *layout, char *why, unsigned long whylen)
{
    struct guest_file file = {size, buffer_at, (void *)bytes};
    return elf_check_file(&file, reserved, nreserved, layout, why, whylen);
}
