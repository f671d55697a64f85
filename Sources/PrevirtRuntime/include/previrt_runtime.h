/* previrt_runtime.h: the in-place VMM runtime's interface. Freestanding: no libc.
 *
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 the previrt authors. Permission is hereby granted, free of charge, to any
 * person obtaining a copy of this file, to deal in it without restriction, subject to this notice
 * being kept. THE FILE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND.
 */
#ifndef PREVIRT_RUNTIME_H
#define PREVIRT_RUNTIME_H

#include "previrt_note.h"

/* One site, resolved to an address. */
struct previrt_site {
    unsigned long address;
    unsigned short kind;
    unsigned char insn_len;
    unsigned char site_len;
    unsigned char mode;
    unsigned char flags;
    unsigned int note_index;
};

enum previrt_walk_reason {
    PREVIRT_WALK_TRUNCATED = 1,
    PREVIRT_WALK_NAME_OUT_OF_BOUNDS = 2,
    PREVIRT_WALK_DESC_OUT_OF_BOUNDS = 3,
};

struct previrt_walk_error {
    unsigned int index;
    unsigned long offset;
    enum previrt_walk_reason reason;
};

/* Called for each site; a non-zero return stops the walk. */
typedef int (*previrt_site_fn)(const struct previrt_site *site, void *ctx);

/* Walks the notes in [begin, end), whose first byte is loaded at `address`, and calls `fn` for each
 * PreVirt site note. Other owners and types are skipped. Returns the number of sites seen, or -1
 * with *error filled in when a note's sizes run past `end`. */
long previrt_walk_notes(const void *begin, const void *end, unsigned long address,
                        previrt_site_fn fn, void *ctx, struct previrt_walk_error *error);

/* --- decoding (decode.c) --- */

/* One decoded sensitive instruction: what a backend needs to emulate or relocate it. */
struct previrt_insn {
    unsigned char mode;            /* 16, 32 or 64 */
    unsigned char length;          /* total, prefixes included */
    unsigned char prefix_len;      /* legacy prefixes and REX */
    unsigned char opsize_prefix;   /* 0x66 seen */
    unsigned char addrsize_prefix; /* 0x67 seen */
    unsigned char rep;             /* 0xf3, 0xf2 or 0 */
    unsigned char segment;         /* segment-override prefix byte or 0 */
    unsigned char rex;             /* REX byte or 0 */
    unsigned char opcode;          /* first opcode byte */
    unsigned char opcode2;         /* second (after 0x0f), or the third of 0f 38 xx */
    unsigned char has_modrm;
    unsigned char modrm;
    unsigned char sib;
    unsigned char disp_offset;     /* offset of the displacement, when there is one */
    unsigned char imm_offset;      /* offset of the immediate (or far pointer), when there is one */
    unsigned short kind;           /* PREVIRT_KIND_*, or 0 when not a catalog instruction */
    unsigned char modrm_offset;    /* offset of the ModRM byte, when there is one */
};

/* Decodes the instruction at p (avail bytes readable) in 16-, 32- or 64-bit code. Returns its length
 * if it is a sensitive instruction of the catalog (insn->kind set), 0 if it is something else, -1 if
 * it runs past avail. */
int previrt_decode(const unsigned char *p, unsigned long avail, int mode, struct previrt_insn *insn);

/* --- patching (patch.c) --- */

/* A site as the patcher hands it to a backend. */
struct previrt_patch_site {
    unsigned char *start;          /* first byte of the site (padding included) */
    unsigned char *insn;           /* the instruction inside it */
    unsigned int length;           /* site length */
    unsigned int index;            /* 0-based among the image's sites */
    unsigned int note_index;
    unsigned char flags;           /* PREVIRT_SITE_* */
    struct previrt_insn decoded;
};

/* What a backend did with a site. */
enum previrt_action {
    PREVIRT_LEFT_NATIVE = 0,
    PREVIRT_PATCHED = 1,
};

/* A backend: one per hypervisor. `check` runs for every site before anything is written and may
 * refuse a site (an unsupported kind): then nothing is patched. `patch` writes the replacement into
 * site->start[0..length) (and into memory of its own, such as stubs, never into the text or notes
 * outside the site) and must not fail: everything it needs was checked.
 *
 * min_site_length[0], [1], [2]: the fewest bytes a site in 16-, 32- and 64-bit code must have for the
 * replacement `patch` writes there (0: any length, as for a backend that leaves the site as it is). The
 * core refuses a shorter site in pass 1 (PREVIRT_SITE_TOO_SHORT), so `patch` never sees one. The core
 * reads min_site_length only when `lengths` is PREVIRT_BACKEND_LENGTHS: a backend that does not set
 * them (one written before they existed, or a struct left uninitialised on the stack) is held to
 * PREVIRT_DEFAULT_MIN_SITE_LENGTH in every mode, room for the call or jmp rel32 such backends write. */
#define PREVIRT_BACKEND_LENGTHS 0x4c567250u /* "PrVL" */
#define PREVIRT_DEFAULT_MIN_SITE_LENGTH 5
struct previrt_backend {
    const char *name;
    /* 0 to accept, or a reason (a static string) to refuse. */
    const char *(*check)(void *ctx, const struct previrt_patch_site *site);
    enum previrt_action (*patch)(void *ctx, const struct previrt_patch_site *site);
    void *ctx;
    unsigned int lengths;               /* PREVIRT_BACKEND_LENGTHS: min_site_length is set */
    unsigned char min_site_length[3];   /* by mode: 16-, 32-, 64-bit code */
};

/* The loaded image: its note area and the bounds of the code sites may lie in. */
struct previrt_image {
    const void *notes_begin, *notes_end;
    unsigned char *text_begin, *text_end;
};

enum previrt_failure {
    PREVIRT_OK = 0,
    PREVIRT_BAD_NOTES,         /* the note area cannot be walked */
    PREVIRT_BAD_DESCRIPTOR,    /* a site note with impossible fields */
    PREVIRT_OUTSIDE_TEXT,      /* the site is not inside the text bounds, or overlaps the note area */
    PREVIRT_WRONG_INSTRUCTION, /* the bytes are not the recorded kind and length */
    PREVIRT_BAD_PADDING,       /* the padding is not NOPs */
    PREVIRT_REFUSED,           /* the backend refused the site */
    PREVIRT_SITE_TOO_SHORT,    /* the site is shorter than the backend's replacement (min_site_length) */
    PREVIRT_OVERLAP,           /* two notes for the same site, or sites that overlap */
    PREVIRT_UNORDERED,         /* sites out of address order, too many to compare without a table */
};

struct previrt_result {
    long seen, patched, native;
    enum previrt_failure failure;
    unsigned int failed_note;      /* note index of the failing site */
    unsigned long failed_address;  /* its address */
    const char *why;               /* a static string saying what is wrong */
    unsigned int other_note;       /* PREVIRT_OVERLAP: the note of the other site (an earlier note) */
    unsigned long other_address;   /* and its address */
};

/* One site's extent, [begin, end), and its note: an entry of the table previrt_patch_with_table sorts. */
struct previrt_span {
    unsigned long begin, end;
    unsigned int note_index;
};

/* Sites in an unordered image that previrt_patch, which has no table, compares pair by pair (a build
 * may lower it: the fuzzing build does, to reach every path). */
#ifndef PREVIRT_PAIRWISE_MAX
#define PREVIRT_PAIRWISE_MAX 4096
#endif

/* The longest site a note can describe (site_len is a byte). */
#define PREVIRT_SITE_LENGTH_MAX 255

/* Validates every site, then (only if all pass) patches each through the backend. Returns 0 on
 * success; otherwise nothing was written and *result names the failing site and why.
 *
 * Pass 1 validates each site alone (descriptor, bounds, bytes, padding, length for the backend, the
 * backend's check) and then the sites together: no two may share a byte. When the notes list the
 * sites in address order (each starting at or after the end of the one before, as the notes of one
 * section are), that is checked as the notes are walked, in O(n) and without memory. Otherwise
 * (notes of several sections or objects, linked in another order than their text) the sites are
 * compared through `spans`, a table of `max_spans` entries the caller provides (a static array: the
 * core has no heap): pass 1 records each site's extent there and sorts the table in place (heapsort,
 * O(n log n), no recursion), then compares neighbours. previrt_patch has no table: it compares an
 * unordered image's sites pair by pair (O(n^2) note walks) when there are at most
 * PREVIRT_PAIRWISE_MAX of them, and refuses a larger one (PREVIRT_UNORDERED), as
 * previrt_patch_with_table does when the table is too small: give it a table of one entry per site.
 *
 * Pass 2 patches every site without validating again: pass 1 proved that the sites are disjoint and
 * do not overlap the note area, and a backend writes only inside the site it is given, so each site's
 * bytes and the notes are still what pass 1 checked. Pass 2 cannot fail. */
int previrt_patch(const struct previrt_image *image, const struct previrt_backend *backend, struct previrt_result *result);
int previrt_patch_with_table(const struct previrt_image *image, const struct previrt_backend *backend,
                             struct previrt_span *spans, unsigned long max_spans, struct previrt_result *result);

/* --- backends --- */

/* native: leaves every site as it is (bare hardware). */
void previrt_native_backend(struct previrt_backend *backend);

/* trace: bare hardware; each site jumps to a stub that counts it and runs the instruction out of line.
 * The caller provides the stub area (executable, within 2 GiB of the text in 64-bit code) and tables
 * for max_sites sites. */
struct previrt_trace {
    unsigned char *stubs;
    unsigned long stub_size, stub_used;
    unsigned char *text_begin;
    unsigned long *sites;          /* instruction address per site index */
    unsigned short *kinds;
    volatile unsigned int *counts;
    unsigned int max_sites;
    unsigned int site_count;
};
void previrt_trace_backend(struct previrt_backend *backend, struct previrt_trace *trace);

/* A failure's name, for messages: "wrong instruction", "bad padding", ... */
const char *previrt_failure_name(enum previrt_failure failure);

/* Stores v little-endian at p (rel32 and imm32 fields of generated code). */
void previrt_put32(unsigned char *p, unsigned long v);

/* The NOP padding of n bytes in code of `mode`, written to out (note-format.md). No site needs more
 * than PREVIRT_SITE_LENGTH_MAX: a larger n (a length computed below zero, `length - 5` of a shorter
 * site) writes nothing. */
void previrt_fill_nops(unsigned char *out, unsigned int n, int mode);

/* --- the xen backend (backend_xen.c): a 64-bit Xen PV domain --- */

/* One patched site, as the xen backend's handlers see it. */
struct previrt_xen_site {
    const unsigned char *insn;     /* where it was (RIP-relative operands count from its end) */
    const unsigned char *end;      /* the end of its site, where execution goes on */
    unsigned char bytes[15];       /* what it was: the site now holds a jump */
    struct previrt_insn decoded;
};

/* The xen backend's state. The guest fills in the fields above `filled in`, calls previrt_xen_init,
 * then patches through previrt_xen_backend. Sites jump to stubs in `stubs` (within rel32 reach of the
 * text); the backend's code runs on the guest's stack below a 128-byte red zone, and must be compiled
 * with -mno-red-zone. */
struct previrt_xen {
    const void *start_info;        /* Xen's start_info page (%rsi at the PV entry) */
    unsigned char *hypercall_page; /* the page the XEN_ELFNOTE_HYPERCALL_PAGE note names */
    unsigned char *shared_info;    /* a page-aligned, mapped 4 KiB page; replaced by Xen's shared info */
    unsigned long virt_base;       /* XEN_ELFNOTE_VIRT_BASE: virtual minus pseudo-physical */
    const unsigned char *text_end; /* the end of the text (the backend looks one byte past a site) */
    unsigned char *stubs;
    unsigned long stub_size;
    struct previrt_xen_site *sites;
    unsigned int max_sites;
    unsigned char *gdt_copy;       /* page-aligned pages of the guest's own: the GDT Xen is given (set_gdt) */
    unsigned int gdt_copy_pages;   /*   holds 512 descriptors a page; system descriptors left out */
    unsigned char *ldt_copy;       /* page-aligned pages of the guest's own: the LDT Xen is given */
    unsigned int ldt_copy_pages;   /*   (MMUEXT_SET_LDT) */
    /* filled in */
    unsigned long stub_used;
    unsigned long cr3;             /* pseudo-physical, as the guest wrote it */
    unsigned long cr0;             /* as Xen showed it at init, with TS as the guest set it */
    unsigned long sysenter[3];     /* the SYSENTER MSRs (0x174-0x176), kept (Xen has no use for them) */
    unsigned long patched[PREVIRT_KIND_MAX + 1];   /* sites patched, per kind */
    unsigned long hypercalls[64];                  /* hypercalls made, per hypercall number */
    unsigned long failed_hypercalls;
    unsigned long console_used;
    char console[128];             /* COM1 output, written to Xen's console line by line */
    unsigned long gdt_base;        /* the GDT as lgdt loaded it (Xen has it, read-only, through set_gdt) */
    unsigned int gdt_limit;
    unsigned long idt_base;        /* the virtual IDT (lidt), where virtual interrupts find their gate */
    unsigned int idt_limit;
    unsigned char gdt_sealed, ldt_sealed; /* the copies are mapped read-only and Xen's: updates go through update_descriptor */
    unsigned short selectors[6];   /* the virtual es, cs, ss, ds, fs, gs (natively Xen's flat selectors) */
    unsigned short ldtr, tr;       /* what lldt and ltr loaded */
    unsigned long ldt_base;        /* the LDT lldt loaded: base and limit from its GDT descriptor */
    unsigned int ldt_limit;
    unsigned long tss_base;        /* the TSS ltr loaded; its rsp0 is the kernel stack (stack_switch) */
    unsigned long kernel_sp;       /* the stack last given to stack_switch */
    unsigned long user_returns;    /* iretq to ring 3 through HYPERVISOR_iret */
    unsigned long traps;           /* exceptions and software interrupts Xen bounced through the trap table */
    unsigned int timer_port;       /* the event channel VIRQ_TIMER is bound to */
    unsigned char pic_base, pic_imr, pic_irr, pic_init_step, pic_icw4, pic_read_isr; /* the virtual 8259A (master) */
    unsigned char pit_mode, pit_low_next, pit_low;                           /* the virtual 8254, channel 0 */
    unsigned long pit_period;      /* ns between periodic ticks (re-armed one-shots), or 0 */
    unsigned long upcalls;         /* event upcalls Xen made */
    unsigned long interrupts;      /* virtual interrupts delivered through the virtual IDT */
    char why[96];                  /* a refusal's reason */
};

/* Maps the shared info page and gets I/O privilege (dom0). Returns 0, or -1 if a hypercall failed. */
int previrt_xen_init(struct previrt_xen *xen);
void previrt_xen_backend(struct previrt_backend *backend, struct previrt_xen *xen);
/* Makes hypercall `op` with up to four arguments, counted; returns Xen's result. */
long previrt_xen_hypercall(struct previrt_xen *xen, unsigned int op, unsigned long a1, unsigned long a2, unsigned long a3,
                           unsigned long a4);
/* Writes to Xen's console (console_io), flushing COM1 output kept so far first. */
void previrt_xen_console_write(struct previrt_xen *xen, const char *s, unsigned long n);
/* Xen's system time in ns (the vcpu's time record, extrapolated with the TSC). */
unsigned long previrt_xen_time_ns(struct previrt_xen *xen);
/* Flushes the console and ends the domain: sched_op(SCHEDOP_shutdown, reason). */
void previrt_xen_shutdown(struct previrt_xen *xen, unsigned int reason);

#endif /* PREVIRT_RUNTIME_H */
