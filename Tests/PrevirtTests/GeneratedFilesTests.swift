// SPDX-License-Identifier: GPL-3.0-or-later
// The committed generated files are exactly what the generators produce from the catalog now.

import Foundation
import PrevirtCatalog
import PrevirtMacros
import Testing

@Suite("Generated files are fresh")
struct GeneratedFilesTests {
    static func generated(_ path: String) throws -> String {
        switch path {
        case "Macros/previrt-i386.s": return GNUAsMacroSet(architecture: .i386, profile: try Profile.named("default")).text
        case "Macros/previrt-x86_64.s": return GNUAsMacroSet(architecture: .x86_64, profile: try Profile.named("default")).text
        case "Macros/previrt-i386-llvm.s":
            return GNUAsMacroSet(architecture: .i386, profile: try Profile.named("default"),
                                 commandLine: "previrt macros --arch i386 --profile default --flavor llvm", flavor: .llvm).text
        case "Macros/previrt-x86_64-llvm.s":
            return GNUAsMacroSet(architecture: .x86_64, profile: try Profile.named("default"),
                                 commandLine: "previrt macros --arch x86_64 --profile default --flavor llvm", flavor: .llvm).text
        case "Sources/PrevirtRuntime/include/previrt_note.h": return NoteHeader.text
        case "Sources/PrevirtRuntime/include/previrt_decode_table.h": return DecodeTable.text
        default: return CatalogDocument.markdown
        }
    }

    @Test("committed file matches its generator (run `make macros` if not)", arguments: [
        "Macros/previrt-i386.s", "Macros/previrt-x86_64.s", "Macros/previrt-i386-llvm.s", "Macros/previrt-x86_64-llvm.s",
        "Sources/PrevirtRuntime/include/previrt_note.h", "Sources/PrevirtRuntime/include/previrt_decode_table.h", "Docs/catalog.md",
    ])
    func fresh(_ path: String) throws {
        let committed = try String(contentsOf: Toolchain.packageRoot.appendingPathComponent(path), encoding: .utf8)
        #expect(committed == (try Self.generated(path)), "\(path) is stale: run `make macros`")
    }
}
