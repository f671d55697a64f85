/* binutils.c: libbfd and libopcodes behind pv_binutils.h.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define _GNU_SOURCE /* PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP */
#define PACKAGE "previrt"
#define PACKAGE_VERSION "0.1.0"
#include <bfd.h>
#include <dis-asm.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pv_binutils.h"

/* libbfd is not thread-safe: its file cache is one global LRU list that every open, close, seek and
 * read rearranges. The Swift side may use several files at once from several threads (the tests run in
 * parallel in one process), so every entry point below that reaches libbfd or libopcodes holds one
 * process-wide lock, recursive because some call others; it is released however the function returns. */
static pthread_mutex_t binutils_lock = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
static void binutils_unlock(int *unused) { (void)unused; pthread_mutex_unlock(&binutils_lock); }
#define HOLD_BINUTILS_LOCK \
    int binutils_locked_ __attribute__((cleanup(binutils_unlock), unused)) = pthread_mutex_lock(&binutils_lock)

/* A program header made into a section, for a file without section headers (libbfd makes none). */
struct segment {
    char name[32];
    uint64_t vaddr, offset, filesz;
    unsigned int flags;  /* PV_SEC_* */
};

struct pv_object {
    bfd *abfd;
    int is_member;
    asection **sections;
    int nsections;
    asymbol **symbols;
    long nsymbols;
    int symbols_loaded;
    arelent **relocs;
    long nrelocs;
    unsigned char *is_note;     /* per section: an SHT_NOTE section */
    int has_section_headers;
    struct segment *segments;   /* without section headers: PT_NOTE and executable PT_LOAD segments */
    int nsegments;
    ufile_ptr file_size;
    struct pv_object *next_owned;
};

struct pv_file {
    bfd *abfd;
    int is_archive;
    int yielded_self;
    bfd *last_member;
    struct pv_object *objects;
};

static void set_error(char *err, size_t errlen, const char *what)
{
    if (err && errlen)
        snprintf(err, errlen, "%s: %s", what, bfd_errmsg(bfd_get_error()));
}

static int initialized;

static void ensure_init(void)
{
    if (!initialized) {
        bfd_init();
        initialized = 1;
    }
}

static const char *file_type_name(mode_t mode)
{
    if (S_ISFIFO(mode))
        return "a FIFO";
    if (S_ISCHR(mode))
        return "a character device";
    if (S_ISBLK(mode))
        return "a block device";
    if (S_ISDIR(mode))
        return "a directory";
    if (S_ISSOCK(mode))
        return "a socket";
    return "not a regular file";
}

pv_file *pv_file_open(const char *path, char *err, size_t errlen)
{
    HOLD_BINUTILS_LOCK;
    pv_file *file;
    bfd *abfd;
    struct stat st;
    int fd;
    ensure_init();
    if (err && errlen)
        err[0] = 0;
    /* O_NONBLOCK: opening a FIFO must not wait for a writer. The type is checked on the open file, so
     * what is read is what was checked. */
    fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        if (err && errlen)
            snprintf(err, errlen, "cannot open: %s", strerror(errno));
        return NULL;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (err && errlen)
            snprintf(err, errlen, "cannot inspect %s: only regular files are read",
                     fstat(fd, &st) != 0 ? "the file" : file_type_name(st.st_mode));
        close(fd);
        return NULL;
    }
    (void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    abfd = bfd_fdopenr(path, NULL, fd);  /* owns fd from here, even on failure */
    if (!abfd) {
        set_error(err, errlen, "cannot open");
        return NULL;
    }
    file = calloc(1, sizeof *file);
    if (!file) {
        bfd_close(abfd);
        return NULL;
    }
    file->abfd = abfd;
    if (bfd_check_format(abfd, bfd_archive)) {
        file->is_archive = 1;
    } else if (!bfd_check_format(abfd, bfd_object)) {
        set_error(err, errlen, "not an object file, executable or archive");
        bfd_close(abfd);
        free(file);
        return NULL;
    }
    return file;
}

static void object_free(struct pv_object *o)
{
    free(o->sections);
    free(o->symbols);
    free(o->relocs);
    free(o->is_note);
    free(o->segments);
    free(o);
}

void pv_file_close(pv_file *file)
{
    HOLD_BINUTILS_LOCK;
    struct pv_object *o, *next;
    if (!file)
        return;
    for (o = file->objects; o; o = next) {
        next = o->next_owned;
        object_free(o);
    }
    bfd_close(file->abfd);
    free(file);
}

int pv_file_is_archive(const pv_file *file) { return file->is_archive; }

/* --- ELF note sections ---
 * libbfd keeps an ELF section's type to itself, so the section header table is read here: every
 * offset and count is checked against the file size first. */

struct note_range {
    ufile_ptr offset, size;
};

static int read_at(bfd *abfd, ufile_ptr pos, void *buf, size_t n)
{
    if (pos > (ufile_ptr)INT64_MAX || bfd_seek(abfd, (file_ptr)pos, SEEK_SET) != 0)
        return -1;
    return bfd_bread(buf, n, abfd) == n ? 0 : -1;
}

static uint64_t le(const unsigned char *p, int n)
{
    uint64_t v = 0;
    while (n--)
        v = v << 8 | p[n];
    return v;
}

static int compare_ranges(const void *a, const void *b)
{
    const struct note_range *x = a, *y = b;
    if (x->offset != y->offset)
        return x->offset < y->offset ? -1 : 1;
    return x->size < y->size ? -1 : x->size > y->size;
}

/* The SHT_NOTE section headers of an ELF object, sorted; *count 0 when there are none. Returns 0, or -1
 * when the object has no section headers at all. */
static int elf_note_ranges(pv_object *o, struct note_range **out, size_t *count)
{
    unsigned char eh[64], sh[64];
    int is64;
    uint64_t shoff, shnum, shentsize, i;
    struct note_range *ranges = NULL;
    size_t n = 0;
    *out = NULL;
    *count = 0;
    if (read_at(o->abfd, 0, eh, 52) != 0 || memcmp(eh, "\177ELF", 4) != 0 || eh[5] != 1)
        return 0;
    is64 = eh[4] == 2;
    if (is64 && read_at(o->abfd, 0, eh, 64) != 0)
        return 0;
    shoff = is64 ? le(eh + 0x28, 8) : le(eh + 0x20, 4);
    shentsize = is64 ? le(eh + 0x3a, 2) : le(eh + 0x2e, 2);
    shnum = is64 ? le(eh + 0x3c, 2) : le(eh + 0x30, 2);
    if (shoff == 0)
        return -1;
    if (shentsize < (is64 ? 64u : 40u) || shoff > o->file_size || o->file_size - shoff < shentsize)
        return 0;
    if (shnum == 0) {  /* more than 0xff00 sections: the count is section 0's sh_size */
        if (read_at(o->abfd, shoff, sh, is64 ? 64 : 40) != 0)
            return 0;
        shnum = is64 ? le(sh + 0x20, 8) : le(sh + 0x14, 4);
        if (shnum == 0)
            return -1;
    }
    if (shnum > (o->file_size - shoff) / shentsize)
        return 0;
    for (i = 0; i < shnum; i++) {
        if (read_at(o->abfd, shoff + i * shentsize, sh, is64 ? 64 : 40) != 0)
            break;
        if (le(sh + 4, 4) != 7 /* SHT_NOTE */)
            continue;
        if (n % 16 == 0) {
            struct note_range *grown = realloc(ranges, (n + 16) * sizeof *ranges);
            if (!grown)
                break;
            ranges = grown;
        }
        ranges[n].offset = is64 ? le(sh + 0x18, 8) : le(sh + 0x10, 4);
        ranges[n].size = is64 ? le(sh + 0x20, 8) : le(sh + 0x14, 4);
        n++;
    }
    if (n)
        qsort(ranges, n, sizeof *ranges, compare_ranges);
    *out = ranges;
    *count = n;
    return 0;
}

/* Without section headers, the notes and the code are found through the program headers: each
 * PT_NOTE segment, and each executable PT_LOAD segment, becomes a section named after it. */
static void read_segments(pv_object *o)
{
    unsigned char eh[64], ph[56];
    int is64;
    uint64_t phoff, phentsize, phnum, i;
    if (read_at(o->abfd, 0, eh, 52) != 0)
        return;
    is64 = eh[4] == 2;
    if (is64 && read_at(o->abfd, 0, eh, 64) != 0)
        return;
    phoff = is64 ? le(eh + 0x20, 8) : le(eh + 0x1c, 4);
    phentsize = is64 ? le(eh + 0x36, 2) : le(eh + 0x2a, 2);
    phnum = is64 ? le(eh + 0x38, 2) : le(eh + 0x2c, 2);
    if (phentsize < (is64 ? 56u : 32u) || phoff > o->file_size || phnum > (o->file_size - phoff) / phentsize)
        return;
    o->segments = calloc(phnum + 1, sizeof *o->segments);
    if (!o->segments)
        return;
    for (i = 0; i < phnum; i++) {
        struct segment *seg = &o->segments[o->nsegments];
        uint64_t type, flags;
        if (read_at(o->abfd, phoff + i * phentsize, ph, is64 ? 56 : 32) != 0)
            break;
        type = le(ph, 4);
        flags = is64 ? le(ph + 4, 4) : le(ph + 24, 4);
        seg->offset = is64 ? le(ph + 8, 8) : le(ph + 4, 4);
        seg->vaddr = is64 ? le(ph + 16, 8) : le(ph + 8, 4);
        seg->filesz = is64 ? le(ph + 32, 8) : le(ph + 16, 4);
        if (type == 4 /* PT_NOTE */) {
            seg->flags = PV_SEC_NOTE | PV_SEC_CONTENTS;
            snprintf(seg->name, sizeof seg->name, "PT_NOTE[%u]", (unsigned)i);
        } else if (type == 1 /* PT_LOAD */ && (flags & 1 /* PF_X */)) {
            seg->flags = PV_SEC_CODE | PV_SEC_ALLOC | PV_SEC_CONTENTS;
            snprintf(seg->name, sizeof seg->name, "PT_LOAD[%u]", (unsigned)i);
        } else {
            continue;
        }
        if (seg->offset <= o->file_size && seg->filesz <= o->file_size - seg->offset)
            seg->flags |= PV_SEC_IN_FILE;
        o->nsegments++;
    }
}

static void find_notes(pv_object *o)
{
    struct note_range *ranges, key;
    size_t count;
    int i;
    o->has_section_headers = 1;
    if (bfd_get_flavour(o->abfd) != bfd_target_elf_flavour)
        return;
    if (elf_note_ranges(o, &ranges, &count) != 0) {
        o->has_section_headers = 0;
        read_segments(o);
        return;
    }
    for (i = 0; i < o->nsections && count; i++) {
        asection *s = o->sections[i];
        if (!(s->flags & SEC_HAS_CONTENTS))
            continue;
        key.offset = (ufile_ptr)s->filepos;
        key.size = bfd_section_size(s);
        o->is_note[i] = bsearch(&key, ranges, count, sizeof *ranges, compare_ranges) != NULL;
    }
    free(ranges);
}

/* Whether the section's bytes lie inside the file: offset and size against the file's size, no overflow. */
static int in_file(const pv_object *o, const asection *s)
{
    ufile_ptr size = s->compress_status != COMPRESS_SECTION_NONE ? s->compressed_size : bfd_section_size(s);
    if (!(s->flags & SEC_HAS_CONTENTS))
        return 0;
    if (s->flags & SEC_IN_MEMORY)
        return 1;
    if (s->filepos < 0 || o->file_size == 0)
        return 0;
    return (ufile_ptr)s->filepos <= o->file_size && size <= o->file_size - (ufile_ptr)s->filepos;
}

static pv_object *make_object(pv_file *file, bfd *abfd, int is_member)
{
    asection *s;
    int i = 0;
    pv_object *o = calloc(1, sizeof *o);
    if (!o)
        return NULL;
    o->abfd = abfd;
    o->is_member = is_member;
    o->file_size = bfd_get_file_size(abfd);
    o->nsections = (int)bfd_count_sections(abfd);
    o->sections = calloc((size_t)o->nsections + 1, sizeof *o->sections);
    o->is_note = calloc((size_t)o->nsections + 1, 1);
    if (!o->sections || !o->is_note) {
        free(o->sections);
        free(o->is_note);
        free(o);
        return NULL;
    }
    for (s = abfd->sections; s && i < o->nsections; s = s->next)
        o->sections[i++] = s;
    o->nsections = i;
    find_notes(o);
    o->next_owned = file->objects;
    file->objects = o;
    return o;
}

pv_object *pv_file_next_object(pv_file *file, char *err, size_t errlen)
{
    HOLD_BINUTILS_LOCK;
    if (err && errlen)
        err[0] = 0;
    if (!file->is_archive) {
        if (file->yielded_self)
            return NULL;
        file->yielded_self = 1;
        return make_object(file, file->abfd, 0);
    }
    for (;;) {
        bfd *member = bfd_openr_next_archived_file(file->abfd, file->last_member);
        if (!member) {
            if (bfd_get_error() != bfd_error_no_more_archived_files)
                set_error(err, errlen, "cannot read the next archive member");
            return NULL;
        }
        file->last_member = member;
        if (bfd_check_format(member, bfd_object))
            return make_object(file, member, 1);
        /* A member that is not an object (a symbol index, a text file) is skipped. */
    }
}

const char *pv_object_name(const pv_object *o) { return bfd_get_filename(o->abfd); }
const char *pv_object_format(const pv_object *o) { return bfd_get_target(o->abfd); }
const char *pv_object_arch(const pv_object *o) { return bfd_printable_name(o->abfd); }
int pv_object_is_elf(const pv_object *o) { return bfd_get_flavour(o->abfd) == bfd_target_elf_flavour; }
int pv_object_is_64bit(const pv_object *o) { return bfd_get_arch_size(o->abfd) == 64; }
int pv_object_is_relocatable(const pv_object *o) { return (bfd_get_file_flags(o->abfd) & (EXEC_P | DYNAMIC)) == 0; }
unsigned long long pv_object_file_size(const pv_object *o) { return o->file_size; }
int pv_object_has_section_headers(const pv_object *o) { return o->has_section_headers; }

unsigned int pv_object_machine(const pv_object *o)
{
    HOLD_BINUTILS_LOCK;
    if (bfd_get_arch(o->abfd) != bfd_arch_i386)
        return 0;
    return bfd_get_mach(o->abfd) & bfd_mach_x86_64 ? 62u : 3u;
}

int pv_object_read_start(const pv_object *o, unsigned char *buf, size_t n) { return read_at(o->abfd, 0, buf, n); }

int pv_object_section_count(const pv_object *o) { return o->nsections + o->nsegments; }

int pv_object_section(const pv_object *o, int index, struct pv_section *out)
{
    HOLD_BINUTILS_LOCK;
    asection *s;
    if (index >= o->nsections && index - o->nsections < o->nsegments) {
        const struct segment *seg = &o->segments[index - o->nsections];
        out->name = seg->name;
        out->vma = seg->vaddr;
        out->size = seg->filesz;
        out->filepos = seg->offset;
        out->flags = seg->flags;
        return 0;
    }
    if (index < 0 || index >= o->nsections)
        return -1;
    s = o->sections[index];
    out->name = bfd_section_name(s);
    out->vma = bfd_section_vma(s);
    out->size = bfd_section_size(s);
    out->filepos = s->filepos < 0 ? 0 : (unsigned long long)s->filepos;
    out->flags = 0;
    if (s->flags & SEC_CODE)
        out->flags |= PV_SEC_CODE;
    if (s->flags & SEC_ALLOC)
        out->flags |= PV_SEC_ALLOC;
    if (s->flags & SEC_HAS_CONTENTS)
        out->flags |= PV_SEC_CONTENTS;
    if (s->flags & SEC_RELOC)
        out->flags |= PV_SEC_RELOC;
    if (o->is_note[index])
        out->flags |= PV_SEC_NOTE;
    if (in_file(o, s))
        out->flags |= PV_SEC_IN_FILE;
    return 0;
}

int pv_object_section_contents(const pv_object *o, int index, unsigned char *buf, unsigned long long size)
{
    HOLD_BINUTILS_LOCK;
    asection *s;
    if (index >= o->nsections && index - o->nsections < o->nsegments) {
        const struct segment *seg = &o->segments[index - o->nsections];
        if (size != seg->filesz || !(seg->flags & PV_SEC_IN_FILE) || size > SIZE_MAX)
            return -1;
        return read_at(o->abfd, seg->offset, buf, (size_t)size);
    }
    if (index < 0 || index >= o->nsections)
        return -1;
    s = o->sections[index];
    if (size != bfd_section_size(s) || !in_file(o, s))
        return -1;
    return bfd_get_section_contents(o->abfd, s, buf, 0, (bfd_size_type)size) ? 0 : -1;
}

static int section_index(const pv_object *o, asection *s)
{
    int i;
    if (!s || bfd_is_und_section(s))
        return -1;
    for (i = 0; i < o->nsections; i++)
        if (o->sections[i] == s)
            return i;
    return -2;
}

static int load_symbols(pv_object *o)
{
    long size;
    if (o->symbols_loaded)
        return 0;
    o->symbols_loaded = 1;
    if (!(bfd_get_file_flags(o->abfd) & HAS_SYMS))
        return 0;
    size = bfd_get_symtab_upper_bound(o->abfd);
    if (size < 0)
        return -1;
    o->symbols = malloc((size_t)size + sizeof(asymbol *));
    if (!o->symbols)
        return -1;
    o->nsymbols = bfd_canonicalize_symtab(o->abfd, o->symbols);
    if (o->nsymbols < 0) {
        o->nsymbols = 0;
        return -1;
    }
    return 0;
}

long pv_object_symbol_count(pv_object *o)
{
    HOLD_BINUTILS_LOCK;
    if (load_symbols(o) != 0)
        return -1;
    return o->nsymbols;
}

int pv_object_symbol(const pv_object *o, long index, struct pv_symbol *out)
{
    HOLD_BINUTILS_LOCK;
    asymbol *sym;
    if (index < 0 || index >= o->nsymbols)
        return -1;
    sym = o->symbols[index];
    out->name = bfd_asymbol_name(sym);
    out->value = bfd_asymbol_value(sym) - (pv_object_is_relocatable(o) ? bfd_section_vma(bfd_asymbol_section(sym)) : 0);
    out->section = section_index(o, bfd_asymbol_section(sym));
    out->flags = 0;
    if (sym->flags & BSF_FUNCTION)
        out->flags |= PV_SYM_FUNCTION;
    if (sym->flags & BSF_SECTION_SYM)
        out->flags |= PV_SYM_SECTION;
    if (sym->flags & (BSF_GLOBAL | BSF_WEAK))
        out->flags |= PV_SYM_GLOBAL;
    if (sym->flags & (BSF_DEBUGGING | BSF_FILE))
        out->flags |= PV_SYM_DEBUG;
    if (sym->flags & BSF_OBJECT)
        out->flags |= PV_SYM_OBJECT;
    return 0;
}

long pv_object_reloc_count(pv_object *o, int index)
{
    HOLD_BINUTILS_LOCK;
    asection *s;
    long size;
    if (index >= o->nsections && index - o->nsections < o->nsegments)
        return 0;  /* a segment has no relocations */
    if (index < 0 || index >= o->nsections)
        return -1;
    s = o->sections[index];
    free(o->relocs);
    o->relocs = NULL;
    o->nrelocs = 0;
    if (!(s->flags & SEC_RELOC))
        return 0;
    if (load_symbols(o) != 0)
        return -1;
    size = bfd_get_reloc_upper_bound(o->abfd, s);
    if (size < 0)
        return -1;
    o->relocs = malloc((size_t)size + sizeof(arelent *));
    if (!o->relocs)
        return -1;
    o->nrelocs = bfd_canonicalize_reloc(o->abfd, s, o->relocs, o->symbols);
    if (o->nrelocs < 0) {
        o->nrelocs = 0;
        return -1;
    }
    return o->nrelocs;
}

int pv_object_reloc(const pv_object *o, long index, struct pv_reloc *out)
{
    HOLD_BINUTILS_LOCK;
    arelent *r;
    asymbol *sym;
    if (index < 0 || index >= o->nrelocs)
        return -1;
    r = o->relocs[index];
    sym = r->sym_ptr_ptr ? *r->sym_ptr_ptr : NULL;
    out->address = r->address;
    out->addend = (long long)r->addend;
    out->symbol_name = sym ? bfd_asymbol_name(sym) : "";
    out->symbol_value = sym && !bfd_is_und_section(bfd_asymbol_section(sym))
        ? bfd_asymbol_value(sym) - bfd_section_vma(bfd_asymbol_section(sym)) : 0;
    out->symbol_section = sym ? section_index(o, bfd_asymbol_section(sym)) : -1;
    out->type = r->howto ? r->howto->type : 0;
    out->pc_relative = r->howto ? r->howto->pc_relative : 0;
    out->explicit_addend = r->howto ? !r->howto->partial_inplace : 0;
    return 0;
}

/* --- libopcodes --- */

struct pv_disasm {
    struct disassemble_info info;
    disassembler_ftype decode;
    char *text;
    size_t length, capacity;
};

static int append_text(void *stream, const char *fmt, va_list ap)
{
    struct pv_disasm *d = stream;
    int n;
    if (!d->text || d->length >= d->capacity)
        return 0;
    n = vsnprintf(d->text + d->length, d->capacity - d->length, fmt, ap);
    if (n > 0)
        d->length = d->length + (size_t)n < d->capacity ? d->length + (size_t)n : d->capacity - 1;
    return n;
}

static int plain_printf(void *stream, const char *fmt, ...)
{
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = append_text(stream, fmt, ap);
    va_end(ap);
    return n;
}

static int styled_printf(void *stream, enum disassembler_style style, const char *fmt, ...)
{
    va_list ap;
    int n;
    (void)style;
    va_start(ap, fmt);
    n = append_text(stream, fmt, ap);
    va_end(ap);
    return n;
}

pv_disasm *pv_disasm_new(int mode_bits)
{
    HOLD_BINUTILS_LOCK;
    pv_disasm *d = calloc(1, sizeof *d);
    unsigned long mach = mode_bits == 64 ? bfd_mach_x86_64 : mode_bits == 16 ? bfd_mach_i386_i8086 : bfd_mach_i386_i386;
    if (!d)
        return NULL;
    ensure_init();
    init_disassemble_info(&d->info, d, plain_printf, styled_printf);
    d->info.arch = bfd_arch_i386;
    d->info.mach = mach;
    d->info.endian = BFD_ENDIAN_LITTLE;
    d->info.read_memory_func = buffer_read_memory;
    disassemble_init_for_target(&d->info);
    d->decode = disassembler(bfd_arch_i386, false, mach, NULL);
    if (!d->decode) {
        free(d);
        return NULL;
    }
    return d;
}

void pv_disasm_free(pv_disasm *d) { free(d); }

int pv_disasm_one(pv_disasm *d, const unsigned char *buf, size_t len, unsigned long long vma, char *out, size_t outlen)
{
    HOLD_BINUTILS_LOCK;
    int n;
    if (out && !outlen)
        return -1;
    d->text = out;
    d->capacity = outlen;
    d->length = 0;
    if (out)
        out[0] = 0;
    d->info.buffer = (bfd_byte *)buf;
    d->info.buffer_length = len;
    d->info.buffer_vma = vma;
    n = d->decode((bfd_vma)vma, &d->info);
    d->text = NULL;
    return n > 0 && (size_t)n <= len ? n : -1;
}
