// SPDX-License-Identifier: GPL-3.0-or-later
// previrt: the two descriptors of note ABI v1 and their little-endian encoding.

import PrevirtCatalog

/// The per-file header note: who generated the sites that follow it.
public struct HeaderRecord: Sendable, Equatable {
    public var abiVersion: UInt16
    public var machine: UInt16
    /// Size of each site descriptor that follows (12 in version 1); lets readers skip unknown growth.
    public var siteDescriptorSize: UInt16
    public var generator: String
    public var profile: String

    public init(
        abiVersion: UInt16 = NoteABI.version, machine: UInt16, siteDescriptorSize: UInt16 = UInt16(NoteABI.siteDescriptorSize),
        generator: String = NoteABI.generatorVersion, profile: String
    ) {
        self.abiVersion = abiVersion
        self.machine = machine
        self.siteDescriptorSize = siteDescriptorSize
        self.generator = generator
        self.profile = profile
    }

    /// The 40-byte descriptor.
    public func encoded() -> [UInt8] {
        var out: [UInt8] = []
        out.appendLittleEndian(abiVersion)
        out.appendLittleEndian(machine)
        out.appendLittleEndian(siteDescriptorSize)
        out.appendLittleEndian(UInt16(0))
        out.appendField(generator, width: NoteABI.nameFieldSize)
        out.appendField(profile, width: NoteABI.nameFieldSize)
        return out
    }

    public init(decoding d: ArraySlice<UInt8>) throws(NoteError) {
        guard d.count >= NoteABI.headerDescriptorSize else {
            throw .badDescriptorSize(type: NoteABI.headerType, size: d.count, expected: NoteABI.headerDescriptorSize)
        }
        let b = d.startIndex
        abiVersion = d.littleEndianUInt16(at: b)
        machine = d.littleEndianUInt16(at: b + 2)
        siteDescriptorSize = d.littleEndianUInt16(at: b + 4)
        generator = d.field(at: b + 8, width: NoteABI.nameFieldSize)
        profile = d.field(at: b + 24, width: NoteABI.nameFieldSize)
    }
}

/// One patch site: where it is, what it holds, and how the in-place VMM may treat it.
public struct SiteRecord: Sendable, Equatable {
    /// Site address minus the address of this field (the first of the descriptor).
    public var relativeSite: Int32
    public var kindID: UInt16
    /// Length of the original instruction, prefixes on its line included.
    public var instructionLength: UInt8
    /// Instruction plus padding.
    public var siteLength: UInt8
    /// 16, 32 or 64.
    public var modeBits: UInt8
    public var flags: SiteFlags
    public var reserved: UInt16

    public init(
        relativeSite: Int32, kindID: UInt16, instructionLength: UInt8, siteLength: UInt8,
        modeBits: UInt8, flags: SiteFlags = [], reserved: UInt16 = 0
    ) {
        self.relativeSite = relativeSite
        self.kindID = kindID
        self.instructionLength = instructionLength
        self.siteLength = siteLength
        self.modeBits = modeBits
        self.flags = flags
        self.reserved = reserved
    }

    public var mode: CodeMode? { CodeMode(rawValue: Int(modeBits)) }
    public var kind: InstructionKind? { Catalog.kind(id: kindID) }
    public var paddingLength: Int { Int(siteLength) - Int(instructionLength) }
    /// Offset of the instruction from the start of the site.
    public var instructionOffset: Int { flags.contains(.paddingPrecedes) ? max(0, paddingLength) : 0 }

    /// The 12-byte descriptor.
    public func encoded() -> [UInt8] {
        var out: [UInt8] = []
        out.appendLittleEndian(UInt32(bitPattern: relativeSite))
        out.appendLittleEndian(kindID)
        out += [instructionLength, siteLength, modeBits, flags.rawValue]
        out.appendLittleEndian(reserved)
        return out
    }

    public init(decoding d: ArraySlice<UInt8>) throws(NoteError) {
        guard d.count == NoteABI.siteDescriptorSize else {
            throw .badDescriptorSize(type: NoteABI.siteType, size: d.count, expected: NoteABI.siteDescriptorSize)
        }
        let b = d.startIndex
        relativeSite = Int32(bitPattern: d.littleEndianUInt32(at: b))
        kindID = d.littleEndianUInt16(at: b + 4)
        instructionLength = d[b + 6]
        siteLength = d[b + 7]
        modeBits = d[b + 8]
        flags = SiteFlags(rawValue: d[b + 9])
        reserved = d.littleEndianUInt16(at: b + 10)
    }

    /// What is wrong with the fields themselves, if anything (independent of where the site lies).
    public var problems: [String] {
        var found: [String] = []
        if kind == nil { found.append("unknown kind id \(kindID)") }
        if mode == nil { found.append("code mode \(modeBits) is not 16, 32 or 64") }
        if instructionLength == 0 { found.append("instruction length is 0") }
        if instructionLength > 15 { found.append("instruction length \(instructionLength) exceeds the x86 maximum of 15") }
        if siteLength < instructionLength { found.append("site length \(siteLength) is shorter than the instruction (\(instructionLength))") }
        let unknownFlags = flags.rawValue & ~SiteFlags.all.reduce(0) { $0 | $1.0.rawValue }
        if unknownFlags != 0 { found.append("unknown flag bits 0x" + String(unknownFlags, radix: 16)) }
        if reserved != 0 { found.append("reserved field is \(reserved), not 0") }
        return found
    }
}
