/* pv_binutils.h: a small C interface to libbfd and libopcodes for previrt's inspector.
 * Only this target touches bfd.h and dis-asm.h; Swift sees plain structs and handles.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef PV_BINUTILS_H
#define PV_BINUTILS_H

#include <stddef.h>

typedef struct pv_file pv_file;
typedef struct pv_object pv_object;
typedef struct pv_disasm pv_disasm;

enum {
    PV_SEC_CODE = 1,
    PV_SEC_ALLOC = 2,
    PV_SEC_CONTENTS = 4,
    PV_SEC_RELOC = 8,
    /* An ELF note: an SHT_NOTE section, or (in a file without section headers) a PT_NOTE segment. */
    PV_SEC_NOTE = 16,
    /* The section's bytes lie inside the file (or object member): offset and size checked, no overflow. */
    PV_SEC_IN_FILE = 32,
};

enum {
    PV_SYM_FUNCTION = 1,
    PV_SYM_SECTION = 2,
    PV_SYM_GLOBAL = 4,
    PV_SYM_DEBUG = 8,
    PV_SYM_OBJECT = 16,
};

struct pv_section {
    const char *name;
    unsigned long long vma;
    unsigned long long size;
    unsigned long long filepos; /* offset of its bytes in the file (or member) */
    unsigned int flags;
};

struct pv_symbol {
    const char *name;
    unsigned long long value;   /* section-relative in relocatable files, the address otherwise */
    int section;                /* section index, -1 undefined, -2 absolute or common */
    unsigned int flags;
};

struct pv_reloc {
    unsigned long long address; /* offset of the field in its section */
    long long addend;           /* RELA addend; 0 for REL, whose addend is in the section bytes */
    const char *symbol_name;
    unsigned long long symbol_value;
    int symbol_section;         /* as in pv_symbol */
    unsigned int type;          /* the ELF relocation type */
    int pc_relative;
    int explicit_addend;        /* 1 for RELA */
};

/* Opens a file; NULL with a message in err on failure. Only a regular file is opened: a FIFO, a device,
 * a directory or a socket is refused without reading from it. */
pv_file *pv_file_open(const char *path, char *err, size_t errlen);
void pv_file_close(pv_file *file);
int pv_file_is_archive(const pv_file *file);
/* The next object: the file itself for an object file, each member for an archive. NULL at the end,
 * or on error with a message in err (then err[0] != 0). The object stays valid until pv_file_close. */
pv_object *pv_file_next_object(pv_file *file, char *err, size_t errlen);

const char *pv_object_name(const pv_object *object);
const char *pv_object_format(const pv_object *object);
const char *pv_object_arch(const pv_object *object);
int pv_object_is_elf(const pv_object *object);
/* 62 (x86-64) or 3 (i386) when libbfd reads the object as x86; 0 otherwise. */
unsigned int pv_object_machine(const pv_object *object);
/* The first n bytes of the object (the file, or the archive member) into buf; 0, or -1 when short. */
int pv_object_read_start(const pv_object *object, unsigned char *buf, size_t n);
int pv_object_is_64bit(const pv_object *object);
int pv_object_is_relocatable(const pv_object *object);
/* The size of the file, or of the archive member, in bytes (libbfd's bfd_get_file_size). */
unsigned long long pv_object_file_size(const pv_object *object);
/* Whether the object has ELF section headers (e_shnum != 0); 1 for non-ELF objects. */
int pv_object_has_section_headers(const pv_object *object);

int pv_object_section_count(const pv_object *object);
int pv_object_section(const pv_object *object, int index, struct pv_section *out);
/* Copies a section's bytes into buf (size bytes); 0 on success, -1 if they do not lie inside the file. */
int pv_object_section_contents(const pv_object *object, int index, unsigned char *buf, unsigned long long size);

/* The symbol table (static symbols; the dynamic ones when there are none). -1 on error. */
long pv_object_symbol_count(pv_object *object);
int pv_object_symbol(const pv_object *object, long index, struct pv_symbol *out);

/* The relocations of one section. -1 on error. */
long pv_object_reloc_count(pv_object *object, int section);
int pv_object_reloc(const pv_object *object, long index, struct pv_reloc *out);

/* A libopcodes disassembler for 16-, 32- or 64-bit x86 code, AT&T syntax. */
pv_disasm *pv_disasm_new(int mode_bits);
void pv_disasm_free(pv_disasm *d);
/* Decodes one instruction of buf[0..len) at address vma: returns its length, or -1 when libopcodes
 * cannot decode it; its text (NUL-terminated, truncated to outlen) goes to out. With out NULL only
 * the length is computed, which skips formatting the text. */
int pv_disasm_one(pv_disasm *d, const unsigned char *buf, size_t len, unsigned long long vma, char *out, size_t outlen);

#endif
