// SPDX-License-Identifier: GPL-3.0-or-later
// What previrt-as stopped doing to get cheaper, checked not to change what it decides: statements that
// are one label alone are no longer handed to SourceScan's decision (pv_candidate_statements), the walk
// takes each mark once (comments included), and a macro set's spellings are computed once per
// architecture and profile, not at every use. And the cheap start (the Swift runtime linked in) works
// from a copy of the binary anywhere.

import Foundation
@testable import PrevirtCatalog
@testable import PrevirtMacros
import Testing

@Suite("Drop-in assembler: cheaper, and deciding the same")
struct DropInAssemblerCostTests {
    /// Statements that are, or look like, a label alone: the fast scan must agree with the reference scan
    /// on each, alone and followed by a site on the next line.
    @Test("lone labels and their look-alikes: both scans agree", arguments: [
        ".L5:\n", "cli:\n", "cli:", "CLI:  \t\n", "$a.b_9:\n", "_x:\t# c\n", "a:b:\n", "a: b:\n", "a b:\n", "cli x:\n",
        "lgdt:\n", "\"cli\":\n", "x\"\":\n", "x:\"\"\n", "x: \"a:b\"\n", ".macro:\n", ".macro m:\n", "rep:\n", "rep: insb\n",
        "x:cli\n", "x: ;cli\n", "x:;\n", "x::\n", ":\n", " :\n", "x-y:\n", "x@plt:\n", "abcdefghijk:\n", "abcdefghijk: cli\n",
        "mov %cr0,%rax:\n", "%fs:\n", "x:\u{0}\n", "x:\r\n",
    ])
    func loneLabels(_ statement: String) {
        for set in Architecture.allCases.map({ GNUAsMacroSet(architecture: $0, profile: .default) }) {
            for source in [statement, statement + "cli\n", "nop\n" + statement + "\thlt\n"] {
                let bytes = Array(source.utf8)
                let full = bytes.withUnsafeBufferPointer { ReferenceScan.scan($0, for: set) }
                let fast = bytes.withUnsafeBufferPointer { SourceScan.scan($0, for: set) }
                #expect(SourceScan(needed: fast.needed, needsEverything: fast.needsEverything) == full,
                        "\(set.architecture) \(source.debugDescription)")
            }
        }
    }

    /// The walk takes each mark once, in order: a comment's marks (quotes, `;`, `:`) are passed over up
    /// to its newline, and a statement resumes after them.
    @Test("comments holding marks, and statements across 64-byte blocks: both scans agree", arguments: [
        "nop # a \"quote\ncli\n", "# a: b; c\ncli\n", "x # \" ; : #\nhlt\n", "# \"\n\"cli\"\ncli\n", "cli # end, no newline",
        "# only\n# comments; \"\n", "\"a # b\"; cli\n", "lbl: # c\n  lgdt (%rax)\n",
        String(repeating: " ", count: 61) + "cli\n", String(repeating: "x", count: 63) + ":\ncli\n",
        "\t.ascii \"" + String(repeating: ";", count: 70) + "\"\nhlt\n", String(repeating: "nop;", count: 40) + "cli\n",
    ])
    func commentsAndBlocks(_ source: String) {
        for set in Architecture.allCases.map({ GNUAsMacroSet(architecture: $0, profile: .default) }) {
            let bytes = Array(source.utf8)
            let full = bytes.withUnsafeBufferPointer { ReferenceScan.scan($0, for: set) }
            let fast = bytes.withUnsafeBufferPointer { SourceScan.scan($0, for: set) }
            #expect(SourceScan(needed: fast.needed, needsEverything: fast.needsEverything) == full, "\(set.architecture) \(source.debugDescription)")
            #expect(!full.needed.isEmpty || source.hasPrefix("# only"), "\(source.debugDescription): the trap has a site")
        }
    }

    /// The pre-pass that decides whether mov, push and pop need looking at finds the `%` bytes 64 at a
    /// time and tests each on its own: special registers at every offset around a 64-byte block's end
    /// and the file's end, in both cases, and their look-alikes.
    @Test("special registers and look-alikes at every offset around a block's end and the file's end: both scans agree")
    func registersAtEveryOffset() {
        let statements = ["mov %ax,%ss", "MOV %AX,%SS", "mov %cr0,%eax", "movl %eax,%CR4", "mov %db7,%eax", "mov %dr1,%eax",
                          "push %fs", "pop %gs", "mov %fs:8,%rax", "mov %esi,%eax", "mov %ebx,%ebp", "mov %es_x,%eax",
                          "mov %dr,%eax", "mov %crx,%eax", "mov %ss$,%eax"]
        let sets = Architecture.allCases.map { GNUAsMacroSet(architecture: $0, profile: .default) }
        var sensitive = 0
        for statement in statements {
            for padding in 40..<80 {
                for end in ["", "\n", "; nop\n"] {
                    let source = String(repeating: " ", count: padding) + statement + end
                    for set in sets {
                        let bytes = Array(source.utf8)
                        let full = bytes.withUnsafeBufferPointer { ReferenceScan.scan($0, for: set) }
                        let fast = bytes.withUnsafeBufferPointer { SourceScan.scan($0, for: set) }
                        #expect(SourceScan(needed: fast.needed, needsEverything: fast.needsEverything) == full,
                                "\(set.architecture) \(source.debugDescription)")
                        if !full.needed.isEmpty { sensitive += 1 }
                    }
                }
            }
        }
        // The first eight statements are sensitive in both architectures, the rest in neither.
        #expect(sensitive == 8 * 40 * 3 * 2)
    }

    /// previrt-as links the Swift runtime statically and reads no resource: a copy of it alone, in a
    /// prefix of its own and started with a bare environment (no `LD_LIBRARY_PATH`, a `PATH` that finds
    /// only the system's `as`), assembles a site as the build tree's copy does.
    @Test("a copy of previrt-as in a prefix of its own, bare environment: the same object as the build's")
    func installedCopy() throws {
        let w = try Workbench()
        try FileManager.default.createDirectory(atPath: w.path("prefix/bin"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: DropInAssemblerTests.tool, toPath: w.path("prefix/bin/previrt-as"))
        try w.write("s.s", "\t.text\nf:\n\tcpuid\n\tmovq %rax, %cr3\n\tret\n")
        let copy = try Toolchain.run("/usr/bin/env", ["-i", "PATH=/usr/bin:/bin", w.path("prefix/bin/previrt-as"), "--64", "s.s", "-o", "copy.o"], in: w.dir)
        try #require(copy.succeeded, "\(copy.output)")
        let built = try Toolchain.run(DropInAssemblerTests.tool, ["--64", "s.s", "-o", "built.o"], in: w.dir)
        try #require(built.succeeded, "\(built.output)")
        #expect(try w.bytes("copy.o") == w.bytes("built.o"))
        #expect(w.inspect(["copy.o"]).files[0].sites.map(\.kind) == ["cpuid", "mov-to-cr"])
    }

    /// The spellings as they were computed at every use before: the profile's kinds, each spelling that
    /// exists in one of the target's modes, restricted to the selection.
    static func computedAfresh(_ set: GNUAsMacroSet) -> [String] {
        set.profile.kinds.flatMap { kind in
            kind.spellings
                .filter { s in s.modes.contains { set.architecture.modes.contains($0) } && set.selection.map { $0.contains(s.mnemonic) } ?? true }
                .map { "\(kind.name) \($0.mnemonic)" }
        }
    }

    static func names(_ spellings: [(InstructionKind, Spelling)]) -> [String] { spellings.map { "\($0.0.name) \($0.1.mnemonic)" } }

    @Test("spellings kept in the set follow its architecture, profile and selection when they change")
    func spellingsFollowChanges() throws {
        var set = GNUAsMacroSet(architecture: .i386, profile: .default)
        #expect(Self.names(set.spellings) == Self.computedAfresh(set))
        #expect(set.spellings.count > 50)
        set.architecture = .x86_64
        #expect(Self.names(set.spellings) == Self.computedAfresh(set))
        #expect(Self.names(set.spellings) != Self.computedAfresh(GNUAsMacroSet(architecture: .i386, profile: .default)))
        set.selection = ["cpuid", "movq", "rep", "no-such-mnemonic"]
        #expect(Self.names(set.spellings) == Self.computedAfresh(set))
        #expect(Set(set.spellings.map(\.1.mnemonic)) == ["cpuid", "movq"])
        // The prefix table still knows every spelling, whatever the selection.
        #expect(Self.names(set.fullSpellings) == Self.computedAfresh(GNUAsMacroSet(architecture: .x86_64, profile: .default)))
        let everything = try Profile.named("all")
        set.profile = everything
        set.selection = nil
        #expect(Self.names(set.spellings) == Self.computedAfresh(set))
        #expect(set.spellings.count > GNUAsMacroSet(architecture: .x86_64, profile: .default).spellings.count)
    }
}
