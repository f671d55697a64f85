// SPDX-License-Identifier: GPL-3.0-or-later
// The inspector's rules, generated from the catalog, recognize what libopcodes decodes.

import Foundation
import PrevirtBinutils
import PrevirtCatalog
import PrevirtELF
import PrevirtInspector
import Testing

@Suite("Sensitive-instruction matcher")
struct MatcherTests {
    @Test("libopcodes' text for every catalog sample is matched to its kind", arguments: CatalogSample.all)
    func catalogSample(_ sample: CatalogSample) throws {
        let object = try Toolchain.assemble(sample.statement + "\n", flags: [sample.mode.assemblerFlag]).get()
        let text = try ELFFile(bytes: object).bytes(of: ".text")
        let decoded = try #require(try Disassembler(modeBits: sample.mode.rawValue).decode(text, at: 0))
        #expect(decoded.length == text.count)
        let matcher = SensitiveMatcher(profile: try Profile.named("all"))
        #expect(matcher.kind(ofText: decoded.text)?.name == sample.kind, "\(sample.statement) decodes as '\(decoded.text)'")
    }

    @Test("look-alikes decode as something the matcher leaves alone")
    func lookAlikes() throws {
        let matcher = SensitiveMatcher(profile: try Profile.named("default"))
        for statement in LookAlikes.x86_64 {
            let object = try Toolchain.assemble(".text\n\(statement)\n", flags: ["--64"]).get()
            let text = try ELFFile(bytes: object).bytes(of: ".text")
            let decoder = try Disassembler(modeBits: 64)
            var offset = 0
            while offset < text.count {
                let insn = try #require(text.withUnsafeBufferPointer { decoder.decode($0, offset: offset, address: UInt64(offset)) })
                #expect(matcher.kind(ofText: insn.text) == nil, "\(statement): '\(insn.text)'")
                offset += insn.length
            }
        }
    }
}
