// SPDX-License-Identifier: GPL-3.0-or-later
// previrt: the catalog's second half: the machine encodings of every kind (Intel SDM vol. 2, AMD APM
// vol. 3). The runtime's decode table and the inspector's candidate filter are generated from here.

extension InstructionKind {
    /// Every machine encoding of this kind.
    public var encodings: [Encoding] { encodingTable[name] ?? [] }
}

extension Catalog {
    /// Every (kind, encoding) pair, in catalog order.
    public static var encodings: [(kind: InstructionKind, encoding: Encoding)] {
        kinds.flatMap { kind in kind.encodings.map { (kind, $0) } }
    }
}

private func one(_ opcodes: UInt8..., modrm: Encoding.ModRM = .none, immediate: Encoding.Immediate = .none,
                 modes: Set<CodeMode> = Set(CodeMode.allCases), excluding: UInt8? = nil) -> [Encoding] {
    opcodes.map { Encoding(.oneByte, $0, modrm: modrm, immediate: immediate, modes: modes, excludedImmediate: excluding) }
}

private func two(_ opcodes: UInt8..., modrm: Encoding.ModRM = .none, prefix: UInt8? = nil) -> [Encoding] {
    opcodes.map { Encoding(.twoByte, $0, modrm: modrm, mandatoryPrefix: prefix) }
}

private let legacy = Encoding.legacyModes

private let encodingTable: [String: [Encoding]] = [
    "cli": one(0xfa),
    "sti": one(0xfb),
    "pushf": one(0x9c),
    "popf": one(0x9d),
    "hlt": one(0xf4),
    "mov-to-cr": two(0x22, modrm: .controlOrDebug),
    "mov-from-cr": two(0x20, modrm: .controlOrDebug),
    "mov-to-dr": two(0x23, modrm: .controlOrDebug),
    "mov-from-dr": two(0x21, modrm: .controlOrDebug),
    "mov-to-seg": one(0x8e, modrm: .any),
    "mov-from-seg": one(0x8c, modrm: .any),
    "push-seg": one(0x06, 0x0e, 0x16, 0x1e, modes: legacy) + two(0xa0, 0xa8),
    "pop-seg": one(0x07, 0x17, 0x1f, modes: legacy) + two(0xa1, 0xa9),
    "sgdt": two(0x01, modrm: .regMemory(0)),
    "sidt": two(0x01, modrm: .regMemory(1)),
    "lgdt": two(0x01, modrm: .regMemory(2)),
    "lidt": two(0x01, modrm: .regMemory(3)),
    "smsw": two(0x01, modrm: .reg(4)),
    "lmsw": two(0x01, modrm: .reg(6)),
    "invlpg": two(0x01, modrm: .regMemory(7)),
    "monitor": two(0x01, modrm: .exact(0xc8)),
    "mwait": two(0x01, modrm: .exact(0xc9)),
    "xsetbv": two(0x01, modrm: .exact(0xd1)),
    "swapgs": two(0x01, modrm: .exact(0xf8)),
    "rdtscp": two(0x01, modrm: .exact(0xf9)),
    "sldt": two(0x00, modrm: .reg(0)),
    "str": two(0x00, modrm: .reg(1)),
    "lldt": two(0x00, modrm: .reg(2)),
    "ltr": two(0x00, modrm: .reg(3)),
    "verr": two(0x00, modrm: .reg(4)),
    "verw": two(0x00, modrm: .reg(5)),
    "lar": two(0x02, modrm: .any),
    "lsl": two(0x03, modrm: .any),
    "clts": two(0x06),
    "arpl": one(0x63, modrm: .any, modes: legacy),
    "in": one(0xe4, 0xe5, immediate: .byte) + one(0xec, 0xed),
    "out": one(0xe6, 0xe7, immediate: .byte) + one(0xee, 0xef),
    "ins": one(0x6c, 0x6d),
    "outs": one(0x6e, 0x6f),
    "rdmsr": two(0x32),
    "wrmsr": two(0x30),
    "invd": two(0x08),
    "wbinvd": two(0x09),
    "wbnoinvd": two(0x09, prefix: 0xf3),
    "invpcid": [Encoding(.threeByte38, 0x82, modrm: .memory, mandatoryPrefix: 0x66)],
    "iret": one(0xcf),
    "lret": one(0xcb) + one(0xca, immediate: .word),
    "ljmp": one(0xea, immediate: .farPointer, modes: legacy) + one(0xff, modrm: .regMemory(5)),
    "lcall": one(0x9a, immediate: .farPointer, modes: legacy) + one(0xff, modrm: .regMemory(3)),
    "int": one(0xcd, immediate: .byte, excluding: 3),
    "cpuid": two(0xa2),
    "lds": one(0xc5, modrm: .memory, modes: legacy),
    "les": one(0xc4, modrm: .memory, modes: legacy),
    "lss": two(0xb2, modrm: .memory),
    "lfs": two(0xb4, modrm: .memory),
    "lgs": two(0xb5, modrm: .memory),
    "sysret": two(0x07),
    "sysexit": two(0x35),
    "rsm": two(0xaa),
    "rdtsc": two(0x31),
    "syscall": two(0x05),
    "sysenter": two(0x34),
    "rdpmc": two(0x33),
]
