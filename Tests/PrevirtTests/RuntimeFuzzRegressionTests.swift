// SPDX-License-Identifier: GPL-3.0-or-later
// Inputs on which the runtime's libFuzzer harnesses (Fuzz/decode_fuzzer.c, Fuzz/patch_fuzzer.c) found a
// fault, kept under Tests/FuzzRegressions/ and replayed here through the C functions themselves, with
// the harnesses' invariants.

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
}
