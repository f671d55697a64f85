// SPDX-License-Identifier: GPL-3.0-or-later
// previrt: how a sensitive instruction is encoded, as the catalog records it.

/// One machine encoding of a kind: the opcode bytes, what the ModRM byte must say, the immediate that
/// follows, the modes it exists in and the prefix that changes its meaning.
///
/// The runtime's decoder (`previrt_decode_table.h`) and the inspector's byte-level candidate filter are
/// generated from these, so a kind's bytes are written down once, here.
///
/// ```swift
/// Encoding(.twoByte, 0x22, modrm: .controlOrDebug)   // mov %reg,%crN: 0f 22 /r
/// Encoding(.twoByte, 0x00, modrm: .reg(2))           // lldt r/m16: 0f 00 /2
/// ```
public struct Encoding: Sendable, Hashable {
    /// The opcode map: which escape bytes precede the opcode.
    public enum OpcodeMap: UInt8, Sendable, Hashable {
        case oneByte = 0
        case twoByte = 1       // 0f xx
        case threeByte38 = 2   // 0f 38 xx

        /// The escape bytes in front of the opcode.
        public var escape: [UInt8] {
            switch self {
            case .oneByte: return []
            case .twoByte: return [0x0f]
            case .threeByte38: return [0x0f, 0x38]
            }
        }
    }

    /// What the ModRM byte (if any) must hold for the bytes to be this kind.
    public enum ModRM: Sendable, Hashable {
        /// No ModRM byte.
        case none
        /// A ModRM byte with any register and any operand (`/r`).
        case any
        /// A ModRM byte whose operand is memory (mod != 3).
        case memory
        /// A ModRM byte whose reg field is `n` (`/n`), any operand.
        case reg(UInt8)
        /// A ModRM byte whose reg field is `n` and whose operand is memory.
        case regMemory(UInt8)
        /// Exactly this ModRM byte (`0f 01 f8` swapgs).
        case exact(UInt8)
        /// Moves to and from control and debug registers: the operand is a register whatever mod says.
        case controlOrDebug

        /// Whether the ModRM byte `m` satisfies this rule (`.none` accepts anything: there is no ModRM).
        public func accepts(_ m: UInt8) -> Bool {
            switch self {
            case .none, .any, .controlOrDebug: return true
            case .memory: return m >> 6 != 3
            case .reg(let n): return (m >> 3) & 7 == n
            case .regMemory(let n): return (m >> 3) & 7 == n && m >> 6 != 3
            case .exact(let b): return m == b
            }
        }
    }

    /// The immediate after the opcode and ModRM.
    public enum Immediate: Sendable, Hashable {
        case none
        /// One byte (`int $n`, `in $port`).
        case byte
        /// Two bytes (`lret $n`).
        case word
        /// A far pointer: a 16- or 32-bit offset (by operand size) then a 16-bit selector.
        case farPointer
    }

    public var map: OpcodeMap
    public var opcode: UInt8
    public var modrm: ModRM
    public var immediate: Immediate
    /// The modes the encoding exists in (several one-byte opcodes mean something else in 64-bit code).
    public var modes: Set<CodeMode>
    /// A prefix that must be present (`66 0f 38 82` invpcid, `f3 0f 09` wbnoinvd), or nil.
    public var mandatoryPrefix: UInt8?
    /// An immediate byte that makes the bytes another, harmless instruction (`int $3` is the breakpoint).
    public var excludedImmediate: UInt8?

    public init(
        _ map: OpcodeMap, _ opcode: UInt8, modrm: ModRM = .none, immediate: Immediate = .none,
        modes: Set<CodeMode> = Set(CodeMode.allCases), mandatoryPrefix: UInt8? = nil, excludedImmediate: UInt8? = nil
    ) {
        self.map = map
        self.opcode = opcode
        self.modrm = modrm
        self.immediate = immediate
        self.modes = modes
        self.mandatoryPrefix = mandatoryPrefix
        self.excludedImmediate = excludedImmediate
    }

    /// The modes outside 64-bit code.
    public static let legacyModes: Set<CodeMode> = [.bits16, .bits32]

    /// The encoding in the manuals' notation: `0f 01 /2 (m)`, `cd ib (not 03)`, `f3 0f 09`, `ea cd (not 64-bit)`.
    public var notation: String {
        func hex(_ b: UInt8) -> String { (b < 16 ? "0" : "") + String(b, radix: 16) }
        var parts = (mandatoryPrefix.map { [hex($0)] } ?? []) + map.escape.map(hex) + [hex(opcode)]
        switch modrm {
        case .none: break
        case .any: parts.append("/r")
        case .memory: parts.append("/r (m)")
        case .reg(let n): parts.append("/\(n)")
        case .regMemory(let n): parts.append("/\(n) (m)")
        case .exact(let b): parts.append(hex(b))
        case .controlOrDebug: parts.append("/r (reg)")
        }
        switch immediate {
        case .none: break
        case .byte: parts.append("ib" + (excludedImmediate.map { " (not \(hex($0)))" } ?? ""))
        case .word: parts.append("iw")
        case .farPointer: parts.append("cd/cp")
        }
        if modes == Encoding.legacyModes { parts.append("(not 64-bit)") }
        return parts.joined(separator: " ")
    }
}
