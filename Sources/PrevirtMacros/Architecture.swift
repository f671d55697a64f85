// SPDX-License-Identifier: GPL-3.0-or-later
// previrt: the two targets a macro set is generated for.

import PrevirtCatalog
import PrevirtNote

/// The target a macro set is generated for: `i386` (32- and 16-bit code) or `x86_64` (64-, 32- and 16-bit code).
public enum Architecture: String, Sendable, CaseIterable {
    case i386
    case x86_64 = "x86_64"

    /// The code modes a file for this target may contain (`.code16` / `.code32` regions included).
    public var modes: [CodeMode] { self == .i386 ? [.bits16, .bits32] : [.bits16, .bits32, .bits64] }

    /// The mode a file for this target starts in.

    public var machine: UInt16 { self == .i386 ? NoteABI.machineI386 : NoteABI.machineX86_64 }

    /// General-purpose register names by operand size, as GNU as spells them in this target.
    public var generalRegisters: (r16: [String], r32: [String], r64: [String]) {
        let legacy = ["ax", "bx", "cx", "dx", "si", "di", "bp", "sp"]
        var r16 = legacy.map { "%" + $0 }
        var r32 = legacy.map { "%e" + $0 }
        var r64: [String] = []
        if self == .x86_64 {
            r16 += (8...15).map { "%r\($0)w" }
            r32 += (8...15).map { "%r\($0)d" }
            r64 = legacy.map { "%r" + $0 } + (8...15).map { "%r\($0)" }
        }
        return (r16, r32, r64)
    }

    /// Control and debug registers annotated in register-to-register moves: the architectural ones.
    /// Reserved numbers (CR1, CR5-CR7, CR9-CR15, DR8-DR15) raise #UD on every processor; GNU as still
    /// encodes them, and the inspector's coverage reports any that appear.
    public func specialRegisters(_ cls: RegisterClass) -> [String] {
        switch cls {
        case .control: return ["%cr0", "%cr2", "%cr3", "%cr4"] + (self == .x86_64 ? ["%cr8"] : [])
        case .debug: return (0...7).map { "%db\($0)" } + (0...7).map { "%dr\($0)" }
        case .segment: return cls.names
        }
    }

    /// General registers that pair with control and debug registers: 32-bit ones in 16/32-bit code,
    /// 64-bit ones in 64-bit code.
    public var controlPartners: [String] {
        let g = generalRegisters
        return Array(g.r32.prefix(8)) + g.r64
    }
}
