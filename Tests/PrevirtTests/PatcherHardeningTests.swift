// SPDX-License-Identifier: GPL-3.0-or-later
// The in-place VMM's core against hostile notes (issue 11, items 5 and 6): a site shorter than the
// backend's replacement, two notes for one site and overlapping sites are refused in pass 1, by name,
// with every byte of the image as it was; images whose notes are not in address order still patch.

import Foundation
import PrevirtELF
import PrevirtMacros
import PrevirtNote
import PrevirtRuntime
import Testing

/// A linked image laid out in memory as a loader would: text at 0x100000, notes at 0x180000.
final class LinkedImage {
    static let textAddress = 0x100000, notesAddress = 0x180000
    static let notesOffset = notesAddress - textAddress

    var memory: [UInt8]
    let textSize: Int, notesSize: Int
    var notesOffset: Int { Self.notesOffset }

    /// Assembles `source` after the macro set (with `pad` NOPs per site when given) and links it.
    init(_ source: String, arch: Architecture = .i386, pad: Int? = nil) throws {
        let dir = try Toolchain.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        try source.write(to: dir.appendingPathComponent("i.s"), atomically: true, encoding: .utf8)
        let i386 = arch == .i386
        let assembled = try Toolchain.run("as", [i386 ? "--32" : "--64", try Toolchain.macroSet(arch, pad: pad), "i.s", "-o", "i.o"], in: dir)
        try #require(assembled.succeeded, "\(assembled.output)")
        let linked = try Toolchain.run("ld", (i386 ? ["-m", "elf_i386"] : []) + [
            "-Ttext=0x\(String(Self.textAddress, radix: 16))",
            "--section-start=.note.previrt=0x\(String(Self.notesAddress, radix: 16))", "-e", "0", "-o", "i.elf", "i.o",
        ], in: dir)
        try #require(linked.succeeded, "\(linked.output)")
        let elf = try ELFFile(bytes: Array(try Data(contentsOf: dir.appendingPathComponent("i.elf"))))
        let text = try #require(elf.section(named: ".text"))
        let notes = try #require(elf.section(named: NoteABI.sectionName))
        try #require(text.address == UInt64(Self.textAddress) && notes.address == UInt64(Self.notesAddress))
        try #require(text.size <= UInt64(Self.notesOffset))
        var memory = [UInt8](repeating: 0, count: Self.notesOffset + Int(notes.size))
        memory.replaceSubrange(0..<Int(text.size), with: try elf.contents(of: text))
        memory.replaceSubrange(Self.notesOffset..<memory.count, with: try elf.contents(of: notes))
        self.memory = memory
        textSize = Int(text.size)
        notesSize = Int(notes.size)
    }

    enum Backend {
        case native, trace
        /// A backend that does not state min_site_length (no lengths tag, as the linux-user backend
        /// before it did): its patch would write a 5-byte call, so the core must hold it to 5 bytes.
        case untagged
    }

    /// Runs the core over the image in place; `table` entries of overlap table, or previrt_patch without
    /// one. `base` is where the text was in memory: addresses in the result less `base` are text offsets.
    func patch(_ which: Backend, table: Int? = nil) -> (status: Int32, result: previrt_result, base: UInt) {
        var result = previrt_result()
        let stubs = UnsafeMutablePointer<UInt8>.allocate(capacity: 8192 * 32)
        let sites = UnsafeMutablePointer<UInt>.allocate(capacity: 8192)
        let kinds = UnsafeMutablePointer<UInt16>.allocate(capacity: 8192)
        let counts = UnsafeMutablePointer<UInt32>.allocate(capacity: 8192)
        let spans = UnsafeMutablePointer<previrt_span>.allocate(capacity: max(table ?? 0, 1))
        defer { stubs.deallocate(); sites.deallocate(); kinds.deallocate(); counts.deallocate(); spans.deallocate() }
        var base: UInt = 0
        let status = memory.withUnsafeMutableBufferPointer { m in
            base = UInt(bitPattern: m.baseAddress)
            let text = m.baseAddress!, notes = UnsafeRawPointer(m.baseAddress! + notesOffset)
            var trace = previrt_trace(
                stubs: stubs, stub_size: 8192 * 32, stub_used: 0, text_begin: text,
                sites: sites, kinds: kinds, counts: counts, max_sites: 8192, site_count: 0)
            var backend = previrt_backend()
            switch which {
            case .native: previrt_native_backend(&backend)
            case .trace: previrt_trace_backend(&backend, &trace)
            case .untagged: backend.patch = { _, _ in PREVIRT_PATCHED }
            }
            var image = previrt_image(notes_begin: notes, notes_end: notes + notesSize, text_begin: text, text_end: text + textSize)
            if let table { return previrt_patch_with_table(&image, &backend, spans, UInt(table), &result) }
            return previrt_patch(&image, &backend, &result)
        }
        return (status, result, base)
    }
}

/// One raw site note, as `.s` source: `kind` at `label`, in the layout of Docs/note-format.md.
func rawSiteNote(at label: String, kind: Int, insnLength: Int, siteLength: Int, mode: Int, flags: Int) -> String {
    """
    .pushsection .note.previrt,"a",@note
    .balign 4
    .long 8, 12, 0x50560002
    .asciz "PreVirt"
    9: .long \(label) - 9b
    .word \(kind)
    .byte \(insnLength), \(siteLength), \(mode), \(flags)
    .word 0
    .popsection

    """
}

@Suite("In-place VMM core: hostile notes")
struct PatcherHardeningTests {
    @Test("a site shorter than the backend's replacement is refused by name before anything is written",
          arguments: [(Architecture.i386, 0), (.i386, 1), (.x86_64, 0), (.x86_64, 1)])
    func tooShort(_ arch: Architecture, pad: Int) throws {
        for backend in [LinkedImage.Backend.trace, .untagged] {
            let image = try LinkedImage("nop\ncli\nsti\nhlt\n", arch: arch, pad: pad)
            let before = image.memory
            let (status, result, base) = image.patch(backend)
            #expect(status != 0)
            #expect(result.failure == PREVIRT_SITE_TOO_SHORT)
            #expect(String(cString: previrt_failure_name(result.failure)) == "site too short for the backend")
            #expect(result.failed_note == 1, "the first site note, after the header note")
            #expect(result.failed_address &- base == 1, "the cli after the nop")
            #expect(String(cString: result.why).contains("shorter than the backend's replacement"))
            #expect(result.patched == 0 && result.native == 0)
            #expect(image.memory == before, "\(backend): nothing written")
        }
    }

    @Test("native needs no room: short sites stay as they are", arguments: [0, 1])
    func tooShortNative(pad: Int) throws {
        let image = try LinkedImage("cli\nsti\nhlt\n", pad: pad)
        let before = image.memory
        let (status, result, _) = image.patch(.native)
        #expect(status == 0 && result.seen == 3 && result.native == 3)
        #expect(image.memory == before)
    }

    @Test("sites of 5 bytes and more still patch under trace; 16-bit sites need none")
    func longEnough() throws {
        let image = try LinkedImage(".code16\ncli\n.code32\ncli\nsti\n", pad: 4)
        let (status, result, _) = image.patch(.trace)
        #expect(status == 0 && result.patched == 2 && result.native == 1)
        let short16 = try LinkedImage(".code16\ncli\n.code32\n", pad: 0)
        #expect(short16.patch(.trace).status == 0, "a 1-byte 16-bit site: trace leaves 16-bit code native")
    }

    @Test("previrt_fill_nops never wraps: a length computed below zero writes nothing")
    func fillNopsNeverWraps() {
        var buffer = [UInt8](repeating: 0xee, count: 64)
        buffer.withUnsafeMutableBufferPointer { b in
            let siteLength: UInt32 = 1
            previrt_fill_nops(b.baseAddress! + 5, siteLength &- 5, 32)
            previrt_fill_nops(b.baseAddress!, 256, 64)
        }
        #expect(buffer == [UInt8](repeating: 0xee, count: 64))
        buffer.withUnsafeMutableBufferPointer { previrt_fill_nops($0.baseAddress!, 3, 32) }
        #expect(Array(buffer[0..<4]) == [0x0f, 0x1f, 0x00, 0xee])
    }

    /// Tables to run each refusal through: none (previrt_patch, pair by pair) and a table.
    static let tables: [Int?] = [nil, 64]

    @Test("two notes for the same site: refused in pass 1, nothing written", arguments: tables)
    func duplicate(table: Int?) throws {
        // The macro set's note for the cli, then a second note for the same 5 bytes.
        let source = "site: cli\nsti\n" + rawSiteNote(at: "site", kind: 1, insnLength: 1, siteLength: 5, mode: 32, flags: 0)
        for backend in [LinkedImage.Backend.trace, .native] {
            let image = try LinkedImage(source)
            let before = image.memory
            let (status, result, base) = image.patch(backend, table: table)
            #expect(status != 0)
            #expect(result.failure == PREVIRT_OVERLAP)
            #expect(String(cString: previrt_failure_name(result.failure)) == "overlapping sites")
            #expect(String(cString: result.why) == "two notes describe the same site")
            #expect(result.failed_note == 3 && result.other_note == 1)
            #expect(result.failed_address == base && result.other_address == base)
            #expect(result.patched == 0 && result.native == 0)
            #expect(image.memory == before, "\(backend): nothing written")
        }
    }

    /// Two sites that are each valid and share the cli: [NOP5 cli] with the padding first, and [cli NOP4].
    static let overlapText = """
        a: .byte 0x0f, 0x1f, 0x44, 0x00, 0x00
        b: .byte 0xfa
           .byte 0x0f, 0x1f, 0x40, 0x00

        """
    static let siteA = rawSiteNote(at: "a", kind: 1, insnLength: 1, siteLength: 6, mode: 32, flags: 1)
    static let siteB = rawSiteNote(at: "b", kind: 1, insnLength: 1, siteLength: 5, mode: 32, flags: 0)

    @Test("overlapping sites: refused in pass 1 whatever the note order, nothing written",
          arguments: [true, false], tables)
    func overlap(inAddressOrder: Bool, table: Int?) throws {
        let image = try LinkedImage(Self.overlapText + (inAddressOrder ? Self.siteA + Self.siteB : Self.siteB + Self.siteA))
        let before = image.memory
        let (status, result, base) = image.patch(.trace, table: table)
        #expect(status != 0)
        #expect(result.failure == PREVIRT_OVERLAP)
        #expect(String(cString: result.why) == "the site overlaps another site")
        #expect(result.failed_note == 1 && result.other_note == 0)
        #expect(Set([result.failed_address &- base, result.other_address &- base]) == [0, 5])
        #expect(image.memory == before)
    }

    @Test("a site inside the note area is refused: patching it would change the notes being walked")
    func siteInNotes() throws {
        // A foreign note whose descriptor holds a cli and its NOPs, and a PreVirt note for that site.
        let source = """
            cli
            .pushsection .note.previrt,"a",@note
            .balign 4
            .long 2, 8, 1
            .asciz "X"
            .balign 4
            inside: .byte 0xfa, 0x0f, 0x1f, 0x40, 0x00, 0, 0, 0
            .popsection

            """ + rawSiteNote(at: "inside", kind: 1, insnLength: 1, siteLength: 5, mode: 32, flags: 0)
        let image = try LinkedImage(source)
        let before = image.memory
        var result = previrt_result()
        var trace = previrt_trace()
        var backend = previrt_backend()
        let stubs = UnsafeMutablePointer<UInt8>.allocate(capacity: 4096), counts = UnsafeMutablePointer<UInt32>.allocate(capacity: 8)
        let sites = UnsafeMutablePointer<UInt>.allocate(capacity: 8), kinds = UnsafeMutablePointer<UInt16>.allocate(capacity: 8)
        defer { stubs.deallocate(); counts.deallocate(); sites.deallocate(); kinds.deallocate() }
        var base: UInt = 0
        let status = image.memory.withUnsafeMutableBufferPointer { m in
            base = UInt(bitPattern: m.baseAddress)
            trace = previrt_trace(stubs: stubs, stub_size: 4096, stub_used: 0, text_begin: m.baseAddress, sites: sites, kinds: kinds,
                                  counts: counts, max_sites: 8, site_count: 0)
            previrt_trace_backend(&backend, &trace)
            // Text bounds that cover the notes too, as a loader trusting a forged section header might give.
            let notes = UnsafeRawPointer(m.baseAddress! + image.notesOffset)
            var bounds = previrt_image(notes_begin: notes, notes_end: notes + image.notesSize,
                                       text_begin: m.baseAddress, text_end: m.baseAddress! + m.count)
            return previrt_patch(&bounds, &backend, &result)
        }
        #expect(status != 0)
        #expect(result.failure == PREVIRT_OUTSIDE_TEXT)
        #expect(String(cString: result.why) == "the site overlaps the note area")
        // The header note (60 bytes), the cli's note (32), then the foreign note's header and name (16).
        #expect(result.failed_address &- base == UInt(LinkedImage.notesOffset + 60 + 32 + 16))
        #expect(image.memory == before)
    }

    /// `count` cli sites in .text, then `count` hlt sites in .text.unlikely, which the linker places
    /// first: the notes list the later addresses first, then jump back, as notes of several sections do.
    static func twoSections(_ count: Int) -> String {
        String(repeating: "cli\n", count: count) + ".section .text.unlikely,\"ax\",@progbits\n" + String(repeating: "hlt\n", count: count)
    }

    @Test("notes out of address order: disjoint sites patch, with a table and pair by pair", arguments: tables)
    func unorderedDisjoint(table: Int?) throws {
        let image = try LinkedImage(Self.twoSections(3))
        #expect(image.memory[0] == 0xf4, "the .text.unlikely sites (hlt) come first in the text")
        let (status, result, _) = image.patch(.trace, table: table)
        #expect(status == 0 && result.patched == 6)
    }

    @Test("more unordered sites than previrt_patch compares pair by pair: refused without a table, patched with one")
    func unorderedLarge() throws {
        let half = Int(PREVIRT_PAIRWISE_MAX) / 2 + 1
        let image = try LinkedImage(Self.twoSections(half))
        let before = image.memory
        let (status, result, _) = image.patch(.native)
        #expect(status != 0 && result.failure == PREVIRT_UNORDERED)
        #expect(String(cString: previrt_failure_name(result.failure)) == "too many unordered sites")
        #expect(image.memory == before)
        let small = image.patch(.native, table: half)
        #expect(small.status != 0 && small.result.failure == PREVIRT_UNORDERED, "a table too small for the sites")
        let (patched, all, _) = image.patch(.trace, table: 2 * half)
        #expect(patched == 0 && all.patched == 2 * half)
    }

    @Test("notes in address order need no table, however many")
    func orderedLarge() throws {
        let image = try LinkedImage(String(repeating: "cli\nnop\n", count: Int(PREVIRT_PAIRWISE_MAX) + 100))
        let (status, result, _) = image.patch(.trace)
        #expect(status == 0 && result.patched == Int(PREVIRT_PAIRWISE_MAX) + 100)
    }
}

@Suite("Demo guest built with --pad 0", .serialized)
struct ShortSiteGuestTests {
    /// The demo guest compiled as the Makefile's guest rule does, with the `--pad 0` macro set: every
    /// site is the bare instruction.
    static func buildPadZeroGuest(in dir: URL) throws -> String {
        _ = try Guest.build() // the linux-user VMM, and the same sources compile
        let root = Toolchain.packageRoot.path, elf = dir.appendingPathComponent("guest-pad0.elf").path
        let runtime = ["note_walk", "decode", "patch", "backend_native", "backend_trace"].map { "\(root)/Sources/PrevirtRuntime/\($0).c" }
        let r = try Toolchain.run("gcc", [
            "-m32", "-O2", "-ffreestanding", "-fno-pic", "-fno-stack-protector", "-fno-asynchronous-unwind-tables", "-nostdlib",
            "-I\(root)/Sources/PrevirtRuntime/include", "-I\(root)/Guests/demo", "-I\(root)/Guests/common", "-Wa,\(try Toolchain.macroSet(.i386, pad: 0))",
            "-static", "-Wl,-T,\(root)/Guests/demo/guest.ld", "-Wl,--build-id=none", "-Wl,--no-warn-rwx-segments", "-o", elf,
        ] + ["common/multiboot.S", "demo/boot.S", "demo/kernel.c", "demo/checks.c", "common/console.c"].map { "\(root)/Guests/\($0)" } + runtime)
        try #require(r.succeeded, "\(r.output)")
        return elf
    }

    @Test("trace on QEMU and the linux-user VMM refuse it by name and run nothing; native boots it")
    func padZero() throws {
        let dir = try Toolchain.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let kernel = try Self.buildPadZeroGuest(in: dir)
        let refusal = /: site too short for the backend: the site is shorter than the backend's replacement/

        let native = try Guest.boot(kernel, "previrt=native")
        #expect(native.status == Guest.passStatus && native.output == Guest.transcript)

        let trace = try Guest.boot(kernel, "previrt=trace")
        #expect(trace.status == Guest.failStatus)
        #expect(trace.output.hasPrefix("previrt: refused to patch: note "))
        #expect(trace.output.contains(refusal) && trace.output.hasSuffix("; nothing was patched\n"), "\(trace.output)")
        #expect(!trace.output.contains("previrt demo guest"))

        // The linux-user backend writes call rel32: 5 bytes, as it states or as the core assumes of a backend that states none.
        let run = try runUnderLinuxUser(kernel)
        #expect(run.status == 2, "today's code: SIGSEGV (139) in previrt_fill_nops")
        #expect(run.output.contains(refusal), "\(run.output)")
        #expect(!run.output.contains("previrt demo guest"))
    }
}
