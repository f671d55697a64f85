// SPDX-License-Identifier: GPL-3.0-or-later
// previrt: the instruction catalog, the single source of truth.
//
// Every sensitive x86 instruction with its stable kind id, its AT&T spellings (checked against
// GNU as 2.40 by the tests), the operand forms that make it sensitive and sample operands per mode.
// The macro sets, the C header, the documentation table and the tests are generated from this table.

/// The catalog of sensitive instructions.
///
/// ```swift
/// let kind = Catalog.kind(named: "mov-to-cr")!
/// print(kind.id, kind.mnemonics)   // 6 ["mov", "movl", "movq"]
/// ```
public enum Catalog {
    /// Every kind, ordered by id.
    public static let kinds: [InstructionKind] = table

    /// The kind with this stable name, if any.
    public static func kind(named name: String) -> InstructionKind? { kinds.first { $0.name == name } }

    /// The kind with this id, if any.
    public static func kind(id: UInt16) -> InstructionKind? { kinds.first { $0.id == id } }
}

// MARK: - Operand-form shorthands

private func f(_ syntax: String, i386 a: String? = nil, x86_64 b: String? = nil) -> OperandForm {
    var samples: [CodeMode: String] = [:]
    samples[.bits32] = a
    samples[.bits64] = b
    return OperandForm(syntax, samples)
}
/// A form without operands, in both modes.
private let bare = f("", i386: "", x86_64: "")
private let bare32 = f("", i386: "")
private let bare64 = f("", x86_64: "")
private func mem(_ syntax: String = "m") -> OperandForm { f(syntax, i386: "(%eax)", x86_64: "(%rax)") }
private func always(_ mnemonics: [String], _ forms: [OperandForm]) -> [Spelling] {
    mnemonics.map { Spelling($0, .always, forms: forms) }
}

// MARK: - The table

private let table: [InstructionKind] = [
    InstructionKind(
        id: 1, name: "cli", summary: "Clear the interrupt flag; traps only at CPL > IOPL.",
        spellings: always(["cli"], [bare])),
    InstructionKind(
        id: 2, name: "sti", summary: "Set the interrupt flag; its one-instruction shadow is kept by padding before it.",
        flags: .paddingPrecedes,
        spellings: always(["sti"], [bare])),
    InstructionKind(
        id: 3, name: "pushf", summary: "Push FLAGS: reveals the real IF and IOPL without trapping.",
        spellings: always(["pushf", "pushfw"], [bare]) + always(["pushfl"], [bare32]) + always(["pushfq"], [bare64])),
    InstructionKind(
        id: 4, name: "popf", summary: "Pop FLAGS: silently ignores IF and IOPL changes at low privilege.",
        spellings: always(["popf", "popfw"], [bare]) + always(["popfl"], [bare32]) + always(["popfq"], [bare64])),
    InstructionKind(
        id: 5, name: "hlt", summary: "Halt until the next interrupt; privileged.",
        spellings: always(["hlt"], [bare])),
    InstructionKind(
        id: 6, name: "mov-to-cr", summary: "Write a control register (CR0, CR3 page-table base, CR4, CR8 TPR).",
        spellings: movSpellings(.control, .destination, i386: "%eax,%cr0", x86_64: "%rax,%cr3", wide: "%r9,%cr8")),
    InstructionKind(
        id: 7, name: "mov-from-cr", summary: "Read a control register (CR2 fault address, CR3, ...).",
        spellings: movSpellings(.control, .source, i386: "%cr2,%edx", x86_64: "%cr3,%rax", wide: "%cr8,%r12")),
    InstructionKind(
        id: 8, name: "mov-to-dr", summary: "Write a debug register.",
        spellings: movSpellings(.debug, .destination, i386: "%ebx,%db7", x86_64: "%rcx,%dr0", wide: "%r10,%db6")),
    InstructionKind(
        id: 9, name: "mov-from-dr", summary: "Read a debug register.",
        spellings: movSpellings(.debug, .source, i386: "%dr6,%esi", x86_64: "%db7,%rdi", wide: "%dr3,%r15")),
    InstructionKind(
        id: 10, name: "mov-to-seg", summary: "Load a segment register; `mov ...,%ss` has an interrupt shadow and is padded before.",
        spellings: [
            Spelling("mov", .registerOperand(.segment, position: .destination), forms: [
                f("r16, Sreg", i386: "%ax,%ds", x86_64: "%ax,%fs"),
                f("r32, Sreg", i386: "%ecx,%es", x86_64: "%ecx,%gs"),
                f("r64, Sreg", x86_64: "%rax,%fs"),
                f("m16, Sreg", i386: "8(%ebx,%ecx,4),%gs", x86_64: "8(%rbx,%rcx,4),%fs"),
                f("r16, SS", i386: "%dx,%ss", x86_64: "%dx,%ss"),
            ]),
            Spelling("movw", .registerOperand(.segment, position: .destination), forms: [
                f("r16, Sreg", i386: "%ax,%ds", x86_64: "%ax,%es"),
                f("m16, Sreg", i386: "(%eax),%fs", x86_64: "(%rax),%gs"),
            ]),
            Spelling("movl", .registerOperand(.segment, position: .destination), forms: [
                f("r32, Sreg", i386: "%eax,%ds", x86_64: "%r8d,%fs"),
            ]),
            Spelling("movq", .registerOperand(.segment, position: .destination), forms: [
                f("r64, Sreg", x86_64: "%rax,%gs"),
            ]),
        ]),
    InstructionKind(
        id: 11, name: "mov-from-seg", summary: "Read a segment register: reveals the real selector (RPL) without trapping.",
        spellings: [
            Spelling("mov", .registerOperand(.segment, position: .source), forms: [
                f("Sreg, r16", i386: "%ds,%ax", x86_64: "%cs,%ax"),
                f("Sreg, r32", i386: "%cs,%eax", x86_64: "%ss,%ebx"),
                f("Sreg, r64", x86_64: "%fs,%rax"),
                f("Sreg, m16", i386: "%ss,8(%esp)", x86_64: "%gs,(%rbx,%rcx,8)"),
            ]),
            Spelling("movw", .registerOperand(.segment, position: .source), forms: [
                f("Sreg, r16", i386: "%es,%dx", x86_64: "%ds,%si"),
                f("Sreg, m16", i386: "%ds,(%eax)", x86_64: "%cs,-8(%rbp)"),
            ]),
            Spelling("movl", .registerOperand(.segment, position: .source), forms: [
                f("Sreg, r32", i386: "%fs,%eax", x86_64: "%gs,%r11d"),
            ]),
            Spelling("movq", .registerOperand(.segment, position: .source), forms: [
                f("Sreg, r64", x86_64: "%ds,%r14"),
            ]),
        ]),
    InstructionKind(
        id: 12, name: "push-seg", summary: "Push a segment register: reveals the real selector without trapping.",
        spellings: [
            Spelling("push", .registerOperand(.segment, position: .only), forms: [
                f("CS/DS/ES/SS", i386: "%cs"), f("FS/GS", i386: "%fs", x86_64: "%gs"),
            ]),
            Spelling("pushw", .registerOperand(.segment, position: .only), forms: [
                f("DS/ES", i386: "%ds"), f("FS/GS", i386: "%gs", x86_64: "%fs"),
            ]),
            Spelling("pushl", .registerOperand(.segment, position: .only), forms: [f("Sreg", i386: "%ss")]),
            Spelling("pushq", .registerOperand(.segment, position: .only), forms: [f("FS/GS", x86_64: "%fs")]),
        ]),
    InstructionKind(
        id: 13, name: "pop-seg", summary: "Pop into a segment register; `pop %ss` has an interrupt shadow and is padded before.",
        spellings: [
            Spelling("pop", .registerOperand(.segment, position: .only), forms: [
                f("DS/ES", i386: "%es"), f("FS/GS", i386: "%fs", x86_64: "%gs"), f("SS", i386: "%ss"),
            ]),
            Spelling("popw", .registerOperand(.segment, position: .only), forms: [
                f("DS/ES", i386: "%ds"), f("FS/GS", i386: "%gs", x86_64: "%fs"),
            ]),
            Spelling("popl", .registerOperand(.segment, position: .only), forms: [f("Sreg", i386: "%ds")]),
            Spelling("popq", .registerOperand(.segment, position: .only), forms: [f("FS/GS", x86_64: "%gs")]),
        ]),
    tableLoad(id: 14, "lgdt", "Load the GDT register."),
    tableLoad(id: 15, "lidt", "Load the IDT register."),
    InstructionKind(
        id: 16, name: "lldt", summary: "Load the LDT register.",
        spellings: always(["lldt", "lldtw"], [f("r/m16", i386: "%ax", x86_64: "(%rax)")])),
    InstructionKind(
        id: 17, name: "ltr", summary: "Load the task register.",
        spellings: always(["ltr", "ltrw"], [f("r/m16", i386: "(%eax)", x86_64: "%ax")])),
    tableStore(id: 18, "sgdt", "Store the GDT register: reveals the real GDT without trapping (UMIP aside)."),
    tableStore(id: 19, "sidt", "Store the IDT register: reveals the real IDT without trapping (UMIP aside)."),
    selectorStore(id: 20, "sldt", "Store the LDT selector without trapping."),
    selectorStore(id: 21, "str", "Store the task register selector without trapping."),
    InstructionKind(
        id: 22, name: "smsw", summary: "Store the machine status word (low CR0) without trapping.",
        spellings: always(["smsw"], [f("r/m", i386: "%eax", x86_64: "(%rax)")])
            + always(["smsww"], [f("r/m16", i386: "%ax", x86_64: "%ax")])
            + always(["smswl"], [f("r32", i386: "%eax", x86_64: "%eax")])
            + always(["smswq"], [f("r64", x86_64: "%rax")])),
    InstructionKind(
        id: 23, name: "lmsw", summary: "Load the machine status word (low CR0).",
        spellings: always(["lmsw", "lmsww"], [f("r/m16", i386: "%ax", x86_64: "(%rax)")])),
    InstructionKind(
        id: 24, name: "clts", summary: "Clear CR0.TS.",
        spellings: always(["clts"], [bare])),
    accessCheck(id: 25, "lar", "Load access rights of a selector: depends on the real descriptor tables."),
    accessCheck(id: 26, "lsl", "Load segment limit of a selector: depends on the real descriptor tables."),
    InstructionKind(
        id: 27, name: "verr", summary: "Verify a segment for reading against the real descriptor tables.",
        spellings: always(["verr", "verrw"], [f("r/m16", i386: "%ax", x86_64: "(%rax)")])),
    InstructionKind(
        id: 28, name: "verw", summary: "Verify a segment for writing against the real descriptor tables.",
        spellings: always(["verw", "verww"], [f("r/m16", i386: "(%eax)", x86_64: "%cx")])),
    InstructionKind(
        id: 29, name: "arpl", summary: "Adjust a selector's RPL (32-bit only; its opcode is movsxd in 64-bit code).",
        spellings: always(["arpl", "arplw"], [f("r16, r/m16", i386: "%ax,(%ebx)")])),
    InstructionKind(
        id: 30, name: "in", summary: "Read an I/O port.",
        spellings: always(["in"], [f("imm8/DX, AL/AX/EAX", i386: "$0x60,%al", x86_64: "(%dx),%eax")])
            + always(["inb"], [f("DX, AL", i386: "%dx,%al", x86_64: "$0x71,%al")])
            + always(["inw"], [f("imm8, AX", i386: "$0x60,%ax", x86_64: "%dx,%ax")])
            + always(["inl"], [f("DX, EAX", i386: "%dx,%eax", x86_64: "$0xcf,%eax")])),
    InstructionKind(
        id: 31, name: "out", summary: "Write an I/O port.",
        spellings: always(["out"], [f("AL/AX/EAX, imm8/DX", i386: "%al,$0x80", x86_64: "%eax,(%dx)")])
            + always(["outb"], [f("AL, DX", i386: "%al,%dx", x86_64: "%al,$0xf4")])
            + always(["outw"], [f("AX, imm8", i386: "%ax,$0x80", x86_64: "%ax,%dx")])
            + always(["outl"], [f("EAX, DX", i386: "%eax,%dx", x86_64: "%eax,$0xcf")])),
    InstructionKind(
        id: 32, name: "ins", summary: "String input from an I/O port (usually with rep).",
        spellings: always(["ins"], [f("DX, m", i386: "(%dx),%es:(%edi)", x86_64: "(%dx),%es:(%rdi)")])
            + always(["insb", "insw", "insl"], [bare])),
    InstructionKind(
        id: 33, name: "outs", summary: "String output to an I/O port (usually with rep).",
        spellings: always(["outs"], [f("m, DX", i386: "%ds:(%esi),(%dx)", x86_64: "(%rsi),(%dx)")])
            + always(["outsb", "outsw", "outsl"], [bare])),
    InstructionKind(
        id: 34, name: "rdmsr", summary: "Read a model-specific register.",
        spellings: always(["rdmsr"], [bare])),
    InstructionKind(
        id: 35, name: "wrmsr", summary: "Write a model-specific register.",
        spellings: always(["wrmsr"], [bare])),
    InstructionKind(
        id: 36, name: "invlpg", summary: "Invalidate one TLB entry.",
        spellings: always(["invlpg"], [mem()])),
    InstructionKind(
        id: 37, name: "invd", summary: "Invalidate caches without write-back.",
        spellings: always(["invd"], [bare])),
    InstructionKind(
        id: 38, name: "wbinvd", summary: "Write back and invalidate caches.",
        spellings: always(["wbinvd"], [bare])),
    InstructionKind(
        id: 39, name: "invpcid", summary: "Invalidate TLB entries by PCID.",
        spellings: always(["invpcid"], [f("m128, r", i386: "(%eax),%ecx", x86_64: "(%rax),%rcx")])),
    InstructionKind(
        id: 40, name: "iret", summary: "Return from interrupt: reloads CS, SS and FLAGS.",
        spellings: always(["iret", "iretw", "iretl"], [bare]) + always(["iretq"], [bare64])),
    InstructionKind(
        id: 41, name: "lret", summary: "Far return: reloads CS.",
        spellings: always(["lret", "lretw", "lretl"], [bare, f("imm16", i386: "$8", x86_64: "$16")])
            + always(["lretq"], [bare64, f("imm16", x86_64: "$8")])),
    InstructionKind(
        id: 42, name: "ljmp", summary: "Far jump: reloads CS.",
        spellings: always(["ljmp"], [
            f("ptr16:32", i386: "$0x10,$0x1000"),
            f("m16:32 / m16:64", i386: "*(%eax)", x86_64: "*(%rax)"),
        ]) + always(["ljmpw", "ljmpl"], [f("m16:16 / m16:32", i386: "*8(%ebx)", x86_64: "*8(%rbx)")])),
    InstructionKind(
        id: 43, name: "lcall", summary: "Far call: reloads CS.",
        spellings: always(["lcall"], [
            f("ptr16:32", i386: "$0x10,$0x1000"),
            f("m16:32 / m16:64", i386: "*(%eax)", x86_64: "*(%rax)"),
        ]) + always(["lcallw", "lcalll"], [f("m16:16 / m16:32", i386: "*8(%ebx)", x86_64: "*8(%rbx)")])),
    InstructionKind(
        id: 44, name: "int", summary: "Software interrupt through the IDT (the breakpoint `int $3` is left alone).",
        spellings: [Spelling("int", .alwaysExcept(["$3", "$0x3", "$0x03"]), forms: [f("imm8", i386: "$0x80", x86_64: "$0x81")])]),
    InstructionKind(
        id: 45, name: "cpuid", summary: "Identify the processor: a hypervisor changes what it reports.",
        spellings: always(["cpuid"], [bare])),
    farPointerLoad(id: 46, "lds", modes32Only: true),
    farPointerLoad(id: 47, "les", modes32Only: true),
    farPointerLoad(id: 48, "lfs", modes32Only: false),
    farPointerLoad(id: 49, "lgs", modes32Only: false),
    farPointerLoad(id: 50, "lss", modes32Only: false),
    InstructionKind(
        id: 51, name: "swapgs", summary: "Swap GS base with the kernel GS base MSR (64-bit only).",
        spellings: always(["swapgs"], [bare64])),
    InstructionKind(
        id: 52, name: "sysret", summary: "Return from a system call: loads CS/SS from MSRs.",
        spellings: always(["sysret", "sysretl"], [bare]) + always(["sysretq"], [bare64])),
    InstructionKind(
        id: 53, name: "sysexit", summary: "Return from sysenter: loads CS/SS from MSRs.",
        spellings: always(["sysexit"], [bare]) + always(["sysexitl", "sysexitq"], [bare64])),
    InstructionKind(
        id: 54, name: "rsm", summary: "Resume from system management mode.",
        spellings: always(["rsm"], [bare])),
    // Kinds outside the default profile: sensitive only to some hypervisors.
    InstructionKind(
        id: 55, name: "rdtsc", summary: "Read the time-stamp counter (a hypervisor may offset or scale it).",
        inDefaultProfile: false, spellings: always(["rdtsc"], [bare])),
    InstructionKind(
        id: 56, name: "rdtscp", summary: "Read the time-stamp counter and TSC_AUX.",
        inDefaultProfile: false, spellings: always(["rdtscp"], [bare])),
    InstructionKind(
        id: 57, name: "syscall", summary: "Fast system call (a para-virtual guest kernel may route it).",
        inDefaultProfile: false, spellings: always(["syscall"], [bare])),
    InstructionKind(
        id: 58, name: "sysenter", summary: "Fast system call, Intel flavour.",
        inDefaultProfile: false, spellings: always(["sysenter"], [bare])),
    InstructionKind(
        id: 59, name: "rdpmc", summary: "Read a performance-monitoring counter.",
        inDefaultProfile: false, spellings: always(["rdpmc"], [bare])),
    InstructionKind(
        id: 60, name: "xsetbv", summary: "Write an extended control register (XCR0).",
        inDefaultProfile: false, spellings: always(["xsetbv"], [bare])),
    InstructionKind(
        id: 61, name: "wbnoinvd", summary: "Write back caches without invalidating them.",
        inDefaultProfile: false, spellings: always(["wbnoinvd"], [bare])),
    InstructionKind(
        id: 62, name: "monitor", summary: "Arm address monitoring for mwait.",
        inDefaultProfile: false, spellings: always(["monitor"], [bare])),
    InstructionKind(
        id: 63, name: "mwait", summary: "Wait for a monitored store or an interrupt.",
        inDefaultProfile: false, spellings: always(["mwait"], [bare])),
]

// MARK: - Families that share a shape

private func movSpellings(
    _ registers: RegisterClass, _ position: OperandPosition, i386: String, x86_64: String, wide: String
) -> [Spelling] {
    let rule = Classification.registerOperand(registers, position: position)
    // The raw value, not the enum interpolated: that goes through the runtime's reflection, which cost
    // every previrt-as start 1.4 M instructions.
    let name = registers.rawValue
    let r32 = position == .destination ? "r32, \(name)" : "\(name), r32"
    let r64 = position == .destination ? "r64, \(name)" : "\(name), r64"
    return [
        Spelling("mov", rule, forms: [f(r32, i386: i386), f(r64, x86_64: x86_64), f(r64 + " (REX)", x86_64: wide)]),
        Spelling("movl", rule, forms: [f(r32, i386: i386)]),
        Spelling("movq", rule, forms: [f(r64, x86_64: x86_64), f(r64 + " (REX)", x86_64: wide)]),
    ]
}

private func tableLoad(id: UInt16, _ name: String, _ summary: String) -> InstructionKind {
    InstructionKind(
        id: id, name: name, summary: summary,
        spellings: always([name], [mem("m16&32 / m16&64")])
            + always([name + "w", name + "l"], [f("m16&32", i386: "8(%esi)")])
            + always([name + "q"], [f("m16&64", x86_64: "8(%rsi)")]))
}

private func tableStore(id: UInt16, _ name: String, _ summary: String) -> InstructionKind {
    InstructionKind(
        id: id, name: name, summary: summary,
        spellings: always([name], [mem("m16&32 / m16&64")])
            + always([name + "w", name + "l"], [f("m16&32", i386: "(%ecx)")])
            + always([name + "q"], [f("m16&64", x86_64: "(%rcx)")]))
}

private func selectorStore(id: UInt16, _ name: String, _ summary: String) -> InstructionKind {
    InstructionKind(
        id: id, name: name, summary: summary,
        spellings: always([name], [f("r/m16, r32/r64", i386: "%eax", x86_64: "(%rax)")])
            + always([name + "w"], [f("r/m16", i386: "%ax", x86_64: "%ax")])
            + always([name + "l"], [f("r32", i386: "%eax", x86_64: "%eax")])
            + always([name + "q"], [f("r64", x86_64: "%rax")]))
}

private func accessCheck(id: UInt16, _ name: String, _ summary: String) -> InstructionKind {
    InstructionKind(
        id: id, name: name, summary: summary,
        spellings: always([name], [f("r/m16, r", i386: "%ax,%ecx", x86_64: "(%rax),%eax")])
            + always([name + "w"], [f("r/m16, r16", i386: "%bx,%ax", x86_64: "%cx,%dx")])
            + always([name + "l"], [f("r/m16, r32", i386: "(%eax),%eax", x86_64: "%eax,%eax")])
            + always([name + "q"], [f("r/m16, r64", x86_64: "%rax,%rax")]))
}

private func farPointerLoad(id: UInt16, _ name: String, modes32Only: Bool) -> InstructionKind {
    let segment = String(name.dropFirst())
    return InstructionKind(
        id: id, name: name,
        summary: "Load a far pointer into %\(segment) and a register: loads a segment register."
            + (modes32Only ? " 32-bit only (its opcode is a VEX prefix in 64-bit code)." : ""),
        spellings: always([name], [f("m16:32", i386: "(%eax),%ebx", x86_64: modes32Only ? nil : "(%rax),%ebx")])
            + always([name + "w"], [f("m16:16", i386: "8(%eax),%bx", x86_64: modes32Only ? nil : "8(%rax),%bx")])
            + always([name + "l"], [f("m16:32", i386: "(%ecx),%edx", x86_64: modes32Only ? nil : "(%rcx),%edx")]))
}
