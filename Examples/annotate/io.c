/* io.c: kernel-style helpers whose inline asm the macro set annotates with no source change.
 * Built by `make demo` with gcc -O2 -Wa,previrt-<arch>.s for i386 and x86_64.
 * SPDX-License-Identifier: MIT
 */
typedef unsigned long ulong;

static inline void outb(unsigned short port, unsigned char v) { asm volatile("outb %0,%1" : : "a"(v), "Nd"(port)); }
static inline unsigned char inb(unsigned short port)
{
    unsigned char v;
    asm volatile("inb %1,%0" : "=a"(v) : "Nd"(port));
    return v;
}

static inline ulong save_flags(void)
{
    ulong flags;
    asm volatile("pushf ; pop %0" : "=rm"(flags) : : "memory");
    return flags;
}

static inline void restore_flags(ulong flags) { asm volatile("push %0 ; popf" : : "g"(flags) : "memory", "cc"); }

static inline ulong read_cr3(void)
{
    ulong v;
    asm volatile("mov %%cr3,%0" : "=r"(v));
    return v;
}

static inline void write_cr3(ulong v) { asm volatile("mov %0,%%cr3" : : "r"(v) : "memory"); }

static inline void load_fs(unsigned int sel) { asm volatile("movl %k0,%%fs" : : "r"(sel)); }

static inline unsigned short read_ds(void)
{
    unsigned short v;
    asm volatile("movw %%ds,%0" : "=rm"(v));
    return v;
}

void serial_putc(char c)
{
    while ((inb(0x3f8 + 5) & 0x20) == 0)
        ;
    outb(0x3f8, (unsigned char)c);
}

void flush_tlb(void)
{
    ulong flags = save_flags();
    asm volatile("cli");
    write_cr3(read_cr3());
    restore_flags(flags);
}

unsigned short segments(void)
{
    load_fs(0);
    return read_ds();
}

void idle(void) { asm volatile("sti; hlt" : : : "memory"); }
