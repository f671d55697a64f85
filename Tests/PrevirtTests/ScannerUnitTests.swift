// SPDX-License-Identifier: GPL-3.0-or-later
// Unit tests of the small parsers: the drop-in assembler's source scan and its word set, and the
// inspector's split of libopcodes' text.

@testable import PrevirtCatalog
@testable import PrevirtInspector
@testable import PrevirtMacros
import Testing

@Suite("Source scan, word set, decoded text")
struct ScannerUnitTests {
    static let set = GNUAsMacroSet(architecture: .x86_64, profile: .default)

    static func scan(_ source: String) -> SourceScan {
        Array(source.utf8).withUnsafeBufferPointer { SourceScan.scan($0, for: set) }
    }

    @Test("the scan names the macros each statement needs", arguments: [
        ("cli\n", ["cli"]),
        ("  CLI  # upper case, then a comment\n", ["cli"]),
        ("a: b: lgdt (%rax)\n", ["lgdt"]),
        ("nop; hlt; ret\n", ["hlt"]),
        ("mov %cr3,%rax\n", ["mov"]),
        ("movq %rax,%cr4\n", ["movq"]),
        ("mov %ax,%ss\n", ["mov"]),
        ("push %fs\n", ["push"]),
        ("rep; insb\n", ["rep", "insb"]),
        ("rep\n", ["rep"]),
        ("mov %fs:40,%rax\n", []),
        ("movq %rax,%rbx\n", []),
        ("mov %rcx,%rdx # mov %cr3,%rax\n", []),
        (".ascii \"cli; hlt\"\n", []),
        ("rep stosb\n", []),
        ("call cli_handler\n", []),
        ("wrmsr\n", ["wrmsr"]),
        ("", []),
    ])
    func scan(_ source: String, _ needed: [String]) {
        let result = Self.scan(source)
        #expect(!result.needsEverything, "\(source)")
        #expect(result.needed == Set(needed), "\(source)")
    }

    @Test("statements a scan cannot see through need the whole set", arguments: [
        ".macro m\ncli\n.endm\n", ".include \"x.s\"\n", ".irp r,a,b\n.endr\n", ".IRPC c,ab\n.endr\n", ".altmacro\n",
    ])
    func fallback(_ source: String) {
        #expect(Self.scan(source).needsEverything, "\(source)")
        #expect(Self.scan(source).selection == nil)
    }

    @Test("the word set holds what it was given and nothing else")
    func wordSet() {
        let words = (1...500).map { UInt64($0) &* 0x0101_0101 }
        let set = WordSet(words)
        for w in words { #expect(set.contains(w)) }
        for w in (501...1500).map({ UInt64($0) &* 0x0101_0101 }) { #expect(!set.contains(w)) }
        #expect(!set.contains(0))
        #expect(!WordSet([]).contains(1))
    }

    @Test("packed keys: up to 8 bytes, nil beyond")
    func keys() {
        #expect(SourceScan.key("cli") == 0x696c63)
        #expect(SourceScan.key("abcdefgh") != nil)
        #expect(SourceScan.key("abcdefghi") == nil)
    }

    @Test("libopcodes' text splits into prefixes, mnemonic and operands", arguments: [
        ("mov    %cr3,%rax", [], "mov", ["%cr3", "%rax"]),
        ("rep insb (%dx),%es:(%rdi)", ["rep"], "insb", ["(%dx)", "%es:(%rdi)"]),
        ("rex.W ljmp *(%rax)", ["rex.W"], "ljmp", ["*(%rax)"]),
        ("mov    %es:(%rdi,%rcx,4),%eax", [], "mov", ["%es:(%rdi,%rcx,4)", "%eax"]),
        ("cli", [], "cli", []),
        ("lock", [], "lock", []),
        ("ljmp   $0x10,$0x1000", [], "ljmp", ["$0x10", "$0x1000"]),
        ("call   *0x8(%rax)        # 0x1234 <sym>", [], "call", ["*0x8(%rax)"]),
    ] as [(String, [String], String, [String])])
    func decodedText(_ text: String, _ prefixes: [String], _ mnemonic: String, _ operands: [String]) {
        let d = DecodedText(text)
        #expect(d.prefixes == prefixes, "\(text)")
        #expect(d.mnemonic == mnemonic, "\(text)")
        #expect(d.operands == operands, "\(text)")
    }
}
