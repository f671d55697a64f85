// SPDX-License-Identifier: GPL-3.0-or-later
// The freestanding runtime, called from Swift: its decoder agrees with GNU as on every catalog sample,
// and previrt_patch validates everything before writing anything.

import Foundation
import PrevirtCatalog
import PrevirtELF
import PrevirtMacros
import PrevirtNote
import PrevirtRuntime
import Testing

@Suite("In-place VMM runtime")
struct RuntimeTests {
    @Test("the C decoder names the kind and length of every catalog sample", arguments: CatalogSample.all)
    func decoder(_ sample: CatalogSample) throws {
        let object = try Toolchain.assemble(sample.statement + "\n", flags: [sample.mode.assemblerFlag]).get()
        let bytes = try ELFFile(bytes: object).bytes(of: ".text")
        var insn = previrt_insn()
        let n = bytes.withUnsafeBufferPointer { previrt_decode($0.baseAddress, UInt($0.count), Int32(sample.mode.rawValue), &insn) }
        #expect(Int(n) == bytes.count, "\(sample.statement): length \(n), gas wrote \(bytes.count)")
        #expect(Catalog.kind(id: insn.kind)?.name == sample.kind, "\(sample.statement): kind \(insn.kind)")
    }

    @Test("the C decoder leaves the look-alikes alone")
    func decoderLookAlikes() throws {
        for statement in LookAlikes.x86_64 where !statement.contains("jmp") && !statement.contains("rdtsc") && !statement.contains("syscall") {
            let object = try Toolchain.assemble(".text\n\(statement)\n", flags: ["--64"]).get()
            let bytes = try ELFFile(bytes: object).bytes(of: ".text")
            var insn = previrt_insn()
            let n = bytes.withUnsafeBufferPointer { previrt_decode($0.baseAddress, UInt($0.count), 64, &insn) }
            #expect(n == 0, "\(statement) decoded as kind \(insn.kind)")
        }
    }

    /// The text and notes of a linked image, laid out in memory as the loader would.
    final class Image {
        var memory: [UInt8]
        let base: UInt64
        let text: ELFFile.Section
        let notes: ELFFile.Section

        init(_ source: String, arch: Architecture = .i386) throws {
            let dir = try Toolchain.scratch()
            defer { try? FileManager.default.removeItem(at: dir) }
            try source.write(to: dir.appendingPathComponent("i.s"), atomically: true, encoding: .utf8)
            let i386 = arch == .i386
            #expect(try Toolchain.run("as", [i386 ? "--32" : "--64", try Toolchain.macroSet(arch), "i.s", "-o", "i.o"], in: dir).succeeded)
            #expect(try Toolchain.run("ld", (i386 ? ["-m", "elf_i386"] : []) + ["-Ttext=0x100000", "-e", "0", "-o", "i.elf", "i.o"], in: dir).succeeded)
            let elf = try ELFFile(bytes: Array(try Data(contentsOf: dir.appendingPathComponent("i.elf"))))
            text = try #require(elf.section(named: ".text"))
            notes = try #require(elf.section(named: NoteABI.sectionName))
            base = min(text.address, notes.address)
            memory = [UInt8](repeating: 0, count: Int(max(text.address + text.size, notes.address + notes.size) - base))
            memory.replaceSubrange(Int(text.address - base)..<Int(text.address - base + text.size), with: try elf.contents(of: text))
            memory.replaceSubrange(Int(notes.address - base)..<Int(notes.address - base + notes.size), with: try elf.contents(of: notes))
        }

        /// Runs previrt_patch with the trace backend over the image, in place.
        func patchWithTrace() -> (status: Int32, result: previrt_result) {
            var result = previrt_result()
            var stubs = [UInt8](repeating: 0, count: 4096)
            var sites = [UInt](repeating: 0, count: 64)
            var kinds = [UInt16](repeating: 0, count: 64)
            var counts = [UInt32](repeating: 0, count: 64)
            let status = memory.withUnsafeMutableBufferPointer { m in
                stubs.withUnsafeMutableBufferPointer { s in
                    sites.withUnsafeMutableBufferPointer { si in
                        kinds.withUnsafeMutableBufferPointer { k in
                            counts.withUnsafeMutableBufferPointer { c in
                                var trace = previrt_trace(
                                    stubs: s.baseAddress, stub_size: UInt(s.count), stub_used: 0, text_begin: m.baseAddress,
                                    sites: si.baseAddress, kinds: k.baseAddress, counts: c.baseAddress, max_sites: 64, site_count: 0)
                                var backend = previrt_backend()
                                previrt_trace_backend(&backend, &trace)
                                let t = m.baseAddress! + Int(text.address - base)
                                let n = m.baseAddress! + Int(notes.address - base)
                                var image = previrt_image(
                                    notes_begin: UnsafeRawPointer(n), notes_end: UnsafeRawPointer(n + Int(notes.size)),
                                    text_begin: t, text_end: t + Int(text.size))
                                return previrt_patch(&image, &backend, &result)
                            }
                        }
                    }
                }
            }
            return (status, result)
        }
    }

    @Test("every site valid: all are rewritten to jumps into the stubs")
    func patchesAll() throws {
        let image = try Image("cli\nnop\nmov %cr3,%eax\nsti\nhlt\n")
        let (status, result) = image.patchWithTrace()
        #expect(status == 0 && result.patched == 4 && result.native == 0)
        let t = Int(image.text.address - image.base)
        #expect(image.memory[t] == 0xe9)           // cli site: jmp rel32
        #expect(image.memory[t + 5] == 0x90)       // the nop between sites is untouched
    }

    @Test("64-bit code under trace: sites jump to stubs with a RIP-relative count; RIP-relative operands stay native")
    func trace64() throws {
        let image = try Image("cli\nlgdt table(%rip)\nmov %cr3,%rax\ntable: .quad 0\n", arch: .x86_64)
        let (status, result) = image.patchWithTrace()
        #expect(status == 0 && result.patched == 2 && result.native == 1)
        let t = Int(image.text.address - image.base)
        #expect(image.memory[t] == 0xe9)                       // cli: jmp rel32 to its stub
        #expect(Array(image.memory[(t + 5)..<(t + 8)]) == [0x0f, 0x01, 0x15])  // lgdt table(%rip): untouched
    }

    @Test("one bad site anywhere: nothing is written, and the result names it", arguments: ["instruction", "padding"])
    func allOrNothing(_ damage: String) throws {
        let image = try Image("cli\nnop\nmov %cr3,%eax\nsti\nhlt\n")
        let t = Int(image.text.address - image.base)
        // The last site (hlt) is at text + 5 + 1 + 5 + 5.
        let hlt = t + 16
        if damage == "instruction" { image.memory[hlt] = 0x90 } else { image.memory[hlt + 2] = 0xcc }
        let before = image.memory
        let (status, result) = image.patchWithTrace()
        #expect(status != 0)
        #expect(image.memory == before)
        #expect(result.failed_note == 4)
        #expect(result.failure == (damage == "instruction" ? PREVIRT_WRONG_INSTRUCTION : PREVIRT_BAD_PADDING))
        #expect(String(cString: result.why).contains(damage == "instruction" ? "not the recorded instruction" : "padding"))
    }
}
