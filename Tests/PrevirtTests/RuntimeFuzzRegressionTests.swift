// SPDX-License-Identifier: GPL-3.0-or-later
// Inputs kept under Tests/FuzzRegressions/ for the runtime's libFuzzer harnesses, replayed here through
// the C functions themselves with the harnesses' invariants: decode/ holds what Fuzz/decode_fuzzer.c
// found; patch/ holds images in Fuzz/patch_fuzzer.c's format, made by Fuzz/runtime_seeds.py from the
// demo objects with a site noted twice or the notes reversed, on which the core before issue 11 broke
// the harness's all-or-nothing invariant (it patched a site, then failed).

import Foundation
import PrevirtRuntime
import Testing

@Suite("Runtime fuzzing regressions")
struct RuntimeFuzzRegressionTests {
    static func inputs(_ harness: String) -> [String] {
        let dir = Toolchain.packageRoot.appendingPathComponent("Tests/FuzzRegressions/\(harness)")
        return ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).sorted().map { "\(harness)/\($0)" }
    }

    static func bytes(_ input: String) throws -> [UInt8] {
        Array(try Data(contentsOf: Toolchain.packageRoot.appendingPathComponent("Tests/FuzzRegressions/\(input)")))
    }

    /// previrt_decode on exactly `count` of the bytes.
    static func decode(_ bytes: [UInt8], count: Int, mode: Int32) -> (Int32, previrt_insn) {
        var insn = previrt_insn()
        let n = Array(bytes.prefix(count)).withUnsafeBufferPointer { previrt_decode($0.baseAddress, UInt(count), mode, &insn) }
        return (n, insn)
    }

    @Test("the kept decoder inputs exist")
    func decoderInputsKept() {
        #expect(Self.inputs("decode").contains("decode/truncated-ljmp-ff"))
    }

    @Test("decoder: a length within the bytes and 15, the kind with it, and the same answer from the instruction's own bytes only",
          arguments: inputs("decode"))
    func decoder(_ input: String) throws {
        let bytes = try Self.bytes(input)
        for mode: Int32 in [16, 32, 64] {
            let (n, insn) = Self.decode(bytes, count: bytes.count, mode: mode)
            #expect(n >= -1 && n <= 15 && Int(n) <= bytes.count, "\(mode)-bit: \(n)")
            #expect((n > 0) == (insn.kind != 0), "\(mode)-bit: kind \(insn.kind) with \(n)")
            guard n > 0 else { continue }
            #expect(Int(insn.length) == Int(n) && insn.kind <= PREVIRT_KIND_MAX)
            let exact = Self.decode(bytes, count: Int(n), mode: mode)
            #expect(exact.0 == n && exact.1.kind == insn.kind, "\(mode)-bit: given its own \(n) bytes")
            for k in 0..<Int(n) {
                #expect(Self.decode(bytes, count: k, mode: mode).0 == -1, "\(mode)-bit: \(k) of \(n) bytes must run past the end")
            }
        }
    }

    @Test("the kept patcher inputs exist")
    func patcherInputsKept() {
        #expect(Self.inputs("patch").count >= 3)
    }

    /// The strict test backend of Fuzz/patch_fuzzer.c: checks what the core promises a backend.
    final class StrictBackend {
        let text: UnsafeMutableBufferPointer<UInt8>
        let minimum: [Int]
        var touched: [Bool]
        var broken: [String] = []
        init(text: UnsafeMutableBufferPointer<UInt8>, minimum: [Int]) {
            self.text = text
            self.minimum = minimum
            touched = [Bool](repeating: false, count: text.count)
        }
    }

    @Test("patcher: nothing written on failure; on success only the sites, disjoint, clear of the notes",
          arguments: inputs("patch"))
    func patcher(_ input: String) throws {
        let data = try Self.bytes(input)
        try #require(data.count >= 13)
        func read16(_ at: Int) -> Int { Int(data[at]) | Int(data[at + 1]) << 8 }
        let m = data.count - 13
        let textOffset = read16(5) % (m + 1), textLength = read16(7) % (m - textOffset + 1)
        let notesOffset = read16(9) % (m + 1), notesLength = read16(11) % (m - notesOffset + 1)
        var memory = Array(data[13...])
        let before = memory
        let which = Int(data[0]) % 4
        let minimum = which == 2 ? (1...3).map { Int(data[$0]) % 21 } : [Int](repeating: Int(PREVIRT_DEFAULT_MIN_SITE_LENGTH), count: 3)
        var result = previrt_result()
        var mask = [UInt8](repeating: 0, count: m)
        var broken: [String] = []
        let stubs = UnsafeMutablePointer<UInt8>.allocate(capacity: 64 * 32), counts = UnsafeMutablePointer<UInt32>.allocate(capacity: 64)
        let sites = UnsafeMutablePointer<UInt>.allocate(capacity: 64), kinds = UnsafeMutablePointer<UInt16>.allocate(capacity: 64)
        let spans = UnsafeMutablePointer<previrt_span>.allocate(capacity: 256)
        defer { stubs.deallocate(); counts.deallocate(); sites.deallocate(); kinds.deallocate(); spans.deallocate() }

        let status = memory.withUnsafeMutableBufferPointer { b -> Int32 in
            let base = b.baseAddress!
            let text = UnsafeMutableBufferPointer(start: base + textOffset, count: textLength)
            let strict = StrictBackend(text: text, minimum: minimum)
            var trace = previrt_trace(stubs: stubs, stub_size: 64 * 32, stub_used: 0, text_begin: text.baseAddress, sites: sites,
                                      kinds: kinds, counts: counts, max_sites: 64, site_count: 0)
            var backend = previrt_backend()
            switch which {
            case 0: previrt_native_backend(&backend)
            case 1: previrt_trace_backend(&backend, &trace)
            default:
                backend.ctx = Unmanaged.passUnretained(strict).toOpaque()
                backend.check = { _, site in
                    let why: StaticString = "more sites than the strict backend holds"
                    return site!.pointee.index >= 64 ? UnsafeRawPointer(why.utf8Start).assumingMemoryBound(to: CChar.self) : nil
                }
                backend.patch = { ctx, site in
                    let strict = Unmanaged<StrictBackend>.fromOpaque(ctx!).takeUnretainedValue(), site = site!.pointee
                    let at = site.start - strict.text.baseAddress!, mode = Int(site.decoded.mode)
                    guard at >= 0, at + Int(site.length) <= strict.text.count else { strict.broken.append("a site outside the text"); return PREVIRT_LEFT_NATIVE }
                    if Int(site.length) < strict.minimum[mode == 16 ? 0 : mode == 32 ? 1 : 2] { strict.broken.append("a site too short") }
                    for i in at..<(at + Int(site.length)) {
                        if strict.touched[i] { strict.broken.append("a byte patched twice") }
                        strict.touched[i] = true
                        strict.text[i] = 0xcc
                    }
                    return PREVIRT_PATCHED
                }
                if which == 2 {
                    backend.lengths = PREVIRT_BACKEND_LENGTHS
                    backend.min_site_length = (UInt8(minimum[0]), UInt8(minimum[1]), UInt8(minimum[2]))
                }
            }
            let notes = UnsafeRawPointer(base + notesOffset)
            var image = previrt_image(notes_begin: notes, notes_end: notes + notesLength, text_begin: text.baseAddress, text_end: text.baseAddress! + textLength)
            let status = data[4] != 0 ? previrt_patch_with_table(&image, &backend, spans, UInt(data[4]), &result) : previrt_patch(&image, &backend, &result)
            broken = strict.broken
            if status == 0 {
                // Every site's bytes, from the notes (which no site overlaps, so they are as they were).
                struct Marker { var base: UInt; var mask: UnsafeMutableBufferPointer<UInt8>; var twice = false; var outside = false }
                mask.withUnsafeMutableBufferPointer { mb in
                    var marker = Marker(base: UInt(bitPattern: base), mask: mb)
                    var error = previrt_walk_error()
                    previrt_walk_notes(notes, notes + notesLength, UInt(bitPattern: notes), { site, ctx in
                        let marker = ctx!.assumingMemoryBound(to: Marker.self), s = site!.pointee
                        let at = Int(bitPattern: s.address &- marker.pointee.base)
                        guard at >= 0, at + Int(s.site_len) <= marker.pointee.mask.count else { marker.pointee.outside = true; return 1 }
                        for i in at..<(at + Int(s.site_len)) {
                            if marker.pointee.mask[i] != 0 { marker.pointee.twice = true }
                            marker.pointee.mask[i] = 1
                        }
                        return 0
                    }, &marker, &error)
                    if marker.twice { broken.append("two sites share a byte") }
                    if marker.outside { broken.append("a site outside the image") }
                }
            }
            return status
        }
        #expect(broken.isEmpty, "\(broken)")
        if status != 0 {
            #expect(memory == before, "failure (\(String(cString: previrt_failure_name(result.failure)))) after writing")
            #expect(result.failure != PREVIRT_OK && result.patched == 0 && result.native == 0)
        } else {
            #expect(result.seen == result.patched + result.native)
            for i in 0..<m where memory[i] != before[i] || mask[i] != 0 {
                let inText = i >= textOffset && i < textOffset + textLength, inNotes = i >= notesOffset && i < notesOffset + notesLength
                #expect(!(mask[i] != 0 && inNotes), "a site overlaps the notes at \(i)")
                if memory[i] != before[i] { #expect(inText && mask[i] != 0 && which != 0, "a write outside the sites at \(i)") }
            }
        }
    }
}
