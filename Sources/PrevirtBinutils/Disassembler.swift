// SPDX-License-Identifier: GPL-3.0-or-later
// previrt: one-instruction decoding through libopcodes.

import CBinutils

/// A libopcodes decoder for x86 code of one mode, AT&T syntax.
///
/// ```swift
/// let decoder = try Disassembler(modeBits: 64)
/// decoder.decode([0x0f, 0x20, 0xd8], at: 0x1000)   // (length: 3, text: "mov    %cr3,%rax")
/// ```
public final class Disassembler {
    public struct Instruction: Sendable, Equatable {
        public var length: Int
        public var text: String
    }

    private let handle: OpaquePointer
    private var buffer = [CChar](repeating: 0, count: 256)
    public let modeBits: Int

    public init(modeBits: Int) throws(BinutilsError) {
        guard [16, 32, 64].contains(modeBits), let handle = pv_disasm_new(Int32(modeBits)) else {
            throw BinutilsError("libopcodes has no x86 decoder for \(modeBits)-bit code")
        }
        self.handle = handle
        self.modeBits = modeBits
    }

    deinit { pv_disasm_free(handle) }

    /// Decodes the instruction at `offset` of `bytes`, which is loaded at `address`; nil if libopcodes cannot.
    public func decode(_ bytes: UnsafeBufferPointer<UInt8>, offset: Int, address: UInt64) -> Instruction? {
        guard offset >= 0, offset < bytes.count, let base = bytes.baseAddress else { return nil }
        let n = buffer.withUnsafeMutableBufferPointer { out in
            pv_disasm_one(handle, base + offset, bytes.count - offset, address, out.baseAddress, out.count)
        }
        guard n > 0 else { return nil }
        return Instruction(length: Int(n), text: String(cBuffer: buffer))
    }

    /// The length of the instruction at `offset`, without its text; nil if libopcodes cannot decode it.
    public func length(_ bytes: UnsafeBufferPointer<UInt8>, offset: Int, address: UInt64) -> Int? {
        guard offset >= 0, offset < bytes.count, let base = bytes.baseAddress else { return nil }
        let n = pv_disasm_one(handle, base + offset, bytes.count - offset, address, nil, 0)
        return n > 0 ? Int(n) : nil
    }

    /// Decodes the first instruction of `bytes`.
    public func decode(_ bytes: [UInt8], at address: UInt64) -> Instruction? {
        bytes.withUnsafeBufferPointer { decode($0, offset: 0, address: address) }
    }
}
