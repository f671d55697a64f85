// SPDX-License-Identifier: GPL-3.0-or-later
// previrt: the names of ELF e_machine values, so that a message can say "aarch64", not "unknown".

/// An ELF header's `e_machine`, named as binutils names the architecture.
///
/// ```swift
/// ELFMachine.name(of: 183)          // "aarch64"
/// ELFMachine.describe(183)          // "e_machine 183 (aarch64)"
/// ELFMachine.read(fromHeader: bytes) // e_machine of an ELF file's first 20 bytes, either byte order
/// ```
public enum ELFMachine {
    public static let i386: UInt16 = 3
    public static let x86_64: UInt16 = 62

    /// Known values (the System V ABI's registry, as `readelf -h` prints them, shortened).
    static let names: [UInt16: String] = [
        1: "we32100", 2: "sparc", 3: "i386", 4: "m68k", 5: "m88k", 6: "iamcu", 7: "i860", 8: "mips",
        9: "s370", 10: "mips-rs3-le", 15: "hppa", 18: "sparc32plus", 20: "powerpc", 21: "powerpc64",
        22: "s390", 36: "v850", 40: "arm", 42: "sh", 43: "sparcv9", 50: "ia64", 62: "x86-64",
        75: "vax", 83: "avr", 87: "v850", 88: "m32r", 92: "openrisc", 93: "arc-compact", 94: "xtensa",
        105: "msp430", 106: "blackfin", 113: "nios2", 164: "hexagon", 183: "aarch64", 189: "microblaze",
        220: "z80", 243: "riscv", 247: "bpf", 252: "csky", 258: "loongarch",
    ]

    /// The architecture's name, or nil for a value this table does not know.
    public static func name(of machine: UInt16) -> String? { names[machine] }

    /// `e_machine N (name)`, or `e_machine N` for an unknown value: for messages.
    public static func describe(_ machine: UInt16) -> String {
        name(of: machine).map { "e_machine \(machine) (\($0))" } ?? "e_machine \(machine)"
    }

    /// e_machine from the first bytes of an ELF file (it is at offset 18 in ELF32 and ELF64 alike), in
    /// the byte order EI_DATA gives; nil when the bytes are too few, not ELF, or of an unknown byte order.
    public static func read<Bytes: Collection>(fromHeader bytes: Bytes) -> UInt16? where Bytes.Element == UInt8 {
        let header = Array(bytes.prefix(20))
        guard header.count == 20, header[0...3] == [0x7f, 0x45, 0x4c, 0x46] else { return nil }
        switch header[5] {
        case 1: return UInt16(header[18]) | UInt16(header[19]) << 8
        case 2: return UInt16(header[18]) << 8 | UInt16(header[19])
        default: return nil
        }
    }
}
