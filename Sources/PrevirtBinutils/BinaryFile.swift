// SPDX-License-Identifier: GPL-3.0-or-later
// previrt: objects, executables and archives read through libbfd.

import CBinutils

/// Why libbfd could not read a file.
public struct BinutilsError: Error, Equatable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// A file opened with libbfd: one object, or an archive of them.
///
/// ```swift
/// let file = try BinaryFile(path: "vmlinux")
/// for object in file.objects { print(object.name, object.sections.count) }
/// ```
public final class BinaryFile {
    public let path: String
    public let isArchive: Bool
    /// The file itself, or every object member of an archive.
    public private(set) var objects: [ObjectFile] = []
    private let open: OpenFile

    public init(path: String) throws(BinutilsError) {
        self.path = path
        var message = [CChar](repeating: 0, count: 512)
        guard let handle = pv_file_open(path, &message, message.count) else {
            throw BinutilsError(String(cBuffer: message))
        }
        open = OpenFile(handle)  // closes the file however this initializer ends
        isArchive = pv_file_is_archive(handle) != 0
        while true {
            guard let object = pv_file_next_object(handle, &message, message.count) else {
                if message[0] != 0 { throw BinutilsError(String(cBuffer: message)) }
                break
            }
            objects.append(ObjectFile(object, file: open))
        }
    }
}

/// The libbfd file, closed once when the last of its `BinaryFile` and `ObjectFile`s goes away. The
/// objects hold this, not the `BinaryFile` that holds them (that cycle kept every file open forever).
final class OpenFile {
    let handle: OpaquePointer
    init(_ handle: OpaquePointer) { self.handle = handle }
    deinit { pv_file_close(handle) }
}

/// One object: an object file, executable, shared object, or an archive member.
public final class ObjectFile {
    public struct Section: Sendable, Equatable {
        public var index: Int
        public var name: String
        public var address: UInt64
        public var size: UInt64
        public var isCode: Bool
        public var isAllocated: Bool
        public var hasContents: Bool
        /// An ELF note: an SHT_NOTE section, or a PT_NOTE segment of a file without section headers.
        public var isNote: Bool = false
        /// Its bytes lie inside the file: offset plus size checked against the file's size.
        public var isInFile: Bool = false
        /// Where its bytes start in the file (or archive member).
        public var fileOffset: UInt64 = 0

        public func contains(_ address: UInt64) -> Bool { address >= self.address && address - self.address < size }

        /// The first address after the section; nil when `address + size` does not fit in 64 bits.
        public var end: UInt64? {
            let (sum, overflow) = address.addingReportingOverflow(size)
            return overflow ? nil : sum
        }
    }

    public struct Symbol: Sendable, Equatable {
        public var name: String
        /// Section-relative in a relocatable object, the address otherwise.
        public var value: UInt64
        /// The section index, or nil for undefined, absolute and common symbols.
        public var section: Int?
        public var isFunction: Bool
        public var isSectionSymbol: Bool
        public var isGlobal: Bool
        public var isDebugging: Bool
    }

    public struct Relocation: Sendable, Equatable {
        public var offset: UInt64
        public var addend: Int64
        public var hasExplicitAddend: Bool
        public var type: UInt32
        public var isPCRelative: Bool
        public var symbolName: String
        public var symbolValue: UInt64
        public var symbolSection: Int?
    }

    private let handle: OpaquePointer
    private let file: OpenFile  // keeps the libbfd file open
    public let name: String
    public let format: String
    public let architecture: String
    public let machine: UInt16
    public let is64Bit: Bool
    public let isRelocatable: Bool
    public let isELF: Bool
    /// The size of the file, or of the archive member, in bytes.
    public let fileSize: UInt64
    /// False for an ELF file whose section headers are gone (libbfd then makes sections of its segments).
    public let hasSectionHeaders: Bool
    public let sections: [Section]
    private var symbolCache: [Symbol]?

    init(_ handle: OpaquePointer, file: OpenFile) {
        self.handle = handle
        self.file = file
        name = String(cText: pv_object_name(handle))
        format = String(cText: pv_object_format(handle))
        architecture = String(cText: pv_object_arch(handle))
        machine = UInt16(pv_object_machine(handle))
        is64Bit = pv_object_is_64bit(handle) != 0
        isRelocatable = pv_object_is_relocatable(handle) != 0
        isELF = pv_object_is_elf(handle) != 0
        fileSize = pv_object_file_size(handle)
        hasSectionHeaders = pv_object_has_section_headers(handle) != 0
        var list: [Section] = []
        for i in 0..<pv_object_section_count(handle) {
            var s = pv_section()
            guard pv_object_section(handle, i, &s) == 0 else { continue }
            list.append(Section(
                index: Int(i), name: String(cText: s.name), address: s.vma, size: s.size,
                isCode: s.flags & UInt32(PV_SEC_CODE) != 0, isAllocated: s.flags & UInt32(PV_SEC_ALLOC) != 0,
                hasContents: s.flags & UInt32(PV_SEC_CONTENTS) != 0, isNote: s.flags & UInt32(PV_SEC_NOTE) != 0,
                isInFile: s.flags & UInt32(PV_SEC_IN_FILE) != 0, fileOffset: s.filepos))
        }
        sections = list
    }

    public func section(named name: String) -> Section? { sections.first { $0.name == name } }

    /// A section's bytes (empty when it has none in the file).
    /// The first `count` bytes of the object (the file, or the archive member), or nil when it is shorter.
    public func leadingBytes(_ count: Int) -> [UInt8]? {
        var bytes = [UInt8](repeating: 0, count: count)
        let status = bytes.withUnsafeMutableBufferPointer { pv_object_read_start(handle, $0.baseAddress, count) }
        return status == 0 ? bytes : nil
    }

    public func contents(of section: Section) throws(BinutilsError) -> [UInt8] {
        guard section.hasContents, section.size > 0 else { return [] }
        guard section.isInFile, section.size < 1 << 32 else {
            throw BinutilsError("section \(section.name) claims \(section.size) bytes at file offset 0x\(String(section.fileOffset, radix: 16)), beyond the end of the \(fileSize)-byte file")
        }
        var bytes = [UInt8](repeating: 0, count: Int(section.size))
        let status = bytes.withUnsafeMutableBufferPointer { pv_object_section_contents(handle, Int32(section.index), $0.baseAddress, section.size) }
        guard status == 0 else { throw BinutilsError("cannot read the contents of section \(section.name)") }
        return bytes
    }

    public func symbols() throws(BinutilsError) -> [Symbol] {
        if let symbolCache { return symbolCache }
        let count = pv_object_symbol_count(handle)
        guard count >= 0 else { throw BinutilsError("cannot read the symbol table") }
        var list: [Symbol] = []
        list.reserveCapacity(count)
        for i in 0..<count {
            var s = pv_symbol()
            guard pv_object_symbol(handle, i, &s) == 0 else { continue }
            list.append(Symbol(
                name: String(cText: s.name), value: s.value, section: s.section >= 0 ? Int(s.section) : nil,
                isFunction: s.flags & UInt32(PV_SYM_FUNCTION) != 0, isSectionSymbol: s.flags & UInt32(PV_SYM_SECTION) != 0,
                isGlobal: s.flags & UInt32(PV_SYM_GLOBAL) != 0, isDebugging: s.flags & UInt32(PV_SYM_DEBUG) != 0))
        }
        symbolCache = list
        return list
    }

    /// The relocations that apply to `section`.
    public func relocations(in section: Section) throws(BinutilsError) -> [Relocation] {
        let count = pv_object_reloc_count(handle, Int32(section.index))
        guard count >= 0 else { throw BinutilsError("cannot read the relocations of section \(section.name)") }
        var list: [Relocation] = []
        for i in 0..<count {
            var r = pv_reloc()
            guard pv_object_reloc(handle, i, &r) == 0 else { continue }
            list.append(Relocation(
                offset: r.address, addend: r.addend, hasExplicitAddend: r.explicit_addend != 0, type: r.type,
                isPCRelative: r.pc_relative != 0, symbolName: String(cText: r.symbol_name), symbolValue: r.symbol_value,
                symbolSection: r.symbol_section >= 0 ? Int(r.symbol_section) : nil))
        }
        return list
    }
}
