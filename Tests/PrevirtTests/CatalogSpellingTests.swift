// SPDX-License-Identifier: GPL-3.0-or-later
// Every spelling and operand form of the catalog, in each mode it exists in, makes exactly one site.

import PrevirtCatalog
import PrevirtMacros
import Testing

@Suite("Catalog spellings through the real assembler")
struct CatalogSpellingTests {
    @Test("every spelling and form makes one correct site", arguments: CatalogSample.all)
    func spellingMakesOneSite(_ sample: CatalogSample) throws {
        let inDefault = Catalog.kind(named: sample.kind)!.inDefaultProfile
        try SiteCheck.expectOneSite(
            statement: sample.statement, kind: sample.kind, mode: sample.mode,
            architecture: sample.architecture, paddingBefore: sample.expectsPaddingBefore,
            profile: inDefault ? "default" : "all")
    }

    @Test("the sample set covers every kind, every spelling, and both modes")
    func samplesCoverCatalog() {
        let samples = CatalogSample.all
        for kind in Catalog.kinds {
            for spelling in kind.spellings {
                #expect(samples.contains { $0.kind == kind.name && $0.mnemonic == spelling.mnemonic }, "\(spelling.mnemonic)")
            }
        }
        #expect(Set(samples.map(\.mode)) == [.bits32, .bits64])
        // One sample per operand form and mode the catalog lists, no more, no fewer, none twice.
        let forms = Catalog.kinds.flatMap(\.spellings).flatMap(\.forms).reduce(0) { $0 + $1.samples.count }
        #expect(samples.count == forms)
        #expect(Set(samples.map { "\($0.kind) \($0.testDescription)" }).count == samples.count)
    }
}
