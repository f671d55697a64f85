// SPDX-License-Identifier: GPL-3.0-or-later
// libFuzzer harness over the note parser and the site checks the inspector runs on every note.
// Built by `make fuzz` with swiftc -sanitize=fuzzer,address (see the Makefile).

import PrevirtCatalog
import PrevirtNote

@_cdecl("LLVMFuzzerTestOneInput")
public func noteParserFuzzer(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let notes = try? Note.parseSection(bytes) else { return 0 }
    for note in notes {
        guard note.offset >= 0, note.offset < max(1, bytes.count), note.descriptorOffset <= bytes.count else {
            fatalError("note \(note.index) located outside the input")
        }
        switch note.payload {
        case .site(let site):
            _ = site.problems
            _ = site.instructionOffset
            _ = site.kind?.name
            precondition(site.encoded().count == NoteABI.siteDescriptorSize)
            if site.problems.isEmpty { precondition(site.instructionOffset + Int(site.instructionLength) <= Int(site.siteLength)) }
        case .header(let header):
            precondition(header.encoded().count == NoteABI.headerDescriptorSize)
        case .unrecognized:
            break
        }
    }
    return 0
}
