/* binutils.c: libbfd and libopcodes behind pv_binutils.h.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define PACKAGE "previrt"
#define PACKAGE_VERSION "0.1.0"
#include <bfd.h>
#include <dis-asm.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pv_binutils.h"

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

pv_file *pv_file_open(const char *path, char *err, size_t errlen)
{
    pv_file *file;
    bfd *abfd;
    ensure_init();
    if (err && errlen)
        err[0] = 0;
    abfd = bfd_openr(path, NULL);
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
    free(o);
}

void pv_file_close(pv_file *file)
{
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

static pv_object *make_object(pv_file *file, bfd *abfd, int is_member)
{
    asection *s;
    int i = 0;
    pv_object *o = calloc(1, sizeof *o);
    if (!o)
        return NULL;
    o->abfd = abfd;
    o->is_member = is_member;
    o->nsections = (int)bfd_count_sections(abfd);
    o->sections = calloc((size_t)o->nsections + 1, sizeof *o->sections);
    if (!o->sections) {
        free(o);
        return NULL;
    }
    for (s = abfd->sections; s && i < o->nsections; s = s->next)
        o->sections[i++] = s;
    o->nsections = i;
    o->next_owned = file->objects;
    file->objects = o;
    return o;
}

pv_object *pv_file_next_object(pv_file *file, char *err, size_t errlen)
{
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

unsigned int pv_object_machine(const pv_object *o)
{
    if (bfd_get_arch(o->abfd) != bfd_arch_i386)
        return 0;
    return bfd_get_mach(o->abfd) & bfd_mach_x86_64 ? 62u : 3u;
}

int pv_object_section_count(const pv_object *o) { return o->nsections; }

int pv_object_section(const pv_object *o, int index, struct pv_section *out)
{
    asection *s;
    if (index < 0 || index >= o->nsections)
        return -1;
    s = o->sections[index];
    out->name = bfd_section_name(s);
    out->vma = bfd_section_vma(s);
    out->size = bfd_section_size(s);
    out->flags = 0;
    if (s->flags & SEC_CODE)
        out->flags |= PV_SEC_CODE;
    if (s->flags & SEC_ALLOC)
        out->flags |= PV_SEC_ALLOC;
    if (s->flags & SEC_HAS_CONTENTS)
        out->flags |= PV_SEC_CONTENTS;
    if (s->flags & SEC_RELOC)
        out->flags |= PV_SEC_RELOC;
    return 0;
}

int pv_object_section_contents(const pv_object *o, int index, unsigned char *buf, unsigned long long size)
{
    asection *s;
    if (index < 0 || index >= o->nsections)
        return -1;
    s = o->sections[index];
    if (size != bfd_section_size(s) || !(s->flags & SEC_HAS_CONTENTS))
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
    if (load_symbols(o) != 0)
        return -1;
    return o->nsymbols;
}

int pv_object_symbol(const pv_object *o, long index, struct pv_symbol *out)
{
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
    asection *s;
    long size;
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
