// SPDX-License-Identifier: GPL-3.0-or-later
// The catalog's encodings drive the bytes: libopcodes, the runtime's generated decode table and the
// inspector's candidate filter agree on every catalog sample and on every look-alike.

import Foundation
import PrevirtBinutils
import PrevirtCatalog
import PrevirtELF
import PrevirtInspector
import PrevirtRuntime
import Testing

@Suite("One encoding table")
struct EncodingTableTests {
    /// The C decoder's answer for bytes in code of `mode`: (length, kind id), or nil for "not sensitive".
    static func runtimeDecode(_ bytes: [UInt8], mode: Int) -> (length: Int, kind: UInt16)? {
        var insn = previrt_insn()
        let n = bytes.withUnsafeBufferPointer { previrt_decode($0.baseAddress, UInt($0.count), Int32(mode), &insn) }
        return n > 0 ? (Int(n), insn.kind) : nil
    }

    @Test("every catalog sample: libopcodes, the C decode table and the candidate filter give one kind and length",
          arguments: CatalogSample.all)
    func sample(_ sample: CatalogSample) throws {
        let object = try Toolchain.assemble(sample.statement + "\n", flags: [sample.mode.assemblerFlag]).get()
        let bytes = try ELFFile(bytes: object).bytes(of: ".text")
        let decoded = try #require(try Disassembler(modeBits: sample.mode.rawValue).decode(bytes, at: 0))
        let byText = SensitiveMatcher(profile: try Profile.named("all")).kind(ofText: decoded.text)
        let byTable = Self.runtimeDecode(bytes, mode: sample.mode.rawValue)
        #expect(decoded.length == bytes.count, "\(sample.statement): libopcodes length \(decoded.length) of \(bytes.count)")
        #expect(byText?.name == sample.kind, "\(sample.statement): libopcodes says '\(decoded.text)'")
        #expect(byTable?.length == bytes.count, "\(sample.statement): the C table measures \(byTable?.length ?? 0)")
        #expect(byTable.flatMap { Catalog.kind(id: $0.kind)?.name } == sample.kind, "\(sample.statement): the C table says kind \(byTable?.kind ?? 0)")
        #expect(bytes.withUnsafeBufferPointer { CandidateFilter.mightBeSensitive($0, 0, bytes.count, modeBits: sample.mode.rawValue) },
                "\(sample.statement): the candidate filter lets it through")
    }

    @Test("every look-alike: libopcodes, the C decode table and the candidate filter all say not sensitive",
          arguments: [(CodeMode.bits64, LookAlikes.x86_64), (CodeMode.bits32, LookAlikes.i386)])
    func lookAlikes(_ mode: CodeMode, _ statements: [String]) throws {
        let matcher = SensitiveMatcher(profile: try Profile.named("all"))
        let decoder = try Disassembler(modeBits: mode.rawValue)
        // Sensitive only in the `all` profile: not look-alikes for this test.
        for statement in statements where !["rdtsc", "rdtscp", "syscall"].contains(statement) {
            let object = try Toolchain.assemble(".text\n\(statement)\n", flags: [mode.assemblerFlag]).get()
            let text = try ELFFile(bytes: object).bytes(of: ".text")
            var offset = 0
            while offset < text.count {
                let insn = try #require(text.withUnsafeBufferPointer { decoder.decode($0, offset: offset, address: UInt64(offset)) })
                let bytes = Array(text[offset..<offset + insn.length])
                #expect(matcher.kind(ofText: insn.text) == nil, "\(statement): libopcodes' '\(insn.text)' matched")
                #expect(Self.runtimeDecode(bytes, mode: mode.rawValue) == nil, "\(statement): the C table decoded '\(insn.text)'")
                #expect(!bytes.withUnsafeBufferPointer { CandidateFilter.mightBeSensitive($0, 0, bytes.count, modeBits: mode.rawValue) },
                        "\(statement): the candidate filter let '\(insn.text)' through")
                offset += insn.length
            }
        }
    }

    @Test("every kind has an encoding, and no two rows without a mandatory prefix match the same bytes")
    func tableIsWellFormed() {
        for kind in Catalog.kinds { #expect(!kind.encodings.isEmpty, "\(kind.name) has no encoding") }
        let rows = Catalog.encodings.filter { $0.encoding.mandatoryPrefix == nil }
        let groups = Dictionary(grouping: rows) { "\($0.encoding.map.rawValue)-\($0.encoding.opcode)" }
        for mode in CodeMode.allCases {
            for (opcode, group) in groups {
                for modrm in 0...255 {
                    let m = UInt8(modrm)
                    let matching = group.filter { $0.encoding.modes.contains(mode) && $0.encoding.modrm.accepts(m) }
                    #expect(Set(matching.map(\.kind.id)).count <= 1,
                            "\(mode.rawValue)-bit opcode \(opcode) modrm \(modrm): \(matching.map(\.kind.name))")
                }
            }
        }
    }
}
