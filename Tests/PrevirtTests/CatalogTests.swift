// SPDX-License-Identifier: GPL-3.0-or-later
// The catalog's own invariants: stable ids, unique names and spellings, profiles.

import PrevirtCatalog
import Testing

@Suite("Instruction catalog")
struct CatalogTests {
    /// Kind ids are ABI: notes in shipped binaries carry them. This list may only grow.
    static let stableIDs: [String: UInt16] = [
        "cli": 1, "sti": 2, "pushf": 3, "popf": 4, "hlt": 5, "mov-to-cr": 6, "mov-from-cr": 7, "mov-to-dr": 8,
        "mov-from-dr": 9, "mov-to-seg": 10, "mov-from-seg": 11, "push-seg": 12, "pop-seg": 13, "lgdt": 14, "lidt": 15,
        "lldt": 16, "ltr": 17, "sgdt": 18, "sidt": 19, "sldt": 20, "str": 21, "smsw": 22, "lmsw": 23, "clts": 24,
        "lar": 25, "lsl": 26, "verr": 27, "verw": 28, "arpl": 29, "in": 30, "out": 31, "ins": 32, "outs": 33,
        "rdmsr": 34, "wrmsr": 35, "invlpg": 36, "invd": 37, "wbinvd": 38, "invpcid": 39, "iret": 40, "lret": 41,
        "ljmp": 42, "lcall": 43, "int": 44, "cpuid": 45, "lds": 46, "les": 47, "lfs": 48, "lgs": 49, "lss": 50,
        "swapgs": 51, "sysret": 52, "sysexit": 53, "rsm": 54, "rdtsc": 55, "rdtscp": 56, "syscall": 57,
        "sysenter": 58, "rdpmc": 59, "xsetbv": 60, "wbnoinvd": 61, "monitor": 62, "mwait": 63,
    ]

    @Test("every kind keeps its id, and ids and names are unique")
    func stableIDs() {
        for (name, id) in Self.stableIDs {
            #expect(Catalog.kind(named: name)?.id == id, "\(name)")
        }
        #expect(Set(Catalog.kinds.map(\.id)).count == Catalog.kinds.count)
        #expect(Set(Catalog.kinds.map(\.name)).count == Catalog.kinds.count)
        #expect(Catalog.kinds.map(\.id) == Catalog.kinds.map(\.id).sorted())
    }

    @Test("a mnemonic belongs to one kind, unless its operands decide the kind")
    func spellingsAreUnambiguous() {
        var owner: [String: String] = [:]
        for kind in Catalog.kinds {
            #expect(Set(kind.mnemonics).count == kind.mnemonics.count, "\(kind.name) repeats a spelling")
            for spelling in kind.spellings {
                if case .registerOperand = spelling.classification { continue }
                #expect(owner[spelling.mnemonic] == nil, "\(spelling.mnemonic) in \(owner[spelling.mnemonic] ?? "") and \(kind.name)")
                owner[spelling.mnemonic] = kind.name
            }
        }
    }

    @Test("the default profile leaves rdtsc, rdtscp and syscall alone; 'all' takes every kind")
    func profiles() throws {
        let standard = try Profile.named("default")
        for name in ["rdtsc", "rdtscp", "syscall"] {
            #expect(!standard.includes(Catalog.kind(named: name)!))
        }
        #expect(standard.kinds.count == 54)
        #expect(try Profile.named("all").kinds.count == Catalog.kinds.count)
        #expect(throws: CatalogError.unknownProfile("fast", known: ["default", "all"])) { try Profile.named("fast") }
        #expect(standard.padding == .toSiteLength(5))
        #expect(standard.padded(by: 0).padding.bytes(forInstructionLength: 3) == 0)
        #expect(standard.padding.bytes(forInstructionLength: 3) == 2)
        #expect(standard.padding.bytes(forInstructionLength: 7) == 0)
    }
}
