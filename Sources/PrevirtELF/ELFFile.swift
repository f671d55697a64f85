// SPDX-License-Identifier: GPL-3.0-or-later
// previrt (test support): a small, bounds-checked reader of little-endian ELF32 and ELF64 files, the
// tests' oracle beside libbfd (see SiteLocator.swift for why there are two readers).
//
// It reads what the tests need to compare objects section by section: sections, symbols, relocations.
// previrt inspect reads objects through libbfd (PrevirtBinutils); this reader has no C dependency.

/// Why a file could not be read as ELF.
public enum ELFError: Error, Equatable, CustomStringConvertible {
    case notELF
    case unsupported(String)
    case truncated(String)

    public var description: String {
        switch self {
        case .notELF: return "not an ELF file"
        case .unsupported(let what): return "unsupported ELF: \(what)"
        case .truncated(let what): return "truncated ELF: \(what) lies past the end of the file"
        }
    }
}

/// An ELF file held in memory.
///
/// ```swift
/// let elf = try ELFFile(bytes: Array(data))
/// let text = elf.section(named: ".text")
/// ```
public struct ELFFile: Sendable {
    public enum FileType: UInt16, Sendable { case relocatable = 1, executable = 2, shared = 3, core = 4 }

    public struct Section: Sendable, Equatable {
        public var index: Int
        public var name: String
        public var type: UInt32
        public var flags: UInt64
        public var address: UInt64
        public var offset: UInt64
        public var size: UInt64
        public var link: UInt32
        public var info: UInt32
        public var alignment: UInt64
        public var entrySize: UInt64

        public static let typeNote: UInt32 = 7
        public static let typeNoBits: UInt32 = 8
        public static let typeRela: UInt32 = 4
        public static let typeRel: UInt32 = 9
        public static let typeSymtab: UInt32 = 2
        public static let flagAlloc: UInt64 = 0x2
        public static let flagExec: UInt64 = 0x4

        public var isExecutable: Bool { flags & Self.flagExec != 0 }
    }

    public struct Symbol: Sendable, Equatable {
        public var name: String
        public var value: UInt64
        public var size: UInt64
        public var info: UInt8
        public var sectionIndex: UInt16

        public var type: UInt8 { info & 0xf }
        public var binding: UInt8 { info >> 4 }
    }

    public struct Relocation: Sendable, Equatable {
        public var offset: UInt64
        public var type: UInt32
        public var symbolIndex: Int
        /// The explicit addend (RELA) or nil for REL, whose addend is stored in the section bytes.
        public var addend: Int64?
    }

    public let bytes: [UInt8]
    public let is64Bit: Bool
    public let fileType: FileType?
    public let machine: UInt16
    public let sections: [Section]

    public init(bytes: [UInt8]) throws(ELFError) {
        self.bytes = bytes
        guard bytes.count >= 16, bytes[0] == 0x7f, bytes[1] == 0x45, bytes[2] == 0x4c, bytes[3] == 0x46 else {
            throw .notELF
        }
        guard bytes[5] == 1 else { throw .unsupported("big-endian data") }
        switch bytes[4] {
        case 1: is64Bit = false
        case 2: is64Bit = true
        default: throw .unsupported("class \(bytes[4])")
        }
        let reader = Reader(bytes: bytes)
        let headerSize = is64Bit ? 64 : 52
        guard bytes.count >= headerSize else { throw .truncated("the ELF header") }
        fileType = FileType(rawValue: try reader.u16(16))
        machine = try reader.u16(18)
        let shoff = is64Bit ? try reader.u64(0x28) : UInt64(try reader.u32(0x20))
        let shentsize = Int(try reader.u16(is64Bit ? 0x3a : 0x2e))
        var shnum = Int(try reader.u16(is64Bit ? 0x3c : 0x30))
        var shstrndx = Int(try reader.u16(is64Bit ? 0x3e : 0x32))
        guard shoff != 0 else { sections = []; return }
        guard shoff < UInt64(bytes.count) else { throw .truncated("the section header table") }
        guard shentsize >= (is64Bit ? 64 : 40) else { throw .unsupported("section header size \(shentsize)") }
        let first = try Self.sectionHeader(reader, at: shoff, index: 0, is64Bit: is64Bit)
        if shnum == 0 { shnum = Int(first.size) }
        if shstrndx == 0xffff { shstrndx = Int(first.link) }
        guard shnum < 1 << 20 else { throw .unsupported("\(shnum) sections") }
        var headers: [Section] = []
        for i in 0..<shnum {
            headers.append(try Self.sectionHeader(reader, at: shoff + UInt64(i * shentsize), index: i, is64Bit: is64Bit))
        }
        if shstrndx < headers.count {
            let names = headers[shstrndx]
            for i in headers.indices {
                let nameIndex = (try? reader.u32(Int(shoff) + i * shentsize)) ?? 0
                headers[i].name = (try? reader.string(at: names.offset, limit: names.size, index: UInt64(nameIndex))) ?? ""
            }
        }
        sections = headers
    }

    private static func sectionHeader(_ r: Reader, at base: UInt64, index: Int, is64Bit: Bool) throws(ELFError) -> Section {
        guard base < UInt64(r.bytes.count), base < UInt64(Int.max / 2) else { throw .truncated("section header \(index)") }
        let b = Int(base)
        if is64Bit {
            return Section(
                index: index, name: "", type: try r.u32(b + 4), flags: try r.u64(b + 8), address: try r.u64(b + 16),
                offset: try r.u64(b + 24), size: try r.u64(b + 32), link: try r.u32(b + 40), info: try r.u32(b + 44),
                alignment: try r.u64(b + 48), entrySize: try r.u64(b + 56))
        }
        return Section(
            index: index, name: "", type: try r.u32(b + 4), flags: UInt64(try r.u32(b + 8)), address: UInt64(try r.u32(b + 12)),
            offset: UInt64(try r.u32(b + 16)), size: UInt64(try r.u32(b + 20)), link: try r.u32(b + 24), info: try r.u32(b + 28),
            alignment: UInt64(try r.u32(b + 32)), entrySize: UInt64(try r.u32(b + 36)))
    }

    /// The first section with this name.
    public func section(named name: String) -> Section? { sections.first { $0.name == name } }

    /// A section's file contents (empty for SHT_NOBITS).
    public func contents(of section: Section) throws(ELFError) -> [UInt8] {
        if section.type == Section.typeNoBits { return [] }
        guard section.offset <= UInt64(bytes.count), section.size <= UInt64(bytes.count) - section.offset else {
            throw .truncated("the contents of section \(section.name)")
        }
        return Array(bytes[Int(section.offset)..<Int(section.offset + section.size)])
    }

    /// The symbols of `.symtab`, index 0 included.
    public func symbols() throws(ELFError) -> [Symbol] {
        guard let symtab = sections.first(where: { $0.type == Section.typeSymtab }) else { return [] }
        let data = try contents(of: symtab)
        guard Int(symtab.link) < sections.count else { throw .unsupported("symbol table links to section \(symtab.link)") }
        let strings = sections[Int(symtab.link)]
        let entry = is64Bit ? 24 : 16
        let r = Reader(bytes: data)
        let fileReader = Reader(bytes: bytes)
        var out: [Symbol] = []
        for i in 0..<(data.count / entry) {
            let b = i * entry
            let nameIndex = try r.u32(b)
            let name = (try? fileReader.string(at: strings.offset, limit: strings.size, index: UInt64(nameIndex))) ?? ""
            if is64Bit {
                out.append(Symbol(name: name, value: try r.u64(b + 8), size: try r.u64(b + 16), info: data[b + 4], sectionIndex: try r.u16(b + 6)))
            } else {
                out.append(Symbol(name: name, value: UInt64(try r.u32(b + 4)), size: UInt64(try r.u32(b + 8)), info: data[b + 12], sectionIndex: try r.u16(b + 14)))
            }
        }
        return out
    }

    /// The relocations that apply to `section` (from the REL or RELA sections whose sh_info names it).
    public func relocations(for section: Section) throws(ELFError) -> [Relocation] {
        var out: [Relocation] = []
        for rs in sections where (rs.type == Section.typeRela || rs.type == Section.typeRel) && Int(rs.info) == section.index {
            let data = try contents(of: rs)
            let rela = rs.type == Section.typeRela
            let entry = (is64Bit ? 16 : 8) + (rela ? (is64Bit ? 8 : 4) : 0)
            let r = Reader(bytes: data)
            for i in 0..<(data.count / entry) {
                let b = i * entry
                if is64Bit {
                    let info = try r.u64(b + 8)
                    out.append(Relocation(
                        offset: try r.u64(b), type: UInt32(info & 0xffff_ffff), symbolIndex: Int(info >> 32),
                        addend: rela ? Int64(bitPattern: try r.u64(b + 16)) : nil))
                } else {
                    let info = try r.u32(b + 4)
                    out.append(Relocation(
                        offset: UInt64(try r.u32(b)), type: info & 0xff, symbolIndex: Int(info >> 8),
                        addend: rela ? Int64(Int32(bitPattern: try r.u32(b + 8))) : nil))
                }
            }
        }
        return out
    }
}

/// Bounds-checked little-endian reads.
struct Reader {
    let bytes: [UInt8]

    func u16(_ i: Int) throws(ELFError) -> UInt16 {
        guard i >= 0, i + 2 <= bytes.count else { throw .truncated("a 2-byte field at \(i)") }
        return UInt16(bytes[i]) | UInt16(bytes[i + 1]) << 8
    }

    func u32(_ i: Int) throws(ELFError) -> UInt32 {
        guard i >= 0, i + 4 <= bytes.count else { throw .truncated("a 4-byte field at \(i)") }
        return (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[i + $1]) << (8 * $1) }
    }

    func u64(_ i: Int) throws(ELFError) -> UInt64 {
        guard i >= 0, i + 8 <= bytes.count else { throw .truncated("an 8-byte field at \(i)") }
        return (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[i + $1]) << (8 * UInt64($1)) }
    }

    func string(at base: UInt64, limit: UInt64, index: UInt64) throws(ELFError) -> String {
        guard index < limit, base + limit <= UInt64(bytes.count) else { throw .truncated("a string") }
        let start = Int(base + index)
        let end = Int(base + limit)
        let raw = bytes[start..<end].prefix { $0 != 0 }
        return String(decoding: raw, as: UTF8.self)
    }
}
