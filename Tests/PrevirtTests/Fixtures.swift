// SPDX-License-Identifier: GPL-3.0-or-later
// Fixtures several suites share: the look-alike statements, the built tool, the example C source.

import Foundation

/// Statements that look sensitive, or use an overridden mnemonic, but are not sensitive: no macro set,
/// decoder, filter or matcher may take them for a site.
enum LookAlikes {
    static let x86_64 = [
        "mov %es:(%rax),%eax", "push %fs:8(%eax)", "pushq %fs:8(%rax)", "movq %rax,%rbx", "movq %rax, %rbx",
        "mov 8(%rbx,%rcx,4),%eax", "mov 8 ( %rsp , %rax , 4 ),%eax", "movl $(1 << 3), %eax", "movq $1,%rax",
        "movw %ax,(%rax)", "movw (%rax),%ax", "movq %xmm1,%xmm0", "movq %mm1,%mm0", "movq %xmm0,%rax", "movq (%rax),%xmm1",
        "pushq %rbx", "popq %rbx", "push $1", "pop (%rax)", "pushw $7", "int $3", "int $0x3", "int3",
        "rep stosb", "rep movsq (%rsi),%es:(%rdi)", "rep; stosq", "repz cmpsb", "data16 nop", "addr32 mov (%eax),%ebx",
        "rdtsc", "rdtscp", "syscall", "mov %fs:0x28,%rax", "mov %gs:(%rax),%rax",
        "movl %eax,%fs:(%rbx)", "call *%rax", "jmp 1f\n1:", "lea 8(%rsp),%rax", "mov str,%eax", "movabs $1,%rax",
        "mov cr0,%eax", "1: mov %rax,%rdx\n jmp 1b",
    ]
    static let i386 = [
        "mov %es:(%eax),%eax", "push %fs:8(%eax)", "pushl %ds:4(%esi)", "movl %eax,%ebx", "movw %ax,%bx",
        "mov (%ebx,%ecx,4),%edx", "pushl %ebx", "popl %esi", "int $3", "rep stosl", "movl $0,%eax",
        "movq %xmm1,%xmm0", "movq %mm1,%mm0", "call *%eax", "data16 movl %eax,%ebx",
    ]
}

/// Paths the suites share.
enum Fixture {
    /// The `previrt` tool `swift build` made.
    static var previrt: String { Toolchain.packageRoot.appendingPathComponent(".build/debug/previrt").path }
    /// Kernel-style C with inline asm: the demo's `Examples/annotate/io.c`.
    static let cSource = Toolchain.packageRoot.appendingPathComponent("Examples/annotate/io.c").path
}
